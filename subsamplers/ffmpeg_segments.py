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

import math
from fractions import Fraction
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


def _frame_rate(plan: TranscodePlan) -> float | None:
    """The constant rate the clips are cut at: the asked fps, or a constant-rate source's own rate.

    The ``fps`` filter is always in this layout: it fills holes (damaged or missing frames) with
    the previous frame, so every boundary sees its own frame and no clip can swallow the next
    one's keyframe. Variable-rate sources keep their timing in the per-clip layout instead.
    """
    if plan.fps:
        return float(plan.fps)
    video = next((s for s in plan.probe.raw.get("streams", []) if s.get("codec_type") == "video"), {})
    try:
        real, average = (float(Fraction(video.get(k) or "0")) for k in ("r_frame_rate", "avg_frame_rate"))
    except (ValueError, ZeroDivisionError):
        return None
    if real > 0 and average > 0 and abs(real - average) / real < 0.01 and real <= 240:
        return real
    return None


def _min_step(plan: TranscodePlan) -> float:
    """The shortest interval in which each boundary is sure to see its own frame and audio packet."""
    rate = _frame_rate(plan) or 0
    step = 1.5 / rate if rate > 0 else 0.1
    if plan.probe.has_audio:
        step = max(step, 2.0 * AAC_FRAME / _audio_rate(plan))
    return step


def segments_fit(plan: TranscodePlan, members: list[tuple[str, str]]) -> bool:
    """Ordered, non-overlapping, not-too-short clips, re-encoded into mp4/m4a members."""
    spans = plan.spans
    if not spans or len(spans) < 2 or not plan.video_reencode() or plan.first_frame or not plan.probe.has_video:
        return False
    if plan.keyframes_only or not _frame_rate(plan):
        return False
    if any(ext not in _SEGMENT_FORMATS or kind == "img" for ext, kind in members):
        return False
    step = _min_step(plan)
    ordered = all(spans[i][1] <= spans[i + 1][0] + 1e-9 for i in range(len(spans) - 1))
    return ordered and all(end - start >= step for start, end in spans)


def _boundaries(relative: list[Span], step: float) -> list[float]:
    """Segment start times after the first: every clip start, and the start of every long gap.

    A gap shorter than ``step`` is closed (its few frames are dropped, its audio stays with the
    clip before); a longer one becomes its own segment, thrown away after the run.
    """
    times: list[float] = []
    for (_, end), (start, _) in zip(relative, relative[1:], strict=False):
        if start - end >= step:
            times.append(end)
        times.append(start)
    return times


def _select(relative: list[Span], gap_starts: list[float]) -> str:
    keep = [f"gte(t,{start:.6f})*lt(t,{end:.6f})" for start, end in relative]
    # the first frame of each long gap: it carries the keyframe that opens the throw-away segment
    keep += [f"gte(t,{g:.6f})*lt(prev_t,{g:.6f})" for g in gap_starts]
    return "+".join(keep)


def claim_segments(segments: list[Path], clip_segments: list[int], targets: list[Path]) -> None:
    """Give segment files their clips' names and delete the throw-away gap segments.

    The ``fps`` filter fills holes, so every boundary gets its segment while the stream lasts:
    segment numbers follow the boundaries, and a clip past a truncated end is simply missing.
    """
    claimed = set()
    for index, target in zip(clip_segments, targets, strict=True):
        if index < len(segments) and segments[index].is_file():
            segments[index].replace(target)
            claimed.add(index)
    for index, path in enumerate(segments):
        if index not in claimed:
            path.unlink(missing_ok=True)


def segment_job(plan: TranscodePlan, members: list[tuple[str, str]]) -> Job:
    sample = plan.sample
    spans = list(plan.spans or [])
    rate = _frame_rate(plan) or 25.0
    base, last = spans[0][0], spans[-1][1]
    if not plan.fps:
        # start on the first source frame at or after the first clip's start: the frames stay on
        # the source's grid, and the first frame out is at 0, where the encoder counts time from
        base = math.ceil(base * rate - 1e-6) / rate
    relative = [(start - base, end - base) for start, end in spans]
    times = _boundaries(relative, _min_step(plan))
    clip_segments = [0] + [times.index(start) + 1 for start, _ in relative[1:]]
    starts = {round(start, 6) for start, _ in relative}
    gap_starts = [t for t in times if round(t, 6) not in starts]
    cuts = ",".join(f"{t:.6f}" for t in times)
    src = ffmpeg.input(f"file:{Path(sample.path).resolve()}", err_detect="ignore_err", ss=f"{base:.6f}", t=f"{last - base:.6f}")
    # start_time=0 pins the first frame at 0: the encoder counts forced-keyframe times from the
    # first frame, select from 0, and they must agree to the frame
    video = src.video.filter("fps", fps=rate, start_time=0)
    video = video.filter("select", _select(relative, gap_starts))  # before any scaling
    for f in plan.video_filters:
        video = video.filter(f.name, *f.args, **f.kwargs)
    tmp = Path(sample.tmp_dir)
    tmp.mkdir(parents=True, exist_ok=True)
    stem = sample.key.replace("%", "%%")
    planned = [PlannedOutput(f"{sample.key}_{i:05d}", metadata=clip_metadata(plan, span)) for i, span in enumerate(spans)]
    outputs = []
    claims: list[tuple[list[Path], list[Path]]] = []
    for ext, kind in members:
        for output in planned:
            output.media[ext] = tmp / f"{output.key}.{ext}"
        written = [tmp / f"{sample.key}.seg{i:05d}.{ext}" for i in range(len(times) + 1)]
        claims.append((written, [output.media[ext] for output in planned]))
        opts: dict[str, Any] = {
            "f": "segment", "segment_format": _SEGMENT_FORMATS[ext], "reset_timestamps": 1,
            "segment_format_options": "movflags=+faststart", "segment_times": cuts,
            # the mp4 inside handles the AAC priming with an edit list; shifting every stream
            # instead would start the first clip's video late
            "avoid_negative_ts": "disabled",
        }
        parts = []
        if kind == "av":
            parts.append(video)
            opts.update(video_options(plan))
            opts["fps_mode"] = "passthrough"  # never fill the dropped stretches with copies
            # no B-frames here: their decode delay puts each keyframe's dts before its pts (by
            # seconds across a dropped gap), and the muxer would then cut the audio that early
            opts["bf"] = 0
            # at most one forced keyframe per boundary, even if a frame passes two of them
            opts["force_key_frames"] = "expr:" + "+".join(f"gte(t,{t:.6f})*(isnan(prev_forced_t)+lt(prev_forced_t,{t:.6f}))" for t in times) if times else cuts
        if plan.probe.has_audio:
            parts.append(src["a:0"])
            opts.update(audio_options(plan, ext))
            if opts.get("c:a") == "copy":
                opts["c:a"] = plan.config.encoding.audio_codec  # a copy would cut on packet edges only
        outputs.append(ffmpeg.output(*parts, f"file:{tmp / f'{stem}.seg%05d.{ext}'}", **opts))
    job = finish(outputs, planned, plan)
    job.after = [
        lambda written=written, targets=targets: claim_segments(written, clip_segments, targets) for written, targets in claims
    ]
    return job
