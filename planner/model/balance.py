"""Constraint families 3, 4 and 6: stock balance, the substitution limit and cover."""

from __future__ import annotations

import pyomo.environ as pyo

from planner.model.parameters import ModelData


def _demand(model: pyo.ConcreteModel, e: int, n: int) -> float:
    return float(model.data.demand[e, model.node_period[n], model.representative[n]])


def _activity_terms(model: pyo.ConcreteModel, e: int, n: int, kinds: tuple[str, ...]) -> list:
    data = model.data
    return [
        float(data.yields[k, e]) * model.activity_level[k, n]
        for k in model.activities_of[e]
        if data.activity_kind[k] in kinds and (k, n) in model.ACTIVITY_NODES
    ]


def supply_terms(model: pyo.ConcreteModel, e: int, n: int) -> list:
    """Terms of S[e,n]: purchases of e plus recycled e (substitution is not supply)."""
    purchases = [model.purchase[o, n] for o in model.offers_of[e] if (o, n) in model.OFFER_NODES]
    return purchases + _activity_terms(model, e, n, ("recycling",))


def balance_rule(model: pyo.ConcreteModel, e: int, n: int) -> pyo.Expression:
    """s[e,n] = s[e,parent] + sum_o x + sum_k yield r + u[e,n] - d[e,n]."""
    data = model.data
    parent = data.nodes[n].parent
    opening = float(data.initial_stock[e]) if parent is None else model.stock[e, parent]
    inflow = supply_terms(model, e, n) + _activity_terms(model, e, n, ("substitution",))
    return model.stock[e, n] == opening + sum(inflow) + model.unmet[e, n] - _demand(model, e, n)


def substitution_limit_rule(model: pyo.ConcreteModel, e: int, n: int) -> pyo.Expression:
    """sum_{k in K_sub, yield > 0} yield[k,e] r[k,n] <= d[e,n]."""
    data = model.data
    terms = [
        float(data.yields[k, e]) * model.activity_level[k, n]
        for k in model.activities_of[e]
        if data.activity_kind[k] == "substitution"
        and data.yields[k, e] > 0
        and (k, n) in model.ACTIVITY_NODES
    ]
    if not terms:
        return pyo.Constraint.Skip
    return sum(terms) <= _demand(model, e, n)


def cover_rule(model: pyo.ConcreteModel, e: int, n: int) -> pyo.Expression:
    """s[e,n] + g[e,n] >= q[e,n] = cover_days[e] d[e,n] / days[t]."""
    data = model.data
    target = (
        float(data.cover_days[e]) * _demand(model, e, n) / float(data.days[model.node_period[n]])
    )
    return model.stock[e, n] + model.cover_gap[e, n] >= target


def define_balance_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(3) Stock balance of every element at every node."""
    model.balance = pyo.Constraint(model.ELEMENT_NODES, rule=balance_rule)


def define_substitution_limit_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(4) Substitution avoids no more than the demand."""
    model.substitution_limit = pyo.Constraint(model.ELEMENT_NODES, rule=substitution_limit_rule)


def define_cover_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(6) Stock plus the shortfall below target covers the target, where it is > 0."""
    model.cover = pyo.Constraint(model.COVER_NODES, rule=cover_rule)
