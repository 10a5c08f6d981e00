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

import errno
import hashlib
import io
import os
import re
import stat
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
from openpyxl.packaging.manifest import Manifest
from openpyxl.packaging.relationship import get_dependents, get_rels_path
from openpyxl.packaging.workbook import WorkbookPackage
from openpyxl.reader.excel import _find_workbook_part  # openpyxl's own rule, kept identical
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.xml.constants import ARC_CONTENT_TYPES
from openpyxl.xml.functions import fromstring

from planner.errors import InputError, Issue
from planner.io.limits import MB, ReaderLimits

if not openpyxl.xml.DEFUSEDXML:  # pragma: no cover - guarded by the dependency list
    raise ImportError("defusedxml must be installed (and OPENPYXL_DEFUSEDXML not False)")

_OTHER_FORMATS = {".xls", ".ods", ".xlsb", ".numbers", ".csv"}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_NOT_XLSX = "not an .xlsx workbook"
#: Opening a named pipe without it would wait for a writer for ever.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
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
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([^"]{1,40})"')


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


def _size(count: int | float) -> str:
    """Say a size in MB (``12.5 MB``, ``10 MB``), or in bytes below one MB."""
    if count < MB:
        return f"{count:,.0f} bytes"
    return f"{count / MB:,.1f} MB".replace(".0 MB", " MB")


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
    raw = RawWorkbook(path=str(path), sha256=hashlib.sha256(content).hexdigest())
    try:
        members = _inspect_archive(content, name, path, limits)
        _read_sheets(raw, content, name, members, limits)
    except DefusedXmlException:
        raise _refuse(name, _ENTITIES, path) from None
    except _DAMAGED as error:
        if _defused(error):
            raise _refuse(name, _ENTITIES, path) from None
        raise _refuse(name, f"{_NOT_XLSX} (damaged: {_first_line(error)})", path) from None
    return raw


def _read_bytes(path: Path, limits: ReaderLimits) -> bytes:
    """Read a regular file, at most one byte past the limit: never a device, a pipe, a folder.

    ``/dev/zero`` or a named pipe would never end (or never start); the file
    is opened without blocking and checked again once open, in case it was
    swapped, and a file that grows while it is read stops at the limit.
    """
    name = path.name
    try:
        _check_file(os.stat(path), path, limits)
        descriptor = os.open(path, os.O_RDONLY | _NONBLOCK)
        with os.fdopen(descriptor, "rb") as stream:
            size = _check_file(os.fstat(stream.fileno()), path, limits)
            content = stream.read(size + 1)  # one buffer of the file's size ...
            if len(content) > size:  # ... unless it grows: then up to the limit
                content += stream.read(limits.max_file_bytes + 1 - len(content))
    except FileNotFoundError:
        raise _refuse(name, "file not found", path) from None
    except PermissionError:
        raise _refuse(name, "cannot read the file: permission denied", path) from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _refuse(name, "cannot read the file: a loop of symbolic links", path) from None
        raise _refuse(name, f"cannot read the file: {error.strerror}", path) from None
    if len(content) > limits.max_file_bytes:
        raise _refuse(
            name,
            f"the file grew past the limit of {_size(limits.max_file_bytes)} "
            "(PLANNER_MAX_FILE_BYTES) while it was read",
            path,
        )
    return content


def _check_file(status: os.stat_result, path: Path, limits: ReaderLimits) -> int:
    """Refuse anything but a regular file within the size limit; return its size."""
    name = path.name
    if stat.S_ISDIR(status.st_mode):
        raise _refuse(name, "is a folder, not a workbook", path)
    if not stat.S_ISREG(status.st_mode):
        raise _refuse(
            name, "not a regular file (a device, a pipe or a socket): give a workbook file", path
        )
    if status.st_size > limits.max_file_bytes:
        raise _refuse(
            name,
            f"the file is {status.st_size / MB:.1f} MB, more than the limit of "
            f"{limits.max_file_bytes / MB:.0f} MB (PLANNER_MAX_FILE_BYTES)",
            path,
        )
    return status.st_size


def _inspect_archive(content: bytes, name: str, path: Path, limits: ReaderLimits) -> list[str]:
    """Check the zip directory against the limits before anything is unpacked.

    Only the content types, the workbook part and its relationships (each
    within ``max_part_bytes``) are parsed here, to find the sheets as
    openpyxl will find them; every part is then held to its limit by the
    sizes the zip directory declares.
    """
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
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise _refuse(name, f"{_NOT_XLSX} (open it in Excel and save it as .xlsx)", path) from None
    with archive:
        return _inspect_parts(archive, name, path, limits)


def _inspect_parts(
    archive: zipfile.ZipFile, name: str, path: Path, limits: ReaderLimits
) -> list[str]:
    entries = archive.infolist()
    names = [entry.filename for entry in entries]
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        raise _refuse(name, f"{_NOT_XLSX} (open it in Excel and save it as .xlsx)", path)
    if "xl/workbook.bin" in names:
        raise _refuse(name, "binary .xlsb workbooks are not read: save it as .xlsx", path)
    sizes = {entry.filename: entry.file_size for entry in entries}
    sheets = _sheet_parts(archive, sizes, name, path, limits)
    _check_sheets(sheets, sizes, name, path, limits)
    if len(entries) > limits.max_members:
        raise _refuse(
            name, f"{_NOT_XLSX}: {len(entries)} parts, more than {limits.max_members}", path
        )
    _check_total(entries, name, path, limits)
    sheet_parts = set(sheets)
    for part, size in sizes.items():
        if part not in sheet_parts:
            _check_part(part, size, name, path, limits)
    return names


def _check_total(
    entries: list[zipfile.ZipInfo], name: str, path: Path, limits: ReaderLimits
) -> None:
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


def _check_part(part: str, size: int, name: str, path: Path, limits: ReaderLimits) -> None:
    if size > limits.max_part_bytes:
        raise _refuse(
            name,
            f"one part ({part}) unpacks to {_size(size)}, more than the limit of "
            f"{_size(limits.max_part_bytes)} (PLANNER_MAX_PART_BYTES)",
            path,
        )


def _sheet_parts(
    archive: zipfile.ZipFile, sizes: dict[str, int], name: str, path: Path, limits: ReaderLimits
) -> list[str]:
    """Return the part of every sheet (one per sheet, repeats kept), found as openpyxl finds it.

    The workbook part is named by the content types and its sheets by its
    relationships, so a sheet stored outside ``xl/worksheets/`` is a sheet
    all the same. A sheet whose part is missing is not read (nor counted).
    """
    _check_part(ARC_CONTENT_TYPES, sizes.get(ARC_CONTENT_TYPES, 0), name, path, limits)
    package = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
    workbook = _find_workbook_part(package).PartName[1:]
    relationships = get_rels_path(workbook)
    for part in (workbook, relationships):
        _check_part(part, sizes.get(part, 0), name, path, limits)
    sheets = [
        sheet
        for sheet in WorkbookPackage.from_tree(fromstring(archive.read(workbook))).sheets
        if sheet.id
    ]
    _check_count(len(sheets), name, path, limits)
    targets = get_dependents(archive, relationships).to_dict()
    found = (targets.get(sheet.id) for sheet in sheets)
    return [target.target for target in found if target is not None and target.target in sizes]


def _check_count(count: int, name: str, path: Path, limits: ReaderLimits) -> None:
    if count > limits.max_sheets:
        raise _refuse(
            name,
            f"the workbook has {count} sheets, more than the limit of "
            f"{limits.max_sheets} (PLANNER_MAX_SHEETS)",
            path,
        )


def _check_sheets(
    sheets: list[str], sizes: dict[str, int], name: str, path: Path, limits: ReaderLimits
) -> None:
    _check_count(len(sheets), name, path, limits)
    for sheet in sheets:
        if sizes[sheet] > limits.max_sheet_bytes:
            raise _refuse(
                name,
                f"one sheet ({sheet}) unpacks to {sizes[sheet] / MB:,.1f} MB, more "
                f"than the limit of {limits.max_sheet_bytes / MB:,.0f} MB "
                "(PLANNER_MAX_SHEET_BYTES): a million rows, or formatting to the last row? "
                "Clear the unused rows",
                path,
            )
    total = sum(sizes[sheet] for sheet in sheets)
    if total > limits.max_unpacked_bytes:  # one part named by many sheets is read many times
        raise _refuse(
            name,
            f"the sheets unpack to {_size(total)}, more than the limit of "
            f"{_size(limits.max_unpacked_bytes)} (PLANNER_MAX_UNPACKED_BYTES)",
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
    """Find the merged ranges of a sheet in its XML, without parsing the cells again.

    Each is given as ``A5:B6`` (first cell, last cell), whichever way round
    the file wrote it; a reference that is no range of cells is skipped.
    Nothing here depends on how many cells a range covers.
    """
    ranges = []
    for match in _MERGE.findall(archive.read(part)):
        try:
            bounds = range_boundaries(match.decode("ascii"))
        except (ValueError, TypeError, UnicodeDecodeError):
            continue  # not a range (Excel would call the file damaged): merges nothing
        if None in bounds:
            continue  # whole rows or columns ("A:A") are not written as merges
        first_column, first_row, last_column, last_row = bounds
        first = f"{get_column_letter(min(first_column, last_column))}{min(first_row, last_row)}"
        last = f"{get_column_letter(max(first_column, last_column))}{max(first_row, last_row)}"
        ranges.append(first if first == last else f"{first}:{last}")
    return ranges


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
    for row_number, row in enumerate(worksheet.iter_rows(max_col=_width(worksheet, limits)), 1):
        cells: dict[int, RawCell] = {}
        for column_number, cell in enumerate(row, start=1):
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


def _width(worksheet: Any, limits: ReaderLimits) -> int:
    """Return the columns to read: openpyxl pads every row to the width the sheet declares.

    A declared ``A1:XFD1048576`` (or one cell in column XFD) would make each
    row a tuple of 16,384 cells; no row is read wider than ``max_columns``.
    """
    declared = getattr(worksheet, "max_column", None)
    return min(declared or limits.max_columns, limits.max_columns)


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
