"""Constraint families 1 and 2: what contracted offers and adopted activities can deliver."""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo

from planner.model.linear import linear
from planner.model.parameters import ModelData


def _capacity(model: pyo.ConcreteModel, o: int, n: int) -> float:
    data = model.data
    return float(data.capacity[o, model.node_period[n], model.representative[n]])


def capacity_rule(model: pyo.ConcreteModel, o: int, n: int) -> Any:
    """x[o,n] <= cap[o,n] y[o]."""
    capacity = _capacity(model, o, n)
    return (None, linear((1.0, -capacity), (model.purchase[o, n], model.contract[o])), 0.0)


def minimum_take_rule(model: pyo.ConcreteModel, o: int, n: int) -> Any:
    """x[o,n] >= m[o,n] y[o], with m = min(min_take, cap)."""
    minimum = min(float(model.data.offer_min_take[o]), _capacity(model, o, n))
    if minimum <= 0:
        return pyo.Constraint.Skip
    return (0.0, linear((1.0, -minimum), (model.purchase[o, n], model.contract[o])), None)


def activity_capacity_rule(model: pyo.ConcreteModel, k: int, n: int) -> Any:
    """r[k,n] <= acap[k,n] z[k]."""
    data = model.data
    capacity = float(data.activity_capacity[k, model.node_period[n], model.representative[n]])
    return (None, linear((1.0, -capacity), (model.activity_level[k, n], model.adopt[k])), 0.0)


def define_capacity_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(1, upper) x[o,n] <= cap[o,n] y[o] for every offer o deliverable at node n."""
    model.capacity = pyo.Constraint(model.OFFER_NODES, rule=capacity_rule)


def define_minimum_take_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(1, lower) m[o,n] y[o] <= x[o,n] where m[o,n] > 0."""
    model.minimum_take = pyo.Constraint(model.OFFER_NODES, rule=minimum_take_rule)


def define_activity_capacity_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(2) r[k,n] <= acap[k,n] z[k] for every activity k available at node n."""
    model.activity_capacity = pyo.Constraint(model.ACTIVITY_NODES, rule=activity_capacity_rule)
