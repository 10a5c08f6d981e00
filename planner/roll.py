"""Roll a plan forward one quarter: the next input workbook from the last input and its plan.

:func:`plan_roll` is pure: from the last input (a validated :class:`Case`)
and the tables of its solution workbook it works out what the next quarter's
workbook holds (the period dropped and the one appended, the stock on hand,
the contracts signed, the firm orders and the previous plan). :func:`roll`
reads both workbooks (through the bounded reader), applies that to a copy of
the last input made with openpyxl (formats and data validation kept) and
writes it atomically (models/sourcing/formulation.md A5; README, "Using it").

"Shared" means: at a scenario-tree node that holds every scenario still
possible. Without ``scenario`` that is every scenario (``scenarios = all``);
with it, the scenarios of the first-period node it names (the others can no
longer happen and are dropped from the next workbook).

"Contracted by the last plan": an offer already contracted in the last input
(Contracts ``already_contracted = 1``), a ``now`` offer the plan signs
(``contracted = 1``), or a ``later`` offer signed at the carried first-period
node (a Signings row of that node). Later offers the plan would sign only in
later periods are not signed yet and stay open. Orders on offers that are not
contracted go to PreviousPlan but never to Commitments (a firm order needs a
contract).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from copy import copy
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from planner.api import load
from planner.data import Case
from planner.errors import InputError, Issue
from planner.events import (
    NotIndependent,
    condition,
    has_events,
    scenario_named,
    scenario_probability,
)
from planner.io.limits import ReaderLimits
from planner.io.reader import RawSheet, RawWorkbook, read_workbook
from planner.io.writer import check_target, save_atomically
from planner.version import __version__

#: What a cell of a worksheet holds, as openpyxl gives it.
CellValue = str | float | int | bool | datetime | None
#: One row of a worksheet's values.
Row = list[CellValue]

#: The Notes sheet's columns (models/sourcing: topic, value, source or reasoning).
NOTES_HEADER = ("topic", "value", "source or reasoning")
#: Quantities at or below this are no order.
EPSILON = 1e-9
#: Solution sheets the roll reads (Signings only when the case has later offers).
_SOLUTION_SHEETS = ("Summary", "Contracts", "Purchases", "Stock")
#: Columns the roll reads, per table (tables per scenario-tree node, spec v2).
_SOLUTION_COLUMNS = {
    "Contracts": ("offer", "contracted"),
    "Purchases": ("node", "period", "scenarios", "offer", "quantity"),
    "Stock": ("node", "period", "scenarios", "element", "stock"),
    "Signings": ("offer", "node", "period"),
}


@dataclass
class Solution:
    """The tables of a solution workbook that a roll needs.

    Attributes
    ----------
    path, sha256
        The file read and its SHA-256.
    summary
        Summary key -> (value, Excel row of the value).
    tables
        ``Contracts``, ``Purchases``, ``Stock`` and ``Signings`` (empty
        when absent) as DataFrames with lower-case column names.
    """

    path: str
    sha256: str
    summary: dict[str, tuple[CellValue, int]]
    tables: dict[str, pd.DataFrame]
    #: sheet title -> column name -> column letter, to name a cell in a message
    letters: dict[str, dict[str, str]] = field(default_factory=dict)

    def cell(self, table: str, column: str, index: Any) -> str:
        """Return ``FILE!Sheet!C5``, the cell of row ``index`` of ``table``'s ``column``."""
        frame = self.tables[table]
        title, row = str(frame.at[index, SHEET]), str(frame.at[index, ROW])
        letter = self.letters.get(title, {}).get(column)
        place = f"{letter}{row}" if letter else f"{row}:{row}"
        return f"{Path(self.path).name}!{title}!{place}"


@dataclass
class RollPlan:
    """What the next quarter's workbook changes against the last one.

    Attributes
    ----------
    dropped, first, appended, source
        The period dropped, the new first period, the period appended and the
        period whose days and demand it copies.
    node, scenarios
        The first-period node of the last plan whose stock is carried, and
        the scenarios still possible (every scenario when it is shared).
    probabilities
        New probability per scenario kept, or ``None`` when every scenario is kept.
    initial_stock
        Element -> stock at the end of the dropped period.
    contracted
        Offers marked ``contracted = yes``.
    delivers_from
        Offer -> first period it can deliver, for contracts whose lead time
        has not yet elapsed.
    retired_offers, retired_activities
        Offers and activities whose window ended with the dropped period.
    commitments, previous_plan
        ``(offer, period, quantity)`` rows of the Commitments and PreviousPlan sheets.
    events
        With Events: the new probability of each event still possible (B4),
        given the first-period node that happened; None without Events.
    output
        Where the workbook was written (set by :func:`roll`).
    warnings
        What the roll ignored (``--scenario`` where the first period does not branch).
    """

    dropped: str
    first: str
    appended: str
    source: str
    node: int
    scenarios: list[str]
    probabilities: dict[str, float] | None
    initial_stock: dict[str, float]
    contracted: list[str]
    delivers_from: dict[str, str]
    retired_offers: list[str]
    retired_activities: list[str]
    commitments: list[tuple[str, str, float]]
    previous_plan: list[tuple[str, str, float]]
    events: dict[str, float] | None = None
    output: str = ""
    #: What the roll went on past (a negative stock read as 0, formulas kept as their
    #: values, a --scenario where nothing branches)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line saying what was rolled."""
        orders = sum(1 for *_, q in self.previous_plan if q > EPSILON)
        return (
            f"dropped {self.dropped}, appended {self.appended} (days and demand of "
            f"{self.source}); stock of node {self.node}; {len(self.contracted)} contracts, "
            f"{len(self.commitments)} firm orders, {orders} previous orders"
        )


# --------------------------------------------------------------------------- reading


