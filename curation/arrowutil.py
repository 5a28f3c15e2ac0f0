"""Python rows → Arrow, tolerant of columns whose values don't share one type."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """One column per field; a field whose values don't share one Arrow type is kept as JSON text."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = [row.get(name) for row in rows]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            columns[name] = pa.array([None if v is None else json.dumps(v, default=str) for v in values], pa.string())
    return pa.table(columns) if columns else pa.table({"key": pa.array([], pa.string())})


class _RefusePandas:
    """A meta-path finder that makes ``import pandas`` fail (only while it is installed)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not used in curate's worker processes")


def arrow_without_pandas() -> None:
    """Let pyarrow settle, once, that pandas is absent in this process.

    The first time ``pa.array`` gets a Python list, pyarrow imports pandas (~40 MB and half a second
    per process) only to ask whether the list is a pandas object; it never asks again. Worker
    processes build Arrow tables from Python rows only, so they run that one check with pandas
    refused. ``import pandas`` works again afterwards, for anyone who needs it.
    """
    import sys

    if "pandas" in sys.modules:
        return
    finder = _RefusePandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(finder)
