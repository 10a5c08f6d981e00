"""A plan that buys nothing, through a running ``planner serve`` (issue 26, 2)."""

from __future__ import annotations

import copy
import io
from pathlib import Path

import httpx
import openpyxl

from planner.io.writer import NO_SUPPLY
from tests.conftest import HAND, write_workbook
from tests.web.conftest import Server
from tests.web.test_api import upload, wait_for


def test_a_job_that_buys_nothing_delivers_its_plan(server: Server, tmp_path: Path) -> None:
    sheets = copy.deepcopy(HAND)
    for row in sheets["Demand"][1:]:
        row[2] = 0
    response = upload(server, write_workbook(tmp_path / "no-demand.xlsx", sheets))
    assert response.status_code == 202
    job = wait_for(server, response.json()["id"])
    assert job["status"] == "done", job
    assert job["result"]["status"] == "optimal"
    assert job["error"] == ""
    solution = httpx.get(f"{server.url}/api/jobs/{job['id']}/solution.xlsx", timeout=30)
    assert solution.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(solution.content))
    assert workbook["Charts"]["A3"].value == NO_SUPPLY
    page = httpx.get(f"{server.url}{job['page']}", timeout=30).text
    assert "optimal" in page and str(server.data) not in page
