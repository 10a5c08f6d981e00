"""The LP with fixed binaries starts from the plan, and prices the same as from scratch."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

import planner
from planner.model import build_model, derive
from planner.results import PRICED_FAMILIES
from planner.solve import (
    DUALS_ITERATIONS_PER_ROW,
    DUALS_MIN_ITERATIONS,
    DUALS_STARTS,
    HighsSession,
    SolveOptions,
    duals_iteration_budget,
)
from tests.conftest import REFERENCE


class _Recorder:
    """Forwards to a Highs instance and notes the starting points handed to it."""

    def __init__(self, highs: Any) -> None:
        self._highs = highs
        self.starts: list[np.ndarray] = []

    def setSolution(self, solution: Any) -> Any:
        self.starts.append(np.asarray(solution.col_value, dtype=float))
        return self._highs.setSolution(solution)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._highs, name)


def _solved(path: Any) -> HighsSession:
    session = HighsSession(build_model(derive(planner.load(path))), SolveOptions())
    assert session.solve(60, 0.0).has_plan
    return session


def test_the_duals_lp_starts_from_the_plan() -> None:
    session = _solved(REFERENCE / "case-03.xlsx")
    plan = np.asarray(session.start, dtype=float)
    recorder = _Recorder(session.highs)
    session.highs = recorder
    warm = session.duals(PRICED_FAMILIES)
    assert len(recorder.starts) == 1
    start = recorder.starts[0]
    assert np.allclose(start[~session.integer], plan[~session.integer])
    assert np.array_equal(start[session.integer], np.round(plan[session.integer]))

    cold = _solved(REFERENCE / "case-03.xlsx")
    cold.start = None  # no starting point: the LP from the MIP's state
    from_scratch = cold.duals(PRICED_FAMILIES)
    assert len(warm) == len(from_scratch)
    assert list(warm) == list(from_scratch)
    for key, value in warm.items():
        assert value == pytest.approx(from_scratch[key], abs=1e-6), key


def _priced(session: HighsSession, start: str) -> tuple[dict[Any, float], float | None, int]:
    session.highs.clearSolver()
    duals = session.duals(PRICED_FAMILIES, start=start)
    return duals, session.fixed_objective, session.fixed_iterations or 0


def test_every_start_prices_the_same_lp() -> None:
    session = _solved(REFERENCE / "case-03.xlsx")
    priced = {start: _priced(session, start) for start in DUALS_STARTS}
    first, objective, _ = priced["presolve"]
    assert first
    for start, (duals, value, _) in priced.items():
        assert value == pytest.approx(objective, rel=1e-9), start
        assert list(duals) == list(first)
        for key, dual in duals.items():
            assert dual == pytest.approx(first[key], abs=1e-6), (start, key)


def test_auto_starts_from_the_plan_within_its_budget_and_presolves_past_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = _solved(REFERENCE / "case-03.xlsx")
    plan = _priced(session, "plan")
    presolved = _priced(session, "presolve")
    auto = _priced(session, "auto")
    assert auto == plan  # the plan's LP took fewer iterations than the budget
    assert plan[2] < duals_iteration_budget(session.handed.row_count)

    module = sys.modules[HighsSession.__module__]  # planner.solve is also the facade's function
    monkeypatch.setattr(module, "duals_iteration_budget", lambda rows: 1)
    duals, objective, iterations = _priced(session, "auto")
    assert duals == presolved[0] and objective == presolved[1]  # presolved, from scratch
    assert iterations == presolved[2] + 1  # the one iteration from the plan, then presolved


def test_an_unknown_start_is_refused() -> None:
    session = _solved(REFERENCE / "case-03.xlsx")
    with pytest.raises(ValueError, match="unknown start"):
        session.duals(PRICED_FAMILIES, start="warm")


def test_the_budget_grows_with_the_rows_from_a_floor() -> None:
    assert duals_iteration_budget(10) == DUALS_MIN_ITERATIONS
    assert duals_iteration_budget(1_000_000) == int(DUALS_ITERATIONS_PER_ROW * 1_000_000)
