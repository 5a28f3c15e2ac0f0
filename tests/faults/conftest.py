"""The fault-injection suite: every test here is marked ``faults``; the run ends with a summary line
of cases tried, passed, and samples lost (which must be 0)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class Ledger:
    cases: int = 0
    passed: int = 0
    lost_samples: int = 0
    notes: list[str] = field(default_factory=list)


LEDGER = Ledger()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def ledger() -> Ledger:
    return LEDGER


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "tests/faults/" in report.nodeid.replace("\\", "/"):
        LEDGER.cases += 1
        LEDGER.passed += int(report.passed)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if LEDGER.cases:
        terminalreporter.write_line(
            f"fault suite: {LEDGER.cases} cases tried, {LEDGER.passed} passed, {LEDGER.lost_samples} samples lost"
        )
        for note in LEDGER.notes:
            terminalreporter.write_line(f"  {note}")


def snapshot(root: Path) -> set[str]:
    """Every path under root (to prove nothing was written outside the output folder)."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}
