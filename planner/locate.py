"""Name the workbook cell of a value of a case: ``Sheet!F7``, for every message."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pandas as pd

from planner.data import ROW, Case


def is_blank(value: Any) -> bool:
    """Return True for an empty cell as a case holds it (None, NaN, NA)."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def records(table: pd.DataFrame) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(label, record) of every row of a table; a record maps column to value.

    Plain dictionaries, not ``iterrows``'s Series: a row's values keep their
    column's type (an integer column is not made float by a float beside it),
    and a sweep validates every variant, where ``iterrows`` was a third of
    the checks' time.
    """
    columns = list(table.columns)
    if not columns:
        yield from ((label, {}) for label in table.index)
        return
    values = [table.iloc[:, k].tolist() for k in range(len(columns))]  # Python scalars
    for label, row in zip(table.index, zip(*values, strict=True), strict=True):
        yield label, dict(zip(columns, row, strict=True))


class Locator:
    """Names the cell of a value in the workbook (or the record, if added in Python)."""

    def __init__(self, case: Case) -> None:
        self.case = case

    def title(self, sheet: str) -> str:
        """Return the sheet's title as spelled in the workbook."""
        return self.case.source.titles.get(sheet, sheet)

    def row_of(self, sheet: str, label: Any) -> int | None:
        """Return the Excel row of a record (None if added in Python)."""
        table = self.case.table(sheet)
        row: Any = table.at[label, ROW] if ROW in table.columns else None
        if isinstance(row, pd.Series):  # duplicate ids: take the first
            row = row.iloc[0]
        return None if row is None or pd.isna(row) else int(row)

    def cell(self, sheet: str, column: str, label: Any) -> str:
        """Return ``Sheet!F7`` for a record's column (or the row, or the record)."""
        row = self.row_of(sheet, label)
        letter = self.case.source.columns.get(sheet, {}).get(column)
        if row is None:
            return f"{self.title(sheet)}[{label}].{column}"
        if letter is None:
            return f"{self.title(sheet)}!{row}:{row}"
        return f"{self.title(sheet)}!{letter}{row}"

    def row(self, sheet: str, label: Any) -> str:
        """Return ``Sheet!7:7`` for a record."""
        row = self.row_of(sheet, label)
        return f"{self.title(sheet)}!{row}:{row}" if row else f"{self.title(sheet)}[{label}]"

    def column_range(self, sheet: str, column: str) -> str:
        """Return ``Sheet!B2:B9``, the cells of a column."""
        rows = [int(r) for r in self.case.table(sheet)[ROW].dropna()]
        letter = self.case.source.columns.get(sheet, {}).get(column)
        if not rows or letter is None:
            return self.title(sheet)
        return f"{self.title(sheet)}!{letter}{min(rows)}:{letter}{max(rows)}"

    def setting(self, key: str) -> str:
        """Return the cell of a Settings value."""
        return self.case.source.settings_cells.get(key, f"Settings[{key}]")
