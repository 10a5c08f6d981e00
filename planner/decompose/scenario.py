"""One PH scenario's Pyomo model, built by the planner's own model code.

No second formulation: :func:`restrict` gives the builder the case's data
cut to one path through the tree (one scenario of probability 1, one node
per period), and :func:`scenario_model` attaches mpi-sppy's tree nodes to
the model it builds. The big-Ms stay those of the whole tree (a node's
useful capacity looks at every path below it), so the scenario models are
exactly the extensive form's rows, split by scenario.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pyomo.environ as pyo

from planner.decompose.tree import PhScenario, PhTree
from planner.model import build_model
from planner.model.objective import first_stage_cost
from planner.model.parameters import ModelData, Node

#: Variables indexed (item, node): a node's decisions, non-anticipative at its stage.
NODE_VARIABLES = (
    "purchase_product_units",
    "activity_level",
    "unmet_units",
    "shortage_by_use_units",
    "cover_gap_units",
    "change_product_units",
    "signed",
)
#: Variables a node's decisions (and its ancestors') determine by equality rows: the
#: stock (balance 3), the supply (7) and CVaR's node cost. Not held equal by PH (their
#: values, 1e5-1e6 for a cost, would make the linearised proximal term badly scaled);
#: equal anyway wherever the decisions are.
DETERMINED = ("stock_units", "supply_units", "cvar_node_cost_currency")
#: First-stage decisions: non-anticipative at ROOT (CVaR's threshold eta too, scaled).
FIRST_STAGE = ("contract", "adopt", "cvar_threshold_scaled")
#: CVaR's threshold eta in currency: determined by its scaled copy, which PH holds equal.
SCALED = ("cvar_threshold_currency",)
#: Per scenario, never shared: CVaR's excess of the scenario's cost over eta.
RECOURSE = ("cvar_excess_currency",)


def restrict(data: ModelData, scenario: PhScenario) -> ModelData:
    """Cut ``data`` to one path through the tree: one scenario of probability 1.

    The path's nodes become one node per period (node id = period); the
    useful capacities (the big-Ms) are the whole tree's at those nodes.
    """
    w = [scenario.scenarios[0]]
    path = list(scenario.path)
    n_t = len(data.periods)
    return replace(
        data,
        scenarios=[data.scenarios[w[0]]],
        probability=np.ones(1),
        capacity=data.capacity[:, :, w],
        unit_cost=data.unit_cost[:, :, w],
        activity_capacity=data.activity_capacity[:, :, w],
        activity_cost=data.activity_cost[:, :, w],
        demand=data.demand[:, :, w],
        cover_factor=data.cover_factor[:, :, w],
        nodes=[
            Node(id=t, period=t, scenarios=(0,), probability=1.0, parent=t - 1 if t else None)
            for t in range(n_t)
        ],
        node_of=np.arange(n_t, dtype=int)[:, None],
        offer_useful=data.offer_useful[:, path],
        activity_useful=data.activity_useful[:, path],
    )


def node_variables(model: pyo.ConcreteModel, periods: tuple[int, ...]) -> list[Any]:
    """Return the decisions of the scenario model's nodes at ``periods``, in a fixed order.

    Raises
    ------
    RuntimeError
        For a variable this module does not place on the tree (a new family
        must be added to one of its lists, or PH would not hold it equal
        across the scenarios that share its node).
    """
    known = {*NODE_VARIABLES, *DETERMINED, *FIRST_STAGE, *RECOURSE, *SCALED}
    unknown = sorted(var.name for var in model.component_objects(pyo.Var) if var.name not in known)
    if unknown:
        raise RuntimeError(f"variables not placed on the scenario tree: {', '.join(unknown)}")
    wanted = set(periods)
    found: list[Any] = []
    for name in NODE_VARIABLES:
        var = getattr(model, name)
        found += [var[index] for index in var if index[1] in wanted]
    return found


def first_stage_variables(model: pyo.ConcreteModel) -> list[Any]:
    """Contracts signed now, activities adopted, and CVaR's threshold where it is used."""
    found: list[Any] = []
    for name in FIRST_STAGE:
        if hasattr(model, name):
            found += list(getattr(model, name).values())
    return found


def scenario_model(name: str, data: ModelData, tree: PhTree) -> pyo.ConcreteModel:
    """mpi-sppy's scenario creator: the model of PH scenario ``name`` with its tree nodes."""
    from mpisppy.scenario_tree import ScenarioNode  # optional dependency (planner[mpi])

    scenario = tree.scenario(name)
    model = build_model(restrict(data, scenario))
    if hasattr(model, "cvar_threshold_currency"):
        _scale_threshold(model, data)
    first = first_stage_variables(model)
    nodes = []
    for stage in scenario.stages:
        nonants = node_variables(model, stage.periods)
        cost = sum(model.node_cost_currency[t] for t in stage.periods)
        if stage.parent is None:
            nonants = first + nonants
            cost = first_stage_cost(model) + cost
        nodes.append(
            ScenarioNode(
                name=stage.name,
                cond_prob=stage.cond_prob,
                stage=stage.stage,
                cost_expression=cost,
                nonant_list=nonants,
                scen_model=model,
                parent_name=stage.parent,
            )
        )
    model._mpisppy_node_list = nodes
    model._mpisppy_probability = scenario.probability
    return model


def _scale_threshold(model: pyo.ConcreteModel, data: ModelData) -> None:
    """Give CVaR's threshold eta a copy in units of the case's cost scale, for PH.

    eta is a cost (1e5-1e7 currency); PH's proximal term, linearised for HiGHS
    (no quadratic objective with integers), cuts ``eta^2`` at its values, rows
    whose right-hand sides (1e10 and more) HiGHS cannot hold to its
    tolerances. PH holds ``eta / scale`` equal across scenarios instead: one
    variable and one row of this sub-model's own, not of the formulation.
    """
    demand = data.demand.sum(axis=(1, 2)) / max(1, len(data.scenarios))
    typical = float(np.abs(data.shortage_cost * demand).sum())
    scale = 10.0 ** np.floor(np.log10(max(typical, 1.0)))
    model.cvar_threshold_scaled = pyo.Var(domain=pyo.Reals)
    model.cvar_threshold_scaling = pyo.Constraint(
        expr=model.cvar_threshold_currency == scale * model.cvar_threshold_scaled
    )
