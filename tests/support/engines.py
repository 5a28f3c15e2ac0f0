"""What every engine must reproduce from the same input: shard names, sample keys, statuses and
media bytes (see tests/conftest_engines.py for the fixtures that build the reference)."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

ROWS = 6
PER_SHARD = 2


def base_config(url_list: Path, output: Path, **distribution: Any) -> dict[str, Any]:
    return {
        "url_list": str(url_list),
        "output_folder": str(output),
        "output_format": "webdataset",
        "storage": {"number_sample_per_shard": PER_SHARD},
        "distribution": {"processes_count": 1, "thread_count": 2, **distribution},
        "max_shard_retry": 0,
    }


def break_shard(folder: Path, name: str) -> Path:
    """Make one shard fail for real on every attempt: its final tar path is a symlink to a folder,
    which the writer refuses to replace (rmtree on a symlink raises)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder.parent / f"{folder.name}-not-a-tar"
    target.mkdir(exist_ok=True)
    (folder / f"{name}.tar").symlink_to(target, target_is_directory=True)
    return folder


def output_fingerprint(folder: Path) -> dict[str, Any]:
    """What must not depend on the engine: per shard, every member name with its bytes' hash, plus
    the (key, status) rows of the shard's parquet index and the stats counters."""
    shards: dict[str, Any] = {}
    for tar in sorted(folder.glob("*.tar")):
        with tarfile.open(tar) as archive:
            members = []
            for member in archive.getmembers():
                data = archive.extractfile(member).read()  # type: ignore[union-attr]
                members.append((member.name, hashlib.sha256(data).hexdigest()))
        rows = pq.read_table(folder / f"{tar.stem}.parquet").to_pylist()
        stats = json.loads((folder / f"{tar.stem}_stats.json").read_text())
        shards[tar.stem] = {
            "members": members,
            "rows": [(r["key"], r["status"]) for r in rows],
            "counts": {k: stats[k] for k in ("count", "successes", "outputs_written", "bytes_written")},
        }
    return shards
