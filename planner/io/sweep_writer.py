"""Write a sweep workbook: the table of variants and the cost / China-share trade-off chart."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import xlsxwriter

from planner.io.writer import Formats, check_target, save_atomically, write_table

if TYPE_CHECKING:
    from planner.sweep import SweepResult


def _build(result: SweepResult, path: str) -> None:
    workbook = xlsxwriter.Workbook(
        path, {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False}
    )
    formats = Formats(workbook)
    table = result.table
    write_table(workbook.add_worksheet("Sweep"), table, formats)
    chart_sheet = workbook.add_worksheet("Trade-off")
    columns = list(table.columns)
    if {"china_share", "expected_cost"} <= set(columns) and len(table):
        frontier = table[table["efficient"]].sort_values("china_share")
        data = workbook.add_worksheet("Frontier")
        write_table(data, frontier[["china_share", "expected_cost"]], formats)
        chart = workbook.add_chart({"type": "scatter"})
        rows = len(table)
        x, y = columns.index("china_share"), columns.index("expected_cost")
        chart.add_series(
            {
                "name": "variants",
                "categories": ["Sweep", 1, x, rows, x],
                "values": ["Sweep", 1, y, rows, y],
                "marker": {"type": "circle", "size": 6},
            }
        )
        if len(frontier):
            chart.add_series(
                {
                    "name": "efficient frontier",
                    "categories": ["Frontier", 1, 0, len(frontier), 0],
                    "values": ["Frontier", 1, 1, len(frontier), 1],
                    "line": {"color": "#C00000"},
                    "marker": {"type": "diamond", "size": 7, "fill": {"color": "#C00000"}},
                }
            )
        chart.set_title({"name": "Expected cost against China share"})
        chart.set_x_axis({"name": "China share of supply (expected)", "num_format": "0%"})
        chart.set_y_axis({"name": "expected cost"})
        chart.set_size({"width": 900, "height": 480})
        chart_sheet.insert_chart("A1", chart)
    workbook.close()


def write_sweep(result: SweepResult, path: Path) -> Path:
    """Write the sweep workbook to ``path`` atomically."""
    check_target(path)
    names = ["Sweep", "Trade-off"]
    if {"china_share", "expected_cost"} <= set(result.table.columns) and len(result.table):
        names.append("Frontier")
    return save_atomically(lambda target: _build(result, target), path, names)
