"""Build input tars for reprocessing tests: video2dataset 1.3.0's layout and hostile ones.

Members are added with raw ``TarInfo`` names so tests can write what a broken or malicious tool
would (absolute names, ``..``, links, split or duplicated samples); nothing here extracts.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

Member = tuple[str, bytes] | tarfile.TarInfo


def write_tar(path: Path, members: list[Member]) -> Path:
    """A tar holding ``(name, data)`` members (or prepared TarInfo entries, e.g. links), in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
                continue
            name, data = member
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime, info.uname = len(data), 0o444, 1_700_000_000, "bigdata"
            tar.addfile(info, io.BytesIO(data))
    return path


def symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


def ffprobe_json(path: Path) -> dict[str, Any]:
    """What video2dataset's FFProbeSubsampler stores as ``video_metadata``."""
    out = subprocess.run(["ffprobe", "-v", "quiet", "-print_format", "json", "-show_format", "-show_streams", str(path)],
                         check=True, capture_output=True, timeout=60).stdout
    return json.loads(out)


def v2d_shard(folder: Path, shard: int, samples: list[dict[str, Any]]) -> Path:
    """``NNNNN.tar`` + ``NNNNN.parquet`` + ``NNNNN_stats.json`` as video2dataset 1.3.0 writes them.

    Each sample: ``key`` (8 digits), ``url``, ``caption``, ``label``, and either ``video`` (a path;
    written as ``<key>.mp4`` + ``.txt`` + ``.json`` with video_metadata and clips) or ``error``
    (json only, status failed_to_download), like its download worker.
    """
    members: list[Member] = []
    rows = []
    for sample in samples:
        key = sample["key"]
        ok = "video" in sample
        meta: dict[str, Any] = {
            "url": sample["url"], "caption": sample["caption"], "label": sample["label"], "key": key,
            "status": "success" if ok else "failed_to_download",
            "error_message": None if ok else sample["error"],
        }
        if ok:
            meta["video_metadata"] = ffprobe_json(Path(sample["video"]))
            meta["clips"] = sample.get("clips", [[0.0, 0.5]])
            members.append((f"{key}.json", json.dumps(meta, indent=4).encode()))
            members.append((f"{key}.mp4", Path(sample["video"]).read_bytes()))
            members.append((f"{key}.txt", sample["caption"].encode()))
        else:
            members.append((f"{key}.json", json.dumps(meta, indent=4).encode()))
        rows.append({k: meta[k] for k in ("url", "key", "caption", "label", "status", "error_message")})
    name = f"{shard:05d}"
    tar = write_tar(folder / f"{name}.tar", members)
    pq.write_table(pa.Table.from_pylist(rows), folder / f"{name}.parquet")
    ok_count = sum("video" in s for s in samples)
    stats = {
        "count": len(samples), "successes": ok_count, "failed_to_download": len(samples) - ok_count,
        "failed_to_subsample": 0, "duration": 1.0, "bytes_downloaded": 0, "start_time": 0.0, "end_time": 1.0,
        "status_dict": {"success": ok_count, **{s["error"]: 1 for s in samples if "error" in s}},
    }
    (folder / f"{name}_stats.json").write_text(json.dumps(stats, indent=4))
    return tar


def tree(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (except under ``skip``) → (size, mtime_ns): a before/after snapshot."""
    out: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if skip is not None and Path(dirpath) == skip.parent:
            dirnames[:] = [d for d in dirnames if d != skip.name]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = os.path.join(dirpath, name)
            if skip is not None and Path(full) == skip:
                continue
            st = os.lstat(full)
            out[os.path.relpath(full, root)] = (st.st_size, st.st_mtime_ns)
    return out
