"""Image folders → a table of image files with their class (ImageNet train layout, imagenet-mini,
and ImageNet's flat val folder labelled by ``LOC_val_solution.csv``).

Layout: ``root/<split>/<class>/<file>``; a split folder holding images directly is ImageNet's flat
val, whose labels are the first token of ``PredictionString``. Non-image files are skipped and
reported; extensions are matched case-insensitively (``.JPEG`` and ``.jpeg``).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pyarrow as pa

from curation.datasets._keys import safe_key, unique_keys
from curation.errors import TableError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
SPLIT_NAMES = {"train", "val", "validation", "test"}
VAL_SOLUTION = "LOC_val_solution.csv"
SYNSETS = "LOC_synset_mapping.txt"


def _image_root(root: Path) -> Path:
    """The Kaggle ImageNet copy nests the split folders under ILSVRC/Data/CLS-LOC."""
    nested = root / "ILSVRC" / "Data" / "CLS-LOC"
    return nested if nested.is_dir() else root


def _find(name: str, *folders: Path) -> Path | None:
    return next((f / name for f in folders if (f / name).is_file()), None)


def _val_solution(path: Path) -> dict[str, str]:
    """ImageId → wnid (first token of PredictionString)."""
    out: dict[str, str] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"ImageId", "PredictionString"} <= set(reader.fieldnames):
            raise TableError(f"imagefolder: {path}: expected columns ImageId,PredictionString")
        for row in reader:
            tokens = (row["PredictionString"] or "").split()
            if tokens:
                out[row["ImageId"].strip()] = tokens[0]
    return out


def _synsets(path: Path | None) -> dict[str, str]:
    """wnid → human names (``n01440764 tench, Tinca tinca``); empty when the file is absent."""
    if path is None:
        return {}
    pairs = (line.rstrip("\r\n").split(" ", 1) for line in path.read_text(encoding="utf-8-sig").splitlines())
    return {p[0]: (p[1] if len(p) > 1 else "") for p in pairs if p and p[0]}


def _splits(root: Path, split: str | None) -> list[tuple[str, Path]]:
    present = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name in SPLIT_NAMES)
    if not present:  # root is itself one split: root/<class>/<file>
        return [(root.name if root.name in SPLIT_NAMES else "train", root)]
    if split is not None:
        if split not in present:
            raise TableError(f"imagefolder: split {split!r} not found in {root} (have: {', '.join(present)})")
        present = [split]
    return [(name, root / name) for name in present]


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def load(source: str, media_dir: str | None = None, split: str | None = None) -> pa.Table:
    root = Path(source).expanduser().resolve()
    if not root.is_dir():
        raise TableError(f"imagefolder: folder not found: {source}")
    images = _image_root(root)
    names = _synsets(_find(SYNSETS, root, images))
    rows: list[tuple[str, str, str]] = []  # (path, label, split)
    skipped: list[Path] = []
    for split_name, folder in _splits(images, split):
        flat = sorted(p for p in folder.iterdir() if p.is_file())
        if any(_is_image(p) for p in flat):
            solution_path = _find(VAL_SOLUTION, root, images, folder)
            if solution_path is None:
                raise TableError(f"imagefolder: {folder} holds images directly but no {VAL_SOLUTION} was found")
            solution = _val_solution(solution_path)
            for p in flat:
                label = solution.get(p.stem) if _is_image(p) else None
                if label:
                    rows.append((str(p), label, split_name))
                else:
                    skipped.append(p)
        else:
            skipped.extend(flat)
        for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            for p in sorted(class_dir.rglob("*")):
                if p.is_file() and _is_image(p):
                    rows.append((str(p), class_dir.name, split_name))
                elif p.is_file():
                    skipped.append(p)
    if skipped:
        shown = ", ".join(str(p.relative_to(root)) for p in skipped[:3])
        log.warning("imagefolder: skipped %d file(s) that are not labelled images: %s%s", len(skipped), shown, ", ..." if len(skipped) > 3 else "")
    if not rows:
        raise TableError(f"imagefolder: no images found in {source}")
    bases = [safe_key(Path(p).stem) for p, _, _ in rows]
    keys, _ = unique_keys(bases, [(label, sp, str(Path(p).relative_to(root))) for p, label, sp in rows])
    return pa.table({
        "url": pa.array([p for p, _, _ in rows], pa.string()),
        "key": pa.array(keys, pa.string()),
        "label": pa.array([label for _, label, _ in rows], pa.string()),
        "split": pa.array([sp for _, _, sp in rows], pa.string()),
        "wnid": pa.array([label for _, label, _ in rows], pa.string()),
        "class_name": pa.array([names.get(label) for _, label, _ in rows], pa.string()),
        "file": pa.array([Path(p).name for p, _, _ in rows], pa.string()),
    })
