"""One `curate run`: config → plan → pending shards → distributor → summary."""

from __future__ import annotations

import contextlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.config import Config, build_config
from curation.errors import UserError
from curation.lifecycle import stop_cleanly
from curation.lock import folder_lock
from curation.manifest import PLAN_DIR, Plan
from curation.plan_process import plan_in_child
from curation.progress import Progress
from curation.remote_output import clear_remote, pull_state, push_plan, staged
from curation.stats import read_all_stats, stats_path, summarize


class ShardsFailedError(Exception):
    """Some shards still failed after every retry; running again resumes them."""


@dataclass
class RunSummary:
    output_folder: str
    shards_total: int
    shards_done: int
    shards_failed: list[int] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)


_OUR_ENTRY = re.compile(r"^(\.)?\d+(\.tar|\.parquet|_stats\.json)?(\..*\.tmp-\d+|\.tmp-\d+)?$")


def clear_outputs(folder: Path, remote: str | None = None) -> None:
    """``incremental_mode: overwrite``: remove what earlier runs wrote here (and in the remote folder), and nothing else."""
    if not folder.exists():
        return
    from curation.wds_plan import named_outputs

    named = named_outputs(folder)  # webdataset input: shards keep their tars' names, not only numbers

    def ours(name: str) -> bool:
        return name in (PLAN_DIR, "_tmp") or bool(_OUR_ENTRY.match(name)) or ".tmp-" in name or name in named

    if remote is not None:
        clear_remote(remote, ours)
    for entry in folder.iterdir():
        if ours(entry.name):
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def remove_stale_temps(folder: Path) -> None:
    """Temp files of a killed run: never counted as done, removed before the shards are redone."""
    for entry in folder.glob(".*.tmp-*"):
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    shutil.rmtree(folder / "_tmp", ignore_errors=True)


def pending_shards(plan: Plan, folder: Path, retry_failed: bool = False) -> list[int]:
    """Shards without a stats file; with retry_failed, also finished shards that recorded failures."""
    from curation.fsutil import read_json
    from curation.stats import has_failures

    pending = []
    for shard in plan.shard_ids:
        done = stats_path(folder, plan.shard_name(shard))
        if not done.exists() or (retry_failed and has_failures(read_json(done))):
            pending.append(shard)
    return pending


def make_or_resume_plan(config: Config) -> Plan:
    """The plan (made in a child process, or the recorded one); with a remote output, taken from and given to it."""
    if not config.publish_to:
        return plan_in_child(config)
    folder = Path(config.output_folder)
    pull_state(folder, config.publish_to)  # resume where any machine left off; forget what the remote lost
    plan = plan_in_child(config)
    push_plan(folder, config.publish_to)
    return plan


def run(config: Config | str | dict[str, Any] | None = "default", quiet: bool | None = None, **overrides: Any) -> RunSummary:
    """Run (or resume) a curation job; raise ShardsFailedError if shards remain unfinished."""
    if not isinstance(config, Config):
        config = build_config(config, **overrides)
    from distributors.slurm import detect_worker_mode

    config = detect_worker_mode(config)  # srun -n N curate run ...: one share per task
    config = staged(config)  # a remote output folder: work in a local staging folder, publish each shard
    folder = Path(config.output_folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"output_folder: {folder} exists and is not a directory")
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if config.distribution.distributor != "slurm_worker":  # srun tasks share the driver's folder
            stack.enter_context(folder_lock(folder))
        stack.enter_context(stop_cleanly())
        return _run_locked(config, folder, quiet)


def _run_locked(config: Config, folder: Path, quiet: bool | None) -> RunSummary:
    if config.incremental_mode == "overwrite" and config.distribution.distributor == "slurm_worker":
        # each srun task would clear the shards the others already wrote
        raise UserError("incremental_mode overwrite cannot be used with distributor slurm_worker (every task would "
                        "clear the folder); clear it once before `srun`, or use a new output folder")
    if config.input_format == "webdataset":  # never clear (or overwrite) the shards being reprocessed
        from curation.wds_plan import refuse_inputs_in_output

        refuse_inputs_in_output(config)
    if config.incremental_mode == "overwrite":
        if config.publish_to:  # the remote plan names the shards to clear
            pull_state(folder, config.publish_to)
        clear_outputs(folder, config.publish_to)
    if config.distribution.distributor != "slurm_worker":
        remove_stale_temps(folder)
    if config.distribution.distributor == "slurm_worker":  # srun tasks: only task 0 reads the input
        from distributors.slurm import plan_for_task

        plan = plan_for_task(config, make_or_resume_plan)
    else:
        plan = make_or_resume_plan(config)
    pending = pending_shards(plan, folder, config.retry_failed)
    progress = Progress(total=len(plan.shard_ids), done=len(plan.shard_ids) - len(pending), quiet=quiet)
    from distributors import get_distributor

    try:
        outcomes = get_distributor(config.distribution.distributor)(config).run(pending, progress.update) if pending else []
    finally:
        progress.close()
    failed = [o.shard_id for o in outcomes if not o.ok]
    if config.distribution.distributor != "slurm_worker":  # every worker has stopped: what a killed one left is stale
        remove_stale_temps(folder)
        if config.publish_to:  # workers on other machines published into the remote folder, not into this staging
            pull_state(folder, config.publish_to)
    totals = summarize(read_all_stats(folder))
    summary = RunSummary(config.publish_to or str(folder), len(plan.shard_ids), len(plan.shard_ids) - len(pending_shards(plan, folder)), failed, totals)
    if config.enable_wandb:
        from curation.wandb_log import log_run

        log_run(config, summary)
    if failed:
        errors = "; ".join(f"shard {o.shard_id}: {o.error}" for o in outcomes if not o.ok)
        raise ShardsFailedError(f"{len(failed)} shard(s) failed after {config.max_shard_retry + 1} attempt(s) ({errors}); run the same command again to resume")
    return summary
