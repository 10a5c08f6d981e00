"""Warnings for numerically fragile input: a capacity far above what the case can use.

A contract binary multiplies its offer's capacity in ``x <= cap y``. HiGHS
accepts a binary within its integrality tolerance (1e-6) of 0 as 0, so a
capacity of 999,999,999 lets a switch of a millionth buy 1,000 units
without the fixed cost: the plan written (with the switch rounded) is then
not the plan the solver priced. The model bounds the row by what the case
can use where it can prove that safe (:func:`planner.model.parameters.useful_capacity`),
and a plan whose rounding does not reproduce its objective is never called
optimal; this check tells the planner which cells invite the trouble, in
``validate`` and ``solve`` alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.data import Case
from planner.errors import Issue
from planner.locate import Locator, is_blank, records

#: HiGHS's integrality tolerance (its option mip_feasibility_tolerance).
INTEGRALITY_TOLERANCE = 1e-6
#: A capacity this many times what the case can use is fragile: a switch at the tolerance
#: buys 1 % of the use without the fixed cost.
FRAGILE_RATIO = 1e4


def element_use(case: Case) -> dict[str, float]:
    """Return what the case can use of each element over the horizon: demand plus largest cover.

    Disruptions that raise demand are left out: this is a scale, not a bound.
    """
    days = case.periods["days"].to_dict()
    use: dict[str, float] = {}
    for element, record in records(case.elements):
        rows = case.demand[case.demand["element"] == element]
        quantity = rows["quantity"].to_numpy(float)
        quantity = np.where(np.isfinite(quantity), quantity, 0.0)
        cover_days = 0.0 if is_blank(record["cover_days"]) else float(record["cover_days"])
        per_day = [
            q / float(days.get(period, 0) or 1)
            for q, period in zip(quantity, rows["period"], strict=True)
        ]
        use[str(element)] = float(quantity.sum()) + cover_days * max(per_day, default=0.0)
    return use


def _needs(case: Case, use: dict[str, float]) -> dict[Any, tuple[float, str]]:
    """Per offer: the most of it the case can use (product units), and of which element."""
    shares: dict[Any, dict[str, float]] = {}
    for offer, record in records(case.offers):
        if isinstance(record["element"], str):
            shares.setdefault(offer, {})[record["element"]] = 1.0
    for _, record in records(case.offer_contents):
        fraction = record["fraction"]
        if isinstance(record["element"], str) and not is_blank(fraction) and fraction > 0:
            shares.setdefault(record["offer"], {})[record["element"]] = float(fraction)
    needs = {}
    for offer, contents in shares.items():
        known = [(use.get(e, 0.0) / a, e) for e, a in contents.items() if e in use]
        if known:
            needs[offer] = max(known)
    return needs


def _fragile(
    where: Locator,
    at: tuple[str, Any],
    capacity: Any,
    need: tuple[float, str],
    fixed: tuple[str, Any, Any],
) -> list[Issue]:
    """Return the warning for a capacity far above what the case can use, or none.

    The cells are named only for a warning: a sweep checks every variant.

    Parameters
    ----------
    where
        Names the cells.
    at
        The sheet and label of the capacity's record, whose capacity cell the warning names.
    capacity
        The capacity as the case holds it (blank, infinite or a number).
    need
        The most of the capacity the case can use over the horizon, and of which element.
    fixed
        The sheet and label of the record whose fixed cost prices signing, and that cost:
        the capacity's own record ("its fixed_cost"), or another (an OfferPeriods row's offer).
    """
    amount, element = need
    if not (
        not is_blank(capacity)
        and amount > 0
        and np.isfinite(capacity)
        and capacity >= FRAGILE_RATIO * amount
    ):
        return []
    capacity = float(capacity)
    sheet, owner, cost = fixed
    cell = where.cell(sheet, "fixed_cost", owner)
    priced = (
        f"its fixed_cost {float(cost):,.4g} ({cell})"
        if (sheet, owner) == at
        else f"the fixed_cost of {owner} ({cell})"
    )
    return [
        Issue(
            where.cell(at[0], "capacity", at[1]),
            f"capacity {capacity:,.0f} is {capacity / amount:,.0f} times what the case can use "
            f"of {element} ({amount:,.4g} over the horizon) while {priced} prices signing it: "
            f"numerically fragile (a contract switch at the solver's integrality tolerance "
            f"{INTEGRALITY_TOLERANCE:g} buys {INTEGRALITY_TOLERANCE * capacity:,.4g} without the "
            "fixed cost); the planner bounds it by what the case can use where that is safe, "
            "but enter what the offer can really deliver",
            severity="warning",
        )
    ]


def check_big_m(case: Case) -> list[Issue]:
    """Warn where a capacity with a fixed cost is far above what the case can use.

    Offers (and their OfferPeriods capacities) and activities with a fixed
    cost > 0 that are not already contracted: the capacity cell is named,
    with the fixed-cost cell in the message.
    """
    where = Locator(case)
    issues: list[Issue] = []
    use = element_use(case)
    needs = _needs(case, use)
    priced: dict[Any, Any] = {}  # offer -> its fixed cost
    for offer, record in records(case.offers):
        fixed = record["fixed_cost"]
        if is_blank(fixed) or not fixed > 0 or record["contracted"] == "yes":
            continue
        if offer not in needs:
            continue
        priced[offer] = fixed
        at = ("Offers", offer)
        issues += _fragile(where, at, record["capacity"], needs[offer], (*at, fixed))
    for label, record in records(case.offer_periods):
        offer = record["offer"]
        if offer in priced:
            fixed = ("Offers", offer, priced[offer])
            issues += _fragile(
                where, ("OfferPeriods", label), record["capacity"], needs[offer], fixed
            )
    issues += _activities(case, where, use)
    return issues


def _activities(case: Case, where: Locator, use: dict[str, float]) -> list[Issue]:
    """Warn likewise for activities: level against what their gains can be used for."""
    gains: dict[Any, list[tuple[float, str]]] = {}
    for _, record in records(case.activity_yields):
        value, element = record["yield"], record["element"]
        if not is_blank(value) and value > 0 and element in use:
            gains.setdefault(record["activity"], []).append((use[element] / value, element))
    issues = []
    for activity, record in records(case.activities):
        fixed = record["fixed_cost"]
        if is_blank(fixed) or not fixed > 0 or activity not in gains:
            continue
        at = ("Activities", activity)
        issues += _fragile(where, at, record["capacity"], max(gains[activity]), (*at, fixed))
    return issues
