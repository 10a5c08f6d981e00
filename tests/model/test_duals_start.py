"""The LP with fixed binaries starts from the plan, and prices the same as from scratch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import planner
from planner.model import build_model, derive
from planner.results import PRICED_FAMILIES
from planner.solve import HighsSession, SolveOptions
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
