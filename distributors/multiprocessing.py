"""The default engine: ``processes_count`` worker processes on this machine.

Built on ProcessPoolExecutor rather than multiprocessing.Pool: when a worker dies (OOM killer,
SIGKILL) the pool reports it instead of waiting forever for the lost task, and the shards that were
in flight are run again in a fresh pool.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from types import FrameType

from curation.lifecycle import die_with_parent, kill_children
from distributors.base import Distributor, OnOutcome, ShardOutcome, run_shard_safely


def _end_worker(_signum: int, _frame: FrameType | None) -> None:
    """A terminated worker ends its ffmpeg/yt-dlp children first, then exits."""
    kill_children(timeout=2)
    os._exit(1)


def _init() -> None:
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides what Ctrl-C means
    signal.signal(signal.SIGTERM, _end_worker)


def _abandon(executor: ProcessPoolExecutor) -> None:
    """Shut down without waiting: with the workers gone, the call queue's feeder thread would
    otherwise block interpreter exit forever on a pipe nobody reads."""
    call_queue = getattr(executor, "_call_queue", None)
    if call_queue is not None:
        call_queue.cancel_join_thread()
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()  # already asked to terminate; whatever lingers must not block the manager thread
    executor.shutdown(wait=False, cancel_futures=True)


class MultiprocessingDistributor(Distributor):
    MAX_POOL_BREAKS = 3
    pool_breaks: dict[int, int]

    def run(self, shard_ids: list[int], on_outcome: OnOutcome) -> list[ShardOutcome]:
        final: dict[int, ShardOutcome] = {}
        self.pool_breaks = {}
        attempts = {s: 0 for s in shard_ids}
        max_attempts = self.config.max_shard_retry + 1
        todo = list(shard_ids)
        while todo:
            todo = self._run_pool(todo, attempts, max_attempts, final, on_outcome)
        return [final[s] for s in shard_ids if s in final]

    def _run_pool(
        self, todo: list[int], attempts: dict[int, int], max_attempts: int,
        final: dict[int, ShardOutcome], on_outcome: OnOutcome,
    ) -> list[int]:
        """Run shards in one pool until done or the pool breaks; return the shards still to run."""
        processes = min(self.config.distribution.processes, len(todo))
        context = multiprocessing.get_context("spawn")
        retry: list[int] = []
        executor = ProcessPoolExecutor(processes, mp_context=context, initializer=_init)
        running: dict[Future[ShardOutcome], int] = {}
        try:
            for shard in todo:
                attempts[shard] += 1
                running[executor.submit(run_shard_safely, shard, self.config, attempts[shard])] = shard
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    shard = running.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        outcome = ShardOutcome(shard, False, error="a worker process died (killed or out of memory)",
                                               attempts=attempts[shard])
                        # the pool cannot tell whose sample killed it: innocent shards get extra tries
                        self.pool_breaks[shard] = self.pool_breaks.get(shard, 0) + 1
                        if self.pool_breaks[shard] <= self.MAX_POOL_BREAKS:
                            attempts[shard] -= 1
                    final[shard] = outcome
                    on_outcome(outcome)
                    if not outcome.ok and attempts[shard] < max_attempts:
                        retry.append(shard)
        except BaseException:
            kill_children()  # workers end their own children on SIGTERM
            _abandon(executor)
            raise
        executor.shutdown(wait=True)
        return sorted(retry)
