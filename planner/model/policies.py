"""Constraint families 7 to 11 and A6: supply, China, country, risk and offer shares, min offers.

The supply ``S[e,n]`` is a variable defined by one equality row (7) where
some policy row uses it, so that a share row ``W <= v S`` is written
``sum_j a_j w_j q_j - v S[e,n] <= 0`` with only the terms that weigh
(``w_j != 0``), not with every supply term again: ``q_j`` are the supply
terms with their contents or yields ``a_j``, and ``w_j`` their China flag,
country-group flag or risk score. A row in which no ``a_j (w_j - v)`` is
positive cannot bind and is skipped. The TOTAL row pools every element.
Cells are indexed by element position, with ``TOTAL_INDEX`` for TOTAL; China
and country caps also by their basis (and country group), one family per
basis (formulation A6). Caps counted in value (B2) are families of their
own, on TOTAL only: each element's part weighed by its reference price P_e,
``sum_e P_e (W[e,n] - v S[e,n]) <= 0``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyomo.environ as pyo

from planner.model.balance import supply_terms
from planner.model.linear import linear
from planner.model.parameters import QUANTITY, TOTAL, VALUE, ModelData, Policy

TOTAL_INDEX = -1
#: policies whose rows weigh a part of the supply against v S (7-10, A6)
SUPPLY_POLICIES = ("china_share_max", "country_share_max", "risk_max", "offer_share_max")


def supply_definition_rule(model: pyo.ConcreteModel, e: int, n: int) -> Any:
    """(7) S[e,n] - sum_o a[o,e] x[o,n] - sum_{k rec} yield[k,e] r[k,n] = 0."""
    coefficients, variables = supply_terms(model, e, n)
    return (
        0.0,
        linear([1.0, *(-c for c in coefficients)], [model.supply_units[e, n], *variables]),
        0.0,
    )


def _part(
    model: pyo.ConcreteModel,
    e: int,
    n: int,
    offer_weight: np.ndarray,
    activity_weight: np.ndarray,
    value: float,
    price: float = 1.0,
) -> tuple[list[float], list[Any], bool]:
    """Element e's part of ``P (W - v S)`` at node n: coefficients, variables, whether it binds.

    With S[e,n] defined and shorter that way: ``P a_j w_j`` of the terms with
    ``w_j != 0`` and ``-P v`` on S[e,n]; otherwise inline, ``P a_j (w_j - v)``
    of the terms with ``w_j != v``. The part can bind if some ``w_j > v``.
    ``price`` is the element's reference price P_e in a value cap (B2), else 1.
    """
    t = model.node_period[n]
    amounts, variables = supply_terms(model, e, n)  # offers', then recycling's terms
    weights = [float(offer_weight[o]) for o, _ in model.offers_at[t][e]]
    weights += [float(activity_weight[k]) for k, _ in model.recycling_at[t][e]]
    binds = any(weight > value for weight in weights)
    weighing = sum(1 for weight in weights if weight)
    inline = sum(1 for weight in weights if weight != value)
    if (e, n) in model.supply_units and weighing + (value != 0) < inline:
        keep = [j for j, weight in enumerate(weights) if weight]
        coefficients = [price * amounts[j] * weights[j] for j in keep]
        their = [variables[j] for j in keep]
        if value:
            coefficients.append(-price * value)
            their.append(model.supply_units[e, n])
        return coefficients, their, binds
    keep = [j for j, weight in enumerate(weights) if weight != value]
    return (
        [price * amounts[j] * (weights[j] - value) for j in keep],
        [variables[j] for j in keep],
        binds,
    )


def _share_row(
    model: pyo.ConcreteModel,
    target: int,
    n: int,
    value: float,
    offer_weight: np.ndarray,
    activity_weight: np.ndarray,
    measure: str = QUANTITY,
) -> Any:
    """``W - v S <= 0`` pooled over the target's elements; Skip where it cannot bind.

    ``measure`` value (B2, TOTAL): ``sum_e P_e (W[e] - v S[e]) <= 0``; an
    element priced 0 weighs nothing.
    """
    data = model.data
    elements = range(len(data.elements)) if target == TOTAL_INDEX else (target,)
    prices = data.prices() if measure == VALUE else None
    coefficients: list[float] = []
    variables: list[Any] = []
    binds = False
    for e in elements:
        price = 1.0 if prices is None else float(prices[e])
        if price == 0:
            continue
        more, their, can = _part(model, e, n, offer_weight, activity_weight, value, price)
        coefficients += more
        variables += their
        binds |= can
    if not binds:
        return pyo.Constraint.Skip
    return (None, linear(coefficients, variables), 0.0)


def cap_value(
    model: pyo.ConcreteModel,
    policy: str,
    basis: str,
    target: int,
    n: int,
    measure: str = QUANTITY,
) -> float:
    """Return the value v of the cap of (policy, basis, measure) on target at n."""
    data = model.data
    name = TOTAL if target == TOTAL_INDEX else data.elements[target]
    return data.caps_of(measure)[(policy, basis)][(name, model.node_period[n])].value


def _china_row(
    model: pyo.ConcreteModel, basis: str, target: int, n: int, measure: str = QUANTITY
) -> Any:
    data = model.data
    value = cap_value(model, Policy.CHINA_SHARE_MAX, basis, target, n, measure)
    return _share_row(
        model,
        target,
        n,
        value,
        data.offer_china[basis].astype(float),
        data.activity_china.astype(float),
        measure,
    )


def _country_row(
    model: pyo.ConcreteModel, basis: str, group: int, target: int, n: int, measure: str = QUANTITY
) -> Any:
    data = model.data
    value = cap_value(model, Policy.COUNTRY_SHARE_MAX, basis, target, n, measure)
    return _share_row(
        model,
        target,
        n,
        value,
        data.offer_groups[basis][:, group],
        data.activity_groups[:, group],
        measure,
    )


def _risk_row(model: pyo.ConcreteModel, target: int, n: int, measure: str = QUANTITY) -> Any:
    data = model.data
    value = cap_value(model, Policy.RISK_MAX, "", target, n, measure)
    return _share_row(model, target, n, value, data.offer_risk, data.activity_risk, measure)


def china_share_limit_rule(model: pyo.ConcreteModel, basis: str, target: int, n: int) -> Any:
    """C_b[e,n] <= v S[e,n] (TOTAL: sum_e C_b <= v sum_e S), on basis b."""
    return _china_row(model, basis, target, n)


def country_share_limit_rule(
    model: pyo.ConcreteModel, basis: str, group: int, target: int, n: int
) -> Any:
    """(A6) G_bg[e,n] <= v S[e,n] for country group g on basis b (TOTAL pooled likewise)."""
    return _country_row(model, basis, group, target, n)


def risk_limit_rule(model: pyo.ConcreteModel, target: int, n: int) -> Any:
    """R[e,n] <= v S[e,n] (TOTAL pooled likewise)."""
    return _risk_row(model, target, n)


def china_share_value_limit_rule(model: pyo.ConcreteModel, basis: str, target: int, n: int) -> Any:
    """(B2) sum_e P_e C_b[e,n] <= v sum_e P_e S[e,n] on basis b (target TOTAL)."""
    return _china_row(model, basis, target, n, VALUE)


def country_share_value_limit_rule(
    model: pyo.ConcreteModel, basis: str, group: int, target: int, n: int
) -> Any:
    """(B2) sum_e P_e G_bg[e,n] <= v sum_e P_e S[e,n] for group g on basis b (target TOTAL)."""
    return _country_row(model, basis, group, target, n, VALUE)


def risk_value_limit_rule(model: pyo.ConcreteModel, target: int, n: int) -> Any:
    """(B2) sum_e P_e R[e,n] <= v sum_e P_e S[e,n] (target TOTAL)."""
    return _risk_row(model, target, n, VALUE)


def _offer_share_terms(
    model: pyo.ConcreteModel, e: int, n: int
) -> tuple[list[float], list[Any], dict[int, int]]:
    """Element e's supply terms at n (:func:`supply_terms`) and each offer's position in them.

    Worked out once per (e, n) and kept for the offer-share rows of every
    offer of e at n (one row per offer: without the cache each row built all
    of e's terms again, ``|O_e|^2`` per node). An entry holds the
    availability lists it came from and is used only while the model still
    looks terms up in those lists (a sweep's :func:`~planner.model.update.rebind`
    may set new ones).
    """
    t = model.node_period[n]
    offers, recycling = model.offers_at[t][e], model.recycling_at[t][e]
    cache: dict[tuple[int, int], Any] | None = getattr(model, "offer_share_terms", None)
    if cache is None:
        cache = {}
        model.offer_share_terms = cache
    entry = cache.get((e, n))
    if entry is None or entry[0] is not offers or entry[1] is not recycling:
        amounts, variables = supply_terms(model, e, n)
        position = {o: j for j, (o, _) in enumerate(offers)}
        entry = cache[(e, n)] = (offers, recycling, amounts, variables, position)
    return entry[2], entry[3], entry[4]


def offer_share_limit_rule(model: pyo.ConcreteModel, o: int, n: int, e: int) -> Any:
    """a[o,e] x[o,n] - v S[e,n] <= 0 for each element e that offer o carries.

    The row :func:`_part` gives for the weights 1 on offer o and 0 on every
    other term, from e's supply terms worked out once per node
    (:func:`_offer_share_terms`): ``a_o x_o - v S[e,n]`` where S is defined
    and that is shorter, else inline ``a_o (1 - v) x_o - v sum_{j != o} a_j q_j``.
    """
    data = model.data
    cap = data.caps.get((Policy.OFFER_SHARE_MAX, ""), {}).get(
        (data.elements[e], model.node_period[n])
    )
    if cap is None or cap.value >= 1:
        return pyo.Constraint.Skip
    value = float(cap.value)
    amounts, variables, position = _offer_share_terms(model, e, n)
    own = position.get(o)
    weighing = 0 if own is None else 1  # terms with a weight: offer o's alone
    inline = weighing if value == 0 else len(amounts)  # terms whose weight is not v
    if (e, n) in model.supply_units and weighing + (value != 0) < inline:
        coefficients = [] if own is None else [amounts[own] * 1.0]
        their = [] if own is None else [variables[own]]
        if value:
            coefficients.append(-value)
            their.append(model.supply_units[e, n])
        return (None, linear(coefficients, their), 0.0)
    keep = [j for j in range(len(amounts)) if (1.0 if j == own else 0.0) != value]
    return (
        None,
        linear(
            [amounts[j] * ((1.0 if j == own else 0.0) - value) for j in keep],
            [variables[j] for j in keep],
        ),
        0.0,
    )


def min_offers_floor_rule(model: pyo.ConcreteModel, e: int, n: int) -> Any:
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


def cells(
    model: pyo.ConcreteModel, policy: Policy, measure: str = QUANTITY
) -> list[tuple[Any, ...]]:
    """Row indices of a policy's cap rows that the data asks for (a cap on the cell's period).

    ``(target, n)`` for risk_max, ``(basis, target, n)`` for china_share_max,
    ``(basis, group, target, n)`` for country_share_max; ``measure`` value:
    the value-weighted caps (B2), whose target is always TOTAL.
    """
    data = model.data
    position = {name: e for e, name in enumerate(data.elements)}
    position[TOTAL] = TOTAL_INDEX
    caps = data.caps_of(measure)
    rows: list[tuple[Any, ...]] = []
    for _, basis in data.cap_families(policy, measure):
        by_period: dict[int, list[int]] = {}
        for name, t in caps[(policy, basis)]:
            by_period.setdefault(t, []).append(position[name])
        for n, t in enumerate(model.node_period):
            for target in by_period.get(t, []):
                if policy == Policy.RISK_MAX:
                    rows.append((target, n))
                elif policy == Policy.CHINA_SHARE_MAX:
                    rows.append((basis, target, n))
                else:
                    rows += [(basis, g, target, n) for g in _groups_of(data, basis, target)]
    return rows


def _define(
    model: pyo.ConcreteModel,
    name: str,
    policy: Policy,
    dimen: int,
    rule: Callable[..., pyo.Expression],
    measure: str = QUANTITY,
) -> None:
    model.add_component(
        name,
        pyo.Constraint(
            pyo.Set(initialize=cells(model, policy, measure), dimen=dimen, ordered=True),
            rule=rule,
        ),
    )


def _saving(terms: int, weights: np.ndarray) -> int:
    """Nonzeros a row part saves with S defined: inline ``terms`` against ``nnz(w) + 1``."""
    weighing = int(np.count_nonzero(weights))
    return max(0, terms - weighing - 1) if weighing else 0


def _gain(model: pyo.ConcreteModel, policy: str, basis: str, e: int, t: int) -> int:
    """Nonzeros the rows of (policy, basis) on element e in period t save with S defined."""
    data = model.data
    offers = [o for o, _ in model.offers_at[t][e]]
    activities = [k for k, _ in model.recycling_at[t][e]]
    terms = len(offers) + len(activities)
    if policy == "offer_share_max":
        return len(offers) * max(0, terms - 2)
    if policy == "china_share_max":
        return _saving(
            terms,
            np.concatenate([data.offer_china[basis][offers], data.activity_china[activities]]),
        )
    if policy == "risk_max":
        return _saving(
            terms, np.concatenate([data.offer_risk[offers], data.activity_risk[activities]])
        )
    groups = data.offer_groups[basis]
    return sum(
        _saving(terms, np.concatenate([groups[offers, g], data.activity_groups[activities, g]]))
        for g in _groups_of(data, basis, e)
    )


def supply_nodes(model: pyo.ConcreteModel) -> list[tuple[int, int]]:
    """(element, node) pairs where defining S[e,n] once saves nonzeros.

    Its row costs the supply terms and one; each share, risk, country or
    offer-share row on e at n written against S saves the terms that do not
    weigh, less one. Caps of value 1 or more bind nowhere and count for
    nothing; otherwise the count does not depend on the caps' values (a sweep
    over a cap keeps the model's shape). TOTAL rows do not count (their terms
    of joint products and activities merge across elements), but they use S
    where it is defined and shorter.
    """
    data = model.data
    position = {name: e for e, name in enumerate(data.elements)}
    saving: dict[tuple[int, int], int] = {}
    for (policy, basis), caps in data.caps.items():
        if policy not in SUPPLY_POLICIES:
            continue
        for (name, t), cap in caps.items():
            if cap.value < 1 and name != TOTAL:
                e = position[name]
                saving[(e, t)] = saving.get((e, t), 0) + _gain(model, policy, basis, e, t)
    return [
        (e, n)
        for n, t in enumerate(model.node_period)
        for e in range(len(data.elements))
        if saving.get((e, t), 0) > len(model.offers_at[t][e]) + len(model.recycling_at[t][e]) + 1
    ]


def define_supply_definitions(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(7) The supply S[e,n] defined once, where a share, risk or offer-share row may use it."""
    model.supply_definition = pyo.Constraint(model.SUPPLY_NODES, rule=supply_definition_rule)


