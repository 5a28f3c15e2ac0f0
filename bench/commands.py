"""The three contenders' commands and configs for each benchmark job, built in one place.

Every tool gets the same transform: scale to 224 px high keeping aspect, 8 fps, libx264 with
ffmpeg's defaults, audio dropped, 2 workers; the clip job adds keyframe-adjusted clipping.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

VIDEO_FILTER = "scale=-2:224,fps=fps=8"


def resize_subsampling(height: int, fps: int) -> dict[str, Any]:
    """Resolution + frame-rate chain; the reprocessing section also uses a smaller variant."""
    return {
        "ResolutionSubsampler": {"args": {"video_size": height, "resize_mode": "scale"}},
        "FrameSubsampler": {"args": {"frame_rate": fps}},
    }


def video_filter(height: int, fps: int) -> str:
    return f"scale=-2:{height},fps=fps={fps}"


RESIZE_SUBSAMPLING: dict[str, Any] = resize_subsampling(224, 8)
CLIP_SUBSAMPLING: dict[str, Any] = {
    "ClippingSubsampler": {"args": {"min_length": 1.0, "max_length": 10.0, "precision": "keyframe_adjusted"}},
    "FFProbeSubsampler": {"args": {"extract_keyframes": True}},
    **RESIZE_SUBSAMPLING,
}
DISTRIBUTION = {"processes_count": 2, "thread_count": 4}
STORAGE = {"number_sample_per_shard": 10}


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def curate_config(subsampling: dict[str, Any]) -> dict[str, Any]:
    """A video2dataset-style config, as a user migrating from it would write it."""
    return {"subsampling": subsampling, "distribution": dict(DISTRIBUTION), "storage": dict(STORAGE)}


def curate_command(
    url_list: str, output: Path, config: Path, input_format: str, extra: list[str] | None = None,
    output_format: str = "webdataset",
) -> list[str]:
    """``curate run`` through the running interpreter, so the benchmark uses the repo's venv."""
    cmd = [
        sys.executable, "-m", "curation", "run",
        "--url_list", url_list,
        "--output_folder", str(output),
        "--output_format", output_format,
        "--input_format", input_format,
        "--config", str(config),
    ]
    return cmd + (extra or [])


def v2d_config(defaults: dict[str, Any], subsampling: dict[str, Any]) -> dict[str, Any]:
    """video2dataset's own default config with our subsampling, workers and shard size.

    video2dataset reads every section key directly, so start from its shipped default.yaml.
    """
    config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in defaults.items()}
    config["subsampling"] = subsampling
    config.setdefault("distribution", {}).update(DISTRIBUTION)
    config.setdefault("storage", {}).update(STORAGE)
    return config


def v2d_command(
    v2d_bin: Path, url_list: Path, output: Path, config: Path, input_format: str, extra: list[str] | None = None,
) -> list[str]:
    """video2dataset's fire CLI; ``--enable_wandb=False`` keeps it offline."""
    cmd = [
        str(v2d_bin),
        f"--url_list={url_list}",
        f"--output_folder={output}",
        "--output_format=webdataset",
        f"--input_format={input_format}",
        "--url_col=url",
        "--caption_col=caption",
        f"--config={config}",
        "--enable_wandb=False",
    ]
    return cmd + (extra or [])


def ffmpeg_resize(src: Path, out: Path, vf: str = VIDEO_FILTER) -> list[str]:
    """The documented bare one-pass baseline for job A."""
    return [
        "ffmpeg", "-y", "-nostdin", "-hide_banner", "-loglevel", "error",
        "-i", str(src),
        "-filter_complex", f"[0]{vf}[s0]",
        "-map", "[s0]", "-reset_timestamps", "1",
        str(out),
    ]


def ffmpeg_clips(src: Path, spans: list[list[float]], out_prefix: Path) -> list[str]:
    """One ffmpeg per source: decode once (up to the last span), scale+fps once, trim per clip.

    Spans are cut exactly (no keyframe snapping), which is the cheapest correct equivalent.
    """
    last_end = max(end for _, end in spans)
    labels = "".join(f"[t{i}]" for i in range(len(spans)))
    graph = [f"[0:v]{VIDEO_FILTER},split={len(spans)}{labels}"]
    graph += [
        f"[t{i}]trim=start={start}:end={end},setpts=PTS-STARTPTS[o{i}]"
        for i, (start, end) in enumerate(spans)
    ]
    cmd = [
        "ffmpeg", "-y", "-nostdin", "-hide_banner", "-loglevel", "error",
        "-to", f"{last_end}", "-i", str(src),
        "-filter_complex", ";".join(graph),
    ]
    for i in range(len(spans)):
        cmd += ["-map", f"[o{i}]", "-reset_timestamps", "1", f"{out_prefix}_{i}.mp4"]
    return cmd
