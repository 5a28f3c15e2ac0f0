"""ClassSubsetSubsampler: K classes × N samples per class, chosen deterministically at plan time.

Why a table subsampler: choosing N per class needs the whole table. The choice depends only on
the rows' content (a seeded hash of key-or-url and label), never on row order, the engine or the
number of processes. Rows whose local file is missing or empty are excluded before sampling, so a
class is never filled with samples that will fail; nothing is ever duplicated to reach N.
Writes ``classes.json`` (label → index, sorted) and ``subset_report.json`` into the output folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from curation.errors import UserError
from subsamplers.base import SubsamplerArgs, TableSubsampler

Chosen = dict[str, list[tuple[tuple[Any, ...], int]]]  # split -> [(sampling order, table row)]
_REMOTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
NO_SPLIT = "all"
MAX_LISTED_EXCLUSIONS = 1000


class ClassSubsetArgs(SubsamplerArgs):
    label_col: str = "label"
    samples_per_class: int = Field(gt=0, description="N, per class and per split")
    samples_per_split: dict[str, Annotated[int, Field(ge=0)]] | None = Field(None, description="N for named splits, e.g. {val: 5}")
    num_classes: int | None = Field(None, gt=0, description="K: the first K classes in sorted label order")
    classes: list[str] | str | None = Field(None, description="labels, or a file of labels (lines or JSON)")
    seed: int = 0
    strategy: Literal["random", "first"] = "random"
    shortfall: Literal["keep", "drop_class", "error"] = "keep"
    split_col: str | None = None
    url_col: str = "url"
    key_col: str | None = Field("key", description="identity for hashing when present; else the url")
    check_files: bool = True
    class_index_col: str | None = Field("class_index", description="added column: index in classes.json")

    @model_validator(mode="after")
    def _one_class_selector(self) -> ClassSubsetArgs:
        if self.num_classes is not None and self.classes is not None:
            raise ValueError("give num_classes or classes, not both")
        return self


def _load_class_list(classes: list[str] | str) -> list[str]:
    """A list as given, or a file: JSON (list, mapping, or a previous classes.json) or one label a line."""
    if isinstance(classes, list):
        return [str(c) for c in classes]
    path = Path(classes).expanduser()
    if not path.is_file():
        raise UserError(f"class subset: classes file not found: {classes}")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"class subset: {classes}: not valid JSON ({exc.msg})") from None
        data = data.get("classes", data) if isinstance(data, dict) else data
        return [str(c) for c in data]
    return [line for line in text.splitlines() if line.strip()]


def _file_problem(url: str | None) -> str | None:
    """Why a local file cannot be used, or None; remote URLs are not checked here."""
    if url is None or url == "":
        return "missing url"
    if _REMOTE.match(url) and not url.startswith("file://"):
        return None
    path = url[len("file://"):] if url.startswith("file://") else url
    try:
        size = os.stat(path).st_size
    except OSError:
        return "missing file"
    return "empty file" if size == 0 else None


def _write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class _ClassRows:
    """One class's rows (table indices) with the columns sampling needs, pulled only when considered."""

    def __init__(self, table: pa.Table, rows: np.ndarray, args: ClassSubsetArgs, identity_col: str) -> None:
        part = table.take(pa.array(rows))
        self.rows = rows
        self.urls = part[args.url_col].cast(pa.string()).to_pylist()
        self.ids = part[identity_col].cast(pa.string()).to_pylist()
        self.splits = part[args.split_col].cast(pa.string()).to_pylist() if args.split_col else [NO_SPLIT] * len(rows)


