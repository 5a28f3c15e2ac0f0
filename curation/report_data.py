"""The numbers behind ``report.html``: stats totals, per-sample media profiles, labels, errors.

"In" profiles are the sources as ``video_metadata`` (FFProbeSubsampler) recorded them; without it,
local source files of a bounded sample are probed. "Out" profiles come from ffprobe on a bounded,
evenly spread sample of the written outputs (tar members are probed in place through ffmpeg's
``subfile`` protocol, never extracted). A 10M-sample run stays cheap: labels and errors are counted
in Arrow over every row; only a capped number of rows is turned into Python objects.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.media_fields import MediaProfile, ffprobe_profile, sample_profile
from curation.run_state import RunState, overview
from curation.shard_inspect import media_targets

MAX_PROFILE_ROWS = 50_000  # per-sample rows parsed in Python, over all shards
LABEL_CANDIDATES = ("label", "class", "category", "class_name", "label_name")
IN_FIELDS = ("video_metadata", "source_metadata")


@dataclass
class ErrorRow:
    kind: str  # failed_to_download | failed_to_subsample | "?" when no metadata names it
    message: str
    count: int


@dataclass
class ReportData:
    state: RunState
    overview: dict[str, Any]
    label_col: str | None = None
    labels: Counter[str] = field(default_factory=Counter)
    profiles_in: list[MediaProfile] = field(default_factory=list)
    profiles_out: list[MediaProfile] = field(default_factory=list)
    in_source: str = ""
    out_source: str = ""
    errors: list[ErrorRow] = field(default_factory=list)


@dataclass
class _Row:
    shard: str
    key: str
    url: Any


@dataclass
class _ShardMeta:
    """What the report takes from one metadata parquet."""

    labels: Counter[str] = field(default_factory=Counter)
    kinds: dict[str, str] = field(default_factory=dict)  # error message[:200] → status
    successes: list[_Row] = field(default_factory=list)  # the first ``cap`` successful samples
    profiles_in: list[MediaProfile] = field(default_factory=list)


PROFILE_COLUMNS = ("status", "key", "original_key", "duration", "width", "height", "fps", *IN_FIELDS)


def read_shard_meta(path: Path, shard: str, label_col: str | None, cap: int) -> _ShardMeta:
    """Labels and errors over every row (in Arrow); profiles and sample rows for the first ``cap`` successes."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out = _ShardMeta()
    try:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
        if "status" not in names:
            return out
        light = [c for c in dict.fromkeys(("status", "key", "url", "error_message", label_col)) if c and c in names]
        table = parquet.read(columns=light)
    except (OSError, pa.ArrowInvalid):
        return out
    ok = pc.fill_null(pc.equal(table["status"], "success"), False)
    good = table.filter(ok)
    if label_col in names:
        try:
            values = pc.cast(good[label_col], pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = pa.array([None if v is None else str(v) for v in good[label_col].to_pylist()], pa.string())
        for item in pc.value_counts(values).to_pylist():
            if item["values"] is not None:
                out.labels[item["values"]] += item["counts"]
    if "error_message" in names:
        bad = table.filter(pc.invert(ok)).select(["error_message", "status"]).drop_null()
        for row in bad.group_by(["error_message", "status"]).aggregate([]).to_pylist():
            out.kinds.setdefault(str(row["error_message"])[:200], str(row["status"]))
    for row in good.slice(0, cap).select([c for c in ("key", "url") if c in names]).to_pylist():
        out.successes.append(_Row(shard, str(row.get("key")), row.get("url")))
    out.profiles_in = _profiles(parquet, [c for c in PROFILE_COLUMNS if c in names], cap)
    return out


def _profiles(parquet: Any, columns: list[str], cap: int) -> list[MediaProfile]:
    """Source profiles of the first ``cap`` successful rows; clips of one source count once."""
    if not any(c in columns for c in (*IN_FIELDS, "duration", "width", "height", "fps")):
        return []
    profiles: list[MediaProfile] = []
    seen: set[str] = set()
    taken = 0
    for batch in parquet.iter_batches(batch_size=max(16, min(512, cap)), columns=columns):
        for meta in batch.to_pylist():
            if meta.get("status") != "success":
                continue
            taken += 1
            source = str(meta.get("original_key") or meta.get("key"))
            if source not in seen:
                seen.add(source)
                profile = sample_profile(meta, IN_FIELDS)
                if not profile.empty:
                    profiles.append(profile)
            if taken >= cap:
                return profiles
    return profiles


def detect_label_col(state: RunState) -> str | None:
    """``classes.json``'s label column when a class subset ran, else a usual name present in the metadata."""
    classes = state.folder / "classes.json"
    if classes.is_file():
        try:
            col = json.loads(classes.read_text(encoding="utf-8")).get("label_col")
            if isinstance(col, str):
                return col
        except (OSError, ValueError, AttributeError):
            pass
    import pyarrow.parquet as pq

    for shard in state.done:
        path = state.folder / f"{shard}.parquet"
        if path.is_file():
            try:
                names = pq.ParquetFile(path).schema_arrow.names
            except OSError:
                continue
            return next((c for c in LABEL_CANDIDATES if c in names), None)
    return None


def _spread(items: list[Any], count: int) -> list[Any]:
    """``count`` items evenly spread over ``items`` (all of them when there are fewer)."""
    if len(items) <= count:
        return items
    return [items[int(i * len(items) / count)] for i in range(count)]


def _local_source(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    path = Path(url[7:] if url.startswith("file://") else url)
    return str(path) if path.is_file() else None


def _probe_all(targets: list[str], threads: int = 8) -> list[MediaProfile]:
    if not targets:
        return []
    with ThreadPoolExecutor(threads) as pool:
        return [p for p in pool.map(ffprobe_profile, targets) if not p.empty]


def collect_report_data(state: RunState, label_col: str | None = None, probe_samples: int = 200) -> ReportData:
    """Everything the report plots, from the folder's stats, metadata parquets and a probed sample of outputs."""
    data = ReportData(state, overview(state, top=50))
    data.label_col = label_col or detect_label_col(state)
    cap = max(1, MAX_PROFILE_ROWS // max(1, len(state.done)))
    kinds: dict[str, str] = {}
    successes: dict[str, list[_Row]] = {}
    for shard in state.done:
        path = state.folder / f"{shard}.parquet"
        if not path.is_file():
            continue
        meta = read_shard_meta(path, shard, data.label_col, cap)
        data.labels.update(meta.labels)
        data.profiles_in += meta.profiles_in
        if meta.successes:
            successes[shard] = meta.successes
        for message, kind in meta.kinds.items():
            if len(kinds) < 100_000:
                kinds.setdefault(message, kind)
    data.in_source = f"video_metadata of {len(data.profiles_in)} samples" if data.profiles_in else ""
    chosen = _choose_samples(successes, probe_samples)
    if probe_samples > 0 and chosen:
        with tempfile.TemporaryDirectory(prefix="curate-report-") as scratch:
            targets: list[str] = []
            for shard, rows in chosen.items():
                targets += media_targets(state.folder / shard, {r.key for r in rows}, Path(scratch)).values()
            data.profiles_out = _probe_all(targets)
        data.out_source = f"ffprobe of {len(data.profiles_out)} sampled outputs"
        if not data.profiles_in:
            sources = list(dict.fromkeys(s for rows in chosen.values() for r in rows if (s := _local_source(r.url))))
            data.profiles_in = _probe_all(sources)
            data.in_source = f"ffprobe of {len(data.profiles_in)} local source files" if data.profiles_in else ""
    for error in data.overview["top_errors"]:
        data.errors.append(ErrorRow(kinds.get(error["message"], "?"), error["message"], error["count"]))
    return data


def _choose_samples(successes: dict[str, list[_Row]], count: int) -> dict[str, list[_Row]]:
    """About ``count`` successful samples spread evenly over shards and within each shard."""
    if count <= 0 or not successes:
        return {}
    shards = _spread(sorted(successes), count)
    per_shard = max(1, -(-count // len(shards)))
    chosen: dict[str, list[_Row]] = {}
    for shard in shards:
        chosen[shard] = _spread(successes[shard], min(per_shard, count))
        count -= len(chosen[shard])
        if count <= 0:
            break
    return chosen
