"""Constraint families 3, 4 and 6: stock balance, the substitution limit and cover."""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo

from planner.model.linear import linear
from planner.model.parameters import ModelData


def _demand(model: pyo.ConcreteModel, e: int, n: int) -> float:
    return float(model.data.demand[e, model.node_period[n], model.representative[n]])


def supply_terms(model: pyo.ConcreteModel, e: int, n: int) -> tuple[list[float], list[Any]]:
    """Coefficients and variables of S[e,n]: purchases plus recycled supply (not substitution)."""
    t = model.node_period[n]
    offers = model.offers_at[t][e]
    recycling = model.recycling_at[t][e]
    coefficients = [1.0] * len(offers) + [share for _, share in recycling]
    variables = [model.purchase[o, n] for o in offers]
    variables += [model.activity_level[k, n] for k, _ in recycling]
    return coefficients, variables


def balance_rule(model: pyo.ConcreteModel, e: int, n: int) -> Any:
    """s[e,n] - s[e,parent] - sum_o x - sum_k yield r - u[e,n] = -d[e,n]."""
    data = model.data
    parent = data.nodes[n].parent
    supplied, variables = supply_terms(model, e, n)
    substitution = model.substitution_at[model.node_period[n]][e]
    coefficients = [1.0, -1.0, *(-c for c in supplied), *(-share for _, share in substitution)]
    variables = [model.stock[e, n], model.unmet[e, n], *variables]
    variables += [model.activity_level[k, n] for k, _ in substitution]
    right = -_demand(model, e, n)
    if parent is None:
        right += float(data.initial_stock[e])
    else:
        coefficients.append(-1.0)
        variables.append(model.stock[e, parent])
    return (right, linear(coefficients, variables), right)


def substitution_limit_rule(model: pyo.ConcreteModel, e: int, n: int) -> Any:
    """sum_{k in K_sub, yield > 0} yield[k,e] r[k,n] <= d[e,n]."""
    avoided = [
        (k, share) for k, share in model.substitution_at[model.node_period[n]][e] if share > 0
    ]
    if not avoided:
        return pyo.Constraint.Skip
    expression = linear(
        [share for _, share in avoided], [model.activity_level[k, n] for k, _ in avoided]
    )
    return (None, expression, _demand(model, e, n))


def cover_rule(model: pyo.ConcreteModel, e: int, n: int) -> Any:
    """s[e,n] + g[e,n] >= q[e,n] = cover_days[e] d[e,n] / days[t]."""
    data = model.data
    target = (
        float(data.cover_days[e]) * _demand(model, e, n) / float(data.days[model.node_period[n]])
    )
    return (target, linear((1.0, 1.0), (model.stock[e, n], model.cover_gap[e, n])), None)


def define_balance_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(3) Stock balance of every element at every node."""
    model.balance = pyo.Constraint(model.ELEMENT_NODES, rule=balance_rule)


def define_substitution_limit_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(4) Substitution avoids no more than the demand."""
    model.substitution_limit = pyo.Constraint(model.ELEMENT_NODES, rule=substitution_limit_rule)


def define_cover_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(6) Stock plus the shortfall below target covers the target, where it is > 0."""
    model.cover = pyo.Constraint(model.COVER_NODES, rule=cover_rule)
