"""The CLI contract: commands, one-line summaries and exit codes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import planner
from planner.cli import app
from tests.conftest import REFERENCE

runner = CliRunner()
HAND = REFERENCE / "case-00-hand.xlsx"


def test_solve_writes_the_plan_and_prints_one_line(tmp_path: Path) -> None:
    out = tmp_path / "plan.xlsx"
    result = runner.invoke(app, ["solve", str(HAND), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"optimal: spend 20,702 USD, lost value 1,000 USD (shortfall 1 t); "
        f"China share 55.4% -> {out}"
    )
    assert (
        pd.read_excel(out, sheet_name="Summary").set_index("key").loc["objective", "value"] == 21702
    )


def test_solve_options_override_settings(tmp_path: Path) -> None:
    out = tmp_path / "plan.xlsx"
    result = runner.invoke(
        app,
        ["solve", str(HAND), "-o", str(out), "--time-limit", "5", "--mip-gap", "0", "--no-duals"],
    )
    assert result.exit_code == 0, result.output
    summary = pd.read_excel(out, sheet_name="Summary").set_index("key")["value"]
    assert float(summary["time_limit_s"]) == 5
    assert float(summary["mip_gap_target"]) == 0
    assert pd.read_excel(out, sheet_name="Duals").empty


def test_invalid_input_exits_2_and_writes_nothing(
    tmp_path: Path, hand_sheets: dict[str, list[list[Any]]], make_workbook: Callable[..., Path]
) -> None:
    hand_sheets["Offers"][1][7] = -5
    broken = make_workbook(hand_sheets)
    out = tmp_path / "plan.xlsx"
    result = runner.invoke(app, ["solve", str(broken), "-o", str(out)])
    assert result.exit_code == 2
    assert "Offers!H2: capacity must be >= 0, got -5" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_infeasible_rules_exit_3_with_the_conflict_explained(
    tmp_path: Path, hand_sheets: dict[str, list[list[Any]]], make_workbook: Callable[..., Path]
) -> None:
    hand_sheets["Offers"][0].append("min_take")
    hand_sheets["Offers"][1].append(80)  # Nd-CN must take 80 t a quarter if contracted
    hand_sheets["Policies"].append(
        ["min_offers", "Nd", None, 2]
    )  # so both Nd offers are contracted
    workbook = make_workbook(hand_sheets)
    out = tmp_path / "plan.xlsx"
    result = runner.invoke(app, ["solve", str(workbook), "-o", str(out)])
    assert result.exit_code == 3, result.output
    assert "no plan found (infeasible)" in result.stderr
    conflict = [line.strip() for line in result.stderr.splitlines() if "part of a conflict" in line]
    assert conflict == [
        "Policies!D2: china_share_max 0.5 for Nd, every period: part of a conflict",
        "Offers!J2: min_take 80 of Nd-CN: part of a conflict",
        "Policies!D3: min_offers 2 for Nd: part of a conflict",
    ]
    assert not out.exists()


def test_refuses_to_overwrite_the_input(tmp_path: Path) -> None:
    copy = tmp_path / "case.xlsx"
    copy.write_bytes(HAND.read_bytes())
    before = copy.read_bytes()
    result = runner.invoke(app, ["solve", str(copy), "-o", str(copy)])
    assert result.exit_code == 4
    assert "refusing to overwrite the input workbook" in result.stderr
    assert copy.read_bytes() == before


def test_missing_output_folder_exits_4(tmp_path: Path) -> None:
    result = runner.invoke(app, ["solve", str(HAND), "-o", str(tmp_path / "nowhere" / "plan.xlsx")])
    assert result.exit_code == 4
    assert "does not exist" in result.stderr


def test_validate_exit_codes(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["validate", str(HAND)])
    assert ok.exit_code == 0
    assert ok.stdout.strip() == "valid: 2 periods, 2 elements, 3 offers, 0 activities, 1 scenarios"
    missing = runner.invoke(app, ["validate", str(tmp_path / "missing.xlsx")])
    assert missing.exit_code == 2
    assert "missing.xlsx: file not found" in missing.stderr


def test_template_is_a_documented_empty_workbook(tmp_path: Path) -> None:
    out = tmp_path / "template.xlsx"
    result = runner.invoke(app, ["template", str(out)])
    assert result.exit_code == 0
    import openpyxl

    workbook = openpyxl.load_workbook(out)
    assert workbook.sheetnames[0] == "Instructions"
    offers = workbook["Offers"]
    assert [c.value for c in offers[1]][:4] == ["offer", "supplier", "element", "country"]
    assert "Unit: currency/unit" in offers["G1"].comment.text
    dropdowns = {
        str(v.sqref): v.formula1 for v in workbook["Elements"].data_validations.dataValidation
    }
    assert dropdowns["C2:C1000"] == '"light,heavy"'
    # the empty template only lacks rows; its structure is valid
    check = runner.invoke(app, ["validate", str(out)])
    assert check.exit_code == 2
    assert check.stderr.count("needs at least one row") == 2
    assert "warning" not in check.stderr


def test_filled_template_solves(tmp_path: Path) -> None:
    """A planner fills the template by hand: the result solves like the hand case."""
    import openpyxl

    template = tmp_path / "template.xlsx"
    runner.invoke(app, ["template", str(template)])
    workbook = openpyxl.load_workbook(template)
    source = openpyxl.load_workbook(HAND)
    for sheet in source.worksheets:
        target = workbook[sheet.title]
        header = [c.value for c in target[1]]
        for row in sheet.iter_rows(min_row=2, values_only=True):
            values = dict(zip([c.value for c in sheet[1]], row, strict=False))
            target.append([values.get(name) for name in header])
    workbook.save(template)
    out = tmp_path / "plan.xlsx"
    result = runner.invoke(app, ["solve", str(template), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "spend 20,702 USD, lost value 1,000 USD" in result.stdout


def test_unexpected_errors_are_one_line_unless_debug(monkeypatch: Any, tmp_path: Path) -> None:
    import planner

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(planner, "solve", boom)
    result = runner.invoke(app, ["solve", str(HAND), "-o", str(tmp_path / "p.xlsx")])
    assert result.exit_code == 1
    assert "internal error: RuntimeError: kaboom (run with --debug for details)" in result.stderr
    assert "Traceback" not in result.output
    debug = runner.invoke(app, ["solve", str(HAND), "-o", str(tmp_path / "p.xlsx"), "--debug"])
    assert isinstance(debug.exception, RuntimeError)


def test_sigterm_landing_in_a_finaliser_is_raised_again() -> None:
    import signal
    import sys
    import time

    from planner.cli import _terminate

    class Finalised:
        def __del__(self) -> None:  # where Python would ignore the interrupt
            _terminate(signal.SIGTERM, sys._getframe())

    previous = signal.getsignal(signal.SIGALRM)
    try:
        with pytest.raises(KeyboardInterrupt):
            Finalised()  # finalised at once
            time.sleep(300)  # the interrupt arrives here instead (0.05 s): a hang guard
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("solve", "the input's name + -solution.xlsx, in outputs/"),
        ("sweep", "one per core"),
        ("batch", "one per core"),
        ("serve", "a new temporary folder"),
    ],
)
def test_help_shows_every_default(command: str, shown: str) -> None:
    """Defaults are written in the help text (click's wrapping may break a line anywhere)."""
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert shown in " ".join(result.stdout.split())


@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        (["solve", "IN", "--time-limit", "0"], "--time-limit"),
        (["solve", "IN", "--time-limit", "-1"], "--time-limit"),
        (["solve", "IN", "--time-limit", "nan"], "--time-limit"),
        (["solve", "IN", "--time-limit", "inf"], "--time-limit"),
        (["solve", "IN", "--mip-gap", "-1"], "--mip-gap"),
        (["solve", "IN", "--mip-gap", "nan"], "--mip-gap"),
        (["solve", "IN", "--threads", "0"], "--threads"),
        (["solve", "IN", "--threads", "-3"], "--threads"),
        (["solve", "IN", "--seed", "-1"], "--seed"),
        (["solve", "IN", "--seed", "2147483648"], "--seed"),
        (["sweep", "IN", "-o", "OUT", "--time-limit", "-1"], "--time-limit"),
        (["sweep", "IN", "-o", "OUT", "--workers", "0"], "--workers"),
        (["batch", "IN", "-o", "OUT", "--workers", "-2"], "--workers"),
        (["batch", "IN", "-o", "OUT", "--time-limit", "nan"], "--time-limit"),
        (["serve", "--workers", "0"], "--workers"),
        (["serve", "--port", "0"], "--port"),
        (["serve", "--queue-limit", "-1"], "--queue-limit"),
        (["serve", "--max-upload-mb", "0"], "--max-upload-mb"),
        (["serve", "--keep-hours", "nan"], "--keep-hours"),
        (["serve", "--time-limit", "-5"], "--time-limit"),
    ],
)
def test_out_of_range_options_are_refused(
    arguments: list[str], option: str, tmp_path: Path
) -> None:
    given = {"IN": str(REFERENCE / "case-00-hand.xlsx"), "OUT": str(tmp_path / "out.xlsx")}
    result = runner.invoke(app, [given.get(a, a) for a in arguments])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"time_limit_s": -1}, "time_limit_s must be a finite number > 0, got -1"),
        ({"time_limit_s": 0}, "time_limit_s must be a finite number > 0, got 0"),
        ({"time_limit_s": float("nan")}, "time_limit_s must be a finite number > 0, got nan"),
        ({"time_limit_s": float("inf")}, "time_limit_s must be a finite number > 0, got inf"),
        ({"mip_gap": -0.1}, "mip_gap must be a finite number >= 0, got -0.1"),
        ({"mip_gap": float("nan")}, "mip_gap must be a finite number >= 0, got nan"),
        ({"threads": 0}, "threads must be a whole number >= 1, got 0"),
        ({"threads": 1.5}, "threads must be a whole number >= 1, got 1.5"),
        ({"seed": -1}, "seed must be a whole number from 0 to 2,147,483,647, got -1"),
    ],
)
def test_the_api_refuses_the_same_options_before_solving(
    options: dict[str, Any], message: str
) -> None:
    case = planner.load(REFERENCE / "case-00-hand.xlsx")
    with pytest.raises(ValueError, match=re.escape(message)):
        planner.solve(case, **options)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_non_finite_settings_time_limit_names_its_cell(
    value: str, hand_sheets: dict[str, list[list[Any]]], make_workbook: Callable[..., Path]
) -> None:
    hand_sheets["Settings"] = [["key", "value"], ["mip_gap", 0.001], ["time_limit_s", value]]
    with pytest.raises(planner.InputError) as raised:
        planner.load(make_workbook(hand_sheets))
    (issue,) = raised.value.issues  # refused at its cell, by the reader's number check
    assert str(issue) == f"Settings!B3: time_limit_s must be a number, got '{value}'"


