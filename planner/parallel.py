"""Where sweeps and batches run: local worker processes, or an executor the caller gives.

A Dask cluster is reached only through bounded waits: :func:`connect` asks
the address who it is within ``--connect-timeout`` before a client is made
(a Dask client pointed at a web server, the dashboard's 8787 for the
scheduler's 8786, waits for ever), and :class:`WorkerWatch` gives up when
the cluster has had no worker for ``--worker-timeout`` seconds (a cluster
that lost its workers keeps the tasks waiting for ever). Both raise
:class:`ClusterError`, which names the option; the caller keeps what
finished.
"""

from __future__ import annotations

import asyncio
import socket
import time
from concurrent.futures import Executor
from typing import Any
from urllib.parse import urlsplit

from planner.errors import PlannerError

CONNECT_TIMEOUT = 10.0  # seconds for a scheduler to say it is one
WORKER_TIMEOUT = 120.0  # seconds a cluster may have no worker (an autoscaler starting one)
DASK_SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")


class ClusterError(PlannerError):
    """A Dask cluster that cannot be used: not a scheduler, unreachable, or without workers.

    ``option`` is the command-line option to change; ``partial``, when set by
    a sweep or ``partial_rows`` by a batch, holds what finished before.
    """

    def __init__(self, option: str, message: str) -> None:
        self.option = option
        super().__init__(f"{option}: {message}")


def executor_of(given: Any) -> Executor | None:
    """Return a :class:`concurrent.futures.Executor` for ``given`` (None: local processes).

    A Dask ``distributed.Client`` is taken for its own executor
    (``Client.get_executor()``), so its futures work with
    :func:`concurrent.futures.wait` and ``as_completed``.
    """
    if given is not None and hasattr(given, "get_executor"):
        executor: Executor = given.get_executor()
        return executor
    return given


def connect(address: str, timeout: float = CONNECT_TIMEOUT) -> Any:
    """Return a ``distributed.Client`` of the scheduler at ``address``, asked within ``timeout``.

    Raises
    ------
    ClusterError
        ``--scheduler`` for an address that is no Dask address, a host that
        does not answer, or a server that is no Dask scheduler (a web
        server is named as one); ``--connect-timeout`` when the scheduler
        did not answer in time.
    PlannerError
        When Dask is not installed.
    """
    try:
        from distributed import Client
        from distributed.core import rpc
    except ImportError:
        raise PlannerError("--scheduler needs Dask: pip install 'planner[dask]'") from None
    scheme = address.split("://", 1)[0].lower() if "://" in address else "tcp"
    if scheme not in DASK_SCHEMES:
        raise ClusterError(
            "--scheduler",
            f"{address!r} is no Dask scheduler address ({scheme}:// is not one of "
            f"{', '.join(s + '://' for s in DASK_SCHEMES)}); give e.g. tcp://HOST:8786",
        )

    async def identity() -> Any:
        async with rpc(address, timeout=timeout) as scheduler:
            return await scheduler.identity()

    async def bounded() -> Any:
        return await asyncio.wait_for(identity(), timeout)

    try:
        who = asyncio.run(bounded())
    except TimeoutError:
        refused = _refused(address)
        if refused is not None:  # distributed retries a refused connection until its timeout
            raise ClusterError(
                "--scheduler", f"cannot reach the Dask scheduler {address}: {refused}"
            ) from None
        if _web_server(address):
            raise ClusterError(
                "--scheduler",
                f"{address} is a web server, not a Dask scheduler (the dashboard is usually "
                "on port 8787, the scheduler on 8786)",
            ) from None
        raise ClusterError(
            "--connect-timeout",
            f"the Dask scheduler {address} did not answer within {timeout:g} s (is it a Dask "
            "scheduler? a busy one may need a longer --connect-timeout)",
        ) from None
    except (OSError, ValueError, TypeError) as error:  # refused, unknown host, bad address
        raise ClusterError(
            "--scheduler", f"cannot reach the Dask scheduler {address}: {error}"
        ) from None
    except Exception as error:  # the other end spoke, but no Dask
        raise ClusterError(
            "--scheduler", f"{address} is not a Dask scheduler ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(who, dict) or who.get("type") != "Scheduler":
        kind = who.get("type") if isinstance(who, dict) else type(who).__name__
        raise ClusterError("--scheduler", f"{address} is a Dask {kind}, not the scheduler")
    try:
        return Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError) as error:
        raise ClusterError(
            "--scheduler", f"cannot reach the Dask scheduler {address}: {error}"
        ) from None


def _refused(address: str, timeout: float = 2.0) -> str | None:
    """Return why a TCP connection to ``address`` fails at once (refused, no such host), or None.

    Dask's own connect retries a refused connection until its timeout, so a
    closed port would otherwise read as a scheduler too slow to answer.
    """
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme not in ("tcp", "tls", "ws", "wss") or not parts.hostname or not parts.port:
        return None
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            return None
    except (ConnectionRefusedError, socket.gaierror) as error:
        return str(error)
    except (OSError, ValueError):
        return None  # a timeout or anything else: not known to be refused


def _web_server(address: str, timeout: float = 2.0) -> bool:
    """Tell whether ``address`` answers an HTTP request (a web server, not a scheduler)."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme not in ("tcp", "ws") or not parts.hostname or parts.port is None:
        return False
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as probe:
            probe.settimeout(timeout)
            probe.sendall(b"HEAD / HTTP/1.0\r\nHost: " + parts.hostname.encode() + b"\r\n\r\n")
            return probe.recv(5) == b"HTTP/"
    except (OSError, ValueError):
        return False


class WorkerWatch:
    """Give up on a Dask cluster that has had no worker for ``timeout`` seconds.

    ``check()`` is called while waiting for results; for an executor that is
    no Dask cluster's it does nothing.
    """

    def __init__(self, executor: Any, timeout: float = WORKER_TIMEOUT) -> None:
        client = getattr(executor, "_client", None)  # distributed's ClientExecutor
        if client is None and hasattr(executor, "scheduler_info"):
            client = executor
        self.client = client
        self.timeout = timeout
        self.since: float | None = None  # when the cluster was last seen without workers

    def workers(self) -> int:
        """Return how many workers the cluster has (0 when the client is not connected)."""
        if self.client is None:
            return 1
        if getattr(self.client, "status", "running") != "running":
            return 0
        try:
            info = self.client.scheduler_info(n_workers=1)  # one is enough to know
        except Exception:  # the scheduler is gone or not answering: no worker to be had
            return 0
        workers = info.get("workers") if isinstance(info, dict) else None
        return len(workers) if isinstance(workers, dict) else 0

    def check(self) -> None:
        """Raise :class:`ClusterError` once no worker has been seen for ``timeout`` seconds."""
        if self.client is None:
            return
        now = time.monotonic()
        if self.workers():
            self.since = None
            return
        self.since = self.since if self.since is not None else now
        if now - self.since >= self.timeout:
            raise ClusterError(
                "--worker-timeout",
                f"the Dask cluster has had no worker for {self.timeout:g} s; stopped waiting "
                "(start workers, or allow longer with --worker-timeout)",
            )
