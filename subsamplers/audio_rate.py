"""AudioRateSubsampler: resample the audio (rate, channels) of every member that carries audio."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from subsamplers.base import SampleInput, SampleSubsampler, SubsamplerArgs
from subsamplers.ffmpeg_plan import TranscodePlan


class AudioRateArgs(SubsamplerArgs):
    sample_rate: int = Field(gt=0)
    n_audio_channels: int | None = Field(None, gt=0)


class AudioRateSubsampler(SampleSubsampler):
    name: ClassVar[str] = "AudioRateSubsampler"
    stage: ClassVar[int] = 50
    Args: ClassVar[type[SubsamplerArgs]] = AudioRateArgs

    def contribute(self, plan: TranscodePlan, sample: SampleInput) -> None:
        args: AudioRateArgs = self.args  # type: ignore[assignment]
        if sample.probe.has_audio:
            plan.audio_rate = args.sample_rate
            plan.audio_channels = args.n_audio_channels
