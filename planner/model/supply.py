"""Constraint families 1 and 2: what contracted offers and adopted activities can deliver."""

from __future__ import annotations

import pyomo.environ as pyo

from planner.model.parameters import ModelData


def _capacity(model: pyo.ConcreteModel, o: int, n: int) -> float:
    data = model.data
    return float(data.capacity[o, model.node_period[n], model.representative[n]])


def capacity_rule(model: pyo.ConcreteModel, o: int, n: int) -> pyo.Expression:
    """x[o,n] <= cap[o,n] y[o]."""
    return model.purchase[o, n] - _capacity(model, o, n) * model.contract[o] <= 0


def minimum_take_rule(model: pyo.ConcreteModel, o: int, n: int) -> pyo.Expression:
    """x[o,n] >= m[o,n] y[o], with m = min(min_take, cap)."""
    minimum = min(float(model.data.offer_min_take[o]), _capacity(model, o, n))
    if minimum <= 0:
        return pyo.Constraint.Skip
    return model.purchase[o, n] - minimum * model.contract[o] >= 0


def activity_capacity_rule(model: pyo.ConcreteModel, k: int, n: int) -> pyo.Expression:
    """r[k,n] <= acap[k,n] z[k]."""
    data = model.data
    capacity = float(data.activity_capacity[k, model.node_period[n], model.representative[n]])
    return model.activity_level[k, n] - capacity * model.adopt[k] <= 0


def define_capacity_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(1, upper) x[o,n] <= cap[o,n] y[o] for every offer o deliverable at node n."""
    model.capacity = pyo.Constraint(model.OFFER_NODES, rule=capacity_rule)


def define_minimum_take_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(1, lower) m[o,n] y[o] <= x[o,n] where m[o,n] > 0."""
    model.minimum_take = pyo.Constraint(model.OFFER_NODES, rule=minimum_take_rule)


def define_activity_capacity_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(2) r[k,n] <= acap[k,n] z[k] for every activity k available at node n."""
    model.activity_capacity = pyo.Constraint(model.ACTIVITY_NODES, rule=activity_capacity_rule)
