"""The one interface every engine implements: run these shard ids, report each outcome."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curation.config import Config

if TYPE_CHECKING:
    from curation.worker import WorkerState


@dataclass
class ShardOutcome:
    shard_id: int
    ok: bool
    stats: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    attempts: int = 1


OnOutcome = Callable[[ShardOutcome], None]


def run_shard_safely(shard_id: int, config: Config, attempt: int, state: WorkerState | None = None) -> ShardOutcome:
    """Run one shard in the current process; an exception becomes a failed outcome, not a crash."""
    from curation.worker import process_shard

    try:
        return ShardOutcome(shard_id, True, process_shard(shard_id, config, attempt, state), attempts=attempt)
    except Exception as exc:  # reported and retried by the distributor
        return ShardOutcome(shard_id, False, error=f"{type(exc).__name__}: {exc}", attempts=attempt)


def absolute_paths(config: Config) -> Config:
    """Spark executors and Slurm jobs run in their own working directory: ship folders as absolute paths."""
    config = config.model_copy(deep=True)
    config.output_folder = str(Path(config.output_folder).resolve())
    if config.tmp_dir:
        config.tmp_dir = str(Path(config.tmp_dir).resolve())
    return config


class Distributor(ABC):
    def __init__(self, config: Config) -> None:
        self.config = config

    @abstractmethod
    def run(self, shard_ids: list[int], on_outcome: OnOutcome) -> list[ShardOutcome]:
        """Process every shard (retrying failed ones up to ``max_shard_retry``); return the final outcomes."""