#: Columns :func:`read_solution` adds to each table: the sheet and Excel row of a row.
SHEET, ROW = "_sheet", "_row"
#: The marker of a formula Excel never computed (no cached value) in a table read.
NO_VALUE = "formula without a cached value"


def _frame(sheet: RawSheet) -> pd.DataFrame:
    names = {column: str(value).strip().lower() for column, value in sheet.header}
    rows = [
        {
            SHEET: sheet.title,
            ROW: number,
            **{
                names[c]: (NO_VALUE if cell.formula_without_value else cell.value)
                for c, cell in cells.items()
                if c in names
            },
        }
        for number, cells in sheet.rows
    ]
    return pd.DataFrame(rows, columns=[SHEET, ROW, *names.values()])


#: Rows of one Excel worksheet.
EXCEL_ROWS = 1_048_576


def solution_limits(limits: ReaderLimits) -> ReaderLimits:
    """Return the limits a solution workbook is read with: one sheet may hold the whole workbook.

    The planner's own output of a large case has sheets beyond an input's
    per-sheet limits (Purchases of 17 elements x 30 offers x 129 tree nodes:
    72,000 rows, 10.7 MB); the workbook as a whole is still held to
    ``max_file_bytes``, ``max_unpacked_bytes`` and the zip-bomb ratio.
    """
    return replace(
        limits,
        max_sheet_bytes=max(limits.max_sheet_bytes, limits.max_unpacked_bytes),
        max_rows=max(limits.max_rows, EXCEL_ROWS),
    )


def read_solution(path: str | Path, limits: ReaderLimits | None = None) -> Solution:
    """Read the sheets of a solution workbook that a roll needs.

    ``limits`` default to :func:`solution_limits` of the environment's.

    Raises
    ------
    InputError
        When the file cannot be read, is beyond the reader's limits, or is
        not a planner solution workbook with a plan.
    """
    raw = read_workbook(path, limits or solution_limits(ReaderLimits.from_environment()))
    titles = {title.lower(): title for title in raw.sheets}
    missing = [name for name in _SOLUTION_SHEETS if name.lower() not in titles]
    if missing:
        raise InputError(
            [
                Issue(
                    Path(path).name,
                    f"not a planner solution workbook (no {', '.join(missing)} sheet)",
                )
            ],
            str(path),
        )
    summary: dict[str, tuple[CellValue, int]] = {}
    for row, cells in raw.sheets[titles["summary"]].rows:
        key = cells.get(1)
        if key is not None:
            summary[str(key.value).strip()] = (cells[2].value if 2 in cells else None, row)
    tables: dict[str, pd.DataFrame] = {}
    issues: list[Issue] = []
    letters = {
        title: {
            str(value).strip().lower(): get_column_letter(column) for column, value in sheet.header
        }
        for title, sheet in raw.sheets.items()
    }
    for name in ("Contracts", "Purchases", "Stock", "Signings"):
        titles_of = _parts(raw, titles, name, path, issues)
        parts = [_frame(raw.sheets[title]) for title in titles_of]
        tables[name] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    lacking = [
        f"{name} has no {column!r} column"
        for name, columns in _SOLUTION_COLUMNS.items()
        for column in columns
        if not tables[name].empty and column not in tables[name].columns
    ]
    if lacking:
        raise InputError(
            [
                Issue(
                    Path(path).name,
                    "not a solution workbook of this planner version ("
                    + "; ".join(lacking[:4])
                    + "): solve the input again",
                )
            ],
            str(path),
        )
    solution = Solution(str(path), raw.sha256, summary, tables, letters)
    issues += check_cells(solution)
    if issues:
        raise InputError(issues, str(path))
    return solution


def _parts(
    raw: RawWorkbook, titles: dict[str, str], name: str, path: str | Path, issues: list[Issue]
) -> list[str]:
    """Return the titles of a table's sheets: ``Stock``, then ``Stock (2)``... if Stock is full.

    The writer continues a table on ``Name (2)`` only when ``Name`` holds
    Excel's most rows; a ``Stock (2)`` beside a Stock that is not full is a
    copy made in Excel (right-click, Move or Copy), perhaps edited: it is
    refused rather than read as more of the plan.
    """
    found = [titles[name.lower()]] if name.lower() in titles else []
    numbered = sorted(
        (int(match[1]), title)
        for lower, title in titles.items()
        if (match := re.fullmatch(rf"{name.lower()} \((\d+)\)", lower))
    )
    for number, title in numbered:
        previous = found[-1] if found else None
        full = previous is not None and len(raw.sheets[previous].rows) >= EXCEL_ROWS - 1
        if full and number == len(found) + 1:
            found.append(title)
            continue
        issues.append(
            Issue(
                f"{Path(path).name}!{title}",
                f"a sheet the planner did not write ({name} continues on {name} ({len(found) + 1})"
                f" only when the sheet before is full): a copy of {name}? Delete or rename it;"
                f" the roll reads {name} as the plan wrote it",
            )
        )
    return found


#: Solution columns that must hold a number, per table (a node is a whole number).
_NUMBERS = {
    "Contracts": ("contracted", "already_contracted"),
    "Purchases": ("node", "quantity"),
    "Stock": ("node", "stock"),
    "Signings": ("node",),
}
#: Solution columns that must hold an id.
_IDS = {
    "Contracts": ("offer",),
    "Purchases": ("period", "scenarios", "offer"),
    "Stock": ("period", "scenarios", "element"),
    "Signings": ("offer", "period"),
}


