"""The JSON API of planner serve, against a live server: jobs, downloads, safety."""

from __future__ import annotations

import base64
import io
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

import planner
from planner.results import china_against_caps
from tests.conftest import REFERENCE
from tests.web.conftest import Server, start_server, stop_server

HAND = REFERENCE / "case-00-hand.xlsx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload(server: Server, path: Path, name: str | None = None, **form: str) -> httpx.Response:
    with path.open("rb") as stream:
        return httpx.post(
            f"{server.url}/api/jobs",
            files={"file": (name or path.name, stream, XLSX)},
            data=form,
            timeout=30,
        )


def wait_for(server: Server, job_id: str, seconds: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job: dict[str, Any] = httpx.get(f"{server.url}/api/jobs/{job_id}", timeout=10).json()
        if job["status"] in ("done", "invalid", "failed"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish in {seconds} s")


def test_a_workbook_becomes_a_plan_equal_to_the_cli(
    server: Server, japan_small_workbook: Path, japan_small_result: planner.Result
) -> None:
    """The Japan case with three of its events: the job flow, not the case, is tested here."""
    response = upload(server, japan_small_workbook, name="japan-2026.xlsx")
    assert response.status_code == 202
    job = response.json()
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", job["id"])  # 192 random bits
    assert job["status"] in ("queued", "running") and job["page"] == f"/jobs/{job['id']}"
    done = wait_for(server, job["id"])
    assert done["status"] == "done", done
    expected = japan_small_result  # the same workbook solved in Python
    summary = done["result"]["summary"]
    assert summary["objective"] == pytest.approx(expected.objective, rel=1e-9)
    assert summary["china_share"] == pytest.approx(expected.summary["china_share"], rel=1e-9)
    assert summary["input_sha256"] == expected.summary["input_sha256"]
    download = httpx.get(server.url + done["solution"], timeout=30)
    assert download.status_code == 200
    assert 'filename="japan-2026-solution.xlsx"' in download.headers["content-disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(download.content))
    assert workbook.sheetnames[0] == "Summary"
    elements = {e["element"]: e for e in done["result"]["elements"]}
    assert {"Nd", "Dy", "Tb", "TOTAL"} <= set(elements)
    # no breach, though the headline China share (72.3 %) and the any basis are above the
    # 70 % cap, which is on the shipment basis
    assert not any(e["over_cap"] for e in elements.values())
    element, period, _ = expected.summary["china_tightest_where"].split(", ")
    assert elements[element]["tightest_period"] == period  # the Summary's tightest cap
    capped = china_against_caps(expected.tables["Shares"])  # every basis with a China cap
    total = capped[capped["element"] == "TOTAL"]
    basis = total["basis"].iloc[0]  # the Japan case caps TOTAL on one basis
    page_caps = {
        r["period"]: r["china_cap"]
        for r in done["result"]["china"]
        if r["element"] == "TOTAL" and r.get("basis", basis) == basis
    }
    assert page_caps == total.set_index("period")["china_cap"].to_dict()  # per period
    orders = expected.tables["Orders"]
    assert [o["action"] for o in done["result"]["orders"]] == orders["action"].tolist()


def test_the_console_logs_each_job_and_request(server: Server) -> None:
    job = wait_for(server, upload(server, HAND, name="mine.xlsx").json()["id"])
    lines = server.console().splitlines()
    mine = [line for line in lines if f"job {job['id'][:8]} solve 'mine.xlsx'" in line]
    assert [re.sub(r".*'mine\.xlsx' (\w+).*", r"\1", line) for line in mine] == [
        "queued",
        "running",
        "done",
    ]
    assert re.search(r"done \(optimal\) in \d+\.\d s$", mine[2])
    assert any('"POST /api/jobs" 202' in line for line in lines)
    assert any(f'"GET /api/jobs/{job["id"][:8]}..." 200' in line for line in lines)
    assert job["id"] not in server.console()  # the key to the job is never logged whole


def test_a_broken_workbook_lists_its_cells(
    server: Server, hand_sheets: dict[str, list[list[Any]]], make_workbook: Callable[..., Path]
) -> None:
    hand_sheets["Offers"][1][7] = -5
    hand_sheets["Demand"].append(["Xx", "2026Q1", 1])
    job = wait_for(server, upload(server, make_workbook(hand_sheets)).json()["id"])
    assert job["status"] == "invalid"
    issues = {(i["where"], i["message"]) for i in job["result"]["issues"]}
    assert any(where == "Offers!H2" for where, _ in issues), issues
    assert any(where.startswith("Demand!A") and "Xx" in message for where, message in issues)
    assert job["solution"] is None
    assert httpx.get(f"{server.url}/api/jobs/{job['id']}/solution.xlsx").status_code == 404


def test_not_a_workbook(server: Server, tmp_path: Path) -> None:
    fake = tmp_path / "plan.xlsx"
    fake.write_bytes(b"%PDF-1.4 not a workbook")
    job = wait_for(server, upload(server, fake).json()["id"])
    assert job["status"] == "invalid"
    assert "not an .xlsx workbook" in job["result"]["issues"][0]["message"]
    assert job["result"]["issues"][0]["where"] == "plan.xlsx"  # never the stored name
    pdf = wait_for(server, upload(server, fake, name="plan.pdf").json()["id"])
    assert pdf["result"]["issues"][0]["where"] == "plan.pdf"  # judged by content, not name
    assert upload(server, fake, kind="optimise").status_code == 422


def test_an_upload_over_the_limit_is_refused_while_streaming(server: Server) -> None:
    def body() -> Any:
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.xlsx"\r\n\r\n'
        for _ in range(25):  # 25 MB, no Content-Length: the limit (20 MB) is counted
            yield b"\0" * (1024 * 1024)

    response = httpx.post(
        f"{server.url}/api/jobs",
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=x"},
        timeout=60,
    )
    assert response.status_code == 413
    assert "limit is 20 MB" in response.text
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:  # declares 50 MB
        raw.sendall(
            b"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 52428800\r\n\r\nx"
        )
        assert raw.recv(100).startswith(b"HTTP/1.1 413")


def test_unknown_jobs_and_cross_site_posts(server: Server) -> None:
    assert httpx.get(f"{server.url}/api/jobs/nope").status_code == 404
    assert httpx.get(f"{server.url}/jobs/nope").status_code == 404
    with HAND.open("rb") as stream:
        cross = httpx.post(
            f"{server.url}/api/jobs",
            files={"file": ("a.xlsx", stream, XLSX)},
            headers={"origin": "http://evil.example"},
        )
    assert cross.status_code == 403
    with HAND.open("rb") as stream:
        no_token = httpx.post(f"{server.url}/jobs", files={"file": ("a.xlsx", stream, XLSX)})
    assert no_token.status_code == 403 and "reload the page" in no_token.text


def test_the_form_needs_its_csrf_token(server: Server) -> None:
    with httpx.Client(base_url=server.url) as client:
        page = client.get("/")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None and client.cookies.get("planner_csrf") == token.group(1)
        assert "default-src 'self'" in page.headers["content-security-policy"]
        with HAND.open("rb") as stream:
            posted = client.post(
                "/jobs",
                files={"file": ("a.xlsx", stream, XLSX)},
                data={"csrf": token.group(1)},
            )
        assert posted.status_code == 303 and posted.headers["location"].startswith("/jobs/")
        with HAND.open("rb") as stream:
            forged = client.post(
                "/jobs", files={"file": ("a.xlsx", stream, XLSX)}, data={"csrf": "guess"}
            )
        assert forged.status_code == 403


def test_user_strings_are_escaped(
    server: Server, hand_sheets: dict[str, list[list[Any]]], make_workbook: Callable[..., Path]
) -> None:
    hand_sheets["Offers"][1][2] = "<script>alert(1)</script>"  # an element that does not exist
    path = make_workbook(hand_sheets)
    job = wait_for(server, upload(server, path, name="<b>bold</b>.xlsx").json()["id"])
    assert job["status"] == "invalid"
    page = httpx.get(f"{server.url}/jobs/{job['id']}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page and "<b>bold</b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;.xlsx" in page


def test_a_sweep_job(server: Server) -> None:
    response = upload(
        server, HAND, kind="sweep", change="china_share_max[Nd]", values="1.0:0.3:-0.35"
    )
    job = wait_for(server, response.json()["id"])
    assert job["status"] == "done", job
    rows = job["result"]["rows"]
    assert [r["china_share_max[Nd]"] for r in rows] == [1.0, 0.65, 0.3]
    assert rows[0]["objective"] <= rows[-1]["objective"]
    assert httpx.get(f"{server.url}/jobs/{job['id']}/trade-off.png").content[:4] == b"\x89PNG"
    bad = wait_for(
        server, upload(server, HAND, kind="sweep", change="nope", values="1").json()["id"]
    )
    assert (
        bad["status"] == "invalid" and "not a change name" in bad["result"]["issues"][0]["message"]
    )


def test_the_openapi_document_lists_the_api(server: Server) -> None:
    document = httpx.get(f"{server.url}/openapi.json").json()
    assert {"/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/solution.xlsx"} <= set(
        document["paths"]
    )
    assert "/jobs/{job_id}" not in document["paths"]  # pages are not API


def test_access_control(tmp_path: Path) -> None:
    secured = start_server(
        tmp_path, "--token", "s3cret-token", env={"PLANNER_BASIC_AUTH": "ann:pa55word"}
    )
    try:
        url = secured.url
        assert httpx.get(f"{url}/").status_code == 401
        assert httpx.get(f"{url}/").headers["www-authenticate"] == 'Basic realm="planner"'
        assert httpx.get(f"{url}/healthz").status_code == 200
        bearer = {"authorization": "Bearer s3cret-token"}
        assert httpx.get(f"{url}/", headers=bearer).status_code == 200
        wrong = {"authorization": "Bearer s3cret-tokem"}
        assert httpx.get(f"{url}/api/jobs/x", headers=wrong).status_code == 401
        assert httpx.get(f"{url}/", auth=("ann", "pa55word")).status_code == 200
        assert httpx.get(f"{url}/", auth=("ann", "guess")).status_code == 401
        garbage = {"authorization": "Basic " + base64.b64encode(b"\xff\xfe").decode()}
        assert httpx.get(f"{url}/", headers=garbage).status_code == 401
    finally:
        stop_server(secured)


def test_a_running_job_says_what_it_is_doing(server: Server, japan_small_workbook: Path) -> None:
    job_id = upload(server, japan_small_workbook).json()["id"]
    stages = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = httpx.get(f"{server.url}/api/jobs/{job_id}", timeout=10).json()
        if job["status"] == "done":
            break
        if job["progress"]:
            stages.add(job["progress"]["stage"])
            page = httpx.get(f"{server.url}/jobs/{job_id}", timeout=10).text
            assert 'http-equiv="refresh"' in page or "done" in page
        time.sleep(0.05)
    assert job["status"] == "done" and job["progress"] is None  # only while running
    assert stages & {"reading the workbook", "building the model and solving"}


def test_rules_that_cannot_all_hold_are_shown_by_cell(
    server: Server, hand_sheets: dict[str, list[list[Any]]], make_workbook: Callable[..., Path]
) -> None:
    hand_sheets["Offers"][0].append("min_take")
    hand_sheets["Offers"][1].append(80)
    hand_sheets["Policies"].append(["min_offers", "Nd", None, 2])
    job = wait_for(server, upload(server, make_workbook(hand_sheets)).json()["id"])
    assert job["status"] == "done" and job["result"]["status"] == "infeasible"
    assert job["solution"] is None
    page = httpx.get(f"{server.url}/jobs/{job['id']}").text
    assert "Rules that conflict" in page and "Offers!J2" in page
    assert "no plan satisfies every rule" in page
