"""Validation: raw cells -> typed tables, and pure checks on a case.

Two stages, both driven by the schema catalogue:

* :func:`parse_workbook` turns raw cells into typed tables, reporting every
  cell that is not of its column's type (text where a number belongs, a
  formula with no cached value, a blank required cell, ...).
* :func:`check_case` checks a typed case: ranges, references between sheets,
  uniqueness and the rules of the contract. It also runs on a case modified
  in Python before every solve.

Checks never print and never mutate their input; they return issues, all of
them, located as ``Sheet!CELL``.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter, range_boundaries

from planner import checks
from planner.changes import ChangeError, apply_change, parse_values
from planner.data import ROW, TABLES, Case, Settings, Source
from planner.errors import Issue
from planner.io.reader import RawCell, RawSheet, RawWorkbook
from planner.locate import Locator
from planner.locate import is_blank as _is_blank
from planner.locate import records as _records
from planner.model.parameters import POOLABLE_POLICIES, Policy, policy_bases
from planner.schema import (
    DOCUMENTATION_SHEETS,
    RESERVED_ELEMENT_IDS,
    Column,
    SettingKey,
    Sheet,
    catalogue,
)

_NUMERIC_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_PROBABILITY_TOLERANCE = 1e-6


#: Spellings a yes/no column also accepts.
_YES_NO = {"true": "yes", "1": "yes", "false": "no", "0": "no"}

#: Upper bounds from this size on are magnitude bounds (what HiGHS computes
#: reliably), not bounds of meaning such as a risk's 1: say how to keep within them.
_MAGNITUDE = 1e3
_MAGNITUDE_HINT = "; larger numbers are beyond what the solver computes reliably: use a larger unit"


class _CellError(ValueError):
    """A cell value that is not of its column's type."""


# --------------------------------------------------------------------------
# Cell conversion
# --------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return f"a date/time ({value})"
    return repr(value) if isinstance(value, str) else f"{value}"


