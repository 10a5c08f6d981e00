"""Every reference case reaches its proven optimum (../shared/reference, copied to tests/data)."""

from __future__ import annotations

import pytest

import planner
from tests.conftest import REFERENCE, expected

CASES = expected()


@pytest.fixture(scope="module", params=sorted(CASES))
def solved(request: pytest.FixtureRequest) -> tuple[str, planner.Result]:
    name = request.param
    case = planner.load(REFERENCE / name)
    return name, planner.solve(case, mip_gap=0.0)


def test_objective_matches_the_proven_optimum(solved: tuple[str, planner.Result]) -> None:
    name, result = solved
    want = CASES[name]
    assert result.status == want["status"] == "optimal"
    assert result.objective == pytest.approx(want["objective"], rel=1e-6)


def test_expected_cost_and_cvar_match(solved: tuple[str, planner.Result]) -> None:
    name, result = solved
    want = CASES[name]
    assert result.summary["expected_cost"] == pytest.approx(want["expected_cost"], rel=1e-5)
    assert result.summary["cvar"] == pytest.approx(want["cvar"], rel=1e-5)


def test_objective_is_the_weighted_mix_of_expected_cost_and_cvar(
    solved: tuple[str, planner.Result],
) -> None:
    _, result = solved
    summary = result.summary
    weight = summary["cvar_weight"]
    fixed = summary["fixed_cost"]
    mixed = (
        fixed
        + (1 - weight) * (summary["expected_cost"] - fixed)
        + weight * (summary["cvar"] - fixed)
    )
    assert mixed == pytest.approx(result.objective, rel=1e-6)


def test_cost_components_add_up_to_expected_cost(solved: tuple[str, planner.Result]) -> None:
    _, result = solved
    summary = result.summary
    parts = (
        "fixed_cost",
        "purchase_cost",
        "activity_cost",
        "holding_cost",
        "shortage_cost",
        "cover_penalty",
    )
    assert sum(summary[key] for key in parts) == pytest.approx(summary["expected_cost"], rel=1e-9)


@pytest.mark.parametrize("name", sorted(CASES))
def test_default_gap_stays_within_the_cases_tolerance(name: str) -> None:
    """With the workbook's own mip_gap (no override), the objective is within that gap."""
    case = planner.load(REFERENCE / name)
    result = planner.solve(case, duals=False)
    tolerance = max(2e-6, case.settings.mip_gap)
    assert result.objective == pytest.approx(CASES[name]["objective"], rel=tolerance)


def test_spend_lost_value_and_cover_penalty_add_up_to_expected_cost(
    solved: tuple[str, planner.Result],
) -> None:
    """B5: spend is the money paid, lost_value the shortage cost; with the cover penalty: all."""
    _, result = solved
    summary = result.summary
    paid = ("fixed_cost", "purchase_cost", "activity_cost", "holding_cost", "change_cost")
    assert summary["spend"] == pytest.approx(sum(summary[key] for key in paid), rel=1e-12)
    assert summary["lost_value"] == summary["shortage_cost"]
    total = summary["spend"] + summary["lost_value"] + summary["cover_penalty"]
    assert total == pytest.approx(summary["expected_cost"], rel=1e-9)


def test_risk_premium_is_what_cvar_adds(solved: tuple[str, planner.Result]) -> None:
    _, result = solved
    summary = result.summary
    if summary["cvar_weight"] == 0:
        assert summary["risk_premium"] == 0
    else:
        premium = result.objective - summary["expected_cost"]
        assert summary["risk_premium"] == pytest.approx(premium, rel=1e-9, abs=1e-9)
