#!/usr/bin/env python3
"""`make bench`: curate vs bare one-pass ffmpeg vs video2dataset 1.3.0 on the same local videos.

The bar (DESIGN.md) is bare ffmpeg doing the same work; video2dataset is the tool we replace.
Every contender is one measured process tree (wall, user+sys CPU, peak summed RSS) and its
outputs are counted, so a run that drops samples is reported, not rewarded.
See /work/shared/docs/benchmarking.md for the recipe and the reference figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import commands
import outputs
from measure import run_measured
from media import VideoSpec, clip_spans, ensure_media, video_specs
from report import Row, table_lines, write_results
from server import serve

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / "work"
MEDIA = WORK / "media"
LOGS = WORK / "logs"
OUT = WORK / "out"
V2D_VENV = BENCH / ".v2d-venv"
SECTIONS = ("resize", "clip", "plan", "reprocess", "flow")
JOB_A, JOB_B, JOB_PLAN = "A resize+fps", "B clip+resize+fps", "plan"
JOB_R, JOB_R2 = "R reprocess 224p8", "R2 reprocess 160p4"


@dataclass
class Context:
    """Everything the sections share; rows and problems accumulate here."""

    args: argparse.Namespace
    specs: list[VideoSpec]
    paths: list[Path]
    base_url: str = ""
    v2d_bin: Path | None = None
    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def clip_specs(self) -> list[VideoSpec]:
        return self.specs[: self.args.clip_videos]

    def url(self, spec: VideoSpec) -> str:
        return f"{self.base_url}/{spec.name}"


def curate_env() -> dict[str, str]:
    """Make ``python -m curation`` import this checkout even if the venv lacks the editable install."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def timeout_for(video_s: float) -> float:
    """Generous per-tool limit: ~4x the slowest reference speed, never below 10 minutes."""
    return max(600.0, 300.0 + 2.0 * video_s)


def fresh(folder: Path) -> Path:
    """Every tool starts from an empty output folder (no resume, no stale shards)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def write_tables(ctx: Context) -> tuple[Path, Path]:
    """The csv url table (job A) and the json table with a clips column (job B)."""
    tables = WORK / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    csv_path = tables / "table.csv"
    lines = ["url,caption"] + [f"{ctx.url(s)},{s.source} {s.height}p{s.fps}" for s in ctx.specs]
    csv_path.write_text("\n".join(lines) + "\n")
    json_path = tables / "clips.json"
    records = [
        {"url": ctx.url(s), "caption": f"{s.source} {s.height}p{s.fps}", "clips": clip_spans(s)}
        for s in ctx.clip_specs
    ]
    json_path.write_text(json.dumps(records, indent=1))
    return csv_path, json_path


def record_run(ctx: Context, row: Row, log_hint: Path) -> None:
    """Note a failing exit code with the tail of the tool's log."""
    if row.returncode not in (0, None) or row.timed_out:
        tail = log_hint.read_text(errors="replace").strip().splitlines()[-3:] if log_hint.exists() else []
        ctx.problems.append(f"{row.job} / {row.tool}: exit {row.returncode} {row.note} ({log_hint}): "
                            + " | ".join(t.strip()[:200] for t in tail))
    ctx.rows.append(row)
    print(f"  {row.tool:14s} wall {row.wall_s or 0:7.1f}s  cpu {row.cpu_s or 0:7.1f}s  "
          f"rss {row.peak_rss_mb or 0:6.0f}MB  pss {row.peak_pss_mb or 0:6.0f}MB  outputs {row.outputs}  rc {row.returncode} {row.note}", flush=True)
    if row.peak_parts:
        print(f"  {'':14s} at the RSS peak (MB): {row.peak_parts}", flush=True)


