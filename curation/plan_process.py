"""Planning in a short-lived child process.

Planning reads whole input tables with pyarrow; the driver then only waits on workers, for hours.
Running the planner in its own process means pyarrow and the planning buffers leave with it, and
the long-lived driver stays at the size of a plain Python process with the config loaded.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
from multiprocessing.connection import Connection
from pathlib import Path

from curation.config import Config
from curation.manifest import Plan


class PlanningProcessError(RuntimeError):
    """The planning process died without an answer (killed, out of memory)."""


def _plan_child(config: Config, answer: Connection) -> None:
    from curation.lifecycle import die_with_parent
    from curation.plan import make_plan

    die_with_parent()
    try:
        reply: tuple[str, object] = ("ok", make_plan(config).manifest)
    except Exception as exc:  # sent back and raised again in the driver, same type and message
        reply = ("error", exc)
        try:
            pickle.dumps(exc)
        except Exception:
            reply = ("error", RuntimeError(f"{type(exc).__name__}: {exc}"))
    answer.send(reply)
    answer.close()


def plan_in_child(config: Config) -> Plan:
    """``make_plan(config)`` run in a spawned process; its errors are raised here unchanged."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_plan_child, args=(config, sender), name="curate-plan")
    process.start()
    sender.close()
    try:
        try:
            status, payload = receiver.recv()
        except EOFError:
            process.join(timeout=5)
            raise PlanningProcessError(f"planning process died (exit code {process.exitcode})") from None
    finally:
        receiver.close()
        if process.is_alive():
            process.join(timeout=5)
        if process.is_alive():  # interrupted while planning: nothing it writes is final until the manifest
            with contextlib.suppress(OSError):
                process.kill()
            process.join(timeout=5)
    if status == "error":
        assert isinstance(payload, BaseException)
        raise payload
    assert isinstance(payload, dict)
    return Plan(Path(config.output_folder), payload)
