"""Constraint families of B1: a shortage split over its uses (ShortageTiers).

An element with ShortageTiers rows has one variable per segment (its tiers,
then the rest at shortage_cost) and node: ``u_i[e,n]``, each bounded by its
share of the requirement ``Q[e,n]`` of A1. Where no substitution adds demand
``Q = d`` and the bound is the variable's; elsewhere it is a row. Elements
without tiers have no segment variables and no rows here (they are v2).
"""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo

from planner.model.linear import linear
from planner.model.parameters import ModelData
from planner.model.variables import creates_demand


def shortage_by_use_definition_rule(model: pyo.ConcreteModel, e: int, n: int) -> Any:
    """(B1) u[e,n] - sum_i u_i[e,n] = 0 over e's segments (its tiers and the rest)."""
    segments = model.segments_of[e]
    return (
        0.0,
        linear(
            [1.0, *(-1.0 for _ in segments)],
            [model.unmet_units[e, n], *(model.shortage_by_use_units[s, n] for s in segments)],
        ),
        0.0,
    )


def tier_limit_rule(model: pyo.ConcreteModel, s: int, n: int) -> Any:
    """(B1) u_i[e,n] - share_i sum_{k in K_sub} max(0, -yield[k,e]) r[k,n] <= share_i d[e,n].

    Only where a substitution adds demand; elsewhere it is the bound of u_i.
    """
    data = model.data
    e = int(data.segment_element[s])
    added = creates_demand(model, e, n)
    if not added:
        return pyo.Constraint.Skip
    share = float(data.segment_share[s])
    demand = float(data.demand[e, model.node_period[n], model.representative[n]])
    expression = linear(
        [1.0, *(-share * amount for _, amount in added)],
        [model.shortage_by_use_units[s, n], *(model.activity_level[k, n] for k, _ in added)],
    )
    return (None, expression, share * demand)


def define_shortage_by_use_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(B1) The shortage of an element with tiers is the sum of its segments."""
    model.shortage_by_use_definition = pyo.Constraint(
        model.TIERED_ELEMENT_NODES, rule=shortage_by_use_definition_rule
    )


def define_tier_limit_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """(B1) Each segment at most its share of the requirement (rows where substitution adds)."""
    model.tier_limit = pyo.Constraint(model.TIER_NODES, rule=tier_limit_rule)
