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
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common.errors import InfeasibleConstraintException
from pyomo.common.tee import capture_output
from pyomo.core.expr.numeric_expr import LinearExpression
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from planner.errors import SolverError
from planner.model.update import coefficient_arrays

logger = logging.getLogger(__name__)
INF = highspy.kHighsInf

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


def new_highs() -> highspy.Highs:
    """Return a silent HiGHS instance (newer versions print a banner from the constructor)."""
    with capture_output(capture_fd=True):
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    return highs


def _gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    if objective == bound:
        return 0.0
    return abs(objective - bound) / max(abs(objective), 1e-10)


#: HiGHS options switched off for a warm-started re-solve (see HighsSession.solve).
WARM_START_OFF = (
    "mip_heuristic_run_rins",
    "mip_heuristic_run_rens",
    "mip_heuristic_run_root_reduced_cost",
)

_ROW_BOUNDS = {0: "equal", 1: "upper", -1: "lower"}


class HighsSession:
    """One model handed to HiGHS once, in standard form; re-solves change it in place.

    The hand-off is Pyomo's own standard-form compiler (one pass over the
    model to sparse matrices) and ``Highs.passModel``, much faster than
    generating each row through a persistent interface.
    """

    def __init__(self, model: pyo.ConcreteModel, options: SolveOptions) -> None:
        self.model = model
        self.options = options
        started = time.perf_counter()
        self.infeasible_constant: str = ""
        try:
            repn = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
        except InfeasibleConstraintException as error:
            self.infeasible_constant = str(error)
            repn = None
        self.highs = new_highs()
        self.rows: list[Any] = [] if repn is None else [row.constraint for row in repn.rows]
        self.columns: list[Any] = [] if repn is None else list(repn.columns)
        self.nonzeros = 0 if repn is None else int(repn.A.nnz)
        self.start: Any = None  # the last plan, offered to the next solve as a start
        if repn is not None:
            self._pass_model(repn)
        self.handoff_seconds = time.perf_counter() - started

    def _pass_model(self, repn: Any) -> None:
        columns = self.columns
        lp = highspy.HighsLp()
        lp.num_col_ = len(columns)
        lp.num_row_ = len(self.rows)
        lp.col_cost_ = np.asarray(repn.c.toarray()).ravel() if columns else np.zeros(0)
        lp.offset_ = float(repn.c_offset[0]) if len(repn.c_offset) else 0.0
        lp.col_lower_ = np.array([-INF if v.lb is None else v.lb for v in columns], dtype=float)
        lp.col_upper_ = np.array([INF if v.ub is None else v.ub for v in columns], dtype=float)
        rhs = np.asarray(repn.rhs, dtype=float)
        kinds = np.array([row.bound_type for row in repn.rows], dtype=int)
        lp.row_lower_ = np.where(kinds == 1, -INF, rhs)
        lp.row_upper_ = np.where(kinds == -1, INF, rhs)
        matrix = repn.A.tocsc()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        lp.a_matrix_.num_col_ = len(columns)
        lp.a_matrix_.num_row_ = len(self.rows)
        self.integer = np.array([v.is_integer() for v in columns], dtype=bool)
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
            for integer in self.integer
        ]
        status = self.highs.passModel(lp)
        if status == highspy.HighsStatus.kError:
            raise SolverError("HiGHS refused the model")
        self._keep_state(repn, lp)

    def _keep_state(self, repn: Any, lp: Any) -> None:
        """Remember what HiGHS holds, so that :meth:`sync` pushes only differences."""
        self._column_of = {id(var): j for j, var in enumerate(self.columns)}
        self._row_of = {id(row): i for i, row in enumerate(self.rows)}
        self._syncable = len(self._row_of) == len(self.rows)  # no constraint split in two
        matrix = repn.A.tocsr()
        self._terms: list[dict[int, float]] | None = None
        self._matrix = matrix
        self._row_lower = np.array(lp.row_lower_, dtype=float)
        self._row_upper = np.array(lp.row_upper_, dtype=float)
        self._col_lower = np.array(lp.col_lower_, dtype=float)
        self._col_upper = np.array(lp.col_upper_, dtype=float)
        self._cost = np.array(lp.col_cost_, dtype=float)
        self._offset = float(lp.offset_)

    def _all_terms(self) -> list[dict[int, float]]:
        """Each row's {column: coefficient} as HiGHS holds it (made on the first sync)."""
        if self._terms is None:
            m = self._matrix
            self._terms = [
                dict(zip(m.indices[a:b].tolist(), m.data[a:b].tolist(), strict=True))
                for a, b in zip(m.indptr[:-1], m.indptr[1:], strict=True)
            ]
        return self._terms

    def sync(self) -> bool:
        """Push the model's rows, bounds and objective as they now stand to HiGHS, in place.

        Only coefficients, bounds and costs that differ are changed; rows
        deactivated since are freed, rows added since are appended. Returns
        False (HiGHS partly changed: discard this session) when the model now
        uses a variable HiGHS has no column for.
        """
        if self.infeasible_constant or not self._syncable:
            return False
        try:
            for i, row in enumerate(self.rows):
                self._sync_row(i, row)
            self._add_new_rows()
            self._sync_columns()
        except KeyError:
            return False
        return True

    def _linear_terms(self, body: Any) -> tuple[dict[int, float], float]:
        if isinstance(body, LinearExpression) and all(type(c) is float for c in body.linear_coefs):
            variables, coefficients, constant = body.linear_vars, body.linear_coefs, body.constant
        else:
            variables, coefficients, constant = coefficient_arrays(body)
        terms: dict[int, float] = {}
        for var, coefficient in zip(variables, coefficients, strict=True):
            j = self._column_of[id(var)]
            terms[j] = terms.get(j, 0.0) + float(coefficient)
        return {j: c for j, c in terms.items() if c != 0.0}, float(pyo.value(constant))

    def _row_bounds(self, row: Any, constant: float) -> tuple[float, float]:
        lower, upper = pyo.value(row.lower), pyo.value(row.upper)
        return (
            -INF if lower is None else float(lower) - constant,
            INF if upper is None else float(upper) - constant,
        )

    def _sync_row(self, i: int, row: Any) -> None:
        highs = self.highs
        if not row.active:
            lower, upper = -INF, INF
        else:
            terms, constant = self._linear_terms(row.body)
            held = self._all_terms()
            for j in held[i].keys() | terms.keys():
                value = terms.get(j, 0.0)
                if held[i].get(j, 0.0) != value:
                    highs.changeCoeff(i, j, value)
            held[i] = terms
            lower, upper = self._row_bounds(row, constant)
        if lower != self._row_lower[i] or upper != self._row_upper[i]:
            highs.changeRowBounds(i, lower, upper)
            self._row_lower[i], self._row_upper[i] = lower, upper

    def _add_new_rows(self) -> None:
        for row in self.model.component_data_objects(pyo.Constraint, active=True):
            if id(row) in self._row_of:
                continue
            terms, constant = self._linear_terms(row.body)
            lower, upper = self._row_bounds(row, constant)
            columns = np.fromiter(terms.keys(), dtype=np.int32, count=len(terms))
            values = np.fromiter(terms.values(), dtype=float, count=len(terms))
            self.highs.addRow(lower, upper, len(terms), columns, values)
            self._row_of[id(row)] = len(self.rows)
            self.rows.append(row)
            self._all_terms().append(terms)
            self._row_lower = np.append(self._row_lower, lower)
            self._row_upper = np.append(self._row_upper, upper)

    def _sync_columns(self) -> None:
        highs = self.highs
        lower = np.array([-INF if v.lb is None else v.lb for v in self.columns], dtype=float)
        upper = np.array([INF if v.ub is None else v.ub for v in self.columns], dtype=float)
        changed = np.flatnonzero((lower != self._col_lower) | (upper != self._col_upper))
        if len(changed):
            highs.changeColsBounds(len(changed), changed, lower[changed], upper[changed])
            self._col_lower, self._col_upper = lower, upper
        goal = next(self.model.component_data_objects(pyo.Objective, active=True))
        terms, offset = self._linear_terms(goal.expr)
        cost = np.zeros(len(self.columns))
        cost[list(terms)] = list(terms.values())
        changed = np.flatnonzero(cost != self._cost)
        if len(changed):
            highs.changeColsCost(len(changed), changed, cost[changed])
            self._cost = cost
        if offset != self._offset:
            highs.changeObjectiveOffset(offset)
            self._offset = offset

    def _set_options(self, time_limit_s: float | None, mip_gap: float | None) -> None:
        highs = self.highs
        highs.setOptionValue("threads", int(self.options.threads))
        highs.setOptionValue("random_seed", int(self.options.seed))
        highs.setOptionValue("mip_abs_gap", 0.0)
        highs.setOptionValue("time_limit", float(time_limit_s) if time_limit_s else INF)
        if mip_gap is not None:
            highs.setOptionValue("mip_rel_gap", float(mip_gap))

    def _run(self) -> str | None:
        """Run HiGHS; return "interrupted", an error message, or None.

        Ctrl-C and SIGTERM during the run cancel the solve (HiGHS stops at
        its next check) and are reported as an interruption, whatever status
        this version of HiGHS gives a cancelled solve.
        """
        interrupted = threading.Event()

        def cancel(signum: int, frame: object) -> None:
            interrupted.set()
            self.highs.cancelSolve()

        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                handlers[number] = signal.signal(number, cancel)
        if hasattr(self.highs, "HandleKeyboardInterrupt"):
            self.highs.HandleKeyboardInterrupt = True  # run in a thread: signals reach Python
        try:
            self.highs.run()
        except KeyboardInterrupt:
            interrupted.set()
        except (RuntimeError, ValueError) as error:
            return f"solver error: {error}"
        finally:
            for number, handler in handlers.items():
                signal.signal(number, handler)
        return "interrupted" if interrupted.is_set() else None

    def solve(self, time_limit: float, mip_gap: float) -> SolverReport:
        """Solve the model as it stands; load the plan into the variables if there is one.

        After a first solve (a re-solve of a changed model), the last plan is
        offered to HiGHS as a start and the sub-MIP heuristics (RINS, RENS,
        root reduced cost) are off: their job, a good early plan, is what the
        start gives, and on the example cases they are most of the root's time.
        The plan is still proven optimal to the same gap.
        """
        if self.infeasible_constant:
            return self._report_infeasible_constant()
        self._set_options(time_limit, mip_gap)
        if self.start is not None:
            for heuristic in WARM_START_OFF:
                self.highs.setOptionValue(heuristic, False)
            start = highspy.HighsSolution()
            start.col_value = self.start
            self.highs.setSolution(start)
        started = time.perf_counter()
        error = self._run()
        seconds = time.perf_counter() - started
        if error == "interrupted":
            return SolverReport(
                INTERRUPTED, False, seconds=seconds, message="interrupted by the user"
            )
        if error:
            return SolverReport(ERROR, False, seconds=seconds, message=error)
        return self._report(seconds)

    def _report_infeasible_constant(self) -> SolverReport:
        return SolverReport(
            INFEASIBLE,
            False,
            message=_message(INFEASIBLE, False),
            termination=self.infeasible_constant,
        )

    def _report(self, seconds: float) -> SolverReport:
        highs = self.highs
        model_status = highs.getModelStatus()
        info = highs.getInfo()
        has_plan = int(info.primal_solution_status) == 2  # kSolutionStatusFeasible
        status = _STATUS.get(
            model_status.name if hasattr(model_status, "name") else str(model_status)
        )
        if status is None:
            status = ERROR
        if (
            status == OPTIMAL
            and not has_plan
            and model_status != highspy.HighsModelStatus.kModelEmpty
        ):
            status = ERROR
        objective = bound = None
        if has_plan or model_status == highspy.HighsModelStatus.kModelEmpty:
            has_plan = True
            self._load_values()
            self.start = list(highs.getSolution().col_value)
            objective = float(info.objective_function_value)
            bound = float(info.mip_dual_bound) if self.integer.any() else objective
        return SolverReport(
            status=status,
            has_plan=has_plan and status != ERROR,
            objective=objective,
            bound=bound,
            gap=_gap(objective, bound) if has_plan else None,
            seconds=seconds,
            termination=highs.modelStatusToString(model_status),
            message=_message(status, has_plan),
            rows=len(self.rows),
            columns=len(self.columns),
            nonzeros=self.nonzeros,
            solver_version=f"HiGHS {highs.versionMajor()}.{highs.versionMinor()}."
            f"{highs.versionPatch()}",
            extra={
                "handoff_seconds": self.handoff_seconds,
                "highs_seconds": float(highs.getRunTime()),
            },
        )

    def _load_values(self) -> None:
        values = self.highs.getSolution().col_value
        for var, value in zip(self.columns, values, strict=True):
            var.set_value(value, skip_validation=True)

    def duals(self, constraints: list[Any]) -> dict[Any, float]:
        """Duals of ``constraints`` in the LP with the binaries fixed at the plan.

        The integer columns are fixed at their rounded values and made
        continuous in place, the LP is solved, and the columns are restored.
        """
        highs = self.highs
        integer = np.flatnonzero(self.integer)
        if not len(self.rows):
            return {}
        if len(integer):
            values = np.array([round(self.columns[i].value or 0.0) for i in integer], dtype=float)
            lower = np.array([self.columns[i].lb or 0.0 for i in integer], dtype=float)
            upper = np.array(
                [self.columns[i].ub if self.columns[i].ub is not None else INF for i in integer],
                dtype=float,
            )
            highs.changeColsBounds(len(integer), integer, values, values)
            highs.changeColsIntegrality(
                len(integer), integer, np.full(len(integer), highspy.HighsVarType.kContinuous)
            )
        try:
            self._set_options(None, None)
            if (
                self._run() is not None
                or highs.getModelStatus() != highspy.HighsModelStatus.kOptimal
            ):
                logger.warning("the LP with fixed binaries did not solve: no duals")
                return {}
            self._load_values()
            row_dual = highs.getSolution().row_dual
            wanted = set(map(id, constraints))
            return {
                row: float(dual)
                for row, dual in zip(self.rows, row_dual, strict=True)
                if id(row) in wanted
            }
        finally:
            if len(integer):
                highs.changeColsBounds(len(integer), integer, lower, upper)
                highs.changeColsIntegrality(
                    len(integer), integer, np.full(len(integer), highspy.HighsVarType.kInteger)
                )


_STATUS = {
    "kOptimal": OPTIMAL,
    "kModelEmpty": OPTIMAL,
    "kTimeLimit": TIME_LIMIT,
    "kInfeasible": INFEASIBLE,
    "kUnboundedOrInfeasible": INFEASIBLE,
    "kInterrupt": INTERRUPTED,
}


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