def to_text(value: Any) -> str:
    """Read a cell as an id or label: numbers as typed (``2026``, not ``2026.0``)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        raise _CellError(f"got {_describe(value)}; type the id as text")
    return str(value).replace("\xa0", " ").strip()


def to_number(value: Any) -> float:
    """Read a cell as a number: a number, or numeric text such as ``'418.3'``."""
    if isinstance(value, bool | dt.datetime | dt.date | dt.time):
        raise _CellError(f"must be a number, got {_describe(value)}")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        percent = text.endswith("%")
        body = text[:-1].strip() if percent else text
        if not _NUMERIC_TEXT.match(body):
            raise _CellError(f"must be a number, got {_describe(value)}")
        number = float(body) / (100.0 if percent else 1.0)
    if not math.isfinite(number):
        raise _CellError(f"must be a finite number, got {_describe(value)}")
    return number


def _convert(column: Column, cell: RawCell) -> Any:
    if column.type == "number":
        return to_number(cell.value)
    text = to_text(cell.value)
    if column.type == "enum":
        lowered = (
            _YES_NO.get(text.lower(), text.lower())
            if column.values == ("yes", "no")
            else text.lower()
        )
        if lowered not in column.values:
            raise _CellError(f"must be one of {', '.join(column.values)}, got {text!r}")
        return lowered
    return text


# --------------------------------------------------------------------------
# Stage 1: raw workbook -> typed case
# --------------------------------------------------------------------------


def _normal(name: Any) -> str:
    return str(name).strip().lower() if name is not None else ""


def _find_sheets(raw: RawWorkbook, issues: list[Issue]) -> dict[str, RawSheet]:
    known = {_normal(s.name): s.name for s in catalogue().sheets}
    known["settings"] = "Settings"
    documentation = {_normal(name) for name in DOCUMENTATION_SHEETS}
    found: dict[str, RawSheet] = {}
    for title, sheet in raw.sheets.items():
        name = known.get(_normal(title))
        if name is None:
            if _normal(title) not in documentation:
                issues.append(Issue(title, "unknown sheet, ignored", "warning"))
            continue
        if name in found:
            issues.append(
                Issue(title, f"a second sheet named like {found[name].title!r}; keep only one")
            )
            continue
        if sheet.hidden:
            issues.append(Issue(title, "the sheet is hidden; it is read all the same", "warning"))
        found[name] = sheet
    return found


def _header_map(sheet: RawSheet, spec: Sheet, issues: list[Issue]) -> dict[str, int]:
    """Map each catalogue column to its column number, reporting header problems.

    One message per header: an unknown header that resembles a missing
    required column is that column misspelt (an error at its cell, with the
    name meant); other unknown headers are warnings, with the closest known
    name where there is one.
    """
    wanted = {c.name: c for c in spec.columns}
    columns: dict[str, int] = {}
    unknown: list[tuple[str, str]] = []  # (address, header as typed)
    for number, value in sheet.header:
        name = _normal(value)
        address = f"{sheet.title}!{get_column_letter(number)}1"
        if name not in wanted:
            unknown.append((address, str(value).strip()))
        elif name in columns:
            first = get_column_letter(columns[name])
            issues.append(Issue(address, f"column {name!r} appears twice (also in {first}1)"))
        else:
            columns[name] = number
    missing = [c.name for c in spec.columns if c.required and c.name not in columns]
    for address, typed in unknown:
        meant = _closest(typed, [n for n in wanted if n not in columns])
        if meant in missing:
            missing.remove(meant)
            issues.append(Issue(address, f"unknown column {typed!r}; did you mean {meant!r}?"))
        else:
            hint = f"; did you mean {meant!r}?" if meant else ""
            issues.append(Issue(address, f"unknown column {typed!r}, ignored{hint}", "warning"))
    for name in missing:
        issues.append(Issue(f"{sheet.title}!1:1", f"missing required column {name!r}"))
    return columns


def _closest(typed: str, names: list[str]) -> str | None:
    """Return the known column name a header resembles (spaces read as underscores), if any."""
    key = re.sub(r"[\s\-]+", "_", typed.strip().lower())
    matches = difflib.get_close_matches(key, names, n=1, cutoff=0.75)
    return matches[0] if matches else None


#: Text columns whose values are matched against ids: spaces in them are worth a warning.
_MATCHED_TEXT = ("element", "target", "supplier")


def _is_identifier(column: Column) -> bool:
    return column.type in ("id", "ref", "code") or (
        column.type == "text" and column.name in _MATCHED_TEXT
    )


def _merged_in_table(
    sheet: RawSheet, columns: dict[str, int]
) -> tuple[list[Issue], set[tuple[int, int]]]:
    """Find merged ranges that overlap the table (its header and rows, its known columns).

    Returns the issues and the (row, column) cells they hide, whose own
    problems would only repeat the merge.
    """
    last_row = max((number for number, _ in sheet.rows), default=1)
    used = set(columns.values())
    issues = []
    hidden: set[tuple[int, int]] = set()
    for merged in sheet.merged:
        first_column, first_row, last_column, final_row = range_boundaries(merged)
        rows_overlap = first_row <= last_row
        columns_overlap = any(c in used for c in range(first_column, last_column + 1))
        if rows_overlap and columns_overlap:
            hidden.update(
                (row, column)
                for row in range(first_row, final_row + 1)
                for column in range(first_column, last_column + 1)
            )
            issues.append(
                Issue(
                    f"{sheet.title}!{merged}",
                    "merged cells inside a table; unmerge them so that each value has its cell",
                )
            )
    return issues, hidden


def _parse_table(
    sheet: RawSheet, spec: Sheet, issues: list[Issue]
) -> tuple[pd.DataFrame, dict[str, str]]:
    columns = _header_map(sheet, spec, issues)
    merged, hidden = _merged_in_table(sheet, columns)
    issues.extend(merged)
    records: list[dict[str, Any]] = []
    for row_number, cells in sheet.rows:
        if not any(number in cells for number in columns.values()):
            continue  # only unknown columns are filled: nothing to read
        record: dict[str, Any] = {ROW: row_number}
        for column in spec.columns:
            number = columns.get(column.name)
            cell = cells.get(number) if number is not None else None
            address = f"{sheet.title}!{get_column_letter(number or 1)}{row_number}"
            value: Any = None
            if cell is not None and cell.formula_without_value:
                issues.append(
                    Issue(address, "formula without a cached value; open and save it in Excel")
                )
            elif cell is not None:
                try:
                    value = _convert(column, cell)
                except _CellError as error:
                    issues.append(Issue(address, f"{column.name} {error}"))
                if isinstance(cell.value, str) and value != cell.value and _is_identifier(column):
                    issues.append(
                        Issue(
                            address,
                            f"{column.name} {cell.value!r} had surrounding or non-breaking "
                            f"spaces; read as {value!r}",
                            "warning",
                        )
                    )
            elif column.required and number is not None and (row_number, number) not in hidden:
                issues.append(Issue(address, f"{column.name} is required"))
            if value is None and column.default is not None and cell is None:
                value = float(column.default) if column.type == "number" else column.default
            record[column.name] = value
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=[ROW, *(c.name for c in spec.columns)])
    letters = {name: get_column_letter(number) for name, number in columns.items()}
    return _typed(frame, spec), letters


def _typed(frame: pd.DataFrame, spec: Sheet) -> pd.DataFrame:
    """Give each column its dtype and index id-keyed tables by their id."""
    frame[ROW] = frame[ROW].astype("Int64")
    for column in spec.columns:
        if column.type == "number":
            frame[column.name] = pd.to_numeric(frame[column.name], errors="coerce").astype(float)
        else:
            frame[column.name] = frame[column.name].astype(object)
    if spec.id_column:
        frame = frame.set_index(spec.id_column, drop=True)
        frame.index.name = spec.id_column
    return frame


def empty_table(sheet_name: str) -> pd.DataFrame:
    """Return an empty, typed table of sheet ``sheet_name``."""
    spec = catalogue().sheet(sheet_name)
    frame = pd.DataFrame({ROW: [], **{c.name: [] for c in spec.columns}})
    return _typed(frame, spec)


def _setting_value(spec: SettingKey, cell: RawCell) -> Any:
    """Convert a Settings value cell to its key's type."""
    if spec.type == "number":
        return to_number(cell.value)
    if spec.type == "codes":
        return tuple(c.strip() for c in to_text(cell.value).split(",") if c.strip())
    if spec.type == "enum":
        value = to_text(cell.value).lower()
        if value not in spec.values:
            raise _CellError(f"must be one of {', '.join(spec.values)}, got {value!r}")
        return value
    return to_text(cell.value)


