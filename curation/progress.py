"""Run progress on the console: a live tqdm line on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any

from distributors.base import ShardOutcome


class Progress:
    def __init__(self, total: int, done: int, quiet: bool | None = None) -> None:
        self.total = total
        self.done = done
        self.samples = 0
        self.failures = 0
        self.video_seconds = 0.0
        self.failed_shards = 0
        self.started = time.monotonic()
        self.quiet = (not sys.stderr.isatty()) if quiet is None else quiet
        self.bar: Any = None
        if not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit="shard", dynamic_ncols=True, file=sys.stderr)

    def update(self, outcome: ShardOutcome) -> None:
        if outcome.ok:
            self.done += 1
            self.samples += outcome.stats.get("count", 0)
            self.failures += outcome.stats.get("count", 0) - outcome.stats.get("successes", 0)
            self.video_seconds += outcome.stats.get("video_seconds_in", 0.0)
        else:
            self.failed_shards += 1
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rates = {
            "samples/s": f"{self.samples / elapsed:.2f}",
            "video-s/s": f"{self.video_seconds / elapsed:.1f}",
            "failed": self.failures,
        }
        if self.bar is not None:
            if outcome.ok:
                self.bar.update(1)
            self.bar.set_postfix(rates, refresh=True)
        else:
            state = "done" if outcome.ok else f"failed (attempt {outcome.attempts}): {outcome.error}"
            print(f"shard {outcome.shard_id} {state}; {self.done}/{self.total} shards, "
                  + ", ".join(f"{k} {v}" for k, v in rates.items()), file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
