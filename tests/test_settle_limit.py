"""The LP with the contract decisions fixed is bounded in time (issue 24).

At the largest generated size the plan HiGHS found at its time limit then took
over an hour in that LP; now it gets what is left of the limit (at least a
share of it) and past that the plan written is the MIP's own, without duals.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import planner
import planner.api as api
from planner.api import SETTLE_MIN_SECONDS, SETTLE_SHARE, settle_limit


def test_the_settle_limit_is_whats_left_of_the_time_limit_and_at_least_a_share() -> None:
    assert settle_limit(None, 5.0) is None
    assert settle_limit(float("inf"), 5.0) is None
    assert settle_limit(300.0, 100.0) == pytest.approx(200.0)
    assert settle_limit(300.0, 300.0) == pytest.approx(SETTLE_SHARE * 300.0)
    assert settle_limit(4.0, 4.0) == pytest.approx(SETTLE_MIN_SECONDS)


def test_a_fixed_lp_past_its_limit_writes_the_mips_plan_without_duals(
    japan_small_case: planner.Case,
    japan_small_result: planner.Result,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    full = japan_small_result
    assert full.status == "optimal" and len(full.tables["Duals"]) > 0
    monkeypatch.setattr(api, "settle_limit", lambda time_limit, used: 1e-6)
    cut = planner.solve(japan_small_case)
    assert cut.status == "optimal"  # the MIP's own status and plan
    assert cut.objective == pytest.approx(full.objective, rel=1e-6)
    assert len(cut.tables["Duals"]) == 0
    assert "did not finish within" in cut.summary["message"]
    assert cut.summary["warnings"] == full.summary["warnings"] + 1
    out = cut.write(tmp_path / "cut.xlsx")  # the plan holds every rule: checked before writing
    assert Path(out).exists()
