"""Progressive hedging on mpi-sppy: a PH hub, a Lagrangian bound, an xhat search.

Under ``mpiexec -n N`` (N = 2, or a multiple of 3) the cylinders run on their
own ranks (N = 2: the PH hub, whose trivial bound is the bound, and the
xhatshuffle spoke; 3k: hub, Lagrangian bound and xhatshuffle spokes, k ranks
each, the scenarios split between them). In one process (no MPI, or N = 1)
PH and then the Lagrangian bound of its weights run one after the other.
The plan search then runs on rank 0 in every case (:mod:`planner.decompose.xhat`).

Rank 0 returns the candidates: the contract decisions of the best xhat's
plan and of PH's last scenario solutions (:mod:`planner.decompose.candidates`).
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
from dataclasses import dataclass, field
from typing import Any

import pyomo.environ as pyo
from pyomo.repn import generate_standard_repn

from planner.decompose.candidates import Binaries, binaries_of
from planner.decompose.scenario import scenario_model
from planner.decompose.tree import PhTree
from planner.model.parameters import ModelData
from planner.results import Plan, read_plan

logger = logging.getLogger(__name__)

#: The sub-problems' solver: HiGHS through Pyomo's appsi interface (highspy).
SOLVER = "appsi_highs"
#: Each sub-problem's relative MIP gap: PH and its bounds need them nearly optimal.
SUB_GAP = 1e-6
#: Share of the time limit PH may use; its bound (in one process) and the plan's final
#: solves (:mod:`planner.decompose.xhat`, the extensive form's LP) get the rest.
PH_SHARE = 0.7


@dataclass
class PhOutcome:
    """What PH found: the best plan's pieces, the bounds, and how it ran."""

    candidates: list[Binaries]  # contract decisions to try, the best xhat's first
    inner: float  # the best xhat's objective by mpi-sppy (inf: none found)
    outer: float  # the best lower bound (-inf: none)
    seconds: float
    ranks: int
    cylinders: list[str] = field(default_factory=list)
    iterations: int = 0
    log: str = ""


@dataclass(frozen=True)
class PhSettings:
    """How PH runs: limits, HiGHS's threads and seed."""

    time_limit: float
    gap: float
    threads: int = 1
    seed: int = 0
    max_iterations: int = 200
    sub_gap: float = SUB_GAP
    #: each sub-problem's time limit, s: a stopped sub-problem gives its best plan and its
    #: solver's bound (mpi-sppy's bounds take the bound), so a PH iteration ends in time
    sub_time_limit: float = 1e9


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


def _config(settings: PhSettings) -> Any:
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
    cfg.time_limit = PH_SHARE * settings.time_limit
    cfg.rel_gap = settings.gap
    cfg.abs_gap = 0.0
    # HiGHS takes no quadratic objective with integers: PH's proximal term as cuts
    cfg.linearize_proximal_terms = True
    cfg.linearize_binary_proximal_terms = True
    # no "threads": appsi_highs fails every solve once HiGHS's thread pool is set up;
    # the sub-problems are small MIPs, and PH's parallelism is its processes
    cfg.solver_options = (
        f"random_seed={settings.seed} mip_rel_gap={settings.sub_gap} "
        f"time_limit={settings.sub_time_limit}"
    )
    return cfg


def _dicts(data: ModelData, tree: PhTree, settings: PhSettings, spokes: int) -> list[dict]:
    import mpisppy.utils.cfg_vanilla as vanilla  # optional dependency (planner[mpi])

    cfg = _config(settings)
    beans = (cfg, scenario_model, None, tree.names)
    kwargs = {"data": data, "tree": tree}
    hub = vanilla.ph_hub(
        *beans,
        scenario_creator_kwargs=kwargs,
        rho_setter=_rho_setter,
        all_nodenames=tree.all_nodenames,
    )
    cylinders = [hub]
    if spokes >= 2:
        cylinders.append(
            vanilla.lagrangian_spoke(
                *beans,
                scenario_creator_kwargs=kwargs,
                rho_setter=_rho_setter,
                all_nodenames=tree.all_nodenames,
            )
        )
    if spokes >= 1:
        cylinders.append(
            vanilla.xhatshuffle_spoke(
                *beans, all_nodenames=tree.all_nodenames, scenario_creator_kwargs=kwargs
            )
        )
    return cylinders


