"""One element of the job array the Slurm driver submitted: ``python -m distributors.slurm_task DIR``.

It reads only what the driver wrote (config JSON, shard groups, the plan), never the input table,
and runs the pending shards of its group; a requeued element skips the shards already finished.
Exit status 1 when a shard of the group still failed after its retries (the log says which).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from curation.config import validate_config
from curation.fsutil import read_json
from distributors.base import ShardOutcome
from distributors.slurm import run_share, share


def _report(outcome: ShardOutcome) -> None:
    state = "done" if outcome.ok else f"failed (attempt {outcome.attempts}): {outcome.error}"
    print(f"curate: shard {outcome.shard_id} {state}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m distributors.slurm_task")
    parser.add_argument("submit_dir", type=Path)
    parser.add_argument("--element", type=int, default=None, help="default: $SLURM_ARRAY_TASK_ID")
    parser.add_argument("--split-by-procid", action="store_true", help="several srun tasks share the group")
    args = parser.parse_args(argv)
    from curation.lifecycle import stop_cleanly

    config = validate_config(read_json(args.submit_dir / "config.json"))
    element = args.element if args.element is not None else int(os.environ["SLURM_ARRAY_TASK_ID"])
    group = read_json(args.submit_dir / "shards.json")["groups"][element]
    if args.split_by_procid:
        group = share(group, int(os.environ.get("SLURM_PROCID", 0)), int(os.environ.get("SLURM_NTASKS", 1)))
    print(f"curate: element {element}: shards {group}", file=sys.stderr, flush=True)
    try:
        with stop_cleanly():
            outcomes = run_share(config, group, _report)
    except KeyboardInterrupt:  # scancel, requeue: children are ended; shard threads must not be waited for
        print(f"curate: element {element} stopped; its unfinished shards run again on requeue or resubmit",
              file=sys.stderr, flush=True)
        os._exit(143)
    failed = [o for o in outcomes if not o.ok]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
