"""`--only flow`: what metadata passes cost, in CPU-seconds per second of video, beside decoding alone.

Three measured process trees over the first ``--flow-videos`` bench videos:
- ffmpeg decode alone (``-f null``, 2 at a time): the floor any pass over the pixels pays;
- MotionScoreSubsampler at its defaults (32 px, 4 fps), through curate's own code path;
- OpticalFlowSubsampler at its defaults (64 px short side, 2 fps, Farneback), the same way.
The analysis runs are this file run as a script (``--analyse NAME PATHS``): probe + the
metadata-only transform per video, as a metadata-only ``curate run`` worker does, minus the tars.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ANALYSES = {
    "flow": {"OpticalFlowSubsampler": {"args": {}}},
    "motion": {"MotionScoreSubsampler": {"args": {}}},
}
FIELDS = {"flow": "optical_flow", "motion": "motion"}
JOB_DECODE, JOB_MOTION, JOB_FLOW = "F decode only", "F motion 32px 4fps", "F flow 64px 2fps"


def decode_command(path: Path) -> list[str]:
    return ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:v:0", "-an",
            "-f", "null", "-"]


def job_flow(ctx: Any, run_measured: Callable[..., Any], row_type: Any, record_run: Callable[..., None],
             env: dict[str, str], work: Path, logs: Path) -> None:
    """Measure decode, motion and flow over the same videos; one row each, CPU-s per video-s in the note."""
    count = ctx.args.flow_videos
    paths, specs = ctx.paths[:count], ctx.specs[:count]
    video_s = sum(s.duration for s in specs)
    print(f"\n== flow: {len(paths)} videos, {video_s:.0f} s of video", flush=True)
    jobs_file = work / "jobs" / "F_decode.json"
    jobs_file.parent.mkdir(parents=True, exist_ok=True)
    jobs_file.write_text(json.dumps([decode_command(p) for p in paths]))
    runs = [
        (JOB_DECODE, "ffmpeg", [sys.executable, str(BENCH / "pool.py"), str(jobs_file), "--parallel", "2"], None),
        (JOB_MOTION, "curate", [sys.executable, str(BENCH / "flow.py"), "--analyse", "motion", *map(str, paths)], "motion"),
        (JOB_FLOW, "curate", [sys.executable, str(BENCH / "flow.py"), "--analyse", "flow", *map(str, paths)], "flow"),
    ]
    per_video_s: dict[str, float] = {}
    for job, tool, cmd, analysis in runs:
        log = logs / f"{job.split()[0]}_{analysis or 'decode'}.log"
        m = run_measured(cmd, log, max(600.0, 10 * video_s), env=env, cwd=work)
        row = row_type.measured(job, tool, m, video_s)
        cost = m.cpu_s / video_s if video_s else 0.0
        per_video_s[job] = cost
        row.outputs = len(paths) if m.returncode == 0 else None
        row.note = (row.note + f" {cost:.3f} CPU-s per video-s").strip()
        if analysis:
            means = _means(log, FIELDS[analysis])
            row.output_desc = f"{FIELDS[analysis]}.mean {min(means):.2f}..{max(means):.2f}" if means else "no results"
            row.outputs = len(means)
        record_run(ctx, row, log)
    decode = per_video_s.get(JOB_DECODE) or 0.0
    for job in (JOB_MOTION, JOB_FLOW):
        ratio = f" ({per_video_s[job] / decode:.2f}x decode alone)" if decode else ""
        print(f"  {job}: {per_video_s[job]:.3f} CPU-s per video-s{ratio}; decode alone {decode:.3f}", flush=True)


def _means(log: Path, field: str) -> list[float]:
    """The per-video means the analysis run printed (one JSON line per video)."""
    values = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            summary = json.loads(line).get(field) or {}
            if summary.get("mean") is not None:
                values.append(summary["mean"])
    return values


def analyse(name: str, paths: list[Path]) -> int:
    """Probe + metadata-only transform per video (curate's worker path), one JSON line per video."""
    from curation.config import build_config
    from curation.metadata_only import metadata_transform
    from curation.probe import probe
    from subsamplers import build_subsamplers
    from subsamplers.base import SampleInput

    config = build_config(None, metadata_only=True, subsampling=ANALYSES[name])
    _, chain = build_subsamplers(config.subsampling)
    failures = 0
    for path in paths:
        start = time.monotonic()
        try:
            sample = SampleInput(key=path.stem, path=path, probe=probe(path), metadata={}, tmp_dir=Path("/tmp"))
            [out] = metadata_transform(sample, chain, config)
        except Exception as exc:  # report and go on: the bench counts results
            failures += 1
            print(f"{path.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        summary = {k: v for k, v in out.metadata[FIELDS[name]].items() if k != "per_second"}
        print(json.dumps({"video": path.name, "seconds": round(time.monotonic() - start, 3), FIELDS[name]: summary}), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="run one analysis over videos (measured by run_bench.py)")
    parser.add_argument("--analyse", choices=sorted(ANALYSES), required=True)
    parser.add_argument("paths", nargs="+", type=Path)
    cli = parser.parse_args()
    sys.exit(analyse(cli.analyse, cli.paths))
