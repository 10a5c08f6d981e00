"""The web page against hostile requests and inputs: memory, dead workers, Host, headers, ids."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import shutil
import subprocess
import sys
import time
import xml.dom.minidom
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from planner.web.app import SECURITY_HEADERS, ServerConfig, create_app, served_hosts
from planner.web.jobs import DONE, FAILED, RESULT, RUNNING, UPLOAD, Job, JobRunner, too_large
from tests.conftest import REFERENCE
from tests.web.conftest import Server, start_server, stop_server
from tests.web.test_api import XLSX, upload, wait_for

HAND = REFERENCE / "case-00-hand.xlsx"
TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def big_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A case that needs about a gigabyte more than the planner itself to solve."""
    from benchmarks.generate import Size, generate, write

    return write(generate(Size(17, 20, 20, 20), seed=0), tmp_path_factory.mktemp("big") / "b.xlsx")


def submit(runner: JobRunner, source: Path, time_limit: float = 60) -> Job:
    job_id, folder = runner.new_folder()
    shutil.copy(source, folder / UPLOAD)
    return runner.submit(Job(job_id, "solve", source.name, folder, time_limit))


def wait(job: Job, seconds: float = 300) -> Job:
    deadline = time.monotonic() + seconds  # a hang guard only
    while job.status not in (DONE, FAILED, "invalid"):
        assert time.monotonic() < deadline, f"job still {job.status}"
        time.sleep(0.1)
    return job


# ------------------------------------------------------------------ memory and dead workers


def test_a_job_over_its_memory_limit_fails_saying_so(tmp_path: Path) -> None:
    # 1 MB is less than the planner itself: the job cannot even write its result, so it
    # exits with OUT_OF_MEMORY and the runner says why
    runner = JobRunner(tmp_path / "jobs", workers=1, max_memory_mb=1)
    runner.start()
    try:
        job = wait(submit(runner, HAND))
    finally:
        runner.stop()
    assert job.status == FAILED
    assert job.error == "the workbook needs more memory than this server allows per job (1 MB)"


def test_a_workbook_too_large_for_the_server_is_refused_on_the_page_and_in_the_api(
    tmp_path: Path, big_case: Path
) -> None:
    # 512 MB holds the planner (about 0.5 GB of address space) but not this case (1.4 GB)
    server = start_server(tmp_path, "--max-memory-mb", "512")
    try:
        job = wait_for(server, upload(server, big_case).json()["id"], seconds=300)
        page = httpx.get(f"{server.url}/jobs/{job['id']}", timeout=30).text
        assert httpx.get(f"{server.url}/healthz", timeout=10).json()["ok"]  # the server goes on
    finally:
        stop_server(server)
    # the model's size is estimated before it is built (issue 26.7): refused with its figures
    # and the server's limit, before any memory is spent, rather than killed by the watchdog
    assert job["status"] == "invalid", job
    assert job["solution"] is None
    assert "the model is too large to solve here" in str(job), job
    assert "the model is too large to solve here" in page


def test_the_memory_limit_cannot_be_set_below_what_the_planner_needs() -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "planner", "serve", "--max-memory-mb", "100"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 2 and "--max-memory-mb" in ran.stderr


def test_a_worker_killed_by_a_signal_fails_its_job_with_a_reason(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path / "jobs", max_memory_mb=2048)  # driven by hand: no thread
    job = submit(runner, HAND)
    process = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
    process.start()
    job.process, job.status, job.started = process, RUNNING, time.time()
    process.terminate()
    process.join(timeout=30)
    runner._tick()
    assert job.status == FAILED
    assert job.error == (
        "the solver process died (killed by SIGTERM); perhaps the workbook needs more memory "
        "than this server allows per job (2048 MB)"
    )


def test_an_unreadable_result_fails_the_job_instead_of_hanging_it(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path / "jobs")  # driven by hand: no thread
    job = submit(runner, HAND)
    process = multiprocessing.get_context("fork").Process(target=time.sleep, args=(0,))
    process.start()
    process.join(timeout=30)
    (job.folder / RESULT).write_text("{not json")
    job.process, job.status, job.started = process, RUNNING, time.time()
    runner._tick()
    assert job.status == FAILED and "result could not be read" in job.error


