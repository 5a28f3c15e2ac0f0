"""Read back what a run wrote, the way a user's training code would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import webdataset as wds


def read_webdataset(folder: Path) -> list[dict[str, Any]]:
    """Every sample of every tar in the folder, via webdataset itself (sorted shard order)."""
    urls = [str(p) for p in sorted(folder.glob("*.tar"))]
    if not urls:
        return []
    return list(wds.WebDataset(urls, shardshuffle=False, empty_check=False))


def sample_json(sample: dict[str, Any]) -> dict[str, Any]:
    return json.loads(sample["json"])


def stats_files(folder: Path) -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*_stats.json"))}
