"""Run the bare-ffmpeg baseline: a JSON list of argv lists, N at a time (like ``xargs -P2``).

It is a separate script so the benchmark measures it as one process tree, exactly like the
tools it is compared with.  Usage: ``python bench/pool.py JOBS.json --parallel 2 --timeout 600``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def _run(argv: list[str], timeout: float) -> str | None:
    """Run one command; return an error line or None."""
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timeout after {timeout:.0f}s: {' '.join(argv[:6])} ..."
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        return f"exit {done.returncode}: {err[0]}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("jobs", type=Path)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    jobs: list[list[str]] = json.loads(args.jobs.read_text())
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        errors = [e for e in pool.map(lambda j: _run(j, args.timeout), jobs) if e]
    for error in errors:
        print(error, file=sys.stderr)
    print(f"pool: {len(jobs) - len(errors)}/{len(jobs)} commands succeeded")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
