"""Read an input workbook into raw tables: cells with their coordinates.

No business logic lives here: values are passed on as Excel stored them
(numbers, text, dates, booleans), with the number format and the cell's
address, so that validation can name the cell of every problem.

Whatever arrives is inspected before any XML is parsed: the zip directory
gives the unpacked sizes, the ratio, the number of parts and of sheets, and
anything beyond :class:`~planner.io.limits.ReaderLimits` is refused. XML is
parsed by defusedxml (entity expansion and external entities are refused),
rows are read up to a limit, and a long run of blank rows (formatting to the
last row) ends a sheet with a warning.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.parsers.expat import ExpatError

import openpyxl
import openpyxl.xml
from defusedxml import DefusedXmlException
from openpyxl.utils.exceptions import InvalidFileException

from planner.errors import InputError, Issue
from planner.io.limits import MB, ReaderLimits

if not openpyxl.xml.DEFUSEDXML:  # pragma: no cover - guarded by the dependency list
    raise ImportError("defusedxml must be installed (and OPENPYXL_DEFUSEDXML not False)")

_OTHER_FORMATS = {".xls", ".ods", ".xlsb", ".numbers", ".csv"}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_NOT_XLSX = "not an .xlsx workbook"
#: What openpyxl and zipfile raise on damaged parts: a corrupt deflate stream,
#: malformed XML (a SyntaxError), missing parts or attributes, bad values.
_DAMAGED = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    ElementTree.ParseError,
    ExpatError,
    EOFError,
    OSError,
    KeyError,
    IndexError,
    AttributeError,
    TypeError,
    ValueError,
    UnicodeDecodeError,
)
_ENTITIES = f"{_NOT_XLSX} (it declares XML entities or external references; refused)"
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)"')


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
    merged: list[str] = field(default_factory=list)  # merged ranges, e.g. "A5:B6"


@dataclass
class RawWorkbook:
    """Every worksheet of a workbook, by title, with the file's hash."""

    path: str
    sha256: str
    sheets: dict[str, RawSheet] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)  # warnings of the reader itself


def _refuse(name: str, message: str, path: Path) -> InputError:
    return InputError([Issue(name, message)], str(path))


def read_workbook(path: str | Path, limits: ReaderLimits | None = None) -> RawWorkbook:
    """Read every worksheet of an ``.xlsx``/``.xlsm`` file as raw cells.

    Raises
    ------
    InputError
        When the file is missing, unreadable, not an ``.xlsx`` workbook, or
        beyond the limits.
    """
    limits = limits or ReaderLimits.from_environment()
    path = Path(path)
    name = path.name
    if path.suffix.lower() in _OTHER_FORMATS:
        raise _refuse(name, f"'{path.suffix}' files are not read: save it as .xlsx", path)
    content = _read_bytes(path, limits)
    members = _inspect_archive(content, name, path, limits)
    raw = RawWorkbook(path=str(path), sha256=hashlib.sha256(content).hexdigest())
    try:
        _read_sheets(raw, content, name, members, limits)
    except DefusedXmlException:
        raise _refuse(name, _ENTITIES, path) from None
    except _DAMAGED as error:
        if _defused(error):
            raise _refuse(name, _ENTITIES, path) from None
        raise _refuse(name, f"{_NOT_XLSX} (damaged: {_first_line(error)})", path) from None
    return raw