def _parse_settings(sheet: RawSheet | None, source: Source, issues: list[Issue]) -> Settings:
    settings = Settings()
    if sheet is None:
        return settings
    header = {_normal(value): number for number, value in sheet.header}
    for name in ("key", "value"):
        if name not in header:
            issues.append(Issue(f"{sheet.title}!1:1", f"missing required column {name!r}"))
    if "key" not in header or "value" not in header:
        return settings
    known = {s.key: s for s in catalogue().settings}
    key_column, value_column = header["key"], header["value"]
    seen: dict[str, str] = {}
    for row_number, cells in sheet.rows:
        key_cell = cells.get(key_column)
        if key_cell is None:
            continue
        key_address = f"{sheet.title}!{get_column_letter(key_column)}{row_number}"
        address = f"{sheet.title}!{get_column_letter(value_column)}{row_number}"
        key = _normal(key_cell.value)
        if key not in known:
            issues.append(Issue(key_address, f"unknown setting {key!r}, ignored", "warning"))
            continue
        if key in seen:
            issues.append(Issue(key_address, f"setting {key!r} given twice (also {seen[key]})"))
            continue
        seen[key] = key_address
        source.settings_cells[key] = address
        cell = cells.get(value_column)
        if cell is None:
            continue  # blank: the default applies
        if cell.formula_without_value:
            issues.append(
                Issue(address, "formula without a cached value; open and save it in Excel")
            )
            continue
        try:
            value = _setting_value(known[key], cell)
        except _CellError as error:
            issues.append(Issue(address, f"{key} {error}"))
            continue
        setattr(settings, key, value)
    return settings


def parse_workbook(raw: RawWorkbook) -> tuple[Case, list[Issue]]:
    """Turn raw cells into a typed :class:`Case`, with every cell-level issue."""
    issues: list[Issue] = list(raw.issues)
    sheets = _find_sheets(raw, issues)
    source = Source(path=raw.path, sha256=raw.sha256)
    source.titles = {name: sheet.title for name, sheet in sheets.items()}
    settings = _parse_settings(sheets.get("Settings"), source, issues)
    tables: dict[str, pd.DataFrame] = {}
    for spec in catalogue().sheets:
        if spec.name == "Settings":
            continue
        sheet = sheets.get(spec.name)
        if sheet is None:
            if spec.required:
                issues.append(Issue(spec.name, "required sheet is missing"))
            tables[spec.name] = empty_table(spec.name)
            continue
        tables[spec.name], source.columns[spec.name] = _parse_table(sheet, spec, issues)
    if tables["Scenarios"].empty:
        tables["Scenarios"] = default_scenarios()
    by_attribute: dict[str, Any] = {TABLES[name]: table for name, table in tables.items()}
    case = Case(settings=settings, source=source, **by_attribute)
    return case, issues


