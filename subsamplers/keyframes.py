"""Keyframe timestamps of a file's first video stream (a demux-only ffprobe pass, no decoding).

Needed only by keyframe-aware clipping and FFProbeSubsampler(extract_keyframes); the result is
cached on the plan so one sample never pays for it twice.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from subsamplers.base import SubsamplerError


def keyframe_timestamps(path: Path, timeout: float) -> list[float]:
    argv = [
        "ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,dts_time,flags",
        "-of", "csv=p=0", f"file:{Path(path).resolve()}",
    ]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SubsamplerError(f"ffprobe (keyframes) timed out after {timeout:g}s") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SubsamplerError(f"ffprobe (keyframes) failed: {lines[-1] if lines else proc.returncode}")
    times: list[float] = []
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        fields = line.strip().split(",")
        if len(fields) < 3 or "K" not in fields[2]:
            continue
        value = fields[0] if fields[0] not in ("", "N/A") else fields[1]
        try:
            times.append(float(value))
        except ValueError:
            continue
    return sorted(set(times))
