"""The default engine: a pool of ``processes_count`` worker processes on this machine."""

from __future__ import annotations

import multiprocessing
import os
import signal
from types import FrameType

from curation.config import Config
from curation.lifecycle import die_with_parent, kill_children
from distributors.base import Distributor, OnOutcome, ShardOutcome, run_shard_safely

_CONFIG: Config | None = None


def _end_worker(_signum: int, _frame: FrameType | None) -> None:
    """Pool.terminate() sends SIGTERM: end our ffmpeg/yt-dlp children first, then exit."""
    kill_children(timeout=2)
    os._exit(1)


def _init(config: Config) -> None:
    global _CONFIG
    _CONFIG = config
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides what Ctrl-C means
    signal.signal(signal.SIGTERM, _end_worker)


def _run(task: tuple[int, int]) -> ShardOutcome:
    shard_id, attempt = task
    assert _CONFIG is not None
    return run_shard_safely(shard_id, _CONFIG, attempt)


class MultiprocessingDistributor(Distributor):
    def run(self, shard_ids: list[int], on_outcome: OnOutcome) -> list[ShardOutcome]:
        final: dict[int, ShardOutcome] = {}
        todo = list(shard_ids)
        processes = min(self.config.distribution.processes, max(1, len(todo)))
        context = multiprocessing.get_context("spawn")
        with context.Pool(processes, initializer=_init, initargs=(self.config,)) as pool:
            try:
                for attempt in range(1, self.config.max_shard_retry + 2):
                    if not todo:
                        break
                    failed = []
                    for outcome in pool.imap_unordered(_run, [(s, attempt) for s in todo]):
                        final[outcome.shard_id] = outcome
                        on_outcome(outcome)
                        if not outcome.ok:
                            failed.append(outcome.shard_id)
                    todo = sorted(failed)
            except BaseException:
                kill_children()  # workers end their own children on SIGTERM
                raise
        return [final[s] for s in shard_ids if s in final]
