"""Planning in a short-lived child process.

Planning reads whole input tables with pyarrow; the driver then waits on shards, for hours.
Running the planner in its own process means the planning buffers (and, for a driver that only
waits on worker processes, pyarrow itself) leave with it.

The child is a plain ``python -m curation.plan_process`` started with ``subprocess``, not a
multiprocessing ``spawn``: a spawn also starts multiprocessing's resource tracker, a third Python
process (~13 MB) that would live as long as the run.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

from curation.config import Config
from curation.manifest import Plan


class PlanningProcessError(RuntimeError):
    """The planning process died without an answer (killed, out of memory)."""


def _reply_for(config: Config) -> tuple[str, Any]:
    from curation.plan import make_plan

    try:
        return "ok", make_plan(config).manifest
    except Exception as exc:  # sent back and raised again in the driver, same type and message
        try:
            pickle.dumps(exc)
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        return "error", exc


def _child_main() -> None:
    """Read the pickled config on stdin, plan, write the pickled reply on stdout."""
    from curation.lifecycle import die_with_parent

    die_with_parent()
    config = pickle.load(sys.stdin.buffer)
    reply = _reply_for(config)
    with os.fdopen(os.dup(sys.stdout.fileno()), "wb") as out:
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a print() while planning must not corrupt the reply
        pickle.dump(reply, out)


def plan_in_child(config: Config) -> Plan:
    """``make_plan(config)`` run in a child process; its errors are raised here unchanged."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))  # the child imports what we import
    process = subprocess.Popen([sys.executable, "-m", "curation.plan_process"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, env=env)
    try:
        assert process.stdin is not None and process.stdout is not None
        with contextlib.suppress(BrokenPipeError):  # a child that died at once answers nothing, below
            process.stdin.write(pickle.dumps(config))
            process.stdin.close()
        answer = process.stdout.read()
        process.wait()
    finally:
        if process.poll() is None:  # interrupted while planning: nothing it writes is final until the manifest
            with contextlib.suppress(OSError):
                process.kill()
            process.wait(timeout=5)
    if not answer:
        raise PlanningProcessError(f"planning process died (exit code {process.returncode})")
    status, payload = pickle.loads(answer)
    if status == "error":
        assert isinstance(payload, BaseException)
        raise payload
    assert isinstance(payload, dict)
    return Plan(Path(config.output_folder), payload)


if __name__ == "__main__":
    _child_main()
