"""The v2 input contract: one broken workbook per new rule, with its exact message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import planner
from planner.errors import InputError

Sheets = dict[str, list[list[Any]]]


def _offer_column(name: str, values: dict[str, Any]) -> Callable[[Sheets], None]:
    """Add an Offers column ``name`` with a value per offer id."""

    def mutate(sheets: Sheets) -> None:
        offers = sheets["Offers"]
        offers[0].append(name)
        for row in offers[1:]:
            row.append(values.get(row[0]))

    return mutate


def _sheet(name: str, *rows: list[Any]) -> Callable[[Sheets], None]:
    def mutate(sheets: Sheets) -> None:
        sheets[name] = [list(row) for row in rows]

    return mutate


def _policies(*rows: list[Any]) -> Callable[[Sheets], None]:
    return _sheet("Policies", ["policy", "element", "period", "value", "basis"], *rows)


def _settings(*rows: list[Any]) -> Callable[[Sheets], None]:
    return _sheet("Settings", ["key", "value"], *rows)


def _both(*mutations: Callable[[Sheets], None]) -> Callable[[Sheets], None]:
    def mutate(sheets: Sheets) -> None:
        for mutation in mutations:
            mutation(sheets)

    return mutate


def _blank_element(offer: str) -> Callable[[Sheets], None]:
    def mutate(sheets: Sheets) -> None:
        for row in sheets["Offers"][1:]:
            if row[0] == offer:
                row[2] = None

    return mutate


CONTENTS = ["offer", "element", "fraction"]
BROKEN: dict[str, tuple[Callable[[Sheets], None], str]] = {
    "element and contents both": (
        _sheet("OfferContents", CONTENTS, ["Nd-MY", "Nd", 0.8]),
        "Offers!C3: offer 'Nd-MY' has both an element and OfferContents rows; leave the element "
        "blank for a joint product, or delete its OfferContents rows",
    ),
    "neither element nor contents": (
        _blank_element("Nd-MY"),
        "Offers!C3: element is required (or OfferContents rows for a joint product)",
    ),
    "fractions above 1": (
        _both(
            _blank_element("Nd-MY"),
            _sheet("OfferContents", CONTENTS, ["Nd-MY", "Nd", 0.8], ["Nd-MY", "Dy", 0.3]),
        ),
        "OfferContents!C3: the fractions of Nd-MY sum to 1.1; they must sum to at most 1",
    ),
    "zero fraction": (
        _both(_blank_element("Nd-MY"), _sheet("OfferContents", CONTENTS, ["Nd-MY", "Nd", 0])),
        "OfferContents!C2: fraction must be > 0, got 0",
    ),
    "contents twice": (
        _both(
            _blank_element("Nd-MY"),
            _sheet("OfferContents", CONTENTS, ["Nd-MY", "Nd", 0.5], ["Nd-MY", "Nd", 0.4]),
        ),
        "OfferContents!3:3: duplicate contents for (Nd-MY, Nd)",
    ),
    "unknown signing": (
        _offer_column("signing", {"Nd-MY": "soon"}),
        "Offers!J3: signing must be one of now, later, got 'soon'",
    ),
    "fractional lead time": (
        _offer_column("lead_time", {"Nd-MY": 1.5}),
        "Offers!J3: lead_time must be a whole number of periods, got 1.5",
    ),
    "negative lead time": (
        _offer_column("lead_time", {"Nd-MY": -1}),
        "Offers!J3: lead_time must be >= 0, got -1",
    ),
    "unreadable contracted": (
        _offer_column("contracted", {"Nd-MY": "maybe"}),
        "Offers!J3: contracted must be one of yes, no, got 'maybe'",
    ),
    "unknown basis": (
        _policies(["china_share_max", "Nd", None, 0.5, "customs"]),
        "Policies!E2: basis must be one of shipment, mining, refining, any, got 'customs'",
    ),
    "same policy, basis, element and period twice": (
        _policies(
            ["country_share_max", "Nd", None, 0.5, "mining"],
            ["country_share_max", "Nd", None, 0.6, "mining"],
        ),
        "Policies!3:3: the same (country_share_max, Nd, blank) on basis mining is given twice",
    ),
    "blank basis is the settings basis": (
        _policies(
            ["china_share_max", "Nd", None, 0.5, None],
            ["china_share_max", "Nd", None, 0.6, "any"],
        ),
        "Policies!3:3: the same (china_share_max, Nd, blank) on basis any is given twice",
    ),
    "country cap above 1": (
        _policies(["country_share_max", None, None, 1.2, "refining"]),
        "Policies!D2: country_share_max must be in [0, 1], got 1.2",
    ),
    "domestic as a China code": (
        _settings(["china_codes", "CN, domestic"]),
        "Settings!B2: 'domestic' cannot be a China code: domestic supply is never China-linked",
    ),
    "a code both China and home": (
        _settings(["china_codes", "CN, HK"], ["home_codes", "JP, HK"]),
        "Settings!B3: 'HK' is in both china_codes and home_codes; it can be only one",
    ),
    "negative change cost": (
        _settings(["change_cost", -1]),
        "Settings!B2: change_cost must be in [0, 1e9], got -1",
    ),
    "negative cover factor": (
        _sheet(
            "Disruptions",
            ["scenario", "target_type", "target", "cover_factor"],
            ["base", "country", "CN", -0.5],
        ),
        "Disruptions!D2: cover_factor must be >= 0, got -0.5",
    ),
    "commitment on an offer not contracted": (
        _sheet("Commitments", ["offer", "period", "quantity"], ["Nd-MY", "2026Q1", 10]),
        "Commitments!A2: Nd-MY is not contracted: a firm order needs contracted = yes in "
        "Offers!3:3",
    ),
    "commitment above capacity": (
        _both(
            _offer_column("contracted", {"Nd-MY": "yes"}),
            _sheet("Commitments", ["offer", "period", "quantity"], ["Nd-MY", "2026Q1", 61]),
        ),
        "Commitments!C2: firm order 61 for Nd-MY in 2026Q1 is above its capacity 60 there",
    ),
    "commitment outside the offer's window": (
        _both(
            _offer_column("contracted", {"Nd-MY": "yes"}),
            _offer_column("first_period", {"Nd-MY": "2026Q2"}),
            _sheet("Commitments", ["offer", "period", "quantity"], ["Nd-MY", "2026Q1", 1]),
        ),
        "Commitments!C2: firm order 1 for Nd-MY in 2026Q1 is above its capacity 0 there",
    ),
    "commitment twice": (
        _both(
            _offer_column("contracted", {"Nd-MY": "yes"}),
            _sheet(
                "Commitments",
                ["offer", "period", "quantity"],
                ["Nd-MY", "2026Q1", 10],
                ["Nd-MY", "2026Q1", 20],
            ),
        ),
        "Commitments!3:3: duplicate commitment for (Nd-MY, 2026Q1)",
    ),
    "previous plan twice": (
        _sheet(
            "PreviousPlan",
            ["offer", "period", "quantity"],
            ["Nd-MY", "2026Q1", 10],
            ["Nd-MY", "2026Q1", 20],
        ),
        "PreviousPlan!3:3: duplicate previous order for (Nd-MY, 2026Q1)",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_v2_workbook_reports_its_cell(
    name: str, hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    mutate, message = BROKEN[name]
    mutate(hand_sheets)
    with pytest.raises(InputError) as raised:
        planner.load(make_workbook(hand_sheets))
    messages = [str(issue) for issue in raised.value.issues]
    assert message in messages, messages


def test_v2_warnings(hand_sheets: Sheets, make_workbook: Callable[..., Path]) -> None:
    _policies(
        ["risk_max", "Nd", None, 0.9, "mining"],
        ["country_share_max", "Nd", None, 0.4, "shipment"],
    )(hand_sheets)
    _sheet(
        "PreviousPlan",
        ["offer", "period", "quantity"],
        ["Nd-XX", "2026Q1", 10],
        ["Nd-MY", "2025Q4", 20],
    )(hand_sheets)
    _offer_column("lead_time", {"Dy-CN": 2})(hand_sheets)
    case = planner.load(make_workbook(hand_sheets))
    assert [str(w) for w in case.warnings] == [
        "Offers!J4: lead_time 2 is not shorter than the horizon (2 periods): Dy-CN can never "
        "deliver",
        "Policies!E2: basis applies to china_share_max and country_share_max only; ignored for "
        "risk_max",
        "Policies!D3: country_share_max 0.4 cannot hold for Nd on basis shipment (its suppliers "
        "count for China, MY, none exempt enough): it forces shortage",
        "PreviousPlan!A2: offer 'Nd-XX' is not in this workbook; the row is ignored",
        "PreviousPlan!B3: period '2025Q4' is not in this workbook; the row is ignored",
    ]


def test_contracted_accepts_true_false_and_numbers(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    _offer_column("contracted", {"Nd-CN": True, "Nd-MY": "No", "Dy-CN": 1})(hand_sheets)
    case = planner.load(make_workbook(hand_sheets))
    assert case.offers["contracted"].tolist() == ["yes", "no", "yes"]


def test_a_joint_offer_counts_for_min_offers_of_each_element(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    _blank_element("Nd-MY")(hand_sheets)
    _sheet("OfferContents", CONTENTS, ["Nd-MY", "Nd", 0.7], ["Nd-MY", "Dy", 0.1])(hand_sheets)
    _policies(["min_offers", "Dy", None, 2, None])(hand_sheets)
    case = planner.load(make_workbook(hand_sheets))  # Dy-CN and the joint Nd-MY: 2 offers
    result = planner.solve(case)
    contracts = result.tables["Contracts"].set_index("offer")
    assert contracts.loc[["Dy-CN", "Nd-MY"], "contracted"].tolist() == [1, 1]
    assert contracts.loc["Nd-MY", "element"] == "Nd+Dy"


def test_a_firm_order_against_a_country_cap_is_explained_by_its_cells(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    _offer_column("contracted", {"Nd-CN": "yes"})(hand_sheets)
    hand_sheets["Offers"][2][7] = 0  # Nd-MY: no capacity, so nothing dilutes China's share
    _sheet("Commitments", ["offer", "period", "quantity"], ["Nd-CN", "2026Q1", 50])(hand_sheets)
    _policies(["country_share_max", "Nd", None, 0.5, "shipment"])(hand_sheets)
    result = planner.solve(planner.load(make_workbook(hand_sheets)))
    assert result.status == "infeasible"
    assert sorted(str(issue) for issue in result.conflicts) == [
        "Commitments!C2: firm order 50 of Nd-CN in 2026Q1: part of a conflict",
        "Policies!D2: country_share_max 0.5 for Nd, every period, basis shipment: part of a "
        "conflict",
    ]


def test_country_cap_warnings_pool_total_and_count_every_group_on_any(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    # TOTAL pools the suppliers of every element: 3 groups can share 0.4 each, no warning
    hand_sheets["Offers"].append(["Dy-AU", None, "Dy", "AU", None, None, 400, 20, None])
    _policies(["country_share_max", "TOTAL", None, 0.4, "shipment"])(hand_sheets)
    assert planner.load(make_workbook(hand_sheets)).warnings == []
    # three ships' countries for Nd: 0.4 each can hold on shipment ...
    hand_sheets["Offers"].append(["Nd-AU", None, "Nd", "AU", None, None, 90, 50, None])
    _policies(["country_share_max", "Nd", None, 0.4, "shipment"])(hand_sheets)
    assert planner.load(make_workbook(hand_sheets)).warnings == []
    # ... but on any, Nd-MY (mined in AU) counts for AU too: AU and China hold at most 0.8
    _policies(["country_share_max", "Nd", None, 0.4, "any"])(hand_sheets)
    case = planner.load(make_workbook(hand_sheets))
    assert [str(w) for w in case.warnings] == [
        "Policies!D2: country_share_max 0.4 cannot hold for Nd on basis any (its suppliers "
        "count for AU, China, MY, none exempt enough): it forces shortage"
    ]
    assert planner.solve(case).summary["shortfall_Nd"] > 0
