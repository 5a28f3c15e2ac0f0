"""Metadata-only passes: one ``<key>.json`` (plus analysis members such as ``.npy``) per source sample.

A second pass over a big dataset (optical flow, motion scores, cuts, ffprobe) must not rewrite the
media: with ``metadata_only: true`` or ``encode_formats: {}`` the chain's analysis subsamplers run
on each source video, no transcode runs, and the shards written have the input shards' names and
keys, in the same order, so a loader can read source and metadata shards side by side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from curation.errors import ConfigError

if TYPE_CHECKING:
    from curation.config import Config
    from subsamplers.base import SampleInput, SampleOutput, SampleSubsampler

# subsamplers whose only effect is on the media: meaningless when none is written
MEDIA_SUBSAMPLERS = ("ResolutionSubsampler", "FrameSubsampler", "ClippingSubsampler", "AudioRateSubsampler")


def check_outputs(config: Config) -> None:
    """Config errors for outputs that could not be written as asked (checked before any work)."""
    flow = config.subsampling.get("OpticalFlowSubsampler") or {}
    if isinstance(flow, dict) and (flow.get("args") or {}).get("save_flow") and config.output_format not in ("webdataset", "files"):
        raise ConfigError(f"config error: subsampling.OpticalFlowSubsampler.args.save_flow: <key>.npy members need "
                          f"output_format webdataset or files, not {config.output_format}")
    check_metadata_only(config)


def check_metadata_only(config: Config) -> None:
    """Refuse a metadata-only config that asks for media changes or clips (keys would change)."""
    if config.writes_media:
        return
    for name in MEDIA_SUBSAMPLERS:
        if name in config.subsampling:
            raise ConfigError(f"config error: subsampling.{name}: changes media, but this pass is metadata-only "
                              "(metadata_only: true or encode_formats: {}) and writes none")
    entry = config.subsampling.get("CutDetectionSubsampler") or {}
    if isinstance(entry, dict) and (entry.get("cuts_are_clips") or (entry.get("args") or {}).get("cuts_are_clips")):
        raise ConfigError("config error: subsampling.CutDetectionSubsampler.args.cuts_are_clips: clips change the keys; "
                          "a metadata-only pass keeps the source keys (cuts are still written to the json)")


def metadata_transform(sample: SampleInput, chain: list[SampleSubsampler], config: Config) -> list[SampleOutput]:
    """Run the chain's analyses on the source (no ffmpeg transcode); one output, keyed as the source.

    Clip columns are ignored: the output describes the whole source sample.
    """
    from subsamplers.base import SampleOutput
    from subsamplers.ffmpeg_plan import TranscodePlan, finish_outputs

    plan = TranscodePlan(sample=sample, config=config)
    for subsampler in sorted(chain, key=lambda s: s.stage):
        subsampler.contribute(plan, sample)
    return finish_outputs(plan, [SampleOutput(key=sample.key, metadata=dict(plan.metadata))])
