"""The one place that launches ffmpeg/ffprobe: an argv list (never a shell), a timeout, one-line errors."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable

from subsamplers.base import SubsamplerError

_TAGGED = re.compile(r"^\[(?P<tag>[^\s@\]]+) @ 0x[0-9a-fA-F]+\]")
# ffmpeg's own (untagged) messages about input packets it could not decode
_UNTAGGED_DECODE = re.compile(r"(error while decoding|invalid data found when processing input|corrupt)", re.I)


def run_tool(argv: list[str], timeout: float, what: str) -> str:
    """Run ``argv``; return its stderr; raise SubsamplerError on timeout or failure."""
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SubsamplerError(f"{what} timed out after {timeout:g}s") from None
    except OSError as exc:
        raise SubsamplerError(f"{what} could not start: {exc.strerror or exc}") from None
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        raise SubsamplerError(f"{what} failed: {lines[-1] if lines else f'exit status {proc.returncode}'}")
    return stderr


def run_ffmpeg(argv: list[str], timeout: float) -> str:
    return run_tool(argv, timeout, "ffmpeg")


def count_decode_errors(stderr: str, input_components: Iterable[str]) -> int:
    """Error lines logged by the input's demuxer/decoders (ffmpeg runs at ``-loglevel error``).

    Lines from the encoders and muxers are not counted: they are not about damaged input.
    """
    components = {c for c in input_components if c}
    count = 0
    for line in stderr.splitlines():
        match = _TAGGED.match(line)
        if match:
            count += match.group("tag") in components
        elif _UNTAGGED_DECODE.search(line):
            count += 1
    return count
