"""planner batch: every workbook of a folder, one roll-up, a broken one stops nothing."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

import planner
from planner.batch import run_batch, workbooks
from planner.cli import app
from tests.conftest import REFERENCE, ROOT

runner = CliRunner()


@pytest.fixture
def folder(
    tmp_path: Path, hand_sheets: dict[str, list[list[Any]]], make_workbook: Callable[..., Path]
) -> Path:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(REFERENCE / "case-00-hand.xlsx", inputs / "a-hand.xlsx")
    shutil.copy(ROOT / "inputs" / "tiny.xlsx", inputs / "b-tiny.xlsx")
    hand_sheets["Offers"][1][7] = -5
    shutil.copy(make_workbook(hand_sheets), inputs / "c-broken.xlsx")
    (inputs / "d-not-a-workbook.xlsx").write_bytes(b"%PDF-1.4")
    (inputs / "notes.txt").write_text("not an input")
    (inputs / "~$a-hand.xlsx").write_bytes(b"Excel's lock file")
    return inputs


def test_only_workbooks_are_taken(folder: Path) -> None:
    assert [p.name for p in workbooks(folder)] == [
        "a-hand.xlsx",
        "b-tiny.xlsx",
        "c-broken.xlsx",
        "d-not-a-workbook.xlsx",
    ]


def test_a_broken_workbook_stops_nothing(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    table = run_batch(folder, out, workers=2)
    assert table["input"].tolist() == [
        "a-hand.xlsx",
        "b-tiny.xlsx",
        "c-broken.xlsx",
        "d-not-a-workbook.xlsx",
    ]
    assert table["outcome"].tolist() == ["written", "written", "invalid", "invalid"]
    assert table["objective"].iloc[:2].tolist() == pytest.approx([21_702, 21_702], rel=1e-4)
    assert table["error"].iloc[2] == "Offers!H2: capacity must be >= 0, got -5"
    assert table["error"].iloc[3].startswith("d-not-a-workbook.xlsx: not an .xlsx workbook")
    assert sorted(p.name for p in out.iterdir()) == ["a-hand-solution.xlsx", "b-tiny-solution.xlsx"]


def test_cli_writes_a_roll_up_and_says_not_all_succeeded(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["batch", str(folder), "-o", str(out), "--workers", "2"])
    assert result.exit_code == 2  # the worst outcome: invalid input
    assert result.stdout.startswith("2 of 4 workbooks solved")
    assert "c-broken.xlsx: invalid: Offers!H2: capacity must be >= 0, got -5" in result.stderr
    roll_up = openpyxl.load_workbook(out / "batch-summary.xlsx")["Batch"]
    rows = list(roll_up.iter_rows(values_only=True))
    assert rows[0][:5] == ("input", "outcome", "status", "spend (USD)", "lost value (USD)")
    assert {"shortfall (t)", "expected cost (USD)", "China share"} <= set(rows[0])
    spend, lost = rows[1][3], rows[1][4]
    assert spend + lost == pytest.approx(rows[1][rows[0].index("expected cost (USD)")])
    assert [row[1] for row in rows[1:]] == ["written", "written", "invalid", "invalid"]
    sha = rows[0].index("input_sha256")
    assert rows[1][sha] == hashlib.sha256((folder / "a-hand.xlsx").read_bytes()).hexdigest()
    about = openpyxl.load_workbook(out / "batch-summary.xlsx")["About"]
    assert ("planner_version", planner.__version__) in list(about.iter_rows(values_only=True))


def test_all_good_exits_0(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(REFERENCE / "case-01.xlsx", inputs / "one.xlsx")
    result = runner.invoke(app, ["batch", str(inputs), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "one-solution.xlsx").exists()


def test_ctrl_c_keeps_what_finished(folder: Path, tmp_path: Path) -> None:
    seen: list[str] = []

    def interrupt_after_first(row: dict[str, Any]) -> None:
        seen.append(row["input"])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as raised:
        run_batch(folder, tmp_path, workers=1, progress=interrupt_after_first)
    kept = raised.value.partial_rows  # type: ignore[attr-defined]
    assert kept["input"].tolist() == seen and len(seen) == 1


def test_an_out_of_range_option_fails_once_before_any_solve(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="time_limit_s must be a finite number > 0, got -1"):
        run_batch(folder, out, workers=1, time_limit_s=-1)
    assert not out.exists()


def test_the_roll_up_says_where_units_differ() -> None:
    """Workbooks in different currencies: the columns point to each row's currency."""
    from planner.batch import _shown

    table = pd.DataFrame(
        {"spend": [1.0, 2.0], "shortfall": [0.0, 1.0], "currency": ["USD", "EUR"], "unit": "t"}
    )
    shown, _ = _shown(table)
    assert list(shown.columns) == [
        "spend (in each row's currency)",
        "shortfall (t)",
        "currency",
        "unit",
    ]
