"""Shared fixtures: the reference cases and a factory of small workbooks."""

from __future__ import annotations

import copy
import json
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "reference"
ROOT = Path(__file__).parent.parent

#: The hand-computed case of tests/data/reference/README.md, as rows per sheet.
HAND: dict[str, list[list[Any]]] = {
    "Periods": [["period", "days"], ["2026Q1", 90], ["2026Q2", 91]],
    "Elements": [
        ["element", "name", "group", "shortage_cost", "holding_cost"],
        ["Nd", "Neodymium", "light", 200, 2],
        ["Dy", "Dysprosium", "heavy", 1000, 1],
    ],
    "Demand": [
        ["element", "period", "quantity"],
        ["Nd", "2026Q1", 100],
        ["Nd", "2026Q2", 100],
        ["Dy", "2026Q1", 10],
        ["Dy", "2026Q2", 15],
    ],
    "Offers": [
        [
            "offer",
            "supplier",
            "element",
            "country",
            "mine_country",
            "refine_country",
            "unit_cost",
            "capacity",
            "fixed_cost",
        ],
        ["Nd-CN", "China Northern", "Nd", "CN", None, None, 50, 100, None],
        ["Nd-MY", "Lynas", "Nd", "MY", "AU", "MY", 80, 60, 500],
        ["Dy-CN", "Ganzhou", "Dy", "CN", None, None, 300, 12, None],
    ],
    "Countries": [
        ["country", "name", "risk"],
        ["CN", "China", 0.9],
        ["MY", "Malaysia", 0.3],
        ["AU", "Australia", 0.1],
    ],
    "Policies": [["policy", "element", "period", "value"], ["china_share_max", "Nd", None, 0.5]],
}


def write_workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    """Write ``sheets`` (name -> rows, header first) as an .xlsx file."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row_number, row in enumerate(rows, start=1):
            for column, value in enumerate(row, start=1):
                cell = sheet.cell(row=row_number, column=column, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # text as typed, even "=..."
    workbook.save(path)
    return path


@pytest.fixture
def hand_sheets() -> dict[str, list[list[Any]]]:
    """A fresh, modifiable copy of the hand case's rows."""
    return copy.deepcopy(HAND)


@pytest.fixture
def make_workbook(tmp_path: Path) -> Callable[..., Path]:
    """Write sheets to a workbook in a temporary folder and return its path."""
    counter = iter(range(10_000))

    def make(sheets: dict[str, list[list[Any]]], name: str | None = None) -> Path:
        return write_workbook(tmp_path / (name or f"case-{next(counter)}.xlsx"), sheets)

    return make


def expected() -> dict[str, dict[str, Any]]:
    """The reference objectives."""
    return json.loads((REFERENCE / "expected.json").read_text())


def pytest_configure(config: pytest.Config) -> None:
    """Give the suite Python's own Ctrl-C handler, whatever the shell that started it did.

    A non-interactive shell starts background commands (``bash .ci/run &``, ``nohup``)
    with SIGINT ignored, and Python then leaves it ignored: the tests that send Ctrl-C to
    the planner (in this process or in a CLI subprocess, which inherits an ignored signal
    through exec) would find it lost. A planner run by such a shell rightly keeps it
    ignored; the tests need it delivered.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _signal_handlers_restored() -> Iterator[None]:
    """Give every test the process's SIGINT and SIGTERM handlers as the previous one found them.

    A test that runs a web job in-process (which ignores Ctrl-C, as a server's job must) or a
    Dask cluster would otherwise leave Ctrl-C ignored for every later test, and for the
    subprocesses they start, which inherit it.
    """
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        if handler is not None and signal.getsignal(number) is not handler:
            signal.signal(number, handler)
