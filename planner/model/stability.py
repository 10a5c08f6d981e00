"""Constraint family A5 (plan stability): deviation from the previous plan's orders."""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo

from planner.model.linear import linear
from planner.model.parameters import ModelData


def _previous(model: pyo.ConcreteModel, o: int, n: int) -> float:
    return float(model.data.previous[o, model.node_period[n]])


def _purchase(model: pyo.ConcreteModel, o: int, n: int) -> list[Any]:
    """x[o,n], or nothing where the offer cannot deliver at n (x = 0)."""
    return [model.purchase_product_units[o, n]] if (o, n) in model.purchase_product_units else []


def change_up_floor_rule(model: pyo.ConcreteModel, o: int, n: int) -> Any:
    """dev[o,n] >= x[o,n] - prev[o,t(n)]."""
    bought = _purchase(model, o, n)
    expression = linear([1.0, *(-1.0 for _ in bought)], [model.change_product_units[o, n], *bought])
    return (-_previous(model, o, n), expression, None)


def change_down_floor_rule(model: pyo.ConcreteModel, o: int, n: int) -> Any:
    """dev[o,n] >= prev[o,t(n)] - x[o,n]."""
    bought = _purchase(model, o, n)
    expression = linear([1.0, *(1.0 for _ in bought)], [model.change_product_units[o, n], *bought])
    return (_previous(model, o, n), expression, None)


def define_change_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(A5) |x - prev| <= dev for every listed offer at every node of a listed period."""
    model.change_up_floor = pyo.Constraint(model.CHANGE_NODES, rule=change_up_floor_rule)
    model.change_down_floor = pyo.Constraint(model.CHANGE_NODES, rule=change_down_floor_rule)
