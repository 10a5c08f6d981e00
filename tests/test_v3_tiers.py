"""Model v3 B1 (shortage tiers by use) and B3 (working capital on stock).

The hand cases of tests/data/reference/v3 (derivations in its README), the
plan changes each feature makes, their validation errors with their cells,
the plan's re-check, the infeasibility explanation and the in-place re-solve.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import planner
from planner.api import Resolver
from planner.changes import ChangeError, apply_change
from planner.errors import InputError
from planner.model import build_model, derive
from planner.results import read_plan
from planner.solve import HighsSession, SolveOptions
from planner.verify import verify_plan
from tests.conftest import REFERENCE, write_workbook

V3 = REFERENCE / "v3"
EXPECTED = json.loads((V3 / "expected.json").read_text())
MINE = ("v3-b1-shortage-tiers", "v3-b3-working-capital", "v3-b1b3-tiers-budget")


def _load(name: str) -> planner.Case:
    return planner.load(V3 / f"{name}.xlsx")


def _solve(case: planner.Case) -> planner.Result:
    result = planner.solve(case, mip_gap=0.0)
    assert result.status == "optimal"
    return result


def _bought(result: planner.Result, element: str) -> float:
    purchases = result.tables["Purchases"]
    return float(purchases.loc[purchases["element"] == element, "quantity"].sum())


# ------------------------------------------------------------- the hand cases


@pytest.mark.parametrize("name", MINE)
def test_hand_case_objective_spend_and_lost_value(name: str) -> None:
    expected = EXPECTED[f"{name}.xlsx"]
    summary = _solve(_load(name)).summary
    assert summary["objective"] == pytest.approx(expected["objective"], rel=1e-6)
    lost_value = summary["shortage_cost"]  # B5's lost_value is this key
    spend = summary["expected_cost"] - lost_value - summary["cover_penalty"]
    assert lost_value == pytest.approx(expected["lost_value"], rel=1e-6, abs=1e-6)
    assert spend == pytest.approx(expected["spend"], rel=1e-6)
    parts = sum(summary[key] for key in planner.results.COST_KEYS)
    assert parts == pytest.approx(summary["expected_cost"], rel=1e-9)


def test_b1_shortage_is_reported_by_use_with_its_value() -> None:
    shortage = _solve(_load("v3-b1-shortage-tiers")).tables["Shortage"]
    rows = shortage[["element", "use", "quantity", "value", "demand"]].to_dict("records")
    assert rows == [
        {"element": "Nd", "use": "polishing", "quantity": pytest.approx(30), "value": 150.0,
         "demand": 100.0}
    ]  # fmt: skip


def test_b1b3_shortage_rows_split_over_the_tiers() -> None:
    shortage = _solve(_load("v3-b1b3-tiers-budget")).tables["Shortage"]
    got = {(row.element, row.use): (row.quantity, row.value) for row in shortage.itertuples()}
    assert got == {
        ("Nd", "consumer-electronics"): (pytest.approx(20), pytest.approx(3000)),
        ("Dy", "industrial-motors"): (pytest.approx(10), pytest.approx(5000)),
    }


def test_a_shortage_spanning_tiers_has_a_row_per_tier_cheapest_first() -> None:
    case = _load("v3-b1-shortage-tiers")
    case.offers.loc["Nd-AU", "capacity"] = 40.0  # 60 short: polishing 30, motors-ice 30
    result = _solve(case)
    shortage = result.tables["Shortage"]
    assert list(shortage["use"]) == ["polishing", "motors-ice"]
    assert list(shortage["quantity"]) == pytest.approx([30, 30])
    assert list(shortage["value"]) == pytest.approx([150, 600])
    assert result.summary["shortage_cost"] == pytest.approx(750)


def test_an_element_without_tiers_reports_its_shortage_as_other() -> None:
    case = _load("v3-b1-shortage-tiers")
    case.shortage_tiers = case.shortage_tiers.iloc[0:0]
    case.offers.loc["Nd-AU", "capacity"] = 90.0
    shortage = _solve(case).tables["Shortage"]
    assert list(shortage["use"]) == ["other"]
    assert list(shortage["value"]) == pytest.approx([10 * 50])


def test_blank_uses_are_named_tier_n_by_cost() -> None:
    case = _load("v3-b1-shortage-tiers")
    case.shortage_tiers["use"] = None
    case.offers.loc["Nd-AU", "capacity"] = 0.0  # all 100 short
    shortage = _solve(case).tables["Shortage"]
    assert list(shortage["use"]) == ["tier 1", "tier 2", "other"]  # cost 5, 20, then 50
    assert list(shortage["quantity"]) == pytest.approx([30, 50, 20])
    assert list(shortage["value"]) == pytest.approx([150, 1000, 1000])


# ------------------------------------------------------- the plan each feature changes


def test_b1_a_cheap_tier_absorbs_the_shortage_so_fewer_tonnes_are_bought() -> None:
    tiered = _solve(_load("v3-b1-shortage-tiers"))
    flat = _load("v3-b1-shortage-tiers")
    flat.shortage_tiers = flat.shortage_tiers.iloc[0:0]
    untiered = _solve(flat)
    assert _bought(tiered, "Nd") == pytest.approx(70)
    assert _bought(untiered, "Nd") == pytest.approx(100)
    assert untiered.objective == pytest.approx(1000)


def test_b1_the_tier_cost_decides_whether_its_tonnes_are_bought() -> None:
    case = _load("v3-b1-shortage-tiers")
    apply_change(case, "tier_cost[Nd,polishing]", 12.0)  # dearer than the price 10: buy
    assert _bought(_solve(case), "Nd") == pytest.approx(100)


def test_b3_the_budget_limits_buying_ahead() -> None:
    with_budget = _solve(_load("v3-b3-working-capital"))
    stock = with_budget.tables["Stock"].set_index("period")
    assert stock.loc["P1", "stock"] == pytest.approx(60)  # 600 / price 10
    assert stock.loc["P1", "stock_value"] == pytest.approx(600)  # the budget, spent
    free = _load("v3-b3-working-capital")
    free.settings.stock_value_max = None
    unlimited = _solve(free)
    assert unlimited.tables["Stock"].set_index("period").loc["P1", "stock"] == pytest.approx(100)
    assert unlimited.objective == pytest.approx(1000)


def test_b3_under_a_budget_the_element_with_the_costliest_uses_is_stocked_first() -> None:
    case = _load("v3-b1b3-tiers-budget")
    case.settings.stock_value_max = 4_000.0  # room for Dy's `other` 10 t only
    result = _solve(case)
    assert _bought(result, "Dy") == pytest.approx(10)
    assert _bought(result, "Nd") == pytest.approx(0)
    case.settings.stock_value_max = 9_000.0  # then Nd's `other` (3 per budget unit)
    result = _solve(case)
    assert _bought(result, "Dy") == pytest.approx(10)
    assert _bought(result, "Nd") == pytest.approx(50)


def test_b1b3_without_the_tiers_the_flat_penalties_decide() -> None:
    case = _load("v3-b1b3-tiers-budget")
    case.shortage_tiers = case.shortage_tiers.iloc[0:0]
    result = _solve(case)
    assert result.objective == pytest.approx(36_000)
    assert _bought(result, "Dy") == pytest.approx(20)
    assert _bought(result, "Nd") == pytest.approx(40)


def test_tier_bounds_include_the_extra_demand_of_substitution() -> None:
    """Q = d + what substitution adds (A1): each tier widens in proportion."""
    case = _load("v3-b1-shortage-tiers")
    case.elements.loc["Ce"] = case.elements.loc["Nd"]
    case.elements.loc["Ce", "shortage_cost"] = 1_000.0
    case.elements.loc["Ce", "_row"] = pd.NA
    case.demand.loc[len(case.demand)] = {"_row": pd.NA, "element": "Ce", "period": "P1",
                                          "quantity": 40.0}  # fmt: skip
    case.activities.loc["swap"] = {"_row": pd.NA, "kind": "substitution", "capacity": 40.0,
                                   "unit_cost": 0.0, "fixed_cost": 0.0}  # fmt: skip
    for element, value in (("Ce", 1.0), ("Nd", -1.0)):  # avoids Ce, needs Nd
        case.activity_yields.loc[len(case.activity_yields)] = {
            "_row": pd.NA, "activity": "swap", "element": element, "yield": value
        }  # fmt: skip
    case.offers.loc["Nd-AU", "capacity"] = 0.0  # no Nd at all: every unit short
    result = _solve(case)
    shortage = result.tables["Shortage"]
    nd = shortage[shortage["element"] == "Nd"].set_index("use")["quantity"]
    # Q = 100 + 40: polishing 0.3 Q, motors-ice 0.5 Q, other 0.2 Q
    assert nd.to_dict() == pytest.approx({"polishing": 42, "motors-ice": 70, "other": 28})
    model = build_model(derive(case))
    assert len(model.tier_limit) == 3  # rows with the substitution's term, not bounds
    assert len(model.unmet_limit) == 0  # the tiers' rows carry A1's bound


def test_a_v2_workbook_builds_no_tier_or_budget_rows() -> None:
    for name in ("v2-a1-unmet-bound", "v2-a4-stock-release"):
        model = build_model(derive(planner.load(REFERENCE / "v2" / f"{name}.xlsx")))
        assert len(model.shortage_by_use_units) == 0
        assert len(model.shortage_by_use_definition) == len(model.tier_limit) == 0
        assert len(model.stock_value_limit) == 0


# ------------------------------------------------------------------- validation

ELEMENTS_HEADER = ["element", "shortage_cost", "initial_stock", "reference_price"]


def _sheets(**changes: Any) -> dict[str, list[list[Any]]]:
    sheets: dict[str, list[list[Any]]] = {
        "Periods": [["period", "days"], ["P1", 90], ["P2", 90]],
        "Elements": [ELEMENTS_HEADER, ["Nd", 50, 0, 10], ["Dy", 500, 0, 400]],
        "Demand": [["element", "period", "quantity"], ["Nd", "P1", 100], ["Dy", "P1", 10]],
        "Offers": [
            ["offer", "element", "country", "unit_cost", "capacity"],
            ["Nd-AU", "Nd", "AU", 10, 100],
            ["Dy-AU", "Dy", "AU", 100, 100],
        ],
        "ShortageTiers": [["element", "use", "share", "cost"], ["Nd", "polishing", 0.3, 5]],
        "Countries": [["country", "risk"], ["AU", 0.1]],
    }
    sheets.update(changes)
    return sheets


def _issues(tmp_path: Path, sheets: dict[str, list[list[Any]]]) -> dict[str, str]:
    with pytest.raises(InputError) as caught:
        planner.load(write_workbook(tmp_path / "case.xlsx", sheets))
    return {issue.where: issue.message for issue in caught.value.issues}


def test_the_small_case_is_valid(tmp_path: Path) -> None:
    case = planner.load(write_workbook(tmp_path / "case.xlsx", _sheets()))
    assert not [w for w in case.warnings if "ShortageTiers" in w.where]


def test_every_shortage_tier_problem_is_named_by_its_cell_at_once(tmp_path: Path) -> None:
    tiers = [
        ["element", "use", "share", "cost"],
        ["Nd", "polishing", 0.6, 5],  # row 2
        ["Nd", "glass", 0.5, 60],  # 3: shares 1.1; cost above shortage_cost 50
        ["Nd", "other", 0.1, 70],  # 4: reserved label; above shortage_cost too
        ["Dy", None, 0.2, 100],  # 5: tier 3 (by cost: magnets, motors, this)
        ["Dy", "tier 3", 0.2, 200],  # 6: repeats tier 3
        ["Dy", "motors", 0, 1],  # 7: share must be > 0
        ["Dy", "magnets", 0.1, -1],  # 8: cost below 0
        ["Xx", "any", 0.1, 1],  # 9: unknown element
    ]
    issues = _issues(tmp_path, _sheets(ShortageTiers=tiers))
    assert "sum to 1.2" in issues["ShortageTiers!C4"]
    shortage = issues["Elements!B2"]
    assert "ShortageTiers!D3" in shortage and "ShortageTiers!D4" in shortage
    assert "ShortageTiers!D2" not in shortage
    assert "Elements!B2" in issues["ShortageTiers!D3"]
    assert "Elements!B2" in issues["ShortageTiers!D4"]
    assert "reserved" in issues["ShortageTiers!B4"]
    assert "'tier 3' of Dy is given twice" in issues["ShortageTiers!B6"]
    assert "ShortageTiers!B5" in issues["ShortageTiers!B6"]
    assert "share must be > 0" in issues["ShortageTiers!C7"]
    assert "cost must be >= 0" in issues["ShortageTiers!D8"]
    assert "unknown element 'Xx'" in issues["ShortageTiers!A9"]


def test_shares_summing_to_one_are_accepted_within_rounding(tmp_path: Path) -> None:
    tiers = [["element", "use", "share", "cost"], ["Nd", "a", 0.7, 5], ["Nd", "b", 0.3 + 1e-12, 6]]
    case = planner.load(write_workbook(tmp_path / "case.xlsx", _sheets(ShortageTiers=tiers)))
    data = derive(case)
    assert data.segment_use == ["a", "b", "other", "other"]
    assert data.segment_share[2] == 0.0  # nothing left for shortage_cost


def test_a_budget_needs_every_reference_price(tmp_path: Path) -> None:
    elements = [ELEMENTS_HEADER, ["Nd", 50, 0, None], ["Dy", 500, 0, None]]
    settings = [["key", "value"], ["stock_value_max", 1000]]
    issues = _issues(tmp_path, _sheets(Elements=elements, Settings=settings))
    assert "reference_price of Nd is required: Settings stock_value_max" in issues["Elements!D2"]
    assert "Elements!D3" in issues


def test_prices_are_not_needed_without_a_budget(tmp_path: Path) -> None:
    elements = [ELEMENTS_HEADER, ["Nd", 50, 0, None], ["Dy", 500, 0, None]]
    planner.load(write_workbook(tmp_path / "case.xlsx", _sheets(Elements=elements)))


@pytest.mark.parametrize("value", [0, -5])
def test_the_budget_must_be_positive(tmp_path: Path, value: float) -> None:
    settings = [["key", "value"], ["stock_value_max", value]]
    issues = _issues(tmp_path, _sheets(Settings=settings))
    assert issues["Settings!B2"].startswith("stock_value_max must be > 0")


def test_initial_stock_the_first_period_cannot_use_must_fit_the_budget(tmp_path: Path) -> None:
    # Nd: 300 held, 100 used in P1: 200 x 10 = 2,000 left; Dy 10 + 5 left x 400 = 2,000
    elements = [ELEMENTS_HEADER, ["Nd", 50, 300, 10], ["Dy", 500, 15, 400]]
    settings = [["key", "value"], ["stock_value_max", 3999]]
    issues = _issues(tmp_path, _sheets(Elements=elements, Settings=settings))
    assert list(issues) == ["Settings!B2"]
    assert "below 4000" in issues["Settings!B2"] and "scenario base" in issues["Settings!B2"]
    settings = [["key", "value"], ["stock_value_max", 4000]]
    sheets = _sheets(Elements=elements, Settings=settings)
    planner.load(write_workbook(tmp_path / "ok.xlsx", sheets))


def test_the_initial_stock_check_reads_each_scenarios_demand(tmp_path: Path) -> None:
    elements = [ELEMENTS_HEADER, ["Nd", 50, 100, 10], ["Dy", 500, 10, 400]]
    settings = [["key", "value"], ["stock_value_max", 100]]
    scenarios = [["scenario", "probability"], ["base", 0.5], ["slump", 0.5]]
    disruptions = [
        ["scenario", "target_type", "element", "first_period", "last_period", "capacity_factor"],
        ["slump", "demand", "Nd", "P1", "P1", 0.5],  # 50 t of Nd left: 500
    ]
    sheets = _sheets(
        Elements=elements, Settings=settings, Scenarios=scenarios, Disruptions=disruptions
    )
    issues = _issues(tmp_path, sheets)
    assert "below 500" in issues["Settings!B2"] and "scenario slump" in issues["Settings!B2"]


# ---------------------------------------------------------------- the plan's re-check


def _plan_of(name: str, capacity: float | None = None) -> tuple[Any, Any]:
    case = _load(name)
    if capacity is not None:
        case.offers["capacity"] = capacity
    data = derive(case)
    model = build_model(data)
    report = HighsSession(model, SolveOptions()).solve(60.0, 0.0)
    assert report.status == "optimal"
    return read_plan(model, data), data


def test_verify_accepts_the_solved_plans() -> None:
    for name in MINE:
        plan, data = _plan_of(name)
        assert verify_plan(plan, data) == []


def test_verify_catches_a_shortage_above_its_tier_share() -> None:
    plan, data = _plan_of("v3-b1-shortage-tiers", capacity=40.0)  # 60 short: 30 + 30
    polishing = data.segment_use.index("polishing")
    motors = data.segment_use.index("motors-ice")
    plan.by_use[polishing] += 5.0  # 35 t in a 30 t tier
    plan.by_use[motors] -= 5.0  # the sum still matches u
    problems = verify_plan(plan, data)
    assert problems == [
        "shortage of Nd in use polishing above its share 0.3 of the requirement in P1 "
        "(scenario base)"
    ]


def test_verify_catches_uses_that_do_not_add_up_to_the_shortage() -> None:
    plan, data = _plan_of("v3-b1-shortage-tiers")
    plan.by_use[data.segment_use.index("polishing")] -= 5.0
    assert any("shortage by use" in problem for problem in verify_plan(plan, data))


def test_verify_catches_stock_above_the_budget() -> None:
    plan, data = _plan_of("v3-b3-working-capital")
    plan.stock[0, 0, :] += 1.0  # 61 t x 10 = 610 > 600 (and the balance breaks too)
    problems = verify_plan(plan, data)
    assert "stock worth 610 above stock_value_max 600 in P1 (scenario base)" in problems


# ---------------------------------------------------------- an infeasible budget


def test_an_infeasible_budget_is_explained_with_the_rules_that_force_the_stock() -> None:
    case = _load("v3-b3-working-capital")
    case.offers.loc["Nd-A", ["contracted", "min_take"]] = ["yes", 100.0]  # 1,000 in stock
    result = planner.solve(case)
    assert result.status == "infeasible"
    where = {issue.where: issue.message for issue in result.conflicts}
    budget = case.source.settings_cells["stock_value_max"]
    assert budget == "Settings!B2"
    assert set(where) == {budget, "Offers!J2"}
    assert where[budget].startswith("stock_value_max 600")


# ------------------------------------------------------------- sweeps, in place


def test_tier_changes_name_element_and_use() -> None:
    case = _load("v3-b1-shortage-tiers")
    apply_change(case, "tier_share[Nd,motors-ice]", 0.6)
    assert case.shortage_tiers["share"].tolist() == [0.6, 0.3]
    with pytest.raises(ChangeError, match="no ShortageTiers row"):
        apply_change(case, "tier_cost[Nd,glass]", 1.0)


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        ("v3-b1b3-tiers-budget", [("stock_value_max", 9_000.0), ("stock_value_max", 20_000.0)]),
        ("v3-b1b3-tiers-budget", [("tier_cost[Nd,consumer-electronics]", 90.0)]),
        ("v3-b1b3-tiers-budget", [("tier_share[Dy,industrial-motors]", 0.9)]),
        ("v3-b1b3-tiers-budget", [("Elements.reference_price[Dy]", 100.0)]),
        ("v3-b1-shortage-tiers", [("tier_cost[Nd,polishing]", 30.0)]),  # reorders the tiers
        ("v3-b1-shortage-tiers", [("stock_value_max", 1.0)]),  # a budget appears: rebuilt
    ],
)
def test_a_sweep_change_in_place_solves_like_a_fresh_build(
    name: str, changes: list[tuple[str, float]]
) -> None:
    resolver = Resolver(duals=False, mip_gap=0.0, explain_infeasible=False)
    resolver.solve(_load(name))
    case = _load(name)
    if name == "v3-b1-shortage-tiers":
        case.elements["reference_price"] = 10.0
    for change, value in changes:
        apply_change(case, change, value)
        again = resolver.solve(case)
        fresh = planner.solve(case, duals=False, mip_gap=0.0, explain_infeasible=False)
        assert again.status == fresh.status == "optimal"
        assert again.objective == pytest.approx(fresh.objective, rel=1e-9)
        assert again.summary["shortage_cost"] == pytest.approx(fresh.summary["shortage_cost"])


def test_a_budget_sweep_changes_the_model_in_place() -> None:
    resolver = Resolver(duals=False, mip_gap=0.0)
    case = _load("v3-b3-working-capital")
    resolver.solve(case)
    objectives = []
    for budget in (300.0, 600.0, 1_000.0):
        apply_change(case, "stock_value_max", budget)
        result = resolver.solve(case)
        assert result.report.extra["reused"]
        objectives.append(result.objective)
    # 30, 60, 100 t stocked at 10; the rest from Nd-B at 30
    assert objectives == pytest.approx([300 + 2_100, 600 + 1_200, 1_000])


def test_v2_sweeps_still_reuse_the_model() -> None:
    resolver = Resolver(duals=False)
    case = planner.load(REFERENCE / "v2" / "v2-a1-unmet-bound.xlsx")
    resolver.solve(case)
    apply_change(case, "demand_scale", 1.1)
    assert resolver.solve(case).report.extra["reused"]


# ---------------------------------------------------------------- the template


def test_the_template_documents_shortage_tiers_with_an_example(tmp_path: Path) -> None:
    import openpyxl

    from planner.io.template import write_template

    workbook = openpyxl.load_workbook(write_template(tmp_path / "template.xlsx"))
    tiers = workbook["ShortageTiers"]
    assert [c.value for c in tiers[1]] == ["element", "use", "share", "cost"]
    assert tiers.max_row == 1  # the example is not a row of data
    dropdowns = {str(v.sqref): v.formula1 for v in tiers.data_validations.dataValidation}
    assert dropdowns["A2:A1000"] == "=Elements!$A$2:$A$1000"
    assert "Unit: currency/unit" in tiers["D1"].comment.text
    text = [str(c.value) for row in workbook["Instructions"].iter_rows() for c in row if c.value]
    assert "element = Nd, use = polishing, share = 0.3, cost = 5" in text
    assert "Example: Nd" in tiers["A1"].comment.text
    settings = {row[0].value: row[1].value for row in workbook["Settings"].iter_rows(min_row=2)}
    assert "stock_value_max" in settings and settings["stock_value_max"] is None
