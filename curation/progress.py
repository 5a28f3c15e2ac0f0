"""Run progress on the console: a live tqdm line on a terminal, plain periodic lines otherwise.

Batch jobs (Slurm logs, CI, ``--quiet``) get timestamped lines that are readable with ``tail``:
one at start (with the first outcome, so an error raised before any shard ran stays the only
line), one at most every ``interval`` seconds as shards finish, one per failed shard attempt, and
a final one. Rates count only this session's shards, so a resumed run's ETA is honest.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any

from distributors.base import ShardOutcome

DEFAULT_INTERVAL = 30.0


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    def __init__(self, total: int, done: int, quiet: bool | None = None, interval: float = DEFAULT_INTERVAL) -> None:
        self.total = total
        self.done = done
        self.done_at_start = done
        self.samples = 0
        self.failures = 0
        self.video_seconds = 0.0
        self.bytes = 0
        self.failed_shards = 0
        self.interval = interval
        self.started = time.monotonic()
        self.last_line = self.started
        self.quiet = (not sys.stderr.isatty()) if quiet is None else quiet
        self.bar: Any = None
        self.announced = False  # the start line waits for the first outcome: a user error stays one line
        if not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit="shard", dynamic_ncols=True, file=sys.stderr)

    def rates(self) -> dict[str, float]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {
            "samples/s": self.samples / elapsed,
            "video-s/s": self.video_seconds / elapsed,
            "MB/s": self.bytes / elapsed / 1e6,
        }

    def eta(self) -> float | None:
        finished = self.done - self.done_at_start
        if finished <= 0:
            return None
        return (time.monotonic() - self.started) / finished * max(self.total - self.done, 0)

    def update(self, outcome: ShardOutcome) -> None:
        if outcome.ok:
            self.done += 1
            stats = outcome.stats
            self.samples += stats.get("count", 0)
            self.failures += stats.get("count", 0) - stats.get("successes", 0)
            self.video_seconds += stats.get("video_seconds_in", 0.0)
            self.bytes += stats.get("bytes_downloaded", 0)
        else:
            self.failed_shards += 1
        if self.bar is not None:
            if outcome.ok:
                self.bar.update(1)
            postfix = {k: f"{v:.2f}" if k != "video-s/s" else f"{v:.1f}" for k, v in self.rates().items()}
            postfix["failed"] = str(self.failures)
            if self.failed_shards:
                postfix["shard errors"] = str(self.failed_shards)
            self.bar.set_postfix(postfix, refresh=True)
            return
        self._announce()
        if not outcome.ok:
            self._line(f"shard {outcome.shard_id} failed (attempt {outcome.attempts}): {outcome.error}")
        elif time.monotonic() - self.last_line >= self.interval:
            self._line(self.status())

    def status(self) -> str:
        pct = 100.0 * self.done / self.total if self.total else 100.0
        r = self.rates()
        text = (f"{self.done}/{self.total} shards ({pct:.1f}%), {self.samples} samples, "
                f"{r['samples/s']:.2f} samples/s, {r['video-s/s']:.1f} video-s/s, {r['MB/s']:.2f} MB/s, "
                f"{self.failures} failed samples")
        if self.failed_shards:
            text += f", {self.failed_shards} failed shard attempts"
        return text + f", ETA {format_eta(self.eta())}"

    def _announce(self) -> None:
        if not self.announced:
            self.announced = True
            self._line(f"{self.done_at_start}/{self.total} shards already done, {self.total - self.done_at_start} to run",
                       periodic=False)

    def _line(self, text: str, periodic: bool = True) -> None:
        if periodic:
            self.last_line = time.monotonic()
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        print(f"[{stamp}] curate: {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        failing = sys.exc_info()[0] is not None  # closing because of an error: its message is the one line
        if self.bar is not None:
            if failing:
                self.bar.leave = False  # erase the bar
            self.bar.close()
            return
        if failing:
            return
        self._announce()
        if self.done > self.done_at_start or self.failed_shards:
            elapsed = time.monotonic() - self.started
            self._line(f"finished in {format_eta(elapsed)}: {self.status().rsplit(', ETA', 1)[0]}")
