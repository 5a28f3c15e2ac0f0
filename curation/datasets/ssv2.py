"""Something-Something-v2 annotations → a table of ``<id>.webm`` files with their class labels.

``labels.json`` maps a template with its brackets removed to the class index as a string;
``train.json``/``validation.json`` list ``{id, label, template, placeholders}`` where the template
still has ``[something]`` brackets; ``test-answers.csv`` is ``id;template`` with no header.
The class label is the bracket-free template, verbatim; the per-video caption is kept beside it.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from curation.datasets._keys import safe_key
from curation.errors import TableError

SPLIT_FILES = {"train": "train.json", "validation": "validation.json"}
TEST_ANSWERS = "test-answers.csv"
_BRACKETS = re.compile(r"\[([^\]]*)\]")


def resolve_template(template: str) -> str:
    """``Putting [something] on [something]`` → ``Putting something on something``."""
    return _BRACKETS.sub(r"\1", template)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TableError(f"ssv2: {path}: unreadable JSON ({str(exc).splitlines()[0]})") from None


def _labels(root: Path) -> dict[str, int]:
    path = root / "labels.json"
    if not path.is_file():
        raise TableError(f"ssv2: labels.json not found in {root}")
    data = _read_json(path)
    if not isinstance(data, dict):
        raise TableError(f"ssv2: {path}: expected an object mapping template to index")
    try:
        return {str(k): int(v) for k, v in data.items()}
    except (TypeError, ValueError):
        raise TableError(f"ssv2: {path}: class indices must be integers (as strings)") from None


def _split_entries(root: Path, split: str) -> list[dict[str, Any]]:
    """Entries of one split; the test split comes from test-answers.csv (``id;template``)."""
    if split == "test":
        with (root / TEST_ANSWERS).open(encoding="utf-8-sig", newline="") as handle:
            return [{"id": row[0], "template": row[1]} for row in csv.reader(handle, delimiter=";") if row]
    path = root / SPLIT_FILES[split]
    entries = _read_json(path)
    if not isinstance(entries, list):
        raise TableError(f"ssv2: {path}: expected a list of videos")
    return entries


def _available_splits(root: Path, split: str | None) -> list[str]:
    present = [s for s, f in SPLIT_FILES.items() if (root / f).is_file()]
    if (root / TEST_ANSWERS).is_file():
        present.append("test")
    if split is not None:
        if split not in present:
            raise TableError(f"ssv2: split {split!r} not found in {root} (have: {', '.join(present) or 'none'})")
        return [split]
    if not present:
        raise TableError(f"ssv2: no train.json, validation.json or {TEST_ANSWERS} in {root}")
    return present


def load(source: str, media_dir: str | None = None, split: str | None = None) -> pa.Table:
    root = Path(source).expanduser()
    root = root.parent if root.is_file() else root
    if not root.is_dir():
        raise TableError(f"ssv2: annotation folder not found: {source}")
    if not media_dir:
        raise TableError("ssv2: --media_dir is required (the folder holding <id>.webm)")
    media = Path(media_dir).expanduser().resolve()
    if not media.is_dir():
        raise TableError(f"ssv2: --media_dir is not a folder: {media_dir}")
    labels = _labels(root)
    by_lower = {k.lower(): k for k in labels}
    cols: dict[str, list] = {c: [] for c in ("url", "key", "label", "split", "id", "template", "placeholders", "caption", "label_index")}
    seen: set[str] = set()
    for name in _available_splits(root, split):
        for n, entry in enumerate(_split_entries(root, name)):
            if not isinstance(entry, dict) or "id" not in entry or "template" not in entry:
                raise TableError(f"ssv2: {name} entry {n}: expected an object with id and template")
            video_id = str(entry["id"]).strip()
            if video_id in seen:
                raise TableError(f"ssv2: video id {video_id!r} listed twice")
            seen.add(video_id)
            template = str(entry["template"])
            resolved = resolve_template(template)
            label = resolved if resolved in labels else by_lower.get(resolved.lower())
            if label is None:
                raise TableError(f"ssv2: video {video_id}: template {template!r} is not in labels.json")
            cols["url"].append(str(media / f"{video_id}.webm"))
            cols["key"].append(safe_key(video_id))
            cols["label"].append(label)
            cols["split"].append(name)
            cols["id"].append(video_id)
            cols["template"].append(template)
            cols["placeholders"].append([str(p) for p in entry.get("placeholders") or []])
            cols["caption"].append(entry.get("label"))
            cols["label_index"].append(labels[label])
    if not cols["key"]:
        raise TableError(f"ssv2: no videos listed in {root}")
    types = {"placeholders": pa.list_(pa.string()), "label_index": pa.int64()}
    return pa.table({c: pa.array(v, types.get(c, pa.string())) for c, v in cols.items()})
