"""Progressive hedging on mpi-sppy: a PH hub, a Lagrangian bound, an xhat search.

Under ``mpiexec -n N`` with N a multiple of 3 the cylinders run on their
own ranks: hub, Lagrangian bound and xhatshuffle spokes, N/3 ranks each, the
scenarios split between the ranks of each (every cylinder builds every
scenario's sub-model). Otherwise (no MPI, N = 1, 2, 4, 5, ...) PH and then
the Lagrangian bound of its weights run one after the other, the scenarios
split between the N ranks (each sub-model built once, on one rank): on a
machine of few cores this reaches a bound soonest, since mpi-sppy's xhat
spokes rarely find a plan before PH has converged. The plan decided down the
tree (:mod:`planner.decompose.xhat`, ``after_iter0`` and ``after_ph``) then
runs on every rank, from every rank's scenario solutions gathered on each;
with the cylinders, on rank 0 alone after the wheel.

Rank 0 returns the candidates: the contract decisions of the best xhat's
plan and of PH's last scenario solutions (:mod:`planner.decompose.candidates`).

The time limit holds within PH, not only between its iterations: every
cylinder's optimizer is :func:`budgeted`, so each sub-problem's HiGHS time
limit is what is left of PH's share of the :class:`~planner.decompose.budget.Budget`,
and once that is spent no sub-problem (nor proximal-cut update) is started;
the iteration then ends at once and mpi-sppy's own check stops the hub.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.repn import generate_standard_repn

from planner.decompose.budget import PH_SHARE, Budget
from planner.decompose.candidates import Binaries, binaries_of
from planner.decompose.scenario import scenario_model
from planner.decompose.tree import PhTree
from planner.model.parameters import ModelData
from planner.results import Plan, read_plan
from planner.solve import HighsSession, SolveOptions

logger = logging.getLogger(__name__)

#: The sub-problems' solver: HiGHS through Pyomo's appsi interface (highspy).
SOLVER = "appsi_highs"
#: Each sub-problem's relative MIP gap: PH and its bounds need them nearly optimal.
SUB_GAP = 1e-6
#: PH's most iterations after iteration 0, unless the solve says otherwise (``ph_iterations``)
MAX_ITERATIONS = 200


#: Called after PH's iteration 0 with PH, every rank's scenario solutions and the ranks:
#: True stops PH there (on every rank PH runs on)
AfterIter0 = Callable[[Any, dict[str, Plan], "Ranks"], bool]
#: Called after PH with its candidates (contract decisions, best first) and the ranks
AfterPh = Callable[[list[Binaries], "Ranks"], None]


@dataclass
class PhOutcome:
    """What PH found: the best plan's pieces, the bounds, and how it ran."""

    candidates: list[Binaries]  # contract decisions to try, the best xhat's first
    inner: float  # the best xhat's objective by mpi-sppy (inf: none found)
    outer: float  # the best lower bound (-inf: none)
    ranks: int
    cylinders: list[str] = field(default_factory=list)
    iterations: int = 0
    #: PH stopped after its iteration 0 because the plan from it was within the gap
    enough: bool = False


@dataclass(frozen=True)
class PhSettings:
    """How PH runs: limits, HiGHS's threads and seed."""

    time_limit: float
    gap: float
    threads: int = 1
    seed: int = 0
    max_iterations: int = MAX_ITERATIONS
    sub_gap: float = SUB_GAP


def available() -> str | None:
    """None when mpi-sppy imports; else what is missing, for the error message."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import mpisppy  # noqa: F401  # optional dependency (planner[mpi])
    except ImportError as error:
        return str(error)
    return None


#: mpi-sppy modules that open a log file in the current folder when first imported.
LOGGING_MODULES = (
    "mpisppy.cylinders.hub",
    "mpisppy.cylinders.xhatshufflelooper_bounder",
    "mpisppy.cylinders.xhatlooper_bounder",
    "mpisppy.cylinders.slam_heuristic",
    "mpisppy.utils.xhat_eval",
)


def _import_quietly() -> None:
    """Import mpi-sppy's modules once, in a scratch folder and with its banner swallowed.

    Some open log files (hub.log, xhatclp.log, ...) in the current folder when
    imported; a planner's folder should get only the workbook asked for.
    """
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch, contextlib.redirect_stdout(io.StringIO()):
        os.chdir(scratch)
        try:
            for name in LOGGING_MODULES:
                importlib.import_module(name)
        finally:
            os.chdir(here)


def world_size() -> int:
    """Return the number of MPI processes running (1 without mpi4py)."""
    try:
        from mpi4py import MPI  # optional dependency (planner[mpi])
    except ImportError:
        return 1
    return int(MPI.COMM_WORLD.Get_size())


def _abort() -> None:
    """Stop every MPI rank (after an error on one, which the others would wait for)."""
    from mpi4py import MPI  # optional dependency (planner[mpi])

    MPI.COMM_WORLD.Abort(1)


def world_rank() -> int:
    """Return this process's MPI rank (0 without mpi4py)."""
    try:
        from mpi4py import MPI  # optional dependency (planner[mpi])
    except ImportError:
        return 0
    return int(MPI.COMM_WORLD.Get_rank())


