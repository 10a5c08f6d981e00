"""A mutation fuzzer: the plain mistakes a planner makes in a valid workbook.

Each example takes a valid workbook (the reference cases and
``inputs/tiny.xlsx``), makes one to three mistakes in it with openpyxl
(blank a cell, copy a value down a column, duplicate or delete a row, delete
a sheet, rename a header, swap two cells, text or a negative or huge number
in a cell, ...) and checks the house rule: the mutant either loads or raises
:class:`planner.InputError` whose issues name their cells, and a mutant that
loads solves to a plan status, never an exception.

The suite runs a fixed number of derandomised examples; a longer run is
``PLANNER_FUZZ_EXAMPLES=2000 python -m pytest tests/test_mutations.py``
(see docs/development.md).
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.worksheet import Worksheet

import planner
from planner.errors import InputError
from tests.conftest import REFERENCE, ROOT

SOURCES = [*sorted(REFERENCE.glob("case-*.xlsx")), ROOT / "inputs" / "tiny.xlsx"]
_BYTES = {path.name: path.read_bytes() for path in SOURCES}

EXAMPLES = int(os.environ.get("PLANNER_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

#: Statuses a mutant that loads may end in (a short time limit: time_limit is fine).
PLAN_STATUSES = {"optimal", "time_limit", "unproven", "infeasible"}

#: ``Sheet``, ``Sheet!B3``, ``Sheet!B3:C4``, ``Sheet!3:3``, ``Sheet!B:B`` or ``file.xlsx``.
_ADDRESS = re.compile(r"^[^!]+(![A-Z]{1,3}[0-9]+(:[A-Z]{1,3}[0-9]+)?|![0-9]+:[0-9]+)?$")

#: Values a mutation may type into a cell.
ODD_VALUES: list[Any] = [
    None,
    "",
    "abc",
    " ",
    -1,
    -0.5,
    0,
    1.5,
    1e15,
    1e300,
    -1e300,
    "1e400",
    "TOTAL",
    "light",
    "=A1",
    "#N/A",
]


def _cell(sheet: Worksheet, row: int, column: int) -> tuple[int, int]:
    """Map two arbitrary integers onto a cell of the sheet's used range."""
    return row % max(sheet.max_row, 1) + 1, column % max(sheet.max_column, 1) + 1


def blank_cell(sheet: Worksheet, a: int, b: int, c: int) -> None:
    row, column = _cell(sheet, a, b)
    sheet.cell(row, column).value = None


def copy_down(sheet: Worksheet, a: int, b: int, c: int) -> None:
    row, column = _cell(sheet, a, b)
    value = sheet.cell(row, column).value
    for below in range(row + 1, sheet.max_row + 1):
        sheet.cell(below, column).value = value


def duplicate_row(sheet: Worksheet, a: int, b: int, c: int) -> None:
    row, _ = _cell(sheet, a, b)
    values = [cell.value for cell in sheet[row]] if sheet.max_column else []
    target = c % (sheet.max_row + 1) + 1
    sheet.insert_rows(target)
    for column, value in enumerate(values, start=1):
        sheet.cell(target, column).value = value


def delete_row(sheet: Worksheet, a: int, b: int, c: int) -> None:
    row, _ = _cell(sheet, a, b)
    sheet.delete_rows(row)


def rename_header(sheet: Worksheet, a: int, b: int, c: int) -> None:
    _, column = _cell(sheet, 0, b)
    old = sheet.cell(1, column).value
    names = [f"{old}x", str(old).upper(), "offer", "element", "period", "capacity", None]
    sheet.cell(1, column).value = names[c % len(names)]


def swap_cells(sheet: Worksheet, a: int, b: int, c: int) -> None:
    first = _cell(sheet, a, b)
    second = _cell(sheet, c, a + b)
    one, two = sheet.cell(*first), sheet.cell(*second)
    one.value, two.value = two.value, one.value


def odd_value(sheet: Worksheet, a: int, b: int, c: int) -> None:
    row, column = _cell(sheet, a, b)
    sheet.cell(row, column).value = ODD_VALUES[c % len(ODD_VALUES)]


def negate(sheet: Worksheet, a: int, b: int, c: int) -> None:
    row, column = _cell(sheet, a, b)
    value = sheet.cell(row, column).value
    if isinstance(value, int | float) and not isinstance(value, bool):
        sheet.cell(row, column).value = -value
    else:
        sheet.cell(row, column).value = -1


def scale(sheet: Worksheet, a: int, b: int, c: int) -> None:
    """Multiply a number by a huge or tiny factor (a unit typed wrongly, taken far)."""
    row, column = _cell(sheet, a, b)
    value = sheet.cell(row, column).value
    factor = [1e6, 1e12, 1e-9, 1e20][c % 4]
    if isinstance(value, int | float) and not isinstance(value, bool):
        sheet.cell(row, column).value = value * factor


Mutation = Callable[[Worksheet, int, int, int], None]
CELL_MUTATIONS: list[Mutation] = [
    blank_cell,
    copy_down,
    duplicate_row,
    delete_row,
    rename_header,
    swap_cells,
    odd_value,
    negate,
    scale,
]

mutations = st.lists(
    st.tuples(
        st.sampled_from([*CELL_MUTATIONS, "delete_sheet"]),
        st.integers(0, 10_000),  # which sheet
        st.integers(0, 10_000),
        st.integers(0, 10_000),
        st.integers(0, 10_000),
    ),
    min_size=1,
    max_size=3,
)


def mutate(source: str, steps: list[tuple[Any, int, int, int, int]]) -> bytes:
    """Apply ``steps`` to the workbook ``source`` and return the mutant's bytes."""
    workbook = openpyxl.load_workbook(io.BytesIO(_BYTES[source]))
    for kind, which, a, b, c in steps:
        sheet = workbook.worksheets[which % len(workbook.worksheets)]
        if kind == "delete_sheet":
            if len(workbook.worksheets) > 1:
                workbook.remove(sheet)
        else:
            kind(sheet, a, b, c)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def check_mutant(data: bytes) -> str:
    """Load and solve a mutant; return what happened (``invalid`` or a plan status)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutant.xlsx"
        path.write_bytes(data)
        try:
            case = planner.load(path)
        except InputError as error:
            assert error.issues, "an InputError must list its issues"
            for issue in error.issues:
                assert _ADDRESS.match(issue.where), f"no cell named: {issue}"
            return "invalid"
    result = planner.solve(case, time_limit_s=1, threads=1, duals=False)
    assert result.status in PLAN_STATUSES, (result.status, result.summary.get("message"))
    return result.status


@FUZZ
@given(source=st.sampled_from(sorted(_BYTES)), steps=mutations)
def test_a_mistake_in_a_valid_workbook_never_crashes(
    source: str, steps: list[tuple[Any, int, int, int, int]]
) -> None:
    check_mutant(mutate(source, steps))
