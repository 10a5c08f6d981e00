"""The Python API: load a workbook, solve a case, get pandas tables back."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from planner import outcome
from planner.data import Case
from planner.decompose import ph
from planner.decompose.budget import PH_SHARE, PLAN_SHARE, Budget
from planner.decompose.candidates import Binaries, assemble, binaries_of, fix_binaries
from planner.decompose.tree import ph_tree
from planner.decompose.xhat import NestedPlan, nested_plan
from planner.diagnose import explain_infeasibility
from planner.errors import InputError, Issue, OutputError, SolverError
from planner.events import has_events, scenarios_table
from planner.io.writer import write_solution
from planner.loading import load as load  # re-exported: the API of old
from planner.loading import validate
from planner.model import ModelData, build_model, derive
from planner.model.parameters import VALUE
from planner.model.size import ModelSize, estimate, memory_limit
from planner.model.update import Rebound, Trail, kept_plan, noting, rebind, same_values
from planner.results import (
    COST_KEYS,
    DECIDED_LATER,
    PRICED_FAMILIES,
    Plan,
    activities_table,
    adoption_table,
    changes_table,
    china_against_caps,
    contracts_signed,
    contracts_table,
    cvar,
    duals_table,
    expected_china_shares,
    expected_shares,
    first_stage_fixed_cost,
    orders_table,
    purchases_table,
    read_plan,
    scenario_costs,
    shares_table,
    shortage_table,
    signings_table,
    spend_and_lost_value,
    stock_table,
)
from planner.solve import (
    HighsSession,
    SolveOptions,
    SolverReport,
    Status,
    check_highs_options,
    reset_threads,
)
from planner.verify import verify_plan
from planner.version import __version__

logger = logging.getLogger(__name__)


class Result(outcome.Result):
    """The outcome of a solve (see :class:`planner.outcome.Result`), writable as a workbook."""

    def write(self, path: str | Path) -> Path:
        """Write the solution workbook to ``path`` (atomically; never over the input).

        Raises
        ------
        OutputError
            For a sweep variant's result, which has no tables unless the
            sweep kept them (``planner.sweep(..., tables=True)``).
        """
        if self.has_plan and "Purchases" not in self.tables:
            raise OutputError(
                f"{path}: this result has only a sweep's figures, not the plan's tables; "
                "solve the variant, or sweep with tables=True, to write its solution workbook"
            )
        return write_solution(self, Path(path))


#: Largest seed HiGHS takes.
MAX_SEED = 2_147_483_647


def _number_problem(value: Any, low: float, strict: bool) -> str | None:
    """Say what is wrong with ``value`` as a finite number above ``low`` (None if nothing)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return f"must be a number, got {value!r}"
    number = float(value)
    if not math.isfinite(number) or (number <= low if strict else number < low):
        return f"must be a finite number {'>' if strict else '>='} {low:g}, got {value!r}"
    return None


