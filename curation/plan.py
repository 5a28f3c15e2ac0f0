"""Planning: input table(s) → table subsamplers → stable keys → input shards + a manifest.

Each input source (a table file, a media folder, a dataset layout) gets its own Arrow IPC file
under ``<output>/_plan/`` holding one record batch per shard, so a worker reads exactly its shard
(memory-mapped) and never the whole table. Shard ids are global and never shift: a new input file
appended later gets ids after the existing ones. The manifest is written last; a resumed run reuses
it and refuses to go on when the input or a config value that shapes the plan changed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from curation import tables
from curation.config import Config
from curation.errors import PlanMismatchError, TableError
from curation.fsutil import atomic_write_json, read_json, temp_name
from curation.keys import numeric_key, safe_key
from curation.manifest import (  # noqa: F401  (re-exported: the plan's public names live here too)
    DATASET_FORMATS,
    KEY_COLUMN,
    MANIFEST,
    MANIFEST_VERSION,
    PLAN_DIR,
    Plan,
    load_plan,
)
from subsamplers import build_subsamplers


@dataclass
class InputSource:
    """One input to plan: a name for messages, a fingerprint to detect changes, its batches."""

    name: str
    fingerprint: str
    batches: Any  # () -> Iterator[pa.RecordBatch]
    keyed: bool = False  # rows carry their own "key" column (media folders, dataset layouts)
    keep_all_columns: bool = False


def plan_shape(config: Config) -> dict[str, Any]:
    """The config values that decide which rows land in which shard under which key."""
    table_subsamplers = {
        name: entry for name, entry in config.subsampling.items() if _is_table_subsampler(name)
    }
    return {
        "input_format": config.input_format,
        "url_col": config.url_col,
        "caption_col": config.caption_col,
        "clip_col": config.clip_col,
        "key_col": config.key_col,
        "save_additional_columns": config.save_additional_columns,
        "number_sample_per_shard": config.storage.number_sample_per_shard,
        "oom_shard_count": config.storage.oom_shard_count,
        "media_dir": config.media_dir,
        "seed": config.seed,
        "table_subsamplers": table_subsamplers,
    }


def _is_table_subsampler(name: str) -> bool:
    from subsamplers import subsampler_class
    from subsamplers.base import TableSubsampler

    return issubclass(subsampler_class(name), TableSubsampler)


def fingerprint(path: Path) -> str:
    """Cheap change detection: size + head/tail bytes of a file, or the listing of a folder."""
    digest = hashlib.sha1()
    if path.is_dir():
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                digest.update(f"{os.path.relpath(full, path)}\0{os.path.getsize(full)}\n".encode())
        return "dir:" + digest.hexdigest()
    size = path.stat().st_size
    with open(path, "rb") as handle:
        digest.update(handle.read(1 << 20))
        if size > 1 << 20:
            handle.seek(max(size - (1 << 20), 1 << 20))
            digest.update(handle.read())
    return f"{size}:{digest.hexdigest()}"


def discover_sources(config: Config) -> list[InputSource]:
    if config.url_list is None:
        raise TableError("url_list: required (a table, a folder of tables or media, or a dataset layout)")
    fmt = config.input_format
    if fmt == "webdataset":  # existing shards: one input tar per shard (curation/wds_plan.py)
        from curation.wds_plan import webdataset_sources

        return webdataset_sources(config)
    url_list = config.url_list if isinstance(config.url_list, str) else None
    if isinstance(config.url_list, list):
        paths = [Path(p) for p in config.url_list]
        return [_table_source(p, fmt) for p in paths]
    assert url_list is not None
    if fmt == "files":
        root = Path(url_list).expanduser()
        if not root.is_dir():
            raise TableError(f"url_list: {url_list} is not a directory (input_format files)")
        return [InputSource(str(root), fingerprint(root), lambda: tables.media_file_batches(root), keyed=True)]
    if fmt in DATASET_FORMATS:
        from curation.datasets import load_dataset_table

        path = Path(url_list).expanduser()
        if not path.exists():
            raise TableError(f"url_list: no such file or directory: {url_list}")
        media = Path(config.media_dir) if config.media_dir else None

        def dataset_batches() -> Iterator[pa.RecordBatch]:
            yield from load_dataset_table(fmt, url_list, config.media_dir).to_batches()

        print_name = f"{fmt}:{path}"
        fp = fingerprint(path) + (f"|media:{fingerprint(media)}" if media and media.exists() else "")
        return [InputSource(print_name, fp, dataset_batches, keyed=True, keep_all_columns=True)]
    return [_table_source(p, fmt) for p in tables.list_table_files(url_list, fmt)]


def _table_source(path: Path, fmt: str | None) -> InputSource:
    if not path.is_file():
        raise TableError(f"url_list: no such file: {path}")
    table_format = tables.resolve_format(path, fmt)
    return InputSource(str(path.resolve()), fingerprint(path), lambda: tables.iter_table_batches(path, table_format))


def _needed_columns(config: Config, source: InputSource, schema: pa.Schema) -> list[str]:
    if source.keep_all_columns:
        return [name for name in schema.names if name != KEY_COLUMN]
    wanted = [config.url_col]
    for optional in (config.caption_col, config.clip_col, config.key_col):
        if optional:
            wanted.append(optional)
    wanted += config.save_additional_columns or []
    if source.keyed and "key" in schema.names:
        wanted.append("key")
    missing = [name for name in wanted if name not in schema.names]
    if missing:
        raise TableError(
            f"url_list: column {missing[0]!r} not found in {Path(source.name).name} (columns: {', '.join(schema.names)})"
        )
    return list(dict.fromkeys(wanted))


def _select(batches: Iterable[pa.RecordBatch], config: Config, source: InputSource) -> Iterator[pa.RecordBatch]:
    """Keep the needed columns, with one schema for the whole source."""
    schema: pa.Schema | None = None
    columns: list[str] = []
    for batch in batches:
        if batch.num_rows == 0:
            continue
        if schema is None:
            columns = _needed_columns(config, source, batch.schema)
            schema = batch.select(columns).schema
        try:
            selected = batch.select(columns)
            if selected.schema != schema:
                selected = selected.cast(schema)
        except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise TableError(f"url_list: {Path(source.name).name}: inconsistent columns across rows ({exc})") from None
        yield selected


def _rechunk(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Regroup a stream of batches into tables of exactly ``rows`` rows (the last may be shorter)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - count, batch.num_rows)
            pending.append(batch.slice(0, take))
            count += take
            batch = batch.slice(take)
            if count == rows:
                yield pa.Table.from_batches(pending)
                pending, count = [], 0
    if count:
        yield pa.Table.from_batches(pending)


class _KeyMaker:
    """Numeric video2dataset keys, or sanitized keys from a column, unique within the plan."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.seen: set[str] = set()

    def keys(self, chunk: pa.Table, shard_id: int, key_column: str | None) -> pa.Array:
        storage = self.config.storage
        if key_column is None:
            return pa.array(
                [numeric_key(shard_id, i, storage.oom_shard_count, storage.number_sample_per_shard) for i in range(chunk.num_rows)],
                pa.string(),
            )
        out = []
        for value in chunk.column(key_column).to_pylist():
            key = safe_key(str(value))
            candidate, n = key, 1
            while candidate in self.seen:
                candidate, n = f"{key}_{n}", n + 1
            self.seen.add(candidate)
            out.append(candidate)
        return pa.array(out, pa.string())