def default_scenarios() -> pd.DataFrame:
    """One scenario ``base`` with probability 1 (no Scenarios sheet, or no rows)."""
    frame = pd.DataFrame({ROW: [pd.NA], "scenario": ["base"], "probability": [1.0]})
    return _typed(frame, catalogue().sheet("Scenarios"))


# --------------------------------------------------------------------------
# Stage 2: checks on a typed case
# --------------------------------------------------------------------------


def _input_sheets() -> Iterator[Sheet]:
    """Every input sheet of the catalogue that holds a table (all but Settings)."""
    return (spec for spec in catalogue().sheets if spec.name != "Settings")


def check_columns(case: Case) -> list[Issue]:
    """Check required values, number ranges, enumerations and unique ids."""
    where = Locator(case)
    issues: list[Issue] = []
    for spec in _input_sheets():
        table = case.table(spec.name)
        if spec.id_column and table.index.has_duplicates:
            for label in table.index[table.index.duplicated()].unique():
                rows = table.loc[[label], ROW].dropna().astype(int).tolist()
                cells = ", ".join(
                    f"{case.source.columns.get(spec.name, {}).get(spec.id_column, 'A')}{r}"
                    for r in rows
                )
                issues.append(
                    Issue(
                        f"{where.title(spec.name)}!{cells.split(', ')[-1]}"
                        if rows
                        else where.title(spec.name),
                        f"duplicate {spec.id_column} {label!r} (rows {cells}); ids must be unique",
                    )
                )
            table = table[~table.index.duplicated()]
        read = case.source.columns.get(spec.name)
        for column in spec.columns:
            if read is not None and column.name not in read and column.name != table.index.name:
                continue  # not in the sheet at all: its header was reported, not every row
            for label, value in _column_values(table, column):
                message = _column_problem(column, value)
                if message:
                    issues.append(Issue(where.cell(spec.name, column.name, label), message))
    return issues


def _column_values(table: pd.DataFrame, column: Column) -> Iterable[tuple[Any, Any]]:
    if column.name == table.index.name:
        return ((label, label) for label in table.index)
    if column.name not in table.columns:
        return ()
    return table[column.name].items()


def _column_problem(column: Column, value: Any) -> str | None:
    if _is_blank(value) or (isinstance(value, str) and not value):
        return f"{column.name} is required" if column.required else None
    if column.type == "number":
        if not isinstance(value, int | float | np.number) or isinstance(value, bool):
            return f"{column.name} must be a number, got {_describe(value)}"
        number = float(value)
        if not math.isfinite(number):
            return f"{column.name} must be a finite number, got {number:g}"
        if column.min is not None and (
            number <= column.min if column.min_strict else number < column.min
        ):
            return f"{column.name} must be {column.lower_text()}, got {number:g}"
        if column.max is not None and number > column.max:
            hint = _MAGNITUDE_HINT if column.max >= _MAGNITUDE else ""
            return f"{column.name} must be {column.upper_text()}, got {number:g}{hint}"
    elif column.type == "enum" and value not in column.values:
        return f"{column.name} must be one of {', '.join(column.values)}, got {value!r}"
    return None


def check_settings(case: Case) -> list[Issue]:
    """Every Settings value in its range."""
    where = Locator(case)
    issues: list[Issue] = []
    for spec in catalogue().settings:
        value = getattr(case.settings, spec.key)
        if spec.type == "number":
            number = float(value)
            low_bad = spec.min is not None and (
                number <= spec.min if spec.min_strict else number < spec.min
            )
            high_bad = spec.max is not None and (
                number >= spec.max if spec.max_strict else number > spec.max
            )
            if low_bad or high_bad:
                issues.append(
                    Issue(
                        where.setting(spec.key),
                        f"{spec.key} must be {spec.bounds_text()}, got {number:g}",
                    )
                )
        elif spec.type == "enum" and value not in spec.values:
            issues.append(
                Issue(
                    where.setting(spec.key),
                    f"{spec.key} must be one of {', '.join(spec.values)}, got {value!r}",
                )
            )
        elif spec.type == "codes" and not value and spec.default:
            issues.append(Issue(where.setting(spec.key), f"{spec.key} needs at least one code"))
    return issues


