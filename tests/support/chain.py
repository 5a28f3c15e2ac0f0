"""Run a subsampler chain on one local file the way the worker does (probe, SampleInput, transform)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from curation.config import Config, build_config
from curation.probe import probe_media
from subsamplers import build_subsamplers
from subsamplers.base import SampleInput, SampleOutput
from subsamplers.ffmpeg_plan import transform

FAST = {"preset": "ultrafast"}


def config_for(subsampling: dict[str, Any], **overrides: Any) -> Config:
    overrides.setdefault("encoding", FAST)
    return build_config(None, subsampling=subsampling, **overrides)


def sample_for(path: Path, tmp_dir: Path, key: str = "k", clips: Any = None) -> SampleInput:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return SampleInput(key=key, path=Path(path), probe=probe_media(path), metadata={}, clips=clips, tmp_dir=tmp_dir)


def run_chain(path: Path, subsampling: dict[str, Any], tmp_dir: Path, clips: Any = None, key: str = "k",
              **overrides: Any) -> list[SampleOutput]:
    config = config_for(subsampling, **overrides)
    _, chain = build_subsamplers(config.subsampling)
    return transform(sample_for(path, tmp_dir, key, clips), chain, config)


def streams(path: Path | str, kind: str) -> list[dict[str, Any]]:
    from tests.support.media import ffprobe_streams

    return [s for s in ffprobe_streams(path)["streams"] if s["codec_type"] == kind]


def rate(stream: dict[str, Any]) -> float:
    num, _, den = stream["avg_frame_rate"].partition("/")
    return float(num) / float(den or 1)
