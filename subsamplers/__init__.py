"""Subsamplers: one module per transformation, found by video2dataset's names.

The registry maps names to ``module:Class`` so nothing heavy is imported until a config uses it.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import ValidationError

from subsamplers.base import SampleSubsampler, SubsamplerArgs, TableSubsampler

REGISTRY: dict[str, str] = {
    "ClassSubsetSubsampler": "subsamplers.class_subset:ClassSubsetSubsampler",
    "ResolutionSubsampler": "subsamplers.resolution:ResolutionSubsampler",
    "FrameSubsampler": "subsamplers.frame:FrameSubsampler",
    "ClippingSubsampler": "subsamplers.clipping:ClippingSubsampler",
    "CutDetectionSubsampler": "subsamplers.cut_detection:CutDetectionSubsampler",
    "AudioRateSubsampler": "subsamplers.audio_rate:AudioRateSubsampler",
    "FFProbeSubsampler": "subsamplers.ffprobe:FFProbeSubsampler",
    "OpticalFlowSubsampler": "subsamplers.optical_flow:OpticalFlowSubsampler",
    "MotionScoreSubsampler": "subsamplers.motion_score:MotionScoreSubsampler",
}


def subsampler_class(name: str) -> type[SampleSubsampler] | type[TableSubsampler]:
    from curation.errors import ConfigError

    target = REGISTRY.get(name)
    if target is None:
        raise ConfigError(f"config error: subsampling.{name}: unknown subsampler; expected one of {', '.join(sorted(REGISTRY))}")
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("subsamplers"):
            raise ConfigError(f"config error: subsampling.{name}: not available in this version") from None
        raise
    return getattr(module, class_name)


def _parse_args(name: str, entry: Any) -> SubsamplerArgs:
    from curation.errors import ConfigError

    if entry is None:
        entry = {}
    cls = subsampler_class(name)
    # video2dataset puts some options beside `args` (CutDetectionSubsampler's cuts_are_clips):
    # keys that are fields of the subsampler's Args are accepted there too
    beside = set(entry) - {"args"} if isinstance(entry, dict) else set()
    if not isinstance(entry, dict) or beside - set(cls.Args.model_fields):
        raise ConfigError(f"config error: subsampling.{name}: expected a mapping with an 'args' mapping")
    args = entry.get("args") or {}
    if not isinstance(args, dict):
        raise ConfigError(f"config error: subsampling.{name}.args: expected a mapping")
    args = {**args, **{key: entry[key] for key in beside}}
    try:
        return cls.Args.model_validate(args)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = "unknown argument" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigError(f"config error: subsampling.{name}.args.{where}: {message}") from None


def validate_subsampling(subsampling: dict[str, Any]) -> None:
    """Raise ConfigError naming the first bad subsampler or argument."""
    for name, entry in subsampling.items():
        _parse_args(name, entry)


def build_subsamplers(subsampling: dict[str, Any]) -> tuple[list[TableSubsampler], list[SampleSubsampler]]:
    """Instantiate the configured chain: table-level ones, then sample-level ones in stage order."""
    table: list[TableSubsampler] = []
    sample: list[SampleSubsampler] = []
    for name, entry in subsampling.items():
        cls = subsampler_class(name)
        instance = cls(_parse_args(name, entry))
        (table if isinstance(instance, TableSubsampler) else sample).append(instance)
    sample.sort(key=lambda s: s.stage)
    return table, sample


__all__ = ["REGISTRY", "build_subsamplers", "subsampler_class", "validate_subsampling"]
