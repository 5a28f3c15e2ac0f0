"""Progress: tqdm on a terminal; plain timestamped lines with --quiet or when stderr is not a terminal."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from curation.progress import Progress
from distributors.base import ShardOutcome
from tests.conftest import REPO, run_cli
from tests.support.runs import write_list

LINE = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] curate: ")


def ok(shard: int, count: int = 10, successes: int = 9) -> ShardOutcome:
    return ShardOutcome(shard, True, {"count": count, "successes": successes, "video_seconds_in": 50.0,
                                      "bytes_downloaded": 4_000_000})


def test_quiet_lines_carry_shards_rates_failures_and_eta(capsys: pytest.CaptureFixture[str]) -> None:
    progress = Progress(total=4, done=1, quiet=True, interval=0)
    progress.update(ok(1))
    progress.update(ShardOutcome(2, False, error="OSError: disk full", attempts=1))
    progress.update(ok(3))
    progress.close()
    lines = capsys.readouterr().err.splitlines()
    assert all(LINE.match(line) for line in lines), lines
    assert lines[0].endswith("1/4 shards already done, 3 to run")
    assert re.search(r"2/4 shards \(50\.0%\), 10 samples, [\d.]+ samples/s, [\d.]+ video-s/s, [\d.]+ MB/s, "
                     r"1 failed samples, ETA \d+:\d\d:\d\d$", lines[1]), lines[1]
    assert lines[2].endswith("shard 2 failed (attempt 1): OSError: disk full")
    assert "3/4 shards (75.0%), 20 samples" in lines[3] and "2 failed samples, 1 failed shard attempts" in lines[3]
    assert "finished in" in lines[4] and "ETA" not in lines[4]
    assert len(lines) == 5


def test_quiet_lines_are_periodic_not_per_shard(capsys: pytest.CaptureFixture[str]) -> None:
    progress = Progress(total=50, done=0, quiet=True, interval=3600)
    for shard in range(50):
        progress.update(ok(shard))
    progress.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2  # start and finish only: nothing was 'interval' apart
    assert "50/50 shards (100.0%), 500 samples" in lines[1] and "50 failed samples" in lines[1]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_gets_a_live_tqdm_line(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = Progress(total=3, done=1)  # quiet=None: decided by stderr
    progress.update(ok(1))
    progress.close()
    text = terminal.getvalue()
    assert "\r" in text and "2/3" in text
    for field in ("samples/s=", "video-s/s=", "MB/s=", "failed=1"):
        assert field in text
    assert not LINE.search(text)

    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    Progress(total=3, done=1).close()  # not a terminal: plain lines
    assert LINE.match(pipe.getvalue())


def _table(tmp_path: Path, media: Path) -> Path:
    return write_list(tmp_path / "list.csv", [(str(media / "v0.mp4"), "a"), (str(media / "missing.mp4"), "b")])


RUN_ARGS = ("--output_format", "dummy", "--processes_count", "1", "--number_sample_per_shard", "1")


def test_cli_without_a_terminal_logs_plain_lines(media: Path, tmp_path: Path) -> None:
    result = run_cli("run", "--url_list", str(_table(tmp_path, media)), "--output_folder", str(tmp_path / "o"), *RUN_ARGS)
    assert result.code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert "\r" not in result.stderr
    assert lines[0].endswith("0/2 shards already done, 2 to run") and LINE.match(lines[0])
    assert "finished in" in lines[-1] and "2/2 shards (100.0%), 2 samples" in lines[-1] and "1 failed samples" in lines[-1]


def test_cli_quiet_flag_wins_over_a_terminal(media: Path, tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "curation", "run", "--url_list", str(_table(tmp_path, media)),
             "--output_folder", str(tmp_path / "o"), *RUN_ARGS, "--quiet"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower, timeout=120,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    text = b"".join(chunks).decode()
    assert proc.returncode == 0
    lines = [line for line in text.replace("\r\n", "\n").splitlines() if line]
    assert lines and all(LINE.match(line) for line in lines), text
    assert "finished in" in lines[-1]


def test_an_error_before_any_shard_leaves_only_its_own_line(capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A config error raised by an engine after the plan: the user sees one line, not progress noise."""
    quiet = Progress(total=3, done=0, quiet=True)
    with pytest.raises(ValueError):
        try:
            raise ValueError("distribution.distributor_args.partiton: unknown key for slurm")
        finally:
            quiet.close()
    assert capsys.readouterr().err == ""

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    bar = Progress(total=3, done=0)
    with pytest.raises(ValueError):
        try:
            raise ValueError("boom")
        finally:
            bar.close()
    rendered = terminal.getvalue().split("\r")
    assert "0/3" in rendered[1]  # the bar was drawn at start ...
    assert rendered[-2].strip() == "" and rendered[-1] == ""  # ... and erased, no newline left behind
