"""Clip spans: parse the table's clip column, then clamp, split and snap them (pure functions).

Kept apart from ClippingSubsampler so the rules (which spans survive, and why) are testable
without ffmpeg. A span is ``(start, end)`` in seconds of the source.
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass, field
from typing import Any

Span = tuple[float, float]


@dataclass
class SpanReport:
    """The spans kept, and every span dropped or changed with the reason (goes into the json)."""

    spans: list[Span] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    clamped: list[dict[str, Any]] = field(default_factory=list)

    def drop(self, raw: Any, reason: str) -> None:
        self.dropped.append({"clip": _jsonable(raw), "reason": reason})


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def to_seconds(value: Any) -> float:
    """Seconds from a number or an ``[[HH:]MM:]SS[.mmm]`` string; ValueError when it is neither."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        parts = value.strip().split(":")
        if not 1 <= len(parts) <= 3 or any(p.strip() == "" for p in parts):
            raise ValueError(f"not a time: {value!r}")
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + float(part)
    else:
        raise ValueError(f"not a time: {value!r}")
    if not math.isfinite(seconds):
        raise ValueError(f"not a finite time: {value!r}")
    return seconds


def _as_list(raw: Any) -> list[Any]:
    """The clip column as a list of candidate spans (accepts a JSON string and a single span)."""
    if raw is None:
        return []
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return []
        try:
            raw = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(f"clip column is not a list of [start, end]: {text[:60]!r}") from None
    if hasattr(raw, "tolist"):  # numpy / pyarrow values
        raw = raw.tolist()
    if not isinstance(raw, (list, tuple)):
        raise ValueError(f"clip column is not a list of [start, end]: {raw!r}")
    items = list(raw)
    if len(items) == 2 and not any(isinstance(v, (list, tuple)) for v in items):
        items = [items]  # a single [start, end]
    return items


def parse_spans(raw: Any, duration: float | None) -> SpanReport:
    """Parse, validate and clamp the raw clip column against the source duration."""
    report = SpanReport()
    try:
        items = _as_list(raw)
    except ValueError as exc:
        report.drop(raw, str(exc))
        return report
    for item in items:
        if hasattr(item, "tolist"):
            item = item.tolist()
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            report.drop(item, "not a [start, end] pair")
            continue
        try:
            start, end = to_seconds(item[0]), to_seconds(item[1])
        except ValueError as exc:
            report.drop(item, str(exc))
            continue
        if start < 0 or end < 0:
            report.drop(item, "negative time")
            continue
        if end <= start:
            report.drop(item, "end is not after start")
            continue
        if duration is not None and duration > 0:
            if start >= duration:
                report.drop(item, f"starts after the end of the video ({duration:.3f}s)")
                continue
            if end > duration:
                report.clamped.append({"clip": _jsonable(item), "to": [start, duration]})
                end = duration
        report.spans.append((start, end))
    return report


def split_span(start: float, end: float, min_length: float, max_length: float) -> list[Span]:
    """video2dataset's rule: full max_length pieces, plus the remainder when longer than min_length."""
    length = end - start
    n_full = int(length // max_length) if max_length > 0 else 0
    pieces = [(start + i * max_length, start + (i + 1) * max_length) for i in range(n_full)]
    remainder_start = start + n_full * max_length
    remainder = end - remainder_start
    if remainder > 1e-9 and remainder >= min_length:
        pieces.append((remainder_start, end))
    return pieces


def apply_lengths(report: SpanReport, min_length: float, max_length: float, strategy: str) -> None:
    """Drop spans shorter than min_length and cut long ones to max_length (all pieces or the first)."""
    kept: list[Span] = []
    for start, end in report.spans:
        if end - start < min_length:
            report.drop([start, end], f"shorter than min_length {min_length:g}s")
            continue
        pieces = split_span(start, end, min_length, max_length)
        kept += pieces[:1] if strategy == "first" else pieces
    report.spans = kept


def snap_inward(spans: list[Span], keyframes: list[float], report: SpanReport) -> list[Span]:
    """keyframe_adjusted: the first and last keyframe inside each span (video2dataset's rule)."""
    out: list[Span] = []
    for start, end in spans:
        inside = [k for k in keyframes if start - 1e-6 <= k <= end + 1e-6]
        if len(inside) >= 2 and inside[-1] > inside[0]:
            out.append((inside[0], inside[-1]))
        else:
            report.drop([start, end], "fewer than two keyframes inside the span")
    return out


def snap_start_back(spans: list[Span], keyframes: list[float]) -> list[Span]:
    """low precision: start on the last keyframe at or before the start, so a stream copy is clean."""
    if not keyframes:
        return spans
    ordered = sorted(keyframes)
    out: list[Span] = []
    for start, end in spans:
        i = bisect.bisect_right(ordered, start + 1e-6) - 1
        out.append((ordered[i] if i >= 0 else start, end))
    return out
