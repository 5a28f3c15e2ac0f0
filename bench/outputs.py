"""Count what each tool produced, so a fast run that silently dropped samples cannot look good."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

MEDIA_EXTS = (".mp4", ".webm", ".mkv", ".avi", ".mov")


def _member_key(name: str) -> tuple[str, str]:
    """Split a webdataset member name into (key, extension) the way webdataset does (first dot)."""
    base = name.rsplit("/", 1)[-1]
    stem, _, ext = base.partition(".")
    prefix = name[: len(name) - len(base)]
    return prefix + stem, "." + ext


def stats_errors(folder: Path, limit: int = 5) -> list[str]:
    """The most common failure messages recorded in stats files (both tools' schemas)."""
    counts: dict[str, int] = {}
    for path in sorted(folder.glob("*_stats.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        errors = data.get("status_dict") or data.get("errors") or {}
        if isinstance(errors, dict):
            for message, n in errors.items():
                if message != "success" and isinstance(n, int):
                    counts[message] = counts.get(message, 0) + n
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
    return [f"{n}x {message[:200]}" for message, n in ranked]


def _video_digests(folder: Path) -> dict[str, str]:
    """member key → sha256 of its video bytes, over every shard of ``folder``."""
    digests = {}
    for shard in sorted(folder.glob("*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar:
                key, ext = _member_key(member.name)
                source = tar.extractfile(member) if member.isfile() and ext in MEDIA_EXTS else None
                if source is not None:
                    digests[key] = hashlib.sha256(source.read()).hexdigest()
    return digests


def identical_videos(before: Path, after: Path) -> int:
    """How many videos in ``after``'s shards are byte-identical to the same key in ``before``'s."""
    old = _video_digests(before)
    return sum(1 for key, digest in _video_digests(after).items() if old.get(key) == digest)


def extract_videos(folder: Path, dest: Path) -> list[Path]:
    """Unpack the video members of every shard in ``folder`` into ``dest`` (for the reprocess baseline)."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for shard in sorted(folder.glob("*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar:
                key, ext = _member_key(member.name)
                if not (member.isfile() and ext in MEDIA_EXTS and member.size > 0):
                    continue
                source = tar.extractfile(member)
                if source is None:
                    continue
                out = dest / f"{shard.stem}_{key.replace('/', '_')}{ext}"
                out.write_bytes(source.read())
                written.append(out)
    return written


def probe_duration(path: Path, timeout: float = 60.0) -> float:
    """Container duration in seconds by ffprobe (0.0 if it cannot be read)."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, timeout=timeout,
    )
    try:
        return float(done.stdout.strip())
    except ValueError:
        return 0.0


@dataclass
class MediaSummary:
    """What a set of output videos really contains: a count alone would hide wrong transforms."""

    count: int = 0
    seconds: float = 0.0
    heights: Counter[int] = field(default_factory=Counter)
    rates: Counter[str] = field(default_factory=Counter)
    with_audio: int = 0
    unreadable: int = 0
    late_start: int = 0  # video stream starting after 0.05 s: a timestamp reset gone wrong

    def describe(self) -> str:
        heights = ",".join(f"{h}p" for h, _ in self.heights.most_common(3))
        rates = ",".join(f"{r}fps" for r, _ in self.rates.most_common(3))
        extra = f", {self.with_audio} with audio" if self.with_audio else ""
        extra += f", {self.unreadable} unreadable" if self.unreadable else ""
        extra += f", {self.late_start} start after 0.05 s" if self.late_start else ""
        return f"{heights} {rates}{extra}".strip()


def _probe(path: Path, timeout: float = 60.0) -> dict | None:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries",
         "stream=codec_type,height,avg_frame_rate,start_time:format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=timeout,
    )
    if done.returncode != 0:
        return None
    try:
        return json.loads(done.stdout)
    except ValueError:
        return None


def summarize(paths: list[Path]) -> MediaSummary:
    """Probe every output: duration, height, frame rate, audio presence."""
    summary = MediaSummary()
    for path in paths:
        info = _probe(path)
        summary.count += 1
        if info is None:
            summary.unreadable += 1
            continue
        summary.seconds += float(info.get("format", {}).get("duration", 0.0) or 0.0)
        for stream in info.get("streams", []):
            if stream.get("codec_type") == "video":
                summary.heights[int(stream.get("height", 0))] += 1
                try:
                    rate = Fraction(stream.get("avg_frame_rate", "0/1"))
                except (ValueError, ZeroDivisionError):
                    rate = Fraction(0)
                summary.rates[f"{float(rate):g}"] += 1
                with contextlib.suppress(ValueError):
                    summary.late_start += float(stream.get("start_time", 0.0)) > 0.05
            elif stream.get("codec_type") == "audio":
                summary.with_audio += 1
    return summary


def summarize_tars(folder: Path, scratch: Path) -> MediaSummary:
    """Extract every video member of ``folder``'s shards to ``scratch``, probe them, clean up."""
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        return summarize(extract_videos(folder, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
