"""The objective: first-stage cost plus expected scenario cost, optionally mixed with CVaR."""

from __future__ import annotations

import pyomo.environ as pyo

from planner.model.parameters import ModelData


def node_cost_rule(model: pyo.ConcreteModel, n: int) -> pyo.Expression:
    """Cost of node n: purchases, activities, holding, shortage and cover penalty."""
    data = model.data
    t, w = model.node_period[n], model.representative[n]
    terms = [
        float(data.unit_cost[o, t, w]) * model.purchase[o, n]
        for o in model.OFFERS
        if (o, n) in model.OFFER_NODES
    ]
    terms += [
        float(data.activity_cost[k, t, w]) * model.activity_level[k, n]
        for k in model.ACTIVITIES
        if (k, n) in model.ACTIVITY_NODES
    ]
    for e in model.ELEMENTS:
        terms.append(float(data.holding_cost[e]) * model.stock[e, n])
        terms.append(float(data.shortage_cost[e]) * model.unmet[e, n])
        if (e, n) in model.COVER_NODES:
            terms.append(float(data.cover_penalty[e]) * model.cover_gap[e, n])
    return sum(terms)


def first_stage_cost(model: pyo.ConcreteModel) -> pyo.Expression:
    """F = sum_o fixed_cost[o] y[o] + sum_k fixed_cost[k] z[k]."""
    data = model.data
    return sum(float(data.offer_fixed_cost[o]) * model.contract[o] for o in model.OFFERS) + sum(
        float(data.activity_fixed_cost[k]) * model.adopt[k] for k in model.ACTIVITIES
    )


def scenario_nodes(model: pyo.ConcreteModel, w: int) -> list[int]:
    """Return the nodes on scenario w's path through the tree, in period order."""
    return [int(n) for n in model.data.node_of[:, w]]


def cvar_excess_rule(model: pyo.ConcreteModel, w: int) -> pyo.Expression:
    """v[w] >= V[w] - eta."""
    return (
        model.cvar_excess[w]
        >= sum(model.node_cost[n] for n in scenario_nodes(model, w)) - model.cvar_eta
    )


def define_cvar_constraints(model: pyo.ConcreteModel, data: ModelData) -> None:
    """Node costs, and the CVaR epigraph (only where lambda > 0)."""
    model.node_cost = pyo.Expression(model.NODES, rule=node_cost_rule)
    if data.cvar_weight <= 0:
        return
    model.cvar_eta = pyo.Var(domain=pyo.Reals)
    model.cvar_excess = pyo.Var(model.SCENARIOS, domain=pyo.NonNegativeReals)
    model.cvar_definition = pyo.Constraint(model.SCENARIOS, rule=cvar_excess_rule)


def define_objective(model: pyo.ConcreteModel, data: ModelData) -> None:
    """Min F + (1 - lambda) sum_n p_n cost_n + lambda CVaR."""
    weight = data.cvar_weight
    expected = sum(data.nodes[n].probability * model.node_cost[n] for n in model.NODES)
    total = first_stage_cost(model) + (1 - weight) * expected
    if weight > 0:
        tail = sum(float(data.probability[w]) * model.cvar_excess[w] for w in model.SCENARIOS) / (
            1 - data.cvar_alpha
        )
        total = total + weight * (model.cvar_eta + tail)
    model.total_cost = pyo.Objective(expr=total, sense=pyo.minimize)
