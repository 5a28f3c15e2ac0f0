"""Results rows, the printed table, results.json and results.md."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from measure import Measurement

TOOLS = ("curate", "ffmpeg", "video2dataset")


@dataclass
class Row:
    """One (job, tool) measurement plus what it produced."""

    job: str
    tool: str
    wall_s: float | None = None
    cpu_s: float | None = None
    peak_rss_mb: float | None = None
    peak_pss_mb: float | None = None
    video_s: float = 0.0
    outputs: int | None = None
    output_s: float | None = None
    output_desc: str = ""
    returncode: int | None = None
    timed_out: bool = False
    other_cores: float | None = None
    note: str = ""
    peak_parts: str = ""  # the processes at the RSS peak (MB each)
    summary: Any = field(default=None, repr=False, compare=False)  # outputs.MediaSummary, not saved

    @classmethod
    def measured(cls, job: str, tool: str, m: Measurement, video_s: float) -> Row:
        note = "TIMEOUT" if m.timed_out else ""
        return cls(job, tool, m.wall_s, m.cpu_s, m.peak_rss_mb, m.peak_pss_mb, video_s, returncode=m.returncode,
                   timed_out=m.timed_out, other_cores=m.other_cores, note=note, peak_parts=m.peak_parts)

    @property
    def speed(self) -> float | None:
        """Video-seconds processed per wall second."""
        return self.video_s / self.wall_s if self.wall_s and self.video_s else None


def _fmt(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def _by(rows: list[Row], job: str, tool: str) -> Row | None:
    return next((r for r in rows if r.job == job and r.tool == tool), None)


def table_lines(rows: list[Row]) -> list[str]:
    """A markdown table of every row, then one of the ratios per job."""
    head = ("| job | tool | wall s | CPU s | peak RSS MB | peak PSS MB | video-s / wall-s | outputs | output s | "
            "output streams | rc | other load | note |")
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        lines.append(
            f"| {r.job} | {r.tool} | {_fmt(r.wall_s)} | {_fmt(r.cpu_s)} | {_fmt(r.peak_rss_mb, 0)} | {_fmt(r.peak_pss_mb, 0)} | "
            f"{_fmt(r.speed, 2)} | {_fmt(r.outputs)} | {_fmt(r.output_s)} | {r.output_desc} | "
            f"{_fmt(r.returncode)} | {_fmt(r.other_cores, 2)} | {r.note} |"
        )
    ratios = []
    for job in dict.fromkeys(r.job for r in rows):
        cur, ff, v2d = (_by(rows, job, t) for t in TOOLS)
        for label, a, b in (("curate / ffmpeg", cur, ff), ("video2dataset / curate", v2d, cur)):
            if a and b and a.wall_s and b.wall_s and a.returncode == 0 and b.returncode == 0:
                ratios.append(
                    f"| {job} | {label} | {_ratio(a.wall_s, b.wall_s)} | {_ratio(a.cpu_s, b.cpu_s)} | "
                    f"{_ratio(a.peak_rss_mb, b.peak_rss_mb)} | {_ratio(a.peak_pss_mb, b.peak_pss_mb)} |"
                )
    if ratios:
        lines += ["", "| job | ratio | wall | CPU | peak RSS | peak PSS |", "|---|---|---|---|---|---|", *ratios]
    parts = [f"| {r.job} | {r.tool} | {r.peak_parts} |" for r in rows if r.peak_parts]
    if parts:
        lines += ["", "| job | tool | processes at the RSS peak (RSS MB each) |", "|---|---|---|", *parts]
    return lines


def write_results(rows: list[Row], problems: list[str], header: list[str], folder: Path) -> None:
    """results.json (machine-readable) and results.md (the printed table with its context)."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        "header": header,
        "rows": [
            {k: v for k, v in asdict(r).items() if k != "summary"} | {"video_s_per_wall_s": r.speed}
            for r in rows
        ],
        "problems": problems,
    }
    (folder / "results.json").write_text(json.dumps(payload, indent=2))
    md = ["# curation benchmark", "", *[f"- {h}" for h in header], "", *table_lines(rows), ""]
    if problems:
        md += ["## Problems", "", *[f"- {p}" for p in problems], ""]
    (folder / "results.md").write_text("\n".join(md))