def _read_bytes(path: Path, limits: ReaderLimits) -> bytes:
    name = path.name
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise _refuse(name, "is a folder, not a workbook", path)
        if size > limits.max_file_bytes:
            raise _refuse(
                name,
                f"the file is {size / MB:.1f} MB, more than the limit of "
                f"{limits.max_file_bytes / MB:.0f} MB (PLANNER_MAX_FILE_BYTES)",
                path,
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise _refuse(name, "file not found", path) from None
    except PermissionError:
        raise _refuse(name, "cannot read the file: permission denied", path) from None
    except OSError as error:
        raise _refuse(name, f"cannot read the file: {error.strerror}", path) from None


def _inspect_archive(content: bytes, name: str, path: Path, limits: ReaderLimits) -> list[str]:
    """Check the zip directory against the limits before anything is unpacked."""
    if not content:
        raise _refuse(name, f"{_NOT_XLSX} (the file is empty)", path)
    if content.startswith(_OLE_MAGIC):
        raise _refuse(
            name,
            f"{_NOT_XLSX} (it is password-protected or an old .xls; "
            "save it as .xlsx without a password)",
            path,
        )
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise _refuse(name, f"{_NOT_XLSX} (open it in Excel and save it as .xlsx)", path) from None
    names = [entry.filename for entry in entries]
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        raise _refuse(name, f"{_NOT_XLSX} (open it in Excel and save it as .xlsx)", path)
    if "xl/workbook.bin" in names:
        raise _refuse(name, "binary .xlsb workbooks are not read: save it as .xlsx", path)
    _check_sheets(entries, name, path, limits)
    if len(entries) > limits.max_members:
        raise _refuse(
            name, f"{_NOT_XLSX}: {len(entries)} parts, more than {limits.max_members}", path
        )
    unpacked = sum(entry.file_size for entry in entries)
    packed = max(sum(entry.compress_size for entry in entries), 1)
    if unpacked > limits.max_unpacked_bytes:
        raise _refuse(
            name,
            f"the workbook unpacks to {unpacked / MB:,.0f} MB, more than the limit of "
            f"{limits.max_unpacked_bytes / MB:,.0f} MB (PLANNER_MAX_UNPACKED_BYTES)",
            path,
        )
    if unpacked / packed > limits.max_ratio:
        raise _refuse(
            name,
            f"the workbook unpacks {unpacked / packed:,.0f} times its size, more than the "
            f"limit of {limits.max_ratio:g} (PLANNER_MAX_RATIO): refused as a zip bomb",
            path,
        )
    return names


def _check_sheets(
    entries: list[zipfile.ZipInfo], name: str, path: Path, limits: ReaderLimits
) -> None:
    sheets = [
        entry
        for entry in entries
        if entry.filename.startswith(("xl/worksheets/", "xl/chartsheets/"))
        and entry.filename.endswith(".xml")
        and "/_rels/" not in entry.filename
    ]
    if len(sheets) > limits.max_sheets:
        raise _refuse(
            name,
            f"the workbook has {len(sheets)} sheets, more than the limit of "
            f"{limits.max_sheets} (PLANNER_MAX_SHEETS)",
            path,
        )
    for sheet in sheets:
        if sheet.file_size > limits.max_sheet_bytes:
            raise _refuse(
                name,
                f"one sheet ({sheet.filename}) unpacks to {sheet.file_size / MB:,.1f} MB, more "
                f"than the limit of {limits.max_sheet_bytes / MB:,.0f} MB "
                "(PLANNER_MAX_SHEET_BYTES): a million rows, or formatting to the last row? "
                "Clear the unused rows",
                path,
            )


def _read_sheets(
    raw: RawWorkbook, content: bytes, name: str, members: list[str], limits: ReaderLimits
) -> None:
    workbook = _open(content, name, data_only=False)
    formula_cells: dict[str, set[tuple[int, int]]] = {}
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for worksheet in workbook.worksheets:
            sheet, formulas = _read_sheet(worksheet, limits, raw.issues)
            part = getattr(worksheet, "_worksheet_path", None)
            if part in members:
                sheet.merged = _merged_ranges(archive, part)
            raw.sheets[sheet.title] = sheet
            if formulas:
                formula_cells[sheet.title] = formulas
    workbook.close()
    if formula_cells:
        _fill_cached_values(raw, _open(content, name, data_only=True), formula_cells)


def _merged_ranges(archive: zipfile.ZipFile, part: str) -> list[str]:
    """Find the merged ranges of a sheet in its XML, without parsing the cells again."""
    return [match.decode() for match in _MERGE.findall(archive.read(part))]


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _defused(error: BaseException) -> bool:
    """Tell whether defusedxml refused the XML behind ``error`` (openpyxl wraps it)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, DefusedXmlException):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _open(content: bytes, name: str, data_only: bool) -> Any:
    try:
        return openpyxl.load_workbook(
            io.BytesIO(content), read_only=True, data_only=data_only, keep_links=False
        )
    except (InvalidFileException, *_DAMAGED) as e:
        if _defused(e):
            raise DefusedXmlException() from e
        raise InputError(
            [Issue(name, f"{_NOT_XLSX} (open it in Excel and save it as .xlsx)")], name
        ) from None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _read_sheet(
    worksheet: Any, limits: ReaderLimits, issues: list[Issue]
) -> tuple[RawSheet, set[tuple[int, int]]]:
    header: list[tuple[int, Any]] = []
    rows: list[tuple[int, dict[int, RawCell]]] = []
    formulas: set[tuple[int, int]] = set()
    blank_run = 0
    title = worksheet.title
    for row_number, row in enumerate(worksheet.iter_rows(), start=1):
        cells: dict[int, RawCell] = {}
        for column_number, cell in enumerate(row[: limits.max_columns], start=1):
            value = getattr(cell, "value", None)
            if _blank(value):
                continue
            if getattr(cell, "data_type", None) == "f":
                formulas.add((row_number, column_number))
            cells[column_number] = RawCell(value, getattr(cell, "number_format", "General"))
        if row_number == 1:
            header = sorted((c, cell.value) for c, cell in cells.items())
            continue
        if not cells:
            blank_run += 1
            if blank_run >= limits.max_blank_run:
                issues.append(
                    Issue(
                        title,
                        f"stopped reading at row {row_number}: {blank_run:,} blank rows in a "
                        "row (formatting to the end of the sheet?); rows below are not read",
                        "warning",
                    )
                )
                break
            continue
        blank_run = 0
        rows.append((row_number, cells))
        if len(rows) > limits.max_rows:
            raise InputError(
                [
                    Issue(
                        title,
                        f"more than {limits.max_rows:,} rows, the limit (PLANNER_MAX_ROWS)",
                    )
                ],
                title,
            )
    hidden = getattr(worksheet, "sheet_state", "visible") != "visible"
    return RawSheet(title, header, rows, hidden), formulas


def _fill_cached_values(
    raw: RawWorkbook, workbook: Any, formula_cells: dict[str, set[tuple[int, int]]]
) -> None:
    for title, wanted in formula_cells.items():
        last_row = max(row for row, _ in wanted)
        cached: dict[tuple[int, int], Any] = {}
        worksheet = workbook[title]
        rows = worksheet.iter_rows(max_row=last_row, max_col=_max_column(wanted))
        for row_number, row in enumerate(rows, start=1):
            for column_number, cell in enumerate(row, start=1):
                if (row_number, column_number) in wanted:
                    cached[(row_number, column_number)] = getattr(cell, "value", None)
        sheet = raw.sheets[title]
        header = dict(sheet.header)
        by_row = dict(sheet.rows)
        for row_number, column_number in wanted:
            value = cached.get((row_number, column_number))
            if row_number == 1:
                header[column_number] = value
                continue
            old = by_row[row_number][column_number]
            by_row[row_number][column_number] = RawCell(
                None if _blank(value) else value,
                old.number_format,
                formula_without_value=_blank(value),
            )
        sheet.header = sorted(header.items())
    workbook.close()


def _max_column(cells: set[tuple[int, int]]) -> int:
    return max(column for _, column in cells)
