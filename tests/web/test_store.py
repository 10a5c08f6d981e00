"""Jobs survive a restart of ``planner serve``: the SQLite store in the data directory.

Before the store every job lived in the server's memory: after a restart each
answered 404, uploads stayed on disk for ever, and an upload in flight during
SIGTERM was answered 202 and then lost.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from planner.web.jobs import (
    DONE,
    FAILED,
    INTERRUPTED,
    QUEUED,
    RESULT,
    RUNNING,
    UPLOAD,
    Closing,
    Job,
    JobRunner,
)
from planner.web.store import DATABASE, JobStore, StoreError
from tests.conftest import REFERENCE
from tests.web.conftest import Server, start_server, stop_server
from tests.web.test_api import XLSX, upload, wait_for

HAND = REFERENCE / "case-00-hand.xlsx"
HANG_GUARD = 300  # seconds: only against a hang, never a speed limit


@pytest.fixture(scope="module")
def slow_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from benchmarks.generate import Size, generate, write

    return write(generate(Size(17, 20, 20, 20), seed=0), tmp_path_factory.mktemp("slow") / "s.xlsx")


def _status(server: Server, job_id: str) -> str:
    return str(httpx.get(f"{server.url}/api/jobs/{job_id}", timeout=30).json()["status"])


def _until(check: object, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _refused(url: str) -> bool:
    """Tell whether the server has stopped listening (it has taken the signal)."""
    host, port = url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            return False
    except OSError:
        return True


class _HeldUpload:
    """A multipart upload whose last bytes are sent only when :meth:`finish` is called."""

    def __init__(self, server: Server, path: Path) -> None:
        boundary = "planner-test-boundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="in-flight.xlsx"\r\nContent-Type: {XLSX}\r\n\r\n'
        ).encode()
        body = head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        self._first, self._rest = body[:1000], body[1000:]
        self._release = threading.Event()
        self.sent = threading.Event()
        self.response: httpx.Response | None = None
        self.error: BaseException | None = None
        headers = {
            "content-type": f"multipart/form-data; boundary={boundary}",
            "content-length": str(len(body)),
        }
        self._thread = threading.Thread(target=self._post, args=(server.url, headers))
        self._thread.start()

    def _body(self) -> Iterator[bytes]:
        yield self._first
        self.sent.set()
        self._release.wait(HANG_GUARD)
        yield self._rest

    def _post(self, url: str, headers: dict[str, str]) -> None:
        try:
            self.response = httpx.post(
                f"{url}/api/jobs", content=self._body(), headers=headers, timeout=HANG_GUARD
            )
        except BaseException as error:
            self.error = error

    def finish(self) -> httpx.Response:
        self._release.set()
        self._thread.join(HANG_GUARD)
        assert self.response is not None, self.error
        return self.response


def test_jobs_in_every_state_survive_a_restart(tmp_path: Path, slow_case: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    first = start_server(data, "--workers", "1")
    try:
        done = upload(first, HAND).json()["id"]
        assert wait_for(first, done)["status"] == DONE
        broken = data / "broken.xlsx"
        broken.write_bytes(b"not a workbook")
        invalid = upload(first, broken).json()["id"]
        assert wait_for(first, invalid)["status"] == "invalid"
        running = upload(first, slow_case, time_limit_s="3600").json()["id"]
        _until(lambda: _status(first, running) == RUNNING, "the slow job never ran")
        queued = upload(first, HAND).json()["id"]  # one solver, busy: it waits
        assert _status(first, queued) == QUEUED
        held = _HeldUpload(first, HAND)  # an upload in flight when the signal comes
        held.sent.wait(HANG_GUARD)
        httpx.get(f"{first.url}/healthz", timeout=30)  # answered: the upload's connection is in
        first.process.terminate()
        _until(lambda: _refused(first.url), "the server never took SIGTERM")
        in_flight = held.finish()
        assert in_flight.status_code == 202, in_flight.text  # uvicorn lets it finish: kept
        first.process.wait(HANG_GUARD)
    finally:
        stop_server(first)

    second = start_server(data, "--workers", "1")
    try:
        job = wait_for(second, done)
        assert job["status"] == DONE and job["result"]["status"] == "optimal"
        download = httpx.get(second.url + job["solution"], timeout=30)
        assert download.status_code == 200 and download.content[:2] == b"PK"
        page = httpx.get(f"{second.url}/jobs/{done}", timeout=30)
        assert page.status_code == 200 and 'id="orders"' in page.text
        job = wait_for(second, invalid)
        assert job["status"] == "invalid" and job["result"]["issues"]
        job = wait_for(second, running)
        assert job["status"] == FAILED and job["error"] == INTERRUPTED
        assert wait_for(second, queued)["status"] == DONE  # queued again, then solved
        kept = wait_for(second, in_flight.json()["id"])  # queued in the store, solved now
        assert kept["status"] == DONE and kept["filename"] == "in-flight.xlsx"
        jobs = [p for p in (data / "jobs").iterdir() if p.is_dir()]
        assert len(jobs) == 5
        assert not any((folder / UPLOAD).exists() for folder in jobs)  # all finished
    finally:
        stop_server(second)

    with sqlite3.connect(data / "jobs" / DATABASE) as db:  # the done job finished long ago
        db.execute("UPDATE jobs SET finished = 1 WHERE id = ?", (done,))
    db.close()
    third = start_server(data, "--keep-hours", "1")
    try:
        assert httpx.get(f"{third.url}/api/jobs/{done}", timeout=30).status_code == 404
        assert not (data / "jobs" / done).exists()  # removed at start
        assert _status(third, invalid) == "invalid"  # not past its time
    finally:
        stop_server(third)


# ------------------------------------------------------------------ the runner in-process


def _submit(runner: JobRunner, source: Path) -> Job:
    job_id, folder = runner.new_folder()
    shutil.copy(source, folder / UPLOAD)
    return runner.submit(Job(job_id, "solve", source.name, folder, 60))


def test_a_stopped_runner_refuses_new_jobs_and_keeps_nothing_of_them(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path / "jobs")
    runner.stop()
    job_id, folder = runner.new_folder()
    (folder / UPLOAD).write_bytes(b"PK")
    with pytest.raises(Closing, match="shutting down"):
        runner.submit(Job(job_id, "solve", "a.xlsx", folder, 60))
    assert not folder.exists()


def test_an_upload_that_cannot_be_stored_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import concurrent.futures
    import errno

    from planner.web import app as web

    def full(source: object, target: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(web.shutil, "copyfileobj", full)
    runner = JobRunner(tmp_path / "jobs")
    app = web.create_app(web.ServerConfig(data_dir=tmp_path, runner=runner))

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            files = {"file": ("a.xlsx", HAND.read_bytes(), XLSX)}
            return await client.post("/api/jobs", files=files)

    # a thread of its own: an earlier test (the browser's) may hold this thread's event loop
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        response = thread.submit(asyncio.run, post()).result()
    assert response.status_code == 503
    assert "could not be stored (No space left on device)" in response.text
    assert [p for p in (tmp_path / "jobs").iterdir() if p.is_dir()] == []
    runner.stop()


def test_a_job_that_finished_before_the_stop_keeps_its_result(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path / "jobs")  # never started: states set by hand
    job = _submit(runner, HAND)
    job.status, job.started = RUNNING, time.time()
    runner._record(job)
    (job.folder / RESULT).write_text(json.dumps({"job_status": DONE, "status": "optimal"}))
    runner.store.close()  # the server died: stop() never ran
    again = JobRunner(tmp_path / "jobs")
    restored = again.get(job.id)
    assert restored is not None and restored.status == DONE
    assert restored.result() == {"job_status": DONE, "status": "optimal"}
    again.stop()


def test_a_queued_job_whose_upload_is_gone_says_so_after_a_restart(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path / "jobs")
    job = _submit(runner, HAND)
    runner.store.close()
    (job.folder / UPLOAD).unlink()
    again = JobRunner(tmp_path / "jobs")
    restored = again.get(job.id)
    assert restored is not None and restored.status == FAILED and restored.error == INTERRUPTED
    again.stop()


def test_folders_no_job_owns_are_removed_at_start_but_not_an_upload_coming_in(
    tmp_path: Path,
) -> None:
    root = tmp_path / "jobs"
    runner = JobRunner(root)
    kept = _submit(runner, HAND)
    coming, coming_folder = runner.new_folder()  # an upload still being copied
    orphan = root / ("x" * 32)  # a folder from a crash: no row
    orphan.mkdir()
    (orphan / UPLOAD).write_bytes(b"PK")
    other = root / "notes"  # not a job's name: never touched
    other.mkdir()
    runner._clean()
    assert not orphan.exists() and other.exists()
    assert kept.folder.exists() and coming_folder.exists()
    runner.stop()
    assert runner.get(kept.id) is not None and coming


def test_the_store_refuses_a_file_that_is_no_job_database(tmp_path: Path) -> None:
    (tmp_path / DATABASE).write_bytes(b"these are not the jobs you are looking for" * 100)
    with pytest.raises(StoreError, match="cannot use the job database"):
        JobStore(tmp_path)


def test_the_store_refuses_a_newer_schema(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / DATABASE) as db:
        db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(StoreError, match="newer planner"):
        JobStore(tmp_path)


def test_the_store_runs_in_wal_mode(tmp_path: Path) -> None:
    JobStore(tmp_path).close()
    with sqlite3.connect(tmp_path / DATABASE) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert os.path.exists(tmp_path / DATABASE)
