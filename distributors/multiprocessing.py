"""The default engine: ``processes_count`` shards at a time on this machine.

The heavy work of a shard happens in ffmpeg children; the Python side mostly waits. So shards run
as threads inside a few worker processes (``shards_per_process`` each) rather than one process
per shard: every Python process costs ~100 MB (pyarrow, pydantic), and 64 of them would cost more
than the transcodes themselves.

The driver talks to each worker over its own pipe and knows which shards each one holds. When a
worker dies (OOM killer, SIGKILL, a crash in native code) only the shards it held are reported as
failed and retried; the other workers go on, and a replacement worker starts if work remains.

When one worker process would hold every shard at once (``processes_count`` up to
``shards_per_process``: the default on a machine of up to 4 cores), the shards run as threads of the
``curate`` process itself (``in_process``): a second Python process would cost ~100 MB, as much as
an ffmpeg, and buy only the isolation of a crash that the same command resumes from anyway.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType

from curation.config import Config
from curation.lifecycle import die_with_parent, kill_children
from distributors.base import Distributor, OnOutcome, ShardOutcome, run_shard_safely

STOP = None  # the driver's "no more shards" message
JOIN_SECONDS = 10


def _end_worker(_signum: int, _frame: FrameType | None) -> None:
    """A terminated worker ends its ffmpeg/yt-dlp children first, then exits."""
    kill_children(timeout=2)
    os._exit(1)


def worker_main(conn: Connection, config: Config, slots: int) -> None:
    """Receive shard ids, run up to ``slots`` of them at once, send each outcome back."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides what Ctrl-C means
    signal.signal(signal.SIGTERM, _end_worker)
    from curation.memory import prepare_shard_process
    from curation.worker import WorkerState

    prepare_shard_process()  # ~50 MB less per worker: no pandas, allocators that give memory back
    state = WorkerState.for_shards(slots, config)
    send_lock = threading.Lock()  # outcomes come from several threads; a Connection is not thread-safe

    def run(shard: int, attempt: int) -> None:
        outcome = run_shard_safely(shard, config, attempt, state)
        with send_lock:
            conn.send(outcome)

    with ThreadPoolExecutor(slots, thread_name_prefix="shard") as pool:
        while True:
            try:
                message = conn.recv()
            except EOFError:  # the driver is gone: finishing would write for nobody
                os._exit(1)
            if message is STOP:
                break
            pool.submit(run, *message)
    conn.close()


class _Ledger:
    """The shards left to run, how often each was started, and each one's last outcome."""

    def __init__(self, shard_ids: list[int], max_attempts: int, on_outcome: OnOutcome) -> None:
        self.todo = list(shard_ids)
        self.attempts = dict.fromkeys(shard_ids, 0)
        self.final: dict[int, ShardOutcome] = {}
        self.max_attempts = max_attempts
        self.on_outcome = on_outcome

    def start_next(self) -> tuple[int, int]:
        """(shard, attempt) of the next shard to run."""
        shard = self.todo.pop(0)
        self.attempts[shard] += 1
        return shard, self.attempts[shard]

    def record(self, outcome: ShardOutcome) -> None:
        """Report the outcome; a failed shard with attempts left goes back in line."""
        self.final[outcome.shard_id] = outcome
        self.on_outcome(outcome)
        if not outcome.ok and self.attempts[outcome.shard_id] < self.max_attempts:
            self.todo.append(outcome.shard_id)
            self.todo.sort()

    def outcomes(self, shard_ids: list[int]) -> list[ShardOutcome]:
        return [self.final[s] for s in shard_ids if s in self.final]


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    slots: int
    held: dict[int, int] = field(default_factory=dict)  # shard id → attempt, sent and not yet answered

    @property
    def free(self) -> int:
        return self.slots - len(self.held)


