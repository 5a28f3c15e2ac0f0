"""Per-frame-pair signals (optical flow, frame difference) on small gray frames piped from ffmpeg.

ffmpeg decodes, drops frames to ``target_fps`` and downscales before anything reaches Python, so
a 10-minute 1080p video costs one decode and a few hundred tiny frames. Frames are read from the
pipe one at a time: memory holds two frames, whatever the video's length. The per-pair values
are kept with their times so each output clip gets its own summary (mean, max, per second).
"""

from __future__ import annotations

import math
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curation.probe import ProbeInfo
from subsamplers.base import SubsamplerError


def frame_size(probe: ProbeInfo, short_side: int) -> tuple[int, int]:
    """(width, height) with the short side at ``short_side`` (never upscaled), aspect kept.

    A 90°-rotated stream is decoded upright by ffmpeg, so its width and height swap.
    """
    width, height = probe.width or short_side, probe.height or short_side
    if _rotated(probe):
        width, height = height, width
    scale = min(1.0, short_side / max(1, min(width, height)))
    return max(2, round(width * scale)), max(2, round(height * scale))


def _rotated(probe: ProbeInfo) -> bool:
    for stream in probe.raw.get("streams", []):
        if stream.get("codec_type") != "video":
            continue
        rotation = stream.get("tags", {}).get("rotate")
        for side in stream.get("side_data_list", []) or []:
            rotation = side.get("rotation", rotation)
        try:
            return abs(int(float(rotation or 0))) % 180 == 90
        except (TypeError, ValueError):
            return False
    return False


def gray_frames(path: Path, fps: float, size: tuple[int, int], timeout: float) -> Iterator[np.ndarray]:
    """Yield ``size`` gray uint8 frames at ``fps`` from the first video stream of ``path``.

    One ffmpeg child (argv, no shell) writes raw frames to a pipe; a watchdog kills it after
    ``timeout`` seconds. Undecodable frames are skipped by ffmpeg; no frame at all is an error.
    """
    width, height = size
    graph = f"fps={fps:g},scale={width}:{height}:flags=area,format=gray"
    argv = [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-err_detect", "ignore_err",
        "-i", f"file:{Path(path).resolve()}", "-map", "0:v:0", "-an", "-sn", "-dn",
        "-vf", graph, "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1",
    ]
    frame_bytes = width * height
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        except OSError as exc:
            raise SubsamplerError(f"ffmpeg (frame analysis) could not start: {exc.strerror or exc}") from None
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            proc.kill()

        watchdog = threading.Timer(timeout, kill)
        watchdog.daemon = True
        watchdog.start()
        count = 0
        try:
            assert proc.stdout is not None
            while True:
                data = proc.stdout.read(frame_bytes)
                if len(data) < frame_bytes:
                    break
                count += 1
                yield np.frombuffer(data, np.uint8).reshape(height, width)
            proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if expired.is_set() and proc.returncode != 0:  # (a watchdog firing just after a clean exit is no timeout)
            raise SubsamplerError(f"ffmpeg (frame analysis) timed out after {timeout:g}s")
        if count == 0:
            errors.seek(0)
            lines = [line.strip() for line in errors.read().decode("utf-8", "replace").splitlines() if line.strip()]
            raise SubsamplerError(f"ffmpeg (frame analysis) decoded no frame: {lines[-1] if lines else f'exit status {proc.returncode}'}")


@dataclass
class PairSeries:
    """One value per consecutive frame pair, at the time of the pair's second frame (seconds)."""

    fps: float
    size: tuple[int, int]
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, time: float, value: float) -> None:
        self.times.append(time)
        self.values.append(value)

    def indices(self, span: tuple[float, float] | None) -> list[int]:
        """Pairs whose two frames both lie in ``span`` (all pairs when None)."""
        if span is None:
            return list(range(len(self.times)))
        start, end = span
        step = 1.0 / self.fps
        eps = 1e-6
        return [i for i, t in enumerate(self.times) if t - step >= start - eps and t <= end + eps]

    def summary(self, span: tuple[float, float] | None) -> dict[str, Any]:
        """mean / max over the pairs, and the mean per second (from the span's start; null when empty)."""
        chosen = self.indices(span)
        origin = span[0] if span is not None else 0.0
        values = [self.values[i] for i in chosen]
        buckets: dict[int, list[float]] = {}
        for i in chosen:
            second = max(0, math.ceil(self.times[i] - origin - 1e-6) - 1)
            buckets.setdefault(second, []).append(self.values[i])
        seconds = max(buckets, default=-1) + 1
        per_second = [_round(sum(buckets[s]) / len(buckets[s])) if s in buckets else None for s in range(seconds)]
        return {
            "mean": _round(sum(values) / len(values)) if values else None,
            "max": _round(max(values)) if values else None,
            "per_second": per_second,
            "pairs": len(values),
            "fps": self.fps,
            "size": list(self.size),
        }


def _round(value: float) -> float:
    return round(float(value), 5)


def output_span(metadata: dict[str, Any]) -> tuple[float, float] | None:
    """The source span of one output (a clip's ``clips`` record), or None for the whole video."""
    clips = metadata.get("clips")
    if isinstance(clips, list) and len(clips) == 1 and isinstance(clips[0], (list, tuple)) and len(clips[0]) == 2:
        return float(clips[0][0]), float(clips[0][1])
    return None


def analysis_fps(target_fps: float | None, probe: ProbeInfo) -> float:
    """``target_fps`` (None: the source's rate), never above the source's (duplicates read as no motion)."""
    if target_fps is None:
        return probe.fps or 25.0
    return min(target_fps, probe.fps) if probe.fps else target_fps
