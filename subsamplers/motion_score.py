"""MotionScoreSubsampler: a cheap motion score for filtering, without OpenCV.

The mean absolute difference between consecutive gray frames, decoded by ffmpeg at
``target_fps`` and ``downsample_size`` (short side): a static shot scores ~0, a pan or a busy
scene several gray levels. Every output's json gets ``motion`` (``mean``, ``max``, ``per_second``
over its own span), in gray levels (0–255) per frame step; filter on it with e.g.
``filters: ["motion.mean >= 0.5"]``.
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

import numpy as np
from pydantic import Field

from subsamplers.base import SampleInput, SampleOutput, SampleSubsampler, SubsamplerArgs
from subsamplers.ffmpeg_plan import TranscodePlan
from subsamplers.frame_signals import PairSeries, analysis_fps, frame_size, gray_frames, output_span


class MotionScoreArgs(SubsamplerArgs):
    target_fps: float = Field(4.0, gt=0, le=120)
    downsample_size: int = Field(32, ge=4, le=4096)  # short side, pixels


class MotionScoreSubsampler(SampleSubsampler):
    name: ClassVar[str] = "MotionScoreSubsampler"
    stage: ClassVar[int] = 70  # after ClippingSubsampler: the spans are known
    Args: ClassVar[type[SubsamplerArgs]] = MotionScoreArgs

    def contribute(self, plan: TranscodePlan, sample: SampleInput) -> None:
        args: MotionScoreArgs = self.args  # type: ignore[assignment]
        probe = sample.probe
        if not probe.has_video or probe.is_image:
            return
        fps = analysis_fps(args.target_fps, probe)
        size = frame_size(probe, args.downsample_size)
        series = PairSeries(fps=round(fps, 6), size=size)
        previous: np.ndarray | None = None
        with contextlib.closing(gray_frames(sample.path, fps, size, plan.timeout("ffmpeg"))) as frames:
            for index, frame in enumerate(frames):
                current = frame.astype(np.int16)
                if previous is not None:
                    series.add(index / fps, float(np.abs(current - previous).mean()))
                previous = current

        def finish(output: SampleOutput) -> None:
            output.metadata["motion"] = series.summary(output_span(output.metadata))

        plan.finishers.append(finish)
