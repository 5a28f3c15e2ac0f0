"""`curate stats`: its numbers are the sums of the _stats.json files, finished or mid-run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli
from tests.support.http_server import FaultServer
from tests.support.runs import (
    SUMMARIES,
    cli_in_process,
    copy_run,
    finished_run,
    stats_files,
    summed,
    write_list,
)

SUMMED = ("count", "successes", "failed_to_download", "failed_to_subsample", "outputs_written",
          "bytes_downloaded", "bytes_written")


@pytest.fixture(scope="module")
def run_folder(media: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return finished_run(media, tmp_path_factory)


@pytest.fixture
def stats_json(capsys: pytest.CaptureFixture[str]) -> Callable[[Path], dict]:
    def run(folder: Path) -> dict:
        code, out, err = cli_in_process(capsys, "stats", str(folder), "--json")
        assert code == 0, err
        return json.loads(out)

    return run


@pytest.fixture
def stats_text(capsys: pytest.CaptureFixture[str]) -> Callable[[Path], str]:
    def run(folder: Path) -> str:
        code, out, err = cli_in_process(capsys, "stats", str(folder))
        assert code == 0, err
        return out

    return run


def assert_totals_match(report: dict, stats: list[dict]) -> None:
    names = {"count": "samples"}
    for key in SUMMED:
        assert report[names.get(key, key)] == summed(stats, key), key
    for key in ("video_seconds_in", "video_seconds_out"):
        assert report[key] == pytest.approx(summed(stats, key))
        assert report[key.replace("seconds", "hours")] == pytest.approx(summed(stats, key) / 3600)
    errors: dict[str, int] = {}
    for s in stats:
        for message, n in s["status_dict"].items():
            if message != "success":
                errors[message] = errors.get(message, 0) + n
    assert {e["message"]: e["count"] for e in report["top_errors"]} == errors
    wall = report["wall_seconds"]
    assert max(s["duration"] for s in stats) <= wall + 1e-6
    assert wall <= max(s["end_time"] for s in stats) - min(s["start_time"] for s in stats) + 1e-6
    assert report["throughput"]["samples_per_second"] == pytest.approx(report["samples"] / wall)
    assert report["throughput"]["mb_per_second"] == pytest.approx(report["bytes_downloaded"] / wall / 1e6)


def test_totals_equal_the_sum_of_the_stats_files(run_folder: Path, stats_json: Callable, stats_text: Callable) -> None:
    stats = stats_files(run_folder)
    report = stats_json(run_folder)
    assert report["shards"]["total"] == report["shards"]["done"] == 3
    assert report["shards"]["pending"] == 0
    assert report["samples"] == 6 and report["successes"] == 4
    assert report["failed_to_download"] == 1 and report["failed_to_subsample"] == 1
    assert_totals_match(report, stats)
    text = stats_text(run_folder)
    assert "3/3 done, 0 pending" in text
    assert "failed_to_download:  1 (16.7%)" in text
    assert "missing.mp4" in text  # the top error messages are listed


def test_mid_run_pending_shards_come_from_the_plan(run_folder: Path, tmp_path: Path, stats_json: Callable,
                                                   stats_text: Callable) -> None:
    folder = copy_run(run_folder, tmp_path / "partial")
    (folder / "00001_stats.json").unlink()
    (folder / "00001.tar").unlink()
    (folder / ".00001.tar.tmp-4242").write_bytes(b"being written")  # what a running worker holds
    report = stats_json(folder)
    assert report["shards"] == {"total": 3, "done": 2, "pending": 1, "running": 1,
                                "pending_names": ["00001"], "unreadable_stats": []}
    assert_totals_match(report, stats_files(folder))
    assert report["samples"] == 4
    text = stats_text(folder)
    assert "2/3 done, 1 pending (1 being written)" in text
    assert "pending shards:        00001" in text


def test_during_a_live_run(media: Path, tmp_path: Path, stats_json: Callable) -> None:
    """A real run whose middle shard is stuck on a slow download: stats reads it while it runs."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "slow.mp4").write_bytes(b"x" * 64 * 5)  # trickled at 64 B/s: about 5 s, then not media
    server = FaultServer(served).start()
    try:
        rows = [(str(media / "v0.mp4"), "a"), (str(media / "v1.mp4"), "b"),
                (server.url("fault/slow/slow.mp4"), "a"), (str(media / "v3.mp4"), "b")]
        table = write_list(tmp_path / "list.csv", rows)
        out = tmp_path / "out"
        code = (f"from curation import curate; curate(url_list={str(table)!r}, output_folder={str(out)!r}, "
                "output_format='webdataset', quiet=True, config={'storage': {'number_sample_per_shard': 2}, "
                "'distribution': {'processes_count': 1, 'thread_count': 1}, "
                "'reading': {'retries': 0}})")
        proc = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(REPO)),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while not (out / "00000_stats.json").exists():
                assert proc.poll() is None and time.monotonic() < deadline, "first shard never finished"
                time.sleep(0.1)
            before = stats_files(out)
            report = stats_json(out)
            after = stats_files(out)
            assert report["active_run"]["pid"] == proc.pid and report["active_run"]["alive"] is True
            assert proc.poll() is None, "the run ended before stats was read; the slow shard is too fast"
        finally:
            proc.wait(timeout=60)
        assert before == after  # nothing finished in between, so the comparison is exact
        assert report["shards"]["total"] == 2
        assert report["shards"]["done"] == 1 and report["shards"]["pending"] == 1
        assert_totals_match(report, after)
        assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
    finally:
        server.stop()
    final = stats_json(out)
    assert final["active_run"] is None  # the run released the folder
    assert final["shards"]["done"] == 2 and final["failed_to_subsample"] == 1


