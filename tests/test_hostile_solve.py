"""A hostile pass over the solve path's run clock, memory hand-back and closed sessions.

HiGHS 1.16 has two clocks. The instance's run clock runs on over every run
of the instance, and an LP's simplex, its presolve and a MIP start's
completion compare ``time_limit`` with it. A MIP's branch and bound has a
clock of its own, started with each run (``HighsMipSolver::timer_``, a new
solver per run in ``Highs::callSolveMip``). No timing is asserted here: only
the limit HiGHS is given.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import highspy
import pandas as pd
import pytest
from typer.testing import CliRunner

import planner
from planner.api import Resolver
from planner.cli import app
from planner.model import build_model, derive
from planner.solve import HighsSession, SolveOptions
from tests.conftest import REFERENCE

SOLVE = importlib.import_module("planner.solve")
FIRST_PLAN = importlib.import_module("planner.first_plan")


def _session(first_plan: bool = False) -> HighsSession:
    model = build_model(derive(planner.load(REFERENCE / "case-03.xlsx")))
    return HighsSession(model, SolveOptions(first_plan=first_plan))


def _solve_limits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the time limit of each of HighsSession's solves (``_solve_once``), in order."""
    limits: list[float] = []
    solve_once = SOLVE.HighsSession._solve_once

    def spy(self: Any, time_limit: float, *args: Any, **kwargs: Any) -> Any:
        limits.append(time_limit)
        return solve_once(self, time_limit, *args, **kwargs)

    monkeypatch.setattr(SOLVE.HighsSession, "_solve_once", spy)
    return limits


def _limits(monkeypatch: pytest.MonkeyPatch, session: HighsSession) -> list[dict[str, Any]]:
    """Record, at each run of the session's HiGHS, its clock, limit and whether it is a MIP."""
    seen: list[dict[str, Any]] = []
    highs = session.highs
    run = type(highs).run

    def spy(self: Any) -> Any:
        if self is highs:
            seen.append(
                {
                    "clock": self.getRunTime(),
                    "limit": self.getOptionValue("time_limit")[1],
                    "mip": highspy.HighsVarType.kInteger in list(self.getLp().integrality_),
                }
            )
        return run(self)

    monkeypatch.setattr(type(highs), "run", spy)
    return seen


def test_a_later_mip_run_of_the_same_highs_has_its_own_limit_not_the_clocks_plus_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A re-solve's MIP (a sweep's warm variant, the strict re-solve) is given its own limit.

    The MIP's clock starts with its run: adding the instance's clock so far
    let the thousandth re-solve of a sweep run for the sum of every earlier
    run on top of its limit.
    """
    session = _session()
    assert session.solve(600.0, 1e-4).has_plan
    session.duals(["capacity_limit"], time_limit=50.0)
    assert session.highs.getRunTime() > 0
    runs = _limits(monkeypatch, session)
    assert session.solve(7.0, 1e-4).has_plan  # warm, on the clock the first solve left
    session.duals(["capacity_limit"], time_limit=5.0)
    mips = [run for run in runs if run["mip"]]
    lps = [run for run in runs if not run["mip"]]
    assert mips and lps, runs
    assert all(run["limit"] == 7.0 for run in mips), runs
    # the LP's simplex is on the run clock: the clock so far plus what is left of its 5 s
    assert all(run["clock"] < run["limit"] <= run["clock"] + 5.0 for run in lps), runs


def _windows_cdll(name: Any, *args: Any, **kwargs: Any) -> Any:
    """``ctypes.CDLL`` as Python 3.11 on Windows runs it for the process (``name`` None)."""
    return "/" in name  # TypeError: argument of type 'NoneType' is not iterable


def test_giving_memory_back_where_the_process_cannot_be_opened_is_silent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On Windows ``ctypes.CDLL(None)`` raises TypeError: a solve must not fail on it.

    ``planner.solve`` gives memory back when it closes HiGHS, in every single solve.
    """
    monkeypatch.setattr(SOLVE.ctypes, "CDLL", _windows_cdll)
    SOLVE.give_back_memory()
    result = planner.solve(planner.load(REFERENCE / "case-03.xlsx"))
    assert result.has_plan


def test_giving_memory_back_without_malloc_trim_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    """musl and macOS open the process but have no ``malloc_trim``; nothing else is called."""

    class NoTrim:
        def __init__(self, name: Any, *args: Any, **kwargs: Any) -> None:
            assert name is None

    monkeypatch.setattr(SOLVE.ctypes, "CDLL", NoTrim)
    SOLVE.give_back_memory()


