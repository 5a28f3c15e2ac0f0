"""Deterministic synthetic test videos and clip spans for the benchmark.

Each video's parameters come from its own seeded RNG, so the first 40 videos of a 100-video run
are exactly the 40 videos of a 40-video run, and the files are cached across runs.
"""

from __future__ import annotations

import random
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SOURCES = ("testsrc2", "mandelbrot", "testsrc")
SIZES = ((640, 360), (1280, 720))
RATES = (24, 30, 60)
GOP_SECONDS = 2
GEN_TIMEOUT = 900.0


@dataclass(frozen=True)
class VideoSpec:
    """One synthetic video: a lavfi source with a sine tone, H.264 + AAC."""

    index: int
    source: str
    width: int
    height: int
    fps: int
    duration: float
    tone_hz: int

    @property
    def name(self) -> str:
        return f"v{self.index:04d}_{self.source}_{self.height}p{self.fps}.mp4"


def video_specs(count: int, seed: int = 0) -> list[VideoSpec]:
    """The first ``count`` specs; spec ``i`` depends only on (seed, i)."""
    specs = []
    for i in range(count):
        rng = random.Random(f"{seed}:{i}")
        width, height = rng.choice(SIZES)
        specs.append(VideoSpec(
            index=i,
            source=rng.choice(SOURCES),
            width=width,
            height=height,
            fps=rng.choice(RATES),
            duration=round(rng.uniform(5.0, 20.0), 1),
            tone_hz=rng.randrange(220, 1760),
        ))
    return specs


def clip_spans(spec: VideoSpec, seed: int = 0) -> list[list[float]]:
    """2–3 non-overlapping [start, end] spans inside the video, 2.5–8 s long where room allows.

    Spans are cut in equal segments so they never overlap; lengths are chosen so most spans
    still exceed ClippingSubsampler's min_length after keyframe snapping (2 s GOP).
    """
    rng = random.Random(f"{seed}:clips:{spec.index}")
    count = rng.choice((2, 3))
    segment = spec.duration / count
    spans = []
    for k in range(count):
        length = min(rng.uniform(2.5, 8.0), segment * 0.9)
        start = k * segment + rng.uniform(0.0, segment - length)
        spans.append([round(start, 2), round(start + length, 2)])
    return spans


def generate_command(spec: VideoSpec, out: Path) -> list[str]:
    """The ffmpeg command that renders ``spec`` into ``out``."""
    gop = str(spec.fps * GOP_SECONDS)
    return [
        "ffmpeg", "-y", "-hide_banner", "-loglevel", "error", "-nostdin",
        "-f", "lavfi", "-i", f"{spec.source}=size={spec.width}x{spec.height}:rate={spec.fps}",
        "-f", "lavfi", "-i", f"sine=frequency={spec.tone_hz}:sample_rate=44100",
        "-t", f"{spec.duration}",
        "-c:v", "libx264", "-preset", "fast", "-crf", "23", "-pix_fmt", "yuv420p",
        "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "128k",
        "-movflags", "+faststart",
        str(out),
    ]


def _render(spec: VideoSpec, folder: Path) -> Path:
    """Render one video to a temp name and rename, so a killed run never leaves a cached partial."""
    final = folder / spec.name
    if final.exists():
        return final
    tmp = folder / f".{spec.name}.part.mp4"
    subprocess.run(generate_command(spec, tmp), check=True, timeout=GEN_TIMEOUT)
    tmp.replace(final)
    return final


def ensure_media(specs: list[VideoSpec], folder: Path, parallel: int = 2) -> list[Path]:
    """Render every missing video, ``parallel`` ffmpeg at a time; return paths in spec order."""
    folder.mkdir(parents=True, exist_ok=True)
    missing = [s for s in specs if not (folder / s.name).exists()]
    if missing:
        print(f"media: rendering {len(missing)} of {len(specs)} videos into {folder}", flush=True)
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(lambda s: _render(s, folder), specs))
