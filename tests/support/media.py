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


def make_two_shot_video(path: Path, first: float = 2.0, second: float = 2.0, size: str = "160x120", fps: int = 25) -> Path:
    """One hard cut at ``first`` seconds: testsrc2, then a very different source (smptebars)."""
    graph = (
        f"testsrc2=d={first}:s={size}:r={fps}[a];smptebars=d={second}:s={size}:r={fps}[b];"
        "[a][b]concat=n=2:v=1:a=0[v]"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(["-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", str(path)])
    return path


def make_corrupt_ts(path: Path, duration: float = 4.0, size: str = "320x240", fps: int = 25, seed: int = 1) -> Path:
    """An H.264 MPEG-TS whose middle third has garbage in its packet payloads (headers intact).

    Decoders hit errors there (like 50Salads' damaged frames) but the file stays readable.
    """
    import random

    clean = path.with_name(path.stem + ".clean.ts")
    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=d={duration}:s={size}:r={fps}", "-c:v", "libx264",
                "-preset", "ultrafast", "-g", str(fps), "-pix_fmt", "yuv420p", "-f", "mpegts", str(clean)])
    data = bytearray(clean.read_bytes())
    clean.unlink()
    rng = random.Random(seed)
    packets = len(data) // 188
    for packet in range(packets // 3, 2 * packets // 3, 3):
        base = packet * 188
        for i in range(base + 8, base + 188, 7):
            data[i] = rng.randrange(256)
    path.write_bytes(bytes(data))
    return path


def frame_times(path: Path | str, stream: str = "v:0", keyframes_only: bool = False) -> list[float]:
    """Presentation times of the decoded frames of one stream (or of its keyframes)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "frame=best_effort_timestamp_time,key_frame",
         "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, timeout=120, text=True,
    ).stdout
    times = []
    for line in out.splitlines():
        fields = line.strip().split(",")
        if len(fields) >= 2 and fields[1] not in ("", "N/A") and (not keyframes_only or fields[0] == "1"):
            times.append(float(fields[1]))
    return sorted(times)


def set_rotation_matrix(path: Path, degrees: int = 90) -> Path:
    """Write a display matrix into the first video track header (tkhd) of an mp4, as phones do."""
    import struct

    data = bytearray(path.read_bytes())
    index = data.find(b"tkhd")
    if index < 0:
        raise ValueError("no tkhd box")
    version = data[index + 4]
    matrix_at = index + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
    one, minus = 0x10000, -0x10000
    matrices = {90: (0, one, 0, minus, 0, 0), 180: (minus, 0, 0, minus, 0, 0), 270: (0, minus, 0, one, 0, 0)}
    a, b, u, c, d, v = matrices[degrees]
    data[matrix_at : matrix_at + 36] = struct.pack(">9i", a, b, u, c, d, v, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))
    return path


def gray_frames(path: Path | str, limit: int | None = None, size: str = "80x60") -> list[bytes]:
    """The frames stored in a file (all, or the first ``limit``; none duplicated) as small gray pictures."""
    width, height = (int(v) for v in size.split("x"))
    args = ["-frames:v", str(limit)] if limit else []
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"scale={width}:{height}", *args, "-fps_mode", "passthrough",
         "-f", "rawvideo", "-pix_fmt", "gray", "-"], check=True, capture_output=True, timeout=120,
    ).stdout
    step = width * height
    return [raw[i:i + step] for i in range(0, len(raw), step)]


def closest_frame(frame: bytes, candidates: list[bytes]) -> int:
    """Index of the candidate picture nearest to ``frame`` (mean absolute difference)."""
    def distance(other: bytes) -> float:
        return sum(abs(a - b) for a, b in zip(frame, other, strict=True)) / len(frame)

    return min(range(len(candidates)), key=lambda i: distance(candidates[i]))
