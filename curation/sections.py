"""Section downloads: fetch only a row's clip window from yt-dlp sources, then cut in the right timeline.

Rule (documented in docs/reference.md, "Section downloads"): when a row's clip column holds exactly
one valid ``[start, end]`` window, the worker asks ``fetch`` for that section; only yt-dlp sources
use it (a Kinetics row without ``--media_dir`` is the typical case), local files and plain HTTP
downloads ignore it. ``reading.yt_args: {download_sections: false}`` turns it off.

A downloaded section starts at ~0 s, so the clip handed to the subsampler chain is shifted to
``[0, end - start]``; the json keeps the source's timeline (``clips: [[start, end]]``) and records
``download_section: [start, end]``. When yt-dlp could not cut, the whole video was downloaded and
the clip is cut from it as usual; the json records ``download_section_fallback`` (the reason).
"""

from __future__ import annotations

from typing import Any

from curation.config import ReadingConfig
from curation.sources import Fetched
from subsamplers.base import SampleOutput
from subsamplers.clip_spans import parse_spans

# a downloaded section longer than its window by more than this was not cut (yt-dlp ignored the range)
SECTION_SLACK = 2.0


def download_section(clips: Any, reading: ReadingConfig) -> tuple[float, float] | None:
    """The window to download instead of the whole video: the clip column's only span, else None."""
    if clips is None or reading.yt_args.get("download_sections", True) is False:
        return None
    report = parse_spans(clips, None)
    if len(report.spans) != 1 or report.dropped:
        return None
    start, end = report.spans[0]
    return (start, end)


def clips_in_download(clips: Any, fetched: Fetched, duration: float | None) -> Any:
    """The clip column as the chain must see it: shifted to the section's timeline when one was cut.

    A file much longer than the window means yt-dlp downloaded everything: the clip stays as it is
    and the fetch is marked as a fallback.
    """
    section = fetched.meta.get("section")
    if not section:
        return clips
    start, end = section
    if duration is not None and duration > (end - start) + SECTION_SLACK:
        fetched.meta.pop("section")
        fetched.meta["section_fallback"] = f"yt-dlp returned {duration:.1f}s for a {end - start:g}s section"
        return clips
    return [[0.0, round(end - start, 6)]]


def record_section(outputs: list[SampleOutput], fetched: Fetched) -> list[SampleOutput]:
    """Put the outputs' clip spans back in the source's timeline and record how the window was fetched."""
    section = fetched.meta.get("section")
    fallback = fetched.meta.get("section_fallback")
    for output in outputs:
        meta = output.metadata
        if section:
            offset = float(section[0])
            for name in ("clips", "clips_failed"):
                if isinstance(meta.get(name), list):
                    meta[name] = [_shift(span, offset) for span in meta[name]]
            for name in ("clips_clamped", "clips_dropped"):
                for entry in meta.get(name) or []:
                    for field in ("clip", "to"):
                        if field in entry:
                            entry[field] = _shift(entry[field], offset)
            meta["download_section"] = [float(section[0]), float(section[1])]
        elif fallback:
            meta["download_section_fallback"] = fallback
    return outputs


def _shift(span: Any, offset: float) -> Any:
    if isinstance(span, (list, tuple)) and len(span) == 2 and all(isinstance(v, (int, float)) for v in span):
        return [round(float(span[0]) + offset, 6), round(float(span[1]) + offset, 6)]
    return span
