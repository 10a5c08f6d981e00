"""Parsing: raw cells -> a typed case (the first stage of validation).

:func:`parse_workbook` turns raw cells into typed tables, driven by the
schema catalogue, reporting every cell that is not of its column's type
(text where a number belongs, a formula with no cached value, a blank
required cell, ...) as ``Sheet!CELL``. The checks of the typed case are in
:mod:`planner.checks`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd
from openpyxl.utils import get_column_letter, range_boundaries

from planner.data import ROW, TABLES, Case, Settings, Source
from planner.errors import Issue
from planner.io.reader import RawCell, RawSheet, RawWorkbook
from planner.schema import (
    DOCUMENTATION_SHEETS,
    Column,
    SettingKey,
    Sheet,
    catalogue,
)

_NUMERIC_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


#: Spellings a yes/no column also accepts.
_YES_NO = {"true": "yes", "1": "yes", "false": "no", "0": "no"}


class _CellError(ValueError):
    """A cell value that is not of its column's type."""


# --------------------------------------------------------------------------
# Cell conversion
# --------------------------------------------------------------------------


def describe(value: Any) -> str:
    """Show a cell value in a message: TRUE/FALSE, a date/time named, text quoted."""
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
        raise _CellError(f"got {describe(value)}; type the id as text")
    return str(value).replace("\xa0", " ").strip()


def to_number(value: Any) -> float:
    """Read a cell as a number: a number, or numeric text such as ``'418.3'``."""
    if isinstance(value, bool | dt.datetime | dt.date | dt.time):
        raise _CellError(f"must be a number, got {describe(value)}")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        percent = text.endswith("%")
        body = text[:-1].strip() if percent else text
        if not _NUMERIC_TEXT.match(body):
            raise _CellError(f"must be a number, got {describe(value)}")
        number = float(body) / (100.0 if percent else 1.0)
    if not math.isfinite(number):
        raise _CellError(f"must be a finite number, got {describe(value)}")
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
_MATCHED_TEXT = ("element", "target", "supplier", "event", "group")


def _is_identifier(column: Column) -> bool:
    return column.type in ("id", "ref", "code") or (
        column.type == "text" and column.name in _MATCHED_TEXT
    )


def _merged_in_table(sheet: RawSheet, columns: dict[str, int]) -> tuple[list[Issue], Spans]:
    """Find merged ranges that overlap the table (its header and rows, its known columns).

    Returns the issues and the cells they hide, whose own problems would
    only repeat the merge: row spans per column, worked out from the range
    bounds (a merge can cover a whole sheet, 268 million cells).
    """
    last_row = max((number for number, _ in sheet.rows), default=1)
    boxes = [range_boundaries(merged) for merged in sheet.merged]
    hidden = row_spans(boxes, columns.values(), last_row)
    issues = [
        Issue(
            f"{sheet.title}!{merged}",
            "merged cells inside a table; unmerge them so that each value has its cell",
        )
        for merged, (first_column, first_row, last_column, _) in zip(
            sheet.merged, boxes, strict=True
        )
        if first_row <= last_row
        and any(first_column <= column <= last_column for column in columns.values())
    ]
    return issues, hidden


#: Column -> (first rows, last rows) of sorted, disjoint row spans.
Spans = dict[int, tuple[list[int], list[int]]]


def row_spans(boxes: Iterable[Any], columns: Iterable[int], last_row: float = math.inf) -> Spans:
    """Return the rows that ``boxes`` cover in each of ``columns``, up to ``last_row``.

    A box is (first column, first row, last column, last row), as
    ``range_boundaries`` gives it.
    """
    wanted = sorted(set(columns))
    found: dict[int, list[tuple[int, int]]] = {}
    for first_column, first_row, last_column, final_row in boxes:
        if first_row > last_row:
            continue
        low, high = bisect_left(wanted, first_column), bisect_right(wanted, last_column)
        for column in wanted[low:high]:
            found.setdefault(column, []).append((first_row, int(min(final_row, last_row))))
    spans: Spans = {}
    for column, pairs in found.items():
        firsts: list[int] = []
        lasts: list[int] = []
        for first, last in sorted(pairs):
            if lasts and first <= lasts[-1] + 1:
                lasts[-1] = max(lasts[-1], last)
            else:
                firsts.append(first)
                lasts.append(last)
        spans[column] = (firsts, lasts)
    return spans


def covers(spans: Spans, row: int, column: int) -> bool:
    """Return whether a cell lies in one of the row spans of its column."""
    firsts, lasts = spans.get(column, ([], []))
    index = bisect_right(firsts, row) - 1
    return index >= 0 and row <= lasts[index]


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
            elif column.required and number is not None and not covers(hidden, row_number, number):
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


def input_sheets() -> Iterator[Sheet]:
    """Every input sheet of the catalogue that holds a table (all but Settings)."""
    return (spec for spec in catalogue().sheets if spec.name != "Settings")