def check_cells(solution: Solution) -> list[Issue]:
    """Every number and id the roll reads from a solution workbook, cell by cell.

    Text, a blank, a formula without a cached value or a number beyond a
    float (``1e400``) where a number belongs, and a blank where an id
    belongs, are errors naming the solution's cell: once they crashed the
    roll, or silently dropped a firm order or the stock.
    """
    issues: list[Issue] = []
    for name, columns in _NUMBERS.items():
        table = solution.tables[name]
        for column in (c for c in columns if c in table.columns):
            whole = column == "node"
            for index, value in table[column].items():
                problem = _not_a_number(value, whole)
                if problem:
                    issues.append(Issue(solution.cell(name, column, index), f"{column} {problem}"))
    for name, columns in _IDS.items():
        table = solution.tables[name]
        for column in (c for c in columns if c in table.columns):
            for index, value in table[column].items():
                if value == NO_VALUE or _id(value) == "":
                    what = NO_VALUE if value == NO_VALUE else "blank"
                    issues.append(Issue(solution.cell(name, column, index), f"{column} is {what}"))
    if len(issues) > _MAX_CELL_ISSUES:
        more = len(issues) - _MAX_CELL_ISSUES
        issues = issues[:_MAX_CELL_ISSUES]
        issues.append(Issue(Path(solution.path).name, f"... and {more:,} more cells like these"))
    return issues


#: Cells of a solution reported one by one; the rest are counted.
_MAX_CELL_ISSUES = 200


def _not_a_number(value: Any, whole: bool) -> str | None:
    """Say what is wrong with a solution's number cell, or None."""
    if value == NO_VALUE:
        return f"is a {NO_VALUE}: open and save the solution in Excel, or solve again"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "is blank; a number belongs here"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, got {value!r}"
    if not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if whole and not float(value).is_integer():
        return f"must be a whole number, got {value}"
    return None


# --------------------------------------------------------------------------- the pure roll


def next_period_id(periods: list[str]) -> str:
    """Name the period after the last: ``2028Q4`` -> ``2029Q1``, ``2026-12`` -> ``2027-01``.

    Other ids ending in a number count on (``P12`` -> ``P13``); anything else
    gets ``+1``. The id never repeats one of ``periods``.
    """
    last = periods[-1]
    if match := re.fullmatch(r"(\d{4})(\s*-?\s*Q)([1-4])", last, re.IGNORECASE):
        year, quarter = int(match[1]), int(match[3])
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
        candidate = f"{year}{match[2]}{quarter}"
    elif match := re.fullmatch(r"(\d{4})-(\d{2})", last):
        year, month = int(match[1]), int(match[2])
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        candidate = f"{year}-{month:02d}"
    elif match := re.fullmatch(r"(.*?)(\d+)", last):
        candidate = f"{match[1]}{int(match[2]) + 1:0{len(match[2])}d}"
    else:
        candidate = f"{last}+1"
    while candidate in periods:
        candidate += "+1"
    return candidate


def _node_scenarios(value: object, everyone: list[str]) -> list[str]:
    text = "" if value is None else str(value)
    return list(everyone) if text == "all" else text.split("|")


def _id(value: object) -> str:
    """Return an id cell as text: ``2026`` not ``2026.0``; blank -> ``""``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def check_pair(case: Case, solution: Solution) -> list[Issue]:
    """Tell whether ``solution`` was solved from the input ``case`` (same file, offers, periods)."""
    name = Path(solution.path).name
    issues: list[Issue] = []
    status = _id(solution.summary.get("status", (None, 0))[0])
    stock = solution.tables["Stock"]
    if stock.empty or "stock" not in stock.columns:
        issues.append(
            Issue(f"{name}!Stock", f"the solution has no plan (status {status or 'unknown'})")
        )
        return issues
    offers = {_id(o) for o in solution.tables["Contracts"].get("offer", [])}
    known = {str(o) for o in case.offers.index}
    if offers != known:
        extra, lacking = sorted(offers - known), sorted(known - offers)
        issues.append(
            Issue(
                f"{name}!Contracts",
                "the solution's offers are not the input's: "
                + "; ".join(
                    part
                    for part in (
                        f"only in the solution: {', '.join(extra[:10])}" if extra else "",
                        f"only in the input: {', '.join(lacking[:10])}" if lacking else "",
                    )
                    if part
                ),
            )
        )
    periods = list(dict.fromkeys(_id(p) for p in stock["period"]))
    if periods != case.period_ids:
        issues.append(
            Issue(
                f"{name}!Stock",
                f"the solution's periods ({_listed(periods)}) are not the input's "
                f"({_listed(case.period_ids)})",
            )
        )
    everyone = set(_scenario_ids(case))
    for table in ("Purchases", "Stock"):
        frame = solution.tables[table]
        for index, value in frame.get("scenarios", pd.Series(dtype=object)).items():
            unknown = [s for s in _node_scenarios(value, sorted(everyone)) if s not in everyone]
            if unknown:
                issues.append(
                    Issue(
                        solution.cell(table, "scenarios", index),
                        f"scenario {unknown[0]!r} is not one of the input's "
                        f"({_listed(sorted(everyone))}); write 'all' or scenarios joined by |",
                    )
                )
    sha, row = solution.summary.get("input_sha256", (None, 0))
    if _id(sha) != case.source.sha256:
        where = f"{name}!Summary!B{row}" if row else f"{name}!Summary"
        issues.append(
            Issue(
                where,
                f"the solution was solved from another input "
                f"(SHA-256 {_id(sha)[:12] or 'none'}...), "
                f"not from {Path(case.source.path).name} (SHA-256 {case.source.sha256[:12]}...): "
                "roll the input together with its own solution",
            )
        )
    return issues


def _listed(ids: list[str]) -> str:
    return ", ".join(ids[:6]) + (", ..." if len(ids) > 6 else "")


def _scenario_ids(case: Case) -> list[str]:
    return [str(s) for s in scenario_probability(case).index] or ["base"]


def _first_node(
    case: Case, solution: Solution, scenario: str | None
) -> tuple[int, list[str], pd.DataFrame]:
    """Pick the first-period node that happened: the only one, or the one holding ``scenario``."""
    everyone = _scenario_ids(case)
    if scenario is not None and scenario not in everyone and has_events(case):
        scenario = scenario_named(case, scenario) or scenario  # events in any order
    stock = solution.tables["Stock"]
    first = stock[stock["period"].map(_id) == case.period_ids[0]]
    nodes = {
        int(n): _node_scenarios(s, everyone)
        for n, s in zip(first["node"], first["scenarios"], strict=True)
    }
    choices = "; ".join(" | ".join(members) for members in nodes.values())
    if scenario is not None and scenario not in everyone:
        raise InputError(
            [
                Issue(
                    "--scenario",
                    f"{scenario!r} is not a scenario of the plan; choose one of: {choices}",
                )
            ]
        )
    if len(nodes) > 1 and scenario is None:
        raise InputError(
            [
                Issue(
                    "--scenario",
                    f"the last plan branches in {case.period_ids[0]} ({len(nodes)} nodes): "
                    f"name the scenario that happened with --scenario, one of: {choices}",
                )
            ]
        )
    node = next(n for n, members in nodes.items() if scenario is None or scenario in members)
    return node, nodes[node], first[first["node"].astype(int) == node]


def _scenario_warnings(case: Case, solution: Solution, scenario: str | None) -> list[str]:
    """Say that ``--scenario`` is ignored where the first period does not branch."""
    if scenario is None:
        return []
    stock = solution.tables["Stock"]
    first = stock[stock["period"].map(_id) == case.period_ids[0]]
    if first["node"].nunique() > 1:
        return []
    return [
        f"--scenario {scenario}: the last plan does not branch in {case.period_ids[0]} (one "
        "node holds every scenario), so nothing is ruled out: every scenario is kept"
    ]


def _capacity(case: Case, offer: str, period: str) -> float:
    """Return an offer's capacity in a period before disruptions (OfferPeriods wins)."""
    overrides = case.offer_periods
    chosen = overrides[(overrides["offer"] == offer) & (overrides["period"] == period)]
    values = [_number(v) for v in chosen.get("capacity", pd.Series(dtype=float)).dropna()]
    capacity = values[0] if values else _number(case.offers.at[offer, "capacity"])
    return capacity if math.isfinite(capacity) else math.inf