def check_options(options: dict[str, Any]) -> None:
    """Check solve options before anything is solved.

    Raises
    ------
    TypeError
        For an option :func:`solve` does not know.
    ValueError
        For a value out of range: ``time_limit_s`` must be finite and > 0
        (no negative "no limit"), ``mip_gap`` finite and >= 0, ``threads``
        a whole number >= 1, ``seed`` a whole number from 0 to 2,147,483,647,
        ``ph_iterations`` a whole number >= 0.
    """
    unknown = set(options) - set(SolveOptions.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown solve option(s): {', '.join(sorted(unknown))}")
    problems = []
    for name, low, strict in (
        ("time_limit_s", 0.0, True),
        ("mip_gap", 0.0, False),
        ("max_model_mb", 0.0, True),
    ):
        value = options.get(name)
        problem = None if value is None else _number_problem(value, low, strict)
        if problem:
            problems.append(f"{name} {problem}")
    wholes = (("threads", 1, None), ("seed", 0, MAX_SEED), ("ph_iterations", 0, None))
    for name, low, high in wholes:
        value = options.get(name, low)
        if value is None and name == "ph_iterations":
            continue  # PH's own default
        whole = isinstance(value, int | np.integer) and not isinstance(value, bool)
        if not whole or value < low or (high is not None and value > high):
            limits = f"from {low} to {high:,}" if high is not None else f">= {low}"
            problems.append(f"{name} must be a whole number {limits}, got {value!r}")
    if problems:
        raise ValueError("; ".join(problems))


def _options(case: Case, overrides: dict[str, Any]) -> tuple[SolveOptions, float, float]:
    check_options(overrides)
    if "highs_options" in overrides:
        overrides = {**overrides, "highs_options": check_highs_options(overrides["highs_options"])}
    options = replace(SolveOptions(), **overrides)
    time_limit = (
        options.time_limit_s if options.time_limit_s is not None else case.settings.time_limit_s
    )
    gap = options.mip_gap if options.mip_gap is not None else case.settings.mip_gap
    issues = [
        Issue(case.source.settings_cells.get(key, f"Settings[{key}]"), f"{key} {problem}")
        for key, value, strict in (("time_limit_s", time_limit, True), ("mip_gap", gap, False))
        if (problem := _number_problem(value, 0.0, strict))
    ]
    if issues:
        raise InputError(issues, case.source.path)
    return options, float(time_limit), float(gap)


def solve(case: Case, **options: Any) -> Result:
    """Solve ``case``; never raises for a solver outcome, only for invalid input.

    Parameters
    ----------
    case
        A case from :func:`load`, possibly modified in Python (it is checked again).
    **options
        ``time_limit_s``, ``mip_gap`` (default: the case's Settings), ``threads``
        (default 1), ``seed`` (default 0), ``duals`` (default True),
        ``explain_infeasible`` (default True), ``first_plan`` (construct a first
        plan for HiGHS to start from: True, False, or None, the default, for
        models of a million nonzeros or more; see :mod:`planner.first_plan`),
        ``on_progress`` (a callable
        given the solver's figures now and then; its last call, with ``final``
        True, gives the plan written), ``highs_options`` (further
        HiGHS options by name, e.g. ``{"mip_max_nodes": 1000}``: limits that
        do not depend on the machine's speed, applied to every MIP solve of the
        call, an infeasible case's explanation included; a plan stopped by one
        has status ``time_limit``, with its gap, never ``optimal``),
        ``decompose`` (True: progressive hedging on mpi-sppy, the ``mpi``
        extra, in this process or across ``mpiexec``'s; False: one solve of
        the extensive form; default: the Settings key ``decompose``),
        ``ph_iterations`` (progressive hedging's most iterations after its
        iteration 0; default :data:`planner.decompose.ph.MAX_ITERATIONS`).

    Raises
    ------
    TypeError
        For an unknown option.
    ValueError
        For a ``highs_options`` entry HiGHS does not know or refuses, or one
        the planner sets itself (``threads``, ``time_limit``, ...).

    Returns
    -------
    Result
        Status, objective, summary and tables.
    """
    check_options(options)  # a Resolver's own arguments are not solve options
    return Resolver(keep_model=False, **options).solve(case)


def check_size(case: Case, data: ModelData, limit_mb: float | None = None) -> ModelSize:
    """Refuse a case whose model would not fit in memory, before it is built.

    Raises
    ------
    InputError
        At the Scenarios sheet (Events, where they make the scenarios), with the
        tree, the model's estimated rows, columns, nonzeros and memory, and the
        limit with where it comes from.
    """
    size = estimate(data)
    source = "max_model_mb (--max-model-mb)"
    if limit_mb is None:
        try:
            limit, source = memory_limit()
        except ValueError as error:
            raise InputError([Issue("PLANNER_MAX_MODEL_MB", str(error))]) from None
        source += "; raise it with --max-model-mb or PLANNER_MAX_MODEL_MB"
    else:
        limit = int(limit_mb)
    if size.memory_mb > limit:
        sheet = "Events" if has_events(case) else "Scenarios"  # where the tree comes from
        where = case.source.titles.get(sheet, sheet)
        raise InputError(
            [
                Issue(
                    where,
                    f"the model is too large to solve here: {size.describe()}, more than the "
                    f"limit of {limit:,} MB ({source}); use fewer scenarios or periods, or "
                    "merge scenarios that differ little",
                )
            ],
            case.source.path,
        )
    return size


class Resolver:
    """Solves one case after another, keeping the model between them.

    The first case is built and handed to HiGHS; a later case of the same
    shape (the same offers, windows, scenario tree and policy cells; values
    may differ) changes that model in place and is re-solved warm, starting
    from the previous plan. A case of another shape is built anew.
    ``result.report.extra["reused"]`` says which happened.

    ``keep_model=False`` (what :func:`solve` does) frees the model's rows
    and objective once HiGHS holds them, before the MIP starts: about two
    thirds of the Pyomo model's memory at the largest sizes. Every case is
    then built anew.

    ``full_tables=False`` (for sweeps) computes only what a sweep's row
    shows: the summary's costs, objective, China share and shortfall (no
    ``case_sha256``: the sweep's About has the base case's), and two tables:
    ``ExpectedShares`` (the expected China share of each element and TOTAL)
    and ``Contracts``; the plan is still checked.

    ``skip=True`` (for sweeps) does not re-solve a case whose changes provably
    keep the last optimal plan optimal (:func:`planner.model.update.kept_plan`:
    the feasible set only shrank and the plan still holds every changed row,
    or costs rose only where the plan buys nothing); its plan and bound are
    the last solve's, its figures worked out for the new case as after a solve.
    ``report.extra["resolved"]`` is False then, ``report.extra["kept"]`` says
    why. A plan within the gap stays within it: the last bound still bounds
    the new optimum. With ``duals`` the LP with the binaries fixed is solved
    again for the new case's duals.
    """

    def __init__(
        self,
        *,
        full_tables: bool = True,
        keep_model: bool = True,
        skip: bool = False,
        **options: Any,
    ) -> None:
        check_options(options)
        self.options = options
        self.full_tables = full_tables
        self.keep_model = keep_model
        self.skip = skip
        self.model: pyo.ConcreteModel | None = None
        self.session: HighsSession | None = None
        self.trail: Trail | None = None  # what the last in-place change changed, if skip
        #: changes made in place and not yet pushed to HiGHS (only a solve needs them there)
        self.pending: Rebound | None = None
        #: the last solve's report and gap target, while its optimal plan is in the model
        self.last: tuple[SolverReport, float] | None = None
        #: that plan, read off the model once: a variant that keeps it reads it from here
        self.plan: Plan | None = None
        #: the last sweep row's figures (full_tables=False): the data they were worked out
        #: from, the data fields they read, the figures and their ExpectedShares
        self.figures: tuple[ModelData, set[str], dict[str, Any], pd.DataFrame] | None = None

    def solve(self, case: Case, checked: bool = False) -> Result:
        """Solve ``case`` (see :func:`solve`), re-using the model when its shape allows.

        ``checked``: the case's checks have been run already, for example on
        a sweep's variant whose one changed value :func:`planner.checks.check_changes`
        decided, with the rest of the case checked at its loading; they are
        not run again (its summary counts the case's own warnings only).
        """
        solve_options, time_limit, gap = _options(case, self.options)
        # the Sweep sheet's variants are the loading's or a sweep's to check: a solve reads none
        warnings = [] if checked else _added(case, validate(case, sweep=False))
        data = derive(case)
        advice = _decompose_advice(data, time_limit)
        if _decompose(case, solve_options, advice):  # the extensive form only where it fits
            return _decomposed(case, data, solve_options, time_limit, gap, warnings)
        if advice:
            logger.warning(advice)
        check_size(case, data, solve_options.max_model_mb)
        reused = self._reuse(data)
        kept = self._kept(reused, gap)
        skipped = self._skipped(kept, case, data, solve_options, gap) if kept else None
        if skipped is None and reused and not self._push():
            reused = False  # HiGHS refused the changes (and is partly changed): build anew
        if not reused:
            failed = self._build(data, solve_options)
            if failed is not None:  # a solver outcome: a status, never an exception
                report = SolverReport(Status.ERROR, False, message=str(failed))
                summary = _base_summary(
                    case, data, report, solve_options, time_limit, gap, warnings, self.full_tables
                )
                summary["message"] = report.message
                return Result(
                    Status.ERROR, None, summary, {}, report, case, solve_warnings=warnings
                )
        model, session = self.model, self.session
        assert session is not None
        tables: dict[str, pd.DataFrame] = {}
        if skipped is not None:
            report, tables, figures = skipped
        else:
            logger.info("solving with HiGHS (time limit %g s, mip gap %g)", time_limit, gap)
            report, duals = _solve_proven(session, solve_options, time_limit, gap)
            logger.info("solver stopped: %s after %.2f s", report.status, report.seconds)
            report.extra["resolved"] = True
            self._settled(case, session, report, warnings)
        report.extra["reused"] = reused
        conflicts: list[Issue] = []
        if report.has_plan and skipped is None:
            self.plan = read_plan(model, data)
            try:
                tables, figures = self._figures_of(case, data, self.plan, duals, fresh=True)
            except SolverError as error:  # a solver outcome: a status, never an exception
                report.status, report.has_plan, report.message = Status.ERROR, False, str(error)
        self._remember(report, gap)
        summary = _base_summary(
            case, data, report, solve_options, time_limit, gap, warnings, self.full_tables
        )
        if report.has_plan:
            summary.update(figures)
            _agree(summary, report)
            summary = _planners_page(summary)
        elif report.status == Status.INFEASIBLE and solve_options.explain_infeasible:
            conflicts = explain_infeasibility(case, solve_options, time_limit)
        summary["message"] = report.message
        if report.has_plan:
            _report_final(solve_options, report)
        return Result(
            status=report.status,
            objective=report.objective,
            summary=summary,
            tables=tables,
            report=report,
            case=case,
            conflicts=conflicts,
            solve_warnings=warnings,
        )

    def _settled(
        self, case: Case, session: HighsSession, report: SolverReport, warnings: list[Issue]
    ) -> None:
        """Once HiGHS has given the plan and duals: note an unsettled LP; free HiGHS if single.

        A single solve (``keep_model=False``) closes the session, so that the
        tables and the workbook do not stack on HiGHS's memory (issue 24.4).
        """
        _note_unsettled(case, session, report, warnings)
        if not self.keep_model:
            session.close()

    def _remember(self, report: SolverReport, gap: float) -> None:
        """Keep the report and gap of an optimal plan (a later variant may keep it); else none."""
        self.last = (report, gap) if report.status == Status.OPTIMAL and report.has_plan else None
        if self.last is None:
            self.plan = None

    def _build(self, data: ModelData, options: SolveOptions) -> SolverError | None:
        """Build the model for ``data`` and hand it to HiGHS; the error if HiGHS refused it."""
        logger.info("building the model: %d scenario-tree nodes", len(data.nodes))
        self.model = build_model(data)
        self.pending = self.last = self.trail = self.plan = self.figures = None
        try:
            self.session = HighsSession(self.model, options)
        except SolverError as error:
            self.model = self.session = None
            return error
        if not self.keep_model:
            self.session.release_rows(PRICED_FAMILIES)
        return None

    def _reuse(self, data: ModelData) -> bool:
        """Change the kept model for ``data`` in place; False when it must be built anew."""
        self.trail = None
        if self.model is None or self.session is None or not self.keep_model:
            self.last = self.plan = None
            return False
        rebound = rebind(self.model, data, trail=self.skip and self.last is not None)
        if rebound is not None:
            logger.info("changed the model in place")
            self.trail = rebound.trail
            self.pending = rebound if self.pending is None else self.pending.then(rebound)
            return self.skip or self._push()  # skip: pushed when a solve needs it
        self.model = self.session = None
        self.pending = self.last = self.plan = None
        return False

    def _push(self) -> bool:
        """Push the changes made in place to HiGHS; False (model dropped) if it refused them."""
        pending, self.pending = self.pending, None
        if self.session is not None and (pending is None or self.session.sync(pending)):
            return True
        self.model = self.session = None
        self.last = self.trail = self.plan = None
        return False

    def _kept(self, reused: bool, gap: float) -> str | None:
        """Why the last optimal plan stays optimal for the case just set in place; None if not.

        Only a plan proven optimal within a gap no wider than this case's
        (the last solve's status ``optimal``), and only changes
        :func:`~planner.model.update.kept_plan` proves keep it.
        """
        if not (reused and self.skip and self.last is not None and self.trail is not None):
            return None
        if gap < self.last[1] or self.model is None:
            return None
        tolerance = float(
            self.options.get("highs_options", {}).get("primal_feasibility_tolerance", FEASIBILITY)
        )
        kept = kept_plan(self.model, self.trail, tolerance)
        if kept is not None:
            logger.info("the last plan stays optimal (%s): not solved again", kept)
        return kept

    def _skipped(
        self, kept: str | None, case: Case, data: ModelData, options: SolveOptions, gap: float
    ) -> tuple[SolverReport, dict[str, pd.DataFrame], dict[str, Any]] | None:
        """Return the report, tables and figures of the plan kept without a solve.

        The last report, its plan's figures worked out for ``case`` (and the
        duals of the LP with the binaries fixed, if asked for). None, to solve
        after all, if the plan fails the planner's check of the new case or
        its cost is not within ``gap`` of the last bound.

        The plan is the last one read (its variables did not move); with
        duals it is read again after their LP. A sweep row's figures that read
        no data the variant changed are the last row's (see :meth:`_figures_of`).
        """
        if options.duals and not self._push():  # the duals' LP is solved by HiGHS
            return None
        assert self.last is not None and self.session is not None and self.model is not None
        if self.plan is None:
            return None
        last = self.last[0]
        report = replace(
            last,
            seconds=0.0,
            extra={**last.extra, "resolved": False, "kept": kept, "highs_seconds": 0.0},
        )
        duals = self.session.duals(PRICED_FAMILIES) if options.duals else {}
        plan = read_plan(self.model, data) if options.duals else self.plan
        try:
            tables, figures = self._figures_of(case, data, plan, duals)
        except SolverError:  # the plan fails a check of the new case
            return None
        bound, objective = report.bound, float(figures["objective"])
        slack = (gap + PROOF_SLACK) * max(1.0, abs(objective))
        if bound is not None and math.isfinite(bound) and objective - bound > slack:
            return None
        return report, tables, figures

    def _figures_of(
        self,
        case: Case,
        data: ModelData,
        plan: Plan,
        duals: dict[tuple[str, Any], float],
        fresh: bool = False,
    ) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
        """Return the tables and figures of ``plan`` for ``case``, once it holds every rule.

        With full tables, all of them, worked out afresh. For a sweep's row
        (``full_tables`` False) the plan is checked against ``data`` every
        time, and its figures (costs, objective, shares) are the last row's
        when the plan is the same (not ``fresh`` from a solve) and none of
        the data fields they were worked out from changed: the same
        computation on the same numbers. A capacity or a cap moves no figure
        of a plan it keeps; a price does, and they are worked out again.
        """
        if self.full_tables or duals:
            self.figures = None
            return _plan_tables(case, data, plan, duals, self.full_tables)
        broken = verify_plan(plan, data)
        if broken:
            raise SolverError(_failed_check(broken))
        last = self.figures
        if not fresh and last is not None and same_values(last[0], data, last[1]):
            _, read, figures, overall = last
        else:
            reads = noting(data)  # stands in for data, noting the fields the figures read
            light, figures = _plan_tables(case, reads, plan, {}, False, checked=True)  # type: ignore[arg-type]
            overall, read = light["ExpectedShares"], set(reads.names)
        self.figures = (data, read, figures, overall)
        contracts = contracts_table(plan, data, case.offers)  # reads the case's offers too
        return {"ExpectedShares": overall, "Contracts": contracts}, dict(figures)


#: HiGHS's primal feasibility tolerance (its default): how far a plan may miss a row it holds.
FEASIBILITY = 1e-7

#: Relative slack on top of the gap when a written plan is compared with the solver's bound:
#: HiGHS's feasibility tolerance, the noise of an LP re-solve.
PROOF_SLACK = 1e-6


#: The LP with the binaries fixed may take what is left of the time limit, and at least this
#: share of it (and :data:`SETTLE_MIN_SECONDS`): at the largest size, the plan HiGHS found at
#: the limit took over an hour in that LP without a bound (issue 24)
SETTLE_SHARE = 0.25
SETTLE_MIN_SECONDS = 10.0


def settle_limit(time_limit: float | None, used: float) -> float | None:
    """Seconds the fixed-binaries LP may take after a MIP that took ``used`` of ``time_limit``."""
    if time_limit is None or not math.isfinite(time_limit) or time_limit <= 0:
        return None
    return max(time_limit - used, SETTLE_SHARE * time_limit, SETTLE_MIN_SECONDS)


def _settle(
    session: HighsSession,
    report: SolverReport,
    options: SolveOptions,
    time_limit: float | None = None,
) -> dict[Any, float]:
    """Fix the plan's binaries at their rounded values and solve the LP; its duals if wanted.

    Always, unless the solve was interrupted with whole binaries: the plan
    written is that LP's optimum, so a solve without duals (a sweep's variant)
    writes the same plan and objective as one with them (issue 23.7), and a
    binary that is not a whole number is rounded (and the plan re-solved for
    its purchases). Within :func:`settle_limit` of ``time_limit``: past it the
    plan written is the MIP's own, without duals (a warning says so).
    """
    interrupted = report.status == Status.INTERRUPTED
    if not report.has_plan or (interrupted and not session.fractional):
        return {}
    wanted = options.duals and not interrupted
    limit = settle_limit(time_limit, report.seconds)
    return session.duals(PRICED_FAMILIES if wanted else (), time_limit=limit)


def _added(case: Case, checked: list[Issue]) -> list[Issue]:
    """Keep the warnings of ``checked`` that the case's own (from its loading) do not hold.

    A loaded case's checks give its loading's warnings again; a case changed
    in Python since may give new ones. Each is counted and written once.
    """
    known = {(issue.where, issue.message) for issue in case.warnings}
    return [issue for issue in checked if (issue.where, issue.message) not in known]


def _note_unsettled(
    case: Case,
    session: HighsSession,
    report: SolverReport,
    warnings: list[Issue],
) -> None:
    """Say so (message and a warning) where the fixed-binaries LP stopped at its time limit."""
    if not (report.has_plan and session.fixed_timed_out):
        return
    note = (
        "the LP with the contract decisions fixed did not finish within "
        f"{session.fixed_time_limit or 0:.0f} s: the plan written is the "
        "solver's own, without duals (raise time_limit_s for them)"
    )
    report.message = f"{report.message}; {note}" if report.message else note
    cell = case.source.settings_cells.get("time_limit_s", "Settings[time_limit_s]")
    warnings.append(Issue(cell, note, severity="warning"))


def _reproduced(session: HighsSession, report: SolverReport, gap: float) -> bool:
    """Whether the plan with its binaries rounded is within the gap of the solver's bound."""
    written = session.fixed_objective if session.fixed_objective is not None else report.objective
    if written is None or report.bound is None or not math.isfinite(report.bound):
        return True
    return written - report.bound <= (gap + PROOF_SLACK) * max(1.0, abs(written))


def _solve_proven(
    session: HighsSession, options: SolveOptions, time_limit: float, gap: float
) -> tuple[SolverReport, dict[Any, float]]:
    """Solve; a plan called optimal is one whose rounded binaries reproduce its objective.

    HiGHS accepts a binary within 1e-6 of 0 as 0; times a large capacity that
    buys real quantities without the fixed cost. When the plan with its
    binaries rounded (the one written) is further from HiGHS's bound than the
    gap, the model is solved again, cold, at the integrality tolerance
    :data:`~planner.solve.STRICT_INTEGRALITY`, within what is left of the time
    limit. If that still does not reproduce it, the plan (which holds every
    rule: it is checked before it is written) is reported as ``unproven``
    with its true gap, never as ``optimal``. Re-solving first, rather than
    failing at once, is what a planner wants: the strict solve usually finds
    the optimum, and the honest status remains for when it does not.
    """
    report = session.solve(time_limit, gap)
    duals = _settle(session, report, options, time_limit)
    if report.status != Status.OPTIMAL or _reproduced(session, report, gap):
        return report, duals
    loose = session.fixed_objective
    logger.warning(
        "the plan with its contract decisions rounded costs %s, not the solver's %s: "
        "solving again at a strict integrality tolerance",
        loose,
        report.objective,
    )
    remaining = max(time_limit - report.seconds, 0.1 * time_limit)
    strict = session.solve(remaining, gap, strict=True)
    strict.seconds += report.seconds
    if strict.has_plan:
        report, duals = strict, _settle(session, strict, options, time_limit)
        if report.status != Status.OPTIMAL or _reproduced(session, report, gap):
            return report, duals
    known = (session.fixed_objective, loose, report.objective)
    written = next((float(value) for value in known if value is not None), math.nan)
    bound = float(report.bound) if report.bound is not None else math.nan
    report.status = Status.UNPROVEN
    report.message = (
        "not proven optimal: the solver counted contract decisions a hair above 0 as not "
        f"taken; with them rounded the plan costs {written:,.2f} against the solver's bound "
        f"{bound:,.2f}, also at a strict integrality tolerance. The plan written holds every "
        "rule; a capacity far above what the case can use (see the warnings) is the usual cause"
    )
    return report, duals


def _decomposed(
    case: Case,
    data: ModelData,
    options: SolveOptions,
    time_limit: float,
    gap: float,
    warnings: list[Issue],
) -> Result:
    """Solve by progressive hedging (:mod:`planner.decompose`), then write its best plan.

    PH's plans give the contract decisions (every binary, at every node); the
    extensive form with them fixed, an LP, gives every node's quantities and
    the duals, through the same checks and tables as a plain solve. The bound
    is PH's best (Lagrangian, or the wait-and-see bound); the status is
    ``optimal`` when the plan is within the gap of it, else ``time_limit``.
    Under MPI, the ranks other than 0 return a result without a plan (status
    ``interrupted``, ``report.extra["mpi_rank"]`` their rank): rank 0 writes.

    The time limit holds end to end on one :class:`~planner.decompose.budget.Budget`:
    PH until :data:`~planner.decompose.budget.PH_SHARE` of it (without the
    cylinders, N not a multiple of 3, it stops after iteration 0 when the plan
    decided down the tree from it is within the gap of the wait-and-see
    bound), the plan down the tree until
    :data:`~planner.decompose.budget.PLAN_SHARE` (the whole limit when the
    extensive form's LP does not follow), the extensive form's LP in
    the rest; each solve gets what is left of its stage. A stage that ran out
    is named in the message and a warning; with no plan from PH in time, the
    extensive form's own solve (its constructed first plan on a large case)
    gets what is left, where it fits.
    """
    missing = ph.available()
    if missing:
        raise InputError(
            [
                Issue(
                    "--decompose",
                    "needs the optional mpi extra (mpi-sppy, mpi4py, mpich): "
                    f'pip install "planner[mpi]" ({missing})',
                )
            ],
            case.source.path,
        )
    budget = Budget(time_limit)
    tree = ph_tree(data)
    logger.info(
        "progressive hedging: %d PH scenarios, %d stages, %d processes",
        len(tree.scenarios),
        tree.stages,
        ph.world_size(),
    )
    # the sub-problems to a quarter of the target gap: PH's bound takes their dual bounds
    sub_gap = max(ph.SUB_GAP, gap / 4)
    iterations = ph.MAX_ITERATIONS if options.ph_iterations is None else options.ph_iterations
    settings = ph.PhSettings(
        time_limit=time_limit,
        gap=gap,
        seed=options.seed,
        sub_gap=sub_gap,
        max_iterations=iterations,
    )
    plan_options = {"mip_rel_gap": sub_gap, "random_seed": options.seed}
    plans = _PlansDown(data, tree, budget, plan_options, gap, _extensive_form_fits(data, options))
    try:
        outcome = ph.run(data, tree, settings, budget, plans.after_iter0, plans.after_ph)
    except ValueError as error:
        raise InputError([Issue("mpiexec -n", str(error))], case.source.path) from None
    finally:
        reset_threads()  # PH's and the plans' sub-problems set HiGHS's thread pool their way
    if outcome is None:  # another rank: rank 0 writes the plan
        report = SolverReport(Status.INTERRUPTED, False, message="MPI rank other than 0")
        report.extra["mpi_rank"] = ph.world_rank()
        summary = _base_summary(case, data, report, options, time_limit, gap, warnings)
        return Result(Status.INTERRUPTED, None, summary, {}, report, case, solve_warnings=warnings)
    report, duals, plan, note = _decomposed_plan(data, tree, outcome, plans, options, budget, gap)
    report.seconds = budget.spent()
    # PH's bound, or the extensive form's own solve's where PH had no plan (both bounds)
    bounds = [b for b in (outcome.outer, report.bound) if b is not None and math.isfinite(b)]
    report.bound = max(bounds) if bounds else None
    report.extra.update(
        decomposed=True,
        ph_iterations=outcome.iterations,
        ph_processes=outcome.ranks,
        ph_cylinders=", ".join(outcome.cylinders),
        ph_scenarios=len(tree.scenarios),
        ph_stages=tree.stages,
    )
    tables: dict[str, pd.DataFrame] = {}
    figures: dict[str, Any] = {}
    if plan is not None:
        try:
            tables, figures = _plan_tables(case, data, plan, duals)
        except SolverError as error:
            report.status, report.has_plan, report.message = Status.ERROR, False, str(error)
    ran_out = _ran_out(case, budget, time_limit, warnings)
    summary = _base_summary(case, data, report, options, time_limit, gap, warnings)
    summary.update(
        ph_duals=bool(duals),
        ph_iterations=outcome.iterations,
        ph_processes=outcome.ranks,
        ph_scenarios=len(tree.scenarios),
        ph_stages=tree.stages,
    )
    if report.has_plan:
        summary.update(figures)
        _agree(summary, report)
        proven = report.gap is not None and report.gap <= gap + PROOF_SLACK
        report.status = Status.OPTIMAL if proven else Status.TIME_LIMIT
        summary["status"] = report.status
        capped = (
            f"; PH stopped at its most iterations ({settings.max_iterations}, ph_iterations)"
            if not proven and not outcome.enough and outcome.iterations >= settings.max_iterations
            else ""
        )
        report.message = (
            f"progressive hedging ({outcome.iterations} iterations after iteration 0 on "
            f"{outcome.ranks} process{'es' if outcome.ranks != 1 else ''}): plan within "
            f"{100 * float(report.gap or 0):.3g} % of its bound{capped}{note}{ran_out}"
        )
        summary = _planners_page(summary)
    elif report.status != Status.ERROR:
        report.message = f"progressive hedging found no plan{ran_out}"
    summary["message"] = report.message
    if report.has_plan:
        _report_final(options, report)
    return Result(
        report.status, report.objective, summary, tables, report, case, solve_warnings=warnings
    )


@dataclass
class _PlansDown:
    """The plans decided down the tree from PH's decisions (on every rank PH runs on).

    :meth:`after_iter0` is PH's check after its iteration 0: the plan from
    iteration 0's decisions, and whether it is within the gap of the
    wait-and-see bound (PH stops there). :meth:`after_ph` decides the plan
    from PH's last decisions, unless the same were tried already: with a
    plan, or without one in as large a share of the limit (a plan cut short
    at the plan's share after iteration 0 is tried again in the whole limit
    when the extensive form's LP does not follow). Each plan decided is kept
    in :attr:`found`.
    """

    data: ModelData
    tree: Any
    budget: Budget
    options: dict[str, Any]
    gap: float
    fits: bool  # the extensive form's LP follows (it gets the time from PLAN_SHARE on)
    found: list[NestedPlan] = field(default_factory=list)
    #: decisions tried -> the share of the limit they were tried in (inf: with a plan)
    tried: dict[bytes, float] = field(default_factory=dict)

    def after_iter0(self, opt: Any, solutions: dict[str, Plan], ranks: ph.Ranks) -> bool:
        """Decide the plan from iteration 0's decisions; True when it is within the gap."""
        if not ranks.everyone(self.budget.solve_limit(PH_SHARE) is not None):
            return False
        lent = ph.borrowed(opt, ranks)  # PH's own sub-models: none built again
        found = self._down(binaries_of(solutions, self.data, self.tree), PLAN_SHARE, ranks, lent)
        if found is None:
            return False
        bound = float(opt.trivial_bound)
        return found.objective - bound <= self.gap * max(1.0, abs(found.objective))

    def after_ph(self, candidates: list[Binaries], ranks: ph.Ranks) -> None:
        """Decide the plan from PH's last decisions (its best candidate).

        Inside :func:`ph.run`, whose caller sets HiGHS's threads back after it.
        """
        self._down(candidates[0] if candidates else None, PLAN_SHARE if self.fits else 1.0, ranks)

    def _down(
        self,
        binaries: Binaries | None,
        share: float,
        ranks: ph.Ranks,
        lent: ph.Borrowed | None = None,
    ) -> NestedPlan | None:
        # the same record on every rank (nested_plan's plan, or None, is the same on each)
        key = binaries.key() if binaries is not None else None
        if key is not None and self.tried.get(key, -math.inf) >= share:
            return None
        found = nested_plan(
            self.data, self.tree, binaries, self.options, self.budget, share, ranks, lent
        )
        if key is not None:
            self.tried[key] = math.inf if found is not None else share
        if found is not None:
            self.found.append(found)
        return found


def _decomposed_plan(
    data: ModelData,
    tree: Any,
    outcome: ph.PhOutcome,
    plans: _PlansDown,
    options: SolveOptions,
    budget: Budget,
    gap: float,
) -> tuple[SolverReport, dict[tuple[str, Any], float], Plan | None, str]:
    """Find the plan: the best down the tree, then by the extensive form's LP where it fits.

    Returns the report, the duals, the plan (None: none in time) and a note
    for the message.
    """
    fits = plans.fits
    nested = min(plans.found, key=lambda plan: plan.objective, default=None)
    pieces = nested.pieces if nested is not None else None
    report = SolverReport(Status.TIME_LIMIT, False, message="progressive hedging found no plan")
    duals: dict[tuple[str, Any], float] = {}
    plan: Plan | None = None
    note = ""
    if fits:
        binaries = binaries_of(pieces, data, tree) if pieces is not None else None
        candidates = _distinct([binaries, *outcome.candidates])
        report, duals, plan = _fixed_extensive_form(data, candidates, options, budget, gap)
    if plan is None and pieces is not None:
        plan = assemble(pieces, data, tree)
        report = SolverReport(Status.TIME_LIMIT, True)
        why = (
            "its LP ran out of time"
            if fits
            else f"the extensive form ({estimate(data).describe()}) is too large for its LP here"
        )
        note = f"; duals left out: {why}, the plan is PH's, solved scenario by scenario"
        logger.warning(note[2:])
    return report, duals, plan, note


def _ran_out(case: Case, budget: Budget, time_limit: float, warnings: list[Issue]) -> str:
    """Name the stages of a decomposed solve that ran out of time (a warning); "" if none."""
    if not budget.spent_in:
        return ""
    note = (
        f"{', '.join(budget.spent_in)} ran out of the time limit ({time_limit:g} s in all, "
        f"{budget.spent():.1f} s used): raise time_limit_s for a better plan and bound"
    )
    cell = case.source.settings_cells.get("time_limit_s", "Settings[time_limit_s]")
    warnings.append(Issue(cell, note, severity="warning"))
    logger.warning(note)
    return f"; {note}"


#: Nonzeros of the extensive form HiGHS gets through per second of time limit, roughly
#: (benchmarks/results.md: the large size, 1.8 million, solved in 32 s; the largest, 6.7
#: million, found no plan in 300 s): above it the extensive form is unlikely to solve.
EF_NONZEROS_PER_SECOND = 20_000


def _decompose_advice(data: ModelData, time_limit: float) -> str | None:
    """Return a warning when the extensive form is unlikely to solve within ``time_limit`` s."""
    size = estimate(data)
    if size.nonzeros <= EF_NONZEROS_PER_SECOND * time_limit:
        return None
    return (
        f"the extensive form ({size.describe()}) is unlikely to solve within "
        f"{time_limit:g} s (a first plan is constructed for it; its gap may stay wide); "
        "progressive hedging over the scenarios may do better, on every core or a "
        "cluster's hosts: mpiexec -n N planner solve --decompose "
        '(pip install "planner[mpi]"; benchmarks/README.md, "Decomposition", compares the '
        "two at the largest benchmark size)"
    )


def _decompose(case: Case, options: SolveOptions, advice: str | None) -> bool:
    """Whether to decompose: the option, else Settings ``decompose`` (auto: on ``advice``)."""
    if options.decompose is not None:
        return bool(options.decompose)
    mode = case.settings.decompose
    return mode == "yes" or (mode == "auto" and advice is not None and ph.available() is None)


#: The largest extensive form (estimated nonzeros) whose LP with PH's contract decisions
#: fixed gives the decomposed plan and its duals. Above it the plan is PH's own, solved
#: scenario by scenario, without duals: building the largest generated size (6.7
#: million nonzeros) takes a minute and its hand-off half a minute before the LP starts.
DECOMPOSE_EF_NONZEROS = 2_000_000


def _fixed_extensive_form(
    data: ModelData,
    candidates: list[Binaries],
    options: SolveOptions,
    budget: Budget,
    gap: float,
) -> tuple[SolverReport, dict[tuple[str, Any], float], Plan | None]:
    """Solve the extensive form with each candidate's binaries fixed; the best plan, its duals.

    Each solve within what is left of ``budget``; none started once it is
    spent (the stage is recorded as out of time). Without any candidate, the
    extensive form's own solve in what is left (a plain solve: its bound is a
    bound, its constructed first plan a plan on a large case).
    """
    stage = "the extensive form's LP"
    report = SolverReport(Status.TIME_LIMIT, False, message="progressive hedging found no plan")
    duals: dict[tuple[str, Any], float] = {}
    if budget.solve_limit() is None:
        budget.ran_out(stage)
        return report, duals, None
    model = build_model(data)
    best: tuple[float, int] | None = None
    last = -1  # the candidate whose plan the model holds
    for index, candidate in enumerate(candidates):
        limit = budget.solve_limit()
        if limit is None:
            budget.ran_out(stage)
            break
        last = index
        fix_binaries(model, data, candidate)
        session = HighsSession(model, options)
        report, duals = _solve_proven(session, options, limit, gap)
        found = report.has_plan and report.objective is not None
        if found and (best is None or float(report.objective or 0.0) < best[0]):
            best = (float(report.objective or 0.0), index)
    if not candidates and (limit := budget.solve_limit()) is not None:
        report, duals = _solve_proven(HighsSession(model, options), options, limit, gap)
        if report.status == Status.TIME_LIMIT:
            budget.ran_out("the extensive form's solve")
        return report, duals, read_plan(model, data) if report.has_plan else None
    if best is not None and best[1] != last:  # load the best plan again
        limit = budget.solve_limit()
        if limit is None:  # no time to load it again: no plan from the LP
            budget.ran_out(stage)
            return report, {}, None
        fix_binaries(model, data, candidates[best[1]])
        session = HighsSession(model, options)
        report, duals = _solve_proven(session, options, limit, gap)
    report.bound = None  # the LP's optimum with the binaries fixed bounds nothing
    if best is None or not report.has_plan:
        return report, duals, None
    return report, duals, read_plan(model, data)


def _extensive_form_fits(data: ModelData, options: SolveOptions) -> bool:
    """Whether the decomposed plan is re-solved on the extensive form (for its duals)."""
    size = estimate(data)
    if options.max_model_mb is not None:
        limit = float(options.max_model_mb)
    else:
        try:
            limit = float(memory_limit()[0])
        except ValueError:
            return False
    return size.memory_mb <= limit and size.nonzeros <= DECOMPOSE_EF_NONZEROS


def _distinct(candidates: list[Binaries | None]) -> list[Binaries]:
    """Return the candidates, each once, in order."""
    found: dict[bytes, Binaries] = {}
    for candidate in candidates:
        if candidate is not None:
            found.setdefault(candidate.key(), candidate)
    return list(found.values())


def _base_summary(
    case: Case,
    data: ModelData,
    report: SolverReport,
    options: SolveOptions,
    time_limit: float,
    gap: float,
    warnings: list[Issue],
    hashed: bool = True,
) -> dict[str, Any]:

    summary: dict[str, Any] = {
        "status": report.status,
        "spend": None,
        "lost_value": None,
        "objective": report.objective,
        "expected_cost": None,
        "risk_premium": None,
        "cvar": None,
        **dict.fromkeys(COST_KEYS),
        "mip_gap": report.gap,
        "solve_seconds": round(report.seconds, 3),
        "planner_version": __version__,
        "input_sha256": case.source.sha256 or case.content_sha256(),
        **({"case_sha256": case.content_sha256()} if hashed else {}),  # not per sweep variant
        "input_file": Path(case.source.path).name if case.source.path else "",
        "currency": case.settings.currency,
        "unit": case.settings.unit,
        "china_basis": case.settings.china_basis,
        "cvar_alpha": case.settings.cvar_alpha,
        "cvar_weight": case.settings.cvar_weight,
        "bound": report.bound,
        "mip_gap_target": gap,
        "time_limit_s": time_limit,
        "threads": options.threads,
        "seed": options.seed,
        "solver": report.solver_version,
        "scenarios": len(data.scenarios),
        "tree_nodes": len(data.nodes),
        "rows": report.rows,
        "columns": report.columns,
        "nonzeros": report.nonzeros,
        "warnings": len(case.warnings) + len(warnings),
    }
    return summary


def _tables(
    case: Case,
    data: ModelData,
    model: pyo.ConcreteModel,
    duals: dict[tuple[str, Any], float],
    full: bool = True,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Read the plan ``model`` holds into its tables and figures (benchmarks.run times it)."""
    return _plan_tables(case, data, read_plan(model, data), duals, full)


def _failed_check(broken: list[str]) -> str:
    """Say that the solver's plan fails the planner's own check, and how."""
    return (
        f"the solver's plan fails the planner's own check ({len(broken)} problem"
        f"{'s' if len(broken) != 1 else ''}: {'; '.join(broken[:5])}); nothing is written"
    )


def _plan_tables(
    case: Case,
    data: ModelData,
    plan: Plan,
    duals: dict[tuple[str, Any], float],
    full: bool = True,
    checked: bool = False,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Return the tables and figures of ``plan``, once it holds every rule (:func:`verify_plan`).

    ``checked``: the plan was checked against ``data`` already.
    """
    broken = [] if checked else verify_plan(plan, data)
    if broken:
        raise SolverError(_failed_check(broken))
    costs = scenario_costs(plan, data)
    probability = costs["probability"].to_numpy()
    expected = {key: float(probability @ costs[key].to_numpy()) for key in COST_KEYS}
    scenario_cost = costs["scenario_cost"].to_numpy()
    fixed = first_stage_fixed_cost(plan, data)  # F; later signings are in scenario_cost
    if full:
        shares = shares_table(plan, data)
        weights = pd.Series(probability, index=data.scenarios)
        overall = expected_shares(shares, weights, data.china_basis)
    else:
        overall = expected_china_shares(plan, data)  # the same figures, without the table
    china_share = overall.loc[overall["element"] == "TOTAL", "china_share"].to_numpy()
    shortage_expected = float(np.einsum("etw,w->", plan.unmet, probability))
    expected_cost = fixed + float(probability @ scenario_cost)
    tail = cvar(fixed, scenario_cost, probability, data.cvar_alpha)
    # the objective of the plan that is written (formulation A7)
    objective = (1 - data.cvar_weight) * expected_cost + data.cvar_weight * tail
    figures: dict[str, Any] = {
        **spend_and_lost_value(expected, expected_cost, objective, data.cvar_weight),
        "expected_cost": expected_cost,
        "cvar": tail,
        **expected,
        "china_share": float(china_share[0]),
        "shortfall": shortage_expected,
        "objective": objective,
    }
    if not full:  # what a sweep's row shows
        light = {"ExpectedShares": overall, "Contracts": contracts_table(plan, data, case.offers)}
        return light, figures
    tables = {
        "Purchases": purchases_table(plan, data, case.offers),
        "Contracts": contracts_table(plan, data, case.offers),
        "Activities": activities_table(plan, data),
        "Adoption": adoption_table(plan, data, case.activities),
        "Stock": stock_table(plan, data),
        "Shortage": shortage_table(plan, data),
        "Shares": shares,
        "Duals": duals_table(data, plan, duals),
        "ScenarioCosts": costs.reset_index(),
    }
    signings = signings_table(plan, data) if data.offer_later.any() else None
    if signings is not None:
        tables["Signings"] = signings
    if data.previous_offers.any():
        tables["Changes"] = changes_table(plan, data)
    if has_events(case):  # the scenarios the Events made (B4)
        tables["Scenarios"] = scenarios_table(case)
    orders = orders_table(tables["Purchases"], tables["Contracts"], signings, data.periods[0])
    tables = {"Orders": orders, **tables}  # second in the workbook, after Summary
    figures = {
        **figures,
        **_headroom(shares),
        **{
            f"shortfall_{element}": float(value)
            for element, value in zip(
                data.elements, np.einsum("etw,w->e", plan.unmet, probability), strict=True
            )
        },
        "orders_now": int((orders["action"] == "buy").sum()),
        "orders_now_cost": float(orders.loc[orders["action"] == "buy", "cost"].sum()),
        "contracts_to_sign_now": int((orders["action"] == "sign now").sum()),
        "orders_decided_later": int((orders["block"] == DECIDED_LATER).sum()),
        "contracted_offers": int(contracts_signed(plan, data).sum()),
        "adopted_activities": int(plan.adopt.sum()),
    }
    return tables, figures


def _headroom(shares: pd.DataFrame) -> dict[str, Any]:
    """Return the China cap with the least headroom, on any basis, period by period."""
    caps = china_against_caps(shares)
    if caps.empty:
        return {"china_cap_tightest": None}
    tightest = caps.iloc[int(np.argmin(caps["headroom"].to_numpy()))]
    return {
        "china_cap_tightest": float(tightest["china_cap"]),
        "china_share_at_tightest": float(tightest["highest"]),
        "china_tightest_where": (
            f"{tightest['element']}, {tightest['period']}, basis {tightest['basis']}"
            + (" (by value)" if tightest["measure"] == VALUE else "")
        ),
        "china_headroom": float(tightest["headroom"]),
        "china_cap_breaches": int(caps["breach"].sum()),
    }


#: The Summary's sections, in order: what a planner reads first, then costs, then the rest.
PLANNER_KEYS = (
    "status",
    "spend",
    "lost_value",
    "shortfall",
    "china_share",
    "china_cap_tightest",
    "china_share_at_tightest",
    "china_tightest_where",
    "china_headroom",
    "china_cap_breaches",
    "orders_now",
    "orders_now_cost",
    "contracts_to_sign_now",
    "orders_decided_later",
)
COST_SECTION = (
    "expected_cost",
    "objective",
    "risk_premium",
    "cvar",
    *COST_KEYS,
    "mip_gap",
    "bound",
)


def _planners_page(summary: dict[str, Any]) -> dict[str, Any]:
    """Order the Summary: planner's figures (shortfall per element after the total), costs, rest."""
    first = [k for k in PLANNER_KEYS if k in summary]
    at = first.index("shortfall") + 1 if "shortfall" in first else len(first)
    first[at:at] = [k for k in summary if k.startswith("shortfall_")]
    costs = [k for k in COST_SECTION if k in summary and k not in first]
    rest = [k for k in summary if k not in first and k not in costs]
    return {key: summary[key] for key in [*first, *costs, *rest]}


def _report_final(options: SolveOptions, report: SolverReport) -> None:
    """Give ``on_progress`` the plan that is written, last (``final``: True).

    HiGHS's own reports carry its incumbent; the plan written may improve on
    it (the LP with the binaries fixed), so the last figures a progress
    display shows are the final plan's.
    """
    if options.on_progress is None:
        return
    try:
        options.on_progress(
            {
                "seconds": report.seconds,
                "best": report.objective,
                "bound": report.bound,
                "gap": report.gap,
                "final": True,
            }
        )
    except Exception:  # a progress display must never cost the plan
        logger.exception("progress report failed")


def _agree(summary: dict[str, Any], report: SolverReport) -> None:
    """Make the objective and gap describe the written plan (formulation A7).

    The plan written is the one last loaded: the solver's incumbent, or the
    duals' LP with the binaries fixed when it improved on it. Its objective is
    computed from the plan; the gap is measured from the solver's bound.
    """
    objective = float(summary["objective"])
    bound = report.bound
    if bound is not None and math.isfinite(bound):
        summary["mip_gap"] = max(0.0, objective - bound) / max(1.0, abs(objective))
    report.objective = objective
    report.gap = summary["mip_gap"]
