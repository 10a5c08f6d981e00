"""Sweep values go through the checks of a cell (issue 26, point 5).

``inputs/tiny.xlsx`` has no initial_stock, risk, lead_time, first_period,
signing columns: a value a sweep puts there was once never checked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

import planner
from planner.changes import ChangeError, checked_values, parse_values, parse_varies
from planner.cli import app
from planner.errors import InputError
from tests.conftest import ROOT

runner = CliRunner()
TINY = ROOT / "inputs" / "tiny.xlsx"

#: --vary -> the message it gets (each once solved as "optimal" or crashed with exit 1).
REFUSED = {
    "Elements.initial_stock[Nd]=-1e8": "--vary: Elements.initial_stock[Nd]=-1e+08 (variant 1): "
    "Elements!2:2: initial_stock must be >= 0, got -1e+08",
    "Elements.initial_stock[Nd]=1e300": "initial_stock must be <= 1e9, got 1e+300",
    "risk[Nd-CN]=5": "--vary: risk[Nd-CN]=5 (variant 1): Offers!2:2: risk must be <= 1, got 5",
    "lead_time[Nd-CN]=1e9": "lead_time must be <= 1000, got 1e+09",
    "lead_time[Nd-CN]=0:2:0.5": "--vary: lead_time[Nd-CN]=0.5 (variant 2): Offers!2:2: "
    "lead_time must be a whole number of periods, got 0.5",
    "Offers.first_period[Nd-CN]=7": "--vary: 'Offers.first_period[Nd-CN]': "
    "Offers.first_period holds an id, not a number; a sweep changes numbers only",
    "Offers.signing[Nd-CN]=1": "Offers.signing holds a choice, not a number",
    "Offers.country[Nd-CN]=5": "Offers.country holds a country code, not a number",
    "china_share_max[Nd,Dy]=0.1": "china_share_max[Nd,Dy]: names 2 elements (Nd, Dy); "
    "a change sets one element's cap: give one change per element",
    "china_share_max[Dz]=0.5": "'Dz' is no element, TOTAL, basis",
    "china_share_max[Nd]=1_0e-1": "--vary: '1_0e-1': give start:stop:step or a comma-separated",
}


@pytest.mark.parametrize("vary", sorted(REFUSED))
def test_a_bad_sweep_value_is_refused_before_any_solve(vary: str, tmp_path: Path) -> None:
    target = tmp_path / "s.xlsx"
    result = runner.invoke(app, ["sweep", str(TINY), "--vary", vary, "-o", str(target)])
    assert result.exit_code == 2, result.output
    assert REFUSED[vary] in result.stderr
    assert "Traceback" not in result.output
    assert not target.exists()


def test_a_change_varied_twice_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "sweep", str(TINY), "-o", str(tmp_path / "s.xlsx"),
            "--vary", "capacity[Nd-CN]=50", "--vary", "capacity[ Nd-CN ]=60,70",
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "capacity[Nd-CN] is varied twice; give all its values in one --vary" in result.stderr
    with pytest.raises(ChangeError, match="varied twice"):
        parse_varies(["china_share_max[Dy,any]=0.5", "china_share_max[any,Dy]=0.6"])


@pytest.mark.parametrize("text", ["1_0e-1", "0x10", "1_000", "0:1_0:1", "１"])
def test_numbers_are_read_as_typed(text: str) -> None:
    with pytest.raises(ChangeError):
        parse_values(text)


def test_plain_numbers_still_read() -> None:
    assert parse_values("-1e8,.5,2.,+3E-1") == [-1e8, 0.5, 2.0, 0.3]


def _tiny_with_sweep(make_workbook: Callable[..., Path], rows: list[list[Any]]) -> Path:
    book = openpyxl.load_workbook(TINY)
    sheets = {
        sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book
    }
    sheets["Sweep"] = [["change", "values"], *rows]
    path: Path = make_workbook(sheets)
    return path


def test_validate_checks_every_value_of_the_sweep_sheet(
    make_workbook: Callable[..., Path],
) -> None:
    path = _tiny_with_sweep(
        make_workbook,
        [["capacity[Nd-CN]", "50,100"], ["risk[Nd-CN]", "0.2,5"], ["capacity[Nd-CN]", "60"]],
    )
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "Sweep!B3: risk[Nd-CN]=5 (variant 2): Offers!2:2: risk must be <= 1" in result.stderr
    assert (
        "Sweep!A4: capacity[Nd-CN] is also changed at Sweep!A2; give all its values in one row"
        in result.stderr
    )


def test_the_api_names_the_change_and_the_variant() -> None:
    case = planner.load(TINY)
    with pytest.raises(InputError) as caught:
        planner.sweep(case, {"capacity[Nd-CN]": [50, 60], "risk[Nd-CN]": [0.1, 2]}, workers=1)
    assert [str(issue) for issue in caught.value.issues] == [
        "risk[Nd-CN]=2 (variant 2): Offers!2:2: risk must be <= 1, got 2"
    ]


def test_a_many_valued_change_is_checked_at_its_ends_and_a_fraction() -> None:
    assert checked_values([1, 2, 3]) == [1.0, 2.0, 3.0]
    many = [float(k) for k in range(40, 0, -1)] + [2.5, 7.5]
    assert checked_values(many) == [40.0, 1.0, 2.5]
    case = planner.load(TINY)
    with pytest.raises(InputError, match=r"lead_time\[Nd-CN\]=0.05 \(variant 2\)"):
        planner.sweep(case, {"lead_time[Nd-CN]": parse_values("0:1:0.05")}, workers=1)


def test_a_change_without_values_is_refused(tmp_path: Path) -> None:
    """Found by the fuzzer: ``=,`` made a grid of no variant and an internal error."""
    result = runner.invoke(
        app, ["sweep", str(TINY), "--vary", "capacity[Nd-CN]=,", "-o", str(tmp_path / "s.xlsx")]
    )
    assert result.exit_code == 2
    assert "--vary: capacity[Nd-CN]: no values to try" in result.stderr
    with pytest.raises(ChangeError, match="no values to try"):
        planner.sweep(planner.load(TINY), {"capacity[Nd-CN]": []}, workers=1)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_changes_valid_alone_but_not_together_name_their_variant(
    workers: str, tmp_path: Path
) -> None:
    """min_take 50 and capacity 40 pass alone; together the variant is refused, by name.

    In worker processes the error once could not cross back (BrokenProcessPool, exit 1).
    """
    target = tmp_path / "s.xlsx"
    result = runner.invoke(
        app,
        [
            "sweep", str(TINY), "-o", str(target), "--workers", workers,
            "--vary", "min_take[Nd-MY]=0,50", "--vary", "capacity[Nd-MY]=60,40",
        ],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert (
        "Offers!3:3: the variant min_take[Nd-MY]=50, capacity[Nd-MY]=40: "
        "min_take 50 is above capacity 40" in result.stderr
    )
    assert not target.exists()
