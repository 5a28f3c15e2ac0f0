"""Log one `curate run` to Weights & Biases, from the driver only, whatever the engine.

Everything logged is read from the shards' stats files (the same numbers `curate stats` shows), so
Spark executors and Slurm array elements never talk to wandb: one run per `curate run`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from curation.config import Config
from curation.stats import SUCCESS, read_all_stats

TOTAL_KEYS = ("shards", "count", "successes", "failed_to_download", "failed_to_subsample", "outputs_written",
              "bytes_downloaded", "bytes_written", "video_seconds_in", "video_seconds_out")


def shard_rates(stats: dict[str, Any]) -> dict[str, Any]:
    """One history row per shard: throughput and outcome counts (rates per second of shard wall time)."""
    seconds = max(float(stats.get("duration") or 0.0), 1e-9)
    count = int(stats.get("count", 0))
    successes = int(stats.get("successes", 0))
    return {
        "shard": stats.get("shard"),
        "samples_per_s": count / seconds,
        "video_seconds_per_s": float(stats.get("video_seconds_in", 0.0)) / seconds,
        "bytes_per_s": float(stats.get("bytes_downloaded", 0)) / seconds,
        "successes": successes,
        "failures": count - successes,
        "duration": seconds,
    }


def top_errors(stats: list[dict[str, Any]], limit: int = 10) -> list[list[Any]]:
    counts: dict[str, int] = {}
    for shard in stats:
        for message, n in shard.get("status_dict", {}).items():
            if message != SUCCESS:
                counts[message] = counts.get(message, 0) + int(n)
    return [[m, n] for m, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def is_driver(config: Config) -> bool:
    """srun worker tasks all run the runner; only rank 0 logs, so a job is still one wandb run."""
    if config.distribution.distributor != "slurm_worker":
        return True
    from distributors.slurm import task_rank

    return task_rank(config)[0] == 0


def log_run(config: Config, summary: Any) -> str | None:
    """Log config, totals, per-shard rates and top errors; return the run's local directory."""
    if not is_driver(config):
        return None
    import wandb  # heavy: only when enable_wandb

    folder = Path(summary.output_folder)
    stats = read_all_stats(folder)
    run = wandb.init(
        project=config.wandb_project,
        config=config.model_dump(mode="json"),
        job_type="curate",
        name=os.environ.get("CURATE_WANDB_NAME") or folder.name,
    )
    try:
        for row in (shard_rates(s) for s in stats):
            run.log(row)
        totals = {key: summary.totals.get(key, 0) for key in TOTAL_KEYS}
        wall = float(summary.totals.get("wall_seconds") or 0.0)
        if wall > 0:
            totals["samples_per_s"] = totals["count"] / wall
            totals["video_seconds_per_s"] = totals["video_seconds_in"] / wall
            totals["bytes_per_s"] = totals["bytes_downloaded"] / wall
        for key, value in totals.items():
            run.summary[f"total/{key}"] = value
        run.summary["shards_total"] = summary.shards_total
        run.summary["shards_done"] = summary.shards_done
        run.summary["shards_failed"] = list(summary.shards_failed)
        run.summary["top_errors"] = top_errors(stats)
        return str(run.dir)
    finally:
        run.finish()
        # end wandb's service process and its process-wide settings: the next run in this process
        # (a notebook, a test) reads WANDB_* again, and no helper process outlives the run
        wandb.teardown()
