"""Constraint families 7 to 11: China share, risk, offer share and minimum offers.

Share constraints are written as one row with combined coefficients,
``sum_j (a_j - v) w_j <= 0`` for ``A <= v S``, where ``w_j`` are the supply
terms of S and ``a_j`` their China flag (or risk score). A row in which no
coefficient is positive cannot bind and is skipped. The TOTAL row pools
every element. Cells are indexed by element position, with ``TOTAL_INDEX``
for TOTAL.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyomo.environ as pyo

from planner.model.parameters import TOTAL, ModelData

TOTAL_INDEX = -1


def _weighted_supply(
    model: pyo.ConcreteModel,
    e: int,
    n: int,
    offer_weight: np.ndarray,
    activity_weight: np.ndarray,
    value: float,
) -> list[tuple[float, pyo.Var]]:
    """(a_j - v) coefficients of the supply terms of element e at node n."""
    data = model.data
    terms: list[tuple[float, pyo.Var]] = [
        (float(offer_weight[o]) - value, model.purchase[o, n])
        for o in model.offers_of[e]
        if (o, n) in model.OFFER_NODES
    ]
    for k in model.activities_of[e]:
        if data.activity_kind[k] == "recycling" and (k, n) in model.ACTIVITY_NODES:
            share = float(data.yields[k, e])
            terms.append((share * (float(activity_weight[k]) - value), model.activity_level[k, n]))
    return terms


def _share_row(
    model: pyo.ConcreteModel,
    target: int,
    n: int,
    policy: str,
    offer_weight: np.ndarray,
    activity_weight: np.ndarray,
) -> pyo.Expression:
    data = model.data
    name = TOTAL if target == TOTAL_INDEX else data.elements[target]
    value = data.caps[policy][(name, model.node_period[n])].value
    elements = range(len(data.elements)) if target == TOTAL_INDEX else (target,)
    terms = [
        term
        for e in elements
        for term in _weighted_supply(model, e, n, offer_weight, activity_weight, value)
    ]
    if not any(coefficient > 0 for coefficient, _ in terms):
        return pyo.Constraint.Skip
    return sum(coefficient * var for coefficient, var in terms) <= 0


def china_share_rule(model: pyo.ConcreteModel, target: int, n: int) -> pyo.Expression:
    """C[e,n] <= v S[e,n] (TOTAL: sum_e C <= v sum_e S)."""
    data = model.data
    return _share_row(
        model,
        target,
        n,
        "china_share_max",
        data.china.astype(float),
        data.activity_china.astype(float),
    )


def risk_rule(model: pyo.ConcreteModel, target: int, n: int) -> pyo.Expression:
    """R[e,n] <= v S[e,n] (TOTAL pooled likewise)."""
    data = model.data
    return _share_row(model, target, n, "risk_max", data.offer_risk, data.activity_risk)


def offer_share_rule(model: pyo.ConcreteModel, o: int, n: int) -> pyo.Expression:
    """x[o,n] <= v S[e,n] for each offer o of e."""
    data = model.data
    e = int(data.offer_element[o])
    cap = data.caps["offer_share_max"].get((data.elements[e], model.node_period[n]))
    if cap is None or cap.value >= 1:
        return pyo.Constraint.Skip
    weight = np.zeros(len(data.offers))
    weight[o] = 1.0
    terms = _weighted_supply(model, e, n, weight, np.zeros(len(data.activities)), cap.value)
    return sum(coefficient * var for coefficient, var in terms) <= 0


def min_offers_rule(model: pyo.ConcreteModel, e: int) -> pyo.Expression:
    """sum_{o in O_e} y[o] >= n_e."""
    data = model.data
    cap = data.min_offers.get(data.elements[e])
    if cap is None or cap.value <= 0:
        return pyo.Constraint.Skip
    return sum(model.contract[o] for o in model.offers_of[e]) >= cap.value


def _cells(model: pyo.ConcreteModel, policy: str) -> list[tuple[int, int]]:
    data = model.data
    position = {name: e for e, name in enumerate(data.elements)}
    position[TOTAL] = TOTAL_INDEX
    by_period: dict[int, list[int]] = {}
    for name, t in data.caps.get(policy, {}):
        by_period.setdefault(t, []).append(position[name])
    return [(target, n) for n, t in enumerate(model.node_period) for target in by_period.get(t, [])]


def _define(
    model: pyo.ConcreteModel, name: str, policy: str, rule: Callable[..., pyo.Expression]
) -> None:
    model.add_component(
        name,
        pyo.Constraint(pyo.Set(initialize=_cells(model, policy), dimen=2, ordered=True), rule=rule),
    )


def define_china_share_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(8) China-linked supply at most v of supply, per element or TOTAL, per node."""
    _define(model, "china_share", "china_share_max", china_share_rule)


def define_risk_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(9) Risk-weighted supply at most v of supply, per element or TOTAL, per node."""
    _define(model, "risk", "risk_max", risk_rule)


def define_offer_share_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(10) Each offer at most v of its element's supply, per node."""
    model.offer_share = pyo.Constraint(model.OFFER_NODES, rule=offer_share_rule)


def define_min_offers_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(11) At least n offers of an element contracted (first stage)."""
    model.min_offers = pyo.Constraint(model.ELEMENTS, rule=min_offers_rule)
