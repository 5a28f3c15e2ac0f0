"""Per-shard statistics; ``NNNNN_stats.json`` is written last and is the only "done" marker.

The keys are a superset of video2dataset's, so its users' scripts keep working.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from curation.fsutil import atomic_write_json, json_file_bytes, read_json

SUCCESS = "success"
FAILED_TO_DOWNLOAD = "failed_to_download"
FAILED_TO_SUBSAMPLE = "failed_to_subsample"
STATUSES = (SUCCESS, FAILED_TO_DOWNLOAD, FAILED_TO_SUBSAMPLE)


def stats_path(folder: Path, shard_name: str) -> Path:
    return folder / f"{shard_name}_stats.json"


@dataclass
class ShardStats:
    shard: str
    count: int = 0
    successes: int = 0
    failed_to_download: int = 0
    failed_to_subsample: int = 0
    outputs_written: int = 0
    filtered: int = 0  # outputs of successful samples dropped by ``filters`` (not written)
    bytes_downloaded: int = 0
    bytes_written: int = 0
    video_seconds_in: float = 0.0
    video_seconds_out: float = 0.0
    start_time: float = field(default_factory=time.time)
    end_time: float = 0.0
    duration: float = 0.0
    attempt: int = 1
    status_dict: Counter[str] = field(default_factory=Counter)  # "success" or the error message → count
    input_problems: Counter[str] = field(default_factory=Counter)  # webdataset input: broken tar, odd samples → count
    filter_drops: Counter[str] = field(default_factory=Counter)  # the first failing filter → outputs it dropped

    def record(self, status: str, error: str | None) -> None:
        self.count += 1
        if status == SUCCESS:
            self.successes += 1
        elif status == FAILED_TO_DOWNLOAD:
            self.failed_to_download += 1
        else:
            self.failed_to_subsample += 1
        self.status_dict[error[:200] if error else status] += 1

    def finish(self) -> None:
        self.end_time = time.time()
        self.duration = self.end_time - self.start_time

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status_dict"] = dict(self.status_dict)
        data["input_problems"] = dict(self.input_problems)
        data["filter_drops"] = dict(self.filter_drops)
        return data

    def to_json_bytes(self) -> bytes:
        return json_file_bytes(self.to_dict())

    def write(self, folder: Path) -> None:
        atomic_write_json(stats_path(folder, self.shard), self.to_dict())


def read_all_stats(folder: Path) -> list[dict[str, Any]]:
    return [read_json(p) for p in sorted(folder.glob("*_stats.json"))]


def summarize(stats: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over shards (the numbers `curate stats` and the run summary show)."""
    total: dict[str, Any] = {"shards": len(stats)}
    for key in ("count", "successes", "failed_to_download", "failed_to_subsample", "outputs_written", "filtered",
                "bytes_downloaded", "bytes_written", "video_seconds_in", "video_seconds_out"):
        total[key] = sum(s.get(key, 0) for s in stats)
    errors: Counter[str] = Counter()
    for s in stats:
        errors.update({k: v for k, v in s.get("status_dict", {}).items() if k != SUCCESS})
    total["top_errors"] = errors.most_common(10)
    problems: Counter[str] = Counter()
    for s in stats:
        problems.update(s.get("input_problems") or {})
    total["input_problems"] = problems.most_common(10)  # webdataset input: truncated tars, split samples ...
    drops: Counter[str] = Counter()
    for s in stats:
        drops.update(s.get("filter_drops") or {})
    total["filter_drops"] = drops.most_common(10)  # filters: condition → outputs it dropped
    total["shard_seconds"] = sum(s.get("duration", 0.0) for s in stats)
    starts = [s["start_time"] for s in stats if s.get("start_time")]
    ends = [s["end_time"] for s in stats if s.get("end_time")]
    total["start_time"] = min(starts, default=None)
    total["end_time"] = max(ends, default=None)
    total["wall_seconds"] = wall_seconds(stats)
    return total


def wall_seconds(stats: list[dict[str, Any]]) -> float:
    """Time during which at least one shard was running: a resumed run's idle gap is not counted."""
    spans = sorted((s["start_time"], s["end_time"]) for s in stats if s.get("start_time") and s.get("end_time"))
    total, covered_until = 0.0, float("-inf")
    for start, end in spans:
        start = max(start, covered_until)
        if end > start:
            total += end - start
        covered_until = max(covered_until, end)
    return total


def has_failures(stats: dict[str, Any]) -> bool:
    """A finished shard that recorded failed samples (what --retry_failed runs again)."""
    return stats.get("successes", 0) < stats.get("count", 0)
