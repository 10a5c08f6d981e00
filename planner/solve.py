"""The only module that talks to HiGHS.

It solves a built model through Pyomo's HiGHS interface with fixed threads
and seed, keeps "why the solver stopped" apart from "how good the plan is",
fixes the binaries at the plan to price constraints with the LP's duals, and
explains an infeasible case in the workbook's terms. Solver objects never
leave this module: callers get :class:`SolverReport` and plain values.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import pyomo.environ as pyo
from pyomo.common.errors import ApplicationError
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from planner.errors import SolverError

logger = logging.getLogger(__name__)

#: Status labels of the contract (Summary ``status``).
OPTIMAL, TIME_LIMIT, INFEASIBLE, INTERRUPTED, ERROR = (
    "optimal",
    "time_limit",
    "infeasible",
    "interrupted",
    "error",
)


@dataclass(frozen=True)
class SolveOptions:
    """How to solve; ``None`` takes the case's Settings.

    Threads and seed are fixed so that the same input gives the same plan.
    """

    time_limit_s: float | None = None
    mip_gap: float | None = None
    threads: int = 1
    seed: int = 0
    duals: bool = True
    explain_infeasible: bool = True


@dataclass
class SolverReport:
    """Why the solver stopped and how good the plan is."""

    status: str
    has_plan: bool
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    seconds: float = 0.0
    termination: str = ""
    message: str = ""
    rows: int = 0
    columns: int = 0
    nonzeros: int = 0
    solver_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    if objective == bound:
        return 0.0
    return abs(objective - bound) / max(abs(objective), 1e-10)


class HighsSession:
    """A persistent HiGHS solver attached to one model (re-solves are cheap)."""

    def __init__(self, model: pyo.ConcreteModel, options: SolveOptions) -> None:
        self.model = model
        self.options = options
        self._solver = Highs()
        available = self._solver.available()
        if not available:
            raise SolverError(
                f"the HiGHS solver is not available ({available}); pip install highspy"
            )

    def _highs_options(self) -> dict[str, Any]:
        return {
            "random_seed": int(self.options.seed),
            "output_flag": False,
            "mip_abs_gap": 0.0,
        }

    def solve(self, time_limit_s: float, mip_gap: float) -> SolverReport:
        """Solve the model as it stands; load the plan into the variables if there is one."""
        started = time.perf_counter()
        try:
            results = self._solver.solve(
                self.model,
                time_limit=float(time_limit_s),
                rel_gap=float(mip_gap),
                threads=int(self.options.threads),
                solver_options=self._highs_options(),
                load_solutions=False,
                raise_exception_on_nonoptimal_result=False,
            )
        except KeyboardInterrupt:
            return SolverReport(
                INTERRUPTED,
                False,
                seconds=time.perf_counter() - started,
                message="interrupted by the user",
            )
        except (ApplicationError, RuntimeError, ValueError) as error:
            return SolverReport(
                ERROR,
                False,
                seconds=time.perf_counter() - started,
                message=f"solver error: {error}",
            )
        seconds = time.perf_counter() - started
        return self._report(results, seconds)

    def _report(self, results: Any, seconds: float) -> SolverReport:
        highs = self._solver._solver_model
        termination = results.termination_condition
        has_plan = results.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
        interrupted = str(highs.getModelStatus()).endswith("kInterrupt")
        if interrupted:
            status = INTERRUPTED
        elif termination == TerminationCondition.convergenceCriteriaSatisfied and has_plan:
            status = OPTIMAL
        elif termination == TerminationCondition.maxTimeLimit:
            status = TIME_LIMIT
        elif termination in (
            TerminationCondition.provenInfeasible,
            TerminationCondition.infeasibleOrUnbounded,
        ):
            status = INFEASIBLE
        else:
            status = ERROR
        if has_plan:
            results.solution_loader.load_vars()
        objective = results.incumbent_objective if has_plan else None
        bound = results.objective_bound
        version = ".".join(str(part) for part in self._solver.version())
        return SolverReport(
            status=status,
            has_plan=has_plan and status != ERROR,
            objective=objective,
            bound=bound,
            gap=_gap(objective, bound) if has_plan else None,
            seconds=seconds,
            termination=str(termination.name),
            message=_message(status, has_plan),
            rows=int(highs.getNumRow()),
            columns=int(highs.getNumCol()),
            nonzeros=int(highs.getNumNz()),
            solver_version=f"HiGHS {version}",
        )

    def duals(self, constraints: list[Any]) -> dict[Any, float]:
        """Duals of ``constraints`` in the LP with the binaries fixed at the plan.

        The binaries are restored (unfixed, binary) afterwards; the loaded
        plan is the LP's optimum, which has the same objective.
        """
        binaries = [v for v in self.model.component_data_objects(pyo.Var) if v.is_binary()]
        for var in binaries:
            var.fix(round(var.value or 0.0))
            var.domain = pyo.Reals
        try:
            results = self._solver.solve(
                self.model,
                threads=int(self.options.threads),
                solver_options=self._highs_options(),
                load_solutions=False,
                raise_exception_on_nonoptimal_result=False,
            )
            if results.termination_condition != TerminationCondition.convergenceCriteriaSatisfied:
                logger.warning("the LP with fixed binaries did not solve: no duals")
                return {}
            results.solution_loader.load_vars()
            duals = results.solution_loader.get_duals(constraints)
            return {constraint: float(value) for constraint, value in duals.items()}
        finally:
            for var in binaries:
                var.domain = pyo.Binary
                var.unfix()


def _message(status: str, has_plan: bool) -> str:
    if status == OPTIMAL:
        return "optimal plan found"
    if status == TIME_LIMIT:
        return (
            "time limit reached; the best plan found is reported with its gap"
            if has_plan
            else "time limit reached before any feasible plan was found"
        )
    if status == INFEASIBLE:
        return "no plan satisfies every rule"
    if status == INTERRUPTED:
        return "interrupted by the user"
    return "the solver stopped with an error"
