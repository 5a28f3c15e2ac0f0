"""``report.html``: one self-contained page (plots embedded as base64 PNG) showing what a run did.

Every plot is a ``<figure>`` whose ``<img>`` carries the plot's title (alt and title attributes)
and a caption saying where its numbers come from; a plot without data becomes a one-line note,
never an error. matplotlib is imported here only, so the rest of the CLI stays fast.
"""

from __future__ import annotations

import base64
import html
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from curation.media_fields import MediaProfile
from curation.report_data import ReportData, collect_report_data
from curation.run_state import collect

TITLES = {
    "status": "Status breakdown",
    "throughput": "Throughput per shard over time",
    "duration": "Duration in and out",
    "resolution": "Resolution in and out",
    "fps": "Frame rate in and out",
    "classes": "Samples per class",
}
MAX_CLASSES = 60

CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{margin-bottom:4px} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:8px 0 24px} td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums} th{background:#f3f3f3}
figure{margin:16px 0 32px} figure img{max-width:100%;border:1px solid #ddd}
figcaption{color:#555;font-size:90%} .missing{color:#a60;font-style:italic}
"""


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _integer_ticks() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    _plt().close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plot_status(data: ReportData) -> Any | None:
    ov = data.overview
    counts = {"success": ov["successes"], "failed_to_download": ov["failed_to_download"],
              "failed_to_subsample": ov["failed_to_subsample"]}
    if not sum(counts.values()):
        return None
    fig, ax = _plt().subplots(figsize=(8, 2.6))
    bars = ax.barh(list(counts), list(counts.values()), color=["#2ca02c", "#d62728", "#ff7f0e"])
    ax.bar_label(bars, labels=[f"{v} ({100 * v / ov['samples']:.1f}%)" for v in counts.values()], padding=3)
    ax.invert_yaxis()
    ax.set_xlabel("samples")
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_title(TITLES["status"])
    return fig


def plot_throughput(data: ReportData) -> Any | None:
    shards = [s for s in data.state.stats if s.get("end_time") and s.get("duration")]
    if not shards:
        return None
    t0 = min(s["start_time"] for s in shards)
    shards.sort(key=lambda s: s["end_time"])
    span = max(s["end_time"] for s in shards) - t0
    scale, unit = (60.0, "minutes") if span >= 120 else (1.0, "seconds")
    minutes = [(s["end_time"] - t0) / scale for s in shards]
    fig, (top, bottom) = _plt().subplots(2, 1, figsize=(9, 5.5), sharex=True)
    top.plot(minutes, [s.get("count", 0) / s["duration"] for s in shards], "o", color="#1f77b4", label="samples/s")
    top.plot(minutes, [s.get("video_seconds_in", 0) / s["duration"] for s in shards], "s", color="#9467bd",
             label="video-seconds/s")
    top.set_ylabel("per shard")
    top.legend(loc="best")
    top.set_title(TITLES["throughput"])
    cumulative, total = [], 0
    for s in shards:
        total += s.get("count", 0)
        cumulative.append(total)
    bottom.step(minutes, cumulative, where="post", color="#17becf")
    bottom.yaxis.set_major_locator(_integer_ticks())
    bottom.set_ylabel("samples done")
    bottom.set_xlabel(f"{unit} since the first shard started")
    return fig


def _histogram(title: str, xlabel: str, values_in: list[float], values_out: list[float]) -> Any | None:
    if not values_in and not values_out:
        return None
    import numpy as np

    both = np.asarray(values_in + values_out, dtype=float)
    low, high = float(both.min()), float(both.max())
    bins = np.linspace(low, high if high > low else low + 1, 31)
    fig, ax = _plt().subplots(figsize=(8, 3.2))
    if values_in:
        ax.hist(values_in, bins=bins, alpha=0.6, color="#1f77b4", label=f"in ({len(values_in)})")
    if values_out:
        ax.hist(values_out, bins=bins, alpha=0.6, color="#ff7f0e", label=f"out ({len(values_out)})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("samples")
    ax.yaxis.set_major_locator(_integer_ticks())
    ax.legend()
    ax.set_title(title)
    return fig


def _values(profiles: list[MediaProfile], attr: str) -> list[float]:
    return [float(v) for p in profiles if (v := getattr(p, attr)) is not None]


def plot_duration(data: ReportData) -> Any | None:
    return _histogram(TITLES["duration"], "seconds", _values(data.profiles_in, "duration"), _values(data.profiles_out, "duration"))


def plot_fps(data: ReportData) -> Any | None:
    return _histogram(TITLES["fps"], "frames per second", _values(data.profiles_in, "fps"), _values(data.profiles_out, "fps"))


def plot_resolution(data: ReportData) -> Any | None:
    """Counts per WxH (top 12), in beside out: resolutions are categories, not a continuum."""
    from collections import Counter

    def sizes(profiles: list[MediaProfile]) -> Counter[str]:
        return Counter(f"{p.width}x{p.height}" for p in profiles if p.width and p.height)

    size_in, size_out = sizes(data.profiles_in), sizes(data.profiles_out)
    if not size_in and not size_out:
        return None
    names = [n for n, _ in (size_in + size_out).most_common(12)]
    names.sort(key=lambda n: tuple(int(x) for x in n.split("x")))
    fig, ax = _plt().subplots(figsize=(8, 3.2))
    positions = range(len(names))
    ax.bar([i - 0.2 for i in positions], [size_in[n] for n in names], 0.4, color="#1f77b4", label="in")
    ax.bar([i + 0.2 for i in positions], [size_out[n] for n in names], 0.4, color="#ff7f0e", label="out")
    ax.set_xticks(list(positions), names, rotation=30, ha="right")
    ax.set_ylabel("samples")
    ax.yaxis.set_major_locator(_integer_ticks())
    ax.legend()
    ax.set_title(TITLES["resolution"])
    return fig


def plot_classes(data: ReportData) -> Any | None:
    if not data.labels:
        return None
    shown = data.labels.most_common(MAX_CLASSES)
    fig, ax = _plt().subplots(figsize=(9, max(2.5, 0.22 * len(shown) + 1)))
    ax.barh([name for name, _ in shown], [count for _, count in shown], color="#8c564b")
    ax.invert_yaxis()
    ax.set_xlabel("successful samples")
    ax.xaxis.set_major_locator(_integer_ticks())
    suffix = f" (top {MAX_CLASSES} of {len(data.labels)})" if len(data.labels) > MAX_CLASSES else ""
    ax.set_title(f"{TITLES['classes']}{suffix}")
    return fig


PLOTS: list[tuple[str, Callable[[ReportData], Any], str]] = [
    ("status", plot_status, "no samples finished yet"),
    ("throughput", plot_throughput, "no finished shard with timings yet"),
    ("duration", plot_duration, "no durations known (run with FFProbeSubsampler, or no successful samples)"),
    ("resolution", plot_resolution, "no resolutions known (run with FFProbeSubsampler, or no successful samples)"),
    ("fps", plot_fps, "no frame rates known (run with FFProbeSubsampler, or no successful samples)"),
    ("classes", plot_classes, "no label column in the metadata (use --label_col)"),
]


def _caption(name: str, data: ReportData) -> str:
    if name in ("duration", "resolution", "fps"):
        return f"in: {data.in_source or 'unknown'}; out: {data.out_source or 'unknown'}"
    if name == "classes":
        return f"successful samples per value of column {data.label_col!r}"
    if name == "throughput":
        return "each point is one shard, at the time it finished (from its _stats.json)"
    return "from the _stats.json files"


def _figure(name: str, fig: Any, caption: str) -> str:
    title = html.escape(TITLES[name])
    return (f'<figure id="{name}"><img alt="{title}" title="{title}" src="data:image/png;base64,{_png(fig)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _summary_table(ov: dict[str, Any]) -> str:
    shards = ov["shards"]
    total = shards["total"] if shards["total"] is not None else "?"
    rows = [
        ("shards done / total", f"{shards['done']} / {total}"),
        ("shards pending (running)", f"{shards['pending'] if shards['pending'] is not None else '?'} ({shards['running']})"),
        ("samples", ov["samples"]),
        ("successes", ov["successes"]),
        ("failed to download", ov["failed_to_download"]),
        ("failed to subsample", ov["failed_to_subsample"]),
        ("outputs written", ov["outputs_written"]),
        ("video hours in / out", f"{ov['video_hours_in']:.3f} / {ov['video_hours_out']:.3f}"),
        ("MB downloaded / written", f"{ov['bytes_downloaded'] / 1e6:.1f} / {ov['bytes_written'] / 1e6:.1f}"),
        ("wall seconds", f"{ov['wall_seconds']:.1f}"),
        ("samples/s, video-s/s, MB/s", "{samples_per_second:.2f}, {video_seconds_per_second:.2f}, {mb_per_second:.2f}".format(**ov["throughput"])),
    ]
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td class=n>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _error_table(data: ReportData) -> str:
    if not data.errors:
        return "<p>No errors.</p>"
    rows = "".join(
        f"<tr><td class=n>{e.count}</td><td>{html.escape(e.kind)}</td><td>{html.escape(e.message)}</td></tr>" for e in data.errors
    )
    return f"<table id=errors><tr><th>count</th><th>kind</th><th>error message</th></tr>{rows}</table>"


def render_html(data: ReportData) -> str:
    sections = []
    for name, plot, missing in PLOTS:
        fig = plot(data)
        body = _figure(name, fig, _caption(name, data)) if fig is not None else f'<p class="missing">{html.escape(missing)}</p>'
        sections.append(f"<h2>{html.escape(TITLES[name])}</h2>{body}")
    folder = html.escape(str(data.state.folder.resolve()))
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>curate report: {folder}</title>'
        f"<style>{CSS}</style></head><body><h1>curate report</h1><p class=sub>{folder} · generated {generated}</p>"
        f"<h2>Summary</h2>{_summary_table(data.overview)}{''.join(sections)}"
        f"<h2>Errors</h2>{_error_table(data)}</body></html>\n"
    )


def build_report(folder: Path | str, out: Path | str | None = None, label_col: str | None = None,
                 probe_samples: int = 200) -> Path:
    """Write the report for an output folder (finished or still running); return its path."""
    state = collect(folder)
    data = collect_report_data(state, label_col=label_col, probe_samples=probe_samples)
    target = Path(out) if out is not None else state.folder / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    from curation.fsutil import atomic_write_bytes

    atomic_write_bytes(target, render_html(data).encode("utf-8"))
    return target