class MultiprocessingDistributor(Distributor):
    MAX_POOL_BREAKS = 3  # extra tries for shards that were only near a worker that died

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.pool_breaks: dict[int, int] = {}
        self.workers: list[_Worker] = []

    def run(self, shard_ids: list[int], on_outcome: OnOutcome) -> list[ShardOutcome]:
        if not shard_ids:
            return []
        concurrency = min(self.config.distribution.processes, len(shard_ids))
        per_process = self.config.distribution.shards_per_process
        process_count = math.ceil(concurrency / per_process)
        slots = math.ceil(concurrency / process_count)
        in_process = self.config.distribution.in_process
        ledger = _Ledger(shard_ids, self.config.max_shard_retry + 1, on_outcome)
        if in_process or (in_process is None and process_count == 1):
            return self._run_in_this_process(ledger, concurrency).outcomes(shard_ids)
        context = multiprocessing.get_context("spawn")
        try:
            while ledger.todo or any(w.held for w in self.workers):
                while len(self.workers) < process_count and ledger.todo:
                    self.workers.append(self._start(context, slots))
                self._hand_out(ledger)
                for outcome in self._next_outcomes(ledger.attempts):
                    ledger.record(outcome)
        except BaseException:
            kill_children()  # workers end their own children on SIGTERM; this catches any they missed
            self._kill_all()
            raise
        self._stop_all()
        return ledger.outcomes(shard_ids)

    def _run_in_this_process(self, ledger: _Ledger, slots: int) -> _Ledger:
        """``slots`` shards at a time as threads of this process, with the same retries as workers get."""
        from curation.memory import prepare_shard_process
        from curation.worker import WorkerState

        prepare_shard_process()
        state = WorkerState.for_shards(slots, self.config)
        running: dict[Future[ShardOutcome], int] = {}
        pool = ThreadPoolExecutor(slots, thread_name_prefix="shard")
        try:
            while ledger.todo or running:
                while ledger.todo and len(running) < slots:
                    shard, attempt = ledger.start_next()
                    running[pool.submit(run_shard_safely, shard, self.config, attempt, state)] = shard
                done, _ = wait_futures(running, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=running.__getitem__):
                    del running[future]
                    ledger.record(future.result())
        except BaseException as exc:
            state.stopping.set()  # first: no shard may finish on samples whose ffmpeg is about to be killed
            if isinstance(exc, KeyboardInterrupt):  # only an interruption ends children: this may be a user's
                kill_children()  # notebook, whose own children (a Spark JVM) survive a failed run
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return ledger

    def _start(self, context: multiprocessing.context.SpawnContext, slots: int) -> _Worker:
        driver_end, worker_end = context.Pipe(duplex=True)
        process = context.Process(target=worker_main, args=(worker_end, self.config, slots), name="curate-worker")
        process.start()
        worker_end.close()
        return _Worker(process, driver_end, slots)

    def _hand_out(self, ledger: _Ledger) -> None:
        """Send pending shards to workers with free slots, least busy first."""
        for worker in sorted(self.workers, key=lambda w: -w.free):
            while worker.free > 0 and ledger.todo:
                shard, attempt = ledger.start_next()
                worker.held[shard] = attempt
                try:
                    worker.conn.send((shard, attempt))
                except OSError:  # it died just now: _next_outcomes reports its shards
                    break

    def _next_outcomes(self, attempts: dict[int, int]) -> list[ShardOutcome]:
        """Wait until a worker answers or dies; return the outcomes that produced."""
        by_handle: dict[object, _Worker] = {}
        for worker in self.workers:
            by_handle[worker.conn] = worker
            by_handle[worker.process.sentinel] = worker
        outcomes: list[ShardOutcome] = []
        for handle in wait(list(by_handle)):
            worker = by_handle[handle]
            if worker not in self.workers:
                continue
            try:
                while worker.conn.poll():
                    outcome: ShardOutcome = worker.conn.recv()
                    worker.held.pop(outcome.shard_id, None)
                    outcomes.append(outcome)
            except (EOFError, OSError):
                pass
            if not worker.process.is_alive():
                outcomes.extend(self._bury(worker, attempts))
        return outcomes

    def _bury(self, worker: _Worker, attempts: dict[int, int]) -> list[ShardOutcome]:
        """A worker died: every shard it held failed this attempt (innocent ones get extra tries)."""
        self.workers.remove(worker)
        worker.process.join(timeout=JOIN_SECONDS)
        with contextlib.suppress(OSError):
            worker.conn.close()
        lost = []
        for shard in sorted(worker.held):
            self.pool_breaks[shard] = self.pool_breaks.get(shard, 0) + 1
            if self.pool_breaks[shard] <= self.MAX_POOL_BREAKS:
                attempts[shard] -= 1  # the pool cannot tell whose sample killed it
            lost.append(ShardOutcome(shard, False, attempts=max(attempts[shard], 1),
                                     error=f"a worker process died (exit code {worker.process.exitcode}: killed or out of memory)"))
        return lost

    def _stop_all(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(OSError):
                worker.conn.send(STOP)
        for worker in self.workers:
            worker.process.join(timeout=JOIN_SECONDS)
        self._kill_all()

    def _kill_all(self) -> None:
        """Workers end their own ffmpeg children on SIGTERM; whatever lingers after that is killed."""
        _signal_all(self.workers, lambda p: p.terminate())
        for worker in self.workers:
            worker.process.join(timeout=3)
        _signal_all(self.workers, lambda p: p.kill())
        for worker in self.workers:
            worker.process.join(timeout=JOIN_SECONDS)
            with contextlib.suppress(OSError):
                worker.conn.close()
        self.workers = []


def _signal_all(workers: list[_Worker], send: Callable[[BaseProcess], None]) -> None:
    for worker in workers:
        if worker.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                send(worker.process)