def check_references(case: Case) -> list[Issue]:
    """Every reference to another sheet names a row that exists there."""
    where = Locator(case)
    issues: list[Issue] = []
    for spec in _input_sheets():
        table = case.table(spec.name)
        for column in spec.columns:
            if column.type != "ref" or column.ref is None:
                continue
            known = set(case.table(column.ref).index)
            for label, value in table[column.name].items():
                if isinstance(value, str) and value and value not in known:
                    issues.append(
                        Issue(
                            where.cell(spec.name, column.name, label),
                            f"unknown {column.name} {value!r}: not in {where.title(column.ref)}"
                            f"{_suggest(value, known)}",
                        )
                    )
    return issues


def _suggest(value: str, known: Iterable[Any]) -> str:
    matches = [str(k) for k in known if str(k).lower() == value.lower()]
    if matches:
        return f" (ids are case-sensitive: did you mean {matches[0]!r}?)"
    return ""


def check_structure(case: Case) -> list[Issue]:
    """At least one period and one element; reserved ids unused."""
    where = Locator(case)
    issues: list[Issue] = []
    for sheet in ("Periods", "Elements"):
        if case.table(sheet).empty and sheet in case.source.titles:
            issues.append(Issue(where.title(sheet), "needs at least one row"))
    for element in case.elements.index:
        if element in RESERVED_ELEMENT_IDS:
            issues.append(
                Issue(
                    where.cell("Elements", "element", element),
                    f"{element!r} is reserved and cannot be an element id",
                )
            )
    return issues


def _period_position(case: Case) -> dict[str, int]:
    return {p: i for i, p in enumerate(case.periods.index)}


def _check_window(case: Case, sheet: str, issues: list[Issue]) -> None:
    where = Locator(case)
    position = _period_position(case)
    table = case.table(sheet)
    for label, record in _records(table):
        first, last = record["first_period"], record["last_period"]
        if first in position and last in position and position[first] > position[last]:
            issues.append(
                Issue(
                    where.cell(sheet, "last_period", label),
                    f"last_period {last!r} is before first_period {first!r}",
                )
            )


def check_stock(case: Case) -> list[Issue]:
    """Storage capacity not below the initial stock."""
    where = Locator(case)
    issues: list[Issue] = []
    for element, record in _records(case.elements):
        capacity, initial = record["storage_capacity"], record["initial_stock"]
        if not _is_blank(capacity) and not _is_blank(initial) and initial > capacity:
            issues.append(
                Issue(
                    where.cell("Elements", "storage_capacity", element),
                    f"storage_capacity {capacity:g} is below initial_stock {initial:g}",
                )
            )
    return issues


def check_demand(case: Case) -> list[Issue]:
    """At most one Demand row per (element, period)."""
    where = Locator(case)
    issues: list[Issue] = []
    demand = case.demand.dropna(subset=["element", "period"])  # blanks are reported already
    first_of = demand.reset_index().groupby(["element", "period"])["index"].first()
    duplicated = demand.duplicated(subset=["element", "period"], keep="first")
    for label in demand.index[duplicated]:
        element: Any = demand.at[label, "element"]
        period: Any = demand.at[label, "period"]
        first = first_of[(element, period)]
        issues.append(
            Issue(
                where.row("Demand", label),
                f"duplicate demand for ({element}, {period}); first given at "
                f"{where.row('Demand', first)}",
            )
        )
    return issues


def check_offers(case: Case) -> list[Issue]:
    """min_take within capacity, a sane window, and a risk for every offer."""
    where = Locator(case)
    issues: list[Issue] = []
    countries = set(case.countries.index)
    for offer, record in _records(case.offers):
        minimum, capacity = record["min_take"], record["capacity"]
        if (
            not _is_blank(minimum)
            and not _is_blank(capacity)
            and minimum > 0
            and capacity >= 0
            and minimum > capacity
        ):
            issues.append(
                Issue(
                    where.cell("Offers", "min_take", offer),
                    f"min_take {record['min_take']:g} is above capacity {record['capacity']:g}",
                )
            )
        if _is_blank(record["risk"]):
            for column in ("country", "mine_country", "refine_country"):
                code = record[column]
                if isinstance(code, str) and code and code not in countries:
                    issues.append(
                        Issue(
                            where.cell("Offers", column, offer),
                            f"risk is blank and {column} {code!r} is not in Countries; "
                            "add it to Countries or give the offer a risk",
                        )
                    )
    _check_window(case, "Offers", issues)
    return issues


