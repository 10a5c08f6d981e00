"""The Python API: load a workbook, solve a case, get pandas tables back."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.data import Case
from planner.errors import InputError, Issue, SolverError
from planner.io.limits import ReaderLimits
from planner.io.reader import read_workbook
from planner.model import build_model, derive
from planner.model.update import rebind
from planner.results import (
    COST_KEYS,
    activities_table,
    adoption_table,
    by_scenario,
    changes_table,
    contracts_signed,
    contracts_table,
    cvar,
    duals_table,
    expected_shares,
    first_stage_fixed_cost,
    priced_constraints,
    purchases_table,
    read_plan,
    scenario_costs,
    shares_table,
    shortage_table,
    signings_table,
    stock_table,
)
from planner.solve import INFEASIBLE, INTERRUPTED, HighsSession, SolveOptions, SolverReport
from planner.validate import check_case, merge_issues, parse_workbook
from planner.verify import verify_plan

logger = logging.getLogger(__name__)


def load(path: str | Path, limits: ReaderLimits | None = None) -> Case:
    """Read and validate an input workbook.

    Parameters
    ----------
    path
        An ``.xlsx`` (or ``.xlsm``) workbook following ``spec/workbook.md``.
    limits
        Bounds on the workbook (default: ``ReaderLimits.from_environment()``).

    Returns
    -------
    Case
        The validated case; its ``warnings`` list what was ignored or assumed.

    Raises
    ------
    InputError
        With every problem of the workbook, each as ``Sheet!CELL: message``.
    """
    raw = read_workbook(path, limits)
    case, parsed = parse_workbook(raw)
    issues = merge_issues(parsed, check_case(case))
    if any(issue.severity == "error" for issue in issues):
        raise InputError(issues, str(path))
    case.warnings = [issue for issue in issues if issue.severity != "error"]
    return case


def validate(case: Case) -> list[Issue]:
    """Check a case (for example one modified in Python) and return its warnings.

    Raises
    ------
    InputError
        With every problem found.
    """
    issues = check_case(case)
    if any(issue.severity == "error" for issue in issues):
        raise InputError(issues, case.source.path)
    return [issue for issue in issues if issue.severity != "error"]


@dataclass
class Result:
    """The outcome of a solve: status, objective, summary and every output table.

    Attributes
    ----------
    status
        ``optimal``, ``time_limit``, ``infeasible``, ``interrupted`` or ``error``.
    objective
        The model objective (``None`` without a plan).
    summary
        Key figures, as in the Summary sheet.
    tables
        ``Purchases``, ``Contracts``, ``Activities``, ``Adoption``, ``Stock``,
        ``Shortage``, ``Shares``, ``Duals`` and ``ScenarioCosts`` as DataFrames
        (empty without a plan); ``Signings`` when the case has later offers,
        ``Changes`` when it has a PreviousPlan.
    conflicts
        For an infeasible case: the rules that conflict, in workbook terms.
    """

    status: str
    objective: float | None
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    report: SolverReport
    case: Case
    conflicts: list[Issue] = field(default_factory=list)

    @property
    def has_plan(self) -> bool:
        """True when a feasible plan was found (optimal or not)."""
        return self.report.has_plan

    def __getattr__(self, name: str) -> pd.DataFrame:
        """Tables as attributes: ``result.purchases``, ``result.shares``, ..."""
        tables = self.__dict__.get("tables", {})
        for key, table in tables.items():
            if key.lower() == name.replace("_", "").lower():
                return table
        raise AttributeError(name)

    def _repr_html_(self) -> str:
        """Show the key figures as a table in Jupyter."""
        keys = (
            "status",
            "objective",
            "expected_cost",
            "cvar",
            "china_share",
            "shortfall",
            "contracted_offers",
            "mip_gap",
            "solve_seconds",
            "message",
        )
        frame = pd.DataFrame(
            {
                "key": [k for k in keys if k in self.summary],
                "value": [self.summary[k] for k in keys if k in self.summary],
            }
        )
        return str(frame.to_html(index=False))

    def by_scenario(self, name: str) -> pd.DataFrame:
        """Return table ``name`` (per tree node) with one row per scenario instead.

        For example ``result.by_scenario("Stock")``: each node's row repeated
        for every scenario that passes through it, with a ``scenario`` column.
        """
        return by_scenario(self.tables[name], [str(w) for w in self.case.scenarios.index])

    def summary_frame(self) -> pd.DataFrame:
        """Return the Summary as a two-column table (``key``, ``value``)."""
        return pd.DataFrame({"key": list(self.summary), "value": list(self.summary.values())})

    def write(self, path: str | Path) -> Path:
        """Write the solution workbook to ``path`` (atomically; never over the input)."""
        from planner.io.writer import write_solution

        return write_solution(self, Path(path))


def _options(case: Case, overrides: dict[str, Any]) -> tuple[SolveOptions, float, float]:
    known = {f for f in SolveOptions.__dataclass_fields__}
    unknown = set(overrides) - known
    if unknown:
        raise TypeError(f"unknown solve option(s): {', '.join(sorted(unknown))}")
    options = replace(SolveOptions(), **overrides)
    time_limit = (
        options.time_limit_s if options.time_limit_s is not None else case.settings.time_limit_s
    )
    gap = options.mip_gap if options.mip_gap is not None else case.settings.mip_gap
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
        ``explain_infeasible`` (default True).

    Returns
    -------
    Result
        Status, objective, summary and tables.
    """
    return Resolver(**options).solve(case)


