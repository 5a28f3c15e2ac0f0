"""Test media made by ffmpeg at test time (no binary media is committed)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def run_ffmpeg(args: list[str], timeout: float = 120) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=timeout)


def make_video(
    path: Path,
    duration: float = 2.0,
    size: str = "320x240",
    fps: int = 25,
    audio: bool = True,
    source: str = "testsrc2",
    gop: int | None = None,
    codec_args: list[str] | None = None,
) -> Path:
    """An H.264 (+AAC) file from a lavfi source; ``gop`` sets the keyframe interval in frames."""
    args = ["-f", "lavfi", "-i", f"{source}=d={duration}:s={size}:r={fps}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=f=440:d={duration}:sample_rate=44100"]
    if codec_args is None:
        codec_args = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        if gop:
            codec_args += ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    args += codec_args
    if audio and path.suffix in {".mp4", ".mkv", ".mov"}:
        args += ["-c:a", "aac", "-shortest"]
    if path.suffix == ".mp4":
        args += ["-movflags", "+faststart"]
    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg([*args, str(path)])
    return path


def make_image(path: Path, size: str = "64x48", color: str = "red") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(["-f", "lavfi", "-i", f"color=c={color}:s={size}:d=1", "-frames:v", "1", "-f", "image2", str(path)])
    return path


def ffprobe_streams(path: Path | str) -> dict:
    """ffprobe's JSON for a file, with frame counts counted (slow but exact)."""
    import json

    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-print_format", "json", "-show_streams", "-show_format", str(path)],
        check=True, capture_output=True, timeout=120,
    ).stdout
    return json.loads(out)


def video_stream(path: Path | str) -> dict:
    return next(s for s in ffprobe_streams(path)["streams"] if s["codec_type"] == "video")
