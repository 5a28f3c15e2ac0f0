"""Log every launch of a tool (ffmpeg, ffprobe): a wrapper first on PATH records its argv and execs the real one."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest


def log_launches(tool: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """From now on, each launch of ``tool`` appends its arguments as one line to the returned log."""
    real = shutil.which(tool)
    assert real, f"{tool} is not installed"
    bindir = folder / "bin"
    bindir.mkdir(exist_ok=True)
    log = folder / f"{tool}.log"
    log.touch()
    wrapper = bindir / tool
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    if str(bindir) not in os.environ["PATH"].split(os.pathsep):
        monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


def launches(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.strip()]
