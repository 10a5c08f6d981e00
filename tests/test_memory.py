"""What a single solve holds at once (issue 24.4): each stage frees what the next does not need.

HiGHS keeps an LP's simplex state in the instance that solved it, past
``clearSolver``; the checks here are on which instance solves what and on
what is still held, never on the machine's memory or speed.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import highspy
import numpy as np
import pandas as pd
import pytest

import planner
from planner import api
from planner.api import Resolver
from planner.first_plan import first_plan
from planner.model import build_model, derive
from planner.solve import HighsSession, SolveOptions
from tests.conftest import REFERENCE


class _Spy:
    """A HiGHS instance that records the names of the methods called on it."""

    def __init__(self, highs: highspy.Highs) -> None:
        self.highs = highs
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.highs, name)


def _session(name: str) -> HighsSession:
    session = HighsSession(build_model(derive(planner.load(REFERENCE / name))), SolveOptions())
    session._set_options(None, None)  # one thread, as every solve here (HiGHS's scheduler)
    return session


def test_the_first_plan_solves_nothing_in_the_models_own_highs() -> None:
    """The construction's LPs run in a copy, whose solver memory goes before the MIP.

    In the model's own instance, their simplex state stayed through the MIP
    on top of its own: 1.3 GB at the largest benchmark size.
    """
    session = _session("case-03.xlsx")
    before = session.highs.getLp()
    spy = _Spy(session.highs)
    constructed = first_plan(spy, session.integer, 600.0)  # type: ignore[arg-type]
    assert constructed.values is not None, constructed.how
    changing = {"run", "changeColsBounds", "changeColsIntegrality", "setSolution", "clearSolver"}
    assert not changing & set(spy.calls), spy.calls
    after = session.highs.getLp()
    assert np.array_equal(before.col_lower_, after.col_lower_)
    assert np.array_equal(before.col_upper_, after.col_upper_)
    assert list(before.integrality_) == list(after.integrality_)
    # the same plan as the construction gives in a session of its own
    again = first_plan(_session("case-03.xlsx").highs, session.integer, 600.0)
    assert again.values is not None
    assert np.array_equal(constructed.values, again.values)
    assert constructed.objective == again.objective


def test_a_single_solve_frees_highs_before_the_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """``planner.solve`` closes the session once the plan and duals are read; the tables match.

    A resolver that keeps its model (sweeps) keeps HiGHS's model too.
    """
    path = REFERENCE / "case-04.xlsx"
    tables = api._plan_tables
    held: list[int] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        held.append(resolver.session.highs.getNumCol())  # type: ignore[union-attr]
        return tables(*args, **kwargs)

    monkeypatch.setattr(api, "_plan_tables", spy)
    results = []
    for keep in (True, False):
        resolver = Resolver(keep_model=keep)
        results.append(resolver.solve(planner.load(path)))
    kept, single = results
    assert held[0] > 0 and held[1] == 0, held
    assert resolver.session is not None and resolver.session.closed
    assert single.objective == kept.objective
    assert single.tables.keys() == kept.tables.keys()
    for name, table in kept.tables.items():
        pd.testing.assert_frame_equal(single.tables[name], table, obj=name)
    with pytest.raises(RuntimeError, match="closed"):
        resolver.session.solve(60.0, 1e-4)
    with pytest.raises(RuntimeError, match="closed"):
        resolver.session.duals(["capacity_limit"])


def test_memory_is_given_back_between_the_first_plan_and_the_mip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The construction's copy of the model goes back to the system before HiGHS's MIP grows."""
    events: list[str] = []
    module = importlib.import_module("planner.solve")
    construct, mip = module.HighsSession._first_plan, module.HighsSession._solve_once

    def constructing(self: Any, *args: Any) -> Any:
        events.append("first plan")
        return construct(self, *args)

    def solving(self: Any, *args: Any, **kwargs: Any) -> Any:
        events.append("MIP")
        return mip(self, *args, **kwargs)

    monkeypatch.setattr(module.HighsSession, "_first_plan", constructing)
    monkeypatch.setattr(module.HighsSession, "_solve_once", solving)

    def giving_back(collect: bool = True) -> None:  # a collection costs seconds of the tenth
        events.append("given back" + (" and collected" if collect else ""))

    monkeypatch.setattr(module, "give_back_memory", giving_back)
    session = HighsSession(
        build_model(derive(planner.load(REFERENCE / "case-03.xlsx"))),
        SolveOptions(first_plan=True),
    )
    assert session.solve(600.0, 1e-4).has_plan
    assert events[:3] == ["first plan", "given back", "MIP"], events


def test_the_memory_benchmark_measures_every_stage_of_a_solve(tmp_path: Path) -> None:
    """benchmarks.memory wraps the flow of ``planner.solve`` where it runs, and unwraps it."""
    from benchmarks import memory

    session_solve = HighsSession.solve
    rows, alone = memory.measure("small", 60.0, 1e-4, tmp_path, mps=False, first_plan=True)
    stages = [row["stage"] for row in rows]
    for stage in ("read", "build", "hand-off", "release rows", "first plan", "MIP"):
        assert stage in stages, stages
    for stage in ("load values", "fixed LP", "close (HiGHS freed)", "extract", "write"):
        assert stage in stages, stages
    order = [stages.index(name) for name in ("first plan", "MIP", "fixed LP", "extract")]
    assert order == sorted(order), stages
    assert stages[-1] == "planner solve" and alone == {}
    assert all(row["peak_mb"] > 0 for row in rows)
    assert HighsSession.solve is session_solve  # the wrappers are gone
