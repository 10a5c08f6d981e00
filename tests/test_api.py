"""The Python API for sensitivity studies: load, modify, solve, read tables."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import planner
from tests.conftest import REFERENCE, ROOT


@pytest.fixture(scope="module")
def hand() -> planner.Case:
    return planner.load(REFERENCE / "case-00-hand.xlsx")


def test_result_exposes_every_table(hand: planner.Case) -> None:
    result = planner.solve(hand)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(21_702)
    for name in (
        "Purchases",
        "Contracts",
        "Activities",
        "Adoption",
        "Stock",
        "Shortage",
        "Shares",
        "Duals",
        "ScenarioCosts",
    ):
        assert isinstance(result.tables[name], pd.DataFrame)
    assert result.purchases is result.tables["Purchases"]
    assert result.scenario_costs is result.tables["ScenarioCosts"]
    assert result.summary_frame().columns.tolist() == ["key", "value"]
    html = result._repr_html_()
    assert "<table" in html and "21702" in html


def test_a_policy_changed_in_python_changes_the_plan(hand: planner.Case) -> None:
    loose = hand.copy()
    loose.policies.loc[loose.policies["policy"] == "china_share_max", "value"] = 1.0
    tight = hand.copy()
    tight.policies.loc[tight.policies["policy"] == "china_share_max", "value"] = 0.3
    base, looser, tighter = (planner.solve(c, mip_gap=0).objective for c in (hand, loose, tight))
    # no cap: all Nd from China at 50/t, no contract with Lynas: 2 x 100 x 50 + Dy 8,202
    assert looser == pytest.approx(18_202)
    assert looser < base < tighter
    assert hand.policies["value"].tolist() == [0.5]  # the original case is untouched


def test_more_capacity_never_costs_more(hand: planner.Case) -> None:
    bigger = hand.copy()
    bigger.offers.loc["Dy-CN", "capacity"] = 13.0
    assert planner.solve(bigger, mip_gap=0).objective == pytest.approx(21_702 - 1_000 + 300)


def test_unknown_option_is_refused(hand: planner.Case) -> None:
    with pytest.raises(TypeError, match="unknown solve option"):
        planner.solve(hand, timelimit=3)


def test_time_limit_before_any_plan_is_not_a_plan() -> None:
    case = planner.load(REFERENCE / "case-05.xlsx")
    result = planner.solve(case, time_limit_s=1e-6)
    assert result.status == "time_limit"
    assert not result.has_plan
    assert result.objective is None
    assert result.tables == {}


def test_gap_target_is_reported_and_respected() -> None:
    case = planner.load(REFERENCE / "case-05.xlsx")
    result = planner.solve(case, mip_gap=0.05)
    assert result.status == "optimal"
    assert result.summary["mip_gap_target"] == 0.05
    assert result.summary["mip_gap"] <= 0.05
    assert result.objective >= 1581880.2736125216 * (1 - 1e-9)


def test_same_input_same_plan(hand: planner.Case) -> None:
    first, second = planner.solve(hand), planner.solve(hand)
    pd.testing.assert_frame_equal(first.tables["Purchases"], second.tables["Purchases"])
    assert first.summary["input_sha256"] == second.summary["input_sha256"]
    assert first.summary["case_sha256"] == second.summary["case_sha256"]


def test_modified_case_gets_a_new_case_hash(hand: planner.Case) -> None:
    changed = hand.copy()
    changed.elements.loc["Dy", "shortage_cost"] = 2_000.0
    assert changed.content_sha256() != hand.content_sha256()


def test_progress_reports_the_best_plan_while_solving() -> None:
    case = planner.load(ROOT / "inputs" / "japan-2026.xlsx")
    seen: list[dict[str, Any]] = []
    result = planner.solve(case, on_progress=seen.append, duals=False)
    with_plan = [event for event in seen if event["best"] is not None]
    assert with_plan and with_plan[-1]["best"] == pytest.approx(result.objective, rel=1e-9)
    assert all(  # a first plan may come before any bound (the Japan case's does)
        event["gap"] >= 0 and (event["bound"] is None or event["bound"] <= event["best"] + 1e-6)
        for event in with_plan
    )

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("a display that fails")

    assert planner.solve(case, on_progress=broken, duals=False).objective == result.objective
