"""FFProbeSubsampler: ``video_metadata`` in the json, from the probe the worker already ran.

Only ``extract_keyframes`` costs a second (demux-only) ffprobe pass, and the keyframes it finds
are kept on the plan for keyframe-aware clipping.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from subsamplers.base import SampleInput, SampleSubsampler, SubsamplerArgs
from subsamplers.ffmpeg_plan import TranscodePlan


class FFProbeArgs(SubsamplerArgs):
    extract_keyframes: bool = False


def video_metadata(sample: SampleInput) -> dict[str, Any]:
    probe = sample.probe
    meta: dict[str, Any] = copy.deepcopy({k: probe.raw[k] for k in ("streams", "format") if k in probe.raw})
    meta.update(
        duration=probe.duration, fps=probe.fps, width=probe.width, height=probe.height,
        video_codec=probe.video_codec, audio_codec=probe.audio_codec,
    )
    return meta


class FFProbeSubsampler(SampleSubsampler):
    name: ClassVar[str] = "FFProbeSubsampler"
    stage: ClassVar[int] = 10
    Args: ClassVar[type[SubsamplerArgs]] = FFProbeArgs

    def contribute(self, plan: TranscodePlan, sample: SampleInput) -> None:
        args: FFProbeArgs = self.args  # type: ignore[assignment]
        meta = video_metadata(sample)
        if args.extract_keyframes and sample.probe.has_video and not sample.probe.is_image:
            stamps = list(plan.ensure_keyframes())
            if sample.probe.duration:
                stamps.append(sample.probe.duration)  # as video2dataset: the end closes the last GOP
            meta["keyframe_timestamps"] = stamps
        plan.metadata["video_metadata"] = meta
