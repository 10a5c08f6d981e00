"""The only module that talks to HiGHS.

It solves a built model through Pyomo's HiGHS interface with fixed threads
and seed, keeps "why the solver stopped" apart from "how good the plan is",
fixes the binaries at the plan to price constraints with the LP's duals, and
explains an infeasible case in the workbook's terms. Solver objects never
leave this module: callers get :class:`SolverReport` and plain values.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common.errors import InfeasibleConstraintException
from pyomo.common.tee import capture_output
from pyomo.core.expr.numeric_expr import LinearExpression
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler
from scipy import sparse

from planner.errors import SolverError
from planner.model.linear import coefficient_arrays
from planner.model.update import Rebound

logger = logging.getLogger(__name__)
INF = highspy.kHighsInf


class Status(StrEnum):
    """Why the solver stopped: the contract's Summary ``status`` (equal to its text)."""

    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
    INFEASIBLE = "infeasible"
    INTERRUPTED = "interrupted"
    ERROR = "error"


OPTIMAL, TIME_LIMIT, INFEASIBLE, INTERRUPTED, ERROR = Status


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
    #: further HiGHS options by name, applied to each MIP solve, e.g. a node or
    #: solution limit (``{"mip_max_nodes": 1000}``, ``{"mip_max_improving_sols": 1}``);
    #: checked by :func:`check_highs_options`
    highs_options: Mapping[str, bool | int | float | str] = field(default_factory=dict)
    #: called now and then during a MIP solve with ``seconds``, ``best`` (the best
    #: plan's objective so far, None before one), ``bound`` and ``gap``
    on_progress: Callable[[dict[str, Any]], None] | None = field(default=None, compare=False)


@dataclass
class SolverReport:
    """Why the solver stopped and how good the plan is."""

    status: Status
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


#: HiGHS options the planner sets itself, and the planner option to use instead.
RESERVED_OPTIONS = {
    "threads": "threads",
    "random_seed": "seed",
    "time_limit": "time_limit_s",
    "mip_rel_gap": "mip_gap",
    "mip_abs_gap": "",
    "output_flag": "",
    "log_to_console": "",
}


def check_highs_options(
    options: Mapping[str, Any],
) -> dict[str, bool | int | float | str]:
    """Return ``options`` checked against HiGHS, each value of its option's type.

    Raises
    ------
    ValueError
        For an option HiGHS does not know, a value it refuses, or an option
        the planner sets itself (``threads``, ``time_limit``, ...: use the
        planner's own option).
    """
    highs = new_highs()
    checked: dict[str, bool | int | float | str] = {}
    for name, value in options.items():
        if name in RESERVED_OPTIONS:
            instead = RESERVED_OPTIONS[name]
            hint = f": use {instead}=" if instead else ""
            raise ValueError(f"HiGHS option {name!r} is set by the planner{hint}")
        status, kind = highs.getOptionType(name)
        if status == highspy.HighsStatus.kError:
            raise ValueError(f"HiGHS has no option {name!r}")
        if kind == highspy.HighsOptionType.kDouble and type(value) is int:
            value = float(value)
        if not isinstance(value, bool | int | float | str) or (
            highs.setOptionValue(name, value) == highspy.HighsStatus.kError
        ):
            raise ValueError(f"HiGHS option {name!r} does not take {value!r}")
        checked[name] = value
    return checked


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

