"""Check a plan against the input data, independently of the solver and of Pyomo.

Before a plan is written it is re-checked here with numpy on the derived
parameters: capacities and minimum takes, activity capacity, stock balances,
storage, the substitution limit, cover shortfalls, every policy cap and
min_offers. A plan that fails is never labelled optimal or written.
"""

from __future__ import annotations

import numpy as np

from planner.model.parameters import TOTAL, ModelData
from planner.results import Plan, flows, opening_stock, supply_measures

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
    cap = data.capacity * plan.contract[:, None, None]
    over = plan.purchase - cap > _slack(cap)
    if over.any():
        problems.append(_where(data, "purchase above capacity", data.offers, np.nonzero(over)))
    minimum = data.min_take() * plan.contract[:, None, None]
    under = minimum - plan.purchase > _slack(minimum)
    if under.any():
        problems.append(_where(data, "purchase below min_take", data.offers, np.nonzero(under)))
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
    return problems


def _caps(plan: Plan, data: ModelData) -> list[str]:
    measures = supply_measures(plan, data)
    supply = measures["supply"]
    weighted = {
        "china_share_max": measures[f"china_{data.china_basis}"],
        "risk_max": measures["risk"],
    }
    position = {name: e for e, name in enumerate(data.elements)}
    problems = []
    for policy, share in weighted.items():
        for (element, t), cap in data.caps.get(policy, {}).items():
            if element == TOTAL:
                part, whole = share[:, t, :].sum(axis=0), supply[:, t, :].sum(axis=0)
            else:
                part, whole = share[position[element], t, :], supply[position[element], t, :]
            bad = part - cap.value * whole > _slack(whole)
            if bad.any():
                scenario = data.scenarios[int(np.nonzero(bad)[0][0])]
                problems.append(f"{policy} of {element} in {data.periods[t]} (scenario {scenario})")
    problems += _offer_shares(plan, data, supply)
    for element, cap in data.min_offers.items():
        contracted = plan.contract[data.offer_element == position[element]].sum()
        if contracted < cap.value:
            problems.append(f"min_offers of {element}: {contracted:g} contracted")
    return problems


def _offer_shares(plan: Plan, data: ModelData, supply: np.ndarray) -> list[str]:
    problems = []
    for (element, t), cap in data.caps.get("offer_share_max", {}).items():
        e = data.elements.index(element)
        for o in np.flatnonzero(data.offer_element == e):
            excess = plan.purchase[o, t, :] - cap.value * supply[e, t, :]
            if (excess > _slack(supply[e, t, :])).any():
                problems.append(f"offer_share_max of {data.offers[o]} in {data.periods[t]}")
    return problems


def verify_plan(plan: Plan, data: ModelData) -> list[str]:
    """Return what the plan breaks, in the workbook's words (empty when it holds)."""
    return [*_bounds(plan, data), *_balances(plan, data), *_caps(plan, data)]