def plan_roll(
    case: Case, solution: Solution, firm: int = 1, scenario: str | None = None
) -> RollPlan:
    """Work out the next quarter's workbook from the last input and its plan.

    Parameters
    ----------
    case
        The last input, validated.
    solution
        The tables of its solution workbook (:func:`read_solution`).
    firm
        How many periods after the dropped one become firm orders (Commitments).
    scenario
        The scenario that happened, where the first period has several nodes.

    Raises
    ------
    InputError
        When the solution does not belong to the input, or ``scenario`` is
        needed and missing or unknown.
    """
    issues = check_pair(case, solution)
    if issues:
        raise InputError(issues, solution.path)
    if firm < 0:
        raise InputError([Issue("--firm", f"must be a whole number >= 0, got {firm}")])
    periods = case.period_ids
    node, kept, stock = _first_node(case, solution, scenario)
    everyone = _scenario_ids(case)
    probabilities = None
    if len(kept) < len(everyone):
        weights = scenario_probability(case).astype(float)
        total = float(weights.loc[kept].sum())
        probabilities = {s: float(weights.loc[s]) / total for s in kept}
    events = _conditioned_events(case, kept, node) if has_events(case) else None
    dropped = periods[0]
    appended = next_period_id(periods)
    new_periods = [*periods[1:], appended]
    retired_offers = _retired(case.offers, dropped)
    retired_activities = _retired(case.activities, dropped)
    contracted = _contracted(solution, node, dropped) - set(retired_offers)
    orders, shared_periods = _shared_orders(case, solution, kept)
    live = [str(o) for o in case.offers.index if str(o) not in retired_offers]
    considered = _considered(case, solution, kept)
    previous = [
        (o, p, orders.get((o, p), 0.0))
        for o in live
        for p in shared_periods
        if (o, p) in considered or orders.get((o, p), 0.0) > EPSILON
    ]
    return RollPlan(
        dropped=dropped,
        first=new_periods[0],
        appended=appended,
        source=periods[len(periods) - 4] if len(periods) >= 4 else periods[-1],
        node=node,
        scenarios=kept,
        probabilities=probabilities,
        initial_stock=_initial_stock(case, stock),
        warnings=_negative_stock(solution, stock) + _scenario_warnings(case, solution, scenario),
        contracted=sorted(contracted),
        delivers_from=_delivers_from(case, contracted, new_periods),
        retired_offers=retired_offers,
        retired_activities=retired_activities,
        commitments=_commitments(case, orders, contracted, set(periods[1 : 1 + firm])),
        previous_plan=previous,
        events=events,
    )


def _conditioned_events(case: Case, kept: list[str], node: int) -> dict[str, float]:
    """Each event's probability given the node that happened (B4); refused if not independent."""
    try:
        return condition(case, kept)
    except NotIndependent as error:
        raise InputError(
            [
                Issue(
                    "--scenario",
                    f"node {node} ({' | '.join(kept)}) cannot be rolled as Events: {error}; "
                    "the first period cannot tell apart events of different groups. Give them "
                    "one group, or write the scenarios on the Scenarios and Disruptions sheets",
                )
            ]
        ) from None


def _retired(table: pd.DataFrame, dropped: str) -> list[str]:
    """Ids whose window ended with the dropped period."""
    last = table.get("last_period", pd.Series(dtype=object))
    return sorted(str(i) for i, period in last.items() if _id(period) == dropped)


def _initial_stock(case: Case, stock: pd.DataFrame) -> dict[str, float]:
    """Stock at the end of the dropped period, within storage capacity."""
    initial = {
        _id(e): max(float(s), 0.0) for e, s in zip(stock["element"], stock["stock"], strict=True)
    }
    for element, capacity in case.elements.get("storage_capacity", pd.Series(dtype=float)).items():
        if str(element) in initial and math.isfinite(float(capacity)):
            initial[str(element)] = min(initial[str(element)], float(capacity))
    return initial


