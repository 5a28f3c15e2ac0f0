"""Duration, resolution and fps of a sample, from whatever its metadata holds.

``video_metadata`` (FFProbeSubsampler) may be ffprobe's own JSON (``streams``/``format``) or flat
keys; a metadata parquet may hold it as a struct or as JSON text; clipping adds ``clips``. Inspect
and the report read all of these through one function and treat anything absent as unknown.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

IMAGE_FORMATS = frozenset({"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe"})


@dataclass
class MediaProfile:
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None

    @property
    def empty(self) -> bool:
        return self.duration is None and self.width is None and self.height is None and self.fps is None


def decode(value: Any) -> Any:
    """A nested field as Python: JSON text (how parquet keeps mixed-type fields) is parsed."""
    if isinstance(value, (str, bytes)) and value[:1] in ("{", "[", b"{", b"["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def number(value: Any) -> float | None:
    """A positive finite number from 12, "12.5", "30000/1001"; None for "N/A", 0, garbage."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(Fraction(value)) if isinstance(value, str) and "/" in value else float(value)
    except (ValueError, ZeroDivisionError, TypeError):
        return None
    return result if result > 0 and result != float("inf") else None


def _first(data: dict[str, Any], *names: str) -> Any:
    return next((data[n] for n in names if data.get(n) not in (None, "", "N/A")), None)


def from_probe_json(data: Any) -> MediaProfile:
    """ffprobe-style (``streams``/``format``) or flat (``duration``, ``width``, ``fps``...) metadata."""
    data = decode(data)
    if not isinstance(data, dict):
        return MediaProfile()
    streams = decode(data.get("streams")) or []
    video = next((s for s in streams if isinstance(s, dict) and s.get("codec_type", "video") == "video"
                  and s.get("width")), {}) if isinstance(streams, list) else {}
    fmt = decode(data.get("format")) or {}
    fmt = fmt if isinstance(fmt, dict) else {}
    duration = number(_first(data, "duration")) or number(_first(fmt, "duration")) or number(_first(video, "duration"))
    width = number(_first(data, "width")) or number(_first(video, "width"))
    height = number(_first(data, "height")) or number(_first(video, "height"))
    fps = (number(_first(data, "fps", "frame_rate", "avg_frame_rate"))
           or number(_first(video, "avg_frame_rate")) or number(_first(video, "r_frame_rate")))
    if str(fmt.get("format_name", "")) in IMAGE_FORMATS:  # a still image: ffprobe's 25 fps means nothing
        duration = fps = None
    return MediaProfile(duration, int(width) if width else None, int(height) if height else None, fps)


def clip_seconds(clips: Any) -> float | None:
    """Total length of ``clips`` ([[start, end], ...] in seconds), the span a clip output covers."""
    clips = decode(clips)
    if not isinstance(clips, list) or not clips:
        return None
    total = 0.0
    for span in clips:
        if not isinstance(span, (list, tuple)) or len(span) != 2:
            return None
        start, end = number(span[0]) or 0.0, number(span[1])
        if end is None or end <= start:
            return None
        total += end - start
    return total


def sample_profile(meta: dict[str, Any], fields: tuple[str, ...] = ("video_metadata",)) -> MediaProfile:
    """The first of ``fields`` that says something, then flat keys, then ``clips`` for the duration."""
    profile = MediaProfile()
    for name in fields:
        if meta.get(name) is not None:
            profile = from_probe_json(meta[name])
            if not profile.empty:
                break
    if profile.empty:
        profile = from_probe_json({k: meta.get(k) for k in ("duration", "width", "height", "fps", "frame_rate")})
    if profile.duration is None:
        profile.duration = clip_seconds(meta.get("clips"))
    return profile


def ffprobe_profile(target: str, timeout: float = 30.0) -> MediaProfile:
    """Probe a path or ffmpeg URL (e.g. ``subfile,,start,..``); an empty profile when it fails."""
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-i", target]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except (subprocess.TimeoutExpired, OSError):
        return MediaProfile()
    if proc.returncode != 0:
        return MediaProfile()
    try:
        return from_probe_json(json.loads(proc.stdout or b"{}"))
    except ValueError:
        return MediaProfile()
