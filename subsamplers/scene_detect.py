"""Scene cuts from ffmpeg's scene score: one decode-only pass on a small copy of the picture.

PySceneDetect (video2dataset's detector) is optional and imported lazily; ffmpeg's ``scene``
score (0..1) is the default so cut detection needs nothing beyond ffmpeg.
"""

from __future__ import annotations

import re
from pathlib import Path

from subsamplers.ffmpeg_runner import run_tool

_FRAME = re.compile(r"pts_time:(?P<t>[-0-9.]+)")
_SCORE = re.compile(r"lavfi\.scene_score=(?P<s>[0-9.]+)")


def ffmpeg_cut_times(path: Path, threshold: float, timeout: float) -> list[float]:
    """Times (seconds from the start) of frames whose scene score exceeds ``threshold`` (0..1)."""
    graph = f"scale=160:-2,select='gt(scene\\,{threshold:.4f})',metadata=print"
    argv = [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info", "-err_detect", "ignore_err",
        "-i", f"file:{Path(path).resolve()}", "-map", "0:v:0", "-an", "-sn", "-vf", graph, "-f", "null", "-",
    ]
    stderr = run_tool(argv, timeout, "ffmpeg (scene detection)")
    times: list[float] = []
    pending: float | None = None
    for line in stderr.splitlines():
        frame = _FRAME.search(line)
        if frame:
            pending = float(frame.group("t"))
            continue
        if pending is not None and _SCORE.search(line):
            times.append(pending)
            pending = None
    return times


def pyscenedetect_cut_times(path: Path, threshold: float, min_scene_len: int) -> list[float]:
    """PySceneDetect's ContentDetector (only if installed)."""
    try:
        from scenedetect import ContentDetector, SceneManager, open_video
    except ImportError as exc:
        raise RuntimeError("detector 'pyscenedetect' needs the scenedetect package") from exc
    video = open_video(str(path))
    manager = SceneManager()
    manager.add_detector(ContentDetector(threshold=threshold, min_scene_len=min_scene_len))
    manager.detect_scenes(video=video)
    return [start.get_seconds() for start, _ in manager.get_scene_list(start_in_scene=True)[1:]]


def scenes_from_cuts(cut_frames: list[int], total_frames: int, min_scene_len: int) -> list[list[int]]:
    """[[start_frame, end_frame), ...] covering the video; cuts closer than min_scene_len are ignored."""
    bounds = [0]
    for frame in sorted(set(cut_frames)):
        if frame - bounds[-1] >= min_scene_len and total_frames - frame >= 1:
            bounds.append(frame)
    bounds.append(max(total_frames, bounds[-1] + 1))
    return [[bounds[i], bounds[i + 1]] for i in range(len(bounds) - 1)]
