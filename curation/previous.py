"""A finished shard's existing outputs, so ``--retry_failed`` redoes only its failed samples and keeps
every successful one byte for byte (media streamed out of the old shard, never the whole shard in memory).
"""

from __future__ import annotations

import json
import shutil
import tarfile
import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from curation.stats import SUCCESS
from curation.writers import SampleRecord


class PreviousShard:
    def __init__(self, folder: Path, name: str, output_format: str, encode_formats: dict[str, str]) -> None:
        self.folder = folder
        self.name = name
        self.format = output_format
        self.exts = set(encode_formats.values())
        self._lock = threading.Lock()
        meta = pq.read_table(folder / f"{name}.parquet")
        meta = meta.drop_columns([c for c in meta.column_names if c in self.exts or c == "txt"])
        self.outputs: dict[str, list[dict[str, Any]]] = {}
        for row in meta.to_pylist():
            source = row.get("original_key") or row["key"]
            self.outputs.setdefault(source, []).append(row)
        self._tar: tarfile.TarFile | None = None
        self._members: dict[str, tarfile.TarInfo] = {}
        if output_format == "webdataset":
            self._tar = tarfile.open(folder / f"{name}.tar")  # noqa: SIM115 (closed in close())
            self._members = {m.name: m for m in self._tar.getmembers()}

    def succeeded(self, key: str) -> bool:
        rows = self.outputs.get(key)
        return bool(rows) and all(r.get("status") == SUCCESS for r in rows)

    def reuse(self, key: str, work_dir: Path) -> list[SampleRecord]:
        """The sample's old outputs as records: media extracted to work_dir, json and caption as they were."""
        with self._lock:
            return [self._record(row, work_dir) for row in self.outputs[key]]

    def _record(self, row: dict[str, Any], work_dir: Path) -> SampleRecord:
        out_key = row["key"]
        media: dict[str, Path] = {}
        caption = None
        meta = {k: v for k, v in row.items() if k != "key"}
        if self.format == "webdataset":
            assert self._tar is not None
            for name, info in self._members.items():
                stem, _, ext = name.partition(".")
                if stem != out_key:
                    continue
                source = self._tar.extractfile(info)
                assert source is not None
                if ext == "json":
                    meta = {k: v for k, v in json.loads(source.read()).items() if k != "key"}
                elif ext == "txt":
                    caption = source.read().decode("utf-8")
                else:
                    media[ext] = work_dir / f"{out_key}.{ext}"
                    with open(media[ext], "wb") as target:
                        shutil.copyfileobj(source, target)
        elif self.format == "files":
            shard = self.folder / self.name
            for path in shard.glob(f"{out_key}.*"):
                ext = path.name[len(out_key) + 1 :]
                if ext == "json":
                    meta = {k: v for k, v in json.loads(path.read_text()).items() if k != "key"}
                elif ext == "txt":
                    caption = path.read_text(encoding="utf-8")
                else:
                    media[ext] = work_dir / path.name
                    shutil.copyfile(path, media[ext])
        elif self.format == "parquet":
            caption, media = self._parquet_media(out_key, work_dir)
        return SampleRecord(key=out_key, meta=meta, media=media, caption=caption)

    def _parquet_media(self, out_key: str, work_dir: Path) -> tuple[str | None, dict[str, Path]]:
        file = pq.ParquetFile(self.folder / f"{self.name}.parquet")
        columns = [c for c in file.schema_arrow.names if c in self.exts or c in ("txt", "key")]
        for index in range(file.num_row_groups):
            group = file.read_row_group(index, columns=columns)
            keys = group.column("key").to_pylist()
            if out_key in keys:
                row = group.slice(keys.index(out_key), 1).to_pylist()[0]
                media = {}
                for ext in self.exts:
                    if row.get(ext) is not None:
                        media[ext] = work_dir / f"{out_key}.{ext}"
                        media[ext].write_bytes(row[ext])
                return row.get("txt"), media
        return None, {}

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
