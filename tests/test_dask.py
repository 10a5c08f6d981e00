"""The same sweep and batch on a Dask distributed cluster equal the local ones."""

from __future__ import annotations

import contextlib
import http.server
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import planner
import planner.cli
from planner.batch import run_batch
from planner.cli import app
from planner.parallel import ClusterError
from tests.conftest import REFERENCE, ROOT

distributed = pytest.importorskip("distributed")
HAND = REFERENCE / "case-00-hand.xlsx"
CHANGES = {"china_share_max[Nd]": [1.0, 0.5, 0.3], "capacity[Dy-CN]": [12, 13]}
SAME = ["status", "objective", "expected_cost", "cvar", "china_share", "shortfall", "contracted"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.LocalCluster]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster


def test_a_sweep_on_dask_equals_the_local_one(cluster: distributed.LocalCluster) -> None:
    case = planner.load(HAND)
    local = planner.sweep(case, CHANGES, workers=2, duals=False, tables=True)
    with distributed.Client(cluster) as client:
        remote = planner.sweep(case, CHANGES, executor=client, duals=False, tables=True)
    pd.testing.assert_frame_equal(remote.table[SAME], local.table[SAME])
    assert len(remote.results) == 6 and remote.results[0].tables["Purchases"].equals(
        local.results[0].tables["Purchases"]
    )


def test_a_batch_on_dask_equals_the_local_one(
    cluster: distributed.LocalCluster, tmp_path: Path
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(HAND, inputs / "a.xlsx")
    shutil.copy(ROOT / "inputs" / "tiny.xlsx", inputs / "b.xlsx")
    (inputs / "c.xlsx").write_bytes(b"not a workbook")
    local = run_batch(inputs, tmp_path / "local", workers=2)
    with distributed.Client(cluster) as client:
        remote = run_batch(inputs, tmp_path / "remote", executor=client.get_executor())
    columns = ["input", "outcome", "status", "objective", "china_share", "shortfall"]
    pd.testing.assert_frame_equal(remote[columns], local[columns])
    assert remote["outcome"].tolist() == ["written", "written", "invalid"]
    assert (tmp_path / "remote" / "a-solution.xlsx").exists()


def test_cli_sweep_with_a_scheduler(cluster: distributed.LocalCluster, tmp_path: Path) -> None:
    out = tmp_path / "sweep.xlsx"
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            str(HAND),
            "--vary",
            "capacity[Dy-CN]=12,13",
            "--scheduler",
            cluster.scheduler_address,
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"2 of 2 variants solved -> {out}"


def test_cli_says_when_the_scheduler_is_unreachable(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "batch",
            str(tmp_path),
            "-o",
            str(tmp_path / "out"),
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--connect-timeout",  # a closed port is told apart after the wait: 1 s, not 10
            "1",
        ],
    )
    assert result.exit_code == 2
    assert "error: --scheduler: cannot reach the Dask scheduler tcp://127.0.0.1:9" in result.stderr


# ------------------------------------------------------------------ addresses that are no scheduler


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Say nothing on stderr (the command's stderr is what the test reads)."""


@contextlib.contextmanager
def _web_server() -> Iterator[str]:
    """A web server on loopback (a Dask dashboard's stand-in), as a Dask address."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def _silent_server() -> Iterator[str]:
    """A server that accepts connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"


def _sweep(address: str, out: Path, *extra: str, vary: str = "capacity[Dy-CN]=12,13") -> object:
    return CliRunner().invoke(
        app,
        [
            "sweep",
            str(HAND),
            "--vary",
            vary,
            "--scheduler",
            address,
            *extra,
            "-o",
            str(out),
        ],
    )


def test_a_web_server_given_as_the_scheduler_is_named_not_waited_for(tmp_path: Path) -> None:
    """It hung with no output (a Dask client waits for a handshake that never comes)."""
    out = tmp_path / "sweep.xlsx"
    with _web_server() as address:
        result = _sweep(address, out, "--connect-timeout", "1")
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"error: --scheduler: {address} is a web server, not a Dask scheduler (the dashboard "
        "is usually on port 8787, the scheduler on 8786)"
    )
    assert not out.exists()


def test_a_silent_server_gives_up_after_the_connect_timeout(tmp_path: Path) -> None:
    with _silent_server() as address:
        result = _sweep(address, tmp_path / "sweep.xlsx", "--connect-timeout", "1")
    assert result.exit_code == 2, result.output
    assert f"error: --connect-timeout: the Dask scheduler {address} did not answer within 1 s" in (
        result.stderr
    )


