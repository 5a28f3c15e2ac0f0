"""Planning existing webdataset shards: each input tar becomes one input shard with the same name.

Only metadata is read here (tar headers, ``.json`` and ``.txt`` members, the sidecar parquet),
never the media, so choosing a class subset over 10 TB of shards reads megabytes. Each sample
becomes one Arrow row: its key, where its members sit in the tar, its json (whole, as text, plus
its scalar fields as columns so table subsamplers such as ClassSubsetSubsampler can pick by label),
its caption, its ``clips`` (as JSON text, for ``--clip_col clips``) and what is wrong with it.
Problems never stop the plan: a broken sample is a row with an error, a broken tar a shard with
its problems recorded in the manifest, both reported by the worker.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.config import Config
from curation.errors import TableError
from curation.fsutil import temp_name
from curation.keys import safe_key
from curation.plan import IPC_OPTIONS, KEY_COLUMN, PLAN_DIR, InputSource
from curation.wds_columns import (
    COL_CAPTION,
    COL_ERROR,
    COL_INDEX,
    COL_JSON,
    COL_MEMBERS,
    COL_SOURCE,
    COL_SOURCE_KEY,
    COL_TAR,
    COL_WARNINGS,
)
from curation.wds_input import (
    HEADER_READ,
    Member,
    expand_shards,
    index_tar,
    input_exists,
    input_fingerprint,
    is_url,
    open_input,
    read_member,
)

SMALL_MEMBER_LIMIT = 16 << 20
LOAD_THREADS = 8
_KEEPABLE_KEY = re.compile(r"[^/\\\x00-\x1f]+")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


@dataclass
class WdsSource(InputSource):
    """One input tar; ``shard_name`` is the output shard's name (the tar's name without ``.tar``)."""

    shard_name: str = ""
    table: Callable[[], tuple[pa.Table, list[str]]] = field(default=lambda: (pa.table({}), []), repr=False)


def shard_name_for(url: str) -> str:
    base = url.rstrip("/").rsplit("/", 1)[-1]
    stem = base[: -len(".tar")] if base.endswith(".tar") else base
    return stem if _SAFE_NAME.fullmatch(stem) else safe_key(stem)


def webdataset_sources(config: Config) -> list[InputSource]:
    """``input_format: webdataset``: one source per tar, named like the output shard it becomes."""
    assert config.url_list is not None
    urls = expand_shards(config.url_list)
    _refuse_inside_output(urls, Path(config.output_folder))
    media_exts = set(config.source_formats.values())
    text_fields = {"clips", config.clip_col} - {None}
    seen: dict[str, str] = {}
    sources: list[InputSource] = []
    for url in urls:
        name = shard_name_for(url)
        if name in seen:
            raise TableError(f"url_list: two input shards would both become {name}.tar ({seen[name]}, {url})")
        seen[name] = url

        def load(url: str = url) -> tuple[pa.Table, list[str]]:
            return shard_table(url, media_exts, text_fields)

        sources.append(WdsSource(url, input_fingerprint(url), lambda load=load: iter(load()[0].to_batches()),
                                 keyed=True, shard_name=name, table=load))
    return sources


def refuse_inputs_in_output(config: Config) -> None:
    """Checked before ``overwrite`` clears the output folder: the input shards must not be in it."""
    assert config.url_list is not None
    inputs = expand_shards(config.url_list)
    _refuse_inside_output(inputs, Path(config.output_folder))
    if config.publish_to:
        from curation.remote_output import refuse_inside

        refuse_inside(inputs, config.publish_to)


def _refuse_inside_output(urls: list[str], output: Path) -> None:
    """Shards inside the output folder would be overwritten (or skipped as done, or cleared)."""
    out = output.expanduser().resolve()
    for url in urls:
        local = url[len("file://"):] if url.startswith("file://") else None if is_url(url) else url
        if local is not None and out in Path(local).expanduser().resolve().parents:
            raise TableError(f"url_list: input shard {url} is inside output_folder {output}; write to a new folder")


# -- one tar → one table -----------------------------------------------------------------------

@dataclass
class _Sample:
    raw_key: str
    index: int
    members: dict[str, Member] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _group(members: list[Member], problems: list[str]) -> list[_Sample]:
    """Members → samples by key; split samples are joined (with a warning), duplicates are errors."""
    samples: dict[str, _Sample] = {}
    previous: str | None = None
    for member in members:
        if not member.key:
            problems.append(f"member {member.name!r} has no key; skipped")
            continue
        sample = samples.get(member.key)
        if sample is None:
            sample = samples[member.key] = _Sample(member.key, len(samples))
        elif previous != member.key and not any(w.startswith("members not contiguous") for w in sample.warnings):
            sample.warnings.append("members not contiguous in the input tar (sample split apart; joined)")
        previous = member.key
        if member.problem:
            sample.errors.append(f"{member.problem}: {member.name!r}")
        elif member.ext in sample.members:
            sample.errors.append(f"duplicate key: member {member.name!r} appears more than once in the input tar")
        else:
            sample.members[member.ext] = member
    return list(samples.values())


def read_sidecar(url: str, problems: list[str]) -> dict[str, dict[str, Any]]:
    """``NNNNN.parquet`` beside ``NNNNN.tar`` (video2dataset and curate write one): key → row."""
    if not url.endswith(".tar"):
        return {}
    side = url[: -len(".tar")] + ".parquet"
    if not input_exists(side):
        return {}
    import pyarrow.parquet as pq

    try:
        with open_input(side) as handle:
            table = pq.ParquetFile(handle).read()  # read_table would import pyarrow.dataset: +0.3 s a run
    except (pa.ArrowException, OSError, ValueError) as exc:
        problems.append(f"unreadable sidecar parquet: {exc}")
        return {}
    if "key" not in table.column_names:
        problems.append("sidecar parquet has no 'key' column; ignored")
        return {}
    keep = [f.name for f in table.schema if not (pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type))]
    return {str(row["key"]): row for row in table.select(keep).to_pylist() if row.get("key") is not None}


def _metadata(handle: Any, sample: _Sample, sidecar: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    meta: dict[str, Any] | None = None
    member = sample.members.get("json")
    if member is None:
        sample.warnings.append("no json member in the input sample")
    else:
        try:
            loaded = json.loads(read_member(handle, member, SMALL_MEMBER_LIMIT))
            if isinstance(loaded, dict):
                meta = loaded
            else:
                sample.warnings.append("json member is not an object; ignored")
        except (ValueError, OSError) as exc:
            sample.warnings.append(f"unreadable json member: {str(exc)[:200]}")
    side = sidecar.get(sample.raw_key)
    if side is not None:
        meta = dict(side) if meta is None else {**{k: v for k, v in side.items() if k not in meta}, **meta}
    return meta


def _caption(handle: Any, sample: _Sample) -> str | None:
    """The ``.txt`` member as text; one that is not UTF-8 stays a member and is copied as bytes."""
    member = sample.members.get("txt")
    if member is None:
        return None
    try:
        text = read_member(handle, member, SMALL_MEMBER_LIMIT).decode("utf-8")
    except (ValueError, OSError):
        return None
    del sample.members["txt"]
    return text


def _output_key(raw_key: str, seen: set[str]) -> str:
    key = raw_key if _KEEPABLE_KEY.fullmatch(raw_key) else safe_key(raw_key)
    candidate, n = key, 1
    while candidate in seen:
        candidate, n = f"{key}_{n}", n + 1
    seen.add(candidate)
    return candidate


def _column(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return pa.array([None if v is None else v if isinstance(v, str) else json.dumps(v, default=str) for v in values], pa.string())


def _field_columns(metas: list[dict[str, Any] | None], text_fields: set[str] | frozenset[str]) -> dict[str, pa.Array]:
    """Scalar json fields as columns (for table subsamplers); ``clips`` (and the clip_col) as JSON text."""
    names: dict[str, None] = {}
    for meta in metas:
        for name, value in (meta or {}).items():
            if name in ("key", "url") or name.startswith("__"):
                continue
            if name in text_fields or value is None or isinstance(value, (str, int, float, bool)):
                names[name] = None
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = [(meta or {}).get(name) for meta in metas]
        if name in text_fields:
            columns[name] = pa.array([None if v is None else json.dumps(v) for v in values], pa.string())
            continue
        values = [v if v is None or isinstance(v, (str, int, float, bool)) else json.dumps(v, default=str) for v in values]
        columns[name] = _column(values)
    return columns


def shard_table(url: str, media_exts: set[str], text_fields: set[str] | frozenset[str] = frozenset({"clips"})) -> tuple[pa.Table, list[str]]:
    """One Arrow row per sample of one tar, plus the tar's own problems (truncated, unreadable).

    ``url`` is the tar for samples that have a media member (one of ``media_exts``) and nothing
    wrong, else empty: a class subset then never picks a sample that cannot be processed.
    """
    index = index_tar(url)
    problems = list(index.problems)
    samples = _group(index.members, problems)
    sidecar = read_sidecar(url, problems)
    metas: list[dict[str, Any] | None] = []
    captions: list[str | None] = []
    with open_input(url, block_size=HEADER_READ) as handle:
        for sample in samples:
            metas.append(_metadata(handle, sample, sidecar))
            captions.append(_caption(handle, sample))
    seen: set[str] = set()
    columns: dict[str, pa.Array] = {
        "key": pa.array([_output_key(s.raw_key, seen) for s in samples], pa.string()),
        "url": pa.array(["" if s.errors or not media_exts & set(s.members) else url for s in samples], pa.string()),
        COL_TAR: pa.array([url] * len(samples), pa.string()),
        COL_SOURCE_KEY: pa.array([s.raw_key for s in samples], pa.string()),
        COL_INDEX: pa.array([s.index for s in samples], pa.int64()),
        COL_MEMBERS: pa.array([json.dumps({e: [m.offset, m.size] for e, m in s.members.items()}) for s in samples], pa.string()),
        COL_JSON: pa.array([None if m is None else json.dumps(m, default=str) for m in metas], pa.string()),
        COL_CAPTION: pa.array(captions, pa.string()),
        COL_ERROR: pa.array(["; ".join(dict.fromkeys(s.errors)) or None for s in samples], pa.string()),
        COL_WARNINGS: pa.array([json.dumps(s.warnings) if s.warnings else None for s in samples], pa.string()),
    }
    for name, array in _field_columns(metas, text_fields).items():
        columns.setdefault(name, array)
    return pa.table(columns), problems


# -- the manifest ---------------------------------------------------------------------------------

def _unify(parts: list[pa.Table]) -> pa.Table:
    """Concatenate per-tar tables; a field typed differently in two tars becomes text."""
    types: dict[str, set[pa.DataType]] = {}
    for part in parts:
        for f in part.schema:
            if not pa.types.is_null(f.type):
                types.setdefault(f.name, set()).add(f.type)
    mixed = {name for name, seen in types.items() if len(seen) > 1}
    fixed = []
    for part in parts:
        for name in mixed & set(part.column_names):
            i = part.column_names.index(name)
            try:
                part = part.set_column(i, name, pc.cast(part[name], pa.string()))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                part = part.set_column(i, name, _column([json.dumps(v, default=str) for v in part[name].to_pylist()]))
        fixed.append(part)
    return pa.concat_tables(fixed, promote_options="permissive")


def _next_id(name: str, used: set[int]) -> int:
    """The number in the name when it is one and free, else the next free id (names are recorded)."""
    if name.isdigit() and int(name) not in used:
        return int(name)
    return max(used, default=-1) + 1


def _write_ipc(table: pa.Table, path: Path) -> None:
    tmp = temp_name(path)
    table = table.append_column(KEY_COLUMN, table["key"]).combine_chunks()
    batches = table.to_batches() or [pa.RecordBatch.from_arrays([pa.array([], f.type) for f in table.schema], schema=table.schema)]
    with pa.ipc.new_file(str(tmp), table.schema, options=IPC_OPTIONS) as writer:
        writer.write_batch(batches[0] if len(batches) == 1 else pa.Table.from_batches(batches).combine_chunks().to_batches()[0])
    os.replace(tmp, path)


def _tables(sources: list[WdsSource], table_subsamplers: list[Any], folder: Path) -> Iterator[tuple[WdsSource, pa.Table | None, list[str]]]:
    """Each source's rows: as read, or what the table subsamplers kept of it (None = nothing)."""
    if not table_subsamplers:
        for start in range(0, len(sources), LOAD_THREADS):  # a few tars at a time: remote reads overlap
            batch = sources[start : start + LOAD_THREADS]
            with ThreadPoolExecutor(LOAD_THREADS) as pool:
                for source, (table, problems) in zip(batch, pool.map(lambda s: s.table(), batch), strict=True):
                    yield source, table, problems
        return
    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        loaded = list(pool.map(lambda s: s.table(), sources))
    parts = [t.append_column(COL_SOURCE, pa.array([i] * t.num_rows, pa.int64())) for i, (t, _) in enumerate(loaded)]
    table = _unify([p for p in parts if p.num_rows])
    if table.num_rows == 0:
        raise TableError("url_list: the input shards hold no samples")
    for subsampler in table_subsamplers:
        table = subsampler.apply(table, folder)
    if table.num_rows == 0:
        raise TableError("plan: no rows left after the table subsamplers")
    table = table.take(pc.sort_indices(table, [(COL_SOURCE, "ascending"), (COL_INDEX, "ascending")]))
    counts = np.bincount(table[COL_SOURCE].to_numpy(), minlength=len(sources))  # one pass, not one filter per tar
    table = table.drop_columns([COL_SOURCE])
    start = 0
    for i, source in enumerate(sources):
        kept = table.slice(start, int(counts[i]))
        start += int(counts[i])
        yield source, (kept if kept.num_rows else None), loaded[i][1]


