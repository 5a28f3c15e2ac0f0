"""Turns a TranscodePlan into one ffmpeg argv (built with ffmpeg-python) and the outputs it writes.

Two layouts, both one process per source:
- per clip (the whole video, one clip, overlapping clips, stream copies): one input per clip
  (``-ss start -t length -i file:SRC``, so each clip decodes only its own span, frame-accurately),
  each feeding its members: ``<key>.mp4`` (video with the source's audio), ``<key>.m4a`` (audio)
  or ``<key>.jpg`` (first frame);
- several ordered clips re-encoded: ``subsamplers.ffmpeg_segments`` (one decoder, one encoder).
The video chain is ``fps`` first (frames are dropped before anything else touches them), then
the resolution filters. Streams are copied when the plan asks for no change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ffmpeg

from subsamplers.base import SubsamplerError
from subsamplers.clip_spans import Span
from subsamplers.ffmpeg_plan import TranscodePlan

_AUDIO_ENCODERS = {"mp3": "libmp3lame", "wav": "pcm_s16le", "flac": "flac", "ogg": "libvorbis", "opus": "libopus"}
_MP4_FAMILY = {"mp4", "m4a", "mov", "m4v"}
INT_MAX = 2**31 - 1  # ffmpeg's bound for the max_pixels option


@dataclass
class PlannedOutput:
    key: str
    media: dict[str, Path] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    argv: list[str]  # empty: nothing to run (the source passes through)
    outputs: list[PlannedOutput]
    input_components: set[str] = field(default_factory=set)  # demuxer/decoder names, for error counting
    after: list[Callable[[], None]] = field(default_factory=list)  # run once ffmpeg succeeded

    def settle(self) -> None:
        """Give the written files their output names (segment layouts write numbered files)."""
        for step in self.after:
            step()


def _members(plan: TranscodePlan) -> list[tuple[str, str]]:
    """(extension, kind) per output member; kind is av (video + its audio), a (audio) or img."""
    probe, formats = plan.probe, plan.config.encode_formats
    members: list[tuple[str, str]] = []
    if probe.has_video and ("video" in formats or "audio" not in formats):
        if plan.first_frame:
            members.append((formats.get("image", "jpg"), "img"))
        else:
            members.append((formats.get("video", "mp4"), "av"))
    if probe.has_audio and "audio" in formats:
        members.append((formats["audio"], "a"))
    elif probe.has_audio and not probe.has_video:
        members.append((formats.get("video", "mp4"), "a"))
    if not members:
        raise SubsamplerError("nothing to write: the source has none of the streams in encode_formats")
    return members


def _input_components(plan: TranscodePlan) -> set[str]:
    # a demuxer logs under its full name ("mov,mp4,m4a,3gp,3g2,mj2"); the short names are muxers
    names: set[str] = {plan.probe.format_name or ""}
    for stream in plan.probe.raw.get("streams", []):
        names.add(stream.get("codec_name") or "")
    names.discard("")
    return names


def video_options(plan: TranscodePlan) -> dict[str, Any]:
    enc = plan.config.encoding
    opts: dict[str, Any] = {"c:v": enc.video_codec}
    for name in ("crf", "preset", "pix_fmt"):
        value = getattr(enc, name)
        if value is not None:
            opts[name] = value
    if plan.config.ffmpeg_threads is not None:
        opts["threads"] = plan.config.ffmpeg_threads
    if plan.keyframes_only:
        opts["fps_mode"] = "vfr"  # keyframes come at irregular times: never invent frames
    return opts


def audio_options(plan: TranscodePlan, ext: str) -> dict[str, Any]:
    if not plan.audio_reencode(ext) and ext in _MP4_FAMILY:
        return {"c:a": "copy"}
    enc = plan.config.encoding
    opts: dict[str, Any] = {"c:a": enc.audio_codec if ext in _MP4_FAMILY or ext == "aac" else _AUDIO_ENCODERS.get(ext, enc.audio_codec)}
    if enc.audio_bitrate:
        opts["b:a"] = enc.audio_bitrate
    if plan.audio_rate:
        opts["ar"] = plan.audio_rate
    if plan.audio_channels:
        opts["ac"] = plan.audio_channels
    return opts


def _filtered_video(plan: TranscodePlan, stream: Any) -> Any:
    if plan.fps:
        stream = stream.filter("fps", fps=plan.fps)
    for f in plan.video_filters:
        stream = stream.filter(f.name, *f.args, **f.kwargs)
    return stream


def _format_options(ext: str) -> dict[str, Any]:
    return {"movflags": "+faststart"} if ext in {"mp4", "mov", "m4v", "m4a"} else {}


def _passthrough(plan: TranscodePlan, members: list[tuple[str, str]]) -> bool:
    """Nothing to change: the source file itself is the output (no ffmpeg at all)."""
    return plan.spans is None and members == [(members[0][0], "av")] and not plan.video_changes() and not (
        plan.audio_rate or plan.audio_channels or plan.keyframes_only
    )


def _image_job(plan: TranscodePlan) -> Job:
    sample = plan.sample
    ext = plan.config.encode_formats.get("image", "jpg")
    if not plan.video_filters:
        return Job([], [PlannedOutput(sample.key, {ext: sample.path})])
    target = Path(sample.tmp_dir) / f"{sample.key}.{ext}"
    stream = _filtered_video(plan, ffmpeg.input(f"file:{Path(sample.path).resolve()}").video)
    out = ffmpeg.output(stream, f"file:{target}", **{"frames:v": 1, "update": 1, "q:v": 2})
    return finish([out], [PlannedOutput(sample.key, {ext: target})], plan)


def compile_plan(plan: TranscodePlan) -> Job:
    """The one ffmpeg command for this plan (or none), and the outputs it will write."""
    sample = plan.sample
    if plan.probe.is_image:
        return _image_job(plan)
    members = _members(plan)
    if _passthrough(plan, members):
        return Job([], [PlannedOutput(sample.key, {members[0][0]: sample.path})])
    from subsamplers.ffmpeg_segments import segment_job, segments_fit

    if segments_fit(plan, members):
        return segment_job(plan, members)
    return _per_clip_job(plan, members)


def finish(outputs: list[Any], planned: list[PlannedOutput], plan: TranscodePlan) -> Job:
    merged = ffmpeg.merge_outputs(*outputs)
    argv = merged.global_args("-hide_banner", "-nostdin", "-loglevel", "error").overwrite_output().compile()
    return Job(_with_input_options(argv, plan), planned, _input_components(plan))


def _with_input_options(argv: list[str], plan: TranscodePlan) -> list[str]:
    """Options for every decoder (input options: before each -i), and the filter graphs' threads.

    ``max_pixels``: the decoder itself refuses pictures over ``reading.max_pixels``, whatever size
    the container declared to the probe (a stream may also change size midway).
    """
    threads = plan.config.ffmpeg_threads
    decoder = ["-max_pixels", str(min(plan.config.reading.max_pixels, INT_MAX))]
    if threads is not None:
        decoder += ["-threads", str(threads)]
    out = [argv[0]] + (["-filter_threads", str(threads)] if threads is not None else [])
    for arg in argv[1:]:
        if arg == "-i":
            out += decoder
        out.append(arg)
    return out


def clip_metadata(plan: TranscodePlan, span: Span) -> dict[str, Any]:
    return {"clips": [[round(span[0], 6), round(span[1], 6)]], "original_key": plan.sample.key}


def _per_clip_job(plan: TranscodePlan, members: list[tuple[str, str]]) -> Job:
    """One input-seeked decode per clip (or one for the whole video), each feeding its own members."""
    sample = plan.sample
    source = f"file:{Path(sample.path).resolve()}"
    reencode_video = plan.video_reencode()
    spans: list[Span | None] = list(plan.spans) if plan.spans is not None else [None]
    tmp = Path(sample.tmp_dir)
    tmp.mkdir(parents=True, exist_ok=True)
    streams_out = []
    planned: list[PlannedOutput] = []
    for index, span in enumerate(spans):
        key = sample.key if span is None else f"{sample.key}_{index:05d}"
        input_opts: dict[str, Any] = {}
        if reencode_video:
            input_opts["err_detect"] = "ignore_err"
        if plan.keyframes_only and reencode_video:
            input_opts["skip_frame"] = "nokey"  # the decoder skips everything else
        if span is not None:
            start, length = span[0], span[1] - span[0]
            if not reencode_video:
                # a copy must land on the keyframe the span starts on (nudge past ffprobe's rounding)
                # and stop before the frame at its end (which may be the next clip's keyframe)
                nudge = 0.001
                start, length = start + nudge, max(length - nudge - 0.25 / (plan.probe.fps or 25.0), 0.001)
            input_opts["ss"] = f"{start:.6f}"
            input_opts["t"] = f"{length:.6f}"
        src = ffmpeg.input(source, **input_opts)
        output = PlannedOutput(key)
        if span is not None:
            output.metadata = clip_metadata(plan, span)
        for ext, kind in members:
            target = tmp / f"{key}.{ext}"
            output.media[ext] = target
            opts: dict[str, Any] = _format_options(ext)
            if kind == "img":
                stream = _filtered_video(plan, src.video)
                streams_out.append(ffmpeg.output(stream, f"file:{target}", **{"frames:v": 1, "update": 1, "q:v": 2}))
                continue
            parts = []
            if kind == "av":
                if reencode_video:
                    parts.append(_filtered_video(plan, src.video))
                    opts.update(video_options(plan))
                else:
                    parts.append(src["v:0"])
                    opts["c:v"] = "copy"
                    if plan.keyframes_only:  # keyframes without decoding anything
                        opts["bsf:v"] = "noise=drop=not(key)"
                    if span is not None:
                        opts["avoid_negative_ts"] = "make_zero"
                if plan.probe.has_audio:
                    parts.append(src["a:0"])
                    opts.update(audio_options(plan, ext))
            else:
                parts.append(src["a:0"])
                opts.update(audio_options(plan, ext))
            streams_out.append(ffmpeg.output(*parts, f"file:{target}", **opts))
        planned.append(output)
    return finish(streams_out, planned, plan)