def _pieces(opt: Any) -> dict[str, Plan]:
    """Read the loaded solution of each local scenario, as a plan of one scenario."""
    return {name: read_plan(model, model.data) for name, model in opt.local_scenarios.items()}


def run(data: ModelData, tree: PhTree, settings: PhSettings) -> PhOutcome | None:
    """Run PH on ``data``'s tree; the outcome on rank 0, None on the other ranks.

    Raises
    ------
    ValueError
        Under MPI with a number of processes other than 1, 2 or a multiple of 3.
    """
    size = world_size()
    if size not in (1, 2) and size % 3:
        raise ValueError(
            f"--decompose runs on 1, 2 or a multiple of 3 MPI processes "
            f"(a PH hub, a bound and a plan search, each on as many), not {size}"
        )
    _import_quietly()
    captured = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(captured):
        outcome = _serial(data, tree, settings) if size == 1 else _wheel(data, tree, settings, size)
    if outcome is not None:
        outcome.seconds = time.perf_counter() - start
        outcome.log = captured.getvalue()
        logger.debug("mpi-sppy said:\n%s", outcome.log)
    return outcome


def _wheel(data: ModelData, tree: PhTree, settings: PhSettings, size: int) -> PhOutcome | None:
    from mpi4py import MPI  # optional dependency (planner[mpi])
    from mpisppy.spin_the_wheel import WheelSpinner  # optional dependency (planner[mpi])

    spokes = 1 if size == 2 else 2
    cylinders = _dicts(data, tree, settings, spokes)
    names = [d["hub_class" if i == 0 else "spoke_class"].__name__ for i, d in enumerate(cylinders)]
    wheel = WheelSpinner(cylinders[0], cylinders[1:])
    wheel.spin()
    comm = MPI.COMM_WORLD
    xhat_cylinder = len(cylinders) - 1
    xhat: dict[str, Plan] = {}
    if wheel.strata_rank == xhat_cylinder and math.isfinite(wheel.spcomm.best_inner_bound):
        xhat = _pieces(wheel.spcomm.opt)  # finalize() loaded the best xhat
    hub = _pieces(wheel.spcomm.opt) if wheel.strata_rank == 0 else {}
    gathered = comm.gather((xhat, hub), root=0)
    if comm.Get_rank() != 0 or gathered is None:
        return None
    xhats = {name: plan for part, _ in gathered for name, plan in part.items()}
    hubs = {name: plan for _, part in gathered for name, plan in part.items()}
    iterations = int(getattr(wheel.spcomm.opt, "_PHIter", 0))
    return PhOutcome(
        _candidates([xhats, hubs], data, tree),
        float(wheel.BestInnerBound),
        float(wheel.BestOuterBound),
        0.0,
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


def _serial(data: ModelData, tree: PhTree, settings: PhSettings) -> PhOutcome:
    """PH, then the Lagrangian bound of its weights, one after the other in this process.

    The plan search that a spoke would run alongside runs after PH instead
    (:func:`planner.decompose.xhat.nested_plan`, from PH's last solutions).
    """
    from mpisppy.opt.ph import PH  # optional dependency (planner[mpi])

    start = time.perf_counter()
    hub = _dicts(data, tree, settings, spokes=0)[0]
    ph = PH(**hub["opt_kwargs"])
    _, _, trivial = ph.ph_main(finalize=False)
    iterations = int(getattr(ph, "_PHIter", 0))
    outer = float(trivial)
    solutions = _pieces(ph)  # PH's last scenario solutions
    if iterations > 1 and time.perf_counter() - start < settings.time_limit:
        outer = max(outer, float(ph.post_solve_bound()))  # the Lagrangian bound of PH's W
    return PhOutcome(
        _candidates([solutions], data, tree),
        math.inf,
        outer,
        0.0,
        1,
        ["PH", "Lagrangian bound"],
        iterations,
    )
