"""Run HiGHS on a handed-off model and report: with :mod:`planner.handoff`, all that talks to HiGHS.

It solves the model :class:`~planner.handoff.HighsModel` handed to HiGHS,
with fixed threads and seed, Ctrl-C and SIGTERM cancelling the run and
progress passed on; keeps "why the solver stopped" apart from "how good the
plan is" (:class:`SolverReport`); and fixes the binaries at the plan to price
constraints with the LP's duals. Solver objects never leave these two
modules: callers get :class:`SolverReport` and plain values.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo

from planner.first_plan import FirstPlan, first_plan
from planner.handoff import INF, HighsModel, new_highs, run_time_limit
from planner.model.update import Rebound

logger = logging.getLogger(__name__)


class Status(StrEnum):
    """Why the solver stopped: the contract's Summary ``status`` (equal to its text)."""

    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
    INFEASIBLE = "infeasible"
    INTERRUPTED = "interrupted"
    ERROR = "error"
    #: a plan that holds every rule, but whose rounded contract decisions do not reproduce
    #: the solver's objective even at a strict integrality tolerance: not proven optimal
    UNPROVEN = "unproven"


OPTIMAL, TIME_LIMIT, INFEASIBLE, INTERRUPTED, ERROR, UNPROVEN = Status

#: HiGHS's integrality tolerance for the re-solve of a plan whose rounded binaries did
#: not reproduce its objective (HiGHS's default, mip_feasibility_tolerance, is 1e-6).
STRICT_INTEGRALITY = 1e-9


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
    #: the most memory (MB) the model may need by its estimate from the scenario tree
    #: (:func:`planner.model.size.estimate`); None: ``PLANNER_MAX_MODEL_MB`` or 80 % of
    #: the machine's memory (of a web job's limit)
    max_model_mb: float | None = None
    #: progressive hedging on mpi-sppy (the ``mpi`` extra) instead of one HiGHS solve
    #: of the extensive form: scenario sub-models, a Lagrangian bound, xhat plans;
    #: None: the Settings key ``decompose`` (yes, no, auto)
    decompose: bool | None = None
    #: progressive hedging's most iterations after its iteration 0 (a decomposed solve
    #: only; None: :data:`planner.decompose.ph.MAX_ITERATIONS`). PH also stops at the
    #: target gap and at its share of the time limit, whichever comes first
    ph_iterations: int | None = None
    #: find a first plan by construction and start HiGHS from it (:mod:`planner.first_plan`):
    #: True always, False never, None (the default) when the model is as large as
    #: :data:`FIRST_PLAN_NONZEROS` (where HiGHS alone can take its whole limit without one)
    first_plan: bool | None = None
    #: called now and then during a MIP solve with ``seconds``, ``best`` (the best
    #: plan's objective so far, None before one), ``bound`` and ``gap``
    on_progress: Callable[[dict[str, float | None]], None] | None = field(
        default=None, compare=False
    )


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
    options: Mapping[str, object],
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


#: The model size (nonzeros) from which a first plan is constructed by default
#: (``SolveOptions.first_plan`` None); benchmarks/README.md, "First plan and memory".
FIRST_PLAN_NONZEROS = 1_000_000
#: The share of the time limit the first plan may take; HiGHS has the rest.
FIRST_PLAN_SHARE = 0.1

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


#: A solve run again (a misjudged warm start solved cold) has what is left of its time
#: limit, and at least this share of it (as the strict re-solve in :mod:`planner.api`)
RETRY_SHARE = 0.1


def give_back_memory(collect: bool = True) -> None:
    """Collect Python's garbage and hand the C heap's free pages back to the system.

    glibc's ``malloc`` keeps memory freed by HiGHS (gigabytes after a MIP at
    the largest benchmark size) for its own later use, while Python's objects
    and large numpy arrays take fresh pages: without this, the tables built
    after a solve stack on memory nobody uses. ``malloc_trim`` exists only
    in glibc; elsewhere only the garbage is collected (musl and macOS have
    no such function; on Windows Python 3.11's ``ctypes.CDLL(None)`` raises
    TypeError rather than open the process). ``collect`` False skips the
    collection (a full pass over a large model's objects: seconds) where
    nothing freed sits in a reference cycle.
    """
    if collect:
        gc.collect()
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, TypeError):  # not glibc
        return
    trim(0)


