"""The same sweep and batch on a Dask distributed cluster equal the local ones."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import planner
from planner.batch import run_batch
from planner.cli import app
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
        ],
    )
    assert result.exit_code == 1
    assert "cannot reach the Dask scheduler tcp://127.0.0.1:9" in result.stderr
