"""ClippingSubsampler: which spans of the source become output clips, and how precisely they are cut.

Runs last among the contributions (it must know whether the video is re-encoded anyway): with a
re-encode every precision cuts frame-accurately for free; with a stream copy, ``low`` starts each
clip on the keyframe at or before its start and ``keyframe_adjusted`` shrinks it to the keyframes
inside it. Broken, too short or out-of-range spans are dropped or clamped and recorded.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from subsamplers.base import SampleInput, SampleSubsampler, SubsamplerArgs, SubsamplerError
from subsamplers.clip_spans import apply_lengths, parse_spans, snap_inward, snap_start_back
from subsamplers.ffmpeg_plan import TranscodePlan


class ClippingArgs(SubsamplerArgs):
    min_length: float = Field(0.0, ge=0)
    max_length: float = Field(999999.0, gt=0)
    max_length_strategy: Literal["all", "first"] = "all"
    precision: Literal["low", "keyframe_adjusted", "exact"] = "low"


class ClippingSubsampler(SampleSubsampler):
    name: ClassVar[str] = "ClippingSubsampler"
    stage: ClassVar[int] = 60
    Args: ClassVar[type[SubsamplerArgs]] = ClippingArgs

    def contribute(self, plan: TranscodePlan, sample: SampleInput) -> None:
        args: ClippingArgs = self.args  # type: ignore[assignment]
        if sample.probe.is_image or plan.raw_clips is None:
            return
        report = parse_spans(plan.raw_clips, sample.probe.duration)
        apply_lengths(report, args.min_length, args.max_length, args.max_length_strategy)
        spans = report.spans
        plan.precision = args.precision
        if spans and sample.probe.has_video:
            if args.precision == "keyframe_adjusted":
                spans = snap_inward(spans, plan.ensure_keyframes(), report)
                for start, end in [s for s in spans if s[1] - s[0] < args.min_length]:
                    report.drop([start, end], f"shorter than min_length {args.min_length:g}s on keyframes")
                spans = [s for s in spans if s[1] - s[0] >= args.min_length]
            elif args.precision == "low" and not plan.video_reencode_for_clips():
                spans = snap_start_back(spans, plan.ensure_keyframes())
        if report.dropped:
            plan.metadata["clips_dropped"] = report.dropped
        if report.clamped:
            plan.metadata["clips_clamped"] = report.clamped
        if not spans:
            reasons = "; ".join(sorted({d["reason"] for d in report.dropped})) or "the clip list is empty"
            raise SubsamplerError(f"no usable clip: {reasons}")
        plan.spans = spans
