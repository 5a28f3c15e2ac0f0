"""FrameSubsampler: lower the frame rate (fps), keep keyframes only, or keep the first frame as a jpg.

Keyframes only is a packet filter on a stream copy (nothing decoded) unless the frames are
resized or resampled anyway, then the decoder skips non-keyframes.

It only records the wish; ffmpeg_command puts the ``fps`` filter first in the chain, so dropped
frames are never scaled or encoded.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import model_validator

from subsamplers.base import SampleInput, SampleSubsampler, SubsamplerArgs
from subsamplers.ffmpeg_plan import TranscodePlan


class FrameArgs(SubsamplerArgs):
    frame_rate: float | None = None
    downsample_method: Literal["fps", "keyframe", "first_frame"] = "fps"

    @model_validator(mode="after")
    def _rate(self) -> FrameArgs:
        if self.downsample_method == "fps" and (self.frame_rate is None or self.frame_rate <= 0):
            raise ValueError("frame_rate must be > 0 with downsample_method fps")
        return self


class FrameSubsampler(SampleSubsampler):
    name: ClassVar[str] = "FrameSubsampler"
    stage: ClassVar[int] = 30
    Args: ClassVar[type[SubsamplerArgs]] = FrameArgs

    def contribute(self, plan: TranscodePlan, sample: SampleInput) -> None:
        args: FrameArgs = self.args  # type: ignore[assignment]
        if not sample.probe.has_video or sample.probe.is_image:
            return
        if args.downsample_method == "first_frame":
            plan.first_frame = True
        elif args.downsample_method == "keyframe":
            plan.keyframes_only = True
        else:
            source = sample.probe.fps
            # never invent frames: a source already at or below the rate keeps its frames
            if source is None or source > float(args.frame_rate or 0) + 1e-6:
                plan.fps = args.frame_rate
