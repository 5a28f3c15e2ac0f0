"""Sample keys and shard names: webdataset-safe, stable, padded like video2dataset's."""

from __future__ import annotations

import hashlib
import math
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]+")
MAX_KEY_LENGTH = 120


def shard_name(shard_id: int, oom_shard_count: int) -> str:
    return f"{shard_id:0{oom_shard_count}d}"


def sample_digits(number_sample_per_shard: int) -> int:
    """video2dataset's ``oom_sample_per_shard`` (at least one digit)."""
    return max(1, math.ceil(math.log10(number_sample_per_shard)))


def numeric_key(shard_id: int, index: int, oom_shard_count: int, number_sample_per_shard: int) -> str:
    return f"{shard_id:0{oom_shard_count}d}{index:0{sample_digits(number_sample_per_shard)}d}"


def safe_key(value: str) -> str:
    """A key from user text: no dots, slashes, NUL or other path tricks; long values hashed."""
    key = _UNSAFE.sub("_", value).strip("_") or "_"
    if len(key) > MAX_KEY_LENGTH:
        digest = hashlib.sha1(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        key = f"{key[: MAX_KEY_LENGTH - 13]}_{digest}"
    return key


def clip_key(key: str, index: int) -> str:
    return f"{key}_{index:05d}"
