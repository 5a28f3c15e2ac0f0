"""Small filesystem helpers: atomic writes, so nothing half-written ever looks finished; URLs vs local paths."""

from __future__ import annotations

import json
import os
import re
import socket
import zlib
from pathlib import Path
from typing import Any

_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")

# Slurm ids that tell apart tasks on a shared filesystem (same pid on two nodes is common)
_SLURM_IDS = ("SLURM_JOB_ID", "SLURM_STEP_ID", "SLURM_PROCID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID")


def process_token(host: str | None = None, pid: int | None = None) -> str:
    """Digits naming this process among every machine writing into a shared output folder: the pid,
    then a 10-digit checksum of the host name and the Slurm job/step/task ids. Digits only, so the
    ``.tmp-<digits>`` patterns that find a killed run's temp files still match."""
    pid = os.getpid() if pid is None else pid
    where = ":".join([host if host is not None else socket.gethostname(), *(os.environ.get(n, "") for n in _SLURM_IDS)])
    return f"{pid}{zlib.crc32(where.encode()):010d}"


def temp_name(path: Path) -> Path:
    """Where a file is written before it is renamed into place (never mistaken for the final file),
    unique per process and host: two tasks on different nodes never share a temp file."""
    return path.with_name(f".{path.name}.tmp-{process_token()}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp name and rename; a failed write (disk full) leaves neither file behind."""
    tmp = temp_name(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def json_file_bytes(data: Any) -> bytes:
    """How every json file of ours is written (stats, manifest, markers), locally or remotely."""
    return (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, json_file_bytes(data))


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def url_scheme(text: str) -> str | None:
    """``s3`` for ``s3://bucket/x``, ``file`` for ``file:///x``; None for a plain path."""
    match = _URL_SCHEME.match(text)
    return match.group(1).lower() if match else None


def url_to_fs(url: str) -> tuple[Any, str]:
    """fsspec's filesystem and path for a URL (fsspec imported only when a URL needs it)."""
    import fsspec

    return fsspec.core.url_to_fs(url)
