"""Compiles a chain of sample subsamplers into ONE ffmpeg invocation per source video.

With an empty chain nothing is re-encoded: the source bytes pass through unchanged.
"""

from __future__ import annotations

from curation.config import Config
from subsamplers.base import SampleInput, SampleOutput, SampleSubsampler, SubsamplerError


def media_extension(sample: SampleInput, config: Config) -> str:
    """The member extension for the sample's main modality (image sources are written as images)."""
    if sample.probe.is_image:
        return config.encode_formats.get("image", "jpg")
    if not sample.probe.has_video and "audio" in config.encode_formats:
        return config.encode_formats["audio"]
    return config.encode_formats.get("video", "mp4")


def transform(sample: SampleInput, chain: list[SampleSubsampler], config: Config) -> list[SampleOutput]:
    """Apply the chain to one fetched sample; raise SubsamplerError to fail just this sample."""
    if not chain:
        return [SampleOutput(key=sample.key, media={media_extension(sample, config): sample.path})]
    raise SubsamplerError("sample subsamplers are not implemented yet")