def check_offer_periods(case: Case) -> list[Issue]:
    """One override per (offer, period); overrides outside the window have no effect."""
    where = Locator(case)
    issues: list[Issue] = []
    table = case.offer_periods
    position = _period_position(case)
    horizon = (0, len(position) - 1)
    for label in table.index[table.duplicated(subset=["offer", "period"], keep="first")]:
        issues.append(
            Issue(
                where.row("OfferPeriods", label),
                f"duplicate override for ({table.loc[label, 'offer']}, "
                f"{table.loc[label, 'period']})",
            )
        )
    for label, record in _records(table):
        offer, period = record["offer"], record["period"]
        if offer not in case.offers.index or period not in position:
            continue
        first, last = _window(case.offers.loc[offer], position, horizon)
        if not first <= position[period] <= last:
            issues.append(
                Issue(
                    where.cell("OfferPeriods", "period", label),
                    f"{period} is outside the delivery window of {offer}; no effect",
                    "warning",
                )
            )
    return issues


def _window(
    record: pd.Series, position: dict[str, int], horizon: tuple[int, int]
) -> tuple[int, int]:
    first = position.get(record["first_period"], horizon[0])
    last = position.get(record["last_period"], horizon[1])
    return first, last


def check_activities(case: Case) -> list[Issue]:
    """Activities have yields of the right sign; yields name known activities."""
    where = Locator(case)
    issues: list[Issue] = []
    _check_window(case, "Activities", issues)
    yields = case.activity_yields
    if not case.activities.empty and yields.empty and "ActivityYields" not in case.source.titles:
        issues.append(Issue("ActivityYields", "required sheet is missing (Activities has rows)"))
    for label in yields.index[yields.duplicated(subset=["activity", "element"], keep="first")]:
        issues.append(
            Issue(
                where.row("ActivityYields", label),
                f"duplicate yield for ({yields.loc[label, 'activity']}, "
                f"{yields.loc[label, 'element']})",
            )
        )
    kinds = case.activities["kind"].to_dict()
    for label, record in _records(yields):
        kind, value = kinds.get(record["activity"]), record["yield"]
        if _is_blank(value) or kind is None:
            continue
        if kind == "recycling" and value <= 0:
            issues.append(
                Issue(
                    where.cell("ActivityYields", "yield", label),
                    f"yield of recycling must be > 0, got {value:g}",
                )
            )
        elif kind == "substitution" and value == 0:
            issues.append(
                Issue(
                    where.cell("ActivityYields", "yield", label),
                    "yield of substitution must not be 0 (> 0 avoids demand, < 0 adds it)",
                )
            )
    with_yields = set(yields["activity"])
    for activity in case.activities.index:
        if activity not in with_yields and not yields.empty:
            issues.append(
                Issue(
                    where.row("Activities", activity),
                    f"activity {activity!r} has no ActivityYields rows; it has no effect",
                    "warning",
                )
            )
    return issues


def _policy_target(
    where: Locator, label: Any, policy: str, element: Any, elements: set[Any]
) -> list[Issue]:
    if not (isinstance(element, str) and element):
        return []
    if element == "TOTAL" and policy not in POOLABLE_POLICIES:
        message = f"TOTAL applies to {', '.join(POOLABLE_POLICIES)} only, not {policy}"
    elif element != "TOTAL" and element not in elements:
        suggestion = _suggest(element, [*elements, "TOTAL"])
        message = f"unknown element {element!r}: not in Elements{suggestion}"
    else:
        return []
    return [Issue(where.cell("Policies", "element", label), message)]


def _policy_targets(element: Any, elements: set[Any]) -> list[Any]:
    return [element] if isinstance(element, str) and element else sorted(elements)


