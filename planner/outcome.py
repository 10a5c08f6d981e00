"""What a solve and a sweep give back: the result objects, below the writers.

:class:`Result` and :class:`SweepResult` hold the tables and key figures
(computed in :mod:`planner.results`); the workbook writers in
:mod:`planner.io` lay them out, and :mod:`planner.api` / :mod:`planner.sweep`
add ``write`` on top, so nothing here reaches up to the writers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from planner.data import Case
from planner.errors import Issue
from planner.events import scenario_probability
from planner.results import by_scenario, expected
from planner.solve import SolverReport, Status


@dataclass
class Result:
    """The outcome of a solve: status, objective, summary and every output table.

    Attributes
    ----------
    status
        ``optimal``, ``time_limit``, ``unproven``, ``infeasible``, ``interrupted``
        or ``error``. ``time_limit`` means stopped by a limit before optimality
        was proven: the time limit, or a limit passed in ``highs_options``.
        ``unproven``: a plan that holds every rule, but whose contract decisions,
        rounded as written, do not reproduce the solver's objective even at a
        strict integrality tolerance (``summary["message"]`` says so, with the
        true gap in ``mip_gap``).
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
    solve_warnings
        Warnings the solve added to the case's own (``case.warnings``): the
        checks of a case changed in Python since it was loaded, a stage that
        ran out of its time. :attr:`warnings` lists both.
    """

    status: Status
    objective: float | None
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    report: SolverReport
    case: Case
    conflicts: list[Issue] = field(default_factory=list)
    solve_warnings: list[Issue] = field(default_factory=list)

    @property
    def warnings(self) -> list[Issue]:
        """Every warning of the solve: the case's own, then those the solve added."""
        return [*self.case.warnings, *self.solve_warnings]

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
        return by_scenario(
            self.tables[name], [str(w) for w in scenario_probability(self.case).index]
        )

    def summary_frame(self) -> pd.DataFrame:
        """Return the Summary as a two-column table (``key``, ``value``)."""
        return pd.DataFrame({"key": list(self.summary), "value": list(self.summary.values())})


def expected_stock(
    stock: pd.DataFrame, probability: pd.Series, by: tuple[str, str] = ("period", "element")
) -> pd.DataFrame:
    """Return the expected (probability-weighted) stock and cover target, grouped ``by``.

    One figure for the workbook's cover chart and the web page's.
    """
    keys = list(by)
    return expected(stock, probability, keys, "stock").merge(
        expected(stock, probability, keys, "target"), on=keys
    )


@dataclass
class SweepResult:
    """The sweep's tidy table (one row per variant) and each variant's full result."""

    table: pd.DataFrame
    results: list[Result] = field(default_factory=list)  # each variant's, in table order
    about: dict[str, Any] = field(default_factory=dict)  # version, input hash, changes, solver
    #: where a change does not decide what it names (a row not changed still overrides it)
    warnings: list[str] = field(default_factory=list)
    #: the names of the changes, in the order of the table's first columns
    changes: list[str] = field(default_factory=list)
    #: the trade-off chart as PNG bytes, once drawn (for the workbook and the page)
    _picture: bytes | None = field(default=None, repr=False, compare=False)

    def _repr_html_(self) -> str:
        """Show the table in Jupyter."""
        return str(self.table.to_html(index=False, float_format=lambda v: f"{v:,.4g}"))