def _negative_stock(solution: Solution, stock: pd.DataFrame) -> list[str]:
    """Warn of a stock below zero in the carried node: it is carried as 0.

    The plan never holds less than nothing; a negative figure was typed
    into the solution (or is a rounding far beyond the solver's).
    """
    return [
        f"{solution.cell('Stock', 'stock', index)}: stock {float(value):g} of "
        f"{_id(element)} is below zero; carried as 0"
        for index, element, value in zip(stock.index, stock["element"], stock["stock"], strict=True)
        if float(value) < -_STOCK_TOLERANCE
    ]


#: A negative stock down to this is rounding, carried as 0 without a word.
_STOCK_TOLERANCE = 1e-6


def _contracts(solution: Solution) -> Iterator[tuple[str, bool, bool]]:
    """(offer, contracted before the last horizon, signed now) of each Contracts row.

    A solution without the columns already_contracted or signing reads as none
    contracted before and every signing now.
    """
    contracts = solution.tables["Contracts"]
    for offer, already, signed, signing in zip(
        contracts["offer"],
        contracts.get("already_contracted", [0] * len(contracts)),
        contracts["contracted"],
        contracts.get("signing", ["now"] * len(contracts)),
        strict=True,
    ):
        yield _id(offer), _number(already) > 0.5, _number(signed) > 0.5 and _id(signing) != "later"


def _contracted(solution: Solution, node: int, dropped: str) -> set[str]:
    """Offers contracted now: before the last horizon, signed now, or later at the node."""
    contracted = {offer for offer, before, now in _contracts(solution) if before or now}
    signings = solution.tables["Signings"]
    if not signings.empty:
        at_node = signings[
            (signings["period"].map(_id) == dropped) & (signings["node"].astype(int) == node)
        ]
        contracted |= {_id(o) for o in at_node["offer"]}
    return contracted


def _delivers_from(case: Case, contracted: set[str], new_periods: list[str]) -> dict[str, str]:
    """First delivery of contracts signed in the dropped period whose lead time still runs."""
    position = {p: t for t, p in enumerate(case.period_ids)}
    delivers_from: dict[str, str] = {}
    for offer in sorted(contracted):
        record = case.offers.loc[offer]
        if str(record.get("contracted", "no")) == "yes":
            continue  # signed before the last horizon: its lead time has elapsed
        lead = int(_number(record.get("lead_time", 0)))  # signed in the dropped period
        opens = position.get(_id(record.get("first_period")), 0)
        if lead >= 2 and lead > opens:
            delivers_from[offer] = new_periods[min(lead - 1, len(new_periods) - 1)]
    return delivers_from


def _shared_orders(
    case: Case, solution: Solution, kept: list[str]
) -> tuple[dict[tuple[str, str], float], list[str]]:
    """Orders at nodes holding every scenario kept, after the dropped period; and those periods."""
    everyone = _scenario_ids(case)
    position = {p: t for t, p in enumerate(case.period_ids)}
    dropped = case.period_ids[0]

    def shared(scenarios: object) -> bool:
        return set(kept) <= set(_node_scenarios(scenarios, everyone))

    purchases = solution.tables["Purchases"]
    orders: dict[tuple[str, str], float] = {}
    for offer, period, scenarios, quantity in zip(
        purchases.get("offer", []),
        purchases.get("period", []),
        purchases.get("scenarios", []),
        purchases.get("quantity", []),
        strict=True,
    ):
        p = _id(period)
        if p in position and p != dropped and shared(scenarios) and _number(quantity) > EPSILON:
            orders[(_id(offer), p)] = orders.get((_id(offer), p), 0.0) + _number(quantity)
    stock = solution.tables["Stock"]
    periods = {
        _id(p)
        for p, scenarios in zip(stock["period"], stock["scenarios"], strict=True)
        if shared(scenarios) and _id(p) != dropped
    }
    return orders, sorted(periods, key=position.__getitem__)


def _considered(case: Case, solution: Solution, kept: list[str]) -> set[tuple[str, str]]:
    """(offer, period) pairs where the last plan decided an order, 0 included.

    What a planner means by the previous plan: at a node every kept scenario
    shares, an offer the plan held a contract for (contracted before the
    horizon, signed now, or a later offer signed at such a node, its lead
    time elapsed), inside its window and with capacity there, had an order
    chosen, 0 if it bought nothing: changing it is a change. An offer the plan
    never contracted, or one that could not deliver then, was never
    considered there: buying from it later is a new decision, not a change.
    """
    everyone = _scenario_ids(case)
    periods = case.period_ids
    position = {p: t for t, p in enumerate(periods)}
    stock = solution.tables["Stock"]
    shared_nodes = {
        int(n)
        for n, members in zip(stock["node"], stock["scenarios"], strict=True)
        if set(kept) <= set(_node_scenarios(members, everyone))
    }
    delivers: dict[str, int] = {}  # offer -> first period position it may deliver
    for ident, before, now in _contracts(solution):
        if ident not in case.offers.index:
            continue
        if before:
            delivers[ident] = 0
        elif now:
            delivers[ident] = int(_number(case.offers.at[ident, "lead_time"]))
    signings = solution.tables["Signings"]
    for offer, node, period in zip(
        signings.get("offer", []), signings.get("node", []), signings.get("period", []), strict=True
    ):
        ident, signed_at = _id(offer), position.get(_id(period))
        if ident in case.offers.index and signed_at is not None and int(node) in shared_nodes:
            lead = int(_number(case.offers.at[ident, "lead_time"]))
            delivers[ident] = min(delivers.get(ident, len(periods)), signed_at + lead)
    pairs: set[tuple[str, str]] = set()
    for offer, start in delivers.items():
        record = case.offers.loc[offer]
        opens = position.get(_id(record.get("first_period")), 0)
        closes = position.get(_id(record.get("last_period")), len(periods) - 1)
        for t in range(max(start, opens), closes + 1):
            if _capacity(case, offer, periods[t]) > EPSILON:
                pairs.add((offer, periods[t]))
    return pairs


