"""ResolutionSubsampler: scale / centre-crop / centred-pad to a target size, never upscaling unless asked.

The output size is computed here from the probed size (rotation-aware), so it is known before
ffmpeg runs and always even (x264's yuv420p needs even sides).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import field_validator, model_validator

from subsamplers.base import SampleInput, SampleSubsampler, SubsamplerArgs, SubsamplerError
from subsamplers.ffmpeg_plan import TranscodePlan, VideoFilter

MODES = ("scale", "crop", "pad")


class ResolutionArgs(SubsamplerArgs):
    video_size: int = -1
    height: int = -1
    width: int = -1
    resize_mode: list[str] = ["scale"]
    allow_upscale: bool = False  # ours: video2dataset would upscale small videos

    @field_validator("resize_mode", mode="before")
    @classmethod
    def _modes(cls, value: Any) -> list[str]:
        items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
        bad = [v for v in items if v not in MODES]
        if bad or not items:
            raise ValueError(f"resize_mode must be a comma list of {', '.join(MODES)}; got {value!r}")
        return items

    @model_validator(mode="after")
    def _sizes(self) -> ResolutionArgs:
        if self.video_size > 0 and (self.height > 0 or self.width > 0):
            raise ValueError("set either video_size or height/width, not both")
        if self.video_size <= 0 and self.height <= 0 and self.width <= 0:
            raise ValueError("set video_size, height or width")
        return self

    def target(self) -> tuple[int, int]:
        """(width, height); -1 where not set."""
        if self.video_size > 0:
            return self.video_size, self.video_size
        return self.width, self.height


def _even(value: float) -> int:
    return max(2, int(value / 2.0 + 0.5) * 2)


def _floor_even(value: int) -> int:
    return max(2, value - value % 2)


def display_size(sample: SampleInput) -> tuple[int, int] | None:
    """The probed size as displayed (ffmpeg auto-rotates 90° sources)."""
    probe = sample.probe
    if not probe.width or not probe.height:
        return None
    video = next((s for s in probe.raw.get("streams", []) if s.get("codec_type") == "video"), {})
    rotation = 0
    for side in video.get("side_data_list", []) or []:
        if "rotation" in side:
            rotation = int(float(side["rotation"]))
    rotation = rotation or int(float((video.get("tags") or {}).get("rotate", 0) or 0))
    if abs(rotation) % 180 == 90:
        return probe.height, probe.width
    return probe.width, probe.height


def plan_filters(args: ResolutionArgs, size: tuple[int, int]) -> tuple[list[VideoFilter], tuple[int, int]]:
    """Filters taking a ``size`` picture to the target, and the output size."""
    iw, ih = size
    tw, th = args.target()
    modes = set(args.resize_mode)
    filters: list[VideoFilter] = []
    w, h = iw, ih
    if "scale" in modes:
        ratios = [r for r in ((tw / iw) if tw > 0 else None, (th / ih) if th > 0 else None) if r is not None]
        if "crop" in modes:
            factor = max(ratios)  # cover the target, the crop removes the excess
        elif "pad" in modes:
            factor = min(ratios)  # fit inside the target, the pad fills the rest
        else:
            factor = th / ih if th > 0 else tw / iw  # video2dataset: height wins
        if factor > 1 and not args.allow_upscale:
            factor = 1.0
        w, h = _even(iw * factor), _even(ih * factor)
        if (w, h) != (iw, ih):
            filters.append(VideoFilter("scale", kwargs={"w": w, "h": h}))
    if "crop" in modes:
        cw = _floor_even(min(tw, w)) if tw > 0 else w
        ch = _floor_even(min(th, h)) if th > 0 else h
        if (cw, ch) != (w, h):
            filters.append(VideoFilter("crop", kwargs={"w": cw, "h": ch}))  # centred by default
        w, h = cw, ch
    if "pad" in modes:
        pw = _even(max(tw, w)) if tw > 0 else w
        ph = _even(max(th, h)) if th > 0 else h
        if (pw, ph) != (w, h):
            filters.append(VideoFilter("pad", kwargs={"w": pw, "h": ph, "x": "(ow-iw)/2", "y": "(oh-ih)/2"}))
        w, h = pw, ph
    if filters:
        filters.append(VideoFilter("setsar", args=("1",)))
    return filters, (w, h)


class ResolutionSubsampler(SampleSubsampler):
    name: ClassVar[str] = "ResolutionSubsampler"
    stage: ClassVar[int] = 40
    Args: ClassVar[type[SubsamplerArgs]] = ResolutionArgs

    def contribute(self, plan: TranscodePlan, sample: SampleInput) -> None:
        if not sample.probe.has_video:
            return
        args: ResolutionArgs = self.args  # type: ignore[assignment]
        size = display_size(sample)
        if size is None:
            raise SubsamplerError(f"cannot resize {sample.key}: the video size is unknown")
        filters, _ = plan_filters(args, size)
        plan.video_filters.extend(filters)