# zstd batches: a 10M-row url table plans to a few hundred MB instead of ~830 MB, and a worker
# decompresses only its own shard's batch
IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")


def _write_shards(
    chunks: Iterable[pa.Table], ipc_path: Path, first_shard: int, source_index: int,
    key_maker: _KeyMaker, key_column: str | None,
) -> list[list[int]]:
    """Write one IPC file (one batch per shard); return manifest entries [id, source, batch, rows]."""
    entries: list[list[int]] = []
    tmp = temp_name(ipc_path)
    writer: pa.ipc.RecordBatchFileWriter | None = None
    try:
        for index, chunk in enumerate(chunks):
            shard_id = first_shard + index
            chunk = chunk.append_column(KEY_COLUMN, key_maker.keys(chunk, shard_id, key_column))
            batch = chunk.combine_chunks().to_batches(max_chunksize=chunk.num_rows)[0]
            if writer is None:
                writer = pa.ipc.new_file(str(tmp), batch.schema, options=IPC_OPTIONS)
            writer.write_batch(batch)
            entries.append([shard_id, source_index, index, chunk.num_rows])
    finally:
        if writer is not None:
            writer.close()
    if entries:
        os.replace(tmp, ipc_path)
    return entries


def _key_column(config: Config, source: InputSource) -> str | None:
    if config.key_col:
        return config.key_col
    return "key" if source.keyed else None


