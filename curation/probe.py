"""The one place that learns what a media file is: ffprobe with a timeout, or an MP4's own header.

``probe`` always runs ffprobe; ``probe_media`` (the worker's) first reads an MP4/MOV's ``moov``
box in-process (``curation.mp4_header``), which answers as ffprobe would for the fields the chain
decides on in ~1 ms instead of an ~70 ms ffprobe launch, and runs ffprobe for anything else.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from curation.mp4_header import read_mp4_header


class ProbeError(Exception):
    """The file is not readable media (or ffprobe timed out)."""


@dataclass
class ProbeInfo:
    duration: float | None
    width: int | None
    height: int | None
    fps: float | None
    video_codec: str | None
    audio_codec: str | None
    format_name: str | None
    is_image: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    complete: bool = True  # raw is ffprobe's whole answer (False: only the fields the chain decides on)

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


_IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "gif", "tiff_pipe"}


def _rate(text: str | None) -> float | None:
    try:
        value = float(Fraction(text)) if text else None
    except (ValueError, ZeroDivisionError):
        return None
    return value if value else None


def probe(path: Path | str, timeout: float = 30.0) -> ProbeInfo:
    """Run ffprobe on a local file; raise ProbeError with a one-line reason when it is not media."""
    path = Path(path)
    if not path.exists():
        raise ProbeError(f"file not found: {path}")
    if path.stat().st_size == 0:
        raise ProbeError("empty file (0 bytes)")
    cmd = [
        "ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
        "-i", f"file:{path.resolve()}",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ProbeError(f"ffprobe timed out after {timeout:g}s") from exc
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ProbeError(f"not a media file: {message[-1] if message else 'ffprobe failed'}")
    return probe_info(json.loads(proc.stdout or b"{}"))


def probe_media(path: Path | str, timeout: float = 30.0) -> ProbeInfo:
    """The header of a plain MP4/MOV read in-process, else ffprobe (see the module docstring)."""
    header = read_mp4_header(path)
    if header is None:
        return probe(path, timeout)
    return probe_info(header, complete=False)


def probe_info(data: dict[str, Any], complete: bool = True) -> ProbeInfo:
    """ProbeInfo from an ffprobe-shaped answer; ProbeError when it holds no audio or video."""
    streams = data.get("streams", [])
    fmt = data.get("format", {})
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise ProbeError("no audio or video stream")
    format_name = fmt.get("format_name")
    is_image = bool(format_name in _IMAGE_FORMATS or (video and video.get("codec_name") in {"mjpeg", "png", "webp", "bmp"} and not audio and fmt.get("duration") in (None, "N/A")))
    duration = _float(fmt.get("duration")) or (_float(video.get("duration")) if video else None)
    return ProbeInfo(
        duration=None if is_image else duration,
        width=int(video["width"]) if video and video.get("width") else None,
        height=int(video["height"]) if video and video.get("height") else None,
        fps=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")) if video else None,
        video_codec=video.get("codec_name") if video else None,
        audio_codec=audio.get("codec_name") if audio else None,
        format_name=format_name,
        is_image=is_image,
        raw=data,
        complete=complete,
    )


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