def _min_offers_value(
    where: Locator, label: Any, record: pd.Series, elements: set[Any], offers: dict[Any, int]
) -> list[Issue]:
    issues: list[Issue] = []
    value, period = record["value"], record["period"]
    if isinstance(period, str) and period:
        issues.append(
            Issue(
                where.cell("Policies", "period", label),
                "period must be blank for min_offers (it is a horizon-wide rule)",
            )
        )
    if value < 0 or not float(value).is_integer():
        message = f"min_offers must be a whole number >= 0, got {value:g}"
        return [*issues, Issue(where.cell("Policies", "value", label), message)]
    for target in _policy_targets(record["element"], elements):
        count = offers.get(target, 0)
        if target in elements and value > count:
            issues.append(
                Issue(
                    where.cell("Policies", "value", label),
                    f"min_offers {value:g} for {target} but it has only "
                    f"{count} offer{'s' if count != 1 else ''}",
                )
            )
    return issues


def _share_value(
    where: Locator, label: Any, record: pd.Series, elements: set[Any], offers: dict[Any, int]
) -> list[Issue]:
    policy, value = record["policy"], record["value"]
    if not 0 <= value <= 1:
        message = f"{policy} must be in [0, 1], got {value:g}"
        return [Issue(where.cell("Policies", "value", label), message)]
    if policy != Policy.OFFER_SHARE_MAX:
        return []
    issues = []
    for target in _policy_targets(record["element"], elements):
        count = offers.get(target, 0)
        if count and value < 1 / count - 1e-12:
            issues.append(
                Issue(
                    where.cell("Policies", "value", label),
                    f"offer_share_max {value:g} is below 1/{count} for {target} "
                    f"({count} offers): it forces shortage",
                    "warning",
                )
            )
    return issues


def check_policies(case: Case) -> list[Issue]:
    """Check that policy rows name valid targets, hold valid values and are not repeated."""
    where = Locator(case)
    issues: list[Issue] = []
    table = case.policies
    elements = set(case.elements.index)
    offers = checks.offers_per_element(case)
    for label, record in _records(table):
        policy = record["policy"]
        if _is_blank(policy) or _is_blank(record["value"]):
            continue
        issues += _policy_target(where, label, policy, record["element"], elements)
        check = _min_offers_value if policy == Policy.MIN_OFFERS else _share_value
        issues += check(where, label, record, elements, offers)
    keys = table[["policy", "element", "period"]].fillna("")
    keys.insert(1, "basis", policy_bases(table, case.settings.china_basis))
    for label in table.index[keys.duplicated(keep="first")]:
        policy, basis, element, period = keys.loc[label]
        on = f" on basis {basis}" if basis else ""
        issues.append(
            Issue(
                where.row("Policies", label),
                f"the same ({policy}, {element or 'blank'}, {period or 'blank'}){on} "
                "is given twice",
            )
        )
    return issues


def check_scenarios(case: Case) -> list[Issue]:
    """Probabilities sum to 1 (within 1e-6; used as given, not rescaled)."""
    where = Locator(case)
    probabilities = case.scenarios["probability"].dropna()
    total = float(probabilities.sum())
    if len(probabilities) == len(case.scenarios) and abs(total - 1) > _PROBABILITY_TOLERANCE:
        return [
            Issue(
                where.column_range("Scenarios", "probability"),
                f"probabilities sum to {total:.10g}; they must sum to 1",
            )
        ]
    return []


def check_disruptions(case: Case) -> list[Issue]:
    """Targets exist for their type; element filters are elements or groups."""
    where = Locator(case)
    issues: list[Issue] = []
    _check_window(case, "Disruptions", issues)
    elements = set(case.elements.index)
    universe = {
        "offer": set(case.offers.index),
        "activity": set(case.activities.index),
        "supplier": set(case.offers["supplier"].dropna()) | set(case.offers.index),
        "country": set(case.offers[["country", "mine_country", "refine_country"]].stack().dropna())
        | set(case.activities["country"].dropna()),
    }
    for label, record in _records(case.disruptions):
        target_type, target, element = record["target_type"], record["target"], record["element"]
        if _is_blank(target_type):
            continue  # reported as required
        blank_target = not (isinstance(target, str) and target)
        if target_type == "demand":
            if not blank_target:
                issues.append(
                    Issue(
                        where.cell("Disruptions", "target", label),
                        "target must be blank for target_type demand",
                        "warning",
                    )
                )
        elif blank_target:
            issues.append(
                Issue(
                    where.row("Disruptions", label),
                    f"target is required for target_type {target_type}",
                )
            )
        elif target not in universe[target_type]:
            severity = "error" if target_type in ("offer", "activity") else "warning"
            sheet = "Offers" if target_type != "activity" else "Activities"
            issues.append(
                Issue(
                    where.cell("Disruptions", "target", label),
                    f"{target_type} {target!r} matches nothing in {where.title(sheet)}"
                    f"{_suggest(target, universe[target_type])}",
                    severity,
                )
            )
        if (
            isinstance(element, str)
            and element
            and element not in elements
            and element.lower() not in ("light", "heavy")
        ):
            issues.append(
                Issue(
                    where.cell("Disruptions", "element", label),
                    f"element must be blank, an element id, light or heavy; got {element!r}"
                    f"{_suggest(element, elements)}",
                )
            )
    return issues


