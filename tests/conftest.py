"""Shared fixtures: the reference cases, the Japan case solved once, and small workbooks.

The evidence-based Japan case (inputs/japan-2026.xlsx, 48 scenarios) takes seconds to
load and several to solve. A test about the Japan case itself takes ``japan_case`` (a
fresh copy of the case loaded once) and ``japan_result`` (the case solved once a
session, default options). A test of a mechanism (sweeps, the web job flow, the API,
writing) takes the reduced case: ``japan_small_case``, ``japan_small_workbook`` (its
workbook) and ``japan_small_result``, the Japan case with three of its events (6
scenarios) and no Sweep sheet (its variants are checked at every load and solve: a
second a solve that the mechanism under test never reads); or a hand-made workbook.
"""

from __future__ import annotations

import copy
import json
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

import planner

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "reference"
ROOT = Path(__file__).parent.parent
JAPAN = ROOT / "inputs" / "japan-2026.xlsx"
#: The events of the reduced Japan case (6 scenarios of its 48): a stop of all Chinese
#: supply, the heavy-rare-earth price spike and Viet Nam's delay. Every kind of input the
#: whole case has is there (policies, tiers, activities, contracts, later offers, events in
#: a group and alone), at a third of a solve's time. Its Sweep sheet is left out: every
#: load and solve checks each of its variants (derives the case again for each), which
#: took more time than the reduced case's solve, and no test of a mechanism reads it.
JAPAN_KEPT_EVENTS = ("cn_all_3m_2026Q3", "cn_heavy_price_spike", "vn_delay")

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


# ------------------------------------------------------------------ the Japan case, once


def _copy_and_result(loaded: str, what: str) -> tuple[Any, Any]:
    """Two fixtures of the case the session fixture ``loaded`` loads once.

    A copy of it for each test, to modify at will; and its solve with the default
    options, once a session (read it only).
    """

    def case(request: pytest.FixtureRequest) -> planner.Case:
        return request.getfixturevalue(loaded).copy()

    def result(request: pytest.FixtureRequest) -> planner.Result:
        return planner.solve(request.getfixturevalue(loaded).copy())

    case.__doc__ = f"{what}: a copy of the one loaded this session, to modify at will."
    result.__doc__ = f"{what} solved once a session with the default options; read it only."
    return pytest.fixture(case), pytest.fixture(scope="session")(result)


@pytest.fixture(scope="session")
def _japan_loaded() -> planner.Case:
    return planner.load(JAPAN)


def write_japan_small(path: Path) -> Path:
    """Write the Japan workbook with only the events of ``JAPAN_KEPT_EVENTS`` (all their rows).

    The Sweep sheet is left out (see ``JAPAN_KEPT_EVENTS``).
    """
    book = openpyxl.load_workbook(JAPAN)
    events = book["Events"]
    for row in range(events.max_row, 1, -1):
        if events.cell(row, 1).value not in JAPAN_KEPT_EVENTS:
            events.delete_rows(row)
    if "Sweep" in book.sheetnames:
        del book["Sweep"]
    book.save(path)
    return path


@pytest.fixture(scope="session")
def japan_small_workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reduced Japan case as a workbook, written once a session (japan-2026-small.xlsx)."""
    return write_japan_small(tmp_path_factory.mktemp("japan-small") / "japan-2026-small.xlsx")


@pytest.fixture(scope="session")
def _japan_small_loaded(japan_small_workbook: Path) -> planner.Case:
    case = planner.load(japan_small_workbook)
    assert set(case.events["event"]) == set(JAPAN_KEPT_EVENTS) and not case.warnings
    assert case.sweep.empty
    return case


japan_case = _copy_and_result("_japan_loaded", "The whole Japan case")[0]
japan_small_case, japan_small_result = _copy_and_result(
    "_japan_small_loaded", "The reduced Japan case (three events, 6 scenarios)"
)


@pytest.fixture(scope="session")
def _japan_cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, planner.Result]:
    """``planner solve inputs/japan-2026.xlsx -o …/japan-2026-solution.xlsx``, run once a session.

    Returns what it printed (stdout), the solution workbook's path and the
    :class:`planner.Result` it wrote: the command's call of ``planner.solve``, watched.
    The command passes solve's default options (threads 1, seed 0, duals); the fixture
    fails if it ever passes others, so the Result is ``planner.solve(case)``'s.
    """
    from dataclasses import replace

    from typer.testing import CliRunner

    from planner.cli import app
    from planner.solve import SolveOptions

    solve = planner.solve
    solved: list[tuple[dict[str, Any], planner.Result]] = []

    def watched(case: planner.Case, **options: Any) -> planner.Result:
        result = solve(case, **options)
        solved.append((options, result))
        return result

    out = tmp_path_factory.mktemp("japan-cli") / "japan-2026-solution.xlsx"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(planner, "solve", watched)
        done = CliRunner().invoke(app, ["solve", str(JAPAN), "-o", str(out)])
    assert done.exit_code == 0, done.output
    [(options, result)] = solved
    assert replace(SolveOptions(), **options) == SolveOptions(), options
    return done.stdout, out, result


@pytest.fixture(scope="session")
def japan_cli(_japan_cli_run: tuple[str, Path, planner.Result]) -> tuple[str, Path]:
    """``planner solve inputs/japan-2026.xlsx -o …/japan-2026-solution.xlsx``, run once a session.

    Returns what it printed (stdout) and the solution workbook's path.
    """
    stdout, out, _ = _japan_cli_run
    return stdout, out


@pytest.fixture(scope="session")
def japan_result(_japan_cli_run: tuple[str, Path, planner.Result]) -> planner.Result:
    """The whole Japan case solved once a session with the default options; read it only.

    It is the solve of ``japan_cli``'s command (the same options as ``planner.solve(case)``):
    one solve of the whole case a session for both.
    """
    return _japan_cli_run[2]
