"""The Python API for sensitivity studies: load, modify, solve, read tables."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest

import planner
from tests.conftest import REFERENCE


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


def test_a_node_limit_before_any_plan_is_not_a_plan(hand: planner.Case) -> None:
    """A node limit stops at the same place on any machine, busy or not."""
    result = planner.solve(hand, highs_options={"mip_max_nodes": 0})
    assert (result.status, result.has_plan, result.objective) == ("time_limit", False, None)
    assert result.tables == {}
    assert result.summary["message"] == (
        "solver limit reached (HiGHS: Solution limit reached) before any feasible plan was found"
    )


def test_a_limit_with_a_plan_is_not_called_optimal(hand: planner.Case) -> None:
    """Stopped at HiGHS's first plan: reported with its gap, never as optimal."""
    result = planner.solve(hand, highs_options={"mip_max_improving_sols": 1})
    assert (result.status, result.has_plan) == ("time_limit", True)
    assert result.objective == pytest.approx(21_702)  # the first plan is the best here ...
    assert result.summary["mip_gap"] > 1e-4  # ... but it is not proven
    assert result.summary["message"] == (
        "solver limit reached (HiGHS: Solution limit reached); the best plan found is "
        "reported with its gap"
    )
    assert not result.tables["Duals"].empty


@pytest.mark.parametrize(
    ("stopped", "message"),
    [
        ("kTimeLimit", "time limit reached"),
        ("kSolutionLimit", "solver limit reached (HiGHS: Solution limit reached)"),
        ("kIterationLimit", "solver limit reached (HiGHS: Iteration limit reached)"),
        ("kObjectiveBound", "solver limit reached (HiGHS: Bound on objective reached)"),
        ("kObjectiveTarget", "solver limit reached (HiGHS: Target for objective reached)"),
    ],
)
def test_every_limit_with_a_plan_is_time_limit(
    hand: planner.Case, monkeypatch: pytest.MonkeyPatch, stopped: str, message: str
) -> None:
    """Whichever limit HiGHS reports (faked here, as a time limit cannot be hit on cue)."""
    import highspy

    real = highspy.Highs.getModelStatus
    faked = getattr(highspy.HighsModelStatus, stopped)

    def status(self: highspy.Highs) -> highspy.HighsModelStatus:
        found = real(self)
        return faked if found == highspy.HighsModelStatus.kSolutionLimit else found

    monkeypatch.setattr(highspy.Highs, "getModelStatus", status)
    result = planner.solve(hand, highs_options={"mip_max_improving_sols": 1})
    assert (result.status, result.has_plan) == ("time_limit", True)
    assert result.summary["message"] == f"{message}; the best plan found is reported with its gap"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"no_such_option": 1}, "HiGHS has no option 'no_such_option'"),
        ({"mip_max_nodes": "ten"}, "HiGHS option 'mip_max_nodes' does not take 'ten'"),
        ({"mip_max_nodes": -1}, "HiGHS option 'mip_max_nodes' does not take -1"),
        ({"mip_max_nodes": [1]}, "HiGHS option 'mip_max_nodes' does not take [1]"),
        ({"time_limit": 5}, "HiGHS option 'time_limit' is set by the planner: use time_limit_s="),
        ({"threads": 4}, "HiGHS option 'threads' is set by the planner: use threads="),
        ({"output_flag": True}, "HiGHS option 'output_flag' is set by the planner"),
    ],
)
def test_bad_highs_options_are_refused_before_solving(
    hand: planner.Case, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        planner.solve(hand, highs_options=options)


def test_highs_options_limit_the_plans_search_only() -> None:
    """The LP that prices the plan starts from HiGHS's defaults, not the search's limits."""
    case = planner.load(REFERENCE / "case-03.xlsx")  # its pricing LP needs iterations
    limited = planner.solve(case, highs_options={"simplex_iteration_limit": 0})
    assert limited.status == "optimal"  # the MIP's own LPs do not take this limit
    assert len(limited.tables["Duals"]) == len(planner.solve(case).tables["Duals"]) > 0


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


def test_progress_reports_the_best_plan_while_solving(japan_small_case: planner.Case) -> None:
    case = japan_small_case  # the Japan case with three of its events: seconds, not minutes
    seen: list[dict[str, Any]] = []
    result = planner.solve(case, on_progress=seen.append, duals=False)
    with_plan = [event for event in seen if event["best"] is not None]
    # the plan written is the solver's best with its binaries rounded and its purchases
    # re-solved (they are fractional here): as good or better, within the gap
    assert with_plan and result.objective <= with_plan[-1]["best"] * (1 + 1e-9)
    assert result.objective == pytest.approx(with_plan[-1]["best"], rel=1e-4)
    assert all(  # a first plan may come before any bound (the Japan case's does)
        event["gap"] >= 0 and (event["bound"] is None or event["bound"] <= event["best"] + 1e-6)
        for event in with_plan
    )

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("a display that fails")

    assert planner.solve(case, on_progress=broken, duals=False).objective == result.objective


def test_a_badly_scaled_case_the_solver_calls_infeasible_is_explained_by_its_numbers() -> None:
    """Buying nothing is always a plan once forcing rules are relaxed: say what went wrong."""
    case = planner.load(REFERENCE / "case-06.xlsx")
    case.elements["shortage_cost"] = 3e8  # within the input's bounds, beside costs of 0.02
    result = planner.solve(case, duals=False)
    if result.status == "infeasible":  # HiGHS 1.x loses its way on these numbers
        [issue] = result.conflicts
        assert issue.where.startswith("Elements!")
        assert "span too many orders of magnitude" in issue.message
    else:  # a solver that copes gives a plan, which is right too
        assert result.has_plan


def test_each_warning_is_counted_once_and_written(tmp_path: Any) -> None:
    """Summary counts what the Warnings sheet lists: a loaded warning once, a new one added."""
    case = planner.load(REFERENCE / "case-01.xlsx")
    assert len(case.warnings) == 1  # Elements!H3: Dy's cover target above its storage
    result = planner.solve(case)
    assert result.summary["warnings"] == 1 == len(result.warnings)

    changed = case.copy()
    changed.elements.loc["Dy", "cover_days"] *= 3  # a new warning, found only at the solve
    result = planner.solve(changed)
    written = pd.read_excel(result.write(tmp_path / "out.xlsx"), sheet_name="Warnings")
    assert result.summary["warnings"] == len(written) == 2
    assert any("212.4" in message for message in written["message"])


def test_a_solve_does_not_check_the_sweep_sheets_variants(hand: planner.Case) -> None:
    """A solve reads no Sweep sheet: its variants are the loading's and the sweep's to check."""
    case = hand.copy()
    case.sweep = pd.DataFrame({"_row": [2], "change": ["capacity[Nd-XX]"], "values": ["1,2"]})
    with pytest.raises(planner.InputError, match=r"Sweep.*no offer 'Nd-XX'"):
        planner.validate(case)
    assert planner.solve(case).objective == pytest.approx(21_702)
