"""Input readers: every table format → a stream of Arrow record batches, never Python rows.

Columns are read as they are typed in the file, except CSV/TSV/TXT where every column stays a
string (labels such as ``001`` must survive verbatim).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from curation.arrowutil import rows_to_table
from curation.errors import TableError

log = logging.getLogger("curation.tables")

TABLE_FORMATS = ("csv", "csv.gz", "tsv", "tsv.gz", "json", "jsonl", "parquet", "txt")
MEDIA_EXTENSIONS = frozenset(
    ["mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "ts", "mts", "flv", "wmv", "3gp", "ogv", "gif", "jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "m4a", "mp3", "wav", "flac", "ogg", "opus"]
)
BATCH_ROWS = 65536


def detect_format(path: Path) -> str | None:
    """The table format from a file name, longest suffix first (``x.tsv.gz`` → ``tsv.gz``)."""
    name = path.name.lower()
    for fmt in sorted(TABLE_FORMATS, key=len, reverse=True):
        if name.endswith("." + fmt):
            return fmt
    return None


def list_table_files(url_list: str, input_format: str | None) -> list[Path]:
    """One file, or every table file of a directory (sorted by name), checked to exist."""
    path = Path(url_list).expanduser()
    if not path.exists():
        raise TableError(f"url_list: no such file or directory: {url_list}")
    if path.is_file():
        return [path]
    files = sorted(
        p for p in path.iterdir()
        if p.is_file() and not p.name.startswith(".") and (detect_format(p) == input_format if input_format else detect_format(p))
    )
    if not files:
        raise TableError(f"url_list: directory {url_list} holds no {input_format or 'table'} files")
    return files


def resolve_format(path: Path, input_format: str | None) -> str:
    fmt = input_format or detect_format(path)
    if fmt is None:
        raise TableError(f"url_list: cannot tell the format of {path.name}; pass --input_format")
    return fmt


def iter_table_batches(path: Path, fmt: str, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Stream one table file as record batches; raise TableError with a one-line reason."""
    try:
        if path.stat().st_size == 0:
            raise TableError(f"url_list: {path.name} is empty")
        if fmt in ("csv", "csv.gz", "tsv", "tsv.gz"):
            yield from _csv_batches(path, "\t" if fmt.startswith("tsv") else ",")
        elif fmt == "parquet":
            yield from pq.ParquetFile(path).iter_batches(batch_size=batch_rows)
        elif fmt == "jsonl":
            reader = pajson.open_json(path, read_options=pajson.ReadOptions(block_size=1 << 24))
            yield from reader
        elif fmt == "json":
            yield from _json_array_batches(path, batch_rows)
        elif fmt == "txt":
            yield from _txt_batches(path, batch_rows)
        else:
            raise TableError(f"input_format: {fmt!r} is not a table format ({', '.join(TABLE_FORMATS)})")
    except TableError:
        raise
    except UnicodeDecodeError as exc:
        raise TableError(f"url_list: cannot read {path.name} as {fmt}: not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    except (pa.ArrowInvalid, json.JSONDecodeError, OSError, EOFError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TableError(f"url_list: cannot read {path.name} as {fmt}: {reason}") from None


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _csv_batches(path: Path, delimiter: str) -> Iterator[pa.RecordBatch]:
    with _open_text(path) as text:
        header = next(csv.reader(text, delimiter=delimiter), None)
    if not header:
        raise TableError(f"url_list: {path.name} has no header row")
    def skip_malformed(row: pacsv.InvalidRow) -> str:
        log.warning("%s: skipping malformed row %s (expected %d columns, got %d): %.120s",
                    path.name, row.number, row.expected_columns, row.actual_columns, row.text)
        return "skip"

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=1 << 22),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, invalid_row_handler=skip_malformed),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header}, strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    )
    yield from reader


def _json_array_batches(path: Path, batch_rows: int) -> Iterator[pa.RecordBatch]:
    with open(path, encoding="utf-8-sig") as handle:
        data = json.load(handle)
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise TableError(f"url_list: {path.name} must be a JSON array of objects")
    for start in range(0, len(data), batch_rows):
        yield from rows_to_table(data[start : start + batch_rows]).to_batches()


def _txt_batches(path: Path, batch_rows: int) -> Iterator[pa.RecordBatch]:
    with _open_text(path) as text:
        chunk: list[str] = []
        for line in text:
            line = line.strip()
            if line and not line.startswith("#"):
                chunk.append(line)
            if len(chunk) >= batch_rows:
                yield pa.RecordBatch.from_pydict({"url": chunk})
                chunk = []
        if chunk:
            yield pa.RecordBatch.from_pydict({"url": chunk})


def media_file_batches(root: Path, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """input_format ``files``: every media file under root (sorted), keyed by its relative path."""
    if not root.is_dir():
        raise TableError(f"url_list: {root} is not a directory (input_format files)")
    paths: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.rsplit(".", 1)[-1].lower() in MEDIA_EXTENSIONS and not name.startswith("."):
                paths.append(os.path.join(dirpath, name))
    if not paths:
        raise TableError(f"url_list: no media files under {root}")
    for start in range(0, len(paths), batch_rows):
        chunk = paths[start : start + batch_rows]
        yield pa.RecordBatch.from_pydict({
            "url": [str(Path(p).resolve()) for p in chunk],
            "key": [os.path.relpath(p, root).rsplit(".", 1)[0] for p in chunk],
        })
