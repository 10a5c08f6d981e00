"""Solve jobs for the web page: a bounded pool of worker processes with a watchdog.

Each job runs in its own process (started from a fork server that has the
planner imported, so a start costs milliseconds), never on the server's event
loop. At most ``workers`` run at once; up to ``queue_limit`` more wait, and
beyond that a job is refused (the page says "busy, try again"). Each job
process has an address-space limit (``max_memory_mb``): a job that needs more
fails with a message saying so. A watchdog, looking ten times a second, kills
a job that overruns its time limit plus a grace period (``grace_seconds`` plus
a twentieth of the limit), and a process that dies (crash, out of memory, a
signal, the watchdog) fails only its own job, with a message saying why.

A job lives in its own folder under ``root`` (never served as is): the upload
under a random name, the solution workbook, the result (``result.json``) and
its charts. Its state is kept in the SQLite database beside the folders
(:mod:`planner.web.store`), so a restart of the server finds every job
again: a finished job with its files; a queued job queued again (its upload
is intact and it never started); a job that was running marked failed,
"interrupted by a restart of the server" (re-running it by itself could
repeat whatever stopped the server, and the planner may no longer want it),
unless its result was written before the stop. Finished jobs are deleted
after ``keep_seconds``, at start and while running; a folder no job owns (an
upload cut off by a crash) is removed at start and every minute. A job
submitted once the runner is stopping is refused (:class:`Closing`).

Each job gets one log line (logger ``planner.web.jobs``, INFO) when it is
queued, when it starts and when it ends: its id's first eight characters,
kind, file name, status and seconds.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import re
import secrets
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.web.protocol import (
    DONE,
    FAILED,
    FINISHED,
    OUT_OF_MEMORY,
    PROGRESS,
    QUEUED,
    RESULT,
    RUNNING,
    UPLOAD,
    too_large,
)
from planner.web.store import JobStore, StoredJob
from planner.web.worker import run_job

logger = logging.getLogger(__name__)

GRACE_SHARE = 0.05  # the watchdog's grace grows by this share of the time limit
MAX_MEMORY_MB = 3072
SHOWN_ID = 8  # characters of a job's id in the log: enough to tell jobs apart, never the key
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
JOB_ID = re.compile(r"[A-Za-z0-9_-]{32}")  # secrets.token_urlsafe(24): a job's folder name
CLEAN_EVERY = 60.0  # seconds between looks for folders no job owns
INTERRUPTED = "interrupted by a restart of the server: upload the workbook again"


class Busy(Exception):
    """Too many jobs are waiting: refuse this one."""


class Closing(Busy):
    """The server is stopping: refuse new jobs (they could not be started)."""


@dataclass
class Job:
    """One upload and what became of it."""

    id: str
    kind: str  # "solve" or "sweep"
    filename: str  # the name the planner gave the file (shown, never used as a path)
    folder: Path
    time_limit: float
    params: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    status: str = QUEUED
    started: float | None = None
    finished: float | None = None
    error: str = ""
    process: Any = None
    outcome: dict[str, Any] | None = None  # the worker's result.json, read once when it ends
    restored: bool = False  # found in the store at start: its result.json not read yet

    def result(self) -> dict[str, Any] | None:
        """Return the worker's result (None until it has finished and written one)."""
        if self.status not in FINISHED:
            return None
        if self.restored:  # read once, when first shown after a restart
            self.restored = False
            try:
                outcome = json.loads((self.folder / RESULT).read_text())
            except (OSError, ValueError):
                outcome = None
            self.outcome = outcome if isinstance(outcome, dict) else None
        return self.outcome

    def stored(self) -> StoredJob:
        """Return the job's row for the store."""
        return StoredJob(
            self.id,
            self.kind,
            self.filename,
            self.time_limit,
            self.params,
            self.created,
            self.status,
            self.started,
            self.finished,
            self.error,
        )

    def progress(self) -> dict[str, Any] | None:
        """Return what a running job says it is doing (stage; variants done of total)."""
        path = self.folder / PROGRESS
        if self.status != RUNNING or not path.exists():
            return None
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):  # replaced while read: next refresh
            return None
        return data

    def label(self) -> str:
        """Return how the log names the job: id prefix, kind and file name (one line)."""
        name = CONTROL.sub("?", self.filename)[:80]
        return f"job {self.id[:SHOWN_ID]} {self.kind} {name!r}"

    def public(self) -> dict[str, Any]:
        """Return what the JSON API shows of the job."""
        return {
            "id": self.id,
            "kind": self.kind,
            "filename": self.filename,
            "status": self.status,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "time_limit_s": self.time_limit,
            "error": self.error,
            "progress": self.progress(),
        }


