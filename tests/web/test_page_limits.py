"""The page under load it cannot show whole: huge error lists, sweeps that cannot finish in time.

An upload with 55,000 errors rendered a 7.8 MB page on the event loop; a
2,001-value sweep killed by the watchdog lost all 1,156 finished variants.
Nothing here measures time: the page's rows are counted, the handlers are
checked to run off the event loop, and the sweep's clock is the test's own.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

import planner
import planner.api
from planner.errors import InputError, Issue
from planner.web import worker
from planner.web.app import ServerConfig, create_app
from planner.web.jobs import RESULT, RUNNING, UPLOAD, Job, JobRunner
from planner.web.protocol import DONE, INVALID
from tests.conftest import REFERENCE

HAND = REFERENCE / "case-00-hand.xlsx"
PROBLEMS = 55_000


def _fetch(app: Any, *urls: str) -> list[httpx.Response]:
    async def get() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return [await client.get(url) for url in urls]

    with ThreadPoolExecutor(1) as thread:  # its own event loop: Playwright may hold this one
        return thread.submit(asyncio.run, get()).result()


def _job(runner: JobRunner, kind: str = "solve") -> Job:
    job_id, folder = runner.new_folder()
    return runner.submit(Job(job_id, kind, "q3.xlsx", folder, 60))


@pytest.fixture
def flooded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sigint: None) -> tuple[Job, Any]:
    """A job whose workbook has 55,000 problems, run by the job's own code, and its app."""
    issues = [
        Issue(f"Demand!C{row}", f"demand must be a number, got 'x{row}'")
        for row in range(2, PROBLEMS + 2)
    ]

    def load(path: Path) -> planner.Case:
        raise InputError(issues, str(path))

    monkeypatch.setattr(worker.planner, "load", load)
    runner = JobRunner(tmp_path / "jobs")  # never started: the job runs here, in this process
    job = _job(runner)
    shutil.copy(HAND, job.folder / UPLOAD)
    worker.run_job(str(job.folder), "solve", 60, {"filename": "q3.xlsx"})
    assert runner._read_result(job) and job.status == INVALID
    return job, create_app(ServerConfig(data_dir=tmp_path, runner=runner))


def test_a_huge_list_of_problems_is_capped_on_the_page_and_downloadable_whole(
    flooded: tuple[Job, Any],
) -> None:
    job, app = flooded
    stored = json.loads((job.folder / RESULT).read_text())
    assert len(stored["issues"]) == worker.MAX_LISTED and stored["issues_total"] == PROBLEMS
    page, api, whole = _fetch(
        app, f"/jobs/{job.id}", f"/api/jobs/{job.id}", f"/jobs/{job.id}/issues.txt"
    )
    assert page.status_code == 200
    assert page.text.count('<tr class="error">') == worker.MAX_LISTED
    assert "… and 54,900 more" in page.text and f"/jobs/{job.id}/issues.txt" in page.text
    assert len(page.content) < 100_000  # it was 7.8 MB
    assert len(api.json()["result"]["issues"]) == worker.MAX_LISTED
    assert api.json()["result"]["issues_total"] == PROBLEMS
    assert api.json()["lists"] == {"issues": f"/jobs/{job.id}/issues.txt"}
    lines = whole.text.splitlines()
    assert len(lines) == PROBLEMS and lines[0] == "Demand!C2: demand must be a number, got 'x2'"
    assert whole.headers["content-type"].startswith("text/plain")
    assert 'filename="q3-issues.txt"' in whole.headers["content-disposition"]


def test_only_the_job_s_own_lists_are_served(flooded: tuple[Job, Any]) -> None:
    job, app = flooded
    (job.folder / "secret.txt").write_text("not a list")
    (missing,) = _fetch(app, f"/jobs/{job.id}/secret.txt")
    assert missing.status_code == 404
    (none,) = _fetch(app, f"/jobs/{job.id}/warnings.txt")  # no warnings: no list
    assert none.status_code == 404


def test_a_short_list_has_no_download(tmp_path: Path, sigint: None) -> None:
    (tmp_path / UPLOAD).write_bytes(b"not a workbook")
    worker.run_job(str(tmp_path), "solve", 60, {"filename": "q3.xlsx"})
    result = json.loads((tmp_path / RESULT).read_text())
    assert result["issues_total"] == len(result["issues"]) == 1
    assert "issues_file" not in result and not (tmp_path / "issues.txt").exists()