def define_china_share_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(8, A6) China-linked supply at most v of supply, per basis, element or TOTAL, node."""
    _define(model, "china_share_limit", Policy.CHINA_SHARE_MAX, 3, china_share_limit_rule)


def define_country_share_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(A6) Each country group's supply at most v of supply, per basis, element or TOTAL, node."""
    _define(model, "country_share_limit", Policy.COUNTRY_SHARE_MAX, 4, country_share_limit_rule)


def define_risk_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(9) Risk-weighted supply at most v of supply, per element or TOTAL, per node."""
    _define(model, "risk_limit", Policy.RISK_MAX, 2, risk_limit_rule)


def define_value_share_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(B2) Pooled China, country and risk caps counted in value, at reference prices (TOTAL)."""
    _define(
        model,
        "china_share_value_limit",
        Policy.CHINA_SHARE_MAX,
        3,
        china_share_value_limit_rule,
        VALUE,
    )
    _define(
        model,
        "country_share_value_limit",
        Policy.COUNTRY_SHARE_MAX,
        4,
        country_share_value_limit_rule,
        VALUE,
    )
    _define(model, "risk_value_limit", Policy.RISK_MAX, 2, risk_value_limit_rule, VALUE)


def define_offer_share_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(10) Each offer at most v of its element's supply, per node and element it carries."""
    model.offer_share_limit = pyo.Constraint(model.OFFER_SHARE_CELLS, rule=offer_share_limit_rule)
    model.offer_share_terms = None  # the terms kept while the rows were built: not needed now


def define_min_offers_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(11) At least n offers of an element signed, at every node of the first period."""
    model.min_offers_floor = pyo.Constraint(model.MIN_OFFERS_CELLS, rule=min_offers_floor_rule)
