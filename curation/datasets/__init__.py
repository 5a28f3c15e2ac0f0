"""Dataset layouts that produce input tables: Kinetics CSVs, Something-Something-v2 JSONs, image folders.

Each loader returns an Arrow table with at least ``url``, ``key``, ``label`` and ``split`` plus the
dataset's own ids, so a curated subset keeps its provenance. Loaders are imported lazily.
"""

from __future__ import annotations

import importlib

import pyarrow as pa

from curation.errors import TableError

DATASET_FORMATS = {"kinetics", "ssv2", "imagefolder"}


def load_dataset_table(input_format: str, source: str, media_dir: str | None, split: str | None = None) -> pa.Table:
    """Read a dataset layout into a table; ``split`` keeps only that split when given."""
    if input_format not in DATASET_FORMATS:
        raise TableError(f"unknown dataset format {input_format!r}; expected one of {', '.join(sorted(DATASET_FORMATS))}")
    module = importlib.import_module(f"curation.datasets.{input_format}")
    return module.load(source, media_dir=media_dir, split=split)


__all__ = ["DATASET_FORMATS", "load_dataset_table"]