def make_plan(config: Config) -> Plan:
    """Reuse the recorded plan (appending new input files), or write a new one."""
    folder = Path(config.output_folder)
    plan_dir = folder / PLAN_DIR
    manifest_path = plan_dir / MANIFEST
    shape = plan_shape(config)
    sources = discover_sources(config)
    manifest: dict[str, Any]
    if manifest_path.exists():
        manifest = read_json(manifest_path)
        _check_unchanged(manifest, shape, sources)
        recorded = {s["name"] for s in manifest["sources"]}
        new_sources = [s for s in sources if s.name not in recorded]
        if not new_sources:
            return Plan(folder, manifest)
        if shape["table_subsamplers"]:
            raise PlanMismatchError(
                f"plan: new input {new_sources[0].name} cannot be added to a class-subset plan; use a new output folder"
            )
    else:
        manifest = {"version": MANIFEST_VERSION, "shape": shape, "sources": [], "shards": []}
        new_sources = sources
    plan_dir.mkdir(parents=True, exist_ok=True)
    table_subsamplers, _ = build_subsamplers(shape["table_subsamplers"])
    chunk_rows = config.storage.number_sample_per_shard
    key_maker = _KeyMaker(config)
    next_shard = max((e[0] for e in manifest["shards"]), default=-1) + 1
    if config.input_format == "webdataset":  # each input tar is one shard, same name (curation/wds_plan.py)
        from curation.wds_plan import add_webdataset_shards

        add_webdataset_shards(manifest, new_sources, table_subsamplers, folder)
        atomic_write_json(manifest_path, manifest)
        return Plan(folder, manifest)
    if table_subsamplers:
        table = _subset_table(new_sources, config, table_subsamplers, folder)
        groups = [(new_sources[0], _rechunk(table.to_batches(), chunk_rows))]
    else:
        groups = [(s, _rechunk(_select(s.batches(), config, s), chunk_rows)) for s in new_sources]
    for source, chunks in groups:
        source_index = len(manifest["sources"])
        ipc_name = f"{PLAN_DIR}/source-{source_index:05d}.arrow"
        entries = _write_shards(chunks, folder / ipc_name, next_shard, source_index, key_maker, _key_column(config, source))
        if not entries:
            raise TableError(f"url_list: {Path(source.name).name} has no rows")
        manifest["sources"].append({
            "name": source.name, "fingerprint": source.fingerprint, "ipc": ipc_name,
            "first_shard": entries[0][0], "shard_count": len(entries),
        })
        manifest["shards"].extend(entries)
        next_shard = entries[-1][0] + 1
    atomic_write_json(manifest_path, manifest)
    return Plan(folder, manifest)


def _subset_table(sources: list[InputSource], config: Config, table_subsamplers: list[Any], folder: Path) -> pa.Table:
    """Table subsamplers need the global view: gather the needed columns of every source."""
    parts = [pa.Table.from_batches(list(_select(s.batches(), config, s))) for s in sources]
    parts = [p for p in parts if p.num_rows]
    if not parts:
        raise TableError("url_list: the input has no rows")
    table = pa.concat_tables(parts, promote_options="permissive")
    for subsampler in table_subsamplers:
        table = subsampler.apply(table, folder)
    if table.num_rows == 0:
        raise TableError("plan: no rows left after the table subsamplers")
    return table


def _check_unchanged(manifest: dict[str, Any], shape: dict[str, Any], sources: list[InputSource]) -> None:
    recorded_shape = manifest.get("shape", {})
    for key in sorted(set(shape) | set(recorded_shape)):
        if recorded_shape.get(key) != shape.get(key):
            raise PlanMismatchError(
                f"plan: {key} changed since this output folder was planned "
                f"({recorded_shape.get(key)!r} → {shape.get(key)!r}); use --incremental_mode overwrite or a new output folder"
            )
    current = {s.name: s.fingerprint for s in sources}
    for recorded in manifest["sources"]:
        now = current.get(recorded["name"])
        if now is None:
            raise PlanMismatchError(f"plan: input {recorded['name']} is missing since this output folder was planned")
        if now != recorded["fingerprint"]:
            raise PlanMismatchError(
                f"plan: input {recorded['name']} changed since this output folder was planned; "
                "use --incremental_mode overwrite or a new output folder"
            )
