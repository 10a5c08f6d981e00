"""A plan that buys nothing is a plan: written, with the empty chart labelled (issue 26, 2)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

import planner
from planner.cli import app
from planner.errors import OutputError
from planner.io.writer import NO_SUPPLY
from planner.web import worker
from planner.web.jobs import UPLOAD
from tests.conftest import HAND, write_workbook

runner = CliRunner()
Sheets = dict[str, list[list[Any]]]


def _zero_demand(sheets: Sheets) -> None:
    for row in sheets["Demand"][1:]:
        row[2] = 0


def _no_demand_rows(sheets: Sheets) -> None:
    sheets["Demand"] = sheets["Demand"][:1]


def _shortage_cheaper(sheets: Sheets) -> None:
    for row in sheets["Elements"][1:]:
        row[3] = 1  # shortage_cost 1 per unit: below every offer's unit cost


NOTHING_BOUGHT: dict[str, Callable[[Sheets], None]] = {
    "zero demand": _zero_demand,
    "an empty Demand sheet": _no_demand_rows,
    "a shortage cheaper than every offer": _shortage_cheaper,
}


def _case(kind: str, folder: Path) -> Path:
    sheets = copy.deepcopy(HAND)
    NOTHING_BOUGHT[kind](sheets)
    return write_workbook(folder / f"{kind.replace(' ', '-')}.xlsx", sheets)


def _charts_say_why(path: Path) -> None:
    workbook = openpyxl.load_workbook(path)
    charts = workbook["Charts"]
    assert charts["A3"].value == NO_SUPPLY
    assert workbook["Purchases"].max_row == 1  # the header alone: nothing bought


@pytest.mark.parametrize("kind", sorted(NOTHING_BOUGHT))
def test_a_plan_that_buys_nothing_is_written_by_the_cli(kind: str, tmp_path: Path) -> None:
    out = tmp_path / "plan.xlsx"
    cli = runner.invoke(app, ["solve", str(_case(kind, tmp_path)), "-o", str(out)])
    assert cli.exit_code == 0, cli.output
    assert cli.stdout.startswith("optimal: spend ")
    _charts_say_why(out)


def test_a_plan_that_buys_nothing_is_written_by_the_api(tmp_path: Path) -> None:
    result = planner.solve(planner.load(_case("zero demand", tmp_path)))
    assert (result.status, result.objective) == ("optimal", 0.0)
    assert result.tables["Purchases"].empty
    _charts_say_why(result.write(tmp_path / "plan.xlsx"))


def test_a_batch_writes_plans_that_buy_nothing(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for kind in NOTHING_BOUGHT:
        _case(kind, inputs)
    out = tmp_path / "out"
    cli = runner.invoke(app, ["batch", str(inputs), "-o", str(out), "--workers", "1"])
    assert cli.exit_code == 0, cli.output
    assert cli.stdout.startswith("3 of 3 workbooks solved")
    for kind in NOTHING_BOUGHT:
        _charts_say_why(out / f"{kind.replace(' ', '-')}-solution.xlsx")


def test_a_web_job_writes_a_plan_that_buys_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "job-7f3a9c"
    folder.mkdir()
    (folder / UPLOAD).write_bytes(_case("zero demand", tmp_path).read_bytes())
    outcome = worker._attempt(folder, "solve", 60, {"filename": "mine.xlsx"}, None)
    assert outcome["job_status"] == "done", outcome
    assert outcome["solution"] == worker.SOLUTION
    _charts_say_why(folder / worker.SOLUTION)


def test_a_failed_web_job_never_shows_the_servers_folder_or_the_job_id(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "data" / "job-7f3a9c2b41d8"
    folder.mkdir(parents=True)
    (folder / UPLOAD).write_bytes(_case("zero demand", tmp_path).read_bytes())

    def refused(self: planner.Result, path: Path) -> Path:
        raise OutputError(f"{path}: cannot write the workbook (disk full at {folder}/.x.tmp)")

    monkeypatch.setattr(planner.Result, "write", refused)
    outcome = worker._attempt(folder, "solve", 60, {"filename": "mine.xlsx"}, None)
    assert outcome["job_status"] == "failed"
    assert outcome["error"] == (
        "the solution workbook: cannot write the workbook (disk full at .x.tmp)"
    )
    assert str(tmp_path) not in outcome["error"] and "7f3a9c2b41d8" not in outcome["error"]


def test_a_job_message_from_the_runner_names_no_folder_or_id(tmp_path: Path) -> None:
    from planner.web.jobs import FAILED, Job, JobRunner

    runner = JobRunner(tmp_path / "jobs", workers=1)
    job_id, folder = runner.new_folder()
    job = Job(job_id, "solve", "mine.xlsx", folder, 60)
    runner._finish(job, FAILED, f"the job's result could not be read ({folder}/result.json)")
    assert job.error == "the job's result could not be read (the job's folder/result.json)"
    assert job_id not in job.error and str(tmp_path) not in job.error