def _rho_setter(model: pyo.ConcreteModel) -> list[tuple[int, float]]:
    """PH's penalty per non-anticipative variable: its cost in the objective.

    A cost-proportional rho (Watson and Woodruff 2011) keeps the penalty in
    each variable's own units; a variable without a cost (stock, supply)
    gets a small share of the typical cost.
    """
    objective = next(model.component_data_objects(pyo.Objective, active=True))
    repn = generate_standard_repn(objective.expr, quadratic=False)
    cost = {
        id(var): abs(float(c)) for var, c in zip(repn.linear_vars, repn.linear_coefs, strict=True)
    }
    nonants = [var for node in model._mpisppy_node_list for var in node.nonant_vardata_list]
    positive = sorted(c for c in (cost.get(id(var), 0.0) for var in nonants) if c > 0)
    floor = 0.1 * positive[len(positive) // 2] if positive else 1.0
    return [(id(var), max(cost.get(id(var), 0.0), floor)) for var in nonants]


def _config(settings: PhSettings, budget: Budget) -> Any:
    from mpisppy.utils import config  # optional dependency (planner[mpi])

    cfg = config.Config()
    cfg.popular_args()
    cfg.ph_args()
    cfg.two_sided_args()
    cfg.xhatshuffle_args()
    cfg.lagrangian_args()
    cfg.solver_name = SOLVER
    cfg.default_rho = 1.0
    cfg.max_iterations = settings.max_iterations
    # mpi-sppy's own check, between iterations; within them, budgeted() holds the limit
    cfg.time_limit = budget.left(PH_SHARE)
    cfg.rel_gap = settings.gap
    # mpi-sppy's check that scenarios sharing a node name their shared decisions alike
    # spells out every decision's name (some 18 % of setting up the largest benchmark
    # size); one builder makes every scenario's model, so they are alike by construction
    cfg.turn_off_names_check = True
    cfg.abs_gap = 0.0
    # HiGHS takes no quadratic objective with integers: PH's proximal term as cuts
    cfg.linearize_proximal_terms = True
    cfg.linearize_binary_proximal_terms = True
    # no "threads": appsi_highs fails every solve once HiGHS's thread pool is set up;
    # the sub-problems are small MIPs, and PH's parallelism is its processes.
    # No time_limit: budgeted() sets each solve's (mpi-sppy would overwrite it with this one)
    cfg.solver_options = f"random_seed={settings.seed} mip_rel_gap={settings.sub_gap}"
    return cfg


def _fill(model: pyo.ConcreteModel) -> None:
    """Give a sub-problem without a solution values for its shared decisions (0, in bounds).

    PH averages every scenario's decisions after each iteration; a scenario
    whose solve was not started (its stage out of time) must have numbers
    there. They only matter for an iteration that will not be followed by
    another, and its plans are never taken as solutions (:func:`pieces`).
    A solved scenario's decision in none of its rows (HiGHS never saw it:
    any value in its bounds is as good) gets one too.
    """
    for var in model._mpisppy_data.nonant_indices.values():
        if var.value is None and not var.fixed:
            lower, upper = var.bounds
            value = 0.0 if lower is None else max(0.0, float(lower))
            var.set_value(value if upper is None else min(value, float(upper)))


#: What :func:`solve_direct` sets on a sub-problem's mpi-sppy data (PH's figures of it)
SOLVE_FIGURES = ("solution_available", "outer_bound", "inner_bound")


def solve_direct(model: pyo.ConcreteModel, time_limit: float, gap: float, seed: int) -> bool:
    """Solve a sub-problem through the planner's own hand-off; True when it has a plan.

    :class:`~planner.solve.HighsSession` passes the model to HiGHS as arrays
    (:mod:`planner.handoff`) in a fraction of the time appsi takes to hand it
    over or update it (benchmarks/README.md, "Decomposition"); the plan is
    loaded into the model's variables. A sub-problem solved anew each time:
    PH's weights and proximal cuts are read as they stand.
    """
    options = SolveOptions(seed=seed, duals=False, explain_infeasible=False, first_plan=False)
    report = HighsSession(model, options).solve(time_limit, gap)
    data = getattr(model, "_mpisppy_data", None)
    if data is not None:
        data.solution_available = report.has_plan
        if report.has_plan:  # the dual bound, never the plan's objective, is the bound
            data.outer_bound = report.bound if report.bound is not None else -math.inf
            data.inner_bound = report.objective
            if hasattr(data, "nonant_indices"):
                _fill(model)  # a shared decision in no row of this scenario: HiGHS never saw it
    return report.has_plan


def on_parabola(x0: float, y0: float) -> float:
    """Return the x of the point of ``y = x**2`` nearest ``(x0, y0)``.

    What mpi-sppy's proximal cuts are placed by (it asks scipy's
    least_squares for it, once per variable and iteration: most of a PH
    iteration's time at the medium size). The nearest point is a root of the
    cubic ``2 x**3 + (1 - 2 y0) x - x0 = 0``; of three real roots, the one
    nearest ``(x0, y0)``.
    """
    p = (1.0 - 2.0 * y0) / 2.0  # x**3 + p x + q = 0
    q = -x0 / 2.0
    disc = (q / 2.0) ** 2 + (p / 3.0) ** 3
    if disc >= 0.0:
        root = math.sqrt(disc)
        return float(np.cbrt(-q / 2.0 + root) + np.cbrt(-q / 2.0 - root))
    radius = 2.0 * math.sqrt(-p / 3.0)
    angle = math.acos(max(-1.0, min(1.0, 3.0 * q / (p * radius)))) / 3.0
    roots = [radius * math.cos(angle - 2.0 * math.pi * k / 3.0) for k in range(3)]
    return min(roots, key=lambda x: (x - x0) ** 2 + (x * x - y0) ** 2)


def _prox_cuts(opt: Any, budget: Budget, share: float) -> None:
    """mpi-sppy's proximal cuts (``PHBase._update_prox_approx``), projected in closed form.

    Scenario by scenario while ``budget`` lasts: once it is spent no solve
    follows, and the cuts would serve nothing.
    """
    tolerance = opt.prox_approx_tol
    for scenario in opt.local_scenarios.values():
        if budget.solve_limit(share) is None:
            return
        for manager in scenario._mpisppy_data.xsqvar_prox_approx.values():
            x = manager.xvar.value
            if not manager.xvar.fixed:
                y = manager.xvarsqrd.value
                manager.add_cuts(on_parabola(x, 0.0 if y is None else y), tolerance, None)
            manager.xvarsqrd._value = x**2


def _solve_one(
    opt: Any,
    solve_one: Callable[..., Any],
    direct: tuple[float, int] | None,
    limit: float,
    solver_options: Any,
    k: str,
    s: Any,
    *args: Any,
    **kwargs: Any,
) -> Any:
    """One sub-problem's solve within ``limit`` s: directly, or by mpi-sppy's ``solve_one``."""
    if hasattr(opt, "_lazy_create_solvers"):  # an xhat evaluator (appsi), its solvers made late
        opt._lazy_create_solvers()
    elif direct is not None:
        started = time.perf_counter()
        solve_direct(s, limit, *direct)
        return time.perf_counter() - started
    s._solver_plugin.options["time_limit"] = limit
    return solve_one(solver_options, k, s, *args, **kwargs)


def budgeted(
    cls: type, budget: Budget, share: float = PH_SHARE, direct: tuple[float, int] | None = None
) -> type:
    """Return ``cls`` (an mpi-sppy optimizer) holding ``budget`` until ``share`` of it.

    * each sub-problem's HiGHS time limit is what is left of the stage
      (:meth:`Budget.solve_limit`), set just before its solve;
    * once the stage is spent a sub-problem is not solved: it has no solution
      and its bound is -inf (so a Lagrangian bound or PH's wait-and-see bound
      that would need it is no bound, never one from stale values); a solve
      stopped by its time limit keeps its solver's dual bound, which mpi-sppy
      takes as the sub-problem's bound (never its plan's objective);
    * PH's proximal cuts are not updated once the stage is spent;
    * iteration 0 with sub-problems left unsolved for want of time does not
      stop the run as infeasible: it ends, and PH stops at its next check;
    * with ``direct`` (the sub-problems' gap and seed) a PH or Lagrangian
      sub-problem is solved by :func:`solve_direct` instead of appsi (an xhat
      evaluator, which reads appsi's results, keeps appsi).
    """

    class Budgeted(cls):
        _planner_budget = budget
        _planner_share = share
        _planner_stopped = False

        def solve_one(self, solver_options: Any, k: str, s: Any, *args: Any, **kwargs: Any) -> Any:
            data = s._mpisppy_data
            data.outer_bound, data.inner_bound = -math.inf, math.inf  # set again by a solve
            limit = self._planner_budget.solve_limit(self._planner_share)
            if limit is None:
                data.solution_available = False
                self._planner_out_of_time(s)
                return 0.0
            seconds = _solve_one(
                self, super().solve_one, direct, limit, solver_options, k, s, *args, **kwargs
            )
            if data.solution_available:
                s._planner_solved = True  # its values are a plan of this or an earlier iteration
            ran_out = self._planner_budget.solve_limit(self._planner_share) is None
            if not data.solution_available and ran_out:
                self._planner_out_of_time(s)  # stopped by its time limit before any plan
            return seconds

        def _planner_out_of_time(self, s: Any) -> None:
            self._planner_stopped = True
            self._planner_budget.ran_out("progressive hedging")
            _fill(s)

        def _update_prox_approx(self) -> None:
            _prox_cuts(self, self._planner_budget, self._planner_share)

        def Eobjective(self, *args: Any, **kwargs: Any) -> float:
            # PH's closing report reads every scenario's objective: not of one never solved
            unsolved = any(
                not getattr(s, "_planner_solved", False) for s in self.local_scenarios.values()
            )
            if self.allreduce_or(unsolved):  # the same answer on every rank
                return math.nan
            return float(super().Eobjective(*args, **kwargs))

        def incumbent_prob(self) -> float:
            found = float(super().incumbent_prob())
            if self.allreduce_or(self._planner_stopped):  # the same answer on every rank
                return float(self.E1)
            return found

    Budgeted.__name__ = Budgeted.__qualname__ = cls.__name__
    return Budgeted


def _dicts(
    data: ModelData, tree: PhTree, settings: PhSettings, budget: Budget, spokes: bool
) -> list[dict]:
    """mpi-sppy's PH hub, and with ``spokes`` its Lagrangian bound and xhatshuffle spokes."""
    import mpisppy.utils.cfg_vanilla as vanilla  # optional dependency (planner[mpi])

    cfg = _config(settings, budget)
    beans = (cfg, scenario_model, None, tree.names)
    kwargs = {"data": data, "tree": tree}
    hub = vanilla.ph_hub(
        *beans,
        scenario_creator_kwargs=kwargs,
        rho_setter=_rho_setter,
        all_nodenames=tree.all_nodenames,
    )
    cylinders = [hub]
    if spokes:
        cylinders.append(
            vanilla.lagrangian_spoke(
                *beans,
                scenario_creator_kwargs=kwargs,
                rho_setter=_rho_setter,
                all_nodenames=tree.all_nodenames,
            )
        )
    if spokes:
        cylinders.append(
            vanilla.xhatshuffle_spoke(
                *beans, all_nodenames=tree.all_nodenames, scenario_creator_kwargs=kwargs
            )
        )
    direct = (settings.sub_gap, settings.seed)  # the sub-problems through solve_direct
    for cylinder in cylinders:
        cylinder["opt_class"] = budgeted(cylinder["opt_class"], budget, direct=direct)
    return cylinders


def pieces(opt: Any) -> dict[str, Plan]:
    """Read each local scenario's last solution, as a plan of one scenario.

    A scenario whose last solve was not started (PH out of time) gives its
    solution of an earlier iteration; one never solved gives none.
    """
    return {
        name: read_plan(model, model.data)
        for name, model in opt.local_scenarios.items()
        if getattr(model, "_planner_solved", False)
    }


def run(
    data: ModelData,
    tree: PhTree,
    settings: PhSettings,
    budget: Budget | None = None,
    after_iter0: AfterIter0 | None = None,
    after_ph: AfterPh | None = None,
) -> PhOutcome | None:
    """Run PH on ``data``'s tree; the outcome on rank 0, None on the other ranks.

    ``budget`` (default: ``settings.time_limit`` from now) is held: PH ends by
    :data:`~planner.decompose.budget.PH_SHARE` of it. Under MPI every rank
    holds rank 0's budget, on its own clock. ``after_iter0`` (without the
    cylinders, see the module's docstring): called with PH, every rank's
    scenario solutions and the :class:`Ranks` after its iteration 0 (the
    wait-and-see bound known), on every rank; True (rank 0's) stops PH there.
    ``after_ph``: called with PH's candidates after it, unless ``after_iter0``
    stopped it; on every rank (on rank 0 alone with the cylinders).

    Raises
    ------
    ValueError
        Under MPI with more ranks to a cylinder than there are PH scenarios
        (each rank needs one at least).
    """
    size = world_size()
    per_cylinder = size // 3 if size % 3 == 0 else size
    if per_cylinder > len(tree.scenarios):
        layout = f" ({per_cylinder} to each of its 3 cylinders)" if size % 3 == 0 else ""
        raise ValueError(
            f"--decompose on {size} MPI processes{layout}: more than the case's "
            f"{len(tree.scenarios)} PH scenarios (each process needs one at least)"
        )
    budget = budget if budget is not None else Budget(settings.time_limit)
    _import_quietly()
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        if size == 1:
            outcome: PhOutcome | None = _serial(data, tree, settings, budget, after_iter0, after_ph)
        else:
            try:
                if size % 3:
                    outcome = _split(data, tree, settings, budget, after_iter0, after_ph)
                else:
                    outcome = _wheel(data, tree, settings, budget, size, after_ph)
            except Exception:  # one rank's error would leave the others waiting on it for ever
                logger.exception("progressive hedging failed on MPI rank %d", world_rank())
                _abort()
                raise
    logger.debug("mpi-sppy said:\n%s", captured.getvalue())
    return outcome


def _ph_ran_out(budget: Budget, settings: PhSettings, iterations: int, enough: bool) -> None:
    """Record PH as out of time when it ended at its share of the limit (rank 0).

    Asked as PH (its bound included) ends, before the plan down the tree
    from its decisions, which runs on past PH's share: PH stopped by the
    plan after its iteration 0 (``enough``), by its most iterations, by its
    gap or by convergence before its share was spent did not run out.
    """
    stopped = enough or iterations >= settings.max_iterations
    if not stopped and budget.solve_limit(PH_SHARE) is None:  # by its share of the limit
        budget.ran_out("progressive hedging")


def _wheel(
    data: ModelData,
    tree: PhTree,
    settings: PhSettings,
    budget: Budget,
    size: int,
    after_ph: AfterPh | None,
) -> PhOutcome | None:
    from mpi4py import MPI  # optional dependency (planner[mpi])
    from mpisppy.spin_the_wheel import WheelSpinner  # optional dependency (planner[mpi])

    comm = MPI.COMM_WORLD
    _on_rank_0_s_clock(comm, budget)
    cylinders = _dicts(data, tree, settings, budget, spokes=True)
    names = [d["hub_class" if i == 0 else "spoke_class"].__name__ for i, d in enumerate(cylinders)]
    wheel = WheelSpinner(cylinders[0], cylinders[1:])
    wheel.spin()
    xhat_cylinder = len(cylinders) - 1
    xhat: dict[str, Plan] = {}
    if wheel.strata_rank == xhat_cylinder and math.isfinite(wheel.spcomm.best_inner_bound):
        xhat = pieces(wheel.spcomm.opt)  # finalize() loaded the best xhat
    hub = pieces(wheel.spcomm.opt) if wheel.strata_rank == 0 else {}
    gathered = comm.gather((xhat, hub, budget.spent_in), root=0)
    if comm.Get_rank() != 0 or gathered is None:
        return None
    xhats = {name: plan for part, _, _ in gathered for name, plan in part.items()}
    hubs = {name: plan for _, part, _ in gathered for name, plan in part.items()}
    for _, _, stages in gathered:
        for stage in stages:
            budget.ran_out(stage)
    iterations = int(getattr(wheel.spcomm.opt, "_PHIter", 0))
    _ph_ran_out(budget, settings, iterations, False)
    candidates = _candidates([xhats, hubs], data, tree)
    if after_ph is not None:
        after_ph(candidates, Ranks())  # rank 0 alone: the others have left the wheel
    return PhOutcome(
        candidates,
        float(wheel.BestInnerBound),
        float(wheel.BestOuterBound),
        size,
        names,
        iterations,
    )


def _candidates(solutions: list[dict[str, Plan]], data: ModelData, tree: PhTree) -> list[Binaries]:
    """Return the distinct contract decisions of ``solutions``, in order."""
    found: dict[bytes, Binaries] = {}
    for pieces in solutions:
        binaries = binaries_of(pieces, data, tree)
        if binaries is not None:
            found.setdefault(binaries.key(), binaries)
    return list(found.values())


@dataclass(frozen=True)
class Ranks:
    """The ranks PH's scenarios are split between (``comm`` None: this process alone)."""

    comm: Any = None

    @property
    def rank(self) -> int:
        """The rank of this process among them."""
        return 0 if self.comm is None else int(self.comm.Get_rank())

    @property
    def size(self) -> int:
        """How many ranks."""
        return 1 if self.comm is None else int(self.comm.Get_size())

    def everyone(self, value: Any) -> Any:
        """Rank 0's ``value``, on every rank."""
        return value if self.comm is None else self.comm.bcast(value, root=0)

    def everyone_s(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order, on every rank."""
        return [value] if self.comm is None else list(self.comm.allgather(value))

    def gathered(self, opt: Any) -> dict[str, Plan]:
        """Every rank's scenario solutions, on every rank."""
        return {name: plan for part in self.everyone_s(pieces(opt)) for name, plan in part.items()}


@dataclass(frozen=True)
class Borrowed:
    """PH's own scenario sub-models, to solve down the tree instead of building new ones.

    Lent only while PH's weights and proximal terms are not in their
    objectives (after iteration 0, before PH goes on: :func:`borrowed`).
    The borrower leaves each as it found it.
    """

    models: Mapping[str, pyo.ConcreteModel]  # this rank's, by PH scenario
    owner: Mapping[str, int]  # the rank holding each scenario's sub-model


def borrowed(opt: Any, ranks: Ranks) -> Borrowed | None:
    """PH's sub-models on every rank (a collective), or None while PH's terms are in them.

    PH puts its terms into the objectives after iteration 0 only once it goes
    on (:func:`_logged_ph`); mpi-sppy may also have put them in before
    iteration 0 (when it does not defer them), and then they are not lent.
    """
    plain = bool(getattr(opt, "_deferred_ph_attach", False)) and (
        getattr(opt, "_planner_later", None) is not None
    )
    names = ranks.everyone_s(list(opt.local_scenario_names) if plain else None)
    if any(part is None for part in names):
        return None
    owner = {name: rank for rank, part in enumerate(names) for name in part}
    return Borrowed(dict(opt.local_scenarios), owner)


def _logged_ph(base: type, ranks: Ranks, after_iter0: AfterIter0 | None) -> type:
    """Return ``base`` (mpi-sppy's PH) logging its set-up and iteration 0, then asking.

    After iteration 0, ``after_iter0`` is asked (on rank 0, every rank's
    solutions gathered) whether PH stops there.
    """
    started = time.perf_counter()

    class Serial(base):
        #: what iteration 0 leaves for iteration 1 until ``after_iter0`` has answered:
        #: PH's weights and proximal terms in every sub-problem's objective (a variable and
        #: a cut manager per shared decision: most of iteration 0's time at the largest
        #: size) and its rho; when PH stops after iteration 0 they are never needed
        _planner_later: list[Callable[[], None]] | None = [] if after_iter0 is not None else None

        def _attach_PH_to_objective_after_iter0(self) -> None:
            if self._planner_later is None:
                super()._attach_PH_to_objective_after_iter0()
            else:
                self._planner_later.append(super()._attach_PH_to_objective_after_iter0)

        def _use_rho_setter(self, verbose: bool) -> None:
            if self._planner_later is None:
                super()._use_rho_setter(verbose)
            else:
                self._planner_later.append(lambda: super(Serial, self)._use_rho_setter(False))

        def _planner_catch_up(self) -> None:
            """Do what iteration 0 left for iteration 1, in iteration 0's order."""
            later, self._planner_later = self._planner_later or [], None
            for step in later:
                step()
            self.reenable_W_and_prox()

        def Iter0(self) -> float:
            if ranks.rank == 0:
                logger.info(
                    "progressive hedging: %d scenario sub-models built on rank 0 in %.1f s",
                    len(self.local_scenarios),
                    time.perf_counter() - started,
                )
            begun = time.perf_counter()
            bound = float(super().Iter0())
            if ranks.rank == 0:
                logger.info(
                    "progressive hedging: iteration 0 in %.1f s, wait-and-see bound %.6g",
                    time.perf_counter() - begun,
                    bound,
                )
            return bound

        def iterk_loop(self) -> None:
            solutions = ranks.gathered(self) if after_iter0 is not None else {}
            if after_iter0 is not None and ranks.everyone(after_iter0(self, solutions, ranks)):
                self._planner_enough = True
                return
            self._planner_catch_up()
            super().iterk_loop()

    Serial.__name__ = Serial.__qualname__ = base.__name__
    return Serial


def _serial(
    data: ModelData,
    tree: PhTree,
    settings: PhSettings,
    budget: Budget,
    after_iter0: AfterIter0 | None,
    after_ph: AfterPh | None = None,
    comm: Any = None,
) -> PhOutcome | None:
    """PH, then the Lagrangian bound of its weights, one after the other.

    In this process, or on every rank of ``comm`` (an MPI communicator) with
    the scenarios split between them. The plan search that a spoke would run
    alongside runs after PH instead (``after_ph``, with PH's last solutions),
    or after its iteration 0 (``after_iter0``), which may stop PH there; on
    every rank, with every rank's solutions. Under MPI the outcome is rank
    0's; the other ranks return None.
    """
    ranks = Ranks(comm)
    hub = _dicts(data, tree, settings, budget, spokes=False)[0]
    kwargs = dict(hub["opt_kwargs"])
    if comm is not None:
        kwargs["mpicomm"] = comm
    ph = _logged_ph(hub["opt_class"], ranks, after_iter0)(**kwargs)
    _, _, trivial = ph.ph_main(finalize=False)
    iterations = int(getattr(ph, "_PHIter", 0))
    outer = float(trivial)
    solutions = ranks.gathered(ph)  # PH's last scenario solutions
    # a collective: every rank asks it or none (rank 0's clock decides)
    bounded = ranks.everyone(iterations > 1 and budget.solve_limit(PH_SHARE) is not None)
    if bounded:
        outer = max(outer, float(ph.post_solve_bound()))  # the Lagrangian bound of PH's W
    candidates = _candidates([solutions], data, tree)
    enough = bool(getattr(ph, "_planner_enough", False))
    if ranks.rank == 0:
        if iterations > 1 and not bounded:  # no time left for the bound of PH's weights
            budget.ran_out("progressive hedging")
        _ph_ran_out(budget, settings, iterations, enough)
    if after_ph is not None and not enough:
        after_ph(candidates, ranks)
    stages = [budget.spent_in] if comm is None else comm.gather(budget.spent_in, root=0)
    if ranks.rank != 0:
        return None
    for spent in stages or []:
        for stage in spent:
            budget.ran_out(stage)
    return PhOutcome(
        candidates,
        math.inf,
        outer,
        ranks.size,
        ["PH", "Lagrangian bound"],
        iterations,
        enough=enough,
    )


def _split(
    data: ModelData,
    tree: PhTree,
    settings: PhSettings,
    budget: Budget,
    after_iter0: AfterIter0 | None,
    after_ph: AfterPh | None,
) -> PhOutcome | None:
    """:func:`_serial` on every MPI rank, the scenarios split between them."""
    from mpi4py import MPI  # optional dependency (planner[mpi])

    comm = MPI.COMM_WORLD
    _on_rank_0_s_clock(comm, budget)  # the plans down the tree (after_iter0, after_ph) too
    return _serial(data, tree, settings, budget, after_iter0, after_ph, comm)


def _on_rank_0_s_clock(comm: Any, budget: Budget) -> None:
    """Put every rank's ``budget`` on rank 0's clock (what rank 0 has spent of it)."""
    spent = comm.bcast(budget.spent(), root=0)
    if comm.Get_rank() != 0:
        budget.align(spent)