def test_a_job_whose_process_cannot_start_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = JobRunner(tmp_path / "jobs")

    class NoProcess:
        def __init__(self, **_: Any) -> None:
            pass

        def start(self) -> None:
            raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(runner._context, "Process", NoProcess)
    job = submit(runner, HAND)
    runner._tick()
    assert job.status == FAILED and job.error.startswith("could not start a solver process")
    runner._tick()  # and the loop goes on
    assert job.status == FAILED


def test_the_watchdogs_grace_scales_with_the_time_limit(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path / "jobs")
    assert runner.grace(0) == 10
    assert runner.grace(300) == pytest.approx(25)  # was a flat 30 s


# ------------------------------------------------------------------ Host and headers


def test_a_foreign_host_gets_400_and_creates_no_job(server: Server) -> None:
    port = server.url.rsplit(":", 1)[1]
    before = httpx.get(f"{server.url}/healthz").json()["jobs"]
    folders = set((server.data / "jobs").iterdir())
    with HAND.open("rb") as stream:  # a DNS-rebinding page posts to "its own" host
        response = httpx.post(
            f"{server.url}/api/jobs",
            files={"file": ("a.xlsx", stream, XLSX)},
            headers={"host": f"evil.example:{port}"},
        )
    assert response.status_code == 400
    assert response.headers["x-frame-options"] == "DENY"
    assert httpx.get(f"{server.url}/", headers={"host": "evil.example"}).status_code == 400
    assert httpx.get(f"{server.url}/healthz").json()["jobs"] == before
    assert set((server.data / "jobs").iterdir()) == folders
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert httpx.get(f"{server.url}/", headers={"host": host}).status_code == 200


