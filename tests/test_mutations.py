"""A mutation fuzzer: the plain mistakes a planner makes in a valid workbook.

Each example takes a valid workbook (the reference cases and
``inputs/tiny.xlsx``), makes one to three mistakes in it with openpyxl
(blank a cell, copy a value down a column, duplicate or delete a row, delete
a sheet, rename a header, swap two cells, text or a negative or huge number
in a cell, ...) and checks the house rule: the mutant either loads or raises
:class:`planner.InputError` whose issues name their cells, and a mutant that
loads solves to a plan status, never an exception.

Every reference workbook is a source, v1, v2 and v3 (``tests/data/reference``,
its ``v2`` and ``v3`` folders: a new folder's workbooks are picked up by
:data:`SOURCES`), and ``inputs/tiny.xlsx`` with a Sweep sheet. Half the
mistakes land on a sheet picked by name from :data:`TARGETED_SHEETS` where
the source has it (OfferContents, Commitments, PreviousPlan, Sweep;
ShortageTiers and Events, model v3's, once their branches are merged): to
fuzz a new sheet, add its name there and a reference workbook that has it.
A mutant with a Sweep sheet is swept too, and
:func:`test_a_hostile_sweep_change_never_crashes` tries change names and
values as ``--vary`` takes them.

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
from planner.changes import ChangeError, parse_varies, sheet_changes, variants
from planner.checks import check_changes
from planner.errors import InputError
from tests.conftest import REFERENCE, ROOT

SOURCES = [
    *sorted(REFERENCE.glob("case-*.xlsx")),
    *sorted(REFERENCE.glob("v*/*.xlsx")),  # v2, v3 and any later folder of reference cases
    ROOT / "inputs" / "tiny.xlsx",
]
#: Sheets a mistake is aimed at by name (where the source has it), besides any sheet.
TARGETED_SHEETS = (
    "OfferContents",
    "Commitments",
    "PreviousPlan",
    "Sweep",
    "ShortageTiers",  # model v3 (B1)
    "Events",  # model v3 (B4)
)
#: The Sweep sheet added to ``inputs/tiny.xlsx`` as one more source.
SWEEP_ROWS = [
    ["change", "values"],
    ["capacity[Nd-CN]", "50,100"],
    ["china_share_max[Nd]", "1:0.5:-0.25"],
]
#: A mutant's sweep is solved when it has at most this many variants (else only checked).
SWEPT_VARIANTS = 8


def _with_sweep(path: Path) -> bytes:
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.create_sheet("Sweep")
    for row in SWEEP_ROWS:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


_BYTES = {path.name: path.read_bytes() for path in SOURCES}
_BYTES["tiny-sweep.xlsx"] = _with_sweep(ROOT / "inputs" / "tiny.xlsx")

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
        st.one_of(st.integers(0, 10_000), st.sampled_from(TARGETED_SHEETS)),  # which sheet
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
        if isinstance(which, str):  # a targeted sheet; any sheet where the source lacks it
            which = workbook.sheetnames.index(which) if which in workbook.sheetnames else a
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
    if len(case.sweep):
        check_sweep(case, sheet_changes(case))
    return result.status


def check_sweep(case: planner.Case, changes: dict[str, list[float]]) -> str:
    """Sweep a case (a few variants solved, more only checked); return what happened."""
    try:
        issues = check_changes(case, changes)
        if any(issue.severity == "error" for issue in issues):
            raise InputError(issues)
        if len(variants(changes)) > SWEPT_VARIANTS:
            return "checked"
        swept = planner.sweep(case, changes, workers=1, time_limit_s=1)
    except (InputError, ChangeError) as error:
        for issue in getattr(error, "issues", []):
            assert issue.where and issue.message, issue
        return "invalid"
    assert set(swept.table["status"]) <= PLAN_STATUSES, swept.table["status"]
    return "swept"


@FUZZ
@given(source=st.sampled_from(sorted(_BYTES)), steps=mutations)
def test_a_mistake_in_a_valid_workbook_never_crashes(
    source: str, steps: list[tuple[Any, int, int, int, int]]
) -> None:
    check_mutant(mutate(source, steps))


#: Change names as a planner (or a careless one) writes them for ``--vary`` on tiny.xlsx.
CHANGE_NAMES = [
    "capacity[Nd-CN]",
    "risk[Nd-CN]",
    "lead_time[Nd-CN]",
    "min_take[Nd-MY]",
    "fixed_cost[Nd-MY]",
    "Elements.initial_stock[Nd]",
    "Elements.storage_capacity[Dy]",
    "Elements.shortage_cost[Dy]",
    "Countries.risk[CN]",
    "Offers.country[Nd-CN]",
    "Offers.signing[Nd-CN]",
    "china_share_max",
    "china_share_max[Nd]",
    "china_share_max[TOTAL]",
    "china_share_max[Nd,Dy]",
    "china_share_max[Nd,2026Q2]",
    "country_share_max[TOTAL,refining]",
    "min_offers[Nd]",
    "risk_max[Dy]",
    "demand_scale",
    "demand_scale[Dy]",
    "capacity_factor[base]",
    "cvar_weight",
    "cvar_alpha",
    "change_cost",
    "capacity[Nd-XX]",
    "capacity[",
    "Nowhere.column[x]",
    "",
]
#: Values as typed after ``=``.
VALUE_TEXTS = [
    "0",
    "1",
    "2",
    "-1",
    "0.5,1",
    "1:0:-0.5",
    "0:3:1",
    "1e9",
    "1e300",
    "-1e8",
    "1e-300",
    "1_0e-1",
    "0x10",
    "nan",
    "inf",
    "0:1:0",
    "abc",
    "",
    ",",
]


@FUZZ
@given(
    names=st.lists(st.sampled_from(CHANGE_NAMES), min_size=1, max_size=2),
    texts=st.lists(st.sampled_from(VALUE_TEXTS), min_size=2, max_size=2),
)
def test_a_hostile_sweep_change_never_crashes(names: list[str], texts: list[str]) -> None:
    case = planner.load(ROOT / "inputs" / "tiny.xlsx")
    try:
        changes = parse_varies(f"{name}={text}" for name, text in zip(names, texts, strict=False))
    except ChangeError:
        return
    check_sweep(case, changes)