def _commitments(
    case: Case, orders: dict[tuple[str, str], float], contracted: set[str], firm: set[str]
) -> list[tuple[str, str, float]]:
    """Shared orders of the firm periods on contracted offers, and the earlier firm orders.

    A firm order placed earlier stays placed; the plan honoured it, so its
    order is not less unless a disruption cut it: the larger is kept. Each
    is capped at the offer's capacity there.
    """
    position = {p: t for t, p in enumerate(case.period_ids)}
    firm_orders: dict[tuple[str, str], float] = {}
    table = case.commitments
    for offer, period, quantity in zip(
        table["offer"], table["period"], table["quantity"], strict=True
    ):
        key = (_id(offer), _id(period))
        if position.get(key[1], 0) > 0 and key[0] in contracted:
            firm_orders[key] = max(firm_orders.get(key, 0.0), _number(quantity))
    for (offer, period), quantity in orders.items():
        if period in firm and offer in contracted:
            firm_orders[(offer, period)] = max(firm_orders.get((offer, period), 0.0), quantity)
    ordered = sorted(firm_orders.items(), key=lambda item: (position[item[0][1]], item[0][0]))
    return [(o, p, min(q, _capacity(case, o, p))) for (o, p), q in ordered]


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(number) else number


def total_change(changes: pd.DataFrame | None) -> float | None:
    """Sum of |change| of a Changes table (``None`` when there is no previous plan)."""
    if changes is None or changes.empty or "change" not in changes.columns:
        return None
    numbers = pd.to_numeric(changes["change"], errors="coerce").dropna()
    return float(numbers.abs().sum())


# --------------------------------------------------------------------------- the workbook


class _Sheet:
    """A worksheet of the input as a header and rows of values, written back in place."""

    def __init__(self, book: Workbook, title: str, header: list[str] | None = None) -> None:
        values = getattr(book, "cached_values", None)  # the same workbook read data_only
        match = next((t for t in book.sheetnames if t.strip().lower() == title.lower()), None)
        if match is None:
            self.sheet = book.create_sheet(title)
            for column, name in enumerate(header or [], start=1):
                self.sheet.cell(1, column, name)
        else:
            self.sheet = book[match]
        self.columns = {
            str(cell.value).strip().lower(): cell.column
            for cell in self.sheet[1]
            if cell.value is not None
        }
        # every column that holds something, headed or not, moves with its row
        self.width = min(max(max(self.columns.values(), default=0), self.sheet.max_column), 256)
        self.original = self.sheet.max_row
        # rows move, so a formula would point at the wrong cells: take its cached value
        source = values[match] if values is not None and match is not None else self.sheet
        self.rows: list[Row] = [
            list(row)
            for row in source.iter_rows(min_row=2, max_col=max(self.width, 1), values_only=True)
            if any(v is not None and str(v).strip() for v in row)
        ]

    def column(self, name: str) -> int:
        """0-based index of column ``name`` (added at the right when missing)."""
        if name not in self.columns:
            self.width += 1
            self.columns[name] = self.width
            self.sheet.cell(1, self.width, name)
            if self.width > 1:
                self.sheet.cell(1, self.width)._style = copy(
                    self.sheet.cell(1, self.width - 1)._style
                )
            for row in self.rows:
                row.append(None)
        return self.columns[name] - 1

    def get(self, row: Row, name: str) -> str:
        return _id(row[self.columns[name] - 1]) if name in self.columns else ""

    def keep(self, test: Callable[[Row], bool]) -> None:
        self.rows = [row for row in self.rows if test(row)]

    def new_row(self, values: dict[str, CellValue]) -> Row:
        row: Row = [None] * self.width
        for name, value in values.items():
            index = self.column(name)
            while len(row) <= index:
                row.append(None)
            row[index] = value
        return row

    def save(self) -> None:
        """Write the rows back from row 2; styles of new rows follow the last data row."""
        last_styled = max(self.original, 1)
        for offset, values in enumerate(self.rows):
            number = offset + 2
            for column in range(1, self.width + 1):
                cell = self.sheet.cell(number, column)
                if number > last_styled and last_styled >= 2:
                    cell._style = copy(self.sheet.cell(last_styled, column)._style)
                cell.value = values[column - 1] if column - 1 < len(values) else None
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # text stays text, never a formula
        for number in range(len(self.rows) + 2, self.original + 1):
            for column in range(1, self.width + 1):
                self.sheet.cell(number, column).value = None


def _roll_item_rows(
    book: Workbook, plan: RollPlan, retired: dict[str, set[str]], last: str
) -> None:
    """Drop the rows of retired offers and activities and of the dropped period.

    The appended period keeps the offers' latest terms (OfferPeriods of the
    last period): a ramp-up's capacity, and its min_take with it, does not
    jump back to the Offers sheet's figure.
    """
    for title, column, kind in (
        ("OfferPeriods", "offer", "offer"),
        ("OfferContents", "offer", "offer"),
        ("ActivityYields", "activity", "activity"),
    ):
        if not _exists(book, title):
            continue
        sheet = _Sheet(book, title)
        gone = retired[kind]
        sheet.rows = [
            r
            for r in sheet.rows
            if sheet.get(r, column) not in gone and sheet.get(r, "period") != plan.dropped
        ]
        if title == "OfferPeriods":
            closed = _closed_before(book, plan.appended)
            for row in [r for r in sheet.rows if sheet.get(r, "period") == last]:
                if sheet.get(row, "offer") in closed:
                    continue  # its window ends before the appended period: no terms there
                moved = list(row)
                moved[sheet.column("period")] = plan.appended
                sheet.rows.append(moved)
        sheet.save()


