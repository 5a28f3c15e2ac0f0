"""Worker side of reprocessing: a planned webdataset row → its media on local disk, its json, its extras.

"Fetching" a sample means streaming its video (or audio, per ``encode_formats``) member out of the
input tar into the sample's work dir, one member at a time, under a name we choose. Members the
chain does not touch (other modalities, ``.cls``, ``.npy``, a non-UTF-8 ``.txt``) are streamed out
the same way and written unchanged next to every output of the sample. The json is carried over
and extended with a ``source`` record so every output can be traced back to its input.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from curation.config import Config
from curation.sources import Fetched, FetchError
from curation.wds_columns import (
    COL_CAPTION,
    COL_ERROR,
    COL_JSON,
    COL_MEMBERS,
    COL_SOURCE_KEY,
    COL_TAR,
    COL_WARNINGS,
    shard_problems,
)
from curation.wds_input import copy_member
from subsamplers.base import SampleOutput

_SAFE_EXT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")
MODALITY_ORDER = ("video", "audio", "image")


class WdsSampleError(Exception):
    """The input sample cannot be processed (no media member, unsafe or duplicate members): failed_to_subsample."""


class WdsShard:
    """What one shard's worker needs to treat rows planned from an input tar."""

    def __init__(self, config: Config, manifest: dict[str, Any], shard_id: int) -> None:
        self.config = config
        self.problems = shard_problems(manifest, shard_id)
        formats = config.source_formats
        self.media_exts = [formats[m] for m in MODALITY_ORDER if m in formats]

    def input_problems(self, rows: list[dict[str, Any]]) -> Counter[str]:
        """The tar's own problems and every sample warning, message → count (for the stats file)."""
        counts: Counter[str] = Counter(self.problems)
        for row in rows:
            counts.update(json.loads(row.get(COL_WARNINGS) or "[]"))
        return counts

    @staticmethod
    def _input_json(row: dict[str, Any]) -> dict[str, Any]:
        text = row.get(COL_JSON)
        return json.loads(text) if text else {}

    def source(self, row: dict[str, Any]) -> dict[str, Any]:
        """Where this sample came from; a sample reprocessed before keeps its earlier source nested."""
        record: dict[str, Any] = {"shard": row[COL_TAR], "key": row[COL_SOURCE_KEY]}
        earlier = self._input_json(row).get("source")
        if earlier:
            record["source"] = earlier
        return record

    def base_meta(self, row: dict[str, Any]) -> dict[str, Any]:
        """The input json, plus columns the plan added (e.g. class_index), plus the source record."""
        meta = self._input_json(row)
        for column, value in row.items():
            if column.startswith("__") or column in ("key", "url", "clips") or column in meta or value is None:
                continue
            meta[column] = value
        meta["source"] = self.source(row)
        meta.pop("input_warnings", None)  # an earlier pass's warnings describe an earlier input
        warnings = json.loads(row.get(COL_WARNINGS) or "[]")
        if warnings:
            meta["input_warnings"] = warnings
        return meta

    def caption(self, row: dict[str, Any]) -> str | None:
        return row.get(COL_CAPTION)

    def _missing_media(self, row: dict[str, Any]) -> str:
        message = f"no {'/'.join(self.media_exts)} member in the input sample"
        status = self._input_json(row).get("status")
        if status and status != "success":
            message += f" (input status {status}: {self._input_json(row).get('error_message')})"
        return message

    def fetch(self, row: dict[str, Any], work_dir: Path) -> Fetched:
        """Stream the media member (and the untouched members) to ``work_dir``; never the whole tar."""
        if row.get(COL_ERROR):
            raise WdsSampleError(row[COL_ERROR])
        members: dict[str, list[int]] = json.loads(row[COL_MEMBERS])
        main = next((ext for ext in self.media_exts if ext in members), None)
        if main is None:
            raise WdsSampleError(self._missing_media(row))
        offset, size = members[main]
        if size == 0:
            raise WdsSampleError(f"empty {main} member in the input sample")
        if size > self.config.reading.max_download_bytes:
            raise WdsSampleError(f"{main} member of {size} bytes exceeds reading.max_download_bytes")
        tar = row[COL_TAR]
        dest = work_dir / (f"source.{main}" if _SAFE_EXT.fullmatch(main) else "source.bin")
        extras: dict[str, Path] = {}
        timeout = self.config.reading.step_timeout("download")
        try:
            copy_member(tar, offset, size, dest, timeout)
            for n, (ext, (extra_offset, extra_size)) in enumerate(sorted(members.items())):
                if ext in (main, "json") or not _SAFE_EXT.fullmatch(ext) or not self.config.writes_media:
                    continue
                extras[ext] = work_dir / f"extra-{n}"
                copy_member(tar, extra_offset, extra_size, extras[ext], timeout)
        except OSError as exc:
            raise FetchError(f"reading input tar {tar}: {exc}", transient=True) from None
        return Fetched(path=dest, size=size, is_temp=True, meta={"extras": extras})

    def complete(self, outputs: list[SampleOutput], row: dict[str, Any], fetched: Fetched) -> list[SampleOutput]:
        """Add the untouched members to every output; a re-encoded output drops the stale ffprobe record."""
        extras: dict[str, Path] = fetched.meta.get("extras", {})
        old_probe = self._input_json(row).get("video_metadata")
        for output in outputs:
            for ext, path in extras.items():
                output.media.setdefault(ext, path)
            transcoded = all(Path(p) != fetched.path for p in output.media.values())
            if transcoded and old_probe is not None and "video_metadata" not in output.metadata:
                output.metadata["video_metadata"] = None
                output.metadata["source"] = dict(self.source(row), video_metadata=old_probe)
        return outputs
