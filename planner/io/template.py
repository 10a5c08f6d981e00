"""Write an empty, documented input workbook, generated from the schema catalogue.

Every sheet of the contract with its header row; a comment on each header
with the column's meaning, unit and default; dropdowns for enumerations and
for references to other sheets; a Settings sheet holding the defaults; and an
Instructions sheet that lists it all.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from planner.errors import OutputError
from planner.io.atomic import save_atomically
from planner.schema import Column, Sheet, catalogue

#: Rows of the template that carry dropdowns.
TEMPLATE_ROWS = 1000

_REQUIRED_FILL = PatternFill("solid", fgColor="1F4E78")
_OPTIONAL_FILL = PatternFill("solid", fgColor="5B9BD5")
_WHITE_BOLD = Font(bold=True, color="FFFFFF")


def _allowed(column: Column) -> str:
    if column.type == "enum":
        return " | ".join(column.values)
    if column.type == "ref":
        return f"an id from {column.ref}"
    if column.type in ("id", "code", "text"):
        return "text"
    return column.bounds_text() or "any number"


def _comment(column: Column, example: str | None = None) -> Comment:
    lines = [column.description]
    if column.unit:
        lines.append(f"Unit: {column.unit}")
    lines.append(f"Allowed: {_allowed(column)}")
    if example:
        lines.append(f"Example: {example}")
    lines.append(
        "Required"
        if column.required
        else f"Optional; default: {column.default or 'see description'}"
    )
    comment = Comment("\n".join(lines), "planner")
    comment.width, comment.height = 320, 140
    return comment


def _id_range(sheets: dict[str, Sheet], name: str) -> str | None:
    sheet = sheets.get(name)
    if sheet is None or sheet.id_column is None:
        return None
    position = [c.name for c in sheet.columns].index(sheet.id_column) + 1
    letter = get_column_letter(position)
    return f"={name}!${letter}$2:${letter}${TEMPLATE_ROWS}"


def _input_sheet(sheet: Worksheet, spec: Sheet, sheets: dict[str, Sheet]) -> None:
    for position, column in enumerate(spec.columns, start=1):
        cell = sheet.cell(row=1, column=position, value=column.name)
        cell.font = _WHITE_BOLD
        cell.fill = _REQUIRED_FILL if column.required else _OPTIONAL_FILL
        cell.comment = _comment(column, dict(spec.example).get(column.name))
        letter = get_column_letter(position)
        sheet.column_dimensions[letter].width = max(14, len(column.name) + 4)
        cells = f"{letter}2:{letter}{TEMPLATE_ROWS}"
        formula = None
        if column.type == "enum":
            formula = f'"{",".join(column.values)}"'
        elif column.type == "ref" and column.ref:
            formula = _id_range(sheets, column.ref)
        if formula:
            validation = DataValidation(type="list", formula1=formula, allow_blank=True)
            validation.error = f"Choose {_allowed(column)}"
            validation.errorTitle = column.name
            validation.showErrorMessage = column.type == "enum"
            sheet.add_data_validation(validation)
            validation.add(cells)
        elif column.type == "number" and column.min is not None:
            validation = DataValidation(
                type="decimal",
                operator="greaterThanOrEqual" if column.max is None else "between",
                formula1=str(column.min),
                formula2=None if column.max is None else str(column.max),
                allow_blank=True,
            )
            validation.error = f"{column.name} must be {column.bounds_text() or 'a number'}"
            validation.showErrorMessage = True
            sheet.add_data_validation(validation)
            validation.add(cells)
    sheet.freeze_panes = "A2"


def _settings_sheet(sheet: Worksheet) -> None:
    for position, name in enumerate(("key", "value", "meaning"), start=1):
        cell = sheet.cell(row=1, column=position, value=name)
        cell.font = _WHITE_BOLD
        cell.fill = _OPTIONAL_FILL
    for row, setting in enumerate(catalogue().settings, start=2):
        sheet.cell(row=row, column=1, value=setting.key)
        value: object = setting.default or None  # blank: no default (e.g. stock_value_max)
        if setting.type == "number" and setting.default:
            value = float(setting.default)
        sheet.cell(row=row, column=2, value=value)
        sheet.cell(
            row=row, column=3, value=f"{setting.description} [default {setting.default or 'none'}]"
        )
        if setting.type == "enum":
            validation = DataValidation(type="list", formula1=f'"{",".join(setting.values)}"')
            sheet.add_data_validation(validation)
            validation.add(f"B{row}")
    sheet.column_dimensions["A"].width = 16
    sheet.column_dimensions["B"].width = 14
    sheet.column_dimensions["C"].width = 70
    sheet.freeze_panes = "A2"


_INTRODUCTION = (
    "planner input workbook",
    "",
    "Fill one record per row below each header. Dark headers are required columns, light ones "
    "optional (blank = the default). Hover a header for its meaning, unit and default.",
    "Ids (period, element, offer, ...) are case-sensitive text. Numbers may be typed as numbers or "
    "numeric text; percent cells are read as fractions (76% = 0.76).",
    "Optional sheets may be left empty or deleted; Countries is needed unless every offer has "
    "its own risk. Below each sheet's columns is an example row (the sheets themselves start "
    "empty). This Instructions sheet is not read.",
    "Then, on the planner's web page (planner serve, or the address you were given): drop this "
    "workbook on the page, watch it solve, read the plan and download the solution workbook; "
    "a cell with a problem comes back as Sheet!CELL and what to fix.",
    "Or at a terminal:  planner validate THIS.xlsx   and   planner solve THIS.xlsx -o PLAN.xlsx",
)


#: Worked examples of several rows, for a sheet whose meaning one example row
#: (models/sourcing/examples.csv) cannot show; in the Instructions, never on the input
#: sheets, which are read as typed.
_WORKED_EXAMPLES: dict[str, tuple[str, tuple[tuple[object, ...], ...]]] = {
    "Events": (
        "Example: China stops Dy for a quarter (30 %) or for a year (10 %), alternatives in "
        "group cn_dy; Lynas Malaysia down for a quarter (20 %), independent of them. The year's "
        "stop has two rows: probability and group on the first only. These make 3 x 2 = 6 "
        "scenarios.",
        (
            ("cn_dy_quarter", 0.3, "cn_dy", "country", "CN", "Dy", "2026Q3", "2026Q3", 0),
            ("cn_dy_year", 0.1, "cn_dy", "country", "CN", "Dy", "2026Q3", "2026Q4", 0),
            ("cn_dy_year", None, None, "country", "CN", "Dy", "2027Q1", "2027Q2", 0),
            ("lynas_down", 0.2, None, "supplier", "Lynas", None, "2026Q4", "2026Q4", 0),
        ),
    ),
}


def _worked_example(sheet: Worksheet, row: int, spec: Sheet) -> int:
    """Write the worked example of ``spec`` below its columns; return the next free row."""
    if spec.name not in _WORKED_EXAMPLES:
        return row
    text, rows = _WORKED_EXAMPLES[spec.name]
    sheet.cell(row=row, column=2, value="example").font = Font(italic=True)
    sheet.cell(row=row, column=3, value=text).alignment = Alignment(wrap_text=True)
    row += 1
    for column, column_spec in enumerate(spec.columns, start=3):
        sheet.cell(row=row, column=column, value=column_spec.name).font = Font(bold=True)
    row += 1
    for values in rows:
        for column, value in enumerate(values, start=3):
            sheet.cell(row=row, column=column, value=value)
        row += 1
    return row


def _instructions(sheet: Worksheet, sheets: tuple[Sheet, ...]) -> None:
    row = 1
    for line in _INTRODUCTION:
        sheet.cell(row=row, column=1, value=line).font = Font(
            bold=row == 1, size=14 if row == 1 else 11
        )
        row += 1
    row += 1
    for spec in sheets:
        sheet.cell(row=row, column=1, value=spec.name).font = Font(bold=True, size=12)
        sheet.cell(row=row, column=2, value=f"{spec.requirement} sheet")
        sheet.cell(row=row, column=3, value=spec.description)
        row += 1
        columns = spec.columns
        if spec.name == "Settings":
            for setting in catalogue().settings:
                sheet.cell(row=row, column=2, value=setting.key)
                sheet.cell(
                    row=row,
                    column=3,
                    value=f"{setting.description} [default {setting.default or 'none'}]",
                )
                row += 1
        for column in columns:
            sheet.cell(row=row, column=2, value=column.name).font = Font(bold=column.required)
            detail = f"{column.description}. Allowed: {_allowed(column)}."
            if column.unit:
                detail += f" Unit: {column.unit}."
            detail += (
                " Required." if column.required else f" Default: {column.default or 'see text'}."
            )
            sheet.cell(row=row, column=3, value=detail).alignment = Alignment(wrap_text=True)
            row += 1
        row = _example(sheet, spec, row)
        row = _worked_example(sheet, row, spec) + 1
    sheet.column_dimensions["A"].width = 18
    sheet.column_dimensions["B"].width = 20
    sheet.column_dimensions["C"].width = 110


def _example(sheet: Worksheet, spec: Sheet, row: int) -> int:
    """Write the sheet's example row (``period = 2026Q1, days = 90``); return the next row."""
    if not spec.example:
        return row
    text = ", ".join(f"{name} = {value}" for name, value in spec.example)
    sheet.cell(row=row, column=2, value="example row").font = Font(italic=True)
    sheet.cell(row=row, column=3, value=text).font = Font(italic=True)
    return row + 1


def build_template() -> openpyxl.Workbook:
    """Build the empty, documented input workbook in memory."""
    specs = catalogue().sheets
    by_name = {spec.name: spec for spec in specs}
    workbook = openpyxl.Workbook()
    instructions = workbook.active
    instructions.title = "Instructions"
    _instructions(instructions, specs)
    for spec in specs:
        sheet = workbook.create_sheet(spec.name)
        if spec.name == "Settings":
            _settings_sheet(sheet)
        else:
            _input_sheet(sheet, spec, by_name)
    return workbook


def write_template(path: str | Path, overwrite: bool = False) -> Path:
    """Write the template to ``path`` (atomically).

    Parameters
    ----------
    overwrite
        Replace a file already at ``path`` (it may be a filled workbook).

    Raises
    ------
    OutputError
        When ``path`` exists and ``overwrite`` is not set, or it cannot be written.
    """
    path = Path(path)
    if not overwrite and (path.exists() or path.is_symlink()):
        raise OutputError(
            f"{path}: already exists; not replaced by an empty template "
            "(--force, or overwrite=True, replaces it)"
        )
    workbook = build_template()
    return save_atomically(workbook.save, path, workbook.sheetnames)
