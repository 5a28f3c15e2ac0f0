"""Read back what an offline wandb run logged, from its ``run-<id>.wandb`` file.

Offline runs write no summary json: the only record of what was logged is this LevelDB-log framed
stream of ``wandb_internal_pb2.Record`` messages (format pinned by wandb==0.31.0).
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BLOCK = 32768
HEADER = 7  # ":W&B" + magic (2 bytes) + version (1 byte) at the start of the file
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def iter_payloads(data: bytes) -> list[bytes]:
    """Reassemble LevelDB-log records (7-byte chunk headers; chunks never cross a 32 KiB block)."""
    if data[:4] != b":W&B":
        raise ValueError("not a wandb datastore file")
    out: list[bytes] = []
    pos, pending = HEADER, b""
    while pos + 7 <= len(data):
        room = BLOCK - pos % BLOCK
        if room < 7:
            pos += room
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0 and length == 0:
            pos += room  # zero padding to the block end
            continue
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == FULL:
            out.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            out.append(pending + chunk)
            pending = b""
    return out


@dataclass
class OfflineRun:
    """The parts of a run the tests assert on."""

    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    project: str | None = None


def _value(item: Any) -> Any:
    key = item.key or "/".join(item.nested_key)
    return key, json.loads(item.value_json)


def read_run(path: Path) -> OfflineRun:
    from wandb.proto import wandb_internal_pb2

    run = OfflineRun()
    for payload in iter_payloads(path.read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.project = record.run.project
            for item in record.run.config.update:
                key, value = _value(item)
                run.config[key] = value
        elif kind == "config":
            for item in record.config.update:
                key, value = _value(item)
                run.config[key] = value
        elif kind == "history":
            run.history.append(dict(_value(item) for item in record.history.item))
        elif kind == "summary":
            for item in record.summary.update:
                key, value = _value(item)
                run.summary[key] = value
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    return run


def find_run_file(wandb_dir: Path) -> Path:
    files = sorted(wandb_dir.rglob("offline-run-*/run-*.wandb"))
    if len(files) != 1:
        raise AssertionError(f"expected one offline run under {wandb_dir}, found {[str(f) for f in files]}")
    return files[0]


def wait_for_exit(path: Path, timeout: float = 30.0) -> OfflineRun:
    """``run.finish()`` can return before the file is flushed: wait for the exit record."""
    deadline = time.monotonic() + timeout
    while True:
        run = read_run(path)
        if run.exit_code is not None or time.monotonic() > deadline:
            return run
        time.sleep(0.2)
