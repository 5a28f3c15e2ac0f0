"""Compiles a chain of sample subsamplers into ONE ffmpeg invocation per source video.

Each subsampler writes its wish into a ``TranscodePlan`` (clip spans, frame rate, scale/crop/pad,
audio rate, metadata); ``transform`` compiles the plan (``subsamplers.ffmpeg_command``) and runs
it once: one decode, frames dropped (fps, clip gaps) before they are scaled, one encode per
output clip. Several ordered clips share one decoder and one encoder (``ffmpeg_segments``);
otherwise each clip is an input-seeked decode of just its span. When nothing needs a re-encode
the streams are copied, and when nothing changes at all the source file passes through.
Analysis passes that must finish before the clips are known (keyframes, scene cuts) run before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.config import Config
from subsamplers.base import SampleInput, SampleOutput, SampleSubsampler, SubsamplerError
from subsamplers.clip_spans import Span

# codecs an mp4/m4a can hold as they are, so a stream copy is possible
MP4_VIDEO_CODECS = {"h264", "hevc", "mpeg4", "av1", "vp9"}
MP4_AUDIO_CODECS = {"aac", "mp3", "alac", "ac3", "eac3", "opus"}


@dataclass
class VideoFilter:
    """One ffmpeg video filter (name, positional args, keyword args), applied after frame dropping."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TranscodePlan:
    """What the chain asks of one source sample; filled by ``contribute`` calls in stage order."""

    sample: SampleInput
    config: Config
    raw_clips: Any = None  # clip column, or the detected scenes when cuts_are_clips
    spans: list[Span] | None = None  # decided clips in source seconds; None = the whole video
    precision: str = "exact"  # low | keyframe_adjusted | exact
    keyframes: list[float] | None = None  # cached keyframe timestamps (one ffprobe pass at most)
    fps: float | None = None  # FrameSubsampler: drop frames to this rate (before any scaling)
    keyframes_only: bool = False  # FrameSubsampler keyframe: decode keyframes only
    first_frame: bool = False  # FrameSubsampler first_frame: each output is one jpg
    video_filters: list[VideoFilter] = field(default_factory=list)  # scale/crop/pad, in order
    audio_rate: int | None = None
    audio_channels: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # merged into every output's json
    # called on each finished output: per-clip metadata and members of analysis passes (optical flow)
    finishers: list[Callable[[SampleOutput], None]] = field(default_factory=list)

    @property
    def probe(self) -> Any:
        return self.sample.probe

    def timeout(self, step: str) -> float:
        return self.config.reading.step_timeout(step)

    def ensure_keyframes(self) -> list[float]:
        if self.keyframes is None:
            from subsamplers.keyframes import keyframe_timestamps

            stamps = keyframe_timestamps(self.sample.path, self.timeout("ffprobe"))
            # packet times count from the container's start_time (1.4 s in MPEG-TS); clips count from 0
            try:
                offset = float(self.probe.raw.get("format", {}).get("start_time", 0) or 0)
            except (TypeError, ValueError):
                offset = 0.0
            self.keyframes = [round(t - offset, 6) for t in stamps]
        return self.keyframes

    # -- what must be re-encoded ----------------------------------------------------------------
    def video_changes(self) -> bool:
        """Whether any pixel is touched (keyframes_only alone is not: it copies keyframe packets)."""
        return bool(self.fps or self.video_filters or self.first_frame)

    def video_reencode_for_clips(self) -> bool:
        """Whether clips of this sample will be re-encoded whatever the precision."""
        return self.video_changes() or (self.probe.video_codec or "") not in MP4_VIDEO_CODECS

    def video_reencode(self) -> bool:
        """Copy only when nothing touches the pixels and the cut points are keyframes."""
        if self.video_changes():
            return True
        if self.spans is not None and self.precision == "exact":
            return True
        return (self.probe.video_codec or "") not in MP4_VIDEO_CODECS

    def audio_reencode(self, container_ext: str) -> bool:
        if self.audio_rate or self.audio_channels:
            return True
        if container_ext in {"m4a", "mp4", "mov"}:
            return (self.probe.audio_codec or "") not in MP4_AUDIO_CODECS
        return False


