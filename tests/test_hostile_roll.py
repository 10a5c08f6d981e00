"""planner roll never trusts the solution workbook (issue 26, point 6): one tampering per rule.

Each rule once crashed the roll (ValueError, exit 1) or silently changed the
next workbook: an edited copy of the Stock sheet overriding the stock, a
misspelt scenario dropping every order, text or a formula dropping a firm
order, a stock of 1e400 written blank, a negative stock made 0 without a
word, a Settings formula that made the roll refuse its own output.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

import planner
from planner.cli import app
from tests import hostile
from tests.test_roll import _case, _rows, _solve

runner = CliRunner()


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The roll tests' four-quarter case and its solution (copied by each test)."""
    folder = tmp_path_factory.mktemp("solved")
    last = _case(folder)
    _, solution = _solve(last)
    return last, solution


def _tampered(
    solved: tuple[Path, Path], tmp_path: Path, change: Callable[[Any], None]
) -> tuple[Path, Path]:
    last, solution = solved
    book = openpyxl.load_workbook(solution)
    change(book)
    target = tmp_path / solution.name
    book.save(target)
    return last, target


def _cell(book: Any, sheet: str, column: str, row: int = 2) -> Any:
    """The cell of ``column`` (by header) in ``row`` of ``sheet``."""
    header = [cell.value for cell in book[sheet][1]]
    return book[sheet].cell(row, header.index(column) + 1)


def _roll(last: Path, solution: Path, tmp_path: Path) -> Any:
    return runner.invoke(app, ["roll", str(last), str(solution), "-o", str(tmp_path / "next.xlsx")])


def _set(sheet: str, column: str, value: Any, row: int = 2) -> Callable[[Any], None]:
    def change(book: Any) -> None:
        _cell(book, sheet, column, row).value = value

    return change


#: (sheet, column, value typed) -> the message at the solution's cell.
TAMPERED = {
    ("Stock", "node", "one"): "Stock!A2: node must be a number, got 'one'",
    ("Stock", "node", None): "Stock!A2: node is blank; a number belongs here",
    ("Stock", "stock", "lots"): "stock must be a number, got 'lots'",
    ("Purchases", "quantity", "ten"): "quantity must be a number, got 'ten'",
    ("Purchases", "quantity", "=2*5"): "quantity is a formula without a cached value",
    ("Purchases", "node", 1.5): "node must be a whole number, got 1.5",
    ("Purchases", "scenarios", "bsae"): "scenario 'bsae' is not one of the input's (base)",
    ("Contracts", "contracted", "yes"): "contracted must be a number, got 'yes'",
    ("Contracts", "offer", None): "offer is blank",
}


@pytest.mark.parametrize("tampering", list(TAMPERED), ids=lambda t: "-".join(map(str, t)))
def test_a_tampered_solution_cell_is_refused_by_its_cell(
    tampering: tuple[str, str, Any], solved: tuple[Path, Path], tmp_path: Path
) -> None:
    sheet, column, value = tampering
    last, solution = _tampered(solved, tmp_path, _set(sheet, column, value))
    result = _roll(last, solution, tmp_path)
    assert result.exit_code == 2, result.output
    assert f"{solution.name}!" in result.stderr
    assert TAMPERED[tampering] in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "next.xlsx").exists()


def test_an_edited_copy_of_the_stock_sheet_is_refused(
    solved: tuple[Path, Path], tmp_path: Path
) -> None:
    def copy_stock(book: Any) -> None:
        copy = book.copy_worksheet(book["Stock"])
        copy.title = "Stock (2)"
        _cell(book, "Stock (2)", "stock").value = 999

    last, solution = _tampered(solved, tmp_path, copy_stock)
    result = _roll(last, solution, tmp_path)
    assert result.exit_code == 2
    assert f"{solution.name}!Stock (2): a sheet the planner did not write" in result.stderr


def _stock_part(solution: Path) -> tuple[str, str]:
    """The zip part of the Stock sheet and the address of the first stock cell."""
    book = openpyxl.load_workbook(solution)
    number = book.sheetnames.index("Stock") + 1
    return f"xl/worksheets/sheet{number}.xml", _cell(book, "Stock", "stock").coordinate


def test_a_stock_beyond_a_float_is_refused(solved: tuple[Path, Path], tmp_path: Path) -> None:
    last, solution = solved
    part, cell = _stock_part(solution)
    target = hostile.rewrite(
        tmp_path / solution.name,
        lambda name, data: (
            hostile.set_cell_xml(data, cell, "><v>1e400</v></c>") if name == part else data
        ),
        source=solution,
    )
    result = _roll(last, target, tmp_path)
    assert result.exit_code == 2, result.output
    assert f"Stock!{cell}: stock must be a finite number, got inf" in result.stderr


def test_a_negative_stock_is_carried_as_zero_with_a_warning(
    solved: tuple[Path, Path], tmp_path: Path
) -> None:
    last, solution = _tampered(solved, tmp_path, _set("Stock", "stock", -7))
    result = _roll(last, solution, tmp_path)
    assert result.exit_code == 0, result.output
    assert "Stock!F2: stock -7 of Nd is below zero; carried as 0" in result.stderr
    assert _rows(tmp_path / "next.xlsx", "Elements")[0]["initial_stock"] == 0


def test_formulas_with_cached_values_roll_as_their_values(tmp_path: Path) -> None:
    """A Settings and a Countries formula, with values Excel cached: the roll keeps the values."""
    plain = _case(tmp_path, "plain.xlsx")
    book = openpyxl.load_workbook(plain)
    parts = {
        f"xl/worksheets/sheet{book.sheetnames.index(title) + 1}.xml": cell
        for title, cell in (("Settings", "B2"), ("Countries", "B2"))
    }
    values = {"Settings": "0", "Countries": "0.1"}
    inner = {
        part: f"><f>{values[title]}*1</f><v>{values[title]}</v></c>"
        for part, title in zip(parts, ("Settings", "Countries"), strict=True)
    }
    last = hostile.rewrite(
        tmp_path / "q1.xlsx",
        lambda name, data: (
            hostile.set_cell_xml(data, parts[name], inner[name]) if name in parts else data
        ),
        source=plain,
    )
    with zipfile.ZipFile(last) as archive:
        assert b"<f>" in archive.read(next(iter(parts)))
    _, solution = _solve(last)
    plan = planner.roll(last, solution, tmp_path / "q2.xlsx")
    assert any("formulas written as the values they had" in w for w in plan.warnings)
    assert _rows(tmp_path / "q2.xlsx", "Countries")[0]["risk"] == 0.1
    planner.load(tmp_path / "q2.xlsx")  # its own output is valid