def _closed_before(book: Workbook, appended: str) -> set[str]:
    """Offers whose ``last_period`` is a period of the rolled horizon before ``appended``."""
    periods = _Sheet(book, "Periods")
    earlier = {periods.get(r, "period") for r in periods.rows} - {appended}
    offers = _Sheet(book, "Offers")
    return {offers.get(r, "offer") for r in offers.rows if offers.get(r, "last_period") in earlier}


def apply_roll(book: Workbook, plan: RollPlan, note: list[str]) -> None:
    """Edit an openpyxl workbook of the last input into the next quarter's.

    ``book.cached_values``, when set, is the same file read with
    ``data_only=True``: in the sheets whose rows the roll moves, a formula
    becomes its cached value (its references would point at other rows).
    """
    dropped, first = plan.dropped, plan.first

    periods = _Sheet(book, "Periods")
    last = periods.get(periods.rows[-1], "period")  # the horizon's last period until now
    source_row = next(r for r in periods.rows if periods.get(r, "period") == plan.source)
    appended = list(source_row)
    appended[periods.column("period")] = plan.appended
    periods.keep(lambda r: periods.get(r, "period") != dropped)
    periods.rows.append(appended)
    periods.save()

    demand = _Sheet(book, "Demand")
    copies = [list(r) for r in demand.rows if demand.get(r, "period") == plan.source]
    for row in copies:
        row[demand.column("period")] = plan.appended
    demand.keep(lambda r: demand.get(r, "period") != dropped)
    demand.rows += copies
    demand.save()

    elements = _Sheet(book, "Elements")
    stock = elements.column("initial_stock")
    for row in elements.rows:
        row[stock] = plan.initial_stock.get(elements.get(row, "element"), 0.0)
    elements.save()

    _roll_windows(book, "Offers", "offer", plan.retired_offers, dropped, first, plan)
    _roll_windows(book, "Activities", "activity", plan.retired_activities, dropped, first, plan)
    retired = {"offer": set(plan.retired_offers), "activity": set(plan.retired_activities)}
    _roll_item_rows(book, plan, retired, last)
    if _exists(book, "Policies"):
        policies = _Sheet(book, "Policies")
        policies.keep(lambda r: policies.get(r, "period") != dropped)
        policies.save()
    _roll_scenarios(book, plan, retired)

    for title, rows in (("Commitments", plan.commitments), ("PreviousPlan", plan.previous_plan)):
        if not rows and not _exists(book, title):
            continue
        sheet = _Sheet(book, title, ["offer", "period", "quantity"])
        sheet.rows = [sheet.new_row({"offer": o, "period": p, "quantity": q}) for o, p, q in rows]
        sheet.save()

    notes = _Sheet(book, "Notes", list(NOTES_HEADER))
    names = list(notes.columns)
    for name in NOTES_HEADER:  # a narrower Notes sheet gets the columns the note needs
        if len(names) >= len(note):
            break
        if name not in names:
            notes.column(name)
            names.append(name)
    names += [f"note {i + 1}" for i in range(len(names), len(note))]  # never cut
    notes.rows.append(notes.new_row(dict(zip(names, note, strict=False))))
    notes.save()


def _roll_scenarios(book: Workbook, plan: RollPlan, retired: dict[str, set[str]]) -> None:
    """Roll what may happen: Disruptions, Events (B4) and the Scenarios kept."""
    if _exists(book, "Disruptions"):
        _roll_disruptions(book, plan, retired)
    if plan.events is not None and _exists(book, "Events"):
        _roll_events(book, plan, retired)
    if plan.probabilities is not None and _exists(book, "Scenarios"):
        scenarios = _Sheet(book, "Scenarios")
        kept = plan.probabilities
        scenarios.keep(lambda r: scenarios.get(r, "scenario") in kept)
        probability = scenarios.column("probability")
        for row in scenarios.rows:
            row[probability] = kept[scenarios.get(row, "scenario")]
        scenarios.save()


def _formulas_to_values(book: Workbook) -> list[str]:
    """Replace every formula that has a cached value by that value; say where.

    openpyxl writes a formula without its value, and the planner refuses a
    formula without a cached value: a roll that kept a Settings or Countries
    formula refused its own output. The values are what the planner read.
    """
    values = getattr(book, "cached_values", None)
    if values is None:
        return []
    replaced: dict[str, int] = {}
    for sheet in book.worksheets:
        cached = values[sheet.title]
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type != "f":
                    continue
                value = cached[cell.coordinate].value
                if value is not None:
                    cell.value = value
                    replaced[sheet.title] = replaced.get(sheet.title, 0) + 1
    if not replaced:
        return []
    where = ", ".join(f"{title} ({count})" for title, count in replaced.items())
    return [
        f"formulas written as the values they had: {where}; the rolled workbook has no formulas "
        "(the planner cannot compute them again)"
    ]


def _exists(book: Workbook, title: str) -> bool:
    return any(t.strip().lower() == title.lower() for t in book.sheetnames)


def _roll_windows(
    book: Workbook,
    title: str,
    key: str,
    retired: list[str],
    dropped: str,
    first: str,
    plan: RollPlan,
) -> None:
    """Offers/Activities: drop those whose window ended; a window opening in the past opens now."""
    if not _exists(book, title):
        return
    sheet = _Sheet(book, title)
    sheet.keep(lambda r: sheet.get(r, key) not in retired)
    opens = sheet.column("first_period") if "first_period" in sheet.columns else None
    if key == "offer":
        contracted = sheet.column("contracted")
    for row in sheet.rows:
        ident = sheet.get(row, key)
        if opens is not None and sheet.get(row, "first_period") == dropped:
            row[opens] = first
        if key == "offer":
            if ident in plan.delivers_from:
                row[sheet.column("first_period")] = plan.delivers_from[ident]
            if ident in plan.contracted:
                row[contracted] = "yes"
    sheet.save()


