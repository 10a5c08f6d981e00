"""Sensitivity sweeps: each variant is exactly a fresh solve of the modified case."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

import planner
from planner.api import Resolver
from planner.changes import ChangeError, apply_change, parse_values, variants
from planner.cli import app
from planner.errors import OutputError
from planner.model import derive
from planner.results import expected_china_shares, expected_shares, read_plan, shares_table
from planner.solve import HighsSession
from planner.sweep import chunks, efficient
from tests.conftest import REFERENCE, ROOT

runner = CliRunner()
HAND = REFERENCE / "case-00-hand.xlsx"


def test_values_are_read_inclusively() -> None:
    assert parse_values("1.0:0.0:-0.25") == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert parse_values("0.5,0.6") == [0.5, 0.6]
    with pytest.raises(ChangeError, match="the step must go from start towards stop"):
        parse_values("0:1:-0.1")


def test_a_grid_is_the_product() -> None:
    grid = variants({"a": [1, 2], "b": [3, 4, 5]})
    assert len(grid) == 6 and grid[0] == {"a": 1, "b": 3} and grid[-1] == {"a": 2, "b": 5}


def test_changes_reach_the_right_cells() -> None:
    case = planner.load(HAND)
    apply_change(case, "china_share_max[Nd]", 0.3)
    apply_change(case, "risk_max[TOTAL]", 0.7)
    apply_change(case, "capacity[Dy-CN]", 20)
    apply_change(case, "demand_scale[Dy]", 2)
    apply_change(case, "Elements.shortage_cost[Nd]", 250)
    apply_change(case, "cvar_weight", 0.5)
    assert case.policies[["policy", "element", "value"]].values.tolist() == [
        ["china_share_max", "Nd", 0.3],
        ["risk_max", "TOTAL", 0.7],
    ]
    assert case.offers.loc["Dy-CN", "capacity"] == 20
    assert case.demand.loc[case.demand.element == "Dy", "quantity"].tolist() == [20, 30]
    assert case.elements.loc["Nd", "shortage_cost"] == 250
    assert case.settings.cvar_weight == 0.5
    with pytest.raises(ChangeError, match="no offer 'Nd-XX'"):
        apply_change(case, "capacity[Nd-XX]", 1)
    with pytest.raises(ChangeError, match="not a change name"):
        apply_change(case, "share", 1)


def test_variants_equal_fresh_solves() -> None:
    case = planner.load(HAND)
    result = planner.sweep(case, {"china_share_max[Nd]": [1.0, 0.5, 0.3]}, workers=1, mip_gap=0)
    assert len(result.results) == 3
    reused = [r.report.extra["reused"] for r in result.results]
    # one build, changed in place; the workbook's own 0.5 is solved afresh (issue 23.7)
    assert reused == [False, False, True]
    assert result.table["note"].isna().tolist() == [True, False, True]
    for value, objective in zip([1.0, 0.5, 0.3], result.table["objective"], strict=True):
        fresh = case.copy()
        fresh.policies.loc[0, "value"] = value
        assert objective == pytest.approx(planner.solve(fresh, mip_gap=0).objective, rel=1e-9)
    assert result.table["objective"].tolist()[:2] == pytest.approx([18_202, 21_702])
    assert case.policies.loc[0, "value"] == 0.5  # the case itself is untouched


def test_a_local_pool_gets_one_run_per_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pool of this machine's threads or processes passed in is not a cluster: one run
    of neighbouring variants per worker (one build, one cold solve), as the sweep's own
    processes. It was cut into runs of 20 variants, each building and solving its first;
    a Dask cluster's executor still is."""
    import importlib
    from concurrent.futures import ThreadPoolExecutor

    sweeping = importlib.import_module("planner.sweep")  # planner.sweep is also the function

    parts: list[int] = []
    monkeypatch.setattr(sweeping, "chunks", lambda grid, n: parts.append(n) or chunks(grid, n))
    case = planner.load(HAND)
    values = list(np.linspace(1.0, 0.3, 25))
    with ThreadPoolExecutor(max_workers=1) as pool:
        result = planner.sweep(case, {"china_share_max[Nd]": values}, executor=pool)
    assert parts == [1] and len(result.results) == 25
    assert sum(not r.report.extra["reused"] for r in result.results) <= 2  # the build, 0.5
    assert sweeping._local_workers(object()) is None  # any other executor: a cluster's


