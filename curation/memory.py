"""How a process that runs shards keeps its memory small: what it does not load and what it gives back.

Measured on the bench's 100-video job (two shards at once, 8 download threads each): the one
Python process peaked at 113 MB with glibc's and pyarrow's defaults, 102 MB with the settings
below; the two ffmpeg children beside it take ~92 MB each.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter number


def prepare_shard_process() -> None:
    """Call once, before the shard threads start.

    - glibc gives every thread that allocates its own arena (up to 8 per core) and keeps what each
      freed; download threads only move buffers, so two arenas serve them as well.
    - pyarrow's default pool (mimalloc) keeps what each thread freed for that thread's next use;
      shard threads only read small plan shards and write small sidecars, so the system pool,
      which gives memory back, costs nothing.
    - pandas is settled absent (pyarrow would load it, ~40 MB, to look at the first list).
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, 2)
    import pyarrow as pa

    from curation.arrowutil import arrow_without_pandas

    pa.set_memory_pool(pa.system_memory_pool())
    arrow_without_pandas()