def test_a_re_solves_highs_seconds_are_its_own_run_not_the_instances_clock() -> None:
    """``report.extra["highs_seconds"]`` is HiGHS's time for that solve, also for a re-solve.

    The instance's run clock counts every earlier run (the first MIP, the
    duals' LP): read as it stands, a re-solve reported all of them as its own.
    """
    session = _session()
    first = session.solve(600.0, 1e-4)
    session.duals(["capacity_limit"], time_limit=50.0)
    again = session.solve(600.0, 1e-4)
    clock = session.highs.getRunTime()
    own = [first.extra["highs_seconds"], again.extra["highs_seconds"]]
    assert all(seconds > 0 for seconds in own), own
    assert sum(own) <= clock, (own, clock)


def test_giving_memory_back_after_the_first_plan_counts_in_the_time_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The MIP has the limit less the construction and the collection after it.

    A full collection with a large model alive takes seconds; it runs
    between the construction and the MIP, inside the solve's time. The
    collection here takes 100 s of a fake clock and no time at all.
    """
    now = [1000.0]
    monkeypatch.setattr(SOLVE, "time", SimpleNamespace(perf_counter=lambda: now[0]))

    def slow_collection(collect: bool = True) -> None:
        now[0] += 100.0

    monkeypatch.setattr(SOLVE, "give_back_memory", slow_collection)
    limits = _solve_limits(monkeypatch)
    report = _session(first_plan=True).solve(600.0, 1e-4)
    assert report.has_plan
    assert limits and limits[0] <= 500.0, limits
    assert report.seconds >= 100.0


def test_ctrl_c_while_the_first_plan_copies_the_model_leaves_the_kept_model_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Interrupted in the construction's copy, a kept model solves again as if never touched."""
    path = REFERENCE / "case-03.xlsx"
    resolver = Resolver(first_plan=True)
    calls = [0]
    new_highs = FIRST_PLAN.new_highs

    def interrupted() -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise KeyboardInterrupt
        return new_highs()

    monkeypatch.setattr(FIRST_PLAN, "new_highs", interrupted)
    with pytest.raises(KeyboardInterrupt):
        resolver.solve(planner.load(path))
    assert resolver.session is not None and not resolver.session.closed
    again = resolver.solve(planner.load(path))
    fresh = planner.solve(planner.load(path), first_plan=True)
    assert again.status == fresh.status == "optimal"
    assert again.objective == pytest.approx(fresh.objective, rel=1e-9)
    assert calls[0] >= 2  # the construction ran again, in a copy of its own


def test_planner_solve_prints_the_warnings_the_solve_added(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The duals' LP out of its time: the terminal says so, as the Warnings sheet does.

    ``planner solve`` printed the case's warnings before the solve and none
    after it: a plan written without its prices looked like any other.
    """
    monkeypatch.setattr(
        SOLVE.HighsSession, "_solve_fixed", lambda self, *args, **kwargs: self._timed_out(3.0)
    )
    out = tmp_path / "plan.xlsx"
    result = CliRunner().invoke(app, ["solve", str(REFERENCE / "case-03.xlsx"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    note = "the LP with the contract decisions fixed did not finish within 3 s"
    assert note in result.stderr
    assert result.stderr.count("unknown column 'notes'") == 1  # the case's own, once
    written = pd.read_excel(out, sheet_name="Warnings")
    assert written["message"].str.contains(note, regex=False).sum() == 1


def test_the_cold_solve_after_a_misjudged_warm_start_has_what_is_left_of_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A warm run that took 50 s of a 60 s limit leaves the cold one 10 s, not 60 s again.

    Each HiGHS run takes 50 s of a fake clock (and no time at all); the
    report's seconds count both runs.
    """
    session = _session()
    assert session.solve(600.0, 1e-4).has_plan
    now = [1000.0]
    monkeypatch.setattr(SOLVE, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    run = SOLVE.HighsSession._run

    def slow(self: Any) -> Any:
        now[0] += 50.0
        return run(self)

    misjudged = [True]

    def objective_is_the_plans(self: Any, report: Any) -> bool:
        return not misjudged.pop() if misjudged else True

    limits = _solve_limits(monkeypatch)
    monkeypatch.setattr(SOLVE.HighsSession, "_run", slow)
    monkeypatch.setattr(SOLVE.HighsSession, "_objective_is_the_plans", objective_is_the_plans)
    report = session.solve(60.0, 1e-4)  # warm, misjudged, then cold
    assert report.has_plan
    assert len(limits) == 2 and limits[0] == 60.0, limits
    assert limits[1] <= 10.0, limits
    assert report.seconds >= 100.0
