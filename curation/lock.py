"""One run per output folder: a lock file naming its holder (pid, host); a dead holder's lock is taken over."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from curation.errors import UserError

LOCK_NAME = ".curate.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def acquire(folder: Path) -> Path:
    """Create the lock atomically (O_EXCL); raise a one-line UserError if a live run holds it."""
    path = folder / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder is None:  # half-written by a process killed mid-write, or unreadable
                if time.time() - path.stat().st_mtime < 5:
                    time.sleep(0.5)
                    continue
            elif holder.get("host") != me["host"]:
                raise UserError(
                    f"output_folder {folder} is in use by pid {holder.get('pid')} on host {holder.get('host')}; "
                    f"if that run is dead, delete {path}"
                ) from None
            elif _alive(int(holder.get("pid", -1))):
                raise UserError(f"output_folder {folder} is in use by a running curate (pid {holder['pid']} on {holder['host']})") from None
            path.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump(me, handle)
        return path
    raise UserError(f"output_folder {folder}: could not take the lock {path}")


def release(path: Path) -> None:
    holder = _holder(path)
    if holder and holder.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    path = acquire(folder)
    try:
        yield
    finally:
        release(path)
