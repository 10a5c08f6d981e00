"""The smaller findings of issue 26 (point 10), one test each.

Errors capped on stderr like warnings; ``-o`` naming a folder found before a
sweep solves anything; ``batch`` giving a roll-up row to every entry that
looks like a workbook but is none; no pandas PerformanceWarning on a case of
many elements; ids holding Excel's ``_xHHHH_`` escapes refused.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pandas.errors import PerformanceWarning
from typer.testing import CliRunner

import planner
from planner.cli import MAX_ERRORS, app
from planner.errors import InputError
from planner.io.writer import _chart_data
from tests import hostile
from tests.conftest import ROOT

runner = CliRunner()
TINY = ROOT / "inputs" / "tiny.xlsx"
Sheets = dict[str, list[list[Any]]]


def test_errors_on_stderr_are_capped_and_validate_lists_them_all(
    hand_sheets: Sheets, make_workbook: Callable[..., Path], tmp_path: Path
) -> None:
    hand_sheets["Demand"] += [["Nd", "2026Q1", f"lots {k}"] for k in range(120)]
    path = make_workbook(hand_sheets)
    result = runner.invoke(app, ["solve", str(path), "-o", str(tmp_path / "plan.xlsx")])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    every = runner.invoke(app, ["validate", str(path), "--all-errors"])
    assert every.exit_code == 2
    problems = [line for line in every.stderr.splitlines() if line.startswith("  ")]
    assert sum(": quantity must be a number" in line for line in problems) == 120
    assert len(lines) == 1 + MAX_ERRORS + 1
    assert lines[1:-1] == problems[:MAX_ERRORS]
    assert lines[-1] == (
        f"  ... and {len(problems) - MAX_ERRORS:,} more "
        "(planner validate --all-errors lists every one)"
    )


def test_an_output_that_is_a_folder_is_refused_before_any_variant_is_solved(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_sweep(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("solved")

    monkeypatch.setattr(planner, "sweep", no_sweep)
    folder = tmp_path / "out.xlsx"
    folder.mkdir()
    result = runner.invoke(
        app, ["sweep", str(TINY), "--vary", "capacity[Nd-CN]=50,60", "-o", str(folder)]
    )
    assert result.exit_code == 4, result.output
    assert f"{folder}: is a folder; name the workbook to write inside it" in result.stderr
    solved = runner.invoke(app, ["solve", str(TINY), "-o", str(folder)])
    assert solved.exit_code == 4
    assert "is a folder" in solved.stderr


def test_batch_gives_a_row_to_every_entry_that_is_no_workbook(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.xlsx").write_bytes(TINY.read_bytes())
    (folder / "loop-a.xlsx").symlink_to(folder / "loop-b.xlsx")
    (folder / "loop-b.xlsx").symlink_to(folder / "loop-a.xlsx")
    (folder / "broken.xlsx").symlink_to(folder / "missing.xlsx")
    (folder / "device.xlsx").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe.xlsx")
    (folder / "folder.xlsx").mkdir()
    result = runner.invoke(
        app, ["batch", str(folder), "-o", str(tmp_path / "out"), "--workers", "1"]
    )
    assert result.exit_code == 2, result.output
    table = pd.read_excel(tmp_path / "out" / "batch-summary.xlsx", sheet_name="Batch")
    outcome = dict(zip(table["input"], table["outcome"], strict=True))
    assert outcome == {
        "broken.xlsx": "invalid",
        "device.xlsx": "invalid",
        "folder.xlsx": "invalid",
        "good.xlsx": "written",
        "loop-a.xlsx": "invalid",
        "loop-b.xlsx": "invalid",
        "pipe.xlsx": "invalid",
    }
    error = dict(zip(table["input"], table["error"], strict=True))
    assert "a loop of symbolic links" in error["loop-a.xlsx"]
    assert "not a regular file" in error["pipe.xlsx"]
    assert "not a regular file" in error["device.xlsx"]


def test_many_elements_raise_no_performance_warning(make_workbook: Callable[..., Path]) -> None:
    elements = [f"E{k}" for k in range(60)]
    periods = ("2026Q1", "2026Q2")
    path = make_workbook(
        {
            "Periods": [["period", "days"], [periods[0], 90], [periods[1], 91]],
            "Elements": [["element", "shortage_cost"], *[[e, 100] for e in elements]],
            "Demand": [
                ["element", "period", "quantity"],
                *[[e, p, 5] for e in elements for p in periods],
            ],
            "Offers": [
                ["offer", "element", "country", "unit_cost", "capacity"],
                *[[f"{e}-CN", e, "CN", 10, 10] for e in elements],
            ],
            "Countries": [["country", "risk"], ["CN", 0.5]],
        }
    )
    result = planner.solve(planner.load(path), duals=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerformanceWarning)
        blocks = _chart_data(result)
    assert blocks["china"].shape == (2, 1 + 2 * 61)


@pytest.mark.parametrize("text", ["Nd_x000B_CN", "Nd_x0041_CN", "Nd_x005F_x000B_CN"])
def test_an_id_holding_an_excel_escape_is_refused(text: str, tmp_path: Path) -> None:
    path = hostile.rewrite(
        tmp_path / "escaped.xlsx",
        lambda name, data: (
            data.replace(b"<t>Nd-CN</t>", f"<t>{text}</t>".encode(), 1)
            if name == "xl/worksheets/sheet4.xml"
            else data
        ),
        source=TINY,
    )
    with pytest.raises(InputError) as caught:
        planner.load(path)
    assert [issue.where for issue in caught.value.issues] == ["Offers!A2"]
    assert "an escape that Excel may show as the character" in str(caught.value)
