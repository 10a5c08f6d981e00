"""The job runner: bounded workers, the watchdog, crashes, retention, refusal when full."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from planner.web.jobs import DONE, FAILED, PROGRESS, UPLOAD, Busy, Job, JobRunner
from tests.conftest import REFERENCE

HAND = REFERENCE / "case-00-hand.xlsx"


@pytest.fixture(scope="module")
def slow_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from benchmarks.generate import Size, generate, write

    return write(generate(Size(17, 20, 20, 20), seed=0), tmp_path_factory.mktemp("slow") / "s.xlsx")


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[JobRunner]:
    running = JobRunner(tmp_path / "jobs", workers=2, queue_limit=3, grace_seconds=1.0)
    running.start()
    yield running
    running.stop()


def submit(runner: JobRunner, source: Path, time_limit: float = 600) -> Job:
    job_id, folder = runner.new_folder()
    shutil.copy(source, folder / UPLOAD)
    return runner.submit(Job(job_id, "solve", source.name, folder, time_limit))


def wait(job: Job, seconds: float = 300, until: tuple[str, ...] = (DONE, FAILED)) -> Job:
    """Wait for ``job`` to reach a status of ``until``; ``seconds`` is a hang guard only."""
    deadline = time.monotonic() + seconds
    while job.status not in until:
        assert time.monotonic() < deadline, f"job still {job.status}"
        time.sleep(0.1)
    return job


def test_the_watchdog_ends_an_overrun_and_only_it(tmp_path: Path, slow_case: Path) -> None:
    """No time allowed at all: the slow job overruns on any machine, busy or not."""
    runner = JobRunner(tmp_path / "jobs", workers=2, grace_seconds=0.0)
    runner.start()
    try:
        slow = submit(runner, slow_case, time_limit=0.0)  # reading alone takes longer than a tick
        quick = submit(runner, HAND)  # 600 s: a hang guard
        assert wait(slow).status == FAILED
        assert slow.error == "stopped: ran over its time limit by 0 s"
        assert wait(quick).status == DONE
        assert quick.result()["status"] == "optimal"  # type: ignore[index]
        assert not (slow.folder / UPLOAD).exists()  # the upload is not kept
    finally:
        runner.stop()


def test_a_crashed_worker_fails_only_its_job(runner: JobRunner, slow_case: Path) -> None:
    doomed = submit(runner, slow_case)
    deadline = time.monotonic() + 300  # a hang guard
    while not (doomed.folder / PROGRESS).exists():  # written by the job's process: it runs
        assert time.monotonic() < deadline and doomed.status in ("queued", "running")
        time.sleep(0.05)
    os.kill(doomed.process.pid, signal.SIGKILL)
    after = submit(runner, HAND)
    assert wait(doomed).status == FAILED
    assert doomed.error == (
        "the solver process died (killed by SIGKILL); perhaps the workbook needs more memory "
        "than this server allows per job (3072 MB)"
    )
    assert wait(after).status == DONE


def test_a_full_queue_refuses(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path / "jobs", workers=1, queue_limit=2)  # not started: all wait
    submit(runner, HAND)
    submit(runner, HAND)
    with pytest.raises(Busy, match="2 jobs are waiting"):
        submit(runner, HAND)
    folders = [path for path in (tmp_path / "jobs").iterdir() if path.is_dir()]
    assert len(folders) == 2  # the refused job left nothing


def test_finished_jobs_are_deleted_after_keep_seconds(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path / "jobs", keep_seconds=3600)
    runner.start()
    try:
        job = wait(submit(runner, HAND))
        assert (job.folder / "solution.xlsx").exists()  # kept: its hour has not passed
        runner.keep_seconds = 0.5  # now it has
        deadline = time.monotonic() + 300  # a hang guard
        while runner.get(job.id) is not None or job.folder.exists():  # forgotten, then removed
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert job.finished is not None and time.time() - job.finished > 0.5  # not before
    finally:
        runner.stop()


def test_a_sweep_job_counts_its_variants(tmp_path: Path) -> None:
    import json

    from planner.web.worker import run_job

    shutil.copy(HAND, tmp_path / UPLOAD)
    run_job(str(tmp_path), "sweep", 60, {"change": "capacity[Dy-CN]", "values": "12,13,14"})
    assert json.loads((tmp_path / "progress.json").read_text()) == {
        "stage": "solving the variants",
        "done": 3,
        "total": 3,
        "solver": None,
    }
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["job_status"] == DONE and len(result["rows"]) == 3


def test_a_running_page_shows_the_solvers_figures(tmp_path: Path) -> None:
    import asyncio
    import json
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from planner.web.app import ServerConfig, create_app
    from planner.web.jobs import RUNNING

    runner = JobRunner(tmp_path / "jobs")  # never started: the job stays as set here
    job_id, folder = runner.new_folder()
    job = runner.submit(Job(job_id, "solve", "<i>q3</i>.xlsx", folder, 60))
    job.status, job.started = RUNNING, time.time()
    figures = {"seconds": 3.0, "best": 299_137.22, "bound": 299_100.0, "gap": 0.000124}
    (folder / "progress.json").write_text(
        json.dumps({"stage": "solving", "done": None, "total": None, "solver": figures})
    )
    app = create_app(ServerConfig(data_dir=tmp_path, runner=runner))

    async def fetch() -> tuple[str, dict[str, Any]]:  # in process, no server: the app as is
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            page = await client.get(f"/jobs/{job_id}")
            api = await client.get(f"/api/jobs/{job_id}")
            return page.text, api.json()

    with ThreadPoolExecutor(1) as thread:  # its own event loop: Playwright may hold this one
        page, api = thread.submit(asyncio.run, fetch()).result()
    assert "Best plan so far 299,137.22" in page and "within 0.01%" in page
    assert "&lt;i&gt;q3&lt;/i&gt;.xlsx" in page
    assert api["status"] == "running" and api["progress"]["solver"]["best"] == 299_137.22