def _roll_disruption_rows(
    sheet: _Sheet, plan: RollPlan, retired: dict[str, set[str]], possible: Callable[[Row], bool]
) -> None:
    """Roll Disruptions or Events rows (B4: alike): drop the past, the retired, the impossible.

    A row entirely in the past, of a retired target, or no longer possible
    leaves; a row under way starts at the new first period.

    Parameters
    ----------
    sheet
        The Disruptions or Events sheet; saved by the caller.
    plan
        The roll: the period dropped and the new first period.
    retired
        Per target type (offer, activity), the ids whose window ended with the dropped period.
    possible
        Whether a row's scenario (Disruptions) or event (Events) may still happen.
    """

    def stays(row: Row) -> bool:
        kind = sheet.get(row, "target_type").lower()
        return (
            sheet.get(row, "last_period") != plan.dropped
            and possible(row)
            and not (kind in retired and sheet.get(row, "target") in retired[kind])
        )

    sheet.keep(stays)
    if "first_period" in sheet.columns:
        opens = sheet.column("first_period")
        for row in sheet.rows:
            if sheet.get(row, "first_period") == plan.dropped:
                row[opens] = plan.first


def _roll_disruptions(book: Workbook, plan: RollPlan, retired: dict[str, set[str]]) -> None:
    """Drop rows entirely in the past or of scenarios ruled out; a row under way starts now."""
    sheet = _Sheet(book, "Disruptions")
    kept = set(plan.scenarios)
    _roll_disruption_rows(sheet, plan, retired, lambda row: sheet.get(row, "scenario") in kept)
    sheet.save()


def _roll_events(book: Workbook, plan: RollPlan, retired: dict[str, set[str]]) -> None:
    """Events roll like Disruptions, with the probabilities given what happened (B4).

    A row entirely in the past, of a retired target, or of an event no longer
    possible leaves; a row under way starts at the new first period. Each
    event's first row left carries its probability (conditioned on the node
    that happened: 1 for an event seen) and its group; later rows leave the
    probability blank.
    """
    events = plan.events or {}
    sheet = _Sheet(book, "Events")
    groups: dict[str, CellValue] = {}
    for row in sheet.rows:
        if "group" in sheet.columns:
            groups.setdefault(sheet.get(row, "event"), row[sheet.column("group")])
    _roll_disruption_rows(sheet, plan, retired, lambda row: sheet.get(row, "event") in events)
    probability = sheet.column("probability")
    seen: set[str] = set()
    for row in sheet.rows:
        event = sheet.get(row, "event")
        if event in seen:
            row[probability] = None
        else:
            seen.add(event)
            row[probability] = round(events[event], 12)
            if groups.get(event) not in (None, ""):
                row[sheet.column("group")] = groups[event]
    sheet.save()


# --------------------------------------------------------------------------- I/O


def roll(
    last_input: str | Path,
    last_solution: str | Path,
    output: str | Path,
    firm: int = 1,
    scenario: str | None = None,
    limits: ReaderLimits | None = None,
) -> RollPlan:
    """Write the next quarter's input workbook from the last input and its solution.

    Parameters
    ----------
    last_input, last_solution
        The workbook last solved and the solution workbook ``planner solve`` wrote for it.
    output
        The next input workbook (``.xlsx``); never one of the two read.
    firm
        Periods after the dropped one whose shared orders become Commitments.
    scenario
        The scenario that happened, needed where the first period has several nodes.

    Returns
    -------
    RollPlan
        What was rolled; ``output`` names the workbook written.

    Raises
    ------
    InputError
        When either workbook is invalid, they do not belong together, or
        ``scenario`` is needed; also when the rolled workbook would not be
        valid. Nothing is written.
    OutputError
        When ``output`` is one of the inputs or cannot be written.
    """
    last_input, last_solution, output = Path(last_input), Path(last_solution), Path(output)
    check_target(output, str(last_input))
    check_target(output, str(last_solution))
    case = load(last_input, limits)
    solution = read_solution(last_solution, limits and solution_limits(limits))
    plan = plan_roll(case, solution, firm, scenario)
    note = [
        f"Rolled {plan.dropped} -> {plan.appended}",
        f"{plan.describe()}; "
        + (
            f"scenarios kept: {', '.join(plan.scenarios)}; "
            if plan.probabilities is not None
            else ""
        )
        + (
            "event probabilities: "
            + ", ".join(f"{e} {p:.6g}" for e, p in plan.events.items())
            + "; "
            if plan.events
            else ""
        )
        + f"firm periods: {firm}",
        f"planner roll {__version__} from {last_input.name} (SHA-256 "
        f"{case.source.sha256}) and {last_solution.name} (SHA-256 {solution.sha256})",
    ]
    try:
        book = openpyxl.load_workbook(last_input, keep_links=False)
        book.cached_values = openpyxl.load_workbook(last_input, data_only=True, keep_links=False)
    except Exception as error:  # the bounded reader accepted it; openpyxl should too
        raise InputError([Issue(last_input.name, f"cannot open for editing: {error}")]) from None
    plan.warnings += _formulas_to_values(book)
    apply_roll(book, plan, note)

    def write(temporary: str) -> None:
        book.save(temporary)
        try:
            load(temporary, limits)
        except InputError as error:
            raise InputError(
                [
                    Issue(i.where, f"the rolled workbook would be invalid: {i.message}")
                    for i in error.issues
                ],
                str(output),
            ) from None

    save_atomically(write, output, list(book.sheetnames))
    plan.output = str(output)
    return plan
