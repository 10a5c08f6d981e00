"""A plan from PH's contract decisions, node by node down the tree (the planner's xhat).

mpi-sppy's xhat heuristics fix every non-anticipative value of one scenario
in all the others; until PH has converged, a node's purchases fixed from one
scenario rarely fit another's contracts. This one goes down the tree
instead: each mpi-sppy node is decided by the most probable PH scenario
through it, solved with its ancestors' decisions fixed and the node's own
binaries at PH's (freed again if that is infeasible), one solve per PH
scenario. The result is a plan on the whole tree, one
:class:`~planner.results.Plan` piece per PH scenario, without the extensive
form ever being built.

Every solve holds the :class:`~planner.decompose.budget.Budget`: its HiGHS
time limit is what is left until the plan's share of it, and once that is
spent no solve is started and there is no plan (a solve stopped by its limit
with a plan keeps it: the plan holds every rule, and is checked again whole).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyomo.environ as pyo

from planner.decompose.budget import PLAN_SHARE, Budget
from planner.decompose.candidates import Binaries
from planner.decompose.ph import SOLVE_FIGURES, Borrowed, Ranks, solve_direct
from planner.decompose.scenario import first_stage_variables, node_variables, scenario_model
from planner.decompose.tree import PhScenario, PhTree
from planner.model.parameters import ModelData
from planner.results import Plan, read_plan

logger = logging.getLogger(__name__)

#: The stage named in the Summary's message when it runs out of time.
STAGE = "the plan down the tree"


@dataclass
class NestedPlan:
    """Each PH scenario's plan, and their expected cost (the plan's objective)."""

    pieces: dict[str, Plan]
    objective: float


def _solve(model: pyo.ConcreteModel, options: dict[str, Any]) -> bool:
    """Solve ``model`` with HiGHS; True (and the solution loaded) when it has a plan.

    Through the planner's own hand-off (:func:`planner.decompose.ph.solve_direct`).
    A solve stopped by its time limit with a plan counts: the plan holds
    every rule, and the planner's check of the whole plan follows.
    """
    return solve_direct(
        model,
        float(options["time_limit"]),
        float(options.get("mip_rel_gap", 1e-4)),
        int(options.get("random_seed", 0)),
    )


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


def waves(tree: PhTree) -> list[list[PhScenario]]:
    """Return the PH scenarios in order of probability, in waves to solve side by side.

    Down the tree a scenario's decided nodes are those it shares with
    scenarios before it: the longest such prefix of its path, all decided
    once the earlier scenario sharing it (its *parent*) is solved. A
    scenario's wave is one after its parent's; two scenarios of a wave share
    no node they decide (one would be the other's parent), so solving a wave
    side by side decides exactly what solving it in order would.
    """
    order = sorted(tree.scenarios, key=lambda scenario: -scenario.probability)
    wave_of: dict[str, int] = {}
    decider: dict[str, str] = {}  # mpi-sppy node -> the first scenario through it, in order
    for scenario in order:
        # the parent: the first scenario through the deepest node on this path decided
        # before it (the earlier scenario sharing the most; one pass, not one per pair)
        shared = [decider[stage.name] for stage in scenario.stages if stage.name in decider]
        wave_of[scenario.name] = wave_of[shared[-1]] + 1 if shared else 0
        for stage in scenario.stages:
            decider.setdefault(stage.name, scenario.name)
    found: list[list[PhScenario]] = [[] for _ in range(max(wave_of.values(), default=-1) + 1)]
    for scenario in order:
        found[wave_of[scenario.name]].append(scenario)
    return found


@dataclass
class _Solved:
    """One scenario's solve down the tree: what it decided, its plan and its cost."""

    decided: dict[str, list[float]]
    plan: Plan
    cost: float


class _Saved:
    """A borrowed model's variables (values, fixings) and PH's figures, to put back."""

    def __init__(self, model: pyo.ConcreteModel) -> None:
        self.model = model
        self.variables = list(model.component_data_objects(pyo.Var))
        self.state = [(var.value, var.fixed) for var in self.variables]
        self.figures = getattr(model, "_mpisppy_data", None)
        self.kept = {
            name: getattr(self.figures, name)
            for name in SOLVE_FIGURES
            if hasattr(self.figures, name)
        }

    def restore(self) -> None:
        """Put every value, fixing and figure back as it was."""
        for var, (value, fixed) in zip(self.variables, self.state, strict=True):
            var.set_value(value, skip_validation=True)
            var.fixed = fixed
        for name, value in self.kept.items():
            setattr(self.figures, name, value)


def _assigned(wave: list[PhScenario], ranks: Ranks, owner: Mapping[str, int]) -> list[PhScenario]:
    """Return this rank's share of ``wave``: the scenarios whose sub-model it holds.

    Scenarios no rank holds (``owner`` empty: PH's models not lent) are dealt
    out in turn.
    """
    return [
        scenario
        for index, scenario in enumerate(wave)
        if owner.get(scenario.name, index % ranks.size) == ranks.rank
    ]


def nested_plan(
    data: ModelData,
    tree: PhTree,
    binaries: Binaries | None,
    options: dict[str, Any],
    budget: Budget | None = None,
    share: float = PLAN_SHARE,
    ranks: Ranks | None = None,
    borrowed: Borrowed | None = None,
) -> NestedPlan | None:
    """Decide the tree top-down from PH's binaries; each PH scenario's plan, or None.

    PH scenarios in order of probability: each is solved once, with the
    mpi-sppy nodes already decided fixed and the binaries of the rest at
    PH's (all free again if that is infeasible); its solution decides the
    nodes on its path not yet decided and is its plan. One solve per PH
    scenario, each within what is left of ``budget`` until ``share`` of it.
    None when some scenario has no plan even so, or time ran out first
    (``budget.spent_in`` then names this stage).

    With ``ranks`` (MPI; every rank calls it alike) each wave's scenarios
    (:func:`waves`) are split between the ranks and their solves shared after
    it: the same plan as in one process, on every rank. With ``borrowed``
    each scenario is solved on the rank holding PH's sub-model of it, in that
    model (a scenario's model is built anew otherwise).
    """
    budget = budget if budget is not None else Budget(float("inf"))
    ranks = ranks if ranks is not None else Ranks()
    started = time.perf_counter()
    decided: dict[str, list[float]] = {}  # mpi-sppy node -> its non-anticipative values
    solved: dict[str, _Solved] = {}
    down = _Down(data, tree, binaries, options, budget, share)
    owner = borrowed.owner if borrowed is not None else {}
    models = borrowed.models if borrowed is not None else {}
    found_waves = waves(tree)
    for wave in found_waves:
        if not ranks.everyone(budget.solve_limit(share) is not None):  # rank 0's clock
            budget.ran_out(STAGE)
            return None
        mine: dict[str, _Solved | None] = {}
        for scenario in _assigned(wave, ranks, owner):
            mine[scenario.name] = _solved(down, scenario, decided, models.get(scenario.name))
            if mine[scenario.name] is None:
                break
        found = {name: one for part in ranks.everyone_s(mine) for name, one in part.items()}
        for scenario in wave:
            one = found.get(scenario.name)
            if one is None:
                if budget.solve_limit(share) is None:
                    budget.ran_out(STAGE)
                logger.info("xhat: scenario %s has no plan for the decisions above", scenario.name)
                return None
            for name, values in one.decided.items():
                decided.setdefault(name, values)
            solved[scenario.name] = one
    objective = 0.0
    for scenario in (s for wave in found_waves for s in wave):  # one order on every rank
        objective += scenario.probability * solved[scenario.name].cost
    logger.info(
        "the plan down the tree: %d scenarios in %.1f s on %d process%s, expected cost %.6g",
        len(solved),
        time.perf_counter() - started,
        ranks.size,
        "" if ranks.size == 1 else "es",
        objective,
    )
    return NestedPlan({name: one.plan for name, one in solved.items()}, objective)


@dataclass(frozen=True)
class _Down:
    """One search down the tree: the case, PH's binaries, the solves' options and time."""

    data: ModelData
    tree: PhTree
    binaries: Binaries | None
    options: dict[str, Any]
    budget: Budget
    share: float


def _solved(
    down: _Down,
    scenario: PhScenario,
    decided: dict[str, list[float]],
    lent: pyo.ConcreteModel | None = None,
) -> _Solved | None:
    """Solve ``scenario`` below its decided nodes; what it decides, its plan and cost.

    In ``lent`` (PH's sub-model of it, left as it was found) or a new model.
    """
    saved = _Saved(lent) if lent is not None else None
    try:
        model = _solve_below(down, scenario, decided, saved)
        return None if model is None else _read(model, scenario, decided)
    finally:
        if saved is not None:
            saved.restore()


def _read(
    model: pyo.ConcreteModel, scenario: PhScenario, decided: dict[str, list[float]]
) -> _Solved:
    """Return what ``model``'s solution decides of the nodes not yet decided, plan, cost."""
    own: dict[str, list[float]] = {}
    for index, stage in enumerate(scenario.stages):
        if stage.name not in decided:
            # a decision in none of the scenario's rows has no value: 0 (it costs nothing)
            variables = _stage_vars(model, scenario, index)
            own[stage.name] = [
                float(var.value) if var.value is not None else 0.0 for var in variables
            ]
    cost = next(model.component_data_objects(pyo.Objective, active=True))
    return _Solved(own, read_plan(model, model.data), float(pyo.value(cost)))


def _solve_below(
    down: _Down, scenario: PhScenario, decided: dict[str, list[float]], saved: _Saved | None
) -> pyo.ConcreteModel | None:
    """Solve ``scenario`` with its decided nodes fixed (and PH's binaries on the rest).

    In the model ``saved`` holds when given (put back as it was between the two tries).
    """
    binaries, budget, share = down.binaries, down.budget, down.share
    for use_binaries in (True, False) if binaries is not None else (False,):
        if budget.solve_limit(share) is None:
            budget.ran_out(STAGE)
            return None
        if saved is not None:
            saved.restore()  # as PH left it: nothing fixed by the try before
            model = saved.model
        else:
            model = scenario_model(scenario.name, down.data, down.tree)
        for index, stage in enumerate(scenario.stages):
            if stage.name in decided:
                _fix(_stage_vars(model, scenario, index), decided[stage.name])
            elif use_binaries and binaries is not None:
                _own_binaries(model, scenario, index, binaries)
        limit = budget.solve_limit(share)  # building the model took some of it
        if limit is None:
            budget.ran_out(STAGE)
            return None
        if _solve(model, {**down.options, "time_limit": limit}):
            return model
    return None
