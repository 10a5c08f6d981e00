"""Constraint families 1, 2, A3 and A5: what signed offers and adopted activities can deliver."""

from __future__ import annotations

import math
from typing import Any

import pyomo.environ as pyo

from planner.model.linear import linear
from planner.model.parameters import ModelData, effective_firm_order, effective_min_take
from planner.model.variables import signature


def _capacity(model: pyo.ConcreteModel, o: int, n: int) -> float:
    data = model.data
    return float(data.capacity[o, model.node_period[n], model.representative[n]])


def capacity_limit_rule(model: pyo.ConcreteModel, o: int, n: int) -> Any:
    """x[o,n] <= M y[o], M = min(cap[o,n], useful[o,n]) (later offers: w[o, anc(n, L_o)]).

    ``useful`` (:func:`~planner.model.parameters.useful_capacity`) cuts off no
    optimal plan; a big-M far above what the case can use would let the
    solver's integrality tolerance buy without the fixed cost.
    """
    capacity = float(model.data.offer_bound(o, n))
    return (
        None,
        linear((1.0, -capacity), (model.purchase_product_units[o, n], signature(model, o, n))),
        0.0,
    )


def minimum_take_floor_rule(model: pyo.ConcreteModel, o: int, n: int) -> Any:
    """x[o,n] >= m[o,n] y[o], with m = min(min_take, cap) (later offers: w[o, anc(n, L_o)])."""
    minimum = float(effective_min_take(float(model.data.offer_min_take[o]), _capacity(model, o, n)))
    if minimum <= 0:
        return pyo.Constraint.Skip
    return (
        0.0,
        linear((1.0, -minimum), (model.purchase_product_units[o, n], signature(model, o, n))),
        None,
    )


def activity_capacity_limit_rule(model: pyo.ConcreteModel, k: int, n: int) -> Any:
    """r[k,n] <= M z[k], M = min(acap[k,n], useful[k,n]) (see capacity_limit_rule)."""
    capacity = float(model.data.activity_bound(k, n))
    return (None, linear((1.0, -capacity), (model.activity_level[k, n], model.adopt[k])), 0.0)


def signing_persistence_rule(model: pyo.ConcreteModel, o: int, n: int) -> Any:
    """(A3) w[o,n] >= w[o,parent(n)]: a contract once signed stays signed."""
    parent = model.data.nodes[n].parent
    if parent is None:
        return pyo.Constraint.Skip
    return (0.0, linear((1.0, -1.0), (model.signed[o, n], model.signed[o, parent])), None)


def commitment_floor_rule(model: pyo.ConcreteModel, o: int, n: int) -> Any:
    """(A5) x[o,n] >= min(quantity, cap[o,n]): a firm order, cut by a disrupted capacity."""
    quantity = float(model.data.commitment[o, model.node_period[n]])
    firm = float(effective_firm_order(quantity, _capacity(model, o, n)))
    if math.isnan(firm) or firm <= 0:
        return pyo.Constraint.Skip
    return (firm, linear((1.0,), (model.purchase_product_units[o, n],)), None)


def define_capacity_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(1, upper) x[o,n] <= cap[o,n] y[o] for every offer o deliverable at node n."""
    model.capacity_limit = pyo.Constraint(model.OFFER_NODES, rule=capacity_limit_rule)


def define_minimum_take_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(1, lower) m[o,n] y[o] <= x[o,n] where m[o,n] > 0."""
    model.minimum_take_floor = pyo.Constraint(model.OFFER_NODES, rule=minimum_take_floor_rule)


def define_activity_capacity_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(2) r[k,n] <= acap[k,n] z[k] for every activity k available at node n."""
    model.activity_capacity_limit = pyo.Constraint(
        model.ACTIVITY_NODES, rule=activity_capacity_limit_rule
    )


def define_signing_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(A3) Signatures of later offers are monotone along every path of the tree."""
    model.signing_persistence = pyo.Constraint(model.SIGNING_NODES, rule=signing_persistence_rule)


def define_commitment_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(A5) Firm orders of contracted offers are bought, up to the capacity at the node."""
    model.commitment_floor = pyo.Constraint(model.COMMITMENT_NODES, rule=commitment_floor_rule)