def add_webdataset_shards(manifest: dict[str, Any], sources: list[InputSource], table_subsamplers: list[Any], folder: Path) -> None:
    """Append one shard per input tar to ``manifest`` (ids + a ``names`` map id → shard name)."""
    wds_sources = [s for s in sources if isinstance(s, WdsSource)]
    names: dict[str, str] = manifest.setdefault("names", {})
    taken = set(names.values())
    for source in wds_sources:
        if source.shard_name in taken:
            raise TableError(f"url_list: {source.name} would overwrite output shard {source.shard_name}, already planned from another input")
    used = {entry[0] for entry in manifest["shards"]}
    for source, table, problems in _tables(wds_sources, table_subsamplers, folder):
        source_index = len(manifest["sources"])
        entry: dict[str, Any] = {"name": source.name, "fingerprint": source.fingerprint, "ipc": None,
                                 "first_shard": None, "shard_count": 0, "shard_name": source.shard_name,
                                 "problems": problems}
        if table is not None:
            shard_id = _next_id(source.shard_name, used)
            used.add(shard_id)
            ipc_name = f"{PLAN_DIR}/source-{source_index:05d}.arrow"
            _write_ipc(table, folder / ipc_name)
            entry.update(ipc=ipc_name, first_shard=shard_id, shard_count=1)
            manifest["shards"].append([shard_id, source_index, 0, table.num_rows])
            names[str(shard_id)] = source.shard_name
        manifest["sources"].append(entry)


def named_outputs(folder: Path) -> set[str]:
    """Output entries of shards planned under tar names (``train-a.tar`` ...), for overwrite mode.

    Numbered names are matched by pattern elsewhere; names taken from input tars need not be numbers.
    """
    manifest = folder / PLAN_DIR / "manifest.json"
    if not manifest.is_file():
        return set()
    try:
        names = json.loads(manifest.read_text(encoding="utf-8")).get("names") or {}
    except (OSError, ValueError, AttributeError):
        return set()
    return {entry for name in names.values() for entry in (name, f"{name}.tar", f"{name}.parquet", f"{name}_stats.json")}
