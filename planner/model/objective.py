"""The objective: first-stage cost plus expected scenario cost, optionally mixed with CVaR."""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo

from planner.model.linear import linear
from planner.model.parameters import ModelData


def node_cost_rule(model: pyo.ConcreteModel, n: int) -> Any:
    """Cost of node n: purchases, activities, holding, shortage, cover penalty (formulation).

    The shortage of an element with ShortageTiers is priced per use (B1).

    Plus, v2: the fixed cost of later offers signed at n (A3) and the cost of
    changes against the previous plan (A5).
    """
    data = model.data
    t, w = model.node_period[n], model.representative[n]
    offers = model.offers_in[t]
    activities = model.activities_in[t]
    coefficients = [float(c) for c in data.unit_cost[offers, t, w]]
    variables = [model.purchase_product_units[o, n] for o in offers]
    coefficients += [float(c) for c in data.activity_cost[activities, t, w]]
    variables += [model.activity_level[k, n] for k in activities]
    for e in range(len(data.elements)):
        coefficients.append(float(data.holding_cost[e]))
        variables.append(model.stock_units[e, n])
        segments = model.segments_of[e]
        if len(segments) > 1:  # B1: each use at its tier cost, the rest at shortage_cost
            coefficients += [float(data.segment_cost[s]) for s in segments]
            variables += [model.shortage_by_use_units[s, n] for s in segments]
        else:
            coefficients.append(float(data.shortage_cost[e]))
            variables.append(model.unmet_units[e, n])
        if (e, n) in model.cover_gap_units:
            coefficients.append(float(data.cover_penalty[e]))
            variables.append(model.cover_gap_units[e, n])
    parent = data.nodes[n].parent
    for o in model.later_offers:
        fixed = float(data.offer_fixed_cost[o])
        coefficients.append(fixed)
        variables.append(model.signed[o, n])
        if parent is not None:
            coefficients.append(-fixed)
            variables.append(model.signed[o, parent])
    for o in model.changed_offers_at[n]:
        coefficients.append(float(data.change_cost))
        variables.append(model.change_product_units[o, n])
    return linear(coefficients, variables)


def first_stage_cost(model: pyo.ConcreteModel) -> pyo.Expression:
    """F = sum_{now o, not contracted} fixed_cost[o] y[o] + sum_k fixed_cost[k] z[k]."""
    data = model.data
    offers = [o for o in model.NOW_OFFERS if not data.offer_contracted[o]]
    activities = list(model.ACTIVITIES)
    return linear(
        [float(data.offer_fixed_cost[o]) for o in offers]
        + [float(data.activity_fixed_cost[k]) for k in activities],
        [model.contract[o] for o in offers] + [model.adopt[k] for k in activities],
    )


def scenario_nodes(model: pyo.ConcreteModel, w: int) -> list[int]:
    """Return the nodes on scenario w's path through the tree, in period order."""
    return [int(n) for n in model.data.node_of[:, w]]


def node_cost_definition_rule(model: pyo.ConcreteModel, n: int) -> Any:
    """C[n] - cost(n) = 0: the node's cost defined once, for the CVaR rows."""
    cost = node_cost_rule(model, n)
    return (
        0.0,
        linear(
            [1.0, *(-c for c in cost.linear_coefs)],
            [model.cvar_node_cost_currency[n], *cost.linear_vars],
        ),
        0.0,
    )


def cvar_excess_floor_rule(model: pyo.ConcreteModel, w: int) -> Any:
    """v[w] - sum_{n on w's path} C[n] + eta >= 0, i.e. v[w] >= V[w] - eta."""
    nodes = scenario_nodes(model, w)
    return (
        0.0,
        linear(
            [1.0, 1.0, *(-1.0 for _ in nodes)],
            [
                model.cvar_excess_currency[w],
                model.cvar_threshold_currency,
                *(model.cvar_node_cost_currency[n] for n in nodes),
            ],
        ),
        None,
    )


def define_cvar_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """Node costs, and the CVaR epigraph (only where lambda > 0).

    With CVaR the cost of each tree node is a variable C[n] defined by one
    row, and each scenario's row sums the C[n] of its path: writing the
    node costs out in every scenario's row would repeat a shared node's
    terms once per scenario through it. Costs are in the Settings currency
    (``_currency``).
    """
    model.node_cost_currency = pyo.Expression(model.NODES, rule=node_cost_rule)
    if data.cvar_weight <= 0:
        return
    model.cvar_threshold_currency = pyo.Var(domain=pyo.Reals)
    model.cvar_excess_currency = pyo.Var(model.SCENARIOS, domain=pyo.NonNegativeReals)
    model.cvar_node_cost_currency = pyo.Var(model.NODES, domain=pyo.Reals)
    model.node_cost_definition = pyo.Constraint(model.NODES, rule=node_cost_definition_rule)
    model.cvar_excess_floor = pyo.Constraint(model.SCENARIOS, rule=cvar_excess_floor_rule)


def define_objective(model: pyo.ConcreteModel, data: ModelData) -> None:
    """Min F + (1 - lambda) sum_n p_n cost_n + lambda CVaR."""
    weight = data.cvar_weight
    expected = sum(data.nodes[n].probability * model.node_cost_currency[n] for n in model.NODES)
    total = first_stage_cost(model) + (1 - weight) * expected
    if weight > 0:
        tail = sum(
            float(data.probability[w]) * model.cvar_excess_currency[w] for w in model.SCENARIOS
        ) / (1 - data.cvar_alpha)
        total = total + weight * (model.cvar_threshold_currency + tail)
    model.total_cost_currency = pyo.Objective(expr=total, sense=pyo.minimize)
