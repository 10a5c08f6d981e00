"""Charts for the job page, drawn server-side (in the job process) as SVG: no CDN, no JS.

Text from the workbook (ids, currency, unit) goes through :func:`plain`
first: shown as typed, never read as matplotlib mathtext (``$x^2$``), and
without control characters. Matplotlib's SVG writer escapes what it writes
(``<``, ``&``, ``--`` in comments), so no input text becomes markup.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

BLUE, RED, GREY = "#4472C4", "#C00000", "#7F7F7F"
LONGEST = 40  # characters of an id shown on a chart
SHORT = 12  # ... under a bar, beside its neighbours
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def plain(value: Any, longest: int = LONGEST) -> str:
    """Return ``value`` as literal chart text: ``$`` escaped, no control characters, short."""
    text = CONTROL.sub(" ", str(value))
    if len(text) > longest:
        text = text[: longest - 1] + "…"
    return text.replace("$", r"\$")


def _svg(figure: Figure) -> str:
    figure.tight_layout()
    out = io.StringIO()
    figure.savefig(out, format="svg")
    return out.getvalue()


def share_chart(elements: list[dict[str, Any]]) -> str:
    """China share of each element (expected) as bars, its cap as a red tick."""
    figure = Figure(figsize=(6.4, 3.4))
    axes = figure.add_subplot()
    names = [plain(e["element"], SHORT) for e in elements]
    shares = [e["china_share"] or 0.0 for e in elements]
    colours = [RED if e["over_cap"] else BLUE for e in elements]
    places = list(range(len(names)))  # by place: two ids cut to the same text stay two bars
    axes.bar(places, shares, color=colours, label="China share (expected)")
    axes.set_xticks(places, names)
    caps = [(i, e["china_cap"]) for i, e in enumerate(elements) if e["china_cap"] is not None]
    if caps:
        axes.scatter(
            [i for i, _ in caps],
            [c for _, c in caps],
            marker="_",
            s=900,
            color=RED,
            linewidths=3,
            label="cap (tightest period)",
            zorder=3,
        )
    axes.set_ylim(0, 1.05)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_title("China share of supply against its cap")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    return _svg(figure)


def cost_chart(costs: dict[str, Any], currency: str) -> str:
    """Draw the expected cost by component as horizontal bars."""
    figure = Figure(figsize=(6.4, 3.0))
    axes = figure.add_subplot()
    items = [(k.replace("_", " "), v or 0.0) for k, v in costs.items()]
    axes.barh([k for k, _ in items][::-1], [v for _, v in items][::-1], color=BLUE)
    axes.set_xlabel(f"expected cost ({plain(currency)})")
    axes.set_title("Cost breakdown")
    axes.grid(axis="x", alpha=0.3)
    return _svg(figure)


def stock_chart(stock: list[dict[str, Any]], unit: str) -> str:
    """Draw the expected stock per element over the periods, the cover target dashed."""
    elements = list(dict.fromkeys(row["element"] for row in stock))
    columns = min(3, max(1, len(elements)))
    rows = math.ceil(len(elements) / columns) or 1
    figure = Figure(figsize=(3.2 * columns, 2.4 * rows))
    for i, element in enumerate(elements):
        axes = figure.add_subplot(rows, columns, i + 1)
        part = [row for row in stock if row["element"] == element]
        periods = list(range(len(part)))
        axes.plot(
            periods,
            [row["stock"] or 0.0 for row in part],
            color=BLUE,
            marker="o",
            markersize=3,
            label="stock",
        )
        axes.plot(
            periods,
            [row["target"] or 0.0 for row in part],
            color=RED,
            linestyle="--",
            label="cover target",
        )
        axes.set_xticks(periods, [plain(row["period"], SHORT) for row in part])
        axes.set_title(f"{plain(element)} ({plain(unit)})", fontsize=9)
        axes.tick_params(axis="x", labelrotation=90, labelsize=6)
        axes.tick_params(axis="y", labelsize=7)
        if i == 0:
            axes.legend(fontsize=7)
    return _svg(figure)