def test_the_job_page_and_its_api_run_off_the_event_loop(
    flooded: tuple[Job, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """By design: both are plain functions, which FastAPI runs in a worker thread."""
    job, app = flooded
    inner = app
    while not hasattr(inner, "routes"):  # through the middleware to the FastAPI app
        inner = inner.app
    routes = {route.path: route for route in inner.routes if hasattr(route, "endpoint")}
    for path in ("/jobs/{job_id}", "/api/jobs/{job_id}"):
        assert not inspect.iscoroutinefunction(routes[path].endpoint), path
    loops: list[bool] = []
    shown = Job.result

    def recording(self: Job) -> dict[str, Any] | None:
        try:
            asyncio.get_running_loop()
            loops.append(True)  # on the event loop: every other request waits
        except RuntimeError:
            loops.append(False)
        return shown(self)

    monkeypatch.setattr(Job, "result", recording)
    page, api = _fetch(app, f"/jobs/{job.id}", f"/api/jobs/{job.id}")
    assert page.status_code == api.status_code == 200
    assert loops and not any(loops)


# ------------------------------------------------------------------ sweeps that cannot finish


@pytest.fixture
def ten_seconds_a_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep's clock: every variant takes ten seconds, whatever the machine."""
    now = [0.0]
    solve = planner.api.Resolver.solve

    def timed(self: planner.api.Resolver, *args: Any, **kwargs: Any) -> Any:
        result = solve(self, *args, **kwargs)
        now[0] += 10.0
        return result

    monkeypatch.setattr(planner.api.Resolver, "solve", timed)
    monkeypatch.setattr(worker, "_clock", lambda: now[0])


def test_a_sweep_that_cannot_finish_in_time_says_so_and_delivers_what_finished(
    tmp_path: Path, ten_seconds_a_variant: None, sigint: None
) -> None:
    shutil.copy(HAND, tmp_path / UPLOAD)
    values = "11,12,13,14,15,16,17,18"
    worker.run_job(str(tmp_path), "sweep", 35, {"change": "capacity[Dy-CN]", "values": values})
    result = json.loads((tmp_path / RESULT).read_text())
    assert result["job_status"] == DONE
    # a sweep solves from its loosest variant (the largest capacities), in the user's order
    assert [row["capacity[Dy-CN]"] for row in result["rows"]] == [16, 17, 18]
    assert result["stopped"] == (
        "stopped at the time limit of 35 s: 3 of 8 variants solved, "
        "and delivered here and in the workbook"
    )
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert progress["done"] == 3 and progress["note"] == (
        "at about 10.00 s a variant, the 8 variants need about 80 s, more than this server's "
        "limit of 35 s: the sweep stops after about 3 and delivers those"
    )
    table = openpyxl.load_workbook(tmp_path / "sweep.xlsx").worksheets[0]
    values_written = [row[0] for row in table.iter_rows(min_row=2, values_only=True) if row[0]]
    assert len(values_written) == 3


def test_a_sweep_that_fits_has_no_note(
    tmp_path: Path, ten_seconds_a_variant: None, sigint: None
) -> None:
    shutil.copy(HAND, tmp_path / UPLOAD)
    worker.run_job(str(tmp_path), "sweep", 100, {"change": "capacity[Dy-CN]", "values": "12,13"})
    result = json.loads((tmp_path / RESULT).read_text())
    assert result["stopped"] is None and len(result["rows"]) == 2
    assert "note" not in json.loads((tmp_path / "progress.json").read_text())


def test_the_page_says_up_front_and_after_that_a_sweep_is_cut_short(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path / "jobs")  # never started: states set by hand
    running = _job(runner, "sweep")
    running.status, running.started = RUNNING, time.time()
    note = "at about 10.00 s a variant, the 8 variants need about 80 s, more than ..."
    (running.folder / "progress.json").write_text(
        json.dumps({"stage": "solving the variants", "done": 1, "total": 8, "note": note})
    )
    stopped = _job(runner, "sweep")
    (stopped.folder / RESULT).write_text(
        json.dumps(
            {
                "job_status": DONE,
                "status": "sweep",
                "change": "capacity[Dy-CN]",
                "columns": ["capacity[Dy-CN]", "status"],
                "rows": [{"capacity[Dy-CN]": 11, "status": "optimal"}],
                "solution": "sweep.xlsx",
                "stopped": "stopped at the time limit of 35 s: 1 of 8 variants solved, ...",
                "warnings": [],
            }
        )
    )
    stopped.status, stopped.started = RUNNING, time.time()
    assert runner._read_result(stopped)
    app = create_app(ServerConfig(data_dir=tmp_path, runner=runner))
    first, second = _fetch(app, f"/jobs/{running.id}", f"/jobs/{stopped.id}")
    assert f"This sweep cannot finish within the limit: {note}." in first.text
    found = re.search(r'<p class="state" id="sweep-stopped">(.*?)</p>', second.text)
    assert found and found.group(1).startswith("The sweep stopped at the time limit of 35 s")
