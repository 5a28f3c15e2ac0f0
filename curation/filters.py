"""``filters``: keep an output only when its json satisfies every condition.

A condition is ``<dotted json path> <op> <literal>``, e.g. ``motion.mean >= 0.5`` or
``video_metadata.duration < 30``: ops ``< <= > >= == !=``; literals are numbers, quoted strings,
``true``, ``false``, ``null``. It is parsed by a small grammar, never evaluated as Python. A
filter is a KEEP condition (like SQL's WHERE or ``datasets.filter``): an output whose field fails
it, is missing, or cannot be compared is dropped, and the first failing filter is its reason.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from curation.errors import ConfigError

_SEGMENT = r"(?:[A-Za-z_][A-Za-z0-9_-]*|\d+)"
_CONDITION = re.compile(rf"^\s*(?P<path>[A-Za-z_][A-Za-z0-9_-]*(?:\.{_SEGMENT})*)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<value>.*?)\s*$")
_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}
_MISSING = object()


@dataclass(frozen=True)
class Condition:
    path: tuple[str, ...]
    op: str
    value: Any
    text: str  # normalised, as reported in the stats

    def holds(self, meta: dict[str, Any]) -> bool:
        found = lookup(meta, self.path)
        if found is _MISSING or (found is None and self.value is not None):
            return False
        if isinstance(found, bool) != isinstance(self.value, bool) and self.op not in ("==", "!="):
            return False
        try:
            return bool(_OPS[self.op](found, self.value))
        except TypeError:  # e.g. a string field against a number
            return False


def lookup(meta: Any, path: tuple[str, ...]) -> Any:
    """The value at a dotted path (dict keys, list indexes), or _MISSING."""
    node = meta
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _literal(text: str, where: str, whole: str) -> Any:
    if _NUMBER.match(text):
        number = float(text)
        return int(number) if re.fullmatch(r"[-+]?\d+", text) else number
    if text in ("true", "false", "null"):
        return json.loads(text)
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    if len(text) >= 2 and text[0] == text[-1] == "'" and "'" not in text[1:-1]:
        return text[1:-1]
    raise ConfigError(f"config error: {where}: {whole!r}: the value must be a number, a quoted string, true, false or null, "
                      f"got {text!r}")


def parse_condition(text: Any, where: str = "filters") -> Condition:
    """One filter string → Condition; a malformed one is a one-line ConfigError naming it."""
    if not isinstance(text, str):
        raise ConfigError(f"config error: {where}: expected a string like 'motion.mean >= 0.5', got {text!r}")
    match = _CONDITION.match(text)
    if not match or not match.group("value"):
        raise ConfigError(f"config error: {where}: {text!r} is not '<json.path> <op> <value>' (ops: < <= > >= == !=)")
    value = _literal(match.group("value"), where, text)
    path = tuple(match.group("path").split("."))
    return Condition(path, match.group("op"), value, f"{match.group('path')} {match.group('op')} {json.dumps(value)}")


def parse_filters(filters: list[Any]) -> list[Condition]:
    return [parse_condition(text, f"filters[{i}]") for i, text in enumerate(filters)]


class Filters:
    """The configured conditions; ``reason(meta)`` is None to keep, else the failing condition."""

    def __init__(self, filters: list[Any]) -> None:
        self.conditions = parse_filters(filters)

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def reason(self, meta: dict[str, Any]) -> str | None:
        for condition in self.conditions:
            if not condition.holds(meta):
                return condition.text
        return None
