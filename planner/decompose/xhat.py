"""A plan from PH's contract decisions, node by node down the tree (the planner's xhat).

mpi-sppy's xhat heuristics fix every non-anticipative value of one scenario
in all the others; until PH has converged, a node's purchases fixed from one
scenario rarely fit another's contracts. This one goes down the tree
instead: each mpi-sppy node is decided by the most probable PH scenario
through it, solved with its ancestors' decisions fixed and the node's own
binaries at PH's (freed again if that is infeasible); the leaves then solve
their recourse. The result is a plan on the whole tree, one
:class:`~planner.results.Plan` piece per PH scenario, without the extensive
form ever being built.
"""

from __future__ import annotations

import logging
from typing import Any

import pyomo.environ as pyo

from planner.decompose.candidates import Binaries
from planner.decompose.scenario import first_stage_variables, node_variables, scenario_model
from planner.decompose.tree import PhScenario, PhTree
from planner.model.parameters import ModelData
from planner.results import Plan, read_plan

logger = logging.getLogger(__name__)


def _solve(model: pyo.ConcreteModel, options: dict[str, Any]) -> bool:
    """Solve ``model`` with HiGHS; True (and the solution loaded) when it has a plan."""
    solver = pyo.SolverFactory("appsi_highs")
    for key, value in options.items():
        solver.options[key] = value
    results = solver.solve(model, load_solutions=False)
    if not pyo.check_optimal_termination(results):
        return False
    model.solutions.load_from(results)
    return True


def _stage_vars(model: pyo.ConcreteModel, scenario: PhScenario, index: int) -> list[Any]:
    stage = scenario.stages[index]
    own = node_variables(model, stage.periods)
    return first_stage_variables(model) + own if stage.parent is None else own


def _fix(variables: list[Any], values: list[float]) -> None:
    for var, value in zip(variables, values, strict=True):
        if var.is_binary() or var.is_integer():
            value = float(round(value))
        lower, upper = var.bounds
        if lower is not None:
            value = max(value, lower)
        if upper is not None:
            value = min(value, upper)
        var.fix(value)


def _own_binaries(
    model: pyo.ConcreteModel, scenario: PhScenario, index: int, binaries: Binaries
) -> None:
    """Fix the binaries of the scenario's ``index``-th stage at PH's decisions."""
    stage = scenario.stages[index]
    if stage.parent is None:
        for o in model.NOW_OFFERS:
            if not model.contract[o].fixed:
                model.contract[o].fix(float(binaries.contract[o]))
        for k in model.ACTIVITIES:
            model.adopt[k].fix(float(binaries.adopt[k]))
    for o, t in model.SIGNING_NODES:
        if t in stage.periods:
            model.signed[o, t].fix(float(binaries.signed[o, scenario.path[t]]))


def nested_plan(
    data: ModelData, tree: PhTree, binaries: Binaries | None, options: dict[str, Any]
) -> dict[str, Plan] | None:
    """Decide the tree top-down from PH's binaries; each PH scenario's plan, or None.

    None when some scenario has no plan even with its own decisions free (a
    case whose scenarios cannot all be served by a shared first stage).
    """
    decided: dict[str, list[float]] = {}  # mpi-sppy node -> its non-anticipative values
    order = sorted(tree.scenarios, key=lambda scenario: -scenario.probability)
    depth = len(tree.scenarios[0].stages)
    for index in range(depth):
        for scenario in order:
            stage = scenario.stages[index]
            if stage.name in decided:
                continue
            values = _decide(data, tree, scenario, index, decided, binaries, options)
            if values is None:
                return None
            decided[stage.name] = values
    pieces: dict[str, Plan] = {}
    for scenario in tree.scenarios:
        model = scenario_model(scenario.name, data, tree)
        for index in range(depth):
            _fix(_stage_vars(model, scenario, index), decided[scenario.stages[index].name])
        if not _solve(model, options):
            logger.info("xhat: scenario %s has no recourse for the decisions above", scenario.name)
            return None
        pieces[scenario.name] = read_plan(model, model.data)
    return pieces


def _decide(
    data: ModelData,
    tree: PhTree,
    scenario: PhScenario,
    index: int,
    decided: dict[str, list[float]],
    binaries: Binaries | None,
    options: dict[str, Any],
) -> list[float] | None:
    """Solve ``scenario`` with the stages above ``index`` fixed; its stage's values."""
    for use_binaries in (True, False) if binaries is not None else (False,):
        model = scenario_model(scenario.name, data, tree)
        for above in range(index):
            _fix(_stage_vars(model, scenario, above), decided[scenario.stages[above].name])
        if use_binaries and binaries is not None:
            _own_binaries(model, scenario, index, binaries)
        if _solve(model, options):
            return [float(pyo.value(var)) for var in _stage_vars(model, scenario, index)]
    return None