class Resolver:
    """Solves one case after another, keeping the model between them.

    The first case is built and handed to HiGHS; a later case of the same
    shape (the same offers, windows, scenario tree and policy cells; values
    may differ) changes that model in place and is re-solved warm, starting
    from the previous plan. A case of another shape is built anew.
    ``result.report.extra["reused"]`` says which happened.
    """

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.model: Any = None
        self.session: HighsSession | None = None

    def solve(self, case: Case) -> Result:
        """Solve ``case`` (see :func:`solve`), re-using the model when its shape allows."""
        solve_options, time_limit, gap = _options(case, self.options)
        warnings = validate(case)
        data = derive(case)
        reused = self._reuse(data)
        if not reused:
            logger.info("building the model: %d scenario-tree nodes", len(data.nodes))
            self.model = build_model(data)
            self.session = HighsSession(self.model, solve_options)
        model, session = self.model, self.session
        assert session is not None
        logger.info("solving with HiGHS (time limit %g s, mip gap %g)", time_limit, gap)
        report = session.solve(time_limit, gap)
        report.extra["reused"] = reused
        logger.info("solver stopped: %s after %.2f s", report.status, report.seconds)
        conflicts: list[Issue] = []
        tables: dict[str, pd.DataFrame] = {}
        summary = _base_summary(case, data, report, solve_options, time_limit, gap, warnings)
        if report.has_plan:
            wanted = solve_options.duals and report.status != INTERRUPTED
            duals = session.duals(priced_constraints(model)) if wanted else {}
            tables, figures = _tables(case, data, model, duals)
            summary.update(figures)
            _agree(summary, report)
        elif report.status == INFEASIBLE and solve_options.explain_infeasible:
            from planner.diagnose import explain_infeasibility

            conflicts = explain_infeasibility(case, solve_options, time_limit)
        summary["message"] = report.message
        return Result(
            status=report.status,
            objective=report.objective,
            summary=summary,
            tables=tables,
            report=report,
            case=case,
            conflicts=conflicts,
        )

    def _reuse(self, data: Any) -> bool:
        """Change the kept model for ``data`` in place; False when it must be built anew."""
        if self.model is None or self.session is None:
            return False
        rebound = rebind(self.model, data)
        if rebound is not None and self.session.sync(rebound):
            logger.info("changed the model in place")
            return True
        self.model = self.session = None
        return False


def _base_summary(
    case: Case,
    data: Any,
    report: SolverReport,
    options: SolveOptions,
    time_limit: float,
    gap: float,
    warnings: list[Issue],
) -> dict[str, Any]:
    from planner import __version__

    summary: dict[str, Any] = {
        "status": report.status,
        "objective": report.objective,
        "expected_cost": None,
        "cvar": None,
        **dict.fromkeys(COST_KEYS),
        "mip_gap": report.gap,
        "solve_seconds": round(report.seconds, 3),
        "planner_version": __version__,
        "input_sha256": case.source.sha256 or case.content_sha256(),
        "case_sha256": case.content_sha256(),
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
    case: Case, data: Any, model: Any, duals: dict[Any, float]
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    plan = read_plan(model, data)
    broken = verify_plan(plan, data)
    if broken:
        raise SolverError(
            f"the solver's plan fails the planner's own check ({len(broken)} problem"
            f"{'s' if len(broken) != 1 else ''}: {'; '.join(broken[:5])}); nothing is written"
        )
    costs = scenario_costs(plan, data)
    probability = costs["probability"].to_numpy()
    expected = {key: float(probability @ costs[key].to_numpy()) for key in COST_KEYS}
    scenario_cost = costs["scenario_cost"].to_numpy()
    # F alone: the fixed_cost column also holds the scenario's later signings, which
    # scenario_cost already counts
    fixed = first_stage_fixed_cost(plan, data)
    shares = shares_table(plan, data)
    weights = pd.Series(probability, index=data.scenarios)
    overall = expected_shares(shares, weights, data.china_basis)
    china_share = overall.loc[overall["element"] == "TOTAL", "china_share"].to_numpy()
    shortage_expected = float(np.einsum("etw,w->", plan.unmet, probability))
    tables = {
        "Purchases": purchases_table(plan, data, case.offers),
        "Contracts": contracts_table(plan, data, case.offers),
        "Activities": activities_table(plan, data),
        "Adoption": adoption_table(plan, data, case.activities),
        "Stock": stock_table(plan, data),
        "Shortage": shortage_table(plan, data),
        "Shares": shares,
        "Duals": duals_table(model, data, plan, duals),
        "ScenarioCosts": costs.reset_index(),
    }
    if data.offer_later.any():
        tables["Signings"] = signings_table(plan, data)
    if data.previous_offers.any():
        tables["Changes"] = changes_table(plan, data)
    expected_cost = fixed + float(probability @ scenario_cost)
    tail = cvar(fixed, scenario_cost, probability, data.cvar_alpha)
    figures: dict[str, Any] = {
        "expected_cost": expected_cost,
        "cvar": tail,
        **expected,
        "china_share": float(china_share[0]),
        "shortfall": shortage_expected,
        "contracted_offers": int(contracts_signed(plan, data).sum()),
        "adopted_activities": int(plan.adopt.sum()),
        # the objective of the plan that is written (formulation A7)
        "objective": (1 - data.cvar_weight) * expected_cost + data.cvar_weight * tail,
    }
    return tables, figures


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