def run_tool_into_tars(ctx: Context, job: str, tool: str, cmd: list[str], out: Path, video_s: float) -> Row:
    """Run a shard-writing tool (curate or video2dataset) and count the videos in its tars."""
    log = LOGS / f"{job.split()[0]}_{tool}.log"
    env = curate_env() if tool == "curate" else None
    m = run_measured(cmd, log, timeout_for(video_s), env=env, cwd=WORK)
    row = Row.measured(job, tool, m, video_s)
    shards = len(list(out.glob("*.tar")))
    describe_outputs(row, outputs.summarize_tars(out, WORK / "check" / log.stem))
    errors = outputs.stats_errors(out)
    if errors:
        ctx.problems.append(f"{job} / {tool}: recorded failures: " + "; ".join(errors))
    row.note = (row.note + f" {shards} shards").strip()
    record_run(ctx, row, log)
    return row


def run_ffmpeg_pool(ctx: Context, job: str, jobs: list[list[str]], out: Path, video_s: float,
                    tool: str = "ffmpeg") -> Row:
    """The bare baseline: every ffmpeg command, two at a time, measured as one tree."""
    jobs_file = WORK / "jobs" / f"{job.split()[0]}_{tool}.json"
    jobs_file.parent.mkdir(parents=True, exist_ok=True)
    jobs_file.write_text(json.dumps(jobs))
    log = LOGS / f"{job.split()[0]}_{tool}.log"
    limit = timeout_for(video_s)
    cmd = [sys.executable, str(BENCH / "pool.py"), str(jobs_file), "--parallel", "2", "--timeout", "600"]
    m = run_measured(cmd, log, limit)
    row = Row.measured(job, tool, m, video_s)
    describe_outputs(row, outputs.summarize(sorted(out.glob("*.mp4"))))
    record_run(ctx, row, log)
    return row


def describe_outputs(row: Row, summary: outputs.MediaSummary) -> None:
    """Fill the row's output columns from what the files really contain."""
    row.outputs = summary.count
    row.output_s = summary.seconds
    row.output_desc = summary.describe()
    row.summary = summary


def compare_counts(ctx: Context, job: str, expected: dict[str, int], what: str,
                   height: int = 224, fps: int = 8) -> None:
    """Print and record outputs that differ from what each tool should produce.

    Checks the count per tool, that every output is ``height`` px high at ``fps``, and the total
    output duration of curate against bare ffmpeg's.
    """
    print(f"  check: expected {what}: " + ", ".join(f"{t} {n}" for t, n in expected.items()))
    rows = {r.tool: r for r in ctx.rows if r.job == job}
    for tool, row in rows.items():
        problems = []
        want = expected.get(tool)
        if want is not None and row.outputs != want:
            problems.append(f"{row.outputs} {what}, expected {want}")
        summary = row.summary
        if summary is not None and summary.count:
            if set(summary.heights) != {height}:
                problems.append(f"heights {dict(summary.heights)}, expected all {height}")
            if set(summary.rates) != {str(fps)}:
                problems.append(f"frame rates {dict(summary.rates)}, expected all {fps} (ffprobe avg_frame_rate)")
            if summary.late_start:
                problems.append(f"{summary.late_start} outputs whose video starts after 0.05 s")
            if summary.unreadable:
                problems.append(f"{summary.unreadable} outputs unreadable by ffprobe")
        for problem in problems:
            msg = f"{job} / {tool}: {problem}"
            print(f"  MISMATCH {msg}", flush=True)
            ctx.problems.append(msg)
    cur, ff = rows.get("curate"), rows.get("ffmpeg")
    if cur and ff and cur.output_s and ff.output_s:
        print(f"  output seconds: curate {cur.output_s:.1f}, ffmpeg {ff.output_s:.1f} "
              f"({cur.output_s / ff.output_s:.2f}x)", flush=True)


# --- job A -----------------------------------------------------------------------------------

