"""The default engine: a pool of ``processes_count`` worker processes on this machine."""

from __future__ import annotations

import multiprocessing

from curation.config import Config
from distributors.base import Distributor, OnOutcome, ShardOutcome, run_shard_safely

_CONFIG: Config | None = None


def _init(config: Config) -> None:
    global _CONFIG
    _CONFIG = config


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
        with context.Pool(processes, initializer=_init, initargs=(self.config,), maxtasksperchild=None) as pool:
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
        return [final[s] for s in shard_ids if s in final]
