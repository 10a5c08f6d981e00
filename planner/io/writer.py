"""Write the solution workbook: Summary first, charts, then every table.

The workbook is written by XlsxWriter, row by row (constant memory), to a
temporary file beside the target. The rows of each table go in bulk
(:mod:`planner.io.sheetdata`: each text once in the shared-string table,
numbers as exact numbers); the Summary and the charts' data cell by cell.
The file is flushed to disk, read back (every part's checksum and the list
of sheets) and only then renamed over the target, so a reader never sees a
half-written workbook and a failure leaves nothing behind. The input
workbook is never overwritten. Text is always text: a string beginning with
``=`` stays a string, never a formula.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xlsxwriter
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from planner.events import scenario_probability
from planner.io.atomic import check_target, save_atomically
from planner.io.sheetdata import looks_like_rich_text, write_rows
from planner.outcome import Result, expected_stock
from planner.results import COST_KEYS, element_purchases, expected, quantity_rows

__all__ = [
    "Formats",
    "check_target",
    "number_format",
    "save_atomically",
    "write_solution",
    "write_table",
]

if TYPE_CHECKING:
    from xlsxwriter.workbook import Workbook
    from xlsxwriter.worksheet import Worksheet

#: Longest text a cell holds (Excel's limit).
MAX_CELL_TEXT = 32_767

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
    "value": _MONEY,
    "stock_value": _MONEY,
    "below_target": _QUANTITY,
    "expected_quantity": _QUANTITY,
    "objective": _MONEY,
    "spend": _MONEY,
    "lost_value": _MONEY,
    "risk_premium": _MONEY,
    "expected_cost": _MONEY,
    "cvar": _MONEY,
    "bound": _MONEY,
    "shortfall": _QUANTITY,
    "total_change": _QUANTITY,
    "mip_gap": "0.00%",
    "seconds": "0.00",
    "previous": _QUANTITY,
    "planned": _QUANTITY,
    "change": _QUANTITY,
    "change_cost": _MONEY,
    "signed_probability": "0.0%",
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


class Formats:
    """XlsxWriter formats, made once per workbook and number format."""

    def __init__(self, workbook: Workbook) -> None:
        self.workbook = workbook
        self.cache: dict[str, Any] = {}
        self.header = workbook.add_format(
            {"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E78"}
        )
        self.bold = workbook.add_format({"bold": True})
        self.italic = workbook.add_format({"italic": True})

    def number(self, number_format: str | None) -> Any:
        """Return the format of ``number_format`` (made once)."""
        key = number_format or "General"
        if key not in self.cache:
            self.cache[key] = self.workbook.add_format({"num_format": key})
        return self.cache[key]


#: Column-name prefixes of shares and caps (per basis: china_cap_mining, hhi_any, ...).
_SHARE_PREFIXES = ("china_share", "china_cap", "country_cap", "top_country_share")


def number_format(name: str) -> str | None:
    """Return the number format of a column named ``name`` (None: General)."""
    return _number_format(name)


def _number_format(name: str) -> str | None:
    if name.startswith(_SHARE_PREFIXES):
        return _SHARE
    if name.startswith("hhi_"):
        return "0.000"
    return _FORMATS.get(name)


def _write(sheet: Worksheet, row: int, column: int, value: Any, number: Any) -> None:
    """Write one value: text as text (never a formula), numbers with their format."""
    value = _plain(value)
    if value is None:
        return
    if isinstance(value, str):
        if looks_like_rich_text(value):
            # write_string would store this as XlsxWriter's pre-rendered rich text,
            # unescaped; three plain fragments are escaped and read back as the text
            sheet.write_rich_string(row, column, value[:1], value[1:2], value[2:])
        else:
            sheet.write_string(row, column, value)
    else:
        sheet.write_number(row, column, value, number)


def _widths(sheet: Worksheet, frame: pd.DataFrame) -> None:
    for column, name in enumerate(frame.columns):
        sample = frame[name].head(200)
        longest = max(
            [
                len(str(name)),
                *(len(f"{v:,.2f}" if isinstance(v, float) else str(v)) for v in sample),
            ],
            default=8,
        )
        sheet.set_column(column, column, min(max(10, longest + 2), 60))


def write_table(
    sheet: Worksheet,
    frame: pd.DataFrame,
    formats: Formats,
    row_formats: list[str | None] | None = None,
    column_formats: list[str | None] | None = None,
) -> None:
    """Write ``frame`` with a styled, frozen header, number formats and an autofilter.

    ``row_formats`` gives the second column a number format per row (the
    Summary's values); ``column_formats`` one per column, in place of the
    formats its name implies (for columns renamed for display).
    """
    _widths(sheet, frame)
    print_table(sheet)
    sheet.freeze_panes(1, 0)
    if len(frame.columns):
        sheet.autofilter(0, 0, max(len(frame), 1), len(frame.columns) - 1)
    for column, name in enumerate(frame.columns):
        sheet.write_string(0, column, str(name), formats.header)
    if column_formats is None:
        column_formats = [_number_format(str(name)) for name in frame.columns]
    numbers = [formats.number(number_format) for number_format in column_formats]
    if row_formats is None and write_rows(sheet, frame, 1, numbers, _plain):
        return
    for row, values in enumerate(frame.itertuples(index=False), start=1):
        for column, value in enumerate(values):
            number = numbers[column]
            if row_formats is not None and column == 1:
                number = formats.number(row_formats[row - 1])
            _write(sheet, row, column, value, number)


SUMMARY_MEANINGS = {
    "status": "optimal; time_limit (best plan found, see mip_gap); unproven (a plan that holds "
    "every rule, not proven optimal: see message); infeasible; interrupted",
    "spend": "money the plan pays, expected over scenarios: contracts and adoptions, purchases, "
    "recycling and substitution, holding stock, changes against the previous plan",
    "lost_value": "expected value of the uses left short (the shortage cost)",
    "risk_premium": "what the CVaR term adds to the expected cost (objective - expected cost; "
    "0 when cvar_weight is 0)",
    "objective": "the model objective: fixed cost + (1 - cvar_weight) x expected scenario cost "
    "+ cvar_weight x CVaR of scenario cost",
    "expected_cost": "fixed cost + probability-weighted scenario cost",
    "cvar": "fixed cost + mean of the worst (1 - cvar_alpha) of scenario costs",
    "fixed_cost": "contracts signed now and adoptions (first stage), plus the expected fixed "
    "cost of contracts signed later",
    "purchase_cost": "expected cost of purchases",
    "activity_cost": "expected cost of recycling and substitution",
    "holding_cost": "expected cost of holding stock",
    "shortage_cost": "expected cost of unmet demand",
    "cover_penalty": "expected penalty for stock below its cover target",
    "change_cost": "expected cost of changes against the previous plan (Settings change_cost)",
    "mip_gap": "proven relative distance of the plan from the optimum",
    "solve_seconds": "time spent in the solver",
    "planner_version": "the planner that made this plan",
    "input_sha256": "SHA-256 of the input workbook file",
    "case_sha256": "hash of the data solved (differs from a file's if changed in Python)",
    "bound": "best proven lower bound on the objective",
    "china_share": "expected China-linked share of all supply (the case's china_basis)",
    "china_cap_tightest": "the China cap with the least headroom, compared period by period",
    "china_share_at_tightest": "the highest China share in that period (any scenario)",
    "china_tightest_where": "the element (or TOTAL) and period of that cap",
    "china_headroom": "cap minus share there: below 0 only where a cap is breached",
    "china_cap_breaches": "periods in which a China cap is exceeded (0: every cap holds)",
    "orders_now": "the first period's purchases: place them now (the Orders sheet)",
    "orders_decided_later": "purchases and signings in later quarters every scenario makes: "
    "already decided, placed when their quarter comes (the Orders sheet)",
    "orders_now_cost": "their cost",
    "contracts_to_sign_now": "contracts to sign now (the Orders sheet)",
    "shortfall": "expected unmet requirement over the horizon, all elements",
    "tree_nodes": "scenario-tree nodes: decisions shared until scenarios differ",
    "rows": "constraints handed to the solver",
    "columns": "variables handed to the solver",
    "warnings": "input warnings (see the Warnings sheet)",
}
#: Summary keys in money (labelled with the currency) and in quantity (with the unit): the
#: kind of a figure, never its number format, says which (both formats are ``#,##0.00``).
MONEY_KEYS = frozenset(
    (
        "spend",
        "lost_value",
        "risk_premium",
        "objective",
        "expected_cost",
        "cvar",
        "bound",
        "orders_now_cost",
        *COST_KEYS,
    )
)
QUANTITY_KEYS = frozenset(("shortfall",))
_SUMMARY_FORMATS = {
    **dict.fromkeys(MONEY_KEYS, _MONEY),
    "china_share": _SHARE,
    "china_cap_tightest": _SHARE,
    "china_share_at_tightest": _SHARE,
    "china_headroom": _SHARE,
    "mip_gap": "0.00E+00",
    "shortfall": _QUANTITY,
}


def _meaning(key: str, unit: str, currency: str) -> str:
    """Return a plain label of a Summary key, with its unit."""
    if key.startswith("shortfall_"):
        return f"expected unmet requirement of {key.removeprefix('shortfall_')}, {unit}"
    meaning = SUMMARY_MEANINGS.get(key, "")
    if not meaning:
        return meaning
    if key in MONEY_KEYS:
        return f"{meaning}, {currency}"
    if key in QUANTITY_KEYS:
        return f"{meaning}, {unit}"
    return meaning


def _summary(sheet: Worksheet, result: Result, formats: Formats) -> None:
    frame = result.summary_frame()
    settings = result.case.settings
    frame["meaning"] = [_meaning(key, settings.unit, settings.currency) for key in frame["key"]]
    formats_of = [
        _QUANTITY if key.startswith("shortfall") else _SUMMARY_FORMATS.get(key)
        for key in frame["key"]
    ]
    write_table(sheet, frame, formats, row_formats=formats_of)
    sheet.set_column(1, 1, 30)
    sheet.set_column(2, 2, 90)


def _chart_data(result: Result) -> dict[str, pd.DataFrame]:
    """Compute the expected (probability-weighted) figures behind the charts."""
    case = result.case
    probability = scenario_probability(case)
    periods = case.period_ids
    purchases = element_purchases(result.tables["Purchases"], case.offer_contents)
    mix = (
        expected(purchases, probability, ["element", "country"], "quantity")
        if len(purchases)
        else (pd.DataFrame(columns=["element", "country", "quantity"]))
    )
    supply_mix = mix.pivot_table(
        index="element", columns="country", values="quantity", aggfunc="sum", fill_value=0.0
    )
    supply_mix = supply_mix.reindex([str(e) for e in case.elements.index], fill_value=0.0)
    recycled = expected(result.tables["Stock"], probability, ["element"], "recycled").set_index(
        "element"
    )
    if recycled["recycled"].sum() > 0:
        supply_mix["recycling"] = recycled["recycled"].reindex(supply_mix.index).fillna(0.0)
    supply_mix = supply_mix.reset_index()

    shares = quantity_rows(result.tables["Shares"])
    basis = f"china_share_{case.settings.china_basis}"
    shares = shares.assign(china=shares[basis].fillna(0.0) * shares["supply"])
    totals = expected(shares, probability, ["period", "element"], "china").merge(
        expected(shares, probability, ["period", "element"], "supply"), on=["period", "element"]
    )
    caps = shares.groupby(["period", "element"], sort=False)["china_cap"].first().reset_index()
    totals = totals.merge(caps, on=["period", "element"])
    totals["share"] = np.where(
        totals["supply"] > 0,
        totals["china"] / totals["supply"].where(totals["supply"] > 0, 1),
        np.nan,
    )
    # columns gathered first and framed once: a column added at a time to a frame of
    # many elements made pandas warn (PerformanceWarning) on the user's terminal
    china_columns: dict[str, Any] = {"period": periods}
    for element in [*map(str, case.elements.index), "TOTAL"]:
        part = totals[totals["element"] == element].set_index("period").reindex(periods)
        china_columns[f"{element} share"] = part["share"].to_numpy()
        china_columns[f"{element} cap"] = part["china_cap"].to_numpy()

    stock = expected_stock(result.tables["Stock"], probability)
    cover_columns: dict[str, Any] = {"period": periods}
    for element in map(str, case.elements.index):
        part = stock[stock["element"] == element].set_index("period").reindex(periods)
        cover_columns[f"{element} stock"] = part["stock"].to_numpy()
        cover_columns[f"{element} target"] = part["target"].to_numpy()
    return {
        "supply_mix": supply_mix,
        "china": pd.DataFrame(china_columns),
        "cover": pd.DataFrame(cover_columns),
    }


class _Blocks:
    """Titled tables written one below the other into the ChartData sheet."""

    def __init__(self, sheet: Worksheet, formats: Formats) -> None:
        self.sheet = sheet
        self.formats = formats
        self.row = 0  # the next free row (0-based)

    def place(self, frame: pd.DataFrame, title: str) -> int:
        """Write a titled block; return the (0-based) row of its header."""
        if self.row:
            self.row += 1
        self.sheet.write_string(self.row, 0, title, self.formats.bold)
        header = self.row + 1
        for column, name in enumerate(frame.columns):
            self.sheet.write_string(header, column, str(name), self.formats.bold)
        shares = [("share" in str(n) or "cap" in str(n)) for n in frame.columns]
        for row, values in enumerate(frame.itertuples(index=False), start=header + 1):
            for column, value in enumerate(values):
                number = self.formats.number(_SHARE if shares[column] else None)
                _write(self.sheet, row, column, value, number)
        self.row = header + 1 + len(frame)
        return header


class _Texts:
    """Chart titles and axis names made from input text, kept in ChartData cells.

    XlsxWriter reads a chart name that looks like a reference (``=...``,
    ``Sheet!A1``, ``x!B2`` anywhere after other text) as a formula; a name
    given as a reference to a cell that holds the text, with the text as its
    cached value, is always shown literally.
    """

    def __init__(self, sheet: str, texts: list[str]) -> None:
        self.sheet = sheet
        self.texts = [clean_text(text) for text in texts]
        self.head = 0

    def place(self, blocks: _Blocks) -> None:
        """Write the texts as a block (before any chart refers to them)."""
        self.head = blocks.place(pd.DataFrame({"text": self.texts}), "Chart titles and axis names")

    def name(self, text: str) -> dict[str, Any]:
        """Return the chart ``name`` options that show ``text`` literally."""
        row = self.head + 1 + self.texts.index(clean_text(text))
        return {"name": [self.sheet, row, 0], "data": [clean_text(text)]}


def _line_chart(
    workbook: Workbook,
    data: str,
    head: int,
    column: int,
    n_periods: int,
    title: dict[str, Any],
    y_axis: dict[str, Any],
) -> Any:
    """Two lines from ChartData: a measure and its limit (dashed red); straight segments."""
    chart = workbook.add_chart({"type": "line"})
    categories = [data, head + 1, 0, head + n_periods, 0]
    chart.add_series(
        {
            "name": [data, head, column],
            "categories": categories,
            "values": [data, head + 1, column, head + n_periods, column],
        }
    )
    chart.add_series(
        {
            "name": [data, head, column + 1],
            "categories": categories,
            "values": [data, head + 1, column + 1, head + n_periods, column + 1],
            "line": {"color": "#C00000", "dash_type": "dash"},
        }
    )
    chart.set_title(title)
    chart.set_y_axis(y_axis)
    chart.set_size({"width": 480, "height": 280})
    return chart


_CHINA_TITLE, _COVER_TITLE = "China share", "Stock vs cover target"
#: What the Charts sheet says in place of the supply-mix chart of a plan that buys nothing.
NO_SUPPLY = (
    "Supply mix by country: this plan buys and recycles nothing (no demand to meet, or a "
    "shortage cheaper than every offer), so there is no supply to chart."
)


def _charts(
    workbook: Workbook, charts: Worksheet, data_sheet: Worksheet, result: Result, formats: Formats
) -> None:
    blocks = _chart_data(result)
    unit, currency = result.case.settings.unit, result.case.settings.currency
    charts.write_string(
        0,
        0,
        clean_text(
            "Expected values over the scenarios (probability-weighted). "
            f"Quantities in {unit}, costs in {currency}."
        ),
        formats.italic,
    )
    data = data_sheet.name
    data_sheet.set_column(0, 0, 14)
    writer = _Blocks(data_sheet, formats)
    mix, china, cover = blocks["supply_mix"], blocks["china"], blocks["cover"]
    mix_head = writer.place(mix, "Supply by shipping country, whole horizon (expected)")
    china_head = writer.place(china, "China share against its cap (expected)")
    cover_head = writer.place(cover, "Stock against its cover target (expected)")
    texts = _Texts(
        data,
        [
            unit,
            *(f"{_CHINA_TITLE}, {element}" for element in _pair_names(china)),
            *(f"{_COVER_TITLE}, {element}" for element in _pair_names(cover)),
        ],
    )
    texts.place(writer)

    if len(mix.columns) > 1:
        bar = workbook.add_chart({"type": "column", "subtype": "stacked"})
        for column in range(1, len(mix.columns)):
            bar.add_series(
                {
                    "name": [data, mix_head, column],
                    "categories": [data, mix_head + 1, 0, mix_head + len(mix), 0],
                    "values": [data, mix_head + 1, column, mix_head + len(mix), column],
                }
            )
        bar.set_title({"name": "Supply mix by country, per element"})
        bar.set_y_axis(texts.name(unit))
        bar.set_size({"width": 960, "height": 360})
        charts.insert_chart("A3", bar)
    else:  # a plan that buys and recycles nothing: a chart needs a series, Excel refuses one
        charts.write_string(2, 0, NO_SUPPLY, formats.bold)

    percent = {"num_format": "0%", "min": 0, "max": 1}
    breaks: list[int] = []
    first = 2 + BAR_ROWS
    rows_used = _line_grid(
        workbook, charts, data, china_head, china, _CHINA_TITLE, first, percent, texts, breaks
    )
    _line_grid(
        workbook,
        charts,
        data,
        cover_head,
        cover,
        _COVER_TITLE,
        first + rows_used,
        texts.name(unit),
        texts,
        breaks,
    )
    print_charts(charts, breaks)


def _pair_names(frame: pd.DataFrame) -> list[str]:
    """Return the element of each (measure, limit) pair of columns: ``Dy share`` -> ``Dy``."""
    return [str(frame.columns[c]).rsplit(" ", 1)[0] for c in range(1, len(frame.columns) - 1, 2)]


def _line_grid(
    workbook: Workbook,
    charts: Worksheet,
    data: str,
    head: int,
    frame: pd.DataFrame,
    title: str,
    top: int,
    y_axis: dict[str, Any],
    texts: _Texts,
    breaks: list[int],
) -> int:
    """Place one line chart per pair of columns, one below the other, each on its own page.

    ``top`` is the 0-based row of the first; returns the rows used. A page
    break before each chart (kept in ``breaks``) prints it on a page of its own.
    """
    pairs = range(1, len(frame.columns) - 1, 2)
    rows = []
    for index, (column, element) in enumerate(zip(pairs, _pair_names(frame), strict=True)):
        name = texts.name(f"{title}, {element}")
        chart = _line_chart(workbook, data, head, column, len(frame), name, y_axis)
        row = top + CHART_ROWS * index
        charts.insert_chart(row, 0, chart)
        rows.append(row)
    breaks.extend(rows)
    return CHART_ROWS * len(rows)


#: Rows of the Charts sheet a line chart takes (280 px at 20 px a row, and a gap), and the bar.
CHART_ROWS = 16
BAR_ROWS = 20
#: The printed pages' footer: file name, sheet, page of pages (Excel's header codes).
FOOTER = "&L&F&C&A&RPage &P of &N"


def print_table(sheet: Worksheet) -> None:
    """Lay a table sheet out for print: landscape, one page wide, header row on every page.

    The footer names the file and the sheet and numbers the pages (A4).
    """
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)  # one page wide, as many tall as it takes
    sheet.repeat_rows(0)
    sheet.set_footer(FOOTER)
    sheet.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)


def print_charts(sheet: Worksheet, breaks: list[int]) -> None:
    """Print the Charts sheet one chart a page: the bar chart, then a page break before each."""
    sheet.set_landscape()
    sheet.set_paper(9)
    sheet.set_footer(FOOTER)
    sheet.set_h_pagebreaks(breaks)  # manual breaks: no "fit to", which would ignore them
    sheet.print_area(0, 0, (breaks[-1] + CHART_ROWS) if breaks else BAR_ROWS, 15)


#: Data rows of one sheet: Excel's 1,048,576 rows less the header.
MAX_SHEET_ROWS = 1_048_575


def _chunks(table: pd.DataFrame) -> list[pd.DataFrame]:
    """Split a table that Excel cannot hold on one sheet; continuation sheets are numbered."""
    if len(table) <= MAX_SHEET_ROWS:
        return [table]
    return [table.iloc[i : i + MAX_SHEET_ROWS] for i in range(0, len(table), MAX_SHEET_ROWS)]


def _written(name: str, table: pd.DataFrame) -> pd.DataFrame:
    """Return the rows of a table that its sheet shows: Duals leaves out duals of 0 (spec v2).

    Most rows of a large case price nothing (capacity not used up, a cap
    with room); the sheet keeps its header when every dual is 0, and
    ``Result.tables["Duals"]`` keeps every row.
    """
    if name == "Duals" and "dual" in table.columns:
        return table[table["dual"] != 0]
    return table


def _table_order(result: Result) -> list[str]:
    """Orders right after the Summary (what to do now), then the charts, then the tables."""
    first = [name for name in result.tables if name == "Orders"]
    return [
        *first,
        *(["Charts"] if result.has_plan else []),
        *(n for n in result.tables if n != "Orders"),
    ]


def sheet_names(result: Result) -> list[str]:
    """Return the sheets of the solution workbook of ``result``, in order."""
    names = ["Summary"]
    for name in _table_order(result):
        if name == "Charts":
            names.append(name)
            continue
        names += [
            name if not part else f"{name} ({part + 1})"
            for part in range(len(_chunks(_written(name, result.tables[name]))))
        ]
    warnings = ["Warnings"] if result.warnings else []
    return [*names, *warnings, *(["ChartData"] if result.has_plan else [])]


def _build(result: Result, path: str) -> None:
    """Write the solution workbook of ``result`` to ``path``."""
    workbook = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    try:
        _fill(workbook, result)
        workbook.close()
    except BaseException:
        _abandon(workbook)
        raise


def _fill(workbook: Workbook, result: Result) -> None:
    formats = Formats(workbook)
    _summary(workbook.add_worksheet("Summary"), result, formats)
    charts = None
    for name in _table_order(result):
        if name == "Charts":
            charts = workbook.add_worksheet("Charts")
            continue
        for part, chunk in enumerate(_chunks(_written(name, result.tables[name]))):
            sheet = workbook.add_worksheet(name if not part else f"{name} ({part + 1})")
            numbers = _orders_formats(chunk, result) if name == "Orders" else None
            write_table(sheet, chunk, formats, column_formats=numbers)
    warnings = result.warnings
    if warnings:  # only when there is something to say
        frame = pd.DataFrame(
            {"where": [w.where for w in warnings], "message": [w.message for w in warnings]}
        )
        write_table(workbook.add_worksheet("Warnings"), frame, formats)
    if charts is not None:
        data_sheet = workbook.add_worksheet("ChartData")
        _charts(workbook, charts, data_sheet, result, formats)
        data_sheet.hide()  # the charts' numbers; the planner reads the Charts sheet


def _with_unit(number_format: str, unit: str) -> str:
    """Return ``number_format`` showing ``unit`` after the number (``482.00 t``)."""
    unit = unit.replace('"', "").replace("\\", "")
    return f'{number_format} "{unit}"' if unit else number_format


def _orders_formats(table: pd.DataFrame, result: Result) -> list[str | None]:
    """Return the Orders sheet's number formats: each amount shows its unit (issue 23.11).

    The columns keep the contract's names (``quantity``, ``unit_cost``); the
    cells read ``482.00 t``, ``11.00 JPY m/t``, ``5,302.00 JPY m``.
    """
    unit, currency = result.case.settings.unit, result.case.settings.currency
    units = {
        "quantity": unit,
        "unit_cost": f"{currency}/{unit}" if currency and unit else currency,
        "cost": currency,
        "fixed_cost": currency,
    }
    return [
        _with_unit(_MONEY, units[str(c)]) if str(c) in units else _number_format(str(c))
        for c in table.columns
    ]


def _abandon(workbook: Workbook) -> None:
    """Drop an unfinished workbook: close and remove the row files of its sheets."""
    workbook.fileclosed = True
    for sheet in workbook.worksheets():
        with contextlib.suppress(Exception):
            sheet._opt_close()
        name = getattr(sheet, "row_data_filename", None)
        if name:
            with contextlib.suppress(OSError):
                os.unlink(name)


def write_solution(result: Result, path: Path) -> Path:
    """Write ``result`` to ``path`` atomically; never over the input workbook.

    Raises
    ------
    OutputError
        When the path is the input, the folder is missing or not writable, or
        the disk is full; nothing is left behind.
    """
    check_target(path, result.case.source.path)
    return save_atomically(lambda target: _build(result, target), path, sheet_names(result))