def test_a_sweep_computes_only_its_rows_unless_tables_are_asked_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    case = planner.load(HAND)
    changes = {"china_share_max[Nd]": [1.0, 0.5, 0.3], "capacity[Dy-CN]": [12, 13]}
    priced = planner.sweep(case, changes, workers=1, tables=True, duals=True).results
    assert any(len(r.tables["Duals"]) for r in priced)  # asked for: every table, with duals
    full = planner.sweep(case, changes, workers=1, tables=True)
    assert all("Purchases" in r.tables for r in full.results if r.has_plan)
    asked = []
    real = HighsSession.duals
    monkeypatch.setattr(
        HighsSession,
        "duals",
        lambda self, rows, **bounds: asked.append(tuple(rows)) or real(self, rows, **bounds),
    )
    light = planner.sweep(case, changes, workers=1, duals=True)
    # no duals without tables, whatever was passed: the fixed-binary LP prices no row
    assert asked and all(rows == () for rows in asked)
    assert all(r.tables == {} for r in light.results)
    assert "case_sha256" not in light.results[0].summary  # the About has the base case's
    assert "case_sha256" in full.results[0].summary
    with pytest.raises(OutputError, match="tables=True"):
        light.results[0].write(tmp_path / "variant.xlsx")  # a clear message, nothing written
    assert not list(tmp_path.iterdir())
    # the same plans; China shares summed in another order (numpy, not pandas' groupby)
    pd.testing.assert_frame_equal(light.table, full.table, check_exact=False, rtol=1e-12)
    for quick, slow in zip(light.results, full.results, strict=True):
        assert quick.status == slow.status and quick.objective == slow.objective
        for key in ("expected_cost", "cvar", "shortfall", "objective"):
            assert quick.summary.get(key) == slow.summary.get(key)
        assert quick.summary.get("china_share") == pytest.approx(slow.summary.get("china_share"))


@pytest.mark.parametrize("which", ["hand", "japan_small_case"])
def test_the_rows_china_shares_are_the_shares_tables(
    which: str, request: pytest.FixtureRequest
) -> None:
    case = planner.load(HAND) if which == "hand" else request.getfixturevalue(which)
    resolver = Resolver(duals=False)
    resolver.solve(case)
    data = derive(case)
    plan = read_plan(resolver.model, data)
    table = expected_shares(
        shares_table(plan, data), case.scenarios["probability"], data.china_basis
    )
    quick = expected_china_shares(plan, data)
    assert quick["element"].tolist() == table["element"].tolist()
    for column in ("supply", "china_share"):
        assert quick[column].to_numpy() == pytest.approx(
            table[column].to_numpy(), rel=1e-12, nan_ok=True
        )


def test_a_resolver_option_is_not_a_solve_option() -> None:
    with pytest.raises(TypeError, match="unknown solve option"):
        planner.solve(planner.load(HAND), full_tables=False)


def test_the_frontier_is_the_points_no_other_beats() -> None:
    costs = pd.Series([1.0, 2.0, 2.0, 3.0, np.nan, 0.5, 1.0])
    shares = pd.Series([0.5, 0.4, 0.6, 0.4, 0.1, 0.9, 0.5])
    assert efficient(costs, shares).tolist() == [True, True, False, False, False, True, True]
    rng = np.random.default_rng(0)
    costs, shares = pd.Series(rng.integers(0, 40, 2500) * 1.0), pd.Series(rng.random(2500))
    slow = [
        not ((costs <= c) & (shares <= s) & ((costs < c) | (shares < s))).any()
        for c, s in zip(costs, shares, strict=True)
    ]
    assert efficient(costs, shares).tolist() == slow