class ClassSubsetSubsampler(TableSubsampler):
    name = "ClassSubsetSubsampler"
    Args = ClassSubsetArgs

    def apply(self, table: pa.Table, output_folder: Path) -> pa.Table:
        args: ClassSubsetArgs = self.args  # type: ignore[assignment]
        identity_col = self._check_columns(table)
        labels, groups, null_rows = self._group_by_label(table, args.label_col)
        names = {label: str(label) for label in labels}
        candidates = self._candidates(labels, names)
        excluded: list[dict[str, Any]] = []
        if len(null_rows):
            part = table.take(pa.array(null_rows[:MAX_LISTED_EXCLUSIONS]))
            excluded.extend(
                {"id": i, "url": u, "label": None, "split": None, "reason": "missing label"}
                for i, u in zip(part[identity_col].cast(pa.string()).to_pylist(), part[args.url_col].cast(pa.string()).to_pylist(), strict=True)
            )
        reason_counts: Counter[str] = Counter({"missing label": len(null_rows)} if len(null_rows) else {})
        splits_seen = self._all_splits(table)
        accepted: list[tuple[Any, Chosen]] = []
        per_class: dict[str, dict[str, Any]] = {}
        for label in candidates:
            if args.num_classes is not None and len(accepted) >= args.num_classes:
                break
            name = names.get(label, str(label))
            chosen, info = self._sample_class(table, label, groups.get(label), identity_col, splits_seen, excluded, reason_counts)
            status = info["status"]
            if status != "full" and args.shortfall == "error":
                raise UserError(f"class subset: {self._shortfall_text(name, info)} (shortfall: error)")
            keep = status == "full" or (status == "short" and args.shortfall == "keep")
            info["status"] = status if keep else ("dropped" if status == "short" else "empty")
            per_class[name] = info
            if keep:
                accepted.append((label, chosen))
        wanted = args.num_classes if args.num_classes is not None else len(candidates)
        if len(accepted) < wanted and args.shortfall == "error":
            raise UserError(f"class subset: only {len(accepted)} usable classes, fewer than the {wanted} asked for (shortfall: error)")
        accepted.sort(key=lambda item: item[0])
        index = {names.get(label, str(label)): i for i, (label, _) in enumerate(accepted)}
        for name, info in per_class.items():
            info["index"] = index.get(name)
        result = self._result_table(table, accepted)
        self._write_reports(Path(output_folder), index, accepted, per_class, wanted, excluded, reason_counts, table.num_rows, result.num_rows)
        return result

    # -- inputs -------------------------------------------------------------------------------

    def _check_columns(self, table: pa.Table) -> str:
        args: ClassSubsetArgs = self.args  # type: ignore[assignment]
        for what, col in (("label_col", args.label_col), ("url_col", args.url_col), ("split_col", args.split_col)):
            if col is not None and col not in table.column_names:
                raise UserError(
                    f"class subset: {what} {col!r} is not a column of the input (have: {', '.join(table.column_names)}); "
                    "for a plain table, list it in save_additional_columns"
                )
        return args.key_col if args.key_col and args.key_col in table.column_names else args.url_col

    @staticmethod
    def _group_by_label(table: pa.Table, label_col: str) -> tuple[list[Any], dict[Any, np.ndarray], np.ndarray]:
        """Labels (sorted), row indices per label, and rows with no label; Arrow and numpy only."""
        column = table[label_col]
        if pa.types.is_dictionary(column.type):  # chunks may carry different dictionaries
            column = column.cast(column.type.value_type)
        encoded = pc.dictionary_encode(column).combine_chunks()
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        dictionary = encoded.dictionary.to_pylist()
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        bounds = np.searchsorted(sorted_codes, np.arange(-1, len(dictionary) + 1))
        groups = {dictionary[c]: order[bounds[c + 1]:bounds[c + 2]] for c in range(len(dictionary))}
        null_rows = order[bounds[0]:bounds[1]]
        return sorted(dictionary), groups, null_rows

    def _candidates(self, labels: list[Any], names: dict[Any, str]) -> list[Any]:
        """Classes to consider, in order: the listed ones (as given), or every label in sorted order."""
        args: ClassSubsetArgs = self.args  # type: ignore[assignment]
        if args.classes is None:
            return labels
        by_name = {names[label]: label for label in labels}
        return [by_name.get(name, name) for name in dict.fromkeys(_load_class_list(args.classes))]

    def _all_splits(self, table: pa.Table) -> list[str]:
        args: ClassSubsetArgs = self.args  # type: ignore[assignment]
        if not args.split_col:
            return [NO_SPLIT]
        values = pc.unique(table[args.split_col].cast(pa.string())).to_pylist()
        return sorted(v for v in values if v is not None)

    def _quota(self, split: str) -> int:
        args: ClassSubsetArgs = self.args  # type: ignore[assignment]
        return (args.samples_per_split or {}).get(split, args.samples_per_class)

    # -- sampling -----------------------------------------------------------------------------

    def _order_key(self, identity: str, name: str) -> tuple[Any, ...]:
        args: ClassSubsetArgs = self.args  # type: ignore[assignment]
        if args.strategy == "first":
            return (identity, name)
        digest = hashlib.blake2b(f"{args.seed}\x1f{identity}\x1f{name}".encode(), digest_size=16).digest()
        return (digest, identity)

    def _sample_class(
        self, table: pa.Table, label: Any, rows: np.ndarray | None, identity_col: str, splits: list[str],
        excluded: list[dict[str, Any]], reason_counts: Counter[str],
    ) -> tuple[Chosen, dict[str, Any]]:
        """Chosen table rows per split for one class, and its report entry."""
        args: ClassSubsetArgs = self.args  # type: ignore[assignment]
        name = str(label)
        usable: dict[str, list[tuple[tuple[Any, ...], int]]] = {s: [] for s in splits}
        if rows is not None and len(rows):
            data = _ClassRows(table, rows, args, identity_col)
            problems = self._problems(data)
            seen: set[tuple[str | None, str | None]] = set()
            for i, row in enumerate(data.rows.tolist()):
                split, identity = data.splits[i], data.ids[i]
                reason = problems[i] or ("missing split" if split is None else None)
                if reason is None and (split, identity) in seen:
                    reason = "duplicate row"
                if reason is not None:
                    reason_counts[reason] += 1
                    if len(excluded) < MAX_LISTED_EXCLUSIONS:
                        excluded.append({"id": identity, "url": data.urls[i], "label": name, "split": split, "reason": reason})
                    continue
                seen.add((split, identity))
                usable.setdefault(split, []).append((self._order_key(identity or "", name), row))
        chosen: Chosen = {}
        split_info: dict[str, dict[str, int]] = {}
        for split in sorted(usable):
            ranked = sorted(usable[split])
            quota = self._quota(split)
            chosen[split] = ranked[:quota]
            split_info[split] = {"available": len(ranked), "chosen": len(chosen[split]), "shortfall": max(0, quota - len(ranked))}
        total = sum(len(v) for v in chosen.values())
        status = "empty" if total == 0 else ("short" if any(s["shortfall"] for s in split_info.values()) else "full")
        return chosen, {"status": status, "splits": split_info}

    def _problems(self, data: _ClassRows) -> list[str | None]:
        """Why each row is unusable (or None). Only local paths touch the disk, stat'ed in parallel."""
        args: ClassSubsetArgs = self.args  # type: ignore[assignment]
        problems = [None if u else "missing url" for u in data.urls]
        if not args.check_files:
            return problems
        local = [i for i, u in enumerate(data.urls) if u and (not _REMOTE.match(u) or u.startswith("file://"))]
        chunks = [local[i:i + 256] for i in range(0, len(local), 256)]

        def check(indices: list[int]) -> list[str | None]:
            return [_file_problem(data.urls[i]) for i in indices]

        if len(chunks) <= 1:
            results = [check(c) for c in chunks]
        else:
            with ThreadPoolExecutor(max_workers=16) as pool:
                results = list(pool.map(check, chunks))
        for indices, found in zip(chunks, results, strict=True):
            for i, problem in zip(indices, found, strict=True):
                problems[i] = problem
        return problems

    @staticmethod
    def _shortfall_text(name: str, info: dict[str, Any]) -> str:
        short = [(s, v) for s, v in info["splits"].items() if v["shortfall"]]
        if not short:
            return f"class {name!r} has no usable samples"
        split, v = short[0]
        return f"class {name!r} has {v['available']} usable samples in split {split!r}, {v['shortfall']} short of {v['available'] + v['shortfall']}"

    # -- outputs ------------------------------------------------------------------------------

    def _result_table(self, table: pa.Table, accepted: list[tuple[Any, Chosen]]) -> pa.Table:
        """Chosen rows in a canonical order (split, then the sampling order) so keys and shards are stable."""
        args: ClassSubsetArgs = self.args  # type: ignore[assignment]
        picked = [
            (split, order, row, class_index)
            for class_index, (_, chosen) in enumerate(accepted)
            for split, ranked in chosen.items()
            for order, row in ranked
        ]
        picked.sort(key=lambda item: (item[0], item[1]))
        result = table.take(pa.array([row for _, _, row, _ in picked], pa.int64()))
        if args.class_index_col:
            column = pa.array([c for _, _, _, c in picked], pa.int64())
            if args.class_index_col in result.column_names:
                result = result.drop_columns([args.class_index_col])
            result = result.append_column(args.class_index_col, column)
        return result

    def _write_reports(
        self, folder: Path, index: dict[str, int], accepted: list[tuple[Any, Chosen]],
        per_class: dict[str, dict[str, Any]], wanted: int, excluded: list[dict[str, Any]],
        reason_counts: Counter[str], rows_in: int, rows_out: int,
    ) -> None:
        args: ClassSubsetArgs = self.args  # type: ignore[assignment]
        counts = {str(label): {s: len(r) for s, r in chosen.items()} for label, chosen in accepted}
        excluded = sorted(excluded, key=lambda e: (e["reason"], str(e["label"]), str(e["split"]), str(e["id"]), str(e["url"])))
        _write_json_atomic(folder / "classes.json", {
            "num_classes": len(index),
            "label_col": args.label_col,
            "split_col": args.split_col,
            "classes": index,
            "counts": counts,
        })
        _write_json_atomic(folder / "subset_report.json", {
            "args": args.model_dump(),
            "rows_in": rows_in,
            "rows_out": rows_out,
            "classes_wanted": wanted,
            "classes_chosen": len(index),
            "classes_shortfall": max(0, wanted - len(index)),
            "per_class": per_class,
            "excluded": {
                "counts": dict(sorted(reason_counts.items())),
                "rows": excluded,
                "truncated": sum(reason_counts.values()) > len(excluded),
            },
        })