def test_user_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    for folder in (tmp_path / "nope", tmp_path):
        result = run_cli("stats", str(folder))
        assert result.code == 2
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("curate: error:")


def test_stats_without_a_plan_counts_what_is_there(run_folder: Path, tmp_path: Path, stats_json: Callable,
                                                    stats_text: Callable) -> None:
    """A video2dataset folder (its stats keys, no manifest): totals work, pending is unknown."""
    folder = copy_run(run_folder, tmp_path / "noplan")
    for path in (folder / "_plan").iterdir():
        path.unlink()
    (folder / "_plan").rmdir()
    v2d_keys = ("count", "successes", "failed_to_download", "failed_to_subsample", "duration", "bytes_downloaded",
                "start_time", "end_time", "status_dict")
    for path in folder.glob("*_stats.json"):  # video2dataset's own keys only
        data = json.loads(path.read_text())
        path.write_text(json.dumps({k: data[k] for k in v2d_keys}))
    report = stats_json(folder)
    assert report["shards"]["total"] is None and report["shards"]["done"] == 3
    assert report["samples"] == 6 and report["failed_to_subsample"] == 1
    assert report["outputs_written"] == 0 and report["video_seconds_in"] == 0  # not recorded by video2dataset
    stats = [dict(s, outputs_written=0, bytes_written=0, video_seconds_in=0, video_seconds_out=0) for s in stats_files(folder)]
    assert_totals_match(report, stats)
    assert "no plan manifest" in stats_text(folder)


def test_the_run_summary_and_stats_agree(run_folder: Path, stats_json: Callable) -> None:
    """What `curate run` prints at the end and what `curate stats` says later are the same numbers."""
    summary = SUMMARIES["webdataset"]
    report = stats_json(run_folder)
    assert (summary.shards_done, summary.shards_total) == (report["shards"]["done"], report["shards"]["total"])
    for key in SUMMED:
        assert summary.totals[key] == report["samples" if key == "count" else key], key


def test_a_corrupt_stats_file_is_named_not_counted(run_folder: Path, tmp_path: Path, stats_json: Callable) -> None:
    folder = copy_run(run_folder, tmp_path / "corrupt")
    good = [json.loads((folder / f"{name}_stats.json").read_text()) for name in ("00000", "00001")]
    (folder / "00002_stats.json").write_text('{"count": 1')
    report = stats_json(folder)
    assert report["shards"]["unreadable_stats"] == ["00002_stats.json"]
    assert report["shards"]["done"] == 2 and report["shards"]["pending_names"] == ["00002"]
    assert_totals_match(report, good)