def job_resize(ctx: Context, csv_path: Path) -> None:
    """Resize to 224 px + 8 fps of every video: the transform video2dataset users run most."""
    print(f"\n== {JOB_A}: {len(ctx.specs)} videos", flush=True)
    video_s = sum(s.duration for s in ctx.specs)
    config = commands.write_yaml(WORK / "configs" / "bench_resize.yaml",
                                 commands.curate_config(commands.RESIZE_SUBSAMPLING))
    out = fresh(OUT / "A_curate")
    cmd = commands.curate_command(str(csv_path), out, config, "csv",
                                  ["--url_col", "url", "--caption_col", "caption"])
    run_tool_into_tars(ctx, JOB_A, "curate", cmd, out, video_s)

    out = fresh(OUT / "A_ffmpeg")
    jobs = [commands.ffmpeg_resize(p, out / f"{p.stem}.mp4") for p in ctx.paths]
    run_ffmpeg_pool(ctx, JOB_A, jobs, out, video_s)

    if ctx.v2d_bin:
        config = write_v2d_config("v2d_resize.yaml", commands.RESIZE_SUBSAMPLING)
        out = fresh(OUT / "A_v2d")
        cmd = commands.v2d_command(ctx.v2d_bin, csv_path, out, config, "csv")
        run_tool_into_tars(ctx, JOB_A, "video2dataset", cmd, out, video_s)
    n = len(ctx.specs)
    compare_counts(ctx, JOB_A, {"curate": n, "ffmpeg": n, "video2dataset": n}, "samples")


# --- job B -----------------------------------------------------------------------------------

def job_clip(ctx: Context, json_path: Path) -> None:
    """Clip (keyframe-adjusted spans) + resize + fps: several outputs from one source."""
    specs = ctx.clip_specs
    spans = {s.index: clip_spans(s) for s in specs}
    video_s = sum(e - b for s in specs for b, e in spans[s.index])
    total = sum(len(v) for v in spans.values())
    print(f"\n== {JOB_B}: {len(specs)} videos, {total} spans, {video_s:.0f} s of clips", flush=True)
    config = commands.write_yaml(WORK / "configs" / "bench_clip.yaml",
                                 commands.curate_config(commands.CLIP_SUBSAMPLING))
    out = fresh(OUT / "B_curate")
    cmd = commands.curate_command(str(json_path), out, config, "json",
                                  ["--url_col", "url", "--caption_col", "caption", "--clip_col", "clips"])
    run_tool_into_tars(ctx, JOB_B, "curate", cmd, out, video_s)

    out = fresh(OUT / "B_ffmpeg")
    jobs = [commands.ffmpeg_clips(ctx.paths[s.index], spans[s.index], out / Path(ctx.paths[s.index]).stem)
            for s in specs]
    run_ffmpeg_pool(ctx, JOB_B, jobs, out, video_s)

    if ctx.v2d_bin:
        config = write_v2d_config("v2d_clip.yaml", commands.CLIP_SUBSAMPLING)
        out = fresh(OUT / "B_v2d")
        cmd = commands.v2d_command(ctx.v2d_bin, json_path, out, config, "json", ["--clip_col=clips"])
        run_tool_into_tars(ctx, JOB_B, "video2dataset", cmd, out, video_s)
    snapped = sum(keyframe_adjusted_survivors(spans[s.index], s.duration) for s in specs)
    print(f"  {total} spans requested; {snapped} survive keyframe_adjusted snapping (ffmpeg cuts all exactly)")
    compare_counts(ctx, JOB_B, {"curate": snapped, "ffmpeg": total, "video2dataset": snapped}, "clips")


