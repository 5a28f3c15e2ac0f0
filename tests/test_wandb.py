"""`enable_wandb` logs one offline run per `curate run`, from the driver only, with the config, the
totals of the stats files, one row of rates per shard and the top errors; read back from the
run's .wandb file (offline runs write nothing else)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.media import make_video
from tests.support.wandb_reader import find_run_file, wait_for_exit

pytest_plugins = ["tests.conftest_engines"]


def test_offline_run_has_config_totals_and_shard_rates(wandb_offline: Path, tmp_path: Path) -> None:
    from curation.config import build_config
    from curation.runner import run
    from curation.stats import read_all_stats

    good = [make_video(tmp_path / "media" / f"v{i}.mp4", duration=1.0, size="64x48", fps=10) for i in range(2)]
    table = tmp_path / "in.csv"
    table.write_text(f"url\n{good[0]}\n{tmp_path / 'missing.mp4'}\n{good[1]}\n", encoding="utf-8")
    out = tmp_path / "out"
    config = build_config({
        "url_list": str(table), "output_folder": str(out), "output_format": "webdataset", "enable_wandb": True,
        "wandb_project": "curate-test", "storage": {"number_sample_per_shard": 2},
        "distribution": {"processes_count": 1, "thread_count": 2},
    })
    summary = run(config, quiet=True)

    logged = wait_for_exit(find_run_file(wandb_offline))
    assert logged.exit_code == 0
    assert logged.project == "curate-test"
    assert {k: v for k, v in logged.config.items() if k != "_wandb"} == json.loads(json.dumps(config.model_dump(mode="json")))

    stats = read_all_stats(out)
    assert [s["shard"] for s in stats] == ["00000", "00001"]
    for key in ("count", "successes", "failed_to_download", "failed_to_subsample", "outputs_written",
                "bytes_downloaded", "bytes_written"):
        assert logged.summary[f"total/{key}"] == sum(s[key] for s in stats) == summary.totals[key], key
    assert logged.summary["total/count"] == 3 and logged.summary["total/failed_to_download"] == 1
    assert logged.summary["total/video_seconds_in"] == pytest.approx(sum(s["video_seconds_in"] for s in stats))
    assert logged.summary["shards_done"] == 2

    errors = [m for s in stats for m in s["status_dict"] if m != "success"]
    assert len(errors) == 1 and logged.summary["top_errors"] == [[errors[0], 1]]

    rows = [r for r in logged.history if "shard" in r]
    assert [r["shard"] for r in rows] == ["00000", "00001"]
    for row, shard in zip(rows, stats, strict=True):
        assert row["successes"] == shard["successes"] and row["failures"] == shard["count"] - shard["successes"]
        assert row["samples_per_s"] == pytest.approx(shard["count"] / shard["duration"])
        assert row["bytes_per_s"] == pytest.approx(shard["bytes_downloaded"] / shard["duration"])
        assert row["video_seconds_per_s"] == pytest.approx(shard["video_seconds_in"] / shard["duration"])


def test_only_rank_zero_of_srun_tasks_logs(wandb_offline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """N srun tasks all run the runner; one job must still be one wandb run."""
    from curation.config import build_config
    from curation.runner import RunSummary
    from curation.wandb_log import is_driver, log_run

    config = build_config({"output_folder": str(tmp_path), "distribution": {"distributor": "slurm_worker"}})
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "2")
    monkeypatch.setenv("SLURM_PROCID", "1")
    assert not is_driver(config)
    assert log_run(config, RunSummary(str(tmp_path), 0, 0)) is None
    assert not list(wandb_offline.rglob("*.wandb"))
    monkeypatch.setenv("SLURM_PROCID", "0")
    assert is_driver(config)
