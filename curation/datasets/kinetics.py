"""Kinetics-400/600/700 annotation CSVs → a table of local CVDF files or YouTube clip windows.

The CSV is ``label,youtube_id,time_start,time_end,split[,is_cc]``; copies differ (header or not,
quoted labels, CRLF, BOM), so the reader tolerates all of them and fails in one line on anything
it cannot use. With ``media_dir`` each row is the CVDF file ``<id>_<start:06d>_<end:06d>.mp4``;
without, it is the YouTube video with its [start, end] window as the clip.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa

from curation.datasets._keys import safe_key, unique_keys
from curation.errors import TableError

log = logging.getLogger(__name__)

COLUMNS = ("label", "youtube_id", "time_start", "time_end", "split", "is_cc")
COLUMNS_LIST = list(COLUMNS)
REQUIRED = ("youtube_id", "time_start", "time_end")
YOUTUBE = "https://www.youtube.com/watch?v="


def _csv_files(source: str) -> list[Path]:
    path = Path(source).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv")
        if not files:
            raise TableError(f"kinetics: no .csv file in {source}")
        return files
    if not path.is_file():
        raise TableError(f"kinetics: annotation file not found: {source}")
    return [path]


def _read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, {column: text}) for every data row; header optional, positional otherwise."""
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError as exc:
        raise TableError(f"kinetics: {path}: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise TableError(f"kinetics: {path}: unreadable CSV ({exc})") from None
    numbered = [(n, row) for n, row in enumerate(rows, start=1) if any(cell.strip() for cell in row)]
    if not numbered:
        raise TableError(f"kinetics: {path}: empty annotation file")
    first = [cell.strip().lower() for cell in numbered[0][1]]
    if set(first) & set(COLUMNS):  # a header row names at least one known column
        names, numbered = first, numbered[1:]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise TableError(f"kinetics: {path}: header lacks column {missing[0]!r}")
    else:
        names = COLUMNS_LIST
    low, high = (len(names), len(names)) if names is not COLUMNS_LIST else (4, len(COLUMNS))
    out = []
    for line, row in numbered:
        if not low <= len(row) <= high:
            raise TableError(f"kinetics: {path}:{line}: expected {high} fields, got {len(row)}")
        out.append((line, dict(zip(names, row, strict=False))))
    return out


def _seconds(text: str, where: str, column: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise TableError(f"kinetics: {where}: {column} {text!r} is not a number") from None
    if not value.is_integer() or value < 0:
        raise TableError(f"kinetics: {where}: {column} {text!r} is not whole seconds")
    return int(value)


def _local_file(media_dir: Path, split: str, name: str) -> Path:
    """The CVDF file, flat (``DIR/<name>``) or under its split (``DIR/<split>/<name>``)."""
    flat = media_dir / name
    if not flat.exists() and split and (media_dir / split / name).exists():
        return media_dir / split / name
    return flat


def load(source: str, media_dir: str | None = None, split: str | None = None) -> pa.Table:
    media = Path(media_dir).expanduser().resolve() if media_dir else None
    if media is not None and not media.is_dir():
        raise TableError(f"kinetics: --media_dir is not a folder: {media_dir}")
    cols: dict[str, list] = {c: [] for c in ("url", "key", "label", "split", "youtube_id", "time_start", "time_end", "is_cc", "clips")}
    for path in _csv_files(source):
        default_split = split or path.stem
        for line, row in _read_rows(path):
            where = f"{path}:{line}"
            youtube_id = row.get("youtube_id", "").strip()
            if not youtube_id:
                raise TableError(f"kinetics: {where}: empty youtube_id")
            start = _seconds(row.get("time_start", "").strip(), where, "time_start")
            end = _seconds(row.get("time_end", "").strip(), where, "time_end")
            if end <= start:
                raise TableError(f"kinetics: {where}: time_end {end} is not after time_start {start}")
            row_split = (row.get("split") or "").strip() or default_split
            if split is not None and row_split != split:
                continue
            label = row.get("label")
            is_cc = (row.get("is_cc") or "").strip()
            name = f"{youtube_id}_{start:06d}_{end:06d}"
            if media is not None:
                cols["url"].append(str(_local_file(media, row_split, f"{name}.mp4")))
                cols["clips"].append(None)
            else:
                cols["url"].append(YOUTUBE + quote(youtube_id, safe=""))  # a URL for yt-dlp's API: '-id' is never an option
                cols["clips"].append([[float(start), float(end)]])
            cols["key"].append(safe_key(name))
            cols["label"].append(label if label not in (None, "") else None)
            cols["split"].append(row_split)
            cols["youtube_id"].append(youtube_id)
            cols["time_start"].append(start)
            cols["time_end"].append(end)
            cols["is_cc"].append(int(is_cc) if is_cc.isdigit() else None)
    identities = [(str(lab), sp) for lab, sp in zip(cols["label"], cols["split"], strict=True)]
    cols["key"], duplicates = unique_keys(cols["key"], identities)
    if duplicates:
        log.warning("kinetics: dropped %d repeated row(s) (same id, window, label and split)", len(duplicates))
        drop = set(duplicates)
        cols = {c: [v for i, v in enumerate(values) if i not in drop] for c, values in cols.items()}
    if not cols["key"]:
        raise TableError(f"kinetics: no rows{f' in split {split!r}' if split else ''} in {source}")
    return pa.table({
        "url": pa.array(cols["url"], pa.string()),
        "key": pa.array(cols["key"], pa.string()),
        "label": pa.array(cols["label"], pa.string()),
        "split": pa.array(cols["split"], pa.string()),
        "youtube_id": pa.array(cols["youtube_id"], pa.string()),
        "time_start": pa.array(cols["time_start"], pa.int64()),
        "time_end": pa.array(cols["time_end"], pa.int64()),
        "is_cc": pa.array(cols["is_cc"], pa.int64()),
        "clips": pa.array(cols["clips"], pa.list_(pa.list_(pa.float64()))),
    })