def keyframe_adjusted_survivors(spans: list[list[float]], duration: float, min_length: float = 1.0) -> int:
    """How many spans survive video2dataset's keyframe_adjusted rule on our 2 s keyframe grid.

    Its rule: snap each span inward to the keyframes inside it (the end of file counts as one)
    and keep it if the snapped span is longer than min_length. Informational: a tool that snaps
    may legitimately produce this many clips instead of one per span.
    """
    from media import GOP_SECONDS

    keyframes = [float(k * GOP_SECONDS) for k in range(int(duration // GOP_SECONDS) + 1)] + [duration]
    kept = 0
    for start, end in spans:
        inside = [k for k in keyframes if start <= k <= end]
        kept += bool(inside) and max(inside) - min(inside) > min_length
    return kept


# --- reprocessing ----------------------------------------------------------------------------

def brace_pattern(folder: Path) -> str | None:
    """``folder/{00000..000NN}.tar`` over the numbered shards of a previous run."""
    stems = sorted(p.stem for p in folder.glob("*.tar"))
    if not stems or not all(s.isdigit() for s in stems):
        return None
    if len(stems) == 1:
        return str(folder / f"{stems[0]}.tar")
    return f"{folder}/{{{stems[0]}..{stems[-1]}}}.tar"


def prepare_reprocess_input(ctx: Context, csv_path: Path) -> None:
    """With ``--only reprocess`` and no job A output yet: run job A's curate step, unmeasured."""
    print("reprocess: running job A's curate step first (not measured)", flush=True)
    config = commands.write_yaml(WORK / "configs" / "bench_resize.yaml",
                                 commands.curate_config(commands.RESIZE_SUBSAMPLING))
    out = fresh(OUT / "A_curate")
    cmd = commands.curate_command(str(csv_path), out, config, "csv",
                                  ["--url_col", "url", "--caption_col", "caption"])
    m = run_measured(cmd, LOGS / "A_curate_for_reprocess.log", timeout_for(sum(s.duration for s in ctx.specs)),
                     env=curate_env(), cwd=WORK)
    if m.returncode != 0:
        ctx.problems.append(f"{JOB_R}: job A's curate step failed (exit {m.returncode}): {m.tail(2)}")


def job_reprocess(ctx: Context) -> None:
    """Re-process job A's own shards without downloading again, with two transforms.

    R: job A's transform again (224 px, 8 fps). The input already conforms, so a tool may pass it
    through; the row notes how many outputs are byte-identical to their inputs.
    R2: 160 px, 4 fps, which forces a real decode + encode of every sample.
    """
    source = OUT / "A_curate"
    pattern = brace_pattern(source)
    if pattern is None:
        print(f"\n== {JOB_R}\nreprocess: not available (no numbered shards from job A's curate run)")
        ctx.problems.append(f"{JOB_R}: not available, job A's curate output has no numbered .tar shards")
        return
    extracted = outputs.extract_videos(source, fresh(WORK / "reprocess_in"))
    video_s = sum(outputs.probe_duration(p) for p in extracted)
    for job, name, height, fps in ((JOB_R, "R", 224, 8), (JOB_R2, "R2", 160, 4)):
        print(f"\n== {job}: {len(extracted)} samples from job A's curate shards", flush=True)
        config = commands.write_yaml(WORK / "configs" / f"bench_reprocess_{height}p{fps}.yaml",
                                     commands.curate_config(commands.resize_subsampling(height, fps)))
        out = fresh(OUT / f"{name}_curate")
        cmd = commands.curate_command(pattern, out, config, "webdataset")
        row = run_tool_into_tars(ctx, job, "curate", cmd, out, video_s)
        same = outputs.identical_videos(source, out)
        if same:
            row.note = f"{row.note}; {same} outputs byte-identical to input (passed through)"
            print(f"  curate passed {same} samples through unchanged", flush=True)
        out = fresh(OUT / f"{name}_ffmpeg")
        vf = commands.video_filter(height, fps)
        jobs = [commands.ffmpeg_resize(p, out / f"{p.stem}.mp4", vf) for p in extracted]
        run_ffmpeg_pool(ctx, job, jobs, out, video_s)
        n = len(extracted)
        compare_counts(ctx, job, {"curate": n, "ffmpeg": n}, "samples", height, fps)


# --- planning --------------------------------------------------------------------------------

def ensure_parquet(rows: int) -> Path:
    """A cached parquet url table of ``rows`` rows, written in batches with Arrow compute only."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = WORK / "plan" / f"table_{rows}.parquet"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    schema = pa.schema([("url", pa.string()), ("caption", pa.string())])
    print(f"plan: writing a {rows}-row parquet table", flush=True)
    with pq.ParquetWriter(tmp, schema) as writer:
        for begin in range(0, rows, 1_000_000):
            ids = pc.cast(pa.array(np.arange(begin, min(rows, begin + 1_000_000))), pa.string())
            url = pc.binary_join_element_wise("http://127.0.0.1:9/videos/", ids, ".mp4", "")
            caption = pc.binary_join_element_wise("synthetic video number ", ids, "")
            writer.write_table(pa.table({"url": url, "caption": caption}, schema=schema))
    tmp.replace(path)
    return path


PLAN_SNIPPET = """
import sys, time
from curation.config import build_config
from curation.plan import make_plan
cfg = build_config("default", url_list=sys.argv[1], output_folder=sys.argv[2], input_format="parquet",
                   output_format="dummy", url_col="url", caption_col="caption")
t = time.monotonic()
plan = make_plan(cfg)
shards = len(getattr(plan, "shard_ids", []) or [])
rows = getattr(plan, "total_rows", "?")
print(f"planned in {time.monotonic() - t:.1f}s: {rows} rows in {shards} shards")
"""


def _python_ok(code: str, timeout: float = 120.0) -> bool:
    done = subprocess.run([sys.executable, "-c", code], env=curate_env(), capture_output=True, timeout=timeout)
    return done.returncode == 0


def plan_only_flag() -> str | None:
    """The CLI's plan-only switch, if ``curate run --help`` advertises one."""
    try:
        done = subprocess.run([sys.executable, "-m", "curation", "run", "--help"], env=curate_env(),
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None
    for flag in ("--plan_only", "--plan-only", "--dry_run", "--dry-run"):
        if flag in done.stdout:
            return flag
    return None


def job_plan(ctx: Context) -> None:
    """Time planning a 10M-row table: streaming read, keys, input shards, manifest."""
    rows = ctx.args.rows
    print(f"\n== {JOB_PLAN}: {rows} rows", flush=True)
    table = ensure_parquet(rows)
    out = fresh(OUT / "plan_curate")
    flag = plan_only_flag()
    if flag:
        cmd = commands.curate_command(str(table), out, WORK / "configs" / "plan.yaml", "parquet",
                                      [flag, "--url_col", "url", "--caption_col", "caption"],
                                      output_format="dummy")
        commands.write_yaml(WORK / "configs" / "plan.yaml", {})
        how = f"curate run {flag}"
    elif _python_ok("from curation.plan import make_plan; from curation.config import build_config"):
        cmd = [sys.executable, "-c", PLAN_SNIPPET, str(table), str(out)]
        how = "curation.plan.make_plan"
    else:
        print("plan: not available (no plan-only flag in `curate run --help`, no curation.plan.make_plan)")
        ctx.problems.append("plan: not available (no plan-only CLI flag and no curation.plan.make_plan)")
        return
    log = LOGS / "plan_curate.log"
    m = run_measured(cmd, log, 3600.0, env=curate_env(), cwd=WORK)
    row = Row.measured(JOB_PLAN, "curate", m, 0.0)
    found = re.search(r"in (\d+) shards", m.tail(5))
    row.outputs = int(found.group(1)) if found else None
    size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    row.note = (f"{rows} rows via {how}, {rows / m.wall_s:,.0f} rows/s, plan folder {size_mb:,.0f} MB; "
                f"outputs = shards planned " + row.note).strip()
    record_run(ctx, row, log)
    print("  " + m.tail(2).replace("\n", "\n  "))


# --- main ------------------------------------------------------------------------------------

def write_v2d_config(name: str, subsampling: dict) -> Path:
    import v2d

    return commands.write_yaml(WORK / "configs" / name, commands.v2d_config(v2d.default_config(V2D_VENV), subsampling))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=100, help="videos for job A (default 100)")
    parser.add_argument("--clip-videos", type=int, default=40, help="first N videos for job B (default 40)")
    parser.add_argument("--skip-v2d", action="store_true", help="do not install or run video2dataset")
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the planning table")
    parser.add_argument("--only", choices=SECTIONS, help="run one section")
    parser.add_argument("--flow-videos", type=int, default=10, help="first N videos for the flow section (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.clip_videos = min(args.clip_videos, args.videos)
    return args


def machine_header(args: argparse.Namespace, argv: list[str]) -> list[str]:
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, timeout=30).stdout
    return [
        f"command: {' '.join(['bench/run_bench.py', *argv])}",
        f"date (UTC): {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}",
        f"machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}",
        f"ffmpeg: {ffmpeg.splitlines()[0] if ffmpeg else '?'}",
        f"git: {git_head()}",
        "video-s / wall-s: seconds of input video (job A, R) or of requested clips (job B) per wall second",
        "peak RSS: peak of the summed RSS of the whole process tree, sampled every 0.2 s",
        "peak PSS: the same for PSS (shared library pages split among the processes that map them: the RAM the tree holds)",
        "other load: mean CPU cores busy OUTSIDE the measured tree during the run (noise; 2 = machine full)",
        "load average at start (1/5/15 min): " + " / ".join(f"{x:.1f}" for x in os.getloadavg()),
    ]


def git_head() -> str:
    try:
        done = subprocess.run(["git", "log", "-1", "--format=%h %s"], cwd=REPO, capture_output=True,
                              text=True, timeout=30)
        return done.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def guarded(ctx: Context, name: str, fn: Callable[[], None]) -> None:
    """A crashing section becomes a reported problem; the other sections still run."""
    try:
        fn()
    except Exception as exc:  # the bench must finish and report whatever it has
        print(f"{name}: FAILED: {type(exc).__name__}: {exc}", flush=True)
        ctx.problems.append(f"{name}: bench section crashed: {type(exc).__name__}: {exc}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    run = set(SECTIONS) if args.only is None else {args.only}
    WORK.mkdir(parents=True, exist_ok=True)
    header = machine_header(args, argv)
    specs = video_specs(args.videos, args.seed)
    ctx = Context(args, specs, [])
    needs_media = bool(run & {"resize", "clip", "reprocess", "flow"})
    if needs_media:
        ctx.paths = ensure_media(specs, MEDIA)
        header.append(f"videos: {len(specs)} ({sum(s.duration for s in specs):.0f} s)"
                      + (f", clip job on the first {args.clip_videos}" if "clip" in run else ""))
    if not args.skip_v2d and run & {"resize", "clip"}:
        import v2d

        try:
            ctx.v2d_bin = v2d.ensure_v2d(V2D_VENV)
        except Exception as exc:
            print(f"video2dataset: not available: {exc}", flush=True)
            ctx.problems.append(f"video2dataset: venv setup failed: {exc}")
    if needs_media:
        with serve(MEDIA) as base_url:
            ctx.base_url = base_url
            csv_path, json_path = write_tables(ctx)
            if "resize" in run:
                guarded(ctx, JOB_A, lambda: job_resize(ctx, csv_path))
            if "clip" in run:
                guarded(ctx, JOB_B, lambda: job_clip(ctx, json_path))
            if "reprocess" in run:
                if "resize" not in run and brace_pattern(OUT / "A_curate") is None:
                    guarded(ctx, JOB_A, lambda: prepare_reprocess_input(ctx, csv_path))
                guarded(ctx, JOB_R, lambda: job_reprocess(ctx))
    if "flow" in run:
        import flow

        guarded(ctx, flow.JOB_FLOW, lambda: flow.job_flow(ctx, run_measured, Row, record_run, curate_env(), WORK, LOGS))
    if "plan" in run:
        guarded(ctx, JOB_PLAN, lambda: job_plan(ctx))

    header.append("load average at end (1/5/15 min): " + " / ".join(f"{x:.1f}" for x in os.getloadavg()))
    lines = table_lines(ctx.rows)
    print("\n" + "\n".join(header) + "\n\n" + "\n".join(lines))
    if ctx.problems:
        print("\nProblems:\n" + "\n".join(f"- {p}" for p in ctx.problems))
    write_results(ctx.rows, ctx.problems, header, WORK)
    print(f"\nwrote {WORK / 'results.json'} and {WORK / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
