"""`curate inspect`: the samples of one shard (tar, folder or parquet) with members, sizes, status.

Members come from the shard itself; status and duration from each sample's json, or from the
shard's ``NNNNN.parquet`` metadata beside it, which also lists samples that wrote no member. Large
members are never read: only json members and parquet metadata columns are.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.errors import UserError
from curation.media_fields import clip_seconds, sample_profile

MAX_JSON_BYTES = 1 << 20
SIDE_EXTS = {"json", "txt"}


@dataclass
class SampleEntry:
    key: str
    members: dict[str, int] = field(default_factory=dict)  # extension -> bytes
    meta: dict[str, Any] = field(default_factory=dict)
    probed_duration: float | None = None

    @property
    def size(self) -> int:
        return sum(self.members.values())

    @property
    def status(self) -> str:
        return str(self.meta.get("status") or "?")

    @property
    def error(self) -> str | None:
        return self.meta.get("error_message")

    @property
    def duration(self) -> float | None:
        """Seconds of this output: its clip span when it is a clip, else what the metadata or a probe says."""
        known = clip_seconds(self.meta.get("clips"))
        if known is None:
            known = sample_profile(self.meta).duration
        return known if known is not None else self.probed_duration

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "members": self.members, "bytes": self.size, "status": self.status,
                "error_message": self.error, "duration": self.duration}


def split_name(name: str) -> tuple[str, str]:
    """webdataset's rule: the key is the path up to the first dot of the file name."""
    directory, _, base = name.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{directory}/{stem}" if directory else stem), ext


class _Entries(dict[str, SampleEntry]):
    def get_entry(self, key: str) -> SampleEntry:
        if key not in self:
            self[key] = SampleEntry(key)
        return self[key]