def check_sweep(case: Case) -> list[Issue]:
    """Each Sweep row names a value of this case and values that can be read."""
    where = Locator(case)
    issues: list[Issue] = []
    for label, record in _records(case.sweep):
        name, values = record["change"], record["values"]
        if _is_blank(name) or _is_blank(values):
            continue  # reported as required
        try:
            tried = parse_values(str(values))
        except ChangeError as error:
            issues.append(Issue(where.cell("Sweep", "values", label), str(error)))
            tried = []
        if not tried:
            issues.append(Issue(where.cell("Sweep", "values", label), "no values to try"))
            continue
        try:
            overridden = apply_change(case.copy(), str(name), tried[0])
        except ChangeError as error:
            issues.append(Issue(where.cell("Sweep", "change", label), str(error)))
            continue
        issues += [
            Issue(where.cell("Sweep", "change", label), text, "warning") for text in overridden
        ]
    return issues


#: Checks of single cells and Settings values: they see every row as read.
CELL_CHECKS = (check_columns, check_settings)

#: Checks within and across sheets: they see each id once (see :func:`unique_ids`).
CROSS_CHECKS = (
    check_structure,
    check_references,
    check_stock,
    check_demand,
    check_offers,
    check_offer_periods,
    check_activities,
    check_policies,
    check_scenarios,
    check_disruptions,
    check_sweep,
    *checks.CHECKS,
)


def unique_ids(case: Case) -> Case:
    """Return a view of ``case`` whose id-keyed tables hold each id once.

    A blank or repeated id is an error that :func:`check_columns` reports with
    its cells. The rows left out here (every blank id, every repeat after the
    first) would otherwise make an id stand for several rows, and a lookup by
    id return a table where a check expects one record. The tables are
    filtered copies; ``case`` itself is not changed.
    """
    view = copy.copy(case)  # shares everything but the tables replaced below
    for spec in _input_sheets():
        if not spec.id_column:
            continue
        table = case.table(spec.name)
        index = table.index
        given = ~pd.isna(index) & (index.astype(str) != "")
        keep = given & ~index.duplicated(keep="first")
        if not keep.all():
            setattr(view, TABLES[spec.name], table[keep])
    return view


def check_case(case: Case) -> list[Issue]:
    """Run every check on ``case``; return all issues (errors and warnings)."""
    issues: list[Issue] = []
    for check in CELL_CHECKS:
        issues.extend(check(case))
    view = unique_ids(case)
    for check in CROSS_CHECKS:
        issues.extend(check(view))
    return issues


def merge_issues(parsed: Iterable[Issue], checked: Iterable[Issue]) -> list[Issue]:
    """Join the issues of both stages, without reporting a cell twice.

    A cell that failed to parse is blank in the case, so the checks may
    report it again (``is required``); the parse message is the useful one.
    """
    result = list(dict.fromkeys(parsed))
    parse_errors = {i.where for i in result if i.severity == "error"}
    for issue in result:
        parse_errors.update(_cells_of_range(issue.where))
    for issue in dict.fromkeys(checked):
        if issue.severity == "error" and issue.where in parse_errors:
            continue
        result.append(issue)
    return result


def _cells_of_range(where: str) -> list[str]:
    """``Sheet!A3:B4`` -> the four cell addresses; anything else -> nothing."""
    sheet, _, cells = where.rpartition("!")
    if not sheet or ":" not in cells or not cells[0].isalpha():
        return []
    first_column, first_row, last_column, last_row = range_boundaries(cells)
    return [
        f"{sheet}!{get_column_letter(column)}{row}"
        for row in range(first_row, last_row + 1)
        for column in range(first_column, last_column + 1)
    ]
