"""Shared fixtures: tiny generated media, a fault-injecting HTTP server, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.http_server import FaultServer
from tests.support.media import make_video

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six small videos (with audio) shared by the session: v0.mp4 … v5.mp4, plus bad files."""
    root = tmp_path_factory.mktemp("media")
    for i in range(6):
        make_video(root / f"v{i}.mp4", duration=1.0 + 0.2 * i, size="96x64", fps=10)
    (root / "empty.mp4").write_bytes(b"")
    (root / "not_video.mp4").write_bytes(b"<html><body>this is not a video</body></html>" * 20)
    return root


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API on 127.0.0.1 for the whole session (clients cache their endpoint), with one bucket."""
    from tests.support.s3 import BUCKET, s3, s3_server

    with s3_server() as url:
        s3().mkdir(BUCKET)
        yield url


@pytest.fixture(scope="session")
def server(media: Path) -> Iterator[FaultServer]:
    srv = FaultServer(media).start()
    yield srv
    srv.stop()


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None) -> CliResult:
    """Run ``python -m curation`` as a user would (a real subprocess, real exit code)."""
    full_env = dict(os.environ, PYTHONPATH=str(REPO))
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "curation", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=full_env)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli() -> object:
    return run_cli
