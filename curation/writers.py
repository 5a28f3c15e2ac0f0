"""Shard writers: webdataset tar, parquet (media as binary columns), files (a folder per shard), dummy.

Everything is written under a temporary name and renamed when the shard is complete, so a killed
run leaves nothing that looks finished. Every format also leaves ``NNNNN.parquet`` with one row of
metadata per sample (for the parquet format that file also holds the media).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tarfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curation.arrowutil import rows_to_table
from curation.fsutil import temp_name


@dataclass
class SampleRecord:
    """One output sample as written: media files (extension → path), caption, and its json."""

    key: str
    meta: dict[str, Any]
    media: dict[str, Path] = field(default_factory=dict)
    caption: str | None = None


def json_bytes(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")


def metadata_table(rows: list[dict[str, Any]]) -> pa.Table:
    """The per-shard metadata table: one column per json field."""
    return rows_to_table(rows)


class ShardWriter(ABC):
    """Collects a shard's samples; ``close()`` makes them visible atomically, ``abort()`` drops them."""

    def __init__(self, folder: Path, shard_name: str, encode_formats: dict[str, str]) -> None:
        self.folder = folder
        self.shard_name = shard_name
        self.encode_formats = encode_formats
        self.rows: list[dict[str, Any]] = []
        self.bytes_written = 0
        self._temps: list[Path] = []
        self.finals: list[Path] = []  # what close() put in place (published as they are for a remote output)

    def _temp(self, final: Path) -> Path:
        tmp = temp_name(final)
        self._temps.append(tmp)
        return tmp

    def write(self, record: SampleRecord) -> None:
        self.rows.append(dict(record.meta, key=record.key))
        self._write(record)

    @abstractmethod
    def _write(self, record: SampleRecord) -> None: ...

    def _finalize(self) -> list[tuple[Path, Path]]:
        """Close open handles; return (temporary, final) pairs to rename."""
        return []

    def close(self) -> None:
        moves = self._finalize()
        if self.writes_metadata_parquet:
            final = self.folder / f"{self.shard_name}.parquet"
            tmp = self._temp(final)
            pq.write_table(metadata_table(self.rows), tmp)
            moves.append((tmp, final))
        for tmp, final in moves:
            if final.is_dir():
                shutil.rmtree(final)
            os.replace(tmp, final)
            self.finals.append(final)

    writes_metadata_parquet = True

    def abort(self) -> None:
        for tmp in self._temps:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)


class TarShardWriter(ShardWriter):
    """webdataset tar; members stream from the media files, with fixed headers so runs are byte-identical."""

    def __init__(self, folder: Path, shard_name: str, encode_formats: dict[str, str]) -> None:
        super().__init__(folder, shard_name, encode_formats)
        self.final = folder / f"{shard_name}.tar"
        self.tmp = self._temp(self.final)
        self.tar = tarfile.open(self.tmp, "w", format=tarfile.USTAR_FORMAT)  # noqa: SIM115

    def _add(self, name: str, size: int, fileobj: Any) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode, info.uname, info.gname = size, 0, 0o444, "", ""
        self.tar.addfile(info, fileobj)
        self.bytes_written += size

    def _add_bytes(self, name: str, data: bytes) -> None:
        import io

        self._add(name, len(data), io.BytesIO(data))

    def _write(self, record: SampleRecord) -> None:
        for ext in sorted(record.media):
            path = record.media[ext]
            with open(path, "rb") as handle:
                self._add(f"{record.key}.{ext}", path.stat().st_size, handle)
        if record.caption is not None:
            self._add_bytes(f"{record.key}.txt", record.caption.encode("utf-8"))
        self._add_bytes(f"{record.key}.json", json_bytes(dict(record.meta, key=record.key)))

    def _finalize(self) -> list[tuple[Path, Path]]:
        self.tar.close()
        return [(self.tmp, self.final)]

    def abort(self) -> None:
        with contextlib.suppress(OSError):  # e.g. the disk is full: closing flushes and fails again
            self.tar.close()
        super().abort()


