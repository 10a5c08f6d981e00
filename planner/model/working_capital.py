"""Constraint family of B3: the stock's value within the working-capital budget."""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo

from planner.model.linear import linear
from planner.model.parameters import ModelData


def stock_value_limit_rule(model: pyo.ConcreteModel, n: int) -> Any:
    """(B3) sum_e P_e s[e,n] <= stock_value_max, with P_e the reference_price."""
    data = model.data
    elements = list(model.ELEMENTS)
    return (
        None,
        linear(
            [float(data.reference_price[e]) for e in elements],
            [model.stock_units[e, n] for e in elements],
        ),
        float(data.stock_value_max),
    )


def define_stock_value_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(B3) End-of-period stock at reference prices within Settings stock_value_max."""
    model.stock_value_limit = pyo.Constraint(model.BUDGET_NODES, rule=stock_value_limit_rule)
