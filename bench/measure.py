"""Run one command and measure its whole process tree: wall, user+sys CPU, peak summed RSS.

Why not ``/usr/bin/time -v``: its max RSS is that of the single largest process, while a pipeline
with worker processes and ffmpeg children costs the SUM of their memory. So we sample the tree with
psutil every 0.2 s and reap the root with ``os.wait4``, whose rusage includes every descendant the
tree itself reaped (workers, ffmpeg children): the CPU cost of the whole job.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

SAMPLE_INTERVAL = 0.2


@dataclass
class Measurement:
    """What one measured command cost."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    returncode: int
    timed_out: bool
    log: Path
    other_cores: float = 0.0  # mean CPU cores used by processes outside the tree (noise estimate)
    peak_pss_mb: float = 0.0  # peak summed proportional set size: shared pages counted once
    peak_parts: str = ""  # the processes at the RSS peak, e.g. "python 36+120, ffmpeg 92+93" (MB each)

    def tail(self, lines: int = 15) -> str:
        """The last lines of the command's combined stdout/stderr, for error reports."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _tree_memory(root: psutil.Process) -> tuple[int, int, list[tuple[str, int]]]:
    """Summed RSS and summed PSS in bytes of ``root`` and its live descendants (vanished ones skipped),
    and each process's name and RSS.

    RSS counts a shared library once per process that maps it (ffmpeg's ~40 MB of codecs, pyarrow);
    PSS splits shared pages among the processes sharing them, so its sum is the RAM the tree holds.
    """
    rss = pss = 0
    parts: list[tuple[str, int]] = []
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0, parts
    for proc in procs:
        try:
            full = proc.memory_full_info()
            name = proc.name()
        except psutil.Error:
            continue
        rss += full.rss
        pss += getattr(full, "pss", full.rss)
        parts.append((name, full.rss))
    return rss, pss, parts


def describe_parts(parts: list[tuple[str, int]]) -> str:
    """``[("python3", 36e6), ("ffmpeg", 92e6), ("python3", 120e6)]`` → ``"ffmpeg 92, python3 36+120"``."""
    by_name: dict[str, list[int]] = {}
    for name, rss in parts:
        by_name.setdefault(name, []).append(round(rss / 2**20))
    return ", ".join(f"{name} {'+'.join(map(str, sizes))}" for name, sizes in sorted(by_name.items()))


def _busy_seconds() -> float:
    """System-wide non-idle CPU seconds so far (all cores)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)


def _kill_tree(pid: int) -> None:
    """Kill the process group we created for the command (it runs in its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_measured(
    cmd: Sequence[str | os.PathLike[str]],
    log: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Measurement:
    """Run ``cmd`` (no shell), logging its output to ``log``; kill its whole group after ``timeout``."""
    import subprocess

    log.parent.mkdir(parents=True, exist_ok=True)
    argv = [str(c) for c in cmd]
    with log.open("wb") as out:
        out.write(("$ " + " ".join(argv) + "\n").encode())
        out.flush()
        busy_before = _busy_seconds()
        start = time.monotonic()
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd, start_new_session=True,
        )
        root = psutil.Process(proc.pid)
        peak = peak_pss = 0
        peak_parts: list[tuple[str, int]] = []
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            rss, pss, parts = _tree_memory(root)
            if rss > peak:
                peak, peak_parts = rss, parts
            peak_pss = max(peak_pss, pss)
            if time.monotonic() - start > timeout:
                timed_out = True
                _kill_tree(proc.pid)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(SAMPLE_INTERVAL)
        wall = time.monotonic() - start
        busy = _busy_seconds() - busy_before
        # The root is reaped; stray grandchildren still in its group must not outlive the measurement.
        _kill_tree(proc.pid)
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Measurement(
        wall_s=wall,
        cpu_s=cpu,
        other_cores=max(0.0, busy - cpu) / wall if wall > 0 else 0.0,
        peak_rss_mb=peak / 2**20,
        peak_pss_mb=peak_pss / 2**20,
        peak_parts=describe_parts(peak_parts),
        returncode=proc.returncode,
        timed_out=timed_out,
        log=log,
    )