def test_a_non_finite_setting_set_in_python_names_its_cell() -> None:
    case = planner.load(REFERENCE / "case-00-hand.xlsx")
    case.settings.mip_gap = float("nan")
    with pytest.raises(planner.InputError, match=r"Settings\[mip_gap\]: mip_gap must be a finite"):
        planner.solve(case)


def test_version_is_printed() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"planner {planner.__version__}"


@pytest.mark.parametrize("command", ["solve", "sweep", "batch", "roll", "serve", "template"])
def test_help_fits_80_columns_without_cuts_or_placeholders(command: str) -> None:
    """Issue 23.8: at 80 columns nothing is cut short and flags show no "<bool>"."""
    done = runner.invoke(app, [command, "--help"], env={"COLUMNS": "80"})
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "…" not in done.stdout and "<bool>" not in done.stdout
    if command == "solve":
        assert "-solution.xlsx" in done.stdout and "outputs/" in done.stdout


def test_the_template_says_when_countries_is_needed_shows_examples_and_the_page(
    tmp_path: Path,
) -> None:
    """Issue 23.9: Countries is needed unless every offer has a risk; an example row per
    sheet; the Instructions name the upload page as well as the commands."""
    import openpyxl

    from planner.schema import catalogue

    out = tmp_path / "template.xlsx"
    assert runner.invoke(app, ["template", str(out)]).exit_code == 0
    workbook = openpyxl.load_workbook(out)
    lines = [
        [cell for cell in row if cell is not None]
        for row in workbook["Instructions"].iter_rows(values_only=True)
    ]
    text = "\n".join(" | ".join(str(c) for c in row) for row in lines)
    assert "Countries | required unless every offer has a risk sheet" in text
    assert "web page" in text and "drop this workbook on the page" in text
    assert "planner solve THIS.xlsx" in text
    for spec in catalogue().sheets:
        if spec.name == "Settings":
            continue
        example = dict(spec.example)
        required = [c.name for c in spec.columns if c.required]
        assert set(required) <= set(example), spec.name  # every sheet has an example row
        assert set(example) <= {c.name for c in spec.columns}, spec.name
        shown = ", ".join(f"{name} = {value}" for name, value in spec.example)
        assert f"example row | {shown}" in text, spec.name
        comment = workbook[spec.name]["A1"].comment.text
        assert f"Example: {example[spec.columns[0].name]}" in comment, spec.name
    assert workbook["Offers"].max_row == 1  # the sheets themselves start empty


def test_the_template_s_examples_make_a_valid_case(tmp_path: Path) -> None:
    """The example rows are consistent with each other: together they validate."""
    import openpyxl

    from planner.schema import catalogue

    out = tmp_path / "template.xlsx"
    assert runner.invoke(app, ["template", str(out)]).exit_code == 0
    workbook = openpyxl.load_workbook(out)
    for spec in catalogue().sheets:
        if spec.name in ("Settings", "Sweep", "PreviousPlan", "OfferContents", "Events"):
            continue  # OfferContents' example names another (joint) offer; Events replace
            # Scenarios and Disruptions, whose examples are used here
        if not spec.example:
            continue
        sheet = workbook[spec.name]
        header = [c.value for c in sheet[1]]
        given = dict(spec.example)
        sheet.append(
            [
                float(given[name])
                if name in given and spec.column(name).type == "number"
                else given.get(name)
                for name in header
            ]
        )
    workbook["Scenarios"].append(["base", 0.8])
    workbook.save(out)
    check = runner.invoke(app, ["validate", str(out)])
    assert check.exit_code == 0, check.stderr
