"""20 concurrent uploads on loopback: each finishes or is refused cleanly; the server answers.

The uploads are the Japan case with three of its events (tests/conftest.py): seconds to read
and solve, so the burst outruns the solvers, at a third of the whole case's time.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import planner
from tests.web.conftest import start_server, stop_server
from tests.web.test_api import XLSX, wait_for

UPLOADS = 20


def test_twenty_concurrent_uploads(
    tmp_path: Path, japan_small_workbook: Path, japan_small_result: planner.Result
) -> None:
    server = start_server(tmp_path, "--workers", "2", "--queue-limit", "4")
    answers: list[int | str] = []
    stop = threading.Event()

    def probe() -> None:  # the page answers while the jobs run (solves never block the loop)
        while not stop.is_set():
            try:
                answers.append(httpx.get(f"{server.url}/", timeout=5).status_code)
            except httpx.HTTPError as error:
                answers.append(repr(error))
            time.sleep(0.1)

    def send(i: int) -> httpx.Response:
        with japan_small_workbook.open("rb") as stream:
            return httpx.post(
                f"{server.url}/api/jobs",
                files={"file": (f"unit-{i}.xlsx", stream, XLSX)},
                timeout=60,
            )

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        barrier_free = ThreadPoolExecutor(max_workers=UPLOADS)
        responses = list(barrier_free.map(send, range(UPLOADS)))
        accepted = [r.json()["id"] for r in responses if r.status_code == 202]
        refused = [r for r in responses if r.status_code == 503]
        assert len(accepted) + len(refused) == UPLOADS  # nothing else: no errors, no hangs
        assert 4 <= len(accepted) < UPLOADS  # 4 waiting (2 of them soon solving); the rest refused
        assert all(r.headers["retry-after"] == "30" and "busy" in r.text for r in refused)
        finished = [wait_for(server, job_id) for job_id in accepted]
        assert {job["status"] for job in finished} == {"done"}
        objectives = [job["result"]["summary"]["objective"] for job in finished]
        assert objectives == pytest.approx([japan_small_result.objective] * len(finished))
    finally:
        stop.set()
        prober.join()
        stop_server(server)
    assert len(answers) > 5 and set(answers) == {200}, answers
