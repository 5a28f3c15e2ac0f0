"""CutDetectionSubsampler: scene cuts into the json (video2dataset's ``cuts``, plus ``cut_times`` in seconds), optionally as the clips.

Detection is a separate decode-only pass (it must finish before the clips are known); the
transcode that follows is still one ffmpeg invocation.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from subsamplers.base import SampleInput, SampleSubsampler, SubsamplerArgs, SubsamplerError
from subsamplers.ffmpeg_plan import TranscodePlan
from subsamplers.scene_detect import ffmpeg_cut_times, pyscenedetect_cut_times, scenes_from_cuts


class CutDetectionArgs(SubsamplerArgs):
    cut_detection_mode: Literal["all", "longest"] = "all"
    framerates: list[float] | None = None
    threshold: float = Field(27.0, gt=0)  # PySceneDetect's scale; > 1 is divided by 100 for ffmpeg's score
    min_scene_len: int = Field(15, ge=1)  # frames
    cuts_are_clips: bool = False  # video2dataset has it beside `args`; accepted here too
    detector: Literal["ffmpeg", "pyscenedetect"] = "ffmpeg"


def _pick(scenes: list[list[int]], mode: str) -> list[list[int]]:
    if mode == "longest" and scenes:
        return [max(scenes, key=lambda s: s[1] - s[0])]
    return scenes


class CutDetectionSubsampler(SampleSubsampler):
    name: ClassVar[str] = "CutDetectionSubsampler"
    stage: ClassVar[int] = 20
    Args: ClassVar[type[SubsamplerArgs]] = CutDetectionArgs

    def contribute(self, plan: TranscodePlan, sample: SampleInput) -> None:
        args: CutDetectionArgs = self.args  # type: ignore[assignment]
        probe = sample.probe
        if not probe.has_video or probe.is_image:
            return
        fps = probe.fps or 25.0
        duration = probe.duration or 0.0
        if args.detector == "pyscenedetect":
            try:
                times = pyscenedetect_cut_times(sample.path, args.threshold, args.min_scene_len)
            except RuntimeError as exc:
                raise SubsamplerError(str(exc)) from None
        else:
            threshold = args.threshold / 100.0 if args.threshold > 1 else args.threshold
            times = ffmpeg_cut_times(sample.path, threshold, plan.timeout("ffmpeg"))
        total = max(1, int(round(duration * fps)))
        scenes = scenes_from_cuts([int(round(t * fps)) for t in times], total, args.min_scene_len)
        cuts: dict[str, Any] = {"original_fps": fps, "cuts_original_fps": _pick(scenes, args.cut_detection_mode)}
        cuts["cut_times"] = [round(start / fps, 6) for start, _ in scenes[1:]]  # seconds: where each new scene starts
        for rate in args.framerates or []:
            scaled = [[int(round(s / fps * rate)), int(round(e / fps * rate))] for s, e in scenes]
            cuts[f"cuts_{rate:g}"] = _pick(scaled, args.cut_detection_mode)
        plan.metadata["cuts"] = cuts
        if args.cuts_are_clips:
            plan.raw_clips = [[s / fps, e / fps] for s, e in cuts["cuts_original_fps"]]
