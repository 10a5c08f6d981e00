"""Read an input workbook into raw tables: cells with their coordinates.

No business logic lives here: values are passed on as Excel stored them
(numbers, text, dates, booleans), with the number format and the cell's
address, so that validation can name the cell of every problem.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from planner.errors import InputError, Issue

_OTHER_FORMATS = {".xls", ".ods", ".xlsb", ".numbers", ".csv"}


@dataclass(frozen=True)
class RawCell:
    """A cell as Excel stored it."""

    value: Any
    number_format: str = "General"
    formula_without_value: bool = False


@dataclass
class RawSheet:
    """One worksheet: the header row and the non-blank rows below it."""

    title: str
    header: list[tuple[int, Any]]  # (column number, header value)
    rows: list[tuple[int, dict[int, RawCell]]]  # (Excel row, column number -> cell)
    hidden: bool = False

    @staticmethod
    def address(column: int, row: int) -> str:
        """Return the A1 address of a cell, e.g. ``F7``."""
        return f"{get_column_letter(column)}{row}"


@dataclass
class RawWorkbook:
    """Every worksheet of a workbook, by title, with the file's hash."""

    path: str
    sha256: str
    sheets: dict[str, RawSheet] = field(default_factory=dict)


def read_workbook(path: str | Path) -> RawWorkbook:
    """Read every worksheet of an ``.xlsx``/``.xlsm`` file as raw cells.

    Raises
    ------
    InputError
        When the file is missing, unreadable or not an ``.xlsx`` workbook.
    """
    path = Path(path)
    name = path.name
    if path.suffix.lower() in _OTHER_FORMATS:
        raise InputError(
            [Issue(name, f"'{path.suffix}' files are not read: save it as .xlsx")], str(path)
        )
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise InputError([Issue(name, "file not found")], str(path)) from None
    except OSError as error:
        message = f"cannot read the file: {error.strerror}"
        raise InputError([Issue(name, message)], str(path)) from None
    digest = hashlib.sha256(content).hexdigest()
    workbook = _open(content, name, data_only=False)
    raw = RawWorkbook(path=str(path), sha256=digest)
    formula_cells: dict[str, set[tuple[int, int]]] = {}
    for worksheet in workbook.worksheets:
        sheet, formulas = _read_sheet(worksheet)
        raw.sheets[sheet.title] = sheet
        if formulas:
            formula_cells[sheet.title] = formulas
    workbook.close()
    if formula_cells:
        _fill_cached_values(raw, _open(content, name, data_only=True), formula_cells)
    return raw


def _open(content: bytes, name: str, data_only: bool) -> Any:
    try:
        return openpyxl.load_workbook(
            io.BytesIO(content), read_only=True, data_only=data_only, keep_links=False
        )
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        raise InputError(
            [Issue(name, "not an .xlsx workbook (open it in Excel and save it as .xlsx)")], name
        ) from None


def _read_sheet(worksheet: Any) -> tuple[RawSheet, set[tuple[int, int]]]:
    header: list[tuple[int, Any]] = []
    rows: list[tuple[int, dict[int, RawCell]]] = []
    formulas: set[tuple[int, int]] = set()
    for row_number, row in enumerate(worksheet.iter_rows(), start=1):
        cells: dict[int, RawCell] = {}
        for column_number, cell in enumerate(row, start=1):
            value = getattr(cell, "value", None)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if getattr(cell, "data_type", None) == "f":
                formulas.add((row_number, column_number))
            cells[column_number] = RawCell(value, getattr(cell, "number_format", "General"))
        if row_number == 1:
            header = sorted((c, cell.value) for c, cell in cells.items())
        elif cells:
            rows.append((row_number, cells))
    hidden = getattr(worksheet, "sheet_state", "visible") != "visible"
    return RawSheet(worksheet.title, header, rows, hidden), formulas


def _fill_cached_values(
    raw: RawWorkbook, workbook: Any, formula_cells: dict[str, set[tuple[int, int]]]
) -> None:
    for title, wanted in formula_cells.items():
        cached: dict[tuple[int, int], Any] = {}
        for row_number, row in enumerate(workbook[title].iter_rows(), start=1):
            for column_number, cell in enumerate(row, start=1):
                if (row_number, column_number) in wanted:
                    cached[(row_number, column_number)] = getattr(cell, "value", None)
        sheet = raw.sheets[title]
        header = dict(sheet.header)
        rows = dict(sheet.rows)
        for row_number, column_number in wanted:
            value = cached.get((row_number, column_number))
            blank = value is None or (isinstance(value, str) and not value.strip())
            if row_number == 1:
                header[column_number] = value
                continue
            old = rows[row_number][column_number]
            rows[row_number][column_number] = RawCell(
                None if blank else value, old.number_format, formula_without_value=blank
            )
        sheet.header = sorted(header.items())
    workbook.close()
