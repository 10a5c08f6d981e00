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


def _warning(where: str, capacity: float, need: float, element: str, fixed: str) -> Issue:
    return Issue(
        where,
        f"capacity {capacity:,.0f} is {capacity / need:,.0f} times what the case can use of "
        f"{element} ({need:,.4g} over the horizon) while {fixed} prices signing it: numerically "
        f"fragile (a contract switch at the solver's integrality tolerance "
        f"{INTEGRALITY_TOLERANCE:g} buys {INTEGRALITY_TOLERANCE * capacity:,.4g} without the "
        "fixed cost); the planner bounds it by what the case can use where that is safe, "
        "but enter what the offer can really deliver",
        severity="warning",
    )


def _fragile(capacity: Any, need: float) -> bool:
    return (
        not is_blank(capacity)
        and need > 0
        and np.isfinite(capacity)
        and capacity >= FRAGILE_RATIO * need
    )


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
    priced = set()
    for offer, record in records(case.offers):
        fixed = record["fixed_cost"]
        if is_blank(fixed) or not fixed > 0 or record["contracted"] == "yes":
            continue
        if offer not in needs:
            continue
        priced.add(offer)
        need, element = needs[offer]
        if _fragile(record["capacity"], need):
            issues.append(
                _warning(
                    where.cell("Offers", "capacity", offer),
                    float(record["capacity"]),
                    need,
                    element,
                    f"its fixed_cost {float(fixed):,.4g} "
                    f"({where.cell('Offers', 'fixed_cost', offer)})",
                )
            )
    for label, record in records(case.offer_periods):
        offer = record["offer"]
        if offer in priced and _fragile(record["capacity"], needs[offer][0]):
            need, element = needs[offer]
            issues.append(
                _warning(
                    where.cell("OfferPeriods", "capacity", label),
                    float(record["capacity"]),
                    need,
                    element,
                    f"the fixed_cost of {offer} ({where.cell('Offers', 'fixed_cost', offer)})",
                )
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
        need, element = max(gains[activity])
        if _fragile(record["capacity"], need):
            issues.append(
                _warning(
                    where.cell("Activities", "capacity", activity),
                    float(record["capacity"]),
                    need,
                    element,
                    f"its fixed_cost {float(fixed):,.4g} "
                    f"({where.cell('Activities', 'fixed_cost', activity)})",
                )
            )
    return issues
