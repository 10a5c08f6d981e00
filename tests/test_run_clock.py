"""HiGHS's time limit is on the instance's run clock: each later run gets its own limit.

Found measuring issue 24.4: after a 300 s MIP, the LP with the binaries
fixed, given 75 s, stopped at once (the clock was already past 75 s), so the
largest size was written without duals. No timing is asserted: only the
limit HiGHS is given.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

import pytest

import planner
from planner.first_plan import first_plan
from planner.model import build_model, derive
from planner.solve import HighsSession, SolveOptions, run_time_limit
from tests.conftest import REFERENCE

FIRST_PLAN = importlib.import_module("planner.first_plan")


def _solved() -> HighsSession:
    model = build_model(derive(planner.load(REFERENCE / "case-03.xlsx")))
    session = HighsSession(model, SolveOptions(first_plan=False))
    assert session.solve(600.0, 1e-4).has_plan
    return session


def test_a_later_run_of_the_same_highs_has_the_whole_of_its_limit() -> None:
    session = _solved()
    clock = session.highs.getRunTime()
    assert clock > 0
    session._set_options(5.0, None)
    assert session.highs.getOptionValue("time_limit")[1] == pytest.approx(clock + 5.0)
    session._set_options(None, None)
    assert session.highs.getOptionValue("time_limit")[1] == float("inf")
    assert run_time_limit(session.highs, 0) == float("inf")


def test_the_first_plans_second_lp_has_what_is_left_of_its_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The open construction's LP runs after the closed one's, in the same copy of the model.

    The construction's own clock is stopped here: what is left of its time is
    then all of it, and HiGHS's limit must be that past the run clock.
    """
    session = _solved()
    limits: list[tuple[float, float]] = []
    run = type(session.highs).run

    def spy(highs: Any) -> Any:
        limits.append((highs.getRunTime(), highs.getOptionValue("time_limit")[1]))
        return run(highs)

    monkeypatch.setattr(type(session.highs), "run", spy)
    monkeypatch.setattr(FIRST_PLAN, "time", SimpleNamespace(perf_counter=lambda: 0.0))
    session._set_options(None, None)
    first_plan(session.highs, session.integer, 600.0)
    later = [(clock, limit) for clock, limit in limits if clock > 0]
    assert later, limits  # the open construction's LP, on a clock the closed one's LP ran
    assert all(limit == clock + 600.0 for clock, limit in later), later
