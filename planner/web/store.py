"""Where the web server keeps its jobs: one SQLite database in the data directory.

A job's row (kind, file name, time limit, state, times, error) is written
whenever its state changes, so a restart of ``planner serve`` finds every
job again; what a job produced (``result.json``, the workbook, the charts)
stays in the job's folder beside it. This module alone knows the schema.

SQLite in WAL mode (readers never wait for the writer), ``synchronous=NORMAL``
(a committed row survives a crash of the server; only a power cut may lose
the last few); one connection shared by the server's threads under a lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import PlannerError

DATABASE = "jobs.sqlite3"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    filename TEXT NOT NULL,
    time_limit REAL NOT NULL,
    params TEXT NOT NULL,
    created REAL NOT NULL,
    status TEXT NOT NULL,
    started REAL,
    finished REAL,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created);
"""
_COLUMNS = (
    "id",
    "kind",
    "filename",
    "time_limit",
    "params",
    "created",
    "status",
    "started",
    "finished",
    "error",
)


class StoreError(PlannerError):
    """The job database cannot be used (another program's file, a newer schema, unreadable)."""


@dataclass(frozen=True)
class StoredJob:
    """One job's row: what a restart needs to show it again (its files are in its folder)."""

    id: str
    kind: str
    filename: str
    time_limit: float
    params: dict[str, Any]
    created: float
    status: str
    started: float | None
    finished: float | None
    error: str


class JobStore:
    """The jobs table of ``folder / jobs.sqlite3``; thread-safe.

    Raises
    ------
    StoreError
        When the file is not a database this planner can use.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / DATABASE
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: written by a newer planner (schema {version}); "
                    "use that planner or another --data-dir"
                )
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path}: cannot use the job database ({error})") from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def save(self, job: StoredJob) -> None:
        """Insert the job, or replace its row with this state."""
        values = [getattr(job, name) for name in _COLUMNS]
        values[_COLUMNS.index("params")] = json.dumps(job.params)
        with self._transaction() as db:
            db.execute(
                f"INSERT OR REPLACE INTO jobs ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                values,
            )

    def delete(self, job_id: str) -> None:
        """Forget a job (its folder is the caller's to remove)."""
        with self._transaction() as db:
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def load(self) -> list[StoredJob]:
        """Return every job, oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM jobs ORDER BY created, id"
            ).fetchall()
        jobs = []
        for row in rows:
            values = dict(zip(_COLUMNS, row, strict=True))
            try:
                params = json.loads(values["params"])
            except ValueError:
                params = {}
            values["params"] = params if isinstance(params, dict) else {}
            jobs.append(StoredJob(**values))
        return jobs

    def close(self) -> None:
        """Close the database (every change is already committed)."""
        with self._lock:
            self._db.close()
