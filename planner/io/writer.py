"""Write the solution workbook: Summary first, charts, then every table.

The file is written to a temporary file beside the target, flushed to disk,
opened again as a check, and only then renamed over the target, so a reader
never sees a half-written workbook and a failure leaves nothing behind. The
input workbook is never overwritten. Text is always written as text (a
string beginning with ``=`` stays a string, never a formula).
"""

from __future__ import annotations

import contextlib
import glob
import math
import os
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import openpyxl
import pandas as pd
from defusedxml import ElementTree
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from planner.errors import OutputError

if TYPE_CHECKING:
    from planner.api import Result

#: Longest text a cell holds (Excel's limit).
MAX_CELL_TEXT = 32_767

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
_QUANTITY = "#,##0.00"
_MONEY = "#,##0.00"
_SHARE = "0.0%"
_FORMATS = {
    "quantity": _QUANTITY,
    "stock": _QUANTITY,
    "target": _QUANTITY,
    "supply": _QUANTITY,
    "level": _QUANTITY,
    "demand": _QUANTITY,
    "opening": _QUANTITY,
    "purchased": _QUANTITY,
    "recycled": _QUANTITY,
    "substituted": _QUANTITY,
    "shortage": _QUANTITY,
    "below_target": _QUANTITY,
    "expected_quantity": _QUANTITY,
    "cover_days": "0.0",
    "cover_days_target": "0.0",
    "unit_cost": _MONEY,
    "cost": _MONEY,
    "fixed_cost": _MONEY,
    "purchase_cost": _MONEY,
    "activity_cost": _MONEY,
    "holding_cost": _MONEY,
    "shortage_cost": _MONEY,
    "cover_penalty": _MONEY,
    "scenario_cost": _MONEY,
    "dual": "#,##0.0000",
    "cost_per_point": _MONEY,
    "china_cap": _SHARE,
    "risk_cap": _SHARE,
    "risk": "0.000",
    "probability": "0.0000",
}


def clean_text(value: str) -> str:
    """Text safe to store in a cell: no control characters, LF line ends, within Excel's length."""
    value = ILLEGAL_CHARACTERS_RE.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    if len(value) > MAX_CELL_TEXT:
        value = value[: MAX_CELL_TEXT - 1] + "…"
    return value


