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
