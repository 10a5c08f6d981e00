"""Decision variables, named for what they decide."""

from __future__ import annotations

import math

import pyomo.environ as pyo

from planner.model.parameters import ModelData


def _storage_bounds(model: pyo.ConcreteModel, e: int, n: int) -> tuple[float, float | None]:
    capacity = model.data.storage_capacity[e]
    return (0.0, None if math.isinf(capacity) else float(capacity))


def _contract_bounds(model: pyo.ConcreteModel, o: int) -> tuple[float, float]:
    """Fix y = 1 for an offer signed before the horizon (formulation A5)."""
    return (1.0, 1.0) if model.data.offer_contracted[o] else (0.0, 1.0)


def creates_demand(model: pyo.ConcreteModel, e: int, n: int) -> list[tuple[int, float]]:
    """Substitution activities that add demand for e at node n: (activity, -yield) pairs."""
    return [(k, -share) for k, share in model.substitution_at[model.node_period[n]][e] if share < 0]


def _unmet_bounds(model: pyo.ConcreteModel, e: int, n: int) -> tuple[float, float | None]:
    """u[e,n] <= d[e,n] (A1), as a bound where no substitution adds to the requirement."""
    if creates_demand(model, e, n):
        return (0.0, None)  # a row of its own (balance.unmet_limit_rule)
    demand = model.data.demand[e, model.node_period[n], model.representative[n]]
    return (0.0, float(demand))


def _segment_bounds(model: pyo.ConcreteModel, s: int, n: int) -> tuple[float, float | None]:
    """u_i[e,n] <= share_i d[e,n] (B1), as a bound where no substitution adds to Q."""
    data = model.data
    e = int(data.segment_element[s])
    if creates_demand(model, e, n):
        return (0.0, None)  # a row of its own (shortage.tier_limit_rule)
    demand = data.demand[e, model.node_period[n], model.representative[n]]
    return (0.0, float(data.segment_share[s] * demand))


def define_variables(model: pyo.ConcreteModel, data: ModelData) -> None:
    """First stage y, z; per node w, x, r, s, u, u_i, g, dev, S (formulation.md: Variables, A3-B1).

    Quantities carry their unit in the name: ``_units`` the element's unit
    (Settings ``unit``), ``_product_units`` an offer's product (``a[o,e]``
    element units each), ``activity_level`` in units of level; binaries none.
    """
    model.contract = pyo.Var(model.NOW_OFFERS, domain=pyo.Binary, bounds=_contract_bounds)  # y[o]
    model.signed = pyo.Var(model.SIGNING_NODES, domain=pyo.Binary)  # w[o,n]
    model.adopt = pyo.Var(model.ACTIVITIES, domain=pyo.Binary)  # z[k]
    # x[o,n]
    model.purchase_product_units = pyo.Var(model.OFFER_NODES, domain=pyo.NonNegativeReals)
    model.activity_level = pyo.Var(model.ACTIVITY_NODES, domain=pyo.NonNegativeReals)  # r[k,n]
    model.stock_units = pyo.Var(model.ELEMENT_NODES, bounds=_storage_bounds)  # s[e,n]
    model.unmet_units = pyo.Var(model.ELEMENT_NODES, bounds=_unmet_bounds)  # u[e,n]
    # u_i[e,n]: the shortage in each use (segment) of an element with tiers (B1)
    model.shortage_by_use_units = pyo.Var(model.TIER_NODES, bounds=_segment_bounds)
    model.cover_gap_units = pyo.Var(model.COVER_NODES, domain=pyo.NonNegativeReals)  # g[e,n]
    # dev[o,n]
    model.change_product_units = pyo.Var(model.CHANGE_NODES, domain=pyo.NonNegativeReals)
    model.supply_units = pyo.Var(model.SUPPLY_NODES, domain=pyo.NonNegativeReals)  # S[e,n] (7)


def refresh_bounds(model: pyo.ConcreteModel) -> None:
    """Set the bounds that come from data again, after ``model.data`` changed."""
    for e, n in model.ELEMENT_NODES:
        model.stock_units[e, n].setlb(_storage_bounds(model, e, n)[0])
        model.stock_units[e, n].setub(_storage_bounds(model, e, n)[1])
        model.unmet_units[e, n].setub(_unmet_bounds(model, e, n)[1])
    for s, n in model.TIER_NODES:
        model.shortage_by_use_units[s, n].setub(_segment_bounds(model, s, n)[1])
    for o in model.NOW_OFFERS:
        model.contract[o].setlb(_contract_bounds(model, o)[0])
        model.contract[o].setub(_contract_bounds(model, o)[1])


def signature(model: pyo.ConcreteModel, o: int, n: int) -> pyo.Var:
    """Return the binary that lets offer o deliver at node n.

    ``y[o]`` for an offer signed now (its lead time is in OFFER_NODES); for a
    ``later`` offer ``w[o, anc(n, L_o)]``, the signature L_o periods earlier.
    """
    if o in model.contract:
        return model.contract[o]
    ancestor = n
    for _ in range(int(model.data.offer_lead[o])):
        ancestor = model.data.nodes[ancestor].parent
    return model.signed[o, ancestor]
