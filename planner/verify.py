"""Check a plan against the input data, independently of the solver and of Pyomo.

Before a plan is written it is re-checked here with numpy on the derived
parameters: capacities and minimum takes (through the signature that lets
each offer deliver, lead times included), firm orders, monotone signatures,
activity capacity, stock balances, storage, the substitution limit, the
unmet-requirement bound, the shortage per use within each tier's share (B1),
the stock's value within the budget (B3), cover shortfalls, every policy cap
on every basis, country caps (in quantity, and in value at reference prices:
B2) and min_offers. A plan that fails is never labelled optimal or written.
"""

from __future__ import annotations

import numpy as np

from planner.model.parameters import QUANTITY, TOTAL, VALUE, ModelData, Policy
from planner.results import (
    Plan,
    delivery_signature,
    flows,
    group_supply,
    opening_stock,
    requirement,
    supply_measures,
)

#: Absolute slack allowed, scaled by the size of the quantities compared.
TOLERANCE = 1e-6


def _slack(*arrays: np.ndarray) -> np.ndarray:
    scale = np.ones_like(arrays[0], dtype=float)
    for array in arrays:
        scale = np.maximum(scale, np.abs(array))
    return TOLERANCE * scale


def _where(data: ModelData, kind: str, items: list[str], index: tuple[np.ndarray, ...]) -> str:
    item, t, w = (int(i[0]) for i in index)
    return f"{kind} of {items[item]} in {data.periods[t]} (scenario {data.scenarios[w]})"


def _bounds(plan: Plan, data: ModelData) -> list[str]:
    problems = []
    signature = delivery_signature(plan, data)
    cap = data.capacity * signature
    over = plan.purchase - cap > _slack(cap)
    if over.any():
        problems.append(_where(data, "purchase above capacity", data.offers, np.nonzero(over)))
    minimum = data.min_take() * signature
    under = minimum - plan.purchase > _slack(minimum)
    if under.any():
        problems.append(_where(data, "purchase below min_take", data.offers, np.nonzero(under)))
    firm = np.nan_to_num(data.firm_order(), nan=0.0)
    short = firm - plan.purchase > _slack(firm)
    if short.any():
        problems.append(_where(data, "purchase below a commitment", data.offers, np.nonzero(short)))
    unsigned = np.diff(plan.signed, axis=1) < -0.5
    if unsigned.any():
        problems.append(
            _where(data, "a later contract unsigned", data.offers, np.nonzero(unsigned))
        )
    if data.change_cost > 0:  # the priced change covers the deviation from PreviousPlan (A5)
        listed = data.previous_offers[:, None, None] & data.previous_periods[None, :, None]
        deviation = np.abs(plan.purchase - data.previous[:, :, None]) * listed
        under = deviation - plan.change > _slack(deviation)
        if under.any():
            problems.append(
                _where(data, "change below the deviation", data.offers, np.nonzero(under))
            )
    contracted = data.offer_contracted & ~data.offer_later
    if (plan.contract[contracted] < 0.5).any():
        problems.append("an offer contracted before the horizon is not contracted")
    acap = data.activity_capacity * plan.adopt[:, None, None]
    over = plan.level - acap > _slack(acap)
    if over.any():
        problems.append(_where(data, "activity above capacity", data.activities, np.nonzero(over)))
    for name, values in (
        ("purchase", plan.purchase),
        ("activity level", plan.level),
        ("stock", plan.stock),
        ("shortage", plan.unmet),
    ):
        if (values < -TOLERANCE).any():
            problems.append(f"negative {name}")
    storage = np.where(np.isinf(data.storage_capacity), np.inf, data.storage_capacity)
    above = plan.stock - storage[:, None, None] > _slack(plan.stock)
    if above.any():
        problems.append(
            _where(data, "stock above storage_capacity", data.elements, np.nonzero(above))
        )
    return problems


def _balances(plan: Plan, data: ModelData) -> list[str]:
    problems = []
    inflow = flows(plan, data)
    purchased = inflow["purchased"]
    activity = inflow["recycled"] + inflow["substituted"]
    opening = opening_stock(plan, data)
    residual = opening + purchased + activity + plan.unmet - data.demand - plan.stock
    off = np.abs(residual) > _slack(opening, purchased, data.demand, plan.stock)
    if off.any():
        problems.append(_where(data, "stock balance", data.elements, np.nonzero(off)))
    substitution = np.array([kind == "substitution" for kind in data.activity_kind], dtype=bool)
    avoided = np.einsum(
        "ke,ktw->etw",
        np.where(data.yields > 0, data.yields, 0.0)[substitution],
        plan.level[substitution],
    )
    over = avoided - data.demand > _slack(data.demand)
    if over.any():
        problems.append(_where(data, "substitution above demand", data.elements, np.nonzero(over)))
    short = data.cover_target() - plan.stock - plan.cover_gap > _slack(plan.stock)
    if short.any():
        problems.append(_where(data, "cover shortfall", data.elements, np.nonzero(short)))
    added = np.einsum(
        "ke,ktw->etw",
        np.where(data.yields < 0, -data.yields, 0.0)[substitution],
        plan.level[substitution],
    )
    excess = plan.unmet - data.demand - added > _slack(data.demand, added)
    if excess.any():
        problems.append(
            _where(data, "unmet above the requirement", data.elements, np.nonzero(excess))
        )
    return problems