def reset_threads() -> None:
    """Let the next HiGHS run set its own thread count.

    HiGHS keeps one thread pool per process, sized by the first run; a later
    run asking for another ``threads`` fails. Called after runs made by other
    code in this process (mpi-sppy's sub-problems through Pyomo's appsi).
    """
    highspy.Highs.resetGlobalScheduler(True)


class HighsSession:
    """Solves a model handed to HiGHS (:class:`~planner.handoff.HighsModel`), again after changes.

    The seam with :mod:`planner.handoff`: the hand-off gives the HiGHS
    instance, the Pyomo rows and columns in its order, which columns are
    integer and the cost of a plan; this class runs HiGHS with the options,
    signals and progress reports, and turns what it says into a
    :class:`SolverReport`, the plan in the model's variables and duals.
    """

    def __init__(self, model: pyo.ConcreteModel, options: SolveOptions) -> None:
        self.handed = HighsModel(model)
        self.options = options
        self.highs = self.handed.highs
        self.start: np.ndarray | None = None  # the last plan, offered to the next solve as a start
        #: the cost of the plan with its binaries rounded, once :meth:`duals` solved that LP
        self.fixed_objective: float | None = None
        #: whether the last fixed-binaries LP stopped at its time limit (no duals, the MIP's plan)
        self.fixed_timed_out = False
        #: the time limit the last fixed-binaries LP ran out of (None: it did not)
        self.fixed_time_limit: float | None = None
        #: HiGHS's simplex iterations on that LP, every run (benchmarks/duals.py compares starts)
        self.fixed_iterations: int | None = None
        #: :meth:`close` freed HiGHS's copy of the model: the session cannot solve again
        self.closed = False

    def close(self) -> None:
        """Free HiGHS's model and solver state: nothing more will be asked of HiGHS.

        For a single solve once its plan (and duals) are in the variables, so
        that the tables and the workbook built next do not stack on HiGHS's
        memory (the model, the LP with the binaries fixed, what its MIP left;
        :func:`give_back_memory`). The session holds an empty HiGHS after.
        """
        self.highs = self.handed.highs = new_highs()
        self.closed = True
        give_back_memory()

    @property
    def integer(self) -> np.ndarray:
        """Which columns are integer."""
        return self.handed.integer

    @property
    def nonzeros(self) -> int:
        """Nonzeros of the constraint matrix at the hand-off."""
        return self.handed.nonzeros

    @property
    def handoff_seconds(self) -> float:
        """How long the hand-off took."""
        return self.handed.seconds

    def sync(self, rebound: Rebound) -> bool:
        """Change the model HiGHS holds in place (see :meth:`HighsModel.sync`)."""
        return self.handed.sync(rebound)

    def release_rows(self, keep: Iterable[str]) -> None:
        """Free the model's rows once HiGHS holds them (:meth:`HighsModel.release_rows`).

        For a single solve: the plan still reaches the variables and the
        duals of the families in ``keep`` can still be asked for; the model
        can no longer be changed in place.
        """
        self.handed.release_rows(keep)

    def _set_options(
        self, time_limit_s: float | None, mip_gap: float | None, mip: bool = False
    ) -> None:
        """Set HiGHS's options for the next run from its defaults (nothing kept from the last).

        ``time_limit_s`` is this run's, a MIP's if ``mip`` (else an LP's):
        HiGHS compares an LP's ``time_limit`` with the instance's run clock,
        which runs on over every run of the instance, a MIP's with the MIP's
        own (:func:`run_time_limit`).
        """
        highs = self.highs
        highs.resetOptions()
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("threads", int(self.options.threads))
        highs.setOptionValue("random_seed", int(self.options.seed))
        highs.setOptionValue("mip_abs_gap", 0.0)
        highs.setOptionValue("time_limit", run_time_limit(highs, time_limit_s, mip))
        if mip_gap is not None:
            highs.setOptionValue("mip_rel_gap", float(mip_gap))

    def _run(self) -> tuple[Status, str] | None:
        """Run HiGHS; return None, or why it did not run to a status of its own.

        That is (``INTERRUPTED``, message) or (``ERROR``, HiGHS's error).

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
            self.highs.HandleKeyboardInterrupt = True  # Ctrl-C cancels, not kills, the solve
        try:
            self.highs.run()
        except KeyboardInterrupt:
            interrupted.set()
        except (RuntimeError, ValueError) as error:
            return ERROR, f"solver error: {error}"
        finally:
            for number, handler in handlers.items():
                signal.signal(number, handler)
        return (INTERRUPTED, _message(INTERRUPTED, False)) if interrupted.is_set() else None

    @property
    def fractional(self) -> bool:
        """Whether the last plan has an integer column that is not a whole number.

        HiGHS accepts a binary within its integrality tolerance of 0 or 1; the
        plan written has it rounded, which :meth:`duals` (its fixed LP) prices.
        """
        if self.start is None or not self.integer.any():
            return False
        values = self.start[self.integer]
        return bool((values != np.round(values)).any())

    def solve(self, time_limit: float, mip_gap: float, strict: bool = False) -> SolverReport:
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
        cold, without the start and with the heuristics on, within what is
        left of ``time_limit`` (at least :data:`RETRY_SHARE` of it).

        ``strict``: cold, at HiGHS's integrality tolerance :data:`STRICT_INTEGRALITY`
        (for a plan whose rounded binaries did not reproduce its objective).

        A cold solve (not strict) of a model with :meth:`wants_first_plan`
        first constructs a plan (:func:`planner.first_plan.first_plan`,
        within :data:`FIRST_PLAN_SHARE` of the time limit) and hands it to
        HiGHS as a start, with its heuristics on; HiGHS has what is left of
        the time limit. Should HiGHS stop before it takes the start in (a
        limit reached in its presolve), the constructed plan is the plan,
        with HiGHS's bound if it has one. ``extra["first_plan_seconds"]`` is
        the time from the start of this solve to the first plan (constructed
        or HiGHS's own), None when there was none.
        """
        if self.closed:
            raise RuntimeError("the session was closed: HiGHS no longer holds the model")
        if self.handed.infeasible_constant:
            return self._report_infeasible_constant()
        self.fixed_objective = None
        warm = self.start is not None and not strict
        if strict:
            self.highs.clearSolver()
        constructed = None
        if not warm and not strict and self.wants_first_plan():
            constructed = self._first_plan(time_limit)
        started = constructed.seconds if constructed is not None else 0.0
        start = constructed.values if constructed is not None else None
        report = self._solve_once(max(time_limit - started, 1e-3), mip_gap, warm, strict, start)
        if (
            (warm or start is not None)
            and report.has_plan
            and not self._objective_is_the_plans(report)
        ):
            logger.warning("HiGHS misjudged the warm start's objective; solving again cold")
            self.highs.clearSolver()
            spent = started + report.seconds
            left = max(time_limit - spent, RETRY_SHARE * time_limit)
            report = self._solve_once(left, mip_gap, warm=False)
            report.seconds += spent - started  # the misjudged run's time (``started`` below)
        if constructed is not None:
            self._take_first_plan(report, constructed)
        first = report.extra.pop("first_improving", None)
        if constructed is not None and constructed.values is not None:
            first = 0.0  # the constructed plan came before HiGHS's
        report.extra["first_plan_seconds"] = None if first is None else started + first
        report.seconds += started
        report.extra["warm"] = warm
        return report

    def wants_first_plan(self) -> bool:
        """Whether a cold solve constructs a first plan (``SolveOptions.first_plan``)."""
        wanted = self.options.first_plan
        if wanted is None:
            wanted = self.nonzeros >= FIRST_PLAN_NONZEROS
        return bool(wanted) and bool(self.integer.any())

    def _first_plan(self, time_limit: float) -> FirstPlan:
        """Construct a first plan within :data:`FIRST_PLAN_SHARE` of ``time_limit``.

        Its ``seconds`` count the memory given back after it too (the C
        heap's free pages): the MIP has what is left of the solve's time
        limit after both.
        """
        began = time.perf_counter()
        self._set_options(None, None)  # threads, seed, quiet; first_plan sets the time limit
        constructed = first_plan(self.highs, self.integer, FIRST_PLAN_SHARE * time_limit)
        # the construction's copy of the model, freed as first_plan returned (no cycle: the rows
        # released before it were collected then); a collection here took seconds of the tenth
        give_back_memory(collect=False)
        constructed.seconds = time.perf_counter() - began
        logger.info(
            "first plan: %s (%s) after %.2f s",
            "none" if constructed.values is None else f"{constructed.objective:,.2f}",
            constructed.how,
            constructed.seconds,
        )
        return constructed

    def _take_first_plan(self, report: SolverReport, constructed: FirstPlan) -> None:
        """Record the constructed plan in ``report``; make it the plan if HiGHS has none.

        HiGHS takes a start in after its presolve: stopped by its limit before
        that, it reports no plan although one was handed to it.
        """
        report.extra["first_plan"] = {
            "seconds": constructed.seconds,
            "objective": constructed.objective,
            "how": constructed.how,
            "taken_as_is": False,  # True: HiGHS stopped before it took the plan in
        }
        if constructed.values is None or report.has_plan or report.status != TIME_LIMIT:
            return
        report.extra["first_plan"]["taken_as_is"] = True
        self.start = constructed.values
        self._load_values(self.start)
        report.has_plan = True
        report.objective = self.handed.cost_of(self.start)
        bound = float(self.highs.getInfo().mip_dual_bound)
        report.bound = bound if math.isfinite(bound) else None
        report.gap = _gap(report.objective, report.bound)
        report.message = _message(TIME_LIMIT, True, report.termination)

    def _solve_once(
        self,
        time_limit: float,
        mip_gap: float,
        warm: bool,
        strict: bool = False,
        start: np.ndarray | None = None,
    ) -> SolverReport:
        self._set_options(time_limit, mip_gap, mip=bool(self.integer.any()))
        if strict:
            self.highs.setOptionValue("mip_feasibility_tolerance", STRICT_INTEGRALITY)
        for heuristic in WARM_START_OFF:
            self.highs.setOptionValue(heuristic, not warm)
        for name, value in self.options.highs_options.items():  # checked by the caller
            self.highs.setOptionValue(name, value)
        if warm and self.start is not None:
            start = self.start
        if start is not None:
            solution = highspy.HighsSolution()
            solution.col_value = start
            self.highs.setSolution(solution)
        clock = float(self.highs.getRunTime())  # the instance's earlier runs
        started = time.perf_counter()
        first: list[float] = []
        with self._progress_reported(), self._first_improving(first):
            stopped = self._run()
        seconds = time.perf_counter() - started
        if stopped is not None:
            status, message = stopped
            return SolverReport(status, False, seconds=seconds, message=message)
        report = self._report(seconds, clock)
        if first:
            report.extra["first_improving"] = first[0]
        return report

    @contextlib.contextmanager
    def _first_improving(self, first: list[float]) -> Iterator[None]:
        """Append to ``first`` the seconds into the run of HiGHS's first plan (highspy 1.8+)."""
        event = getattr(self.highs, "cbMipImprovingSolution", None)
        if event is None:
            yield
            return
        started = time.perf_counter()

        def note(_: highspy.HighsCallbackEvent) -> None:
            if not first:
                first.append(time.perf_counter() - started)

        event.subscribe(note)
        try:
            yield
        finally:
            event.unsubscribe(note)

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

        def forward(event: highspy.HighsCallbackEvent) -> None:
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
        plan = self.start if self.start is not None else self._plan()
        cost = self.handed.cost_of(plan)
        objective = report.objective if report.objective is not None else math.nan
        return abs(objective - cost) <= 1e-7 * max(1.0, abs(cost))

    def _report_infeasible_constant(self) -> SolverReport:
        return SolverReport(
            INFEASIBLE,
            False,
            message=_message(INFEASIBLE, False),
            termination=self.handed.infeasible_constant,
        )

    def _report(self, seconds: float, clock: float = 0.0) -> SolverReport:
        """Report HiGHS's run; ``clock``: the instance's run clock before it (its earlier runs)."""
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
            self.start = self._plan()  # the plan, offered to the next solve as a start
            self._load_values(self.start)
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
            rows=self.handed.row_count,
            columns=len(self.handed.columns),
            nonzeros=self.nonzeros,
            solver_version=f"HiGHS {highs.versionMajor()}.{highs.versionMinor()}."
            f"{highs.versionPatch()}",
            extra={
                "handoff_seconds": self.handoff_seconds,
                "highs_seconds": float(highs.getRunTime()) - clock,
            },
        )

    def _plan(self) -> np.ndarray:
        """Return the column values HiGHS holds (one copy of its solution, not one per use)."""
        return np.array(self.highs.getSolution().col_value, dtype=float)

    def _load_values(self, values: np.ndarray) -> None:
        for var, value in zip(self.handed.columns, values.tolist(), strict=True):
            var.set_value(value, skip_validation=True)

    def duals(
        self, families: Iterable[str], start: str | None = None, time_limit: float | None = None
    ) -> dict[tuple[str, Any], float]:
        """Duals of the rows of ``families`` in the LP with the binaries fixed at the plan.

        Keyed by (family, index): ``("capacity_limit", (o, n))``, in the
        order of ``families`` and, within one, of its index
        (:meth:`HighsModel.row_keys`). Rows the hand-off did not pass (no
        variables left) have none.

        The integer columns are fixed at their rounded values and made
        continuous in place, the LP is solved, and the columns are restored.
        ``start`` (:data:`DUALS_STARTS`; None: :data:`DUALS_START`) is where
        the LP's simplex starts: ``"presolve"`` clears the solver's state and
        lets HiGHS presolve the LP and solve it from scratch; ``"plan"``
        clears it and hands HiGHS the plan (binaries rounded), from which it
        builds a basis (HiGHS then does not presolve); ``"basis"`` keeps the
        basis the MIP left (nor then); ``"auto"`` starts from the plan with
        at most :func:`duals_iteration_budget` simplex iterations and, past
        them, clears the state and presolves. From the plan the LP was as fast
        or up to 3 times faster than presolved on every benchmark size, but
        took 58,456 iterations (29 s) against 8,696 (1.6 s) on a case of
        issue 24 (benchmarks/README.md, "Duals"): the budget keeps the first
        and bounds the second.

        ``time_limit`` (seconds; None: none) bounds the LP's runs together:
        past it the plan stays the MIP's, as HiGHS gave it, with no duals.
        """
        if self.closed:
            raise RuntimeError("the session was closed: HiGHS no longer holds the model")
        start = DUALS_START if start is None else start
        if start not in DUALS_STARTS:
            raise ValueError(f"unknown start {start!r} for the duals' LP; one of {DUALS_STARTS}")
        highs = self.highs
        integer = np.flatnonzero(self.integer)
        columns = self.handed.columns
        if not self.handed.row_count:
            return {}
        plan = None if self.start is None else np.asarray(self.start, dtype=float)
        if len(integer):
            values = np.array([round(columns[i].value or 0.0) for i in integer], dtype=float)
            if plan is not None:
                plan[integer] = values
            lower = np.array([columns[i].lb or 0.0 for i in integer], dtype=float)
            upper = np.array(
                [columns[i].ub if columns[i].ub is not None else INF for i in integer],
                dtype=float,
            )
            highs.changeColsBounds(len(integer), integer, values, values)
            highs.changeColsIntegrality(
                len(integer), integer, np.full(len(integer), highspy.HighsVarType.kContinuous)
            )
        try:
            if not self._solve_fixed(start, plan, time_limit):
                if not self.fixed_timed_out:
                    logger.warning("the LP with fixed binaries did not solve: no duals")
                return {}
            solution = highs.getSolution()
            self._load_values(np.asarray(solution.col_value, dtype=float))
            self.fixed_objective = float(highs.getInfo().objective_function_value)
            row_dual = np.asarray(solution.row_dual, dtype=float)
            return {
                (name, index): float(row_dual[position])
                for name, index, position in self.handed.row_keys(families)
            }
        finally:
            if len(integer):
                highs.changeColsBounds(len(integer), integer, lower, upper)
                highs.changeColsIntegrality(
                    len(integer), integer, np.full(len(integer), highspy.HighsVarType.kInteger)
                )

    def _solve_fixed(
        self, start: str, plan: np.ndarray | None, time_limit: float | None = None
    ) -> bool:
        """Solve the LP with the binaries fixed from ``start`` (see :meth:`duals`); whether it did.

        Sets :attr:`fixed_iterations` to the simplex iterations of every run;
        every run together within ``time_limit`` seconds (None: no limit).
        """
        highs = self.highs
        self.fixed_iterations = 0
        self.fixed_timed_out = False
        runs = ["plan", "presolve"] if start == "auto" else [start]
        began = time.monotonic()
        for run in runs:
            left = None if time_limit is None else time_limit - (time.monotonic() - began)
            if left is not None and left <= 0:
                return self._timed_out(time_limit)
            self._set_options(left, None)
            if run == "presolve":
                highs.clearSolver()  # no basis: HiGHS presolves the LP and solves it afresh
            elif run == "plan" and plan is not None and len(plan) == len(self.handed.columns):
                highs.clearSolver()  # forget the MIP's basis: HiGHS builds one from the plan
                solution = highspy.HighsSolution()
                solution.col_value = plan
                solution.value_valid = True
                highs.setSolution(solution)
            if start == "auto" and run == "plan":
                budget = duals_iteration_budget(self.handed.row_count)
                highs.setOptionValue("simplex_iteration_limit", budget)
            stopped = self._run()
            self.fixed_iterations += max(0, int(highs.getInfo().simplex_iteration_count))
            if stopped is not None:
                return False
            status = highs.getModelStatus()
            if status == highspy.HighsModelStatus.kOptimal:
                return True
            if status == highspy.HighsModelStatus.kTimeLimit:
                return self._timed_out(time_limit)
            if status != highspy.HighsModelStatus.kIterationLimit:
                return False
            logger.info("the duals' LP from the plan passed its budget: presolved instead")
        return False

    def _timed_out(self, time_limit: float | None) -> bool:
        """Note that the fixed-binaries LP ran out of its ``time_limit``; return False."""
        self.fixed_timed_out = True
        self.fixed_time_limit = time_limit
        logger.warning(
            "the LP with fixed binaries did not finish within %.3g s: the plan is the "
            "solver's, without duals",
            time_limit,
        )
        return False


#: Where the duals' LP (binaries fixed) may start: see :meth:`HighsSession.duals`.
DUALS_STARTS = ("auto", "presolve", "plan", "basis")
#: Where it starts unless told: measured on every benchmark size (benchmarks/README.md, "Duals").
DUALS_START = "auto"
#: ``"auto"``'s budget of simplex iterations from the plan, per row of the LP, and its least.
#: On the benchmark sizes the LP took 0.016-0.097 iterations per row from the plan and
#: 0.068-0.136 presolved from scratch: past 0.15 the plan's start has cost more iterations
#: than a presolved LP took anywhere (issue 24's case: 58,456 from the plan, 8,696 presolved)
DUALS_ITERATIONS_PER_ROW = 0.15
DUALS_MIN_ITERATIONS = 1_000


def duals_iteration_budget(rows: int) -> int:
    """Simplex iterations the duals' LP may take from the plan before it is presolved instead."""
    return max(DUALS_MIN_ITERATIONS, int(DUALS_ITERATIONS_PER_ROW * rows))


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
