"""`curate stats|report|inspect`: CLI glue only; the work lives in run_state, report, shard_inspect.

Imports happen inside the commands so ``curate --help`` stays fast (matplotlib only for report).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any


def register(subparsers: Any) -> None:
    stats = subparsers.add_parser("stats", help="totals of an output folder (also while a run is going)",
                                  description="Totals from the _stats.json files, and shards done/pending from the plan.")
    stats.add_argument("output_folder", metavar="OUTPUT_FOLDER")
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    stats.set_defaults(func=cmd_stats)

    report = subparsers.add_parser("report", help="write report.html with plots of a run",
                                   description="Write a self-contained HTML report (plots embedded) of an output folder.")
    report.add_argument("output_folder", metavar="OUTPUT_FOLDER")
    report.add_argument("--out", default=None, metavar="FILE", help="where to write (default OUTPUT_FOLDER/report.html)")
    report.add_argument("--label_col", "--label-col", default=None, help="column to count samples per class by")
    report.add_argument("--probe_samples", "--probe-samples", type=int, default=200, metavar="N",
                        help="outputs to ffprobe for the 'out' histograms (0: none)")
    report.set_defaults(func=cmd_report)

    inspect = subparsers.add_parser("inspect", help="list the samples of one shard",
                                    description="List a shard's samples: key, members, sizes, status, duration.")
    inspect.add_argument("shard", metavar="SHARD", help="a .tar, a shard folder, or a .parquet")
    inspect.add_argument("--json", action="store_true", help="one JSON object per sample, one per line")
    inspect.add_argument("--probe", action="store_true", help="ffprobe media whose duration the metadata does not record")
    inspect.set_defaults(func=cmd_inspect)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def human_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def format_stats(ov: dict[str, Any]) -> str:
    shards = ov["shards"]
    samples = ov["samples"]

    def share(n: int) -> str:
        return f"{n} ({100 * n / samples:.1f}%)" if samples else str(n)

    if shards["total"] is None:
        shard_line = f"{shards['done']} done (no plan manifest: pending unknown)"
    else:
        shard_line = f"{shards['done']}/{shards['total']} done, {shards['pending']} pending"
        if shards["running"]:
            shard_line += f" ({shards['running']} being written)"
    tp = ov["throughput"]
    rows: list[tuple[str, str]] = [
        ("output folder", ov["output_folder"]),
        ("shards", shard_line),
        ("samples", str(samples)),
        ("  success", share(ov["successes"])),
        ("  failed_to_download", share(ov["failed_to_download"])),
        ("  failed_to_subsample", share(ov["failed_to_subsample"])),
        ("outputs written", str(ov["outputs_written"])),
        *([("filtered", f"{ov['filtered']} outputs dropped by filters: "
            + ", ".join(f"{d['condition']} failed {d['count']}×" for d in ov["filter_drops"]))] if ov.get("filtered") else []),
        ("bytes", f"{human_bytes(ov['bytes_downloaded'])} downloaded, {human_bytes(ov['bytes_written'])} written"),
        ("video hours", f"{ov['video_hours_in']:.3f} in, {ov['video_hours_out']:.3f} out"),
        ("wall", f"{human_seconds(ov['wall_seconds'])} ({ov['wall_seconds']:.1f} s; {ov['shard_seconds']:.1f} shard-seconds)"),
        ("throughput", f"{tp['samples_per_second']:.2f} samples/s, {tp['video_seconds_per_second']:.2f} video-s/s, "
                       f"{tp['mb_per_second']:.2f} MB/s"),
    ]
    run = ov.get("active_run")
    if run:
        state = {True: "running", False: "not running (stale lock)", None: "on another host"}[run["alive"]]
        rows.append(("run", f"pid {run['pid']} on {run['host']}, {state}"))
    if shards["pending_names"]:
        more = "" if len(shards["pending_names"]) >= (shards["pending"] or 0) else ", ..."
        rows.append(("pending shards", ", ".join(shards["pending_names"]) + more))
    if shards["unreadable_stats"]:
        rows.append(("unreadable stats", ", ".join(shards["unreadable_stats"])))
    lines = [f"{label + ':':<22} {value}" for label, value in rows]
    if ov["top_errors"]:
        lines.append("top errors:")
        lines += [f"  {e['count']:>7}  {e['message']}" for e in ov["top_errors"]]
    return "\n".join(lines)


def cmd_stats(args: argparse.Namespace) -> int:
    from curation.remote_output import remote_protocol
    from curation.run_state import collect, collect_remote, overview

    remote = remote_protocol(args.output_folder) is not None
    ov = overview(collect_remote(args.output_folder) if remote else collect(args.output_folder))
    emit([json.dumps(ov, indent=2) if args.json else format_stats(ov)])
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import importlib.util

    from curation.errors import UserError

    if importlib.util.find_spec("matplotlib") is None:
        raise UserError("curate report needs matplotlib: pip install 'curation[report]'")
    from curation.report import build_report

    if args.probe_samples < 0:
        raise UserError("--probe_samples: must be >= 0")
    from curation.remote_output import remote_protocol

    if remote_protocol(args.output_folder) is not None:
        raise UserError(f"{args.output_folder}: curate report reads shards from a local folder; copy it first "
                        "(curate stats works on remote folders)")
    path = build_report(args.output_folder, args.out, label_col=args.label_col, probe_samples=args.probe_samples)
    print(f"report written to {path}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from curation.shard_inspect import inspect_shard, probe_durations

    entries = inspect_shard(args.shard)
    if args.probe:
        probe_durations(args.shard, entries)
    emit(inspect_lines(entries, args.json))
    return 0


def emit(lines: Iterable[str]) -> None:
    """Print lines; a reader that stops early (``| head``) ends the output quietly."""
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def inspect_lines(entries: list[Any], as_json: bool) -> Iterator[str]:
    if as_json:
        for entry in entries:
            yield json.dumps(entry.to_dict(), default=str)
        return
    width = max([len("key")] + [len(e.key) for e in entries])
    yield f"{'key':<{width}}  {'status':<19}  {'duration':>8}  {'bytes':>9}  members"
    for e in entries:
        duration = f"{e.duration:.2f}s" if e.duration is not None else "-"
        members = ", ".join(f"{ext} {human_bytes(size)}" for ext, size in e.members.items()) or "-"
        line = f"{e.key:<{width}}  {e.status:<19}  {duration:>8}  {human_bytes(e.size):>9}  {members}"
        yield line + (f"  [{e.error}]" if e.error else "")
    ok = sum(e.status == "success" for e in entries)
    yield f"{len(entries)} samples, {ok} success, {len(entries) - ok} other, {human_bytes(sum(e.size for e in entries))}"