@pytest.mark.parametrize("address", ["file:///etc/passwd", "http://127.0.0.1:8787"])
def test_an_address_that_is_no_dask_address_is_refused_naming_the_option(
    address: str, tmp_path: Path
) -> None:
    """file:///etc/passwd exited 1 with "internal error"."""
    result = _sweep(address, tmp_path / "sweep.xlsx")
    assert result.exit_code == 2, result.output
    assert f"error: --scheduler: '{address}' is no Dask scheduler address" in result.stderr
    assert "internal error" not in result.stderr


def test_a_batch_refuses_a_bad_scheduler_before_solving(tmp_path: Path) -> None:
    shutil.copy(HAND, tmp_path / "a.xlsx")
    with _web_server() as address:
        result = CliRunner().invoke(  # told apart after the wait: 1 s, not the default 10
            app,
            [
                "batch",
                str(tmp_path),
                "-o",
                str(tmp_path / "out"),
                "--scheduler",
                address,
                "--connect-timeout",
                "1",
            ],
        )
    assert result.exit_code == 2, result.output
    assert "is a web server, not a Dask scheduler" in result.stderr
    assert not (tmp_path / "out" / "a-solution.xlsx").exists()


# ------------------------------------------------------------------ a cluster losing its workers


def _stall_after_the_first_run() -> None:
    """In a worker: the first run solves, every later one waits until the worker dies."""
    import importlib
    import time

    sweep = importlib.import_module("planner.sweep")  # the module: planner.sweep is the function
    real = sweep.solve_chunk
    calls: list[int] = []

    def stalling(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) > 1:
            time.sleep(3600)  # never returns: the cluster is scaled to nothing meanwhile
        return real(*args, **kwargs)  # type: ignore[arg-type]

    sweep.solve_chunk = stalling  # type: ignore[assignment]


@pytest.fixture
def doomed() -> Iterator[tuple[distributed.LocalCluster, distributed.Client]]:
    """One worker, whose sweep runs stall after the first; the test takes the worker away."""
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.run(_stall_after_the_first_run)
        yield cluster, client


def _losing(cluster: distributed.LocalCluster) -> Callable[[int], None]:
    """A progress callback that takes every worker away once a run has come back."""

    def progress(done: int) -> None:
        if done:
            cluster.scale(0)

    return progress


GRID = {"capacity[Dy-CN]": [11, 12, 13, 14]}


def test_a_cluster_that_loses_its_workers_gives_up_keeping_what_finished(
    doomed: tuple[distributed.LocalCluster, distributed.Client],
) -> None:
    """It waited for ever for workers that were gone."""
    cluster, client = doomed
    with pytest.raises(ClusterError, match="--worker-timeout: the Dask cluster has had no worker"):
        try:
            planner.sweep(
                planner.load(HAND),
                GRID,
                workers=4,  # a run per variant
                executor=client,
                progress=_losing(cluster),
                worker_timeout=1,
            )
        except ClusterError as error:
            partial = error.partial  # type: ignore[attr-defined]
            # the first run came back: the loosest variant (a sweep solves from the loosest)
            assert partial.table["capacity[Dy-CN]"].tolist() == [14]
            assert partial.about["variants"] == 1
            raise


def test_cli_writes_the_variants_finished_before_the_workers_were_lost(
    doomed: tuple[distributed.LocalCluster, distributed.Client],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster, _ = doomed
    losing = _losing(cluster)

    @contextlib.contextmanager
    def bar(total: int, what: str) -> Iterator[Callable[[int], None]]:
        yield losing

    monkeypatch.setattr(planner.cli, "_bar", bar)
    out = tmp_path / "sweep.xlsx"
    result = _sweep(
        cluster.scheduler_address,
        out,
        "--workers",
        "4",
        "--worker-timeout",
        "1",
        vary="capacity[Dy-CN]=11,12,13,14",  # a change given twice is refused
    )
    assert result.exit_code == 2, result.output
    assert "error: --worker-timeout: the Dask cluster has had no worker for 1 s" in result.stderr
    assert f"stopped; 1 of 4 variants finished and written -> {out}" in result.stderr
    written = pd.read_excel(out, sheet_name=None)
    assert any(len(sheet) == 1 for sheet in written.values())


def test_a_cluster_with_no_worker_at_all_gives_up(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(HAND, inputs / "a.xlsx")
    with distributed.LocalCluster(n_workers=0, dashboard_address=":0") as empty:
        result = CliRunner().invoke(
            app,
            [
                "batch",
                str(inputs),
                "-o",
                str(tmp_path / "out"),
                "--scheduler",
                empty.scheduler_address,
                "--worker-timeout",
                "1",
            ],
        )
    assert result.exit_code == 2, result.output
    assert "error: --worker-timeout: the Dask cluster has had no worker for 1 s" in result.stderr
    assert "stopped; 0 of 1 workbooks finished and kept" in result.stderr
    assert (tmp_path / "out" / "batch-summary.xlsx").exists()  # the roll-up says so