def test_the_served_host_names() -> None:
    assert served_hosts("127.0.0.1") == ("127.0.0.1", "localhost", "[::1]")
    assert served_hosts("192.0.2.7", ["Plan.Example.org"]) == (
        "127.0.0.1",
        "localhost",
        "[::1]",
        "192.0.2.7",
        "plan.example.org",
    )
    assert "[fd00::7]" in served_hosts("fd00::7")
    ran = subprocess.run(
        [sys.executable, "-m", "planner", "serve", "--allowed-host", "a*b"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode != 0 and "--allowed-host 'a*b'" in ran.stderr


def fetch(app: Any, *requests: dict[str, Any]) -> list[httpx.Response]:
    """Send ``requests`` to ``app`` in this process, no server (the job runner is not started)."""

    async def send() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return [await client.request(**request) for request in requests]

    with ThreadPoolExecutor(1) as thread:  # its own event loop: Playwright may hold this one
        return thread.submit(asyncio.run, send()).result()


@pytest.fixture
def secured(tmp_path: Path) -> Any:
    """The app, with a token, a 1 MB upload limit and no room to queue."""
    runner = JobRunner(tmp_path / "jobs", queue_limit=0)  # never started
    config = ServerConfig(data_dir=tmp_path, runner=runner, token=TOKEN, max_upload_bytes=1 << 20)
    return create_app(config)


@pytest.mark.parametrize(
    ("status", "request_"),
    [
        (200, {"method": "GET", "url": "/", "token": True}),
        (400, {"method": "GET", "url": "/", "token": True, "host": "evil.example"}),
        (401, {"method": "GET", "url": "/"}),
        (403, {"method": "POST", "url": "/api/jobs", "token": True, "origin": "http://x.org"}),
        (404, {"method": "GET", "url": "/api/jobs/nope", "token": True}),
        (413, {"method": "POST", "url": "/api/jobs", "token": True, "length": 2 << 20}),
        (422, {"method": "POST", "url": "/api/jobs", "token": True}),
        (503, {"method": "POST", "url": "/api/jobs", "token": True, "file": True}),
    ],
)
def test_every_reply_carries_the_security_headers(
    secured: Any, status: int, request_: dict[str, Any]
) -> None:
    headers = {}
    if request_.get("token"):
        headers["authorization"] = f"Bearer {TOKEN}"
    if "host" in request_:
        headers["host"] = request_["host"]
    if "origin" in request_:
        headers["origin"] = request_["origin"]
    if "length" in request_:
        headers["content-length"] = str(request_["length"])
        headers["content-type"] = "text/plain"
    files = {"file": ("a.xlsx", HAND.read_bytes(), XLSX)} if request_.get("file") else None
    content = b"x" if "length" in request_ else None
    (response,) = fetch(
        secured,
        {
            "method": request_["method"],
            "url": request_["url"],
            "headers": headers,
            "files": files,
            "content": content,
        },
    )
    assert response.status_code == status, response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, status)


# ------------------------------------------------------------------ the template


def test_the_template_is_built_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import planner.io.template
    from planner.web import app as web

    built = planner.io.template.write_template
    loops: list[bool] = []

    def recording(path: Path) -> Path:
        try:
            asyncio.get_running_loop()
            loops.append(True)  # on the event loop: every other request waits
        except RuntimeError:
            loops.append(False)
        return built(path)

    monkeypatch.setattr(planner.io.template, "write_template", recording)
    web._template_bytes.cache_clear()
    try:
        config = ServerConfig(data_dir=tmp_path, runner=JobRunner(tmp_path / "jobs"))
        first, second = fetch(
            create_app(config),
            {"method": "GET", "url": "/template.xlsx"},
            {"method": "GET", "url": "/template.xlsx"},
        )
    finally:
        web._template_bytes.cache_clear()
    assert first.status_code == 200 and first.content[:2] == b"PK"
    assert second.content == first.content
    assert loops == [False]  # in a thread, and once


# ------------------------------------------------------------------ hostile ids


HOSTILE = {
    "Nd": "$\\frac{1}{0}$<script>alert(1)</script>",
    "Dy": "$" + "{" * 300 + "$-->",
}


def _hostile_sheets(sheets: dict[str, list[list[Any]]]) -> dict[str, list[list[Any]]]:
    renamed = {
        name: [[HOSTILE.get(v, v) if isinstance(v, str) else v for v in row] for row in rows]
        for name, rows in sheets.items()
    }
    renamed["Periods"] = [["period", "days"], ["$Q1$", 90], ["$Q2^{$", 91]]
    for name in ("Demand",):
        renamed[name] = [
            [row[0], {"2026Q1": "$Q1$", "2026Q2": "$Q2^{$"}.get(row[1], row[1]), *row[2:]]
            for row in renamed[name]
        ]
    renamed["Settings"] = [["key", "value"], ["currency", "$\\sqrt{}$"], ["unit", "$t^$"]]
    return renamed


def test_hostile_ids_get_a_plan_and_inert_charts(
    server: Server, hand_sheets: dict[str, list[list[Any]]], make_workbook: Callable[..., Path]
) -> None:
    path = make_workbook(_hostile_sheets(hand_sheets))
    job = wait_for(server, upload(server, path).json()["id"])
    assert job["status"] == "done" and job["result"]["has_plan"], job
    assert job["result"]["charts"] == ["shares", "costs", "stock"]
    assert {e["element"] for e in job["result"]["elements"]} >= set(HOSTILE.values())
    for name in job["result"]["charts"]:
        svg = httpx.get(f"{server.url}/jobs/{job['id']}/charts/{name}.svg", timeout=30)
        assert svg.status_code == 200
        document = xml.dom.minidom.parseString(svg.content)  # well-formed: nothing broke out
        elements = document.getElementsByTagName("*")
        assert not [e for e in elements if e.tagName in ("script", "foreignObject")]
        assert not [a for e in elements for a, _ in e.attributes.items() if a.startswith("on")]
    page = httpx.get(f"{server.url}/jobs/{job['id']}", timeout=30).text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_chart_that_cannot_be_drawn_costs_only_the_chart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sigint: None
) -> None:
    from planner.web import worker

    def broken(*_: Any) -> str:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(worker, "share_chart", broken)
    shutil.copy(HAND, tmp_path / UPLOAD)
    worker.run_job(str(tmp_path), "solve", 60, {})
    result = json.loads((tmp_path / RESULT).read_text())
    assert result["job_status"] == DONE and result["status"] == "optimal"
    assert (tmp_path / "solution.xlsx").exists()
    assert result["charts"] == ["costs", "stock"] and not (tmp_path / "shares.svg").exists()
    assert {
        "where": "shares.svg",
        "message": "could not be drawn (RecursionError: maximum recursion depth exceeded)",
    } in result["warnings"]


def test_too_large_names_the_limit() -> None:
    assert too_large(None) == "the workbook needs more memory than this server allows per job"
