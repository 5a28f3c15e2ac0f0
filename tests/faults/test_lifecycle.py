"""One run per folder; SIGINT/SIGTERM stop cleanly (children ended, non-zero exit, how to resume)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO, run_cli


def _slow_table(tmp_path: Path, server, n: int = 6) -> Path:
    """URLs whose bodies trickle: the run stays busy long enough to be interrupted."""
    table = tmp_path / "slow.csv"
    table.write_text("url\n" + "".join(f"{server.url(f'fault/slow/v{i % 6}.mp4?n={i}&dir={tmp_path.name}')}\n" for i in range(n)))
    return table


def _start(table: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "curation", "run", "--url_list", str(table), "--output_folder", str(out),
           "--output_format", "webdataset", "--quiet", "--processes_count", "2", "--number_sample_per_shard", "2",
           "--set", "reading.timeout=120"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))


def _wait_for_workers(proc: subprocess.Popen, count: int = 2, timeout: float = 60) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = psutil.Process(proc.pid).children(recursive=True)
        if len(children) >= count:
            return children
        time.sleep(0.2)
    raise AssertionError("workers did not start")


def test_second_run_on_same_folder_is_refused_then_stale_lock_taken_over(server, tmp_path: Path) -> None:
    table = _slow_table(tmp_path, server, n=2)
    out = tmp_path / "out"
    first = _start(table, out)
    try:
        _wait_for_workers(first, 1)
        second = run_cli("run", "--url_list", str(table), "--output_folder", str(out))
        assert second.code == 2
        assert second.stderr.strip().count("\n") == 0
        assert f"in use by a running curate (pid {first.pid} on {socket.gethostname()})" in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    holder = json.loads((out / ".curate.lock").read_text())
    assert holder["pid"] == first.pid  # a SIGKILLed run leaves its lock behind: stale
    resumed = run_cli("run", "--url_list", str(table), "--output_folder", str(out), "--number_sample_per_shard", "2",
                      "--set", "reading.timeout=1", "--set", "reading.retries=0")
    assert resumed.code == 0, resumed.stderr
    assert not (out / ".curate.lock").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_ends_children_and_says_how_to_resume(server, tmp_path: Path, sig: signal.Signals) -> None:
    table = _slow_table(tmp_path, server)
    out = tmp_path / "out"
    proc = _start(table, out)
    children = _wait_for_workers(proc, 2)
    time.sleep(1.0)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode not in (0, None)
    assert "run the same command again to resume" in stderr
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"children left running: {alive}"
    assert not (out / ".curate.lock").exists()
    assert not list(out.glob("*_stats.json")), "nothing may look finished"
    assert not list(out.glob("*.tar"))
