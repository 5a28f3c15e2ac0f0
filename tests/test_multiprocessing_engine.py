"""The default engine: shards as threads in few worker processes, a dead worker costs only its shards."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.conftest import REPO
from tests.support.shards import read_webdataset, stats_files


def _job(media: Path, tmp_path: Path, distribution: dict) -> list[str]:
    table = tmp_path / "in.csv"
    table.write_text("url\n" + "".join(f"{media / f'v{i % 6}.mp4'}\n" for i in range(16)))
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({
        "subsampling": {"ResolutionSubsampler": {"args": {"video_size": 32, "resize_mode": "scale"}}},
        "storage": {"number_sample_per_shard": 2},
        "distribution": {"thread_count": 1, **distribution},
    }))
    return [sys.executable, "-m", "curation", "run", "--url_list", str(table), "--output_folder", str(tmp_path / "out"),
            "--output_format", "webdataset", "--config", str(config), "--quiet"]


def _python_workers(root: psutil.Process) -> list[psutil.Process]:
    """Spawned Python children of the driver: the shard worker processes (the planner is a plain subprocess).

    Direct children only: a worker's child between fork and exec still shows the worker's cmdline.
    """
    found = []
    for proc in root.children():
        try:
            if "multiprocessing.spawn" in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _watch(cmd: list[str], on_sample=None, started=None) -> tuple[int, int, int]:
    """Run ``cmd``; return (exit code, most Python workers seen at once, most ffmpeg children at once)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(REPO)))
    if started is not None:
        started(proc.pid)
    root = psutil.Process(proc.pid)
    most_workers = most_ffmpeg = 0
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            workers = _python_workers(root)
            ffmpegs = [p for p in root.children(recursive=True) if p.name() in ("ffmpeg", "ffprobe")]
        except psutil.Error:
            continue
        most_workers = max(most_workers, len(workers))
        most_ffmpeg = max(most_ffmpeg, len(ffmpegs))
        if on_sample is not None:
            on_sample(workers)
        time.sleep(0.02)
    proc.wait(timeout=60)
    return proc.returncode, most_workers, most_ffmpeg


def test_four_shards_at_once_run_in_two_processes(media: Path, tmp_path: Path) -> None:
    code, most_workers, most_ffmpeg = _watch(_job(media, tmp_path, {"processes_count": 4, "shards_per_process": 2}))
    assert code == 0
    assert most_workers == 2, "4 shards at once, 2 per process: two worker processes, never one per shard"
    assert most_ffmpeg <= 4, "one ffmpeg-family child per shard in flight"
    out = tmp_path / "out"
    assert len(stats_files(out)) == 8
    assert len(read_webdataset(out)) == 16


def test_shards_that_fit_one_worker_run_inside_the_curate_process(media: Path, tmp_path: Path) -> None:
    """processes_count 2 ≤ shards_per_process 4: a worker process would only cost its ~100 MB."""
    driver: list[psutil.Process] = []
    ffmpeg_under_driver: list[bool] = []

    def note_direct_ffmpeg(_workers: list[psutil.Process]) -> None:
        with contextlib.suppress(psutil.Error):
            if any(c.name() == "ffmpeg" for c in driver[0].children()):
                ffmpeg_under_driver.append(True)

    cmd = _job(media, tmp_path, {"processes_count": 2})
    code, most_workers, most_ffmpeg = _watch(cmd, note_direct_ffmpeg, started=lambda pid: driver.append(psutil.Process(pid)))
    assert code == 0
    assert most_workers == 0, "no worker process"
    assert ffmpeg_under_driver, "ffmpeg runs as a child of the curate process itself"
    assert 1 <= most_ffmpeg <= 2, "two shards at once, one ffmpeg-family child each"
    out = tmp_path / "out"
    stats = stats_files(out)
    assert len(stats) == 8 and all(s["successes"] == 2 for s in stats.values())
    assert len(read_webdataset(out)) == 16


def test_killed_worker_costs_only_its_shards_and_the_run_still_finishes(media: Path, tmp_path: Path) -> None:
    killed: list[int] = []

    def kill_first_busy_worker(workers: list[psutil.Process]) -> None:
        if killed:
            return
        for worker in workers:
            try:
                busy = any(c.name() in ("ffmpeg", "ffprobe") for c in worker.children())
            except psutil.Error:
                continue
            if busy:
                killed.append(worker.pid)
                os.kill(worker.pid, signal.SIGKILL)
                return

    code, _, _ = _watch(_job(media, tmp_path, {"processes_count": 2, "shards_per_process": 1}), kill_first_busy_worker)
    assert killed, "no busy worker was seen to kill"
    assert code == 0, "the dead worker's shard is retried within the same run"
    out = tmp_path / "out"
    stats = stats_files(out)
    assert len(stats) == 8 and all(s["successes"] == 2 for s in stats.values())
    samples = read_webdataset(out)
    assert len(samples) == 16 and len({s["__key__"] for s in samples}) == 16, "nothing lost, nothing written twice"
    assert not list(out.glob(".*tmp-*"))


def test_workers_build_arrow_tables_without_loading_pandas() -> None:
    """pyarrow would import pandas (~40 MB per worker) on the first list it converts."""
    script = (
        "import sys\n"
        "from curation.arrowutil import arrow_without_pandas, rows_to_table\n"
        "arrow_without_pandas()\n"
        "table = rows_to_table([{'key': 'a', 'n': 1}, {'key': 'b', 'n': [1, 2]}])\n"
        "assert table.column('n').to_pylist() == ['1', '[1, 2]'], table\n"
        "assert 'pandas' not in sys.modules\n"
        "import pandas\n"
        "print('ok', pandas.__name__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 0 and proc.stdout.strip() == "ok pandas", proc.stderr
