"""What an output folder holds right now: finished shards, pending ones, totals.

Read-only and safe while a run is writing: ``_stats.json`` files appear atomically and are the only
"done" marker, so a shard is either counted whole or not at all. ``curate stats`` and the report
both start from here, so they always agree.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.errors import UserError
from curation.stats import summarize

_STATS_SUFFIX = "_stats.json"
_TEMP = re.compile(r"^\.(\d+)(?:[._].*)?\.tmp-\d+$")


@dataclass
class RunState:
    folder: Path | str  # a URL for a remote output folder (curate stats only)
    stats: list[dict[str, Any]]  # one per finished shard, sorted by shard name
    planned: list[str] | None  # every shard name in the plan manifest; None without a plan
    running: list[str] = field(default_factory=list)  # pending shards with temp files being written
    unreadable: list[str] = field(default_factory=list)  # stats files that could not be parsed
    lock: dict[str, Any] | None = None  # the run holding the folder (.curate.lock), if any

    @property
    def done(self) -> list[str]:
        return [s.get("shard", "") for s in self.stats]

    @property
    def pending(self) -> list[str]:
        if self.planned is None:
            return []
        finished = set(self.done)
        return [name for name in self.planned if name not in finished]

    def totals(self) -> dict[str, Any]:
        return summarize(self.stats)


def _planned_shards(folder: Path) -> list[str] | None:
    if not (folder / "_plan" / "manifest.json").is_file():
        return None
    from curation.manifest import load_plan

    try:
        plan = load_plan(folder)
        return [plan.shard_name(i) for i in plan.shard_ids]
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{folder}: unreadable plan manifest ({exc})") from None


def _lock_holder(folder: Path) -> dict[str, Any] | None:
    """Who holds the folder: pid, host, started, and alive (None when it runs on another host)."""
    from curation.lock import LOCK_NAME

    try:
        holder = json.loads((folder / LOCK_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(holder, dict):
        return None
    alive: bool | None = None
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        try:
            os.kill(holder["pid"], 0)
            alive = True
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
    return {"pid": holder.get("pid"), "host": holder.get("host"), "started": holder.get("started"), "alive": alive}


def collect(folder: Path | str) -> RunState:
    """Read an output folder's stats files and plan; a UserError when it is not one."""
    folder = Path(folder)
    if folder.is_file():
        raise UserError(f"{folder}: is a file, not an output folder (for one shard: curate inspect {folder})")
    if not folder.is_dir():
        raise UserError(f"{folder}: no such output folder")
    stats: list[dict[str, Any]] = []
    unreadable: list[str] = []
    for path in sorted(folder.glob(f"*{_STATS_SUFFIX}")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict):
            unreadable.append(path.name)
            continue
        data.setdefault("shard", path.name[: -len(_STATS_SUFFIX)])
        stats.append(data)
    planned = _planned_shards(folder)
    if planned is None and not stats:
        raise UserError(f"{folder}: not a curate output folder (no _plan/manifest.json and no *_stats.json)")
    state = RunState(folder, stats, planned, unreadable=unreadable, lock=_lock_holder(folder))
    pending = set(state.pending)
    state.running = sorted({m.group(1) for p in folder.iterdir() if (m := _TEMP.match(p.name)) and m.group(1) in pending})
    return state


def collect_remote(url: str) -> RunState:
    """A remote output folder's plan and stats, read into a scratch folder (no lock, nothing running there)."""
    import tempfile

    from curation.remote_output import RemoteFolder, check_remote_folder, pull_state

    try:
        url = check_remote_folder(url)
    except ValueError as exc:
        raise UserError(f"{url}: {exc}") from None
    if not RemoteFolder(url).exists():
        raise UserError(f"{url}: no such output folder")
    with tempfile.TemporaryDirectory(prefix="curate-stats-") as scratch:
        pull_state(Path(scratch), url)
        state = collect(scratch)
    state.folder = url
    state.lock = None
    return state


def overview(state: RunState, top: int = 10) -> dict[str, Any]:
    """The numbers ``curate stats --json`` prints (also the report's header)."""
    t = state.totals()
    wall = t["wall_seconds"]
    per_second = (lambda x: x / wall) if wall > 0 else (lambda x: 0.0)
    planned = None if state.planned is None else len(state.planned)
    return {
        "output_folder": str(state.folder),
        "shards": {
            "total": planned,
            "done": len(state.stats),
            "pending": len(state.pending) if planned is not None else None,
            "running": len(state.running),
            "pending_names": state.pending[:20],
            "unreadable_stats": state.unreadable,
        },
        "active_run": state.lock,
        "samples": t["count"],
        "successes": t["successes"],
        "failed_to_download": t["failed_to_download"],
        "failed_to_subsample": t["failed_to_subsample"],
        "success_rate": t["successes"] / t["count"] if t["count"] else None,
        "outputs_written": t["outputs_written"],
        "filtered": t.get("filtered", 0),  # outputs dropped by `filters` (counted in successes)
        "filter_drops": [{"condition": c, "count": n} for c, n in t.get("filter_drops") or []],
        "bytes_downloaded": t["bytes_downloaded"],
        "bytes_written": t["bytes_written"],
        "video_seconds_in": t["video_seconds_in"],
        "video_seconds_out": t["video_seconds_out"],
        "video_hours_in": t["video_seconds_in"] / 3600,
        "video_hours_out": t["video_seconds_out"] / 3600,
        "start_time": t["start_time"],
        "end_time": t["end_time"],
        "wall_seconds": wall,
        "shard_seconds": t["shard_seconds"],
        "throughput": {
            "samples_per_second": per_second(t["count"]),
            "video_seconds_per_second": per_second(t["video_seconds_in"]),
            "mb_per_second": per_second(t["bytes_downloaded"]) / 1e6,
        },
        "top_errors": [{"message": m, "count": c} for m, c in t["top_errors"][:top]],
    }
