"""Constraint families 3, 4, 6 and A1: stock balance, substitution limit, cover, unmet bound."""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo

from planner.model.linear import linear
from planner.model.parameters import ModelData, cover_target
from planner.model.variables import creates_demand


def _demand(model: pyo.ConcreteModel, e: int, n: int) -> float:
    return float(model.data.demand[e, model.node_period[n], model.representative[n]])


def supply_terms(model: pyo.ConcreteModel, e: int, n: int) -> tuple[list[float], list[Any]]:
    """S[e,n] = sum_o a[o,e] x[o,n] + sum_{k rec} yield[k,e] r[k,n] (not substitution).

    The one definition of the supply's terms, as (coefficients, variables):
    the offers of ``model.offers_at``, then the recycling of
    ``model.recycling_at``, in their order. The balance (3), S's definition
    (7) and every share row (8-10, A6) are built from it;
    :func:`planner.results.supply_measures` evaluates the same sums on arrays.
    """
    t = model.node_period[n]
    offers = model.offers_at[t][e]
    recycling = model.recycling_at[t][e]
    coefficients = [fraction for _, fraction in offers] + [share for _, share in recycling]
    variables = [model.purchase_product_units[o, n] for o, _ in offers]
    variables += [model.activity_level[k, n] for k, _ in recycling]
    return coefficients, variables


def stock_balance_rule(model: pyo.ConcreteModel, e: int, n: int) -> Any:
    """s[e,n] - s[e,parent] - sum_o a[o,e] x - sum_k yield r - u[e,n] = -d[e,n]."""
    data = model.data
    parent = data.nodes[n].parent
    supplied, variables = supply_terms(model, e, n)
    substitution = model.substitution_at[model.node_period[n]][e]
    coefficients = [1.0, -1.0, *(-c for c in supplied), *(-share for _, share in substitution)]
    variables = [model.stock_units[e, n], model.unmet_units[e, n], *variables]
    variables += [model.activity_level[k, n] for k, _ in substitution]
    right = -_demand(model, e, n)
    if parent is None:
        right += float(data.initial_stock[e])
    else:
        coefficients.append(-1.0)
        variables.append(model.stock_units[e, parent])
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


def unmet_limit_rule(model: pyo.ConcreteModel, e: int, n: int) -> Any:
    """(A1) u[e,n] <= d[e,n] + sum_{k in K_sub} max(0, -yield[k,e]) r[k,n].

    Only where a substitution adds demand; elsewhere it is the bound of u. An
    element with ShortageTiers has the bound in its tiers' rows (B1).
    """
    added = creates_demand(model, e, n)
    if not added or len(model.segments_of[e]) > 1:
        return pyo.Constraint.Skip
    expression = linear(
        [1.0, *(-share for _, share in added)],
        [model.unmet_units[e, n], *(model.activity_level[k, n] for k, _ in added)],
    )
    return (None, expression, _demand(model, e, n))


def cover_floor_rule(model: pyo.ConcreteModel, e: int, n: int) -> Any:
    """s[e,n] + g[e,n] >= q[e,n] = cover_days[e] d[e,n] / days[t] (times cover_factor, A4)."""
    data = model.data
    t, w = model.node_period[n], model.representative[n]
    target = cover_target(
        float(data.cover_days[e]),
        _demand(model, e, n),
        float(data.days[t]),
        float(data.cover_factor[e, t, w]),
    )
    return (
        target,
        linear((1.0, 1.0), (model.stock_units[e, n], model.cover_gap_units[e, n])),
        None,
    )


def define_balance_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(3) Stock balance of every element at every node."""
    model.stock_balance = pyo.Constraint(model.ELEMENT_NODES, rule=stock_balance_rule)


def define_substitution_limit_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(4) Substitution avoids no more than the demand."""
    model.substitution_limit = pyo.Constraint(model.ELEMENT_NODES, rule=substitution_limit_rule)


def define_unmet_bound_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(A1) Unmet requirement at most the demand plus what substitution adds."""
    model.unmet_limit = pyo.Constraint(model.ELEMENT_NODES, rule=unmet_limit_rule)


def define_cover_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(6) Stock plus the shortfall below target covers the target, where it is > 0."""
    model.cover_floor = pyo.Constraint(model.COVER_NODES, rule=cover_floor_rule)