class FilesShardWriter(ShardWriter):
    """A folder per shard with ``<key>.<ext>``, ``<key>.txt``, ``<key>.json``."""

    def __init__(self, folder: Path, shard_name: str, encode_formats: dict[str, str]) -> None:
        super().__init__(folder, shard_name, encode_formats)
        self.final = folder / shard_name
        self.tmp = self._temp(self.final)
        self.tmp.mkdir(parents=True)

    def _write(self, record: SampleRecord) -> None:
        for ext, path in record.media.items():
            target = self.tmp / f"{record.key}.{ext}"
            shutil.copyfile(path, target)
            self.bytes_written += target.stat().st_size
        if record.caption is not None:
            (self.tmp / f"{record.key}.txt").write_text(record.caption, encoding="utf-8")
        (self.tmp / f"{record.key}.json").write_bytes(json_bytes(dict(record.meta, key=record.key)))

    def _finalize(self) -> list[tuple[Path, Path]]:
        return [(self.tmp, self.final)]


class ParquetShardWriter(ShardWriter):
    """``NNNNN.parquet`` with the metadata columns plus one binary column per media extension.

    Media go to a temporary parquet in small row groups as samples arrive; at close the metadata
    (whose schema is only known then) is attached row group by row group, so memory stays bounded.
    """

    writes_metadata_parquet = False
    ROW_GROUP_BYTES = 64 << 20

    def __init__(self, folder: Path, shard_name: str, encode_formats: dict[str, str]) -> None:
        super().__init__(folder, shard_name, encode_formats)
        self.final = folder / f"{shard_name}.parquet"
        self.media_tmp = self._temp(folder / f"{shard_name}.media.parquet")
        self.exts = sorted(set(encode_formats.values()))
        self.schema = pa.schema([(ext, pa.binary()) for ext in self.exts] + [("txt", pa.string())])
        self.writer = pq.ParquetWriter(self.media_tmp, self.schema)
        self.buffer: list[dict[str, Any]] = []
        self.buffered = 0

    def _write(self, record: SampleRecord) -> None:
        row: dict[str, Any] = {ext: None for ext in self.exts}
        for ext, path in record.media.items():
            row[ext] = path.read_bytes()
            self.buffered += len(row[ext])
            self.bytes_written += len(row[ext])
        row["txt"] = record.caption
        self.buffer.append(row)
        if self.buffered >= self.ROW_GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self.buffer:
            self.writer.write_table(pa.Table.from_pylist(self.buffer, schema=self.schema))
        self.buffer, self.buffered = [], 0

    def _finalize(self) -> list[tuple[Path, Path]]:
        self._flush()
        self.writer.close()
        meta = metadata_table(self.rows)
        meta = meta.drop_columns([c for c in meta.column_names if c in self.schema.names])
        tmp = self._temp(self.final)
        media = pq.ParquetFile(self.media_tmp)
        writer: pq.ParquetWriter | None = None
        offset = 0
        for index in range(media.num_row_groups):
            group = media.read_row_group(index)
            combined = meta.slice(offset, group.num_rows)
            for name in group.column_names:
                combined = combined.append_column(name, group.column(name))
            offset += group.num_rows
            if writer is None:
                writer = pq.ParquetWriter(tmp, combined.schema)
            writer.write_table(combined)
        if writer is None:
            empty = meta.slice(0, 0)
            for field_ in self.schema:
                empty = empty.append_column(field_.name, pa.array([], field_.type))
            pq.write_table(empty, tmp)
        else:
            writer.close()
        self.media_tmp.unlink(missing_ok=True)
        return [(tmp, self.final)]

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.writer.close()
        super().abort()


class DummyShardWriter(ShardWriter):
    """Writes no media: only the metadata parquet (for dry runs and metadata passes)."""

    def _write(self, record: SampleRecord) -> None:
        pass


WRITERS: dict[str, type[ShardWriter]] = {
    "webdataset": TarShardWriter,
    "files": FilesShardWriter,
    "parquet": ParquetShardWriter,
    "dummy": DummyShardWriter,
}


def make_writer(output_format: str, folder: Path, shard_name: str, encode_formats: dict[str, str]) -> ShardWriter:
    return WRITERS[output_format](folder, shard_name, encode_formats)
