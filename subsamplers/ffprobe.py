"""FFProbeSubsampler: ``video_metadata`` in the json, ffprobe's whole answer as video2dataset writes it.

It reuses the worker's probe when that was ffprobe; when the worker read an MP4 header instead
(``ProbeInfo.complete`` False), this subsampler runs ffprobe once itself. ``extract_keyframes``
costs a second (demux-only) ffprobe pass, and the keyframes it finds are kept on the plan for
keyframe-aware clipping.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from curation.probe import ProbeError, ProbeInfo, probe
from subsamplers.base import SampleInput, SampleSubsampler, SubsamplerArgs, SubsamplerError
from subsamplers.ffmpeg_plan import TranscodePlan


class FFProbeArgs(SubsamplerArgs):
    extract_keyframes: bool = False


def video_metadata(info: ProbeInfo) -> dict[str, Any]:
    meta: dict[str, Any] = copy.deepcopy({k: info.raw[k] for k in ("streams", "format") if k in info.raw})
    meta.update(
        duration=info.duration, fps=info.fps, width=info.width, height=info.height,
        video_codec=info.video_codec, audio_codec=info.audio_codec,
    )
    return meta


def full_probe(sample: SampleInput, timeout: float) -> ProbeInfo:
    """ffprobe's whole answer for the sample (the worker's own probe when it already was ffprobe's)."""
    if sample.probe.complete:
        return sample.probe
    try:
        return probe(sample.path, timeout)
    except ProbeError as exc:
        raise SubsamplerError(str(exc)) from None


class FFProbeSubsampler(SampleSubsampler):
    name: ClassVar[str] = "FFProbeSubsampler"
    stage: ClassVar[int] = 10
    Args: ClassVar[type[SubsamplerArgs]] = FFProbeArgs

    def contribute(self, plan: TranscodePlan, sample: SampleInput) -> None:
        args: FFProbeArgs = self.args  # type: ignore[assignment]
        meta = video_metadata(full_probe(sample, plan.timeout("ffprobe")))
        if args.extract_keyframes and sample.probe.has_video and not sample.probe.is_image:
            stamps = list(plan.ensure_keyframes())
            if sample.probe.duration:
                stamps.append(sample.probe.duration)  # as video2dataset: the end closes the last GOP
            meta["keyframe_timestamps"] = stamps
        plan.metadata["video_metadata"] = meta
