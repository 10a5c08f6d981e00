"""Constraint families 7 to 11 and A6: China share, country share, risk, offer share, min offers.

Share constraints are written as one row with combined coefficients,
``sum_j a_j (w_j - v) q_j <= 0`` for ``W <= v S``, where ``q_j`` are the
supply terms of S with their contents or yields ``a_j``, and ``w_j`` their
China flag, country-group flag or risk score. A row in which no coefficient
is positive cannot bind and is skipped. The TOTAL row pools every element.
Cells are indexed by element position, with ``TOTAL_INDEX`` for TOTAL; China
and country caps also by their basis (and country group), one family per
basis (formulation A6).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyomo.environ as pyo

from planner.model.linear import linear
from planner.model.parameters import TOTAL, ModelData, Policy

TOTAL_INDEX = -1


def _weighted_supply(
    model: pyo.ConcreteModel,
    e: int,
    n: int,
    offer_weight: np.ndarray,
    activity_weight: np.ndarray,
    value: float,
) -> tuple[list[float], list[Any]]:
    """Return a_j (w_j - v) of the supply terms of element e at node n, and their variables."""
    t = model.node_period[n]
    offers = model.offers_at[t][e]
    recycling = model.recycling_at[t][e]
    coefficients = [fraction * (float(offer_weight[o]) - value) for o, fraction in offers]
    coefficients += [share * (float(activity_weight[k]) - value) for k, share in recycling]
    variables = [model.purchase[o, n] for o, _ in offers]
    variables += [model.activity_level[k, n] for k, _ in recycling]
    return coefficients, variables


def _share_row(
    model: pyo.ConcreteModel,
    target: int,
    n: int,
    value: float,
    offer_weight: np.ndarray,
    activity_weight: np.ndarray,
) -> Any:
    data = model.data
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


def cap_value(model: pyo.ConcreteModel, policy: str, basis: str, target: int, n: int) -> float:
    """Return the value v of the cap of (policy, basis) on target (element or TOTAL) at n."""
    data = model.data
    name = TOTAL if target == TOTAL_INDEX else data.elements[target]
    return data.caps[(policy, basis)][(name, model.node_period[n])].value


def china_share_rule(model: pyo.ConcreteModel, basis: str, target: int, n: int) -> Any:
    """C_b[e,n] <= v S[e,n] (TOTAL: sum_e C_b <= v sum_e S), on basis b."""
    data = model.data
    value = cap_value(model, Policy.CHINA_SHARE_MAX, basis, target, n)
    return _share_row(
        model,
        target,
        n,
        value,
        data.offer_china[basis].astype(float),
        data.activity_china.astype(float),
    )


def country_share_rule(
    model: pyo.ConcreteModel, basis: str, group: int, target: int, n: int
) -> Any:
    """(A6) G_bg[e,n] <= v S[e,n] for country group g on basis b (TOTAL pooled likewise)."""
    data = model.data
    value = cap_value(model, Policy.COUNTRY_SHARE_MAX, basis, target, n)
    return _share_row(
        model,
        target,
        n,
        value,
        data.offer_groups[basis][:, group],
        data.activity_groups[:, group],
    )


def risk_rule(model: pyo.ConcreteModel, target: int, n: int) -> Any:
    """R[e,n] <= v S[e,n] (TOTAL pooled likewise)."""
    data = model.data
    value = cap_value(model, Policy.RISK_MAX, "", target, n)
    return _share_row(model, target, n, value, data.offer_risk, data.activity_risk)


def offer_share_rule(model: pyo.ConcreteModel, o: int, n: int, e: int) -> Any:
    """a[o,e] x[o,n] <= v S[e,n] for each offer o of e."""
    data = model.data
    cap = data.caps.get((Policy.OFFER_SHARE_MAX, ""), {}).get(
        (data.elements[e], model.node_period[n])
    )
    if cap is None or cap.value >= 1:
        return pyo.Constraint.Skip
    weight = np.zeros(len(data.offers))
    weight[o] = 1.0
    coefficients, variables = _weighted_supply(
        model, e, n, weight, np.zeros(len(data.activities)), cap.value
    )
    return (None, linear(coefficients, variables), 0.0)


def min_offers_rule(model: pyo.ConcreteModel, e: int, n: int) -> Any:
    """sum_{now o in O_e} y[o] + sum_{later o in O_e} w[o,n] >= n_e at each first-period node."""
    data = model.data
    cap = data.min_offers.get(data.elements[e])
    if cap is None or cap.value <= 0:
        return pyo.Constraint.Skip
    offers = model.offers_of[e]
    variables = [model.contract[o] if o in model.contract else model.signed[o, n] for o in offers]
    return (cap.value, linear([1.0] * len(offers), variables), None)


def _groups_of(data: ModelData, basis: str, target: int) -> list[int]:
    """Country groups that can supply the target on basis b (others cannot bind)."""
    elements = range(len(data.elements)) if target == TOTAL_INDEX else [target]
    carriers = (data.contents[:, list(elements)] > 0).any(axis=1)
    recycles = (data.yields[:, list(elements)] > 0).any(axis=1)
    reach = data.offer_groups[basis][carriers].sum(axis=0) + data.activity_groups[recycles].sum(
        axis=0
    )
    return np.flatnonzero(reach > 0).tolist()


def cells(model: pyo.ConcreteModel, family: str) -> list[tuple[Any, ...]]:
    """Row indices of a policy family that the data asks for (a cap on the cell's period)."""
    data = model.data
    position = {name: e for e, name in enumerate(data.elements)}
    position[TOTAL] = TOTAL_INDEX
    policy = {"china_share": Policy.CHINA_SHARE_MAX, "country_share": Policy.COUNTRY_SHARE_MAX}.get(
        family, Policy.RISK_MAX
    )
    rows: list[tuple[Any, ...]] = []
    for _, basis in data.cap_families(policy):
        by_period: dict[int, list[int]] = {}
        for name, t in data.caps[(policy, basis)]:
            by_period.setdefault(t, []).append(position[name])
        for n, t in enumerate(model.node_period):
            for target in by_period.get(t, []):
                if family == "risk":
                    rows.append((target, n))
                elif family == "china_share":
                    rows.append((basis, target, n))
                else:
                    rows += [(basis, g, target, n) for g in _groups_of(data, basis, target)]
    return rows


def _define(
    model: pyo.ConcreteModel, name: str, dimen: int, rule: Callable[..., pyo.Expression]
) -> None:
    model.add_component(
        name,
        pyo.Constraint(
            pyo.Set(initialize=cells(model, name), dimen=dimen, ordered=True), rule=rule
        ),
    )


def define_china_share_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(8, A6) China-linked supply at most v of supply, per basis, element or TOTAL, node."""
    _define(model, "china_share", 3, china_share_rule)


def define_country_share_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(A6) Each country group's supply at most v of supply, per basis, element or TOTAL, node."""
    _define(model, "country_share", 4, country_share_rule)


def define_risk_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(9) Risk-weighted supply at most v of supply, per element or TOTAL, per node."""
    _define(model, "risk", 2, risk_rule)


def define_offer_share_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(10) Each offer at most v of its element's supply, per node and element it carries."""
    model.offer_share = pyo.Constraint(model.OFFER_SHARE_CELLS, rule=offer_share_rule)


def define_min_offers_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(11) At least n offers of an element signed, at every node of the first period."""
    model.min_offers = pyo.Constraint(model.MIN_OFFERS_CELLS, rule=min_offers_rule)