class JobRunner:
    """Runs jobs in worker processes; thread-safe; one background thread drives it."""

    def __init__(
        self,
        root: Path,
        workers: int = 2,
        queue_limit: int = 20,
        keep_seconds: float = 24 * 3600,
        grace_seconds: float = 10.0,
        max_memory_mb: int | None = MAX_MEMORY_MB,
    ) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.workers = workers
        self.queue_limit = queue_limit
        self.keep_seconds = keep_seconds
        self.grace_seconds = grace_seconds
        self.max_memory_mb = max_memory_mb
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pending: set[str] = set()  # folders made, their upload still coming in
        self._cleaned = 0.0  # when folders no job owns were last looked for
        self.closing = False
        self.store = JobStore(root)
        self._restore()
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["planner.web.worker"])
        self._thread = threading.Thread(target=self._loop, name="planner-jobs", daemon=True)

    def grace(self, time_limit: float) -> float:
        """Return how long past its time limit a job may run before the watchdog kills it."""
        return self.grace_seconds + GRACE_SHARE * time_limit

    def _restore(self) -> None:
        """Take up the jobs of the store: finished kept, queued queued again, running ended."""
        requeued = interrupted = 0
        for row in self.store.load():
            job = Job(
                row.id,
                row.kind,
                row.filename,
                self.root / row.id,
                row.time_limit,
                row.params,
                row.created,
                row.status,
                row.started,
                row.finished,
                row.error,
                restored=row.status in FINISHED,
            )
            self.jobs[job.id] = job
            if job.status == QUEUED and not (job.folder / UPLOAD).exists():
                self._finish(job, FAILED, INTERRUPTED)  # its upload is gone: it cannot run
                interrupted += 1
            elif job.status == QUEUED:
                requeued += 1
            elif job.status == RUNNING and not self._read_result(job):  # a result: kept
                self._finish(job, FAILED, INTERRUPTED)
                interrupted += 1
        if self.jobs:
            logger.info(
                "%d jobs restored from %s: %d queued again, %d interrupted by the restart",
                len(self.jobs),
                self.store.path,
                requeued,
                interrupted,
            )

    def start(self) -> None:
        """Remove what is past its time, then start the background thread."""
        self._expire(time.time())
        self._clean()
        self._thread.start()

    def stop(self) -> None:
        """Refuse new jobs, stop the thread, kill running jobs and record them as interrupted.

        Queued jobs stay queued in the store: the next start runs them.
        """
        self.closing = True
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._lock:
            running = [job for job in self.jobs.values() if job.status == RUNNING]
        for job in running:
            if job.process is not None and job.process.is_alive():
                job.process.kill()
                job.process.join(timeout=5)
            if not self._read_result(job):
                self._finish(job, FAILED, INTERRUPTED)
        self.store.close()

    def new_folder(self) -> tuple[str, Path]:
        """Return an unguessable job id and its (new, empty) folder."""
        job_id = secrets.token_urlsafe(24)
        folder = self.root / job_id
        with self._lock:
            folder.mkdir(mode=0o700)
            self._pending.add(job_id)
        return job_id, folder

    def discard(self, job_id: str) -> None:
        """Remove a new folder whose upload failed (it never became a job)."""
        with self._lock:
            self._pending.discard(job_id)
            shutil.rmtree(self.root / job_id, ignore_errors=True)

    def submit(self, job: Job) -> Job:
        """Queue ``job`` (its upload already in its folder) and record it.

        Raises
        ------
        Busy
            The queue is full, or the job cannot be recorded; :class:`Closing`
            when the server is stopping. The job's folder is removed.
        """
        with self._lock:
            waiting = sum(1 for j in self.jobs.values() if j.status == QUEUED)
            refusal: Busy | None = None
            if self.closing:
                refusal = Closing("the server is shutting down; try again in a minute")
            elif waiting >= self.queue_limit:
                refusal = Busy(f"{waiting} jobs are waiting; try again in a minute")
            else:
                try:
                    self.store.save(job.stored())
                except Exception as error:  # a full disk, a locked database: say so, keep none
                    refusal = Busy(f"the job could not be recorded ({error})")
            self._pending.discard(job.id)
            if refusal is not None:
                shutil.rmtree(job.folder, ignore_errors=True)
                raise refusal
            self.jobs[job.id] = job
        logger.info("%s queued (%d waiting before it)", job.label(), waiting)
        return job

    def waiting(self, job: Job) -> tuple[int, int]:
        """Return, for a queued job, the jobs running and the queued jobs before it (else 0, 0)."""
        if job.status != QUEUED:
            return 0, 0
        with self._lock:
            running = sum(1 for j in self.jobs.values() if j.status == RUNNING)
            before = sum(
                1
                for j in self.jobs.values()
                if j.status == QUEUED and (j.created, j.id) < (job.created, job.id)
            )
        return running, before

    def get(self, job_id: str) -> Job | None:
        """Return the job with this id, if it exists (and has not been cleaned up)."""
        with self._lock:
            return self.jobs.get(job_id)

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        with self._lock:
            counts: dict[str, int] = {}
            for job in self.jobs.values():
                counts[job.status] = counts.get(job.status, 0) + 1
            return counts

    # ------------------------------------------------------------ background

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # the loop must survive any one job's trouble
                logger.exception("job runner")
            self._stop.wait(0.1)

    def _tick(self) -> None:
        now = time.time()
        with self._lock:
            jobs = list(self.jobs.values())
        for job in jobs:
            if job.status == RUNNING:
                self._guarded(job, self._watch, now)
        running = sum(1 for job in jobs if job.status == RUNNING)
        for job in sorted((j for j in jobs if j.status == QUEUED), key=lambda j: j.created):
            if running >= self.workers:
                break
            self._guarded(job, self._launch)
            running += job.status == RUNNING
        self._expire(now, jobs)
        if now - self._cleaned > CLEAN_EVERY:
            self._clean()

    def _expire(self, now: float, jobs: list[Job] | None = None) -> None:
        """Delete the finished jobs older than ``keep_seconds``: row and folder."""
        if jobs is None:
            with self._lock:
                jobs = list(self.jobs.values())
        for job in jobs:
            if job.status in FINISHED and job.finished and now - job.finished > self.keep_seconds:
                with self._lock:
                    self.jobs.pop(job.id, None)
                self.store.delete(job.id)
                shutil.rmtree(job.folder, ignore_errors=True)

    def _clean(self) -> None:
        """Remove the job folders no job owns (an upload cut off by a crash, a deleted row)."""
        self._cleaned = time.time()
        with self._lock:
            owned = set(self.jobs) | self._pending
            orphans = [
                entry
                for entry in self.root.iterdir()
                if JOB_ID.fullmatch(entry.name) and entry.name not in owned and entry.is_dir()
            ]
        for folder in orphans:
            logger.info("removing %s: no job owns it", folder.name[:SHOWN_ID])
            shutil.rmtree(folder, ignore_errors=True)

    def _guarded(self, job: Job, step: Any, *arguments: Any) -> None:
        """Run one step for one job; a fault fails that job, never the loop or the others."""
        try:
            step(job, *arguments)
        except Exception as error:
            logger.exception("job %s", job.id)
            if job.process is not None and job.process.is_alive():
                job.process.kill()
            self._finish(job, FAILED, f"internal error: {type(error).__name__}: {error}")

    def _launch(self, job: Job) -> None:
        process = self._context.Process(
            target=run_job,
            args=(str(job.folder), job.kind, job.time_limit, job.params, self.max_memory_mb),
            name=f"planner-job-{job.id[:8]}",
            daemon=True,
        )
        job.started = time.time()
        try:
            process.start()
        except OSError as error:  # no process could be started (fork limits, no memory)
            self._finish(job, FAILED, f"could not start a solver process: {error}")
            return
        job.status = RUNNING
        job.process = process
        self._record(job)
        logger.info("%s running (waited %.1f s)", job.label(), job.started - job.created)

    def _watch(self, job: Job, now: float) -> None:
        process = job.process
        if process.is_alive():
            grace = self.grace(job.time_limit)
            if job.started is not None and now - job.started > job.time_limit + grace:
                process.kill()
                process.join(timeout=5)
                if not self._read_result(job):  # it had finished but not yet exited: keep it
                    self._finish(job, FAILED, f"stopped: ran over its time limit by {grace:.0f} s")
            return
        process.join(timeout=5)
        if not self._read_result(job):
            self._finish(job, FAILED, self._death(process.exitcode))

    def _read_result(self, job: Job) -> bool:
        """Finish ``job`` with the result its process wrote; False if there is none."""
        path = job.folder / RESULT
        if not path.exists():
            return False
        try:
            outcome = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            self._finish(job, FAILED, f"the job's result could not be read ({error})")
            return True
        status = outcome.get("job_status") if isinstance(outcome, dict) else None
        if status not in FINISHED:
            self._finish(job, FAILED, "the job's result could not be read (no status)")
            return True
        job.outcome = outcome
        self._finish(job, status, str(outcome.get("error", "")) if status == FAILED else "")
        return True

    def _death(self, exitcode: int | None) -> str:
        """Say why a job process ended without a result."""
        if exitcode == OUT_OF_MEMORY:
            return too_large(self.max_memory_mb)
        if exitcode is not None and exitcode < 0:
            try:
                name = signal.Signals(-exitcode).name
            except ValueError:
                name = f"signal {-exitcode}"
            memory = too_large(self.max_memory_mb)
            return f"the solver process died (killed by {name}); perhaps {memory}"
        return f"the solver process died (exit code {exitcode})"

    def _finish(self, job: Job, status: str, error: str) -> None:
        # a user's message names neither the server's folder nor the job's id
        error = error.replace(str(job.folder), "the job's folder").replace(job.id, "the job")
        job.status = status
        job.error = error
        job.finished = time.time()
        job.process = None
        (job.folder / UPLOAD).unlink(missing_ok=True)  # the plan is kept, the upload is not
        self._record(job)
        outcome = job.outcome or {}
        shown = status
        if status == DONE and outcome.get("status"):
            shown = f"{status} ({outcome['status']})"  # optimal, infeasible, sweep...
        elif error:
            shown = f"{status}: {CONTROL.sub(' ', error)[:200]}"
        ran = job.finished - (job.started or job.created)
        logger.info("%s %s in %.1f s", job.label(), shown, ran)

    def _record(self, job: Job) -> None:
        """Write the job's state to the store (a failure is logged; the job goes on)."""
        try:
            self.store.save(job.stored())
        except Exception:
            logger.exception("%s: its state could not be recorded", job.label())