def test_the_frontier_is_monotone(japan_small_case: planner.Case) -> None:
    case = japan_small_case  # the Japan case with three of its events (tests/conftest.py)
    # below about 0.5 the Japan case's take-or-pay NdPr made in China makes the cap infeasible
    result = planner.sweep(
        case, {"china_share_max[TOTAL]": [0.7, 0.65, 0.6]}, workers=2, duals=False
    )
    costs = result.table["expected_cost"].tolist()
    objectives = result.table["objective"].tolist()
    assert objectives == sorted(objectives)  # a tighter cap never costs less
    assert costs[0] <= costs[-1]
    assert result.table["efficient"].any()
    assert "china_share[Dy]" in result.table.columns
    assert "<table" in result._repr_html_()


def test_cli_writes_the_sweep_workbook(tmp_path: Path) -> None:
    out = tmp_path / "sweep.xlsx"
    result = runner.invoke(
        app,
        [
            "sweep",
            str(HAND),
            "--vary",
            "china_share_max[Nd]=1.0:0.5:-0.25",
            "--vary",
            "capacity[Dy-CN]=12,13",
            "-o",
            str(out),
            "--workers",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"6 of 6 variants solved -> {out}"
    workbook = openpyxl.load_workbook(out)
    assert workbook.sheetnames == ["Sweep", "Trade-off", "Frontier", "About"]
    about = {row[0]: row[1] for row in workbook["About"].iter_rows(min_row=2, values_only=True)}
    assert about["input_sha256"] == planner.load(HAND).source.sha256
    assert about["planner_version"] == planner.__version__ and about["seed"] == "0"
    assert about["changes"].startswith("china_share_max[Nd] = [1.0, 0.75, 0.5]")
    header = [c.value for c in workbook["Sweep"][1]]
    assert header[:5] == [  # B5 first; figures named with their units (issue 23.11)
        "china_share_max[Nd]",
        "capacity[Dy-CN]",
        "status",
        "spend (USD)",
        "lost value (USD)",
    ]
    assert {"shortfall (t)", "expected cost (USD)", "objective (USD)", "China share"} <= set(header)
    assert "China share, Nd" in header
    spend = workbook["Sweep"].cell(2, header.index("spend (USD)") + 1)
    assert spend.number_format == "#,##0.00" and isinstance(spend.value, int | float)
    assert workbook["Sweep"].max_row == 7
    assert len(workbook["Trade-off"]._charts) == 1
    with zipfile.ZipFile(out) as archive:
        pictures = [n for n in archive.namelist() if n.startswith("xl/media/")]
        assert len(pictures) == 1
        assert archive.read(pictures[0]).startswith(b"\x89PNG\r\n\x1a\n")
        assert len(archive.read(pictures[0])) > 10_000  # a drawn chart, not an empty image


def test_cli_rejects_a_bad_change(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["sweep", str(HAND), "--vary", "share=1", "-o", str(tmp_path / "s.xlsx")]
    )
    assert result.exit_code == 2
    assert "--vary: 'share': not a change name" in result.stderr


def test_the_japan_trade_off_example_runs(japan_small_workbook: Path, tmp_path: Path) -> None:
    """The example's sweep on the Japan case with three of its events (a mechanism)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "china_share_tradeoff", ROOT / "examples" / "china_share_tradeoff.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(japan_small_workbook, tmp_path / "japan-2026-china-tradeoff.xlsx")
    costs = result.table["expected_cost"].tolist()
    assert costs == sorted(costs)  # less China share, more cost
    shares = result.table["china_share_shipment"].tolist()  # the cap's own basis
    caps = result.table["china_share_max[TOTAL,shipment]"].tolist()
    assert shares == sorted(shares, reverse=True)
    # expected over scenarios: a stop's quarters have no Chinese supply, so below the cap
    assert all(share <= cap + 1e-6 for share, cap in zip(shares, caps, strict=True))
    assert (tmp_path / "japan-2026-china-tradeoff.xlsx").exists()


def test_runs_split_the_grid_into_neighbours() -> None:
    grid = variants({"a": range(7)})
    runs = chunks(grid, 3)
    assert [len(run) for run in runs] == [2, 3, 2]
    assert [v for run in runs for v in run] == grid
    assert len(chunks(grid[:2], 8)) == 2


def test_progress_counts_every_variant() -> None:
    seen: list[int] = []
    planner.sweep(
        planner.load(HAND),
        {"capacity[Dy-CN]": [12, 13, 14]},
        workers=2,
        progress=seen.append,
        duals=False,
    )
    assert seen[-1] == 3 and seen == sorted(seen)


def test_ctrl_c_keeps_finished_variants() -> None:
    def interrupt_after_second(done: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as raised:
        planner.sweep(
            planner.load(HAND),
            {"capacity[Dy-CN]": [12, 13, 14, 15]},
            workers=1,
            progress=interrupt_after_second,
        )
    partial = raised.value.partial  # type: ignore[attr-defined]
    # solved loosest first (the largest capacities), reported in the user's order
    assert partial.table["capacity[Dy-CN]"].tolist() == [14, 15]
    assert len(partial.results) == 2


def _with_sweep_sheet(
    hand_sheets: dict[str, list[list[Any]]], rows: list[list[Any]]
) -> dict[str, list[list[Any]]]:
    return {**hand_sheets, "Sweep": [["change", "values"], *rows]}


def test_cli_takes_the_sweep_sheet(
    tmp_path: Path, hand_sheets: dict[str, list[list[Any]]], make_workbook: Callable[..., Path]
) -> None:
    sheets = _with_sweep_sheet(
        hand_sheets, [["china_share_max[Nd]", "1.0:0.5:-0.5"], ["capacity[Dy-CN]", "12,13"]]
    )
    source = make_workbook(sheets)
    plain = planner.solve(planner.load(HAND)).objective
    assert planner.solve(planner.load(source)).objective == pytest.approx(plain)  # ignored
    out = tmp_path / "sweep.xlsx"
    result = runner.invoke(app, ["sweep", str(source), "-o", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"4 of 4 variants solved -> {out}"
    header = [c.value for c in openpyxl.load_workbook(out)["Sweep"][1]]
    assert header[:2] == ["china_share_max[Nd]", "capacity[Dy-CN]"]


def test_a_bad_sweep_sheet_names_its_cells(
    tmp_path: Path, hand_sheets: dict[str, list[list[Any]]], make_workbook: Callable[..., Path]
) -> None:
    sheets = _with_sweep_sheet(
        hand_sheets, [["capacity[Nd-XX]", "1,2"], ["china_share_max[Nd]", "1:0:+0.1"]]
    )
    source = make_workbook(sheets)
    result = runner.invoke(app, ["sweep", str(source), "-o", str(tmp_path / "s.xlsx")])
    assert result.exit_code == 2
    assert "Sweep!A2: 'capacity[Nd-XX]': no offer 'Nd-XX'" in result.stderr
    assert "Sweep!B3: '1:0:+0.1': the step must go from start towards stop" in result.stderr
    assert not (tmp_path / "s.xlsx").exists()


def test_nothing_to_vary_is_an_input_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sweep", str(HAND), "-o", str(tmp_path / "s.xlsx")])
    assert result.exit_code == 2
    assert "give --vary or fill the Sweep sheet" in result.stderr


_REPORTED_SWEEP = """
import contextlib, sys
import planner.cli as cli
@contextlib.contextmanager
def reported(total, what):
    yield lambda done: print(f"finished {done}", file=sys.stderr, flush=True)
cli._bar = reported  # the progress bar, as lines a test can wait for
sys.argv = ["planner", *sys.argv[1:]]
cli.main()
"""


def test_ctrl_c_on_the_cli_writes_the_finished_variants(tmp_path: Path) -> None:
    """Ctrl-C once a variant has finished (a printed marker says so), on any machine."""
    import os
    import signal
    import subprocess
    import sys

    from benchmarks.generate import Size, generate, write

    source = write(generate(Size(8, 10, 12, 5), seed=0), tmp_path / "small.xlsx")
    out = tmp_path / "sweep.xlsx"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _REPORTED_SWEEP,
            "sweep",
            str(source),
            "-o",
            str(out),
            "--vary",
            "demand_scale=1.0:2.0:0.01",
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's Ctrl-C reaches it
    )
    assert process.stderr is not None
    log = ""
    while not re.search(r"^finished [1-9]", log, flags=re.M):
        line = process.stderr.readline()
        assert line, log
        log += line
    os.killpg(process.pid, signal.SIGINT)  # 100 variants to go: many seconds of work
    _, err = process.communicate(timeout=300)  # a hang guard
    assert process.returncode == 130, err
    finished = re.search(r"interrupted; (\d+) of 101 variants finished", err)
    assert finished is not None, err
    rows = openpyxl.load_workbook(out)["Sweep"].max_row - 1
    assert 0 < rows == int(finished.group(1)) < 101
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporaries


def test_a_policy_change_sets_the_cap_in_every_period(hand_sheets: Any, make_workbook: Any) -> None:
    from planner.changes import apply_change
    from planner.model import derive

    hand_sheets["Policies"] += [
        ["china_share_max", "TOTAL", None, 0.6],
        ["china_share_max", "TOTAL", "2026Q2", 0.5],  # a per-quarter row that used to win
    ]
    case = planner.load(make_workbook(hand_sheets))
    changed = case.copy()
    assert apply_change(changed, "china_share_max[TOTAL]", 0.7) == []
    caps = derive(changed).caps[("china_share_max", "any")]
    assert [caps[("TOTAL", t)].value for t in (0, 1)] == [0.7, 0.7]
    one = case.copy()
    apply_change(one, "china_share_max[TOTAL,2026Q2]", 0.4)
    caps = derive(one).caps[("china_share_max", "any")]
    assert [caps[("TOTAL", t)].value for t in (0, 1)] == [0.6, 0.4]


def test_a_row_that_still_decides_the_cap_is_named(hand_sheets: Any, make_workbook: Any) -> None:
    from planner.changes import apply_change

    hand_sheets["Policies"] += [["china_share_max", None, None, 0.8]]
    case = planner.load(make_workbook(hand_sheets))
    warnings = apply_change(case, "china_share_max", 0.6)  # the blank-element rows
    assert warnings == [
        "china_share_max: rows not changed still decide the cap for Nd in 2026Q1, Nd in 2026Q2"
    ]


def test_the_sweep_picture_is_written_beside_its_workbook(tmp_path: Any) -> None:
    case = planner.load(REFERENCE / "case-00-hand.xlsx")
    study = planner.sweep(case, {"china_share_max[Nd]": [1.0, 0.5]}, workers=1, duals=False)
    path = study.write(tmp_path / "sweep.xlsx")
    picture = path.with_suffix(".png")
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert picture.read_bytes() == study.picture()


def test_a_sweep_whose_every_variant_is_infeasible_is_written(tmp_path: Any) -> None:
    """No variant has a plan: the picture says so instead of failing to draw (None points)."""
    import warnings

    case = planner.load(ROOT / "inputs" / "tiny.xlsx")
    case.offers.loc["Dy-CN", "min_take"] = 10.0  # forced Chinese Dy under a Dy China cap
    row = {column: None for column in case.policies.columns}
    row.update({"_row": pd.NA, "policy": "min_offers", "element": "Dy", "value": 1})
    case.policies = pd.concat([case.policies, pd.DataFrame([row])], ignore_index=True)
    study = planner.sweep(case, {"china_share_max[Dy]": [0.0, 0.1]}, workers=1)
    assert set(study.table["status"]) == {"infeasible"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing from matplotlib on the terminal either
        path = study.write(tmp_path / "sweep.xlsx")
    assert path.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
