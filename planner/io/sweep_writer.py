"""Write a sweep workbook: the table of variants and the cost / China-share trade-off chart."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import xlsxwriter

from planner.errors import OutputError
from planner.headline import column_names
from planner.io.writer import (
    Formats,
    check_target,
    clean_text,
    number_format,
    save_atomically,
    write_table,
)
from planner.outcome import SweepResult

if TYPE_CHECKING:  # matplotlib is imported where a picture is drawn
    from matplotlib.figure import Figure


def _build(result: SweepResult, path: str) -> None:
    workbook = xlsxwriter.Workbook(
        path, {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False}
    )
    formats = Formats(workbook)
    table = result.table
    shown, numbers = _shown(result, table)
    write_table(workbook.add_worksheet("Sweep"), shown, formats, column_formats=numbers)
    chart_sheet = workbook.add_worksheet("Trade-off")
    columns = list(table.columns)
    if {"china_share", "expected_cost"} <= set(columns) and len(table):
        frontier = table[table["efficient"]].sort_values("china_share")
        data = workbook.add_worksheet("Frontier")
        points, numbers = _shown(result, frontier[["china_share", "expected_cost"]])
        write_table(data, points, formats, column_formats=numbers)
        chart = workbook.add_chart({"type": "scatter"})
        rows = len(table)
        x, y = columns.index("china_share"), columns.index("expected_cost")
        variants = {
            "name": "variants",
            "categories": ["Sweep", 1, x, rows, x],
            "values": ["Sweep", 1, y, rows, y],
            "marker": {"type": "circle", "size": 6},
        }
        labels = point_labels(result)
        if labels:
            variants["data_labels"] = {
                "custom": [{"value": clean_text(label)} for label in labels],
                "position": "above",
            }
        chart.add_series(variants)
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
        cost = clean_text(_cost_label(result.about.get("currency", "")))
        chart_sheet.write_string("Q30", cost)  # the axis name refers to it: always literal
        chart.set_y_axis({"name": ["Trade-off", 29, 16], "data": [cost], "num_format": "#,##0"})
        chart.set_size({"width": 900, "height": 480})
        chart_sheet.insert_chart("A1", chart)
        chart_sheet.write_string("Q1", "The same chart as a picture:")
        chart_sheet.insert_image(
            "Q2",
            "trade-off.png",
            {"image_data": io.BytesIO(picture(result)), "x_scale": 0.75, "y_scale": 0.75},
        )
    if result.about:
        about = pd.DataFrame(
            {"key": list(result.about), "value": [str(v) for v in result.about.values()]}
        )
        write_table(workbook.add_worksheet("About"), about, formats)
    workbook.close()


def _shown(result: SweepResult, table: pd.DataFrame) -> tuple[pd.DataFrame, list[str | None]]:
    """Return the table as the workbook shows it (figures named with their units), and formats.

    ``result.table`` keeps the summary keys as column names (``spend``,
    ``china_share``) for Python; the sheet says ``spend (JPY m)``.
    """
    columns = [str(c) for c in table.columns]
    formats = [number_format(c) for c in columns]
    about = result.about
    names = column_names(columns, str(about.get("currency", "")), str(about.get("unit", "")))
    return table.rename(columns=names), formats


#: Variants a chart labels point by point (more would be unreadable).
MAX_LABELLED = 40


def point_labels(result: SweepResult) -> list[str]:
    """Each variant's changed values, to label its point ("" beyond MAX_LABELLED variants)."""
    table = result.table
    names = [name for name in result.changes if name in table.columns]
    if not names or len(table) > MAX_LABELLED:
        return []
    return [
        ", ".join(f"{value:g}" for value in values)
        for values in table[names].itertuples(index=False)
    ]


def picture(result: SweepResult) -> bytes:
    """Return the trade-off chart as PNG bytes, drawn once and kept on ``result``."""
    if result._picture is None:
        currency = str(result.about.get("currency", ""))
        result._picture = trade_off_png(result.table, currency, point_labels(result)).getvalue()
    return result._picture