def media_extension(sample: SampleInput, config: Config) -> str:
    """The member extension for the sample's main modality (image sources are written as images)."""
    if sample.probe.is_image:
        return config.encode_formats.get("image", "jpg")
    if not sample.probe.has_video and "audio" in config.encode_formats:
        return config.encode_formats["audio"]
    return config.encode_formats.get("video", "mp4")


def _has_clips(raw: Any) -> bool:
    if raw is None:
        return False
    if isinstance(raw, str):
        return raw.strip() not in ("", "[]", "null")
    try:
        return len(raw) > 0
    except TypeError:
        return True


def effective_chain(sample: SampleInput, chain: list[SampleSubsampler]) -> list[SampleSubsampler]:
    """The chain in stage order, plus a default ClippingSubsampler when clips come without one.

    As in video2dataset, a clip column (or cuts_are_clips) clips even if the config does not
    list ClippingSubsampler.
    """
    from subsamplers.clipping import ClippingSubsampler

    chain = sorted(chain, key=lambda s: s.stage)
    wants_clips = _has_clips(sample.clips) or any(getattr(s.args, "cuts_are_clips", False) for s in chain)
    if wants_clips and not sample.probe.is_image and not any(isinstance(s, ClippingSubsampler) for s in chain):
        chain = sorted([*chain, ClippingSubsampler(ClippingSubsampler.Args())], key=lambda s: s.stage)
    return chain


def build_plan(sample: SampleInput, chain: list[SampleSubsampler], config: Config) -> TranscodePlan:
    plan = TranscodePlan(sample=sample, config=config, raw_clips=sample.clips)
    for subsampler in effective_chain(sample, chain):
        subsampler.contribute(plan, sample)
    return plan


def transform(sample: SampleInput, chain: list[SampleSubsampler], config: Config) -> list[SampleOutput]:
    """Apply the chain to one fetched sample; raise SubsamplerError to fail just this sample."""
    wants_audio_member = "audio" in config.encode_formats and sample.probe.has_audio and sample.probe.has_video
    if not chain and not _has_clips(sample.clips) and not wants_audio_member:
        return [SampleOutput(key=sample.key, media={media_extension(sample, config): sample.path})]
    plan = build_plan(sample, chain, config)
    from subsamplers.ffmpeg_command import compile_plan
    from subsamplers.ffmpeg_runner import count_decode_errors, run_ffmpeg

    job = compile_plan(plan)
    decode_errors = 0
    if job.argv:
        stderr = run_ffmpeg(job.argv, plan.timeout("ffmpeg"))
        decode_errors = count_decode_errors(stderr, job.input_components)
        job.settle()
    written = [out for out in job.outputs if all(_nonempty(path) for path in out.media.values())]
    if not written:
        raise SubsamplerError("ffmpeg wrote no output (undecodable input?)")
    failed = [out.metadata.get("clips", [[None]])[0] for out in job.outputs if out not in written]
    outputs: list[SampleOutput] = []
    for out in written:
        metadata = dict(plan.metadata)
        metadata.update(out.metadata)
        if job.argv:
            metadata["decode_errors"] = decode_errors
        if failed:
            metadata["clips_failed"] = failed  # clips whose span had no decodable frame
        outputs.append(SampleOutput(key=out.key, media=dict(out.media), metadata=metadata))
    return finish_outputs(plan, outputs)


def finish_outputs(plan: TranscodePlan, outputs: list[SampleOutput]) -> list[SampleOutput]:
    """Let analysis subsamplers add each output's own metadata (its span) and members."""
    for finisher in plan.finishers:
        for output in outputs:
            finisher(output)
    return outputs


def _nonempty(path: Path) -> bool:
    path = Path(path)
    return path.is_file() and path.stat().st_size > 0


__all__ = ["TranscodePlan", "VideoFilter", "build_plan", "finish_outputs", "media_extension", "transform"]