def _json_meta(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _from_tar(path: Path, entries: _Entries) -> None:
    try:
        with tarfile.open(path, "r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                key, ext = split_name(member.name)
                entry = entries.get_entry(key)
                entry.members[ext] = member.size
                if ext == "json" and member.size <= MAX_JSON_BYTES:
                    handle = tar.extractfile(member)
                    if handle is not None:
                        entry.meta = _json_meta(handle.read())
    except (tarfile.TarError, OSError) as exc:
        raise UserError(f"{path}: not a readable tar ({exc})") from None


def _from_folder(path: Path, entries: _Entries) -> None:
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        key, ext = split_name(file.relative_to(path).as_posix())
        entry = entries.get_entry(key)
        entry.members[ext] = file.stat().st_size
        if ext == "json" and entry.members[ext] <= MAX_JSON_BYTES:
            entry.meta = _json_meta(file.read_bytes())


def _from_parquet(path: Path, entries: _Entries, members: bool) -> None:
    """Rows of a metadata (or parquet-format) shard; binary columns are media, counted not loaded."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise UserError(f"{path}: not a readable parquet file ({exc})") from None
    schema = parquet.schema_arrow
    media = [f.name for f in schema if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]
    meta_columns = [name for name in schema.names if name not in media]
    for index, batch in enumerate(parquet.iter_batches(batch_size=256)):
        rows = batch.select(meta_columns).to_pylist()
        sizes = {name: pc.binary_length(batch.column(name)).to_pylist() for name in media} if members else {}
        for i, row in enumerate(rows):
            key = str(row.get("key") if row.get("key") is not None else f"row{index * 256 + i}")
            entry = entries.get_entry(key)
            if not entry.meta:
                entry.meta = {k: v for k, v in row.items() if v is not None}
            for name, values in sizes.items():
                if values[i] is not None:
                    entry.members[name] = values[i]
            if members and "txt" in row and row["txt"] is not None:
                entry.members["txt"] = len(str(row["txt"]).encode("utf-8"))


def inspect_shard(shard: Path | str) -> list[SampleEntry]:
    """The samples of a ``.tar``, a shard folder or a ``.parquet``, in shard order."""
    path = Path(shard)
    if not path.exists():
        raise UserError(f"{path}: no such shard")
    entries = _Entries()
    if path.is_dir():
        base, primary = path, "folder"
    elif path.suffix == ".tar":
        base, primary = path.with_suffix(""), "tar"
    elif path.suffix == ".parquet":
        base, primary = path.with_suffix(""), "parquet"
    else:
        raise UserError(f"{path}: expected a .tar, a shard folder or a .parquet")
    if primary == "tar":
        _from_tar(path, entries)
    elif primary == "folder":
        _from_folder(path, entries)
    else:
        tar = base.with_suffix(".tar")
        if tar.is_file():
            _from_tar(tar, entries)
        elif base.is_dir():
            _from_folder(base, entries)
    metadata = base.with_suffix(".parquet")
    if metadata.is_file():
        _from_parquet(metadata, entries, members=primary == "parquet")
    return list(entries.values())


def _tar_media(path: Path) -> dict[str, tuple[int, int]]:
    """key → (data offset, size) of each sample's first media member, from tar headers only."""
    found: dict[str, tuple[int, int]] = {}
    try:
        with tarfile.open(path, "r:") as tar:
            for member in tar:
                key, ext = split_name(member.name)
                if member.isfile() and ext not in SIDE_EXTS and key not in found:
                    found[key] = (member.offset_data, member.size)
    except (tarfile.TarError, OSError):
        pass
    return found


def media_targets(base: Path, keys: set[str], scratch: Path) -> dict[str, str]:
    """key → something ffprobe opens, for each key's media in shard ``base`` (no extension).

    Tar members are addressed in place (ffmpeg ``subfile``); parquet media are written to ``scratch``.
    """
    tar, parquet = base.with_suffix(".tar"), base.with_suffix(".parquet")
    if tar.is_file():
        return {k: f"subfile,,start,{off},end,{off + size},,:{tar.resolve()}"
                for k, (off, size) in _tar_media(tar).items() if k in keys}
    if base.is_dir():
        targets: dict[str, str] = {}
        for file in sorted(base.iterdir()):
            key, ext = split_name(file.name)
            if key in keys and ext not in SIDE_EXTS and key not in targets:
                targets[key] = str(file.resolve())
        return targets
    return _parquet_media(parquet, keys, scratch) if parquet.is_file() else {}


def _parquet_media(path: Path, keys: set[str], scratch: Path) -> dict[str, str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid):
        return {}
    media = [f.name for f in parquet.schema_arrow if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]
    if not media or "key" not in parquet.schema_arrow.names:
        return {}
    targets: dict[str, str] = {}
    for batch in parquet.iter_batches(batch_size=16, columns=["key", *media]):
        for row in batch.to_pylist():
            ext = next((m for m in media if row.get(m)), None)
            if row["key"] in keys and ext:
                target = scratch / f"{path.stem}-{len(targets)}.{ext}"
                target.write_bytes(row[ext])
                targets[row["key"]] = str(target)
        if len(targets) >= len(keys):
            break
    return targets


def probe_durations(shard: Path | str, entries: list[SampleEntry], threads: int = 8) -> None:
    """Fill ``duration`` by ffprobe for samples whose metadata does not say (``inspect --probe``)."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from curation.media_fields import ffprobe_profile

    path = Path(shard)
    base = path if path.is_dir() else path.with_suffix("")
    missing = {e.key for e in entries if e.duration is None and e.status == "success"}
    if not missing:
        return
    with tempfile.TemporaryDirectory(prefix="curate-inspect-") as scratch:
        targets = media_targets(base, missing, Path(scratch))
        with ThreadPoolExecutor(threads) as pool:
            probed = dict(zip(targets, pool.map(ffprobe_profile, targets.values()), strict=True))
    for entry in entries:
        if entry.key in probed and probed[entry.key].duration is not None:
            entry.probed_duration = probed[entry.key].duration
