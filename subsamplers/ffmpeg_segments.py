"""Many clips, one decoder, one encoder: the layout for several ordered, non-overlapping clips.

Opening one decoder and one encoder per clip (``ffmpeg_command``'s per-clip layout) costs about
20 MB of RAM per clip at 720p, so a video cut into dozens of scenes would need a gigabyte. Here
the source is decoded once, from the first clip's start to the last clip's end, into ONE encoder
per member whose output the segment muxer cuts into files at forced keyframes (video2dataset's
idea). Unlike video2dataset, frames between clips are dropped by ``select`` right after ``fps``
(never scaled or encoded) except the first frame of each gap, which opens a throw-away segment
so the gap's audio does not leak into the clip before it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ffmpeg

from subsamplers.clip_spans import Span
from subsamplers.ffmpeg_command import Job, PlannedOutput, audio_options, clip_metadata, finish, video_options
from subsamplers.ffmpeg_plan import TranscodePlan

_SEGMENT_FORMATS = {"mp4": "mp4", "mov": "mov", "m4v": "mp4", "m4a": "ipod"}
AAC_FRAME = 1024


def _audio_rate(plan: TranscodePlan) -> float:
    if plan.audio_rate:
        return float(plan.audio_rate)
    audio = next((s for s in plan.probe.raw.get("streams", []) if s.get("codec_type") == "audio"), {})
    return float(audio.get("sample_rate") or 8000)


def _min_step(plan: TranscodePlan) -> float:
    """The shortest interval in which each boundary is sure to see its own frame and audio packet."""
    rate = plan.fps or plan.probe.fps or 0
    step = 1.5 / rate if rate > 0 else 0.1
    if plan.probe.has_audio:
        step = max(step, 2.0 * AAC_FRAME / _audio_rate(plan))
    return step


def segments_fit(plan: TranscodePlan, members: list[tuple[str, str]]) -> bool:
    """Ordered, non-overlapping, not-too-short clips, re-encoded into mp4/m4a members."""
    spans = plan.spans
    if not spans or len(spans) < 2 or not plan.video_reencode() or plan.first_frame or not plan.probe.has_video:
        return False
    if plan.keyframes_only or not (plan.fps or plan.probe.fps):
        return False
    if any(ext not in _SEGMENT_FORMATS or kind == "img" for ext, kind in members):
        return False
    step = _min_step(plan)
    ordered = all(spans[i][1] <= spans[i + 1][0] + 1e-9 for i in range(len(spans) - 1))
    return ordered and all(end - start >= step for start, end in spans)


def _boundaries(relative: list[Span], step: float) -> tuple[list[float], list[int]]:
    """Segment start times after the first, and which segment index holds each clip.

    A gap shorter than ``step`` is closed (its few frames are dropped, its audio stays with the
    clip before); a longer one becomes its own segment, thrown away after the run.
    """
    times: list[float] = []
    clip_segments = [0]
    for (_, end), (start, _) in zip(relative, relative[1:], strict=False):
        if start - end >= step:
            times.append(end)
        times.append(start)
        clip_segments.append(len(times))
    return times, clip_segments


def _select(relative: list[Span], gap_starts: list[float]) -> str:
    keep = [f"gte(t,{start:.6f})*lt(t,{end:.6f})" for start, end in relative]
    # the first frame of each long gap: it carries the keyframe that opens the throw-away segment
    keep += [f"gte(t,{g:.6f})*lt(prev_t,{g:.6f})" for g in gap_starts]
    return "+".join(keep)


def segment_job(plan: TranscodePlan, members: list[tuple[str, str]]) -> Job:
    sample = plan.sample
    spans = list(plan.spans or [])
    base, last = spans[0][0], spans[-1][1]
    relative = [(start - base, end - base) for start, end in spans]
    times, clip_segments = _boundaries(relative, _min_step(plan))
    starts = {round(start, 6) for start, _ in relative}
    gap_starts = [t for t in times if round(t, 6) not in starts]
    cuts = ",".join(f"{t:.6f}" for t in times)
    src = ffmpeg.input(f"file:{Path(sample.path).resolve()}", err_detect="ignore_err", ss=f"{base:.6f}", t=f"{last - base:.6f}")
    video = src.video
    if plan.fps:
        video = video.filter("fps", fps=plan.fps)
    video = video.filter("select", _select(relative, gap_starts))  # before any scaling
    for f in plan.video_filters:
        video = video.filter(f.name, *f.args, **f.kwargs)
    tmp = Path(sample.tmp_dir)
    tmp.mkdir(parents=True, exist_ok=True)
    stem = sample.key.replace("%", "%%")
    planned = [PlannedOutput(f"{sample.key}_{i:05d}", metadata=clip_metadata(plan, span)) for i, span in enumerate(spans)]
    renames: list[tuple[Path, Path]] = []
    outputs = []
    for ext, kind in members:
        pattern = tmp / f"{stem}.seg%05d.{ext}"
        for output, segment in zip(planned, clip_segments, strict=True):
            output.media[ext] = tmp / f"{output.key}.{ext}"
            renames.append((tmp / f"{sample.key}.seg{segment:05d}.{ext}", output.media[ext]))
        opts: dict[str, Any] = {
            "f": "segment", "segment_format": _SEGMENT_FORMATS[ext], "reset_timestamps": 1,
            "segment_format_options": "movflags=+faststart", "segment_times": cuts,
        }
        parts = []
        if kind == "av":
            parts.append(video)
            opts.update(video_options(plan))
            opts["fps_mode"] = "passthrough"  # never fill the dropped stretches with copies
            opts["force_key_frames"] = cuts
        if plan.probe.has_audio:
            parts.append(src["a:0"])
            opts.update(audio_options(plan, ext))
            if opts.get("c:a") == "copy":
                opts["c:a"] = plan.config.encoding.audio_codec  # a copy would cut on packet edges only
        outputs.append(ffmpeg.output(*parts, f"file:{pattern}", **opts))
    job = finish(outputs, planned, plan)
    job.renames = renames
    job.scratch = [tmp / f"{sample.key}.seg{i:05d}.{ext}" for i in range(len(times) + 1) for ext, _ in members]
    return job