def _cost_label(currency: str) -> str:
    return f"expected cost ({currency})" if currency else "expected cost"


def trade_off_png(
    table: pd.DataFrame, currency: str = "", labels: list[str] | None = None
) -> io.BytesIO:
    """Draw expected cost against China share, the efficient frontier marked, as a PNG.

    Text is drawn as given: ``$...$`` in the currency is not read as maths.
    """
    import matplotlib

    matplotlib.use("Agg")  # no screen needed
    from matplotlib import rc_context

    with rc_context({"text.parse_math": False, "text.usetex": False}):
        return _draw(table, currency, labels or [])


def _draw(table: pd.DataFrame, currency: str, labels: list[str]) -> io.BytesIO:
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    figure = Figure(figsize=(9, 4.8), dpi=100)
    axes = figure.add_subplot()
    # only variants with a plan have a point (an infeasible one has no cost or share)
    drawn = (
        pd.to_numeric(table["china_share"], errors="coerce").notna()
        & pd.to_numeric(table["expected_cost"], errors="coerce").notna()
    )
    labels = [label for label, keep in zip(labels, drawn, strict=False) if keep]
    table = table[drawn.to_numpy()]
    if table.empty:
        axes.set_axis_off()
        axes.text(0.5, 0.5, "no variant has a plan", ha="center", va="center")
        return _png(figure)
    axes.scatter(table["china_share"], table["expected_cost"], label="variants", color="#4472C4")
    frontier = table[table["efficient"]].sort_values("china_share")
    if len(frontier):
        axes.plot(
            frontier["china_share"],
            frontier["expected_cost"],
            marker="D",
            color="#C00000",
            label="efficient frontier",
        )
    axes.set_title("Expected cost against China share")
    axes.set_xlabel("China share of supply (expected)")
    axes.set_ylabel(clean_text(_cost_label(currency)))
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    for label, x, y in zip(labels, table["china_share"], table["expected_cost"], strict=False):
        axes.annotate(
            clean_text(label), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8
        )
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return _png(figure)


def _png(figure: Figure) -> io.BytesIO:
    image = io.BytesIO()
    figure.savefig(image, format="png")
    image.seek(0)
    return image


def _is_input(result: SweepResult, path: Path) -> bool:
    """Tell whether ``path`` holds the workbook the sweep was read from (its bytes hash to it)."""
    digest = result.about.get("input_sha256")
    if not digest or not path.is_file():
        return False
    try:
        with path.open("rb") as stream:
            return str(hashlib.file_digest(stream, "sha256").hexdigest()) == digest
    except OSError:
        return False


def write_sweep(result: SweepResult, path: Path) -> Path:
    """Write the sweep workbook to ``path`` atomically; never over the input workbook.

    Raises
    ------
    OutputError
        When ``path`` is the input (its path, or a file with the input's
        SHA-256), or cannot be written; nothing is left behind.
    """
    cases = [getattr(variant, "case", None) for variant in result.results]
    check_target(path, {case.source.path for case in cases if case is not None})
    if _is_input(result, path):
        raise OutputError(f"{path}: refusing to overwrite the input workbook; choose another name")
    names = ["Sweep", "Trade-off"]
    if {"china_share", "expected_cost"} <= set(result.table.columns) and len(result.table):
        names.append("Frontier")
    if result.about:
        names.append("About")
    written = save_atomically(lambda target: _build(result, target), path, names)
    if "Frontier" in names:
        _save_picture(picture(result), written.with_suffix(".png"))
    return written


def _save_picture(picture: bytes, path: Path) -> None:
    """Write the trade-off PNG beside the workbook (temporary file, then rename)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        temporary.write_bytes(picture)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise OutputError(f"{path}: the trade-off picture could not be written ({error})") from None
