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
from typing import Any

import numpy as np
import pyomo.environ as pyo

from planner.model.linear import linear
from planner.model.parameters import TOTAL, ModelData

TOTAL_INDEX = -1


def _weighted_supply(
    model: pyo.ConcreteModel,
    e: int,
    n: int,
    offer_weight: np.ndarray,
    activity_weight: np.ndarray,
    value: float,
) -> tuple[list[float], list[Any]]:
    """(a_j - v) coefficients of the supply terms of element e at node n, and their variables."""
    t = model.node_period[n]
    offers = model.offers_at[t][e]
    recycling = model.recycling_at[t][e]
    coefficients = [float(offer_weight[o]) - value for o in offers]
    coefficients += [share * (float(activity_weight[k]) - value) for k, share in recycling]
    variables = [model.purchase[o, n] for o in offers]
    variables += [model.activity_level[k, n] for k, _ in recycling]
    return coefficients, variables


def _share_row(
    model: pyo.ConcreteModel,
    target: int,
    n: int,
    policy: str,
    offer_weight: np.ndarray,
    activity_weight: np.ndarray,
) -> Any:
    data = model.data
    name = TOTAL if target == TOTAL_INDEX else data.elements[target]
    value = data.caps[policy][(name, model.node_period[n])].value
    elements = range(len(data.elements)) if target == TOTAL_INDEX else (target,)
    coefficients: list[float] = []
    variables: list[Any] = []
    for e in elements:
        more, their = _weighted_supply(model, e, n, offer_weight, activity_weight, value)
        coefficients += more
        variables += their
    if not any(coefficient > 0 for coefficient in coefficients):
        return pyo.Constraint.Skip
    return (None, linear(coefficients, variables), 0.0)


def china_share_rule(model: pyo.ConcreteModel, target: int, n: int) -> Any:
    """C[e,n] <= v S[e,n] (TOTAL: sum_e C <= v sum_e S)."""
    return _share_row(
        model, target, n, "china_share_max", model.china_weight, model.recycling_china_weight
    )


def risk_rule(model: pyo.ConcreteModel, target: int, n: int) -> Any:
    """R[e,n] <= v S[e,n] (TOTAL pooled likewise)."""
    data = model.data
    return _share_row(model, target, n, "risk_max", data.offer_risk, data.activity_risk)


def offer_share_rule(model: pyo.ConcreteModel, o: int, n: int) -> Any:
    """x[o,n] <= v S[e,n] for each offer o of e."""
    data = model.data
    e = int(data.offer_element[o])
    cap = data.caps["offer_share_max"].get((data.elements[e], model.node_period[n]))
    if cap is None or cap.value >= 1:
        return pyo.Constraint.Skip
    weight = np.zeros(len(data.offers))
    weight[o] = 1.0
    coefficients, variables = _weighted_supply(
        model, e, n, weight, np.zeros(len(data.activities)), cap.value
    )
    return (None, linear(coefficients, variables), 0.0)


def min_offers_rule(model: pyo.ConcreteModel, e: int) -> Any:
    """sum_{o in O_e} y[o] >= n_e."""
    data = model.data
    cap = data.min_offers.get(data.elements[e])
    if cap is None or cap.value <= 0:
        return pyo.Constraint.Skip
    offers = model.offers_of[e]
    return (cap.value, linear([1.0] * len(offers), [model.contract[o] for o in offers]), None)


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
    define_china_weights(model, data)
    _define(model, "china_share", "china_share_max", china_share_rule)


def define_china_weights(model: pyo.ConcreteModel, data: ModelData) -> None:
    """China flags of offers and activities as 0/1 weights (the a_j of the share rows)."""
    model.china_weight = data.china.astype(float)
    model.recycling_china_weight = data.activity_china.astype(float)


def define_risk_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(9) Risk-weighted supply at most v of supply, per element or TOTAL, per node."""
    _define(model, "risk", "risk_max", risk_rule)


def define_offer_share_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(10) Each offer at most v of its element's supply, per node."""
    model.offer_share = pyo.Constraint(model.OFFER_NODES, rule=offer_share_rule)


def define_min_offers_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(11) At least n offers of an element contracted (first stage)."""
    model.min_offers = pyo.Constraint(model.ELEMENTS, rule=min_offers_rule)
