"""Derived parameters: disruptions, the scenario tree, China flags, risk and policy ranks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import planner
from planner.events import DISRUPTION_COLUMNS
from planner.model import derive
from planner.model.parameters import DOMESTIC, activity_countries, offer_countries
from tests.conftest import REFERENCE

Sheets = dict[str, list[list[Any]]]


def _with_scenarios(sheets: Sheets, disruptions: list[list[Any]]) -> Sheets:
    sheets["Scenarios"] = [["scenario", "probability"], ["base", 0.7], ["stop", 0.3]]
    sheets["Disruptions"] = [["scenario", *DISRUPTION_COLUMNS], *disruptions]
    return sheets


def _data(sheets: Sheets, make: Callable[..., Path]) -> Any:
    return derive(planner.load(make(sheets)))


def test_country_stop_hits_mine_and_refine_countries_once(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    hand_sheets["Offers"].append(["Nd-AU", "Lynas AU", "Nd", "AU", "AU", "CN", 90, 40, None])
    data = _data(
        _with_scenarios(hand_sheets, [["stop", "country", "CN", None, "2026Q2", None, 0.5, 2]]),
        make_workbook,
    )
    offers = {o: i for i, o in enumerate(data.offers)}
    base, stop = 0, 1
    # Nd-CN ships, is mined and refined in CN: the factor applies once, not three times
    assert data.capacity[offers["Nd-CN"], :, stop].tolist() == [100, 50]
    assert data.unit_cost[offers["Nd-CN"], :, stop].tolist() == [50, 100]
    # Nd-AU is only refined in China: an export stop hits it too
    assert data.capacity[offers["Nd-AU"], :, stop].tolist() == [40, 20]
    assert data.capacity[offers["Nd-MY"], :, stop].tolist() == [60, 60]
    assert data.capacity[:, :, base].tolist() == [[100, 100], [60, 60], [12, 12], [40, 40]]


def test_group_filter_supplier_and_demand_targets(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    data = _data(
        _with_scenarios(
            hand_sheets,
            [
                ["stop", "country", "CN", "heavy", None, None, 0, None],
                ["stop", "supplier", "Lynas", None, "2026Q1", "2026Q1", 0.5, None],
                ["stop", "demand", None, "Nd", "2026Q2", None, 1.2, None],
            ],
        ),
        make_workbook,
    )
    offers = {o: i for i, o in enumerate(data.offers)}
    assert data.capacity[offers["Dy-CN"], :, 1].tolist() == [0, 0]
    assert data.capacity[offers["Nd-CN"], :, 1].tolist() == [100, 100]  # light: not hit
    assert data.capacity[offers["Nd-MY"], :, 1].tolist() == [30, 60]
    assert data.demand[0, :, 1].tolist() == pytest.approx([100, 120])
    assert data.demand[1, :, 1].tolist() == [10, 15]


def test_factors_of_several_rows_multiply(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    data = _data(
        _with_scenarios(
            hand_sheets,
            [
                ["stop", "offer", "Nd-MY", None, None, None, 0.5, None],
                ["stop", "country", "AU", None, None, None, 0.5, None],
            ],
        ),
        make_workbook,
    )
    assert data.capacity[1, :, 1].tolist() == [15, 15]


def test_activity_disruption_ignores_the_element_field(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    hand_sheets["Activities"] = [
        ["activity", "kind", "country", "unit_cost", "capacity"],
        ["REC-VN", "recycling", "VN", 5, 10],
        ["REC-JP", "recycling", None, 6, 10],
    ]
    hand_sheets["ActivityYields"] = [
        ["activity", "element", "yield"],
        ["REC-VN", "Dy", 0.1],
        ["REC-JP", "Dy", 0.1],
    ]
    data = _data(
        _with_scenarios(hand_sheets, [["stop", "country", "VN", "Nd", None, None, 0, None]]),
        make_workbook,
    )
    assert data.activity_capacity[:, :, 1].tolist() == [[0, 0], [10, 10]]
    assert data.activity_risk.tolist() == [0.0, 0.0]  # VN not in Countries, domestic never listed


def test_scenario_tree_splits_where_a_disruption_starts(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    data = _data(
        _with_scenarios(hand_sheets, [["stop", "country", "CN", None, "2026Q2", None, 0, None]]),
        make_workbook,
    )
    assert [(n.period, n.scenarios, n.probability, n.parent) for n in data.nodes] == [
        (0, (0, 1), 1.0, None),
        (1, (0,), 0.7, 0),
        (1, (1,), 0.3, 0),
    ]
    assert data.node_of.tolist() == [[0, 0], [1, 2]]


def test_identical_scenarios_share_every_node(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    data = _data(
        _with_scenarios(hand_sheets, [["stop", "country", "CN", None, None, None, 1, 1]]),
        make_workbook,
    )
    assert len(data.nodes) == 2
    assert data.node_of.tolist() == [[0, 0], [1, 1]]


def test_plan_does_not_anticipate_the_stop(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    sheets = _with_scenarios(
        hand_sheets, [["stop", "country", "CN", None, "2026Q2", None, 0, None]]
    )
    result = planner.solve(planner.load(make_workbook(sheets)), mip_gap=0)
    purchases = result.by_scenario("Purchases")
    first = purchases[purchases["period"] == "2026Q1"].pivot_table(
        index="offer", columns="scenario", values="quantity"
    )
    assert (first["base"] == first["stop"]).all()
    second = purchases[purchases["period"] == "2026Q2"]
    assert set(second[second["scenario"] == "stop"]["offer"]) == {"Nd-MY"}


def test_china_flags_follow_the_basis() -> None:
    case = planner.load(REFERENCE / "case-03.xlsx")
    data = derive(case)
    offers = {o: i for i, o in enumerate(data.offers)}
    jts = offers["Nd-JTS-spot"]  # ships from JP, mined and refined in CN
    assert not data.offer_china["shipment"][jts]
    assert data.offer_china["mining"][jts] and data.offer_china["refining"][jts]
    assert data.offer_china["any"][jts]
    assert data.china_basis == "shipment"
    # risk: the weakest link of ship/mine/refine countries; an explicit risk wins
    assert data.offer_risk[jts] == pytest.approx(0.89)
    assert data.offer_risk[offers["Tb-JTS-spot"]] == pytest.approx(0.36)


def test_policy_rows_of_higher_rank_override(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    case = planner.load(REFERENCE / "case-03.xlsx")
    data = derive(case)
    caps = data.caps
    china = {key: cap.value for key, cap in caps[("china_share_max", data.china_basis)].items()}
    assert china[("Nd", 0)] == pytest.approx(0.76)  # the blank row
    assert china[("Y", 0)] == pytest.approx(0.85)  # an element row overrides it, even looser
    assert china[("Tb", 0)] == pytest.approx(0.95)
    assert china[("Tb", 1)] == pytest.approx(0.85)  # element and period: rank 2
    assert china[("TOTAL", 0)] == pytest.approx(0.62)  # blank rows never cover TOTAL
    assert china[("TOTAL", 3)] == pytest.approx(0.56)
    risk = {key: cap.value for key, cap in caps[("risk_max", "")].items()}
    assert risk[("Nd", 2)] == pytest.approx(0.71)
    assert risk[("Nd", 3)] == pytest.approx(0.61)
    assert ("TOTAL", 0) not in risk


def test_rows_of_equal_rank_take_the_tightest(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    hand_sheets["Policies"] += [
        ["china_share_max", None, "2026Q2", 0.3],
        ["min_offers", None, None, 1],
        ["min_offers", "Nd", None, 0],
    ]
    data = _data(hand_sheets, make_workbook)
    china = {key: cap.value for key, cap in data.caps[("china_share_max", "any")].items()}
    assert china == {("Nd", 0): 0.5, ("Nd", 1): 0.3, ("Dy", 1): 0.3}
    assert {e: cap.value for e, cap in data.min_offers.items()} == {"Nd": 0, "Dy": 1}


def test_offer_periods_override_inside_the_window_only(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    hand_sheets["Offers"][0] += ["first_period"]
    hand_sheets["Offers"][2] += ["2026Q2"]
    hand_sheets["OfferPeriods"] = [
        ["offer", "period", "capacity", "unit_cost"],
        ["Nd-MY", "2026Q1", 99, None],
        ["Nd-CN", "2026Q2", None, 55],
    ]
    data = _data(hand_sheets, make_workbook)
    assert data.capacity[:, :, 0].tolist() == [[100, 100], [0, 60], [12, 12]]
    assert data.unit_cost[:, :, 0].tolist() == [[50, 55], [80, 80], [300, 300]]
    assert np.array_equal(data.offer_window, [[True, True], [False, True], [True, True]])


def test_fallbacks_are_made_in_one_place() -> None:
    """A blank activity country is domestic; a blank mine or refine country is the offer's."""
    activities = pd.DataFrame({"country": ["JP", None, "", np.nan]}, index=["a", "b", "c", "d"])
    assert activity_countries(activities).tolist() == ["JP", DOMESTIC, DOMESTIC, DOMESTIC]
    offers = pd.DataFrame(
        {"country": ["AU", "CN"], "mine_country": [None, "MM"], "refine_country": ["MY", None]},
        index=["o1", "o2"],
    )
    countries = offer_countries(offers)
    assert countries["mine_country"].tolist() == ["AU", "MM"]
    assert countries["refine_country"].tolist() == ["MY", "CN"]
