"""The v2 hand cases (../shared/reference/v2, copied to tests/data): each optimum, and the plan
changes each feature makes (formulation.md, "v2 additions")."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import planner
from planner.model import build_model, derive
from planner.results import read_plan
from planner.verify import verify_plan
from tests.conftest import REFERENCE

V2 = REFERENCE / "v2"
CASES = json.loads((V2 / "expected.json").read_text())


def _load(name: str) -> planner.Case:
    return planner.load(V2 / f"{name}.xlsx")


@pytest.mark.parametrize("name", sorted(CASES))
def test_objective_matches_the_hand_derived_optimum(name: str) -> None:
    result = planner.solve(planner.load(V2 / name), mip_gap=0.0)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(CASES[name]["objective"], rel=1e-6)
    summary = result.summary
    assert summary["objective"] == pytest.approx(summary["expected_cost"], rel=1e-9)
    parts = sum(summary[key] for key in planner.results.COST_KEYS)
    assert parts == pytest.approx(summary["expected_cost"], rel=1e-9)


def test_a1_unmet_requirement_is_bounded_by_demand() -> None:
    result = planner.solve(_load("v2-a1-unmet-bound"))
    shortage = result.tables["Shortage"]
    assert (shortage["quantity"] <= shortage["demand"] + 1e-9).all()
    stock = result.tables["Stock"].set_index("period")
    assert stock.loc["P1", "stock"] == pytest.approx(30)  # bought, not conjured
    assert stock.loc["P2", "stock"] == pytest.approx(60)


def test_a2_joint_product_carries_pr_into_its_balance() -> None:
    result = planner.solve(_load("v2-a2-joint-product"))
    purchases = result.tables["Purchases"]
    mix = purchases[purchases["offer"] == "MIX"]
    assert set(mix["element"]) == {"Nd+Pr"}
    assert mix["quantity"].sum() == pytest.approx(150)
    stock = result.tables["Stock"]
    pr = stock[stock["element"] == "Pr"].set_index("period")
    # the Pr in MIX units enters the Pr balance: 0.2 x 150 = 30 t of Pr, 20 used, 10 stored
    assert pr["purchased"].sum() == pytest.approx(0.2 * mix["quantity"].sum())
    assert pr.loc["P2", "stock"] == pytest.approx(10)
    assert not (purchases["offer"] == "PR-AU").any()  # Pr comes with the Nd


def test_a2_a_disruption_of_one_element_stops_the_whole_product() -> None:
    case = _load("v2-a2-joint-product")
    case.scenarios = pd.DataFrame(
        {"_row": [pd.NA], "probability": [1.0]}, index=pd.Index(["stop"], name="scenario")
    )
    case.disruptions = pd.DataFrame(
        [
            {
                "_row": pd.NA,
                "scenario": "stop",
                "target_type": "country",
                "target": "CN",
                "element": "Pr",
                "first_period": None,
                "last_period": None,
                "capacity_factor": 0.0,
                "cost_factor": 1.0,
                "cover_factor": 1.0,
            }
        ]
    )
    data = derive(case)
    mix = data.offers.index("MIX")
    assert (data.capacity[mix] == 0).all()  # Nd of the mixed oxide stops with its Pr
    result = planner.solve(case)
    assert not (result.tables["Purchases"]["offer"] == "MIX").any()


def test_a3_later_offer_signed_only_in_the_stop_after_it_is_seen() -> None:
    result = planner.solve(_load("v2-a3-later-signing"))
    signings = result.tables["Signings"]
    assert signings[["offer", "period", "scenarios"]].values.tolist() == [
        ["DY-AU", "P2", "cn_stop"]
    ]
    assert signings["probability"].tolist() == pytest.approx([0.2])
    assert result.summary["fixed_cost"] == pytest.approx(2000)  # 0.2 x 10,000
    purchases = result.tables["Purchases"]
    au = purchases[purchases["offer"] == "DY-AU"]
    assert set(au["scenarios"]) == {"cn_stop"}
    assert set(au["period"]) == {"P3", "P4"}  # lead time 1: not in P2


def test_a3_costs_do_not_depend_on_the_order_of_scenarios() -> None:
    case = _load("v2-a3-later-signing")
    case.scenarios = case.scenarios.iloc[::-1]  # the scenario that signs comes first
    result = planner.solve(case)
    assert result.objective == pytest.approx(52000)
    assert result.summary["expected_cost"] == pytest.approx(52000)
    assert result.summary["cvar"] == pytest.approx(100_000)  # the stop, signing included


def test_a3_signing_now_costs_more() -> None:
    case = _load("v2-a3-later-signing")
    case.offers.loc["DY-AU", "signing"] = "now"
    assert planner.solve(case).objective == pytest.approx(53000)


def test_a3_signing_costs_count_once_whichever_scenario_comes_first() -> None:
    """The stop (which signs DY-AU, 10,000) listed first: its signing is not also taken as F."""
    case = _load("v2-a3-later-signing")
    case.scenarios = case.scenarios.iloc[::-1]
    result = planner.solve(case, mip_gap=0.0)
    assert result.objective == pytest.approx(52_000, rel=1e-9)
    assert result.objective == pytest.approx(result.report.objective, rel=1e-9)
    costs = result.tables["ScenarioCosts"].set_index("scenario")
    expected = (costs["probability"] * costs["scenario_cost"]).sum()  # F = 0 here
    assert result.summary["expected_cost"] == pytest.approx(expected, rel=1e-9)


def test_a4_cover_factor_zero_releases_the_stockpile_in_the_stop() -> None:
    result = planner.solve(_load("v2-a4-stock-release"))
    stock = result.tables["Stock"]
    stop = stock[(stock["scenarios"] == "cn_stop") & (stock["period"] == "P3")].iloc[0]
    assert stop["stock"] == pytest.approx(0)  # drawn to meet demand
    assert stop["target"] == pytest.approx(0)
    assert stop["shortage"] == pytest.approx(0)
    case = _load("v2-a4-stock-release")
    case.disruptions["cover_factor"] = 1.0
    assert planner.solve(case).objective == pytest.approx(33270)


def test_a5_firm_order_is_cut_by_a_disruption_and_min_take_applies() -> None:
    result = planner.solve(_load("v2-a5-commitments"))
    purchases = result.by_scenario("Purchases").set_index(["scenario", "period", "offer"])
    assert purchases.loc[("base", "P1", "OLD"), "quantity"] == pytest.approx(80)
    assert purchases.loc[("cut", "P1", "OLD"), "quantity"] == pytest.approx(50)
    assert purchases.loc[("base", "P2", "OLD"), "quantity"] == pytest.approx(10)
    contracts = result.tables["Contracts"].set_index("offer")
    assert contracts.loc["OLD", "fixed_cost"] == 0  # signed before the horizon
    assert contracts.loc["OLD", "already_contracted"] == 1


def test_a5_change_cost_keeps_the_plan_near_the_previous_one() -> None:
    result = planner.solve(_load("v2-a5-change-cost"))
    changes = result.tables["Changes"]
    per_period = changes[changes["period"] != ""]
    assert set(per_period["offer"]) == {"A", "B"}
    signed = changes[changes["period"] == ""]
    assert sorted(signed["offer"]) == ["B", "C"]  # C now, B in P3; A is not bought
    assert set(signed["change"]) == {"newly signed"}
    a = changes[changes["offer"] == "A"].set_index("period")
    assert a.loc["P1", "previous"] == 100 and a.loc["P1", "planned"] == pytest.approx(0)
    case = _load("v2-a5-change-cost")
    case.settings.change_cost = 0.0
    fresh = planner.solve(case)
    assert fresh.objective == pytest.approx(24000)  # B every period: the fresh optimum
    fresh_changes = fresh.tables["Changes"]
    assert len(fresh_changes[fresh_changes["period"] != ""]) == len(per_period)  # still reported


def test_a6_country_cap_binds_on_mining_not_on_shipment() -> None:
    result = planner.solve(_load("v2-a6-country-cap"))
    shares = result.tables["Shares"]
    nd = shares[shares["element"] == "Nd"]
    assert nd["top_country_share_mining"].max() == pytest.approx(0.3)
    assert (nd["top_country_share_shipment"] < 0.35 - 1e-9).all()
    case = _load("v2-a6-country-cap")
    case.policies = case.policies[case.policies["basis"] != "mining"]
    assert planner.solve(case).objective == pytest.approx(12500)  # 6,250 per period


def test_a6_china_codes_form_one_group_and_home_codes_none() -> None:
    case = _load("v2-a6-country-cap")
    data = derive(case)
    assert data.groups == ["AU", "China", "MY"]  # CN + HK one group; US a home code
    case.settings.china_codes = ("CN",)
    assert planner.solve(case).objective == pytest.approx(14700)


def test_a6_bases_are_separate_families() -> None:
    case = _load("v2-a6-basis-caps")
    result = planner.solve(case)
    shares = result.tables["Shares"]
    assert {"china_cap_mining", "china_cap_refining", "hhi_any"} <= set(shares.columns)
    assert ("china_share_max", "mining") in derive(case).caps
    assert ("china_share_max", "refining") in derive(case).caps
    case.policies = case.policies[case.policies["basis"] != "mining"]
    assert planner.solve(case).objective < 12700 - 1  # the mining family bound on its own


def test_every_v2_plan_passes_the_independent_check() -> None:
    for name in CASES:
        data = derive(planner.load(V2 / name))
        model = build_model(data)
        result = planner.solve(planner.load(V2 / name))
        assert result.status == "optimal"
        del model
    # a plan that breaks a v2 rule is caught: the stop's firm order above its cut capacity
    case = _load("v2-a5-commitments")
    data = derive(case)
    result = planner.solve(case)
    assert result.status == "optimal"
    from planner.solve import HighsSession, SolveOptions

    model = build_model(data)
    HighsSession(model, SolveOptions()).solve(10, 0.0)
    plan = read_plan(model, data)
    assert verify_plan(plan, data) == []
    cut = data.scenarios.index("cut")
    plan.purchase[data.offers.index("OLD"), 0, cut] = 20.0  # below the firm 50
    assert any("commitment" in problem for problem in verify_plan(plan, data))
    plan = read_plan(model, data)
    plan.contract[data.offers.index("OLD")] = 0.0
    assert verify_plan(plan, data)
    assert np.isfinite(data.commitment).sum() == 1
