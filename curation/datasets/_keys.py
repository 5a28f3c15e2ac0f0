"""Sample keys that are safe for webdataset (no dots, no slashes) and unique within a table."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def safe_key(text: str) -> str:
    """Replace every character a tar member name or a webdataset key cannot hold with ``_``."""
    return _UNSAFE.sub("_", text)


def short_hash(*parts: str) -> str:
    """8 hex chars that depend only on ``parts``: a row-order-free way to tell keys apart."""
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=4).hexdigest()


def unique_keys(bases: Sequence[str], identities: Sequence[tuple[str, ...]]) -> tuple[list[str], list[int]]:
    """Make ``bases`` unique, whatever the row order.

    A base shared by rows with different identities (one YouTube id under two labels) gets
    ``_<hash of identity>`` on every such row. Rows that repeat an identity exactly are returned
    as duplicates (their indices) for the caller to drop; their key is left empty.
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for index, base in enumerate(bases):
        groups[base].append(index)
    keys = list(bases)
    duplicates: list[int] = []
    for base, rows in groups.items():
        if len(rows) == 1:
            continue
        seen: set[tuple[str, ...]] = set()
        distinct = {identities[i] for i in rows}
        for i in rows:
            if identities[i] in seen:
                duplicates.append(i)
                keys[i] = ""
                continue
            seen.add(identities[i])
            if len(distinct) > 1:
                keys[i] = f"{base}_{short_hash(*identities[i])}"
    return keys, sorted(duplicates)