def _economics(plan: Plan, data: ModelData) -> list[str]:
    """Tier bounds and their sum (B1); the stock's value within stock_value_max (B3)."""
    problems = []
    if (plan.by_use < -TOLERANCE).any():
        problems.append("negative shortage in a use")
    needed = requirement(plan, data)
    bound = data.segment_share[:, None, None] * needed[data.segment_element]
    over = plan.by_use - bound > _slack(bound)
    if over.any():
        s, t, w = (int(i[0]) for i in np.nonzero(over))
        element = data.elements[int(data.segment_element[s])]
        problems.append(
            f"shortage of {element} in use {data.segment_use[s]} above its share "
            f"{data.segment_share[s]:g} of the requirement in {data.periods[t]} "
            f"(scenario {data.scenarios[w]})"
        )
    summed = np.zeros_like(plan.unmet)
    np.add.at(summed, data.segment_element, plan.by_use)
    off = np.abs(summed - plan.unmet) > _slack(plan.unmet)
    if off.any():
        problems.append(
            _where(data, "shortage by use not summing to", data.elements, np.nonzero(off))
        )
    if np.isfinite(data.stock_value_max):
        value = np.einsum("e,etw->tw", data.reference_price, plan.stock)
        above = value - data.stock_value_max > _slack(value)
        if above.any():
            t, w = (int(i[0]) for i in np.nonzero(above))
            problems.append(
                f"stock worth {value[t, w]:g} above stock_value_max {data.stock_value_max:g} in "
                f"{data.periods[t]} (scenario {data.scenarios[w]})"
            )
    return problems


def _capped(
    data: ModelData,
    label: str,
    family: tuple[str, str],
    part: np.ndarray,
    supply: np.ndarray,
    measure: str = QUANTITY,
) -> list[str]:
    """Where ``part`` [element, period, scenario] exceeds v times supply, in the family's cells.

    ``measure`` value: the value caps, each element weighed by its reference price (B2).
    """
    position = {name: e for e, name in enumerate(data.elements)}
    weight = data.prices() if measure == VALUE else np.ones(len(data.elements))
    problems = []
    for (element, t), cap in data.caps_of(measure).get(family, {}).items():
        if element == TOTAL:
            share, whole = weight @ part[:, t, :], weight @ supply[:, t, :]
        else:
            share, whole = part[position[element], t, :], supply[position[element], t, :]
        bad = share - cap.value * whole > _slack(whole)
        if bad.any():
            scenario = data.scenarios[int(np.nonzero(bad)[0][0])]
            problems.append(f"{label} of {element} in {data.periods[t]} (scenario {scenario})")
    return problems


def _caps(plan: Plan, data: ModelData) -> list[str]:
    measures = supply_measures(plan, data)
    supply = measures["supply"]
    problems = []
    for measure in (QUANTITY, VALUE):
        by = " by value" if measure == VALUE else ""
        problems += _capped(
            data, f"risk_max{by}", (Policy.RISK_MAX, ""), measures["risk"], supply, measure
        )
        for family in data.cap_families(Policy.CHINA_SHARE_MAX, measure):
            label = f"china_share_max ({family[1]}){by}"
            part = measures[f"china_{family[1]}"]
            problems += _capped(data, label, family, part, supply, measure)
        for family in data.cap_families(Policy.COUNTRY_SHARE_MAX, measure):
            for g, group in enumerate(group_supply(plan, data, family[1])):
                label = f"country_share_max ({family[1]}, {data.groups[g]}){by}"
                problems += _capped(data, label, family, group, supply, measure)
    problems += _offer_shares(plan, data, supply)
    position = {name: e for e, name in enumerate(data.elements)}
    for element, cap in data.min_offers.items():
        carriers = data.offers_of(position[element])
        later = data.offer_later[carriers]
        signed_first = plan.signed[carriers][:, 0, :] if len(data.periods) else 0.0
        counted = np.where(later[:, None], signed_first, plan.contract[carriers][:, None])
        fewest = counted.sum(axis=0).min() if counted.size else 0.0
        if fewest < cap.value - 0.5:
            problems.append(f"min_offers of {element}: {fewest:g} signed")
    return problems


def _offer_shares(plan: Plan, data: ModelData, supply: np.ndarray) -> list[str]:
    problems = []
    for (element, t), cap in data.caps.get((Policy.OFFER_SHARE_MAX, ""), {}).items():
        e = data.elements.index(element)
        for o in data.offers_of(e):
            excess = data.contents[o, e] * plan.purchase[o, t, :] - cap.value * supply[e, t, :]
            if (excess > _slack(supply[e, t, :])).any():
                problems.append(f"offer_share_max of {data.offers[o]} in {data.periods[t]}")
    return problems


def verify_plan(plan: Plan, data: ModelData) -> list[str]:
    """Return what the plan breaks, in the workbook's words (empty when it holds)."""
    return [
        *_bounds(plan, data),
        *_balances(plan, data),
        *_economics(plan, data),
        *_caps(plan, data),
    ]
