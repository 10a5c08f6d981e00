"""The Japan 2026 example: what a rare-earth sourcing analyst would check in its plan (issue 16).

Not checked here: "the Orders sheet lists what to buy in 2026Q1". The Orders sheet does
not exist yet (another issue builds it); see test_orders_sheet_lists_2026q1_purchases.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import planner
from tests.conftest import ROOT

JAPAN = ROOT / "inputs" / "japan-2026.xlsx"
NOMURA_3M = 660_000.0  # JPY m: Nomura Research Institute, a three-month Chinese stop (seeds)
STOP = "2026Q3"


@pytest.fixture(scope="module")
def case() -> planner.Case:
    return planner.load(JAPAN)


@pytest.fixture(scope="module")
def result(case: planner.Case) -> planner.Result:
    return planner.solve(case)


def _stop_scenarios(case: planner.Case) -> set[str]:
    """Scenarios with a row that stops China (capacity 0) and releases the stockpile."""
    rows = case.disruptions
    stops = rows[
        (rows["target_type"] == "country")
        & (rows["target"] == "CN")
        & (rows["capacity_factor"] == 0)
        & (rows["cover_factor"] == 0)
    ]
    return set(stops["scenario"])


def _in(node_scenarios: str, allowed: set[str]) -> bool:
    return node_scenarios != "all" and set(node_scenarios.split("|")) <= allowed


def test_the_case_uses_the_v2_features(case: planner.Case) -> None:
    offers = case.offers
    assert case.warnings == []
    assert set(case.offer_contents[case.offer_contents["offer"] == "NdPr-LYN"]["element"]) == {
        "Nd",
        "Pr",
    }
    contracted = set(offers.index[offers["contracted"] == "yes"])
    assert {"NdPr-LYN", "Dy-LYN", "Tb-LYN", "Dy-CAR", "Tb-CAR"} <= contracted
    later = offers[offers["signing"] == "later"]
    assert {"NdPr-ILU", "NdPr-NEO", "Dy-CN-new"} <= set(later.index)
    assert (later["lead_time"] >= 1).all()
    assert set(offers.loc[["Dy-CN", "Tb-CN"], "mine_country"]) == {"MM"}
    jogmec = offers[offers["supplier"].str.contains("JOGMEC")]
    assert set(jogmec["element"]) == set(case.elements.index)  # its own offers, every element
    assert _stop_scenarios(case) == {"cn_stop_3m", "cn_stop_12m", "cn_heavy_12m"}
    policies = case.policies[case.policies["policy"] == "china_share_max"]
    assert {"Nd", "Pr", "Dy", "Tb", "Y"} <= set(policies["element"])
    assert set(policies["basis"].dropna()) >= {"refining", "mining", "shipment"}


def test_banned_and_suspended_offers_deliver_nothing_in_any_scenario(
    case: planner.Case, result: planner.Result
) -> None:
    offers = case.offers
    banned = offers[(offers["country"] == "VN") & (offers["refine_country"] == "CN")]
    banned = [*banned.index, *offers.index[offers["country"] == "IN"]]
    assert len(banned) >= 5
    rows = case.disruptions
    for scenario in case.scenarios.index:
        hits = rows[(rows["scenario"] == scenario) & (rows["capacity_factor"] == 0)]
        for offer in banned:
            assert (hits["target"] == offers.loc[offer, "supplier"]).any(), (scenario, offer)
    purchases = result.tables["Purchases"]
    assert purchases[purchases["offer"].isin(banned)].empty


def test_notes_give_a_source_and_date_for_every_figure() -> None:
    notes = openpyxl.load_workbook(JAPAN, read_only=True)["Notes"]
    rows = list(notes.iter_rows(values_only=True))
    assert rows[0][:5] == ("topic", "figure", "source", "date", "how derived")
    assert len(rows) > 40
    for topic, figure, source, date, derived in (row[:5] for row in rows[1:]):
        assert topic and figure, f"note {topic!r}: no figure"
        assert source, f"note {topic!r}: no source and not marked as an assumption"
        assert date, f"note {topic!r}: no date"
        if source == "assumption":
            assert derived, f"note {topic!r}: an assumption without how it was derived"
    sources = [row[2] for row in rows[1:]]
    assert sources.count("assumption") < len(sources) / 2  # mostly cited, not invented


def test_the_plan_is_optimal_and_small(result: planner.Result) -> None:
    assert result.status == "optimal"
    assert result.summary["rows"] < 10_000  # 12 quarters, four scenarios: stays fast


def test_the_stockpile_is_drawn_in_a_stop(case: planner.Case, result: planner.Result) -> None:
    stops = _stop_scenarios(case)
    stock = result.tables["Stock"]
    before = stock[(stock["period"] == "2026Q2") & (stock["scenarios"] == "all")]
    before = before.set_index("element")["stock"]
    during = stock[(stock["period"] == STOP) & stock["scenarios"].map(lambda s: _in(s, stops))]
    for element, level in before.items():
        rows = during[during["element"] == element]
        assert len(rows) and (rows["stock"] < level - 1e-6).all(), element
    # the national stockpile is bought only where a stop is seen
    purchases = result.tables["Purchases"]
    national = purchases[purchases["supplier"].str.contains("JOGMEC")]
    assert len(national) and national["scenarios"].map(lambda s: _in(s, stops)).all()


def test_a_later_offtake_is_signed_only_where_a_stop_needs_it(
    case: planner.Case, result: planner.Result
) -> None:
    stops = _stop_scenarios(case)
    signings = result.tables["Signings"]
    spot = signings[signings["offer"].isin(["Dy-LYN-spot", "Tb-LYN-spot"])]
    assert len(spot)
    assert spot["scenarios"].map(lambda s: _in(s, stops)).all()
    assert (spot["period"] >= STOP).all()
    # and none of the new ex-China offtakes in the base scenario's own nodes
    base_nodes = signings[signings["scenarios"] == "base"]
    assert base_nodes.empty


def test_a_three_month_stop_costs_about_what_nomura_estimates(result: planner.Result) -> None:
    costs = result.tables["ScenarioCosts"].set_index("scenario")["scenario_cost"]
    extra = costs["cn_stop_3m"] - costs["base"]
    assert NOMURA_3M / 2 <= extra <= NOMURA_3M * 2
    assert costs["cn_stop_12m"] > costs["cn_stop_3m"] > costs["base"]


def test_shortage_costs_follow_value_at_risk(case: planner.Case) -> None:
    cost = case.elements["shortage_cost"]
    assert cost["Tb"] > cost["Dy"] > cost["Nd"] > cost["La"] > cost["Y"]
    china_price = case.offers.loc[[f"{e}-CN" for e in cost.index], "unit_cost"].to_numpy()
    assert (cost.to_numpy() > 2 * china_price).all()  # short always costs more than buying
    assert cost["Y"] < 30 * case.offers.loc["Y-CN", "unit_cost"]  # Y was valued at 130x its price


def test_orders_sheet_lists_2026q1_purchases(result: planner.Result, tmp_path: Path) -> None:
    path = result.write(tmp_path / "japan.xlsx")
    orders = pd.read_excel(path, sheet_name="Orders")
    buy = orders[orders["action"] == "buy"]
    assert (buy["period"] == "2026Q1").any()  # what to buy in the first quarter, whatever happens
    assert set(buy["scenarios"]) == {"all"}
    bought = buy[buy["period"] == "2026Q1"].groupby("offer")["quantity"].sum()
    first = result.tables["Purchases"]
    first = first[(first["period"] == "2026Q1") & (first["scenarios"] == "all")]
    assert bought.to_dict() == pytest.approx(first.groupby("offer")["quantity"].sum().to_dict())


def test_orders_now_are_the_first_quarter_s_and_later_shared_ones_a_block_apart(
    result: planner.Result,
) -> None:
    """Issue 23.6: "now" is the first period; later shared orders are decided, not placed now."""
    orders = result.tables["Orders"]
    first = result.case.period_ids[0]
    now = orders[orders["block"] == "now"]
    assert set(now.loc[now["action"] == "buy", "period"]) == {first}
    assert result.summary["orders_now"] == int((orders["action"] == "buy").sum())
    decided = orders[orders["block"] == "already decided for later quarters"]
    assert len(decided) == result.summary["orders_decided_later"] > 0
    assert first not in set(decided["period"]) and set(decided["scenarios"]) == {"all"}
    later_buys = orders[orders["action"] == "buy later"]
    purchases = result.tables["Purchases"]
    shared_later = purchases[(purchases["scenarios"] == "all") & (purchases["period"] != first)]
    assert len(later_buys) == len(shared_later) > 0
    everywhere = orders[(orders["action"] == "sign later") & (orders["scenarios"] == "all")]
    assert len(everywhere) and set(everywhere["block"]) == {"already decided for later quarters"}
    assert all(note.startswith("every scenario signs it in") for note in everywhere["note"])
    maybe = orders[orders["block"] == "if the situation comes about"]
    assert len(maybe) and not (maybe["scenarios"] == "all").any()
    rank = {"now": 0, "already decided for later quarters": 1, "if the situation comes about": 2}
    ranks = orders["block"].map(rank).tolist()  # the blocks in order: now, decided, conditional
    assert ranks == sorted(ranks)


def test_a_sweep_s_unchanged_variant_is_the_plain_solve(
    case: planner.Case, result: planner.Result
) -> None:
    """Issue 23.7: the row at the workbook's own cap equals `planner solve`, and says so."""
    own = case.policies
    total = own[(own["policy"] == "china_share_max") & (own["element"] == "TOTAL")]
    [(cap, basis)] = set(zip(total["value"], total["basis"], strict=True))
    assert basis != case.settings.china_basis  # the workbook's TOTAL cap is on its own basis
    name = f"china_share_max[TOTAL,{basis}]"
    study = planner.sweep(case, {name: [cap + 0.1, cap]}, workers=1)
    row = study.table.set_index(name).loc[cap]
    assert row["objective"] == pytest.approx(result.objective, rel=1e-9)
    assert row["spend"] == pytest.approx(result.summary["spend"], rel=1e-9)
    assert row["note"].startswith("the workbook's own values")
    # without the basis the change adds a cap on the case's basis: a row says so
    added = planner.sweep(case, {"china_share_max[TOTAL]": [cap]}, workers=1).table
    assert f"adds a cap on the {case.settings.china_basis} basis" in added["note"].iloc[0]
    assert added["objective"].iloc[0] == pytest.approx(result.objective, rel=1e-9)  # not binding


def test_a_solve_without_duals_writes_the_same_plan(result: planner.Result) -> None:
    """Issue 23.7: duals only add prices; the plan is the fixed-binary LP's either way."""
    bare = planner.solve(result.case, duals=False)
    assert bare.objective == pytest.approx(result.objective, rel=1e-9)


def test_the_last_progress_event_is_the_final_plan(case: planner.Case) -> None:
    """Issue 23.7: a progress display ends on the objective of the plan written."""
    events: list[dict[str, float | None]] = []
    solved = planner.solve(case, on_progress=events.append)
    assert len(events) >= 2
    assert events[-1]["final"] is True and events[-1]["best"] == solved.objective
    assert events[-1]["gap"] == solved.summary["mip_gap"]
    assert not any("final" in event for event in events[:-1])