#: HiGHS's callback type for a new best plan (highspy 1.8 and later; None before)
IMPROVING = getattr(
    getattr(getattr(highspy, "cb", None), "HighsCallbackType", None),
    "kCallbackMipImprovingSolution",
    None,
)


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
        """Remember what HiGHS holds, so that :meth:`sync` pushes only differences.

        The maps from rows and columns to their positions are made on the
        first :meth:`sync` (:meth:`_index`): a single solve never needs them,
        and at the largest sizes they are a few hundred MB.
        """
        self._column_of: dict[int, int] = {}
        self._row_of: dict[int, int] = {}
        self._family_rows: dict[str, list[int]] = {}
        self._held: sparse.csr_matrix | None = None  # the matrix, read from HiGHS on first sync
        self._row_lower = np.array(lp.row_lower_, dtype=float)
        self._row_upper = np.array(lp.row_upper_, dtype=float)
        self._col_lower = np.array(lp.col_lower_, dtype=float)
        self._col_upper = np.array(lp.col_upper_, dtype=float)
        self._cost = np.array(lp.col_cost_, dtype=float)
        self._offset = float(lp.offset_)

    def _matrix(self) -> sparse.csr_matrix:
        """Return the constraint matrix HiGHS holds, by rows (copied from HiGHS once).

        Not kept from the hand-off: a single solve never needs it, and at
        the largest sizes it is a few hundred MB.
        """
        if self._held is None:
            matrix = self.highs.getLp().a_matrix_
            shape = (len(self.rows), len(self.columns))
            held = sparse.csc_matrix(
                (np.asarray(matrix.value_), np.asarray(matrix.index_), np.asarray(matrix.start_)),
                shape=shape,
            )
            self._held = held.tocsr()
        return self._held

    def sync(self, rebound: Rebound) -> bool:
        """Push what :func:`~planner.model.update.rebind` re-evaluated to HiGHS, in place.

        The re-evaluated rows are read into a sparse matrix and compared with
        what HiGHS holds: only coefficients, bounds and costs that differ are
        changed; rows deactivated since are freed (their coefficients kept),
        rows added since are appended. Returns False (HiGHS partly changed:
        discard this session) when a row uses a variable HiGHS has no column for.
        """
        if self.infeasible_constant or not self._index():
            return False
        try:
            self._sync_rows(rebound.families, rebound.rows)
            self._add_new_rows(rebound.families)
            if rebound.bounds:
                self._sync_bounds()
            if rebound.objective:
                self._sync_costs()
        except KeyError:
            return False
        return True

    def _index(self) -> bool:
        """Map rows and columns to their positions, once; False if a row was split in two."""
        if not self._row_of and self.rows:
            self._column_of = {id(var): j for j, var in enumerate(self.columns)}
            self._row_of = {id(row): i for i, row in enumerate(self.rows)}
            for i, row in enumerate(self.rows):
                self._family_rows.setdefault(row.parent_component().local_name, []).append(i)
        return len(self._row_of) == len(self.rows)

    def _linear_terms(self, body: Any) -> tuple[list[int], list[float], float]:
        """Column indices, coefficients and constant of a linear row body."""
        if isinstance(body, LinearExpression) and all(type(c) is float for c in body.linear_coefs):
            variables, coefficients, constant = body.linear_vars, body.linear_coefs, body.constant
        else:
            variables, coefficients, constant = coefficient_arrays(body)
        column_of = self._column_of
        # a variable whose every coefficient was 0 at the build has no column: skip its 0 terms
        # (an unknown variable with a coefficient still raises KeyError: build anew)
        terms = [
            (column_of[id(var)], float(c))
            for var, c in zip(variables, coefficients, strict=True)
            if c != 0 or id(var) in column_of
        ]
        return (
            [column for column, _ in terms],
            [c for _, c in terms],
            float(pyo.value(constant)),
        )

    @staticmethod
    def _row_bounds(row: Any, constant: float) -> tuple[float, float]:
        lower, upper = pyo.value(row.lower), pyo.value(row.upper)
        return (
            -INF if lower is None else float(lower) - constant,
            INF if upper is None else float(upper) - constant,
        )

    def _sync_rows(self, families: list[str], only: Mapping[str, list[Any]]) -> None:
        """Push the rows of ``families`` (of a family in ``only``, those indices) to HiGHS."""
        at: list[int] = []
        for name in families:
            if name not in only:
                at += self._family_rows.get(name, [])
                continue
            component = self.model.component(name)
            rows = (component[index] for index in only[name] if index in component)
            at += [self._row_of[id(row)] for row in rows if id(row) in self._row_of]
        positions = np.array(at, dtype=np.int64)
        if not len(positions):
            return
        width = len(self.columns)
        old = self._matrix()[positions]
        row_index: list[int] = []
        columns: list[int] = []
        values: list[float] = []
        lower = np.full(len(positions), -INF)
        upper = np.full(len(positions), INF)
        keep = np.zeros(len(positions))
        for r, i in enumerate(positions.tolist()):
            row = self.rows[i]
            if not row.active:
                keep[r] = 1.0  # freed: its bounds open, its coefficients as they were
                continue
            these, coefficients, constant = self._linear_terms(row.body)
            row_index += [r] * len(these)
            columns += these
            values += coefficients
            lower[r], upper[r] = self._row_bounds(row, constant)
        new = sparse.csr_matrix((values, (row_index, columns)), shape=(len(positions), width))
        if keep.any():
            new = (new + sparse.diags(keep) @ old).tocsr()
        new.sum_duplicates()
        new.eliminate_zeros()
        change = (new - old).tocoo()
        change.eliminate_zeros()
        if change.nnz:
            rows = positions[change.row]
            now = np.asarray(new[change.row, change.col]).ravel()
            for i, j, value in zip(rows.tolist(), change.col.tolist(), now.tolist(), strict=True):
                self.highs.changeCoeff(i, j, value)  # 0 removes the entry
            held = self._matrix()
            delta = sparse.csr_matrix((change.data, (rows, change.col)), shape=held.shape)
            self._held = (held + delta).tocsr()
            self._held.eliminate_zeros()
        moved = (lower != self._row_lower[positions]) | (upper != self._row_upper[positions])
        if moved.any():
            at = positions[moved]
            self.highs.changeRowsBounds(  # type: ignore[attr-defined]
                len(at), at, lower[moved], upper[moved]
            )
            self._row_lower[at], self._row_upper[at] = lower[moved], upper[moved]

    def _add_new_rows(self, families: list[str]) -> None:
        added = []
        base = None
        for name in families:
            for row in self.model.component(name).values():
                if not row.active or id(row) in self._row_of:
                    continue
                if base is None:
                    base = self._matrix()  # as HiGHS holds it before this row is added
                these, coefficients, constant = self._linear_terms(row.body)
                lower, upper = self._row_bounds(row, constant)
                entries = sparse.csr_matrix(
                    (coefficients, ([0] * len(these), these)), shape=(1, len(self.columns))
                )
                entries.sum_duplicates()
                entries.eliminate_zeros()
                self.highs.addRow(
                    lower, upper, entries.nnz, entries.indices.astype(np.int32), entries.data
                )
                self._row_of[id(row)] = len(self.rows)
                self._family_rows.setdefault(name, []).append(len(self.rows))
                self.rows.append(row)
                added.append(entries)
                self._row_lower = np.append(self._row_lower, lower)
                self._row_upper = np.append(self._row_upper, upper)
        if added:
            self._held = sparse.vstack([base, *added], format="csr")

    def _sync_bounds(self) -> None:
        lower = np.array([-INF if v.lb is None else v.lb for v in self.columns], dtype=float)
        upper = np.array([INF if v.ub is None else v.ub for v in self.columns], dtype=float)
        changed = np.flatnonzero((lower != self._col_lower) | (upper != self._col_upper))
        if len(changed):
            self.highs.changeColsBounds(len(changed), changed, lower[changed], upper[changed])
            self._col_lower, self._col_upper = lower, upper

    def _sync_costs(self) -> None:
        goal = next(self.model.component_data_objects(pyo.Objective, active=True))
        these, coefficients, offset = self._linear_terms(goal.expr)
        cost = np.zeros(len(self.columns))
        np.add.at(cost, these, coefficients)
        changed = np.flatnonzero(cost != self._cost)
        if len(changed):
            self.highs.changeColsCost(len(changed), changed, cost[changed])
            self._cost = cost
        if offset != self._offset:
            self.highs.changeObjectiveOffset(offset)
            self._offset = offset

    def _set_options(self, time_limit_s: float | None, mip_gap: float | None) -> None:
        """Set HiGHS's options for the next run from its defaults (nothing kept from the last)."""
        highs = self.highs
        highs.resetOptions()
        highs.setOptionValue("output_flag", False)
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

        HiGHS 1.16 can misjudge a start's objective after presolve and stop
        with it as "optimal" (seen in tests/test_resolve.py: its reported
        objective is then not the plan's cost). A warm result is therefore
        checked against the plan's cost and, if they differ, solved again
        cold, without the start and with the heuristics on.
        """
        if self.infeasible_constant:
            return self._report_infeasible_constant()
        warm = self.start is not None
        report = self._solve_once(time_limit, mip_gap, warm)
        if warm and report.has_plan and not self._objective_is_the_plans(report):
            logger.warning("HiGHS misjudged the warm start's objective; solving again cold")
            self.highs.clearSolver()
            report = self._solve_once(time_limit, mip_gap, warm=False)
        report.extra["warm"] = warm
        return report

    def _solve_once(self, time_limit: float, mip_gap: float, warm: bool) -> SolverReport:
        self._set_options(time_limit, mip_gap)
        for heuristic in WARM_START_OFF:
            self.highs.setOptionValue(heuristic, not warm)
        for name, value in self.options.highs_options.items():  # checked by the caller
            self.highs.setOptionValue(name, value)
        if warm:
            start = highspy.HighsSolution()
            start.col_value = self.start
            self.highs.setSolution(start)
        started = time.perf_counter()
        with self._progress_reported():
            error = self._run()
        seconds = time.perf_counter() - started
        if error == "interrupted":
            return SolverReport(
                INTERRUPTED, False, seconds=seconds, message="interrupted by the user"
            )
        if error:
            return SolverReport(ERROR, False, seconds=seconds, message=error)
        return self._report(seconds)

    @contextlib.contextmanager
    def _progress_reported(self) -> Iterator[None]:
        """Pass HiGHS's new plans and its periodic checks to ``on_progress`` (twice a second)."""
        report = self.options.on_progress
        names = ("cbMipImprovingSolution", "cbMipInterrupt")  # highspy 1.8 and later
        if report is None or not all(hasattr(self.highs, name) for name in names):
            yield
            return
        events = [getattr(self.highs, name) for name in names]
        last = [-math.inf]

        def forward(event: Any) -> None:
            data = event.data_out
            now = float(data.running_time)
            improving = (
                event.callback_type == highspy.cb.HighsCallbackType.kCallbackMipImprovingSolution
            )
            if not improving and now - last[0] < 0.5:
                return
            last[0] = now
            best, bound = float(data.mip_primal_bound), float(data.mip_dual_bound)
            try:
                report(
                    {
                        "seconds": now,
                        "best": best if math.isfinite(best) else None,
                        "bound": bound if math.isfinite(bound) else None,
                        "gap": float(data.mip_gap) if math.isfinite(best) else None,
                    }
                )
            except Exception:  # a progress display must never stop a solve
                logger.exception("progress report failed")

        for event in events:
            event.subscribe(forward)
        try:
            yield
        finally:
            for event in events:
                event.unsubscribe(forward)

    def _objective_is_the_plans(self, report: SolverReport) -> bool:
        """Whether HiGHS's objective is the cost of the plan it returned."""
        plan = np.asarray(self.highs.getSolution().col_value, dtype=float)
        cost = float(self._cost @ plan) + self._offset
        objective = report.objective if report.objective is not None else math.nan
        return abs(objective - cost) <= 1e-7 * max(1.0, abs(cost))

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
            self.start = np.array(highs.getSolution().col_value, dtype=float)
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
            message=_message(status, has_plan, highs.modelStatusToString(model_status)),
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
        The plan is handed to HiGHS as the LP's starting point (the solver's
        state, with the basis of the MIP's root LP, cleared first): it is
        feasible for the fixed LP and usually optimal or nearly so, so the
        simplex starts from a basis built from it. On the generated medium
        case (12 x 20 x 16 x 20, three alternating runs on a busy machine):
        0.58-0.99 s against 0.68-1.41 s from the root LP's basis and 0.9-1.0 s
        for presolve and the simplex from scratch (benchmarks/README.md).
        """
        highs = self.highs
        integer = np.flatnonzero(self.integer)
        if not len(self.rows):
            return {}
        start = None if self.start is None else np.asarray(self.start, dtype=float)
        if len(integer):
            values = np.array([round(self.columns[i].value or 0.0) for i in integer], dtype=float)
            if start is not None:
                start[integer] = values
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
            if start is not None and len(start) == len(self.columns):
                highs.clearSolver()  # forget the MIP's root basis: the plan's is nearer
                plan = highspy.HighsSolution()
                plan.col_value = start
                plan.value_valid = True
                highs.setSolution(plan)
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


#: HiGHS's model status -> the contract's status. Every limit that stops the
#: search before optimality is proven (time, nodes, leaves, improving plans,
#: iterations, an objective bound or target) is ``time_limit``: a plan found
#: is reported with its gap and never called optimal; none found is "no plan".
_STATUS = {
    "kOptimal": OPTIMAL,
    "kModelEmpty": OPTIMAL,
    "kTimeLimit": TIME_LIMIT,
    "kSolutionLimit": TIME_LIMIT,
    "kIterationLimit": TIME_LIMIT,
    "kObjectiveBound": TIME_LIMIT,
    "kObjectiveTarget": TIME_LIMIT,
    "kInfeasible": INFEASIBLE,
    "kUnboundedOrInfeasible": INFEASIBLE,
    "kInterrupt": INTERRUPTED,
}


def _message(status: str, has_plan: bool, termination: str = "Time limit reached") -> str:
    if status == OPTIMAL:
        return "optimal plan found"
    if status == TIME_LIMIT:
        limit = (
            "time limit reached"
            if termination == "Time limit reached"
            else f"solver limit reached (HiGHS: {termination})"
        )
        return (
            f"{limit}; the best plan found is reported with its gap"
            if has_plan
            else f"{limit} before any feasible plan was found"
        )
    if status == INFEASIBLE:
        return "no plan satisfies every rule"
    if status == INTERRUPTED:
        return "interrupted by the user"
    return "the solver stopped with an error"
