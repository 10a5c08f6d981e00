"""A live server (``planner serve`` in a subprocess) and a browser for the web tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

ARTEFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
STARTUP = 300  # seconds: a hang guard only; a busy machine may take long to start a server
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


SERVER_LOG = "server-stderr.log"  # in the server's data folder


@dataclass
class Server:
    """A running ``planner serve``."""

    url: str
    process: subprocess.Popen[bytes]
    data: Path

    @property
    def log(self) -> Path:
        """The server's stderr: a file (a pipe nobody reads would fill and stall the server)."""
        return self.data / SERVER_LOG

    def console(self) -> str:
        """Return what the server has written to its console (stderr) so far."""
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(data: Path, *arguments: str, env: dict[str, str] | None = None) -> Server:
    """Start ``planner serve`` on a free loopback port; wait until it answers."""
    port = free_port()
    stderr = (data / SERVER_LOG).open("wb")  # the server keeps its own copy
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "planner",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            *arguments,
        ],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        env={**os.environ, **(env or {})},
    )
    stderr.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode() if process.stderr else "exited")
        try:
            if httpx.get(f"{url}/healthz", timeout=30).status_code == 200:
                return Server(url, process, data)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the server did not start within {STARTUP} s")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("serve"), "--workers", "2")
    yield running
    stop_server(running)


@contextmanager
def _one_at_a_time(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (POSIX; elsewhere no lock)."""
    try:
        import fcntl
    except ImportError:  # Windows: the browser tests install nothing there
        yield
        return
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, installed by the project's script when missing.

    The suite runs in several worker processes (pytest-xdist): one installs
    at a time (apt-get takes a lock of its own and fails on a held one), and
    a worker that waited finds it installed.
    """
    if not shutil.which("chromium"):
        with _one_at_a_time(Path(tempfile.gettempdir()) / "planner-install-browser.lock"):
            if shutil.which("chromium"):
                return CHROMIUM
            installed = subprocess.run(
                ["bash", str(ROOT / "scripts" / "install-browser.sh")],
                capture_output=True,
                text=True,
            )
        if installed.returncode != 0:
            message = f"cannot install Chromium: {installed.stderr.strip()[-500:]}"
            if os.environ.get("PLANNER_REQUIRE_BROWSER"):
                pytest.fail(message)
            pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def sigint() -> Iterator[None]:
    """Restore Ctrl-C after a test that runs a job in this process (the job ignores it)."""
    handler = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, handler)
