"""Slurm: a driver that submits a job array, and a worker mode for tasks inside an allocation.

``distributor: slurm`` (driver): write ``<output>/_slurm/submit-NNN/`` (the config as JSON, the
shard groups, the sbatch script, the element logs), ``sbatch`` it, report progress from the shards'
stats files, ``scancel`` on timeout or Ctrl-C, and report every shard left unfinished with the log
of the array element that owned it.

``distributor: slurm_worker``: the runner runs in each of N tasks (``srun curate run ...``); each
task takes the shards whose ``id % N == rank``. The partition is over shard ids, not over the
pending list, so tasks that start at different times still never write the same shard. Only task 0
plans (reads the input table, writes or extends the plan); the others wait for its word and read
the plan it wrote.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from curation.config import Config
from curation.errors import UserError
from curation.fsutil import atomic_write_json, read_json
from curation.manifest import MANIFEST, PLAN_DIR, Plan, load_plan
from curation.stats import stats_path
from distributors.base import Distributor, OnOutcome, ShardOutcome, absolute_paths
from distributors.slurm_script import check_args, render

SLURM_DIR = "_slurm"
COMMAND_TIMEOUT = 60.0
MAX_SQUEUE_ERRORS = 30
SETTLE_TIME = 10.0
PLAN_WAIT = 3600.0  # how long srun tasks other than 0 wait for task 0's plan
PLAN_POLL = 0.5

# Job states after which an element does not run again on its own. Every other state (PENDING,
# RUNNING, COMPLETING, CONFIGURING, SUSPENDED, REQUEUED, REQUEUE_FED, REQUEUE_HOLD, SPECIAL_EXIT,
# RESIZING, SIGNALING, STAGE_OUT, STOPPED, or one this list does not know) means it may still write.
# Even a terminal state is not trusted at once: a requeue (--signal, NODE_FAIL, PREEMPTED, or
# `scontrol requeue` of a FAILED element) turns the same array task back to PENDING, so the driver
# waits for every element to stay terminal for ``settle_time`` seconds before it gives up on a shard.
TERMINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
                             "BOOT_FAIL", "DEADLINE", "PREEMPTED", "REVOKED"})
RUNNING_STATES = frozenset({"RUNNING", "COMPLETING", "CONFIGURING", "SIGNALING", "STAGE_OUT"})


def _env_int(*names: str) -> int | None:
    for name in names:
        value = os.environ.get(name)
        if value not in (None, ""):
            return int(value)
    return None


def task_rank(config: Config | None = None) -> tuple[int, int]:
    """(rank, task count) of this process among every task of the job (array elements × srun tasks)."""
    args = config.distribution.distributor_args if config is not None else {}
    if "rank" in args and "ntasks" in args:
        return int(args["rank"]), int(args["ntasks"])
    # only an srun step has several tasks running curate; the batch script itself is one process
    # even with --ntasks=N (it sees SLURM_NTASKS=N but no SLURM_STEP_NUM_TASKS)
    ntasks = _env_int("SLURM_STEP_NUM_TASKS") or 1
    procid = (_env_int("SLURM_PROCID") or 0) if ntasks > 1 else 0
    array_id = _env_int("SLURM_ARRAY_TASK_ID")
    array_count = _env_int("SLURM_ARRAY_TASK_COUNT")
    if array_id is not None and array_count:
        index = array_id - (_env_int("SLURM_ARRAY_TASK_MIN") or 0)
        return index * ntasks + procid, array_count * ntasks
    return procid, ntasks


def detect_worker_mode(config: Config) -> Config:
    """``srun -n N curate run ...`` without ``--distributor``: N copies of a multiprocessing run would
    all write the same shards, so each task runs as ``slurm_worker`` instead."""
    steps = _env_int("SLURM_STEP_NUM_TASKS") or 1
    if config.distribution.distributor != "multiprocessing" or steps < 2:
        return config
    if (_env_int("SLURM_PROCID") or 0) == 0:
        print(f"curate: {steps} srun tasks: each runs its share of the shards (distributor slurm_worker)",
              file=sys.stderr, flush=True)
    config = config.model_copy(deep=True)
    config.distribution.distributor = "slurm_worker"
    return config


def _plan_marker(folder: Path) -> Path | None:
    """Where task 0 of this srun step reports on its planning (None outside a Slurm job)."""
    job = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID")
    if not job:
        return None
    return folder / SLURM_DIR / f"plan-{job}.{os.environ.get('SLURM_STEP_ID', 'batch')}.json"


def plan_for_task(config: Config, make_plan: Callable[[Config], Plan]) -> Plan:
    """Task 0 plans; every other task waits for it, then reads the plan: N tasks never read the input N times.

    Task 0 writes a marker for its srun step (``_slurm/plan-<job>.<step>.json``) once the plan is
    final, or the error that stopped it. Outside Slurm (``rank``/``ntasks`` given by hand) the other
    tasks wait for the plan's manifest.
    """
    folder = Path(config.output_folder)
    rank, ntasks = task_rank(config)
    marker = _plan_marker(folder)
    if rank == 0:
        if marker is not None:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.unlink(missing_ok=True)  # a requeued step's earlier word is not this attempt's
        try:
            plan = make_plan(config)
        except Exception as exc:
            if marker is not None:
                atomic_write_json(marker, {"error": str(exc) or type(exc).__name__})
            raise
        if marker is not None:
            atomic_write_json(marker, {"shards": len(plan.shard_ids)})
        return plan
    waiting_for = marker or folder / PLAN_DIR / MANIFEST
    limit = float(config.distribution.distributor_args.get("plan_wait", PLAN_WAIT))
    deadline = time.monotonic() + limit
    while not waiting_for.exists():
        if time.monotonic() > deadline:
            raise UserError(f"slurm task {rank}/{ntasks}: no plan from task 0 after {limit:.0f} s ({waiting_for} missing)")
        time.sleep(PLAN_POLL)
    if marker is not None and "error" in (word := read_json(marker)):
        raise UserError(f"slurm task {rank}/{ntasks}: task 0 could not plan: {word['error']}")
    print(f"curate: slurm task {rank}/{ntasks}: using the plan written by task 0", file=sys.stderr, flush=True)
    return load_plan(folder)


def share(shard_ids: list[int], rank: int, ntasks: int) -> list[int]:
    """Deterministic: a shard belongs to exactly one task, whatever is pending when it starts."""
    if not 0 <= rank < ntasks:
        raise UserError(f"slurm task rank {rank} is outside 0..{ntasks - 1}")
    return [s for s in shard_ids if s % ntasks == rank]


def remove_shard_temps(folder: Path, names: list[str]) -> None:
    """Temp files a killed attempt of *these* shards left (other tasks' shards are left alone)."""
    import shutil

    wanted = {re.escape(n) for n in names}
    if not wanted:
        return
    pattern = re.compile(rf"^\.({'|'.join(wanted)})([._].*)?\.tmp-\d+$")
    for entry in folder.glob(".*.tmp-*"):
        if pattern.match(entry.name):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    tmp = folder / "_tmp"
    if tmp.is_dir():
        for entry in tmp.iterdir():
            if entry.name.rsplit("-", 2)[0] in names:
                shutil.rmtree(entry, ignore_errors=True)


def run_share(config: Config, shard_ids: list[int], on_outcome: OnOutcome) -> list[ShardOutcome]:
    """Run these shards here (processes_count workers, retries as configured), skipping finished ones."""
    from distributors.multiprocessing import MultiprocessingDistributor

    folder = Path(config.output_folder)
    plan = load_plan(folder)
    todo = [s for s in shard_ids if not stats_path(folder, plan.shard_name(s)).exists()]
    if len(todo) < len(shard_ids):
        finished = [s for s in shard_ids if s not in todo]
        print(f"curate: shards {finished} already finished, skipped", file=sys.stderr, flush=True)
    remove_shard_temps(folder, [plan.shard_name(s) for s in todo])
    if not todo:
        return []
    if config.distribution.processes_count is None:  # the allocation's CPUs, not the whole node's
        config = config.model_copy(deep=True)
        config.distribution.processes_count = _env_int("SLURM_CPUS_PER_TASK") or len(os.sched_getaffinity(0))
    return MultiprocessingDistributor(config).run(todo, on_outcome)


class SlurmWorkerDistributor(Distributor):
    """One of N tasks of ``srun curate run ... --distributor slurm_worker``: only its share."""

    def run(self, shard_ids: list[int], on_outcome: OnOutcome) -> list[ShardOutcome]:
        rank, ntasks = task_rank(self.config)
        mine = share(shard_ids, rank, ntasks)
        print(f"curate: slurm task {rank}/{ntasks}: {len(mine)} of {len(shard_ids)} pending shard(s) are mine",
              file=sys.stderr, flush=True)
        return run_share(self.config, mine, on_outcome)


def slurm_command(args: list[str], timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """sbatch/squeue/scancel/scontrol: no shell, always a timeout, a clear error if Slurm is absent."""
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise UserError(f"{args[0]}: not found; distributor slurm needs the Slurm client tools on PATH") from None
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, 124, "", f"{args[0]} did not answer within {timeout:.0f} s")


def next_submit_dir(folder: Path) -> Path:
    root = folder / SLURM_DIR
    root.mkdir(parents=True, exist_ok=True)
    numbers = [int(p.name.split("-")[1]) for p in root.glob("submit-*") if p.name.split("-")[1].isdigit()]
    path = root / f"submit-{max(numbers, default=0) + 1:03d}"
    (path / "logs").mkdir(parents=True)
    return path


def array_task_ids(text: str) -> list[int]:
    """The array task ids squeue shows after ``JOBID_``: ``3``, ``[0-4%2]``, ``[1,3-5]``."""
    ids: list[int] = []
    for part in text.strip("[]").split("%")[0].split(","):
        first, _, last = part.partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            ids.extend(range(int(first), int(last or first) + 1))
    return ids


def element_log(submit_dir: Path, element: int) -> Path:
    return submit_dir / "logs" / f"element-{element}.log"


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "no log written"
    return " | ".join(line.strip() for line in text[-lines:]) or "empty log"


class SlurmDistributor(Distributor):
    """Submit one job array for the pending shards and watch it until every element has ended."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.args = dict(config.distribution.distributor_args)
        check_args(self.args)
        self.folder = Path(config.output_folder)
        self.job_id: str | None = None
        self.squeue_errors = 0

    def groups(self, shard_ids: list[int]) -> list[list[int]]:
        size = int(self.args.get("shards_per_element") or self.config.distribution.subjob_size)
        return [shard_ids[i : i + size] for i in range(0, len(shard_ids), size)]

    def submit(self, shard_ids: list[int]) -> tuple[Path, list[list[int]]]:
        """Write config, groups and script into the output folder, then sbatch it."""
        submit_dir = next_submit_dir(self.folder)
        groups = self.groups(sorted(shard_ids))
        atomic_write_json(submit_dir / "config.json", absolute_paths(self.config).model_dump(mode="json"))
        atomic_write_json(submit_dir / "shards.json", {"groups": groups})
        script = submit_dir / "array.sbatch"
        script.write_text(render(submit_dir.resolve(), len(groups), self.args, self.folder.resolve().name), encoding="utf-8")
        done = slurm_command(["sbatch", "--parsable", str(script)])
        if done.returncode != 0:
            raise UserError(f"sbatch {script} failed: {done.stderr.strip() or done.stdout.strip()}")
        self.job_id = done.stdout.strip().split(";")[0]
        print(f"curate: submitted slurm job {self.job_id}: {len(groups)} array element(s) for {len(shard_ids)} shard(s); "
              f"script {script}, logs {submit_dir / 'logs'}", file=sys.stderr, flush=True)
        return submit_dir, groups

    def queue_states(self) -> dict[int, str] | None:
        """Element → job state for every record slurmctld still holds, terminal ones included
        (``-t all``: a plain ``squeue -j`` hides FAILED/COMPLETED records, so an element between its
        end and its requeue looked the same as one that is gone). ``None`` when squeue did not answer:
        a busy or restarting slurmctld is waited out, the job keeps running meanwhile."""
        done = slurm_command(["squeue", "-h", "-j", str(self.job_id), "-t", "all", "-o", "%i %T"])
        if done.returncode != 0:
            if "Invalid job id" in done.stderr:  # purged (MinJobAge) long after its end
                self.squeue_errors = 0
                return {}
            self.squeue_errors += 1
            if self.squeue_errors >= MAX_SQUEUE_ERRORS:
                raise UserError(f"squeue -j {self.job_id} failed {self.squeue_errors} times in a row ({done.stderr.strip()}); "
                                f"the job may still be running: check it with squeue, or scancel {self.job_id}")
            return None
        self.squeue_errors = 0
        states: dict[int, str] = {}
        for line in done.stdout.splitlines():
            ident, _, state = line.strip().partition(" ")
            for element in array_task_ids(ident.partition("_")[2]):
                states[element] = state.strip()
        return states

    def job_active(self) -> bool:
        """True while any element of the array may still run (see TERMINAL_STATES)."""
        states = self.queue_states()
        return states is None or any(s not in TERMINAL_STATES for s in states.values())

    def cancel(self, why: str) -> None:
        """scancel, then wait (bounded) until no element can still write into the output folder."""
        print(f"curate: {why}: cancelling slurm job {self.job_id} (scancel)", file=sys.stderr, flush=True)
        done = slurm_command(["scancel", str(self.job_id)])
        if done.returncode != 0:
            print(f"curate: scancel {self.job_id} failed: {done.stderr.strip()}; cancel it by hand", file=sys.stderr, flush=True)
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.job_active():
            time.sleep(0.5)

    def element_states(self) -> dict[int, str]:
        """Best effort, without accounting: element → 'STATE exit X:Y, ...' from scontrol (if still known)."""
        done = slurm_command(["scontrol", "-o", "show", "job", str(self.job_id)])
        states: dict[int, str] = {}
        for line in done.stdout.splitlines():
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            if fields.get("ArrayTaskId", "").isdigit():
                text = f"{fields.get('JobState', '?')} exit {fields.get('ExitCode', '?')}"
                if fields.get("Reason", "None") != "None":
                    text += f", reason {fields['Reason']}"
                if fields.get("Restarts", "0") not in ("0", ""):
                    text += f", restarts {fields['Restarts']}"
                states[int(fields["ArrayTaskId"])] = text
        return states

    def note_changes(self, before: dict[int, str], now: dict[int, str]) -> None:
        """Say when an element goes back to the queue (requeued near its time limit, after a node
        failure or preemption, or by hand): the driver keeps waiting for it."""
        for element, state in sorted(now.items()):
            old = before.get(element)
            if old is not None and old != state and state not in TERMINAL_STATES and state not in RUNNING_STATES \
                    and (old in RUNNING_STATES or old in TERMINAL_STATES):
                print(f"curate: array element {element} of job {self.job_id} requeued ({old} -> {state}); waiting for it",
                      file=sys.stderr, flush=True)

    def run(self, shard_ids: list[int], on_outcome: OnOutcome) -> list[ShardOutcome]:
        plan = load_plan(self.folder)
        submit_dir, groups = self.submit(shard_ids)
        poll = float(self.args.get("poll_interval", 5.0))
        timeout = self.args.get("timeout")
        deadline = time.monotonic() + float(timeout) if timeout else None
        outcomes: dict[int, ShardOutcome] = {}
        ended = ""

        def collect() -> None:
            for shard in shard_ids:
                done = stats_path(self.folder, plan.shard_name(shard))
                if shard not in outcomes and done.exists():
                    outcomes[shard] = ShardOutcome(shard, True, read_json(done))
                    on_outcome(outcomes[shard])

        settle = float(self.args.get("settle_time", SETTLE_TIME))
        seen: dict[int, str] = {}
        ended_since: float | None = None  # since when every element has been in a terminal state
        try:
            while True:
                collect()
                states = self.queue_states()
                if states is not None:
                    self.note_changes(seen, states)
                    seen.update(states)
                if states is not None and all(s in TERMINAL_STATES for s in states.values()):
                    collect()
                    now = time.monotonic()
                    ended_since = now if ended_since is None else ended_since
                    # the stats files are the ground truth: with every shard done there is nothing to
                    # wait for; otherwise an element that looks ended may still be requeued
                    if len(outcomes) == len(shard_ids) or now - ended_since >= settle:
                        break
                else:
                    ended_since = None
                if deadline is not None and time.monotonic() > deadline:
                    ended = f"timed out after {timeout} s"
                    self.cancel(ended)
                    collect()
                    break
                time.sleep(poll)
        except KeyboardInterrupt:
            self.cancel("interrupted")
            raise
        states = self.element_states() if len(outcomes) < len(shard_ids) else {}
        for element, group in enumerate(groups):
            for shard in group:
                if shard in outcomes:
                    continue
                log = element_log(submit_dir, element)
                state = ended or states.get(element, "ended")
                outcomes[shard] = ShardOutcome(shard, False, error=(
                    f"array element {element} of job {self.job_id} ({state}) did not finish shard "
                    f"{plan.shard_name(shard)}; log: {log} ({_tail(log)})"))
                on_outcome(outcomes[shard])
        return [outcomes[s] for s in shard_ids]