def _plain(value: Any) -> Any:
    """Convert to a value openpyxl stores: numbers as float/int, blanks as None, text as text."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, int):
        return value
    return clean_text(str(value))


def _cell(sheet: Worksheet, value: Any = None, **style: Any) -> WriteOnlyCell:
    """Make a styled cell for a streaming sheet; text is always text, never a formula."""
    cell = WriteOnlyCell(sheet, _plain(value))
    if isinstance(cell.value, str):
        cell.data_type = "s"
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def _widths(sheet: Worksheet, frame: pd.DataFrame) -> None:
    for column, name in enumerate(frame.columns, start=1):
        sample = frame[name].head(200)
        longest = max(
            [
                len(str(name)),
                *(len(f"{v:,.2f}" if isinstance(v, float) else str(v)) for v in sample),
            ],
            default=8,
        )
        sheet.column_dimensions[get_column_letter(column)].width = min(max(10, longest + 2), 60)


def _number_format(name: str) -> str | None:
    return _FORMATS.get(name, _SHARE if name.startswith("china_share") else None)


def write_table(
    sheet: Worksheet, frame: pd.DataFrame, row_formats: list[str | None] | None = None
) -> None:
    """Stream ``frame`` into ``sheet``: a styled, frozen header, number formats, an autofilter.

    One styled cell per column is reused from row to row (each row is
    written out before the next is appended), so styling costs nothing per
    cell. ``row_formats`` gives the second column a number format per row
    (the Summary's values).
    """
    _widths(sheet, frame)
    sheet.freeze_panes = "A2"
    if len(frame.columns):
        last = get_column_letter(len(frame.columns))
        sheet.auto_filter.ref = f"A1:{last}{max(len(frame) + 1, 1)}"
    sheet.append(
        [_cell(sheet, name, font=_HEADER_FONT, fill=_HEADER_FILL) for name in frame.columns]
    )
    numbers = [
        _cell(sheet, number_format=_number_format(name) or "General") for name in frame.columns
    ]
    texts = [_cell(sheet) for _ in frame.columns]
    for index, values in enumerate(frame.itertuples(index=False)):
        row: list[Any] = []
        for column, value in enumerate(values):
            value = _plain(value)
            if value is None:
                row.append(None)
            elif isinstance(value, str):
                cell = texts[column]
                cell.value = value
                cell.data_type = "s"  # never a formula, whatever the text begins with
                row.append(cell)
            else:
                cell = numbers[column]
                if row_formats is not None and column == 1:
                    cell.number_format = row_formats[index] or "General"
                cell.value = value
                row.append(cell)
        sheet.append(row)


SUMMARY_MEANINGS = {
    "status": "optimal; time_limit (best plan found, see mip_gap); infeasible; interrupted",
    "objective": "the model objective: fixed cost + (1 - cvar_weight) x expected scenario cost "
    "+ cvar_weight x CVaR of scenario cost",
    "expected_cost": "fixed cost + probability-weighted scenario cost",
    "cvar": "fixed cost + mean of the worst (1 - cvar_alpha) of scenario costs",
    "fixed_cost": "contracts and adoptions paid for the horizon (first stage)",
    "purchase_cost": "expected cost of purchases",
    "activity_cost": "expected cost of recycling and substitution",
    "holding_cost": "expected cost of holding stock",
    "shortage_cost": "expected cost of unmet demand",
    "cover_penalty": "expected penalty for stock below its cover target",
    "mip_gap": "proven relative distance of the plan from the optimum",
    "solve_seconds": "time spent in the solver",
    "planner_version": "the planner that made this plan",
    "input_sha256": "SHA-256 of the input workbook file",
    "case_sha256": "hash of the data solved (differs from a file's if changed in Python)",
    "bound": "best proven lower bound on the objective",
    "china_share": "expected China-linked share of all supply (the case's china_basis)",
    "shortfall": "expected unmet requirement over the horizon, all elements",
    "tree_nodes": "scenario-tree nodes: decisions shared until scenarios differ",
    "rows": "constraints handed to the solver",
    "columns": "variables handed to the solver",
    "warnings": "input warnings (see the Warnings sheet)",
}
_SUMMARY_FORMATS = {
    **dict.fromkeys(
        (
            "objective",
            "expected_cost",
            "cvar",
            "bound",
            "fixed_cost",
            "purchase_cost",
            "activity_cost",
            "holding_cost",
            "shortage_cost",
            "cover_penalty",
        ),
        _MONEY,
    ),
    "china_share": _SHARE,
    "mip_gap": "0.00E+00",
    "shortfall": _QUANTITY,
}


def _summary(sheet: Worksheet, result: Result) -> None:
    frame = result.summary_frame()
    frame["meaning"] = [SUMMARY_MEANINGS.get(key, "") for key in frame["key"]]
    formats = [_SUMMARY_FORMATS.get(key) for key in frame["key"]]
    write_table(sheet, frame, row_formats=formats)
    sheet.column_dimensions["B"].width = 30
    sheet.column_dimensions["C"].width = 90


def _expected(
    frame: pd.DataFrame, probability: pd.Series, by: list[str], value: str
) -> pd.DataFrame:
    weighted = frame.assign(_w=frame[value] * frame["scenario"].map(probability))
    return weighted.groupby(by, sort=False)["_w"].sum().reset_index().rename(columns={"_w": value})


def _chart_data(result: Result) -> dict[str, pd.DataFrame]:
    """Compute the expected (probability-weighted) figures behind the charts."""
    case = result.case
    probability = case.scenarios["probability"]
    periods = case.period_ids
    purchases = result.tables["Purchases"]
    mix = (
        _expected(purchases, probability, ["element", "country"], "quantity")
        if len(purchases)
        else (pd.DataFrame(columns=["element", "country", "quantity"]))
    )
    supply_mix = mix.pivot_table(
        index="element", columns="country", values="quantity", aggfunc="sum", fill_value=0.0
    )
    supply_mix = supply_mix.reindex([str(e) for e in case.elements.index], fill_value=0.0)
    recycled = _expected(result.tables["Stock"], probability, ["element"], "recycled").set_index(
        "element"
    )
    if recycled["recycled"].sum() > 0:
        supply_mix["recycling"] = recycled["recycled"].reindex(supply_mix.index).fillna(0.0)
    supply_mix = supply_mix.reset_index()

    shares = result.tables["Shares"]
    basis = f"china_share_{case.settings.china_basis}"
    shares = shares.assign(china=shares[basis].fillna(0.0) * shares["supply"])
    totals = _expected(shares, probability, ["period", "element"], "china").merge(
        _expected(shares, probability, ["period", "element"], "supply"), on=["period", "element"]
    )
    caps = shares.groupby(["period", "element"], sort=False)["china_cap"].first().reset_index()
    totals = totals.merge(caps, on=["period", "element"])
    totals["share"] = np.where(
        totals["supply"] > 0,
        totals["china"] / totals["supply"].where(totals["supply"] > 0, 1),
        np.nan,
    )
    china = pd.DataFrame({"period": periods})
    for element in [*map(str, case.elements.index), "TOTAL"]:
        part = totals[totals["element"] == element].set_index("period").reindex(periods)
        china[f"{element} share"] = part["share"].to_numpy()
        china[f"{element} cap"] = part["china_cap"].to_numpy()

    stock = _expected(result.tables["Stock"], probability, ["period", "element"], "stock").merge(
        _expected(result.tables["Stock"], probability, ["period", "element"], "target"),
        on=["period", "element"],
    )
    cover = pd.DataFrame({"period": periods})
    for element in map(str, case.elements.index):
        part = stock[stock["element"] == element].set_index("period").reindex(periods)
        cover[f"{element} stock"] = part["stock"].to_numpy()
        cover[f"{element} target"] = part["target"].to_numpy()
    return {"supply_mix": supply_mix, "china": china, "cover": cover}


def _style_lines(chart: LineChart) -> None:
    """Straight lines (quarters are steps, not curves); the limit dashed red."""
    for index, series in enumerate(chart.series):
        series.smooth = False
        if index == 1:
            series.graphicalProperties.line.dashStyle = "dash"
            series.graphicalProperties.line.solidFill = "C00000"


class _Blocks:
    """Titled tables written one below the other into a streaming sheet."""

    def __init__(self, sheet: Worksheet) -> None:
        self.sheet = sheet
        self.row = 0

    def place(self, frame: pd.DataFrame, title: str) -> int:
        """Append a titled block after a blank row; return the row of its header."""
        if self.row:
            self.sheet.append([])
            self.row += 1
        bold = Font(bold=True)
        self.sheet.append([_cell(self.sheet, title, font=bold)])
        self.sheet.append([_cell(self.sheet, name, font=bold) for name in frame.columns])
        self.row += 2
        header = self.row
        shares = [("share" in str(n) or "cap" in str(n)) for n in frame.columns]
        for values in frame.itertuples(index=False):
            self.sheet.append(
                [
                    _cell(self.sheet, value, number_format=_SHARE if share else "General")
                    for value, share in zip(values, shares, strict=True)
                ]
            )
            self.row += 1
        return header


def _charts(charts: Worksheet, data: Worksheet, result: Result) -> None:
    blocks = _chart_data(result)
    unit, currency = result.case.settings.unit, result.case.settings.currency
    note = (
        "Expected values over the scenarios (probability-weighted). "
        f"Quantities in {unit}, costs in {currency}."
    )
    charts.append([_cell(charts, note, font=Font(italic=True))])
    data.column_dimensions["A"].width = 14
    writer = _Blocks(data)

    mix = blocks["supply_mix"]
    head = writer.place(mix, "Supply by shipping country, whole horizon (expected)")
    bar = BarChart()
    bar.type, bar.grouping, bar.overlap = "col", "stacked", 100
    bar.title = "Supply mix by country, per element"
    bar.y_axis.title = unit
    rows = len(mix)
    if rows and len(mix.columns) > 1:
        bar.add_data(
            Reference(data, min_col=2, max_col=len(mix.columns), min_row=head, max_row=head + rows),
            titles_from_data=True,
        )
        bar.set_categories(Reference(data, min_col=1, min_row=head + 1, max_row=head + rows))
    bar.width, bar.height = 24, 9
    charts.add_chart(bar, "A3")

    grid_top = 22
    china = blocks["china"]
    head = writer.place(china, "China share against its cap (expected)")
    n_periods = len(china)
    for index, column in enumerate(range(2, len(china.columns), 2)):
        element = china.columns[column - 1].removesuffix(" share")
        line = LineChart()
        line.title = f"China share, {element}"
        line.y_axis.number_format = "0%"
        line.y_axis.scaling.min, line.y_axis.scaling.max = 0, 1
        line.add_data(
            Reference(
                data, min_col=column, max_col=column + 1, min_row=head, max_row=head + n_periods
            ),
            titles_from_data=True,
        )
        line.set_categories(Reference(data, min_col=1, min_row=head + 1, max_row=head + n_periods))
        _style_lines(line)
        line.width, line.height = 12, 7
        charts.add_chart(line, f"{'AHO'[index % 3]}{grid_top + 15 * (index // 3)}")

    cover = blocks["cover"]
    head = writer.place(cover, "Stock against its cover target (expected)")
    top = grid_top + 15 * ((len(china.columns) // 2 + 2) // 3) + 2
    for index, column in enumerate(range(2, len(cover.columns), 2)):
        element = cover.columns[column - 1].removesuffix(" stock")
        line = LineChart()
        line.title = f"Stock vs cover target, {element}"
        line.y_axis.title = unit
        line.add_data(
            Reference(
                data, min_col=column, max_col=column + 1, min_row=head, max_row=head + n_periods
            ),
            titles_from_data=True,
        )
        line.set_categories(Reference(data, min_col=1, min_row=head + 1, max_row=head + n_periods))
        _style_lines(line)
        line.width, line.height = 12, 7
        charts.add_chart(line, f"{'AHO'[index % 3]}{top + 15 * (index // 3)}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


#: Data rows of one sheet: Excel's 1,048,576 rows less the header.
MAX_SHEET_ROWS = 1_048_575


def _chunks(table: pd.DataFrame) -> list[pd.DataFrame]:
    """Split a table that Excel cannot hold on one sheet; continuation sheets are numbered."""
    if len(table) <= MAX_SHEET_ROWS:
        return [table]
    return [table.iloc[i : i + MAX_SHEET_ROWS] for i in range(0, len(table), MAX_SHEET_ROWS)]


def build_workbook(result: Result) -> openpyxl.Workbook:
    """Build the solution workbook in memory."""
    workbook = openpyxl.Workbook(write_only=True)
    _summary(workbook.create_sheet("Summary"), result)
    charts = workbook.create_sheet("Charts") if result.has_plan else None
    for name, table in result.tables.items():
        for part, chunk in enumerate(_chunks(table)):
            write_table(workbook.create_sheet(name if not part else f"{name} ({part + 1})"), chunk)
    warnings = result.case.warnings
    write_table(
        workbook.create_sheet("Warnings"),
        pd.DataFrame(
            {"where": [w.where for w in warnings], "message": [w.message for w in warnings]}
        ),
    )
    if charts is not None:
        _charts(charts, workbook.create_sheet("ChartData"), result)
    return workbook


def write_solution(result: Result, path: Path) -> Path:
    """Write ``result`` to ``path`` atomically; never over the input workbook.

    Raises
    ------
    OutputError
        When the path is the input, the folder is missing or not writable, or
        the disk is full; nothing is left behind.
    """
    check_target(path, result.case.source.path)
    return save_atomically(build_workbook(result), path)


def check_target(path: Path, source: str = "") -> None:
    """Fail early when ``path`` cannot take a solution workbook.

    Raises
    ------
    OutputError
        When ``path`` is the input workbook, does not end in .xlsx, or its
        folder does not exist.
    """
    if source and _same_file(path, Path(source)):
        raise OutputError(f"{path}: refusing to overwrite the input workbook; choose another name")
    if path.suffix.lower() != ".xlsx":
        raise OutputError(f"{path}: the workbook must end in .xlsx")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{path}: folder {folder} does not exist")


_PARTIAL = ".partial.xlsx"
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _remove_stale_partials(folder: Path, stem: str) -> None:
    """Remove temporary files of ``stem`` left by a writer that was killed (its pid is gone)."""
    for partial in folder.glob(f".{glob.escape(stem)}.*{_PARTIAL}"):
        pid = partial.name[len(stem) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                partial.unlink()


def save_atomically(workbook: openpyxl.Workbook, path: Path) -> Path:
    """Save ``workbook`` to ``path`` through a checked temporary file and a rename.

    Raises
    ------
    OutputError
        When the folder is missing or not writable, or the disk is full;
        nothing is left behind and an existing file at ``path`` is untouched.
    """
    check_target(path)
    folder = path.parent if str(path.parent) else Path(".")
    _remove_stale_partials(folder, path.stem)
    handle, temporary, saved = -1, "", False
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.stem}.{os.getpid()}.", suffix=_PARTIAL, dir=folder
        )
        with os.fdopen(handle, "wb") as stream:
            handle = -1
            workbook.save(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        if _sheet_names(temporary) != workbook.sheetnames:
            raise OutputError(f"{path}: the written workbook did not read back")
        os.replace(temporary, path)
        temporary = ""
        saved = True
    except PermissionError as error:
        raise OutputError(f"{path}: cannot write there ({error.strerror})") from None
    except OSError as error:
        raise OutputError(
            f"{path}: cannot write the workbook ({error.strerror or error})"
        ) from None
    finally:
        if handle >= 0:
            os.close(handle)
        if temporary:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        if not saved:
            _discard(workbook)
    return path


def _sheet_names(path: str) -> list[str] | None:
    """Read back a saved workbook: every part's CRC, and the sheet names it lists."""
    try:
        with zipfile.ZipFile(path) as archive:
            if archive.testzip() is not None:
                return None
            root = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError):
        return None
    return [sheet.get("name", "") for sheet in root.iter(f"{{{_MAIN_NS}}}sheet")]


def _discard(workbook: openpyxl.Workbook) -> None:
    """Close the streams of a write-only workbook that was not saved, and remove their files."""
    for sheet in getattr(workbook, "_sheets", []):
        writer = getattr(sheet, "_writer", None)
        if getattr(sheet, "closed", True) and writer is None:
            continue
        with contextlib.suppress(Exception):
            if not sheet.closed:
                sheet.close()
        out = getattr(writer or getattr(sheet, "_writer", None), "out", None)
        if isinstance(out, str):
            with contextlib.suppress(OSError):
                os.unlink(out)
