"""The numbers behind ``report.html``: stats totals, per-sample media profiles, labels, errors.

"In" profiles are the sources as ``video_metadata`` (FFProbeSubsampler) recorded them; without it,
local source files of a bounded sample are probed. "Out" profiles come from ffprobe on a bounded,
evenly spread sample of the written outputs (tar members are probed in place through ffmpeg's
``subfile`` protocol, never extracted). Memory stays bounded on a 10M-sample run: per-sample data
is capped, label counts are a Counter.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.media_fields import MediaProfile, ffprobe_profile, sample_profile
from curation.run_state import RunState, overview
from curation.shard_inspect import media_targets

MAX_PROFILE_ROWS = 200_000
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
    status: str
    url: Any
    meta: dict[str, Any]


def _metadata_rows(state: RunState, label_col: str | None, per_shard: int) -> Iterator[tuple[_Row, bool]]:
    """Rows of each finished shard's metadata parquet (only the columns the report needs).

    Yields (row, keep): ``keep`` is False past the per-shard cap, where only labels and errors count.
    """
    import pyarrow.parquet as pq

    wanted = {"key", "status", "error_message", "url", "original_key", "duration", "width", "height", "fps", *IN_FIELDS}
    if label_col:
        wanted.add(label_col)
    for shard in state.done:
        path = state.folder / f"{shard}.parquet"
        if not path.is_file():
            continue
        try:
            parquet = pq.ParquetFile(path)
            columns = [n for n in parquet.schema_arrow.names if n in wanted]
            kept = 0
            for batch in parquet.iter_batches(batch_size=1024, columns=columns):
                for meta in batch.to_pylist():
                    kept += 1
                    row = _Row(shard, str(meta.get("key")), str(meta.get("status") or "?"), meta.get("url"), meta)
                    yield row, kept <= per_shard
        except OSError:
            continue


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
    per_shard = max(1, MAX_PROFILE_ROWS // max(1, len(state.done)))
    kinds: dict[str, str] = {}
    successes: dict[str, list[_Row]] = {}
    sources_seen: set[tuple[str, str]] = set()
    for row, keep in _metadata_rows(state, data.label_col, per_shard):
        if row.status == "success":
            if data.label_col and row.meta.get(data.label_col) is not None:
                data.labels[str(row.meta[data.label_col])] += 1
            if keep:
                successes.setdefault(row.shard, []).append(_Row(row.shard, row.key, row.status, row.url, {}))
                source = (row.shard, str(row.meta.get("original_key") or row.key))
                if source not in sources_seen:  # clips of one source describe it once
                    sources_seen.add(source)
                    profile = sample_profile(row.meta, IN_FIELDS)
                    if not profile.empty:
                        data.profiles_in.append(profile)
        elif row.meta.get("error_message") and len(kinds) < 100_000:
            kinds.setdefault(str(row.meta["error_message"])[:200], row.status)
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
