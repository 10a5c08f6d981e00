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
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter, StrMethodFormatter

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


def _panels(count: int, width: float = 12.0, height: float = 2.6) -> tuple[Figure, int, int]:
    """Return a figure for ``count`` small charts, three to a row, content-width."""
    columns = min(3, max(1, count))
    rows = math.ceil(count / columns) or 1
    return Figure(figsize=(width, height * rows)), rows, columns


def share_chart(rows: list[dict[str, Any]], basis: str) -> str:
    """China share against the cap that applies, period by period: one chart per element.

    ``rows`` are :func:`planner.web.worker.china_by_period`'s: per element,
    basis and period the expected share (a line), the highest share of any
    scenario (dotted), the period's cap (a step line, absent where no cap
    applies) and a red cross only where ``breach`` is True. An element
    capped on a basis other than ``basis`` says which in its title. Each
    chart's group has the id ``share-N``; a breach's crosses ``breach-N``.
    """
    panels = list(dict.fromkeys((row["element"], row["basis"]) for row in rows))
    figure, height, width = _panels(len(panels))
    for i, (element, on) in enumerate(panels):
        axes = figure.add_subplot(height, width, i + 1)
        axes.set_gid(f"share-{i}")
        part = [row for row in rows if row["element"] == element and row["basis"] == on]
        places = list(range(len(part)))
        nan = float("nan")
        shares = [nan if r["china_share"] is None else r["china_share"] for r in part]
        highest = [nan if r["highest"] is None else r["highest"] for r in part]
        caps = [nan if r["china_cap"] is None else r["china_cap"] for r in part]
        axes.plot(places, shares, color=BLUE, marker="o", markersize=3)
        spread = [h - s for h, s in zip(highest, shares, strict=True) if not math.isnan(h - s)]
        if any(gap > 1e-9 for gap in spread):  # scenarios differ: the highest one, dotted
            axes.plot(places, highest, color=BLUE, linestyle=":", linewidth=1)
        capped = not all(math.isnan(c) for c in caps)  # NaN: no cap in that period
        if capped:
            edges = [p - 0.5 for p in places] + [len(places) - 0.5]
            axes.stairs(caps, edges, baseline=None, color=RED, linewidth=1.5)
        over = [(p, h) for p, h, r in zip(places, highest, part, strict=True) if r["breach"]]
        if over:
            marks = axes.scatter(
                [p for p, _ in over],
                [h for _, h in over],
                marker="x",
                color=RED,
                s=40,
                zorder=3,
            )
            marks.set_gid(f"breach-{i}")
        title = plain(element, SHORT)
        if on != basis:
            title += f" ({plain(on)} basis)"
        if not capped:
            title += " (no cap)"
        axes.set_title(title, fontsize=9, color=RED if over else "black")
        axes.set_ylim(0, 1.05)
        axes.set_xlim(-0.5, len(places) - 0.5)
        axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        axes.set_xticks(places, [plain(r["period"], SHORT) for r in part])
        axes.tick_params(axis="x", labelrotation=90, labelsize=6)
        axes.tick_params(axis="y", labelsize=7)
        axes.grid(axis="y", alpha=0.3)
    key = [
        Line2D([], [], color=BLUE, marker="o", markersize=3, label="China share (expected)"),
        Line2D([], [], color=BLUE, linestyle=":", linewidth=1, label="highest scenario"),
        Line2D([], [], color=RED, linewidth=1.5, label="cap of the period"),
    ]
    if any(row["breach"] for row in rows):
        key.append(Line2D([], [], color=RED, marker="x", linestyle="", label="over the cap"))
    figure.legend(handles=key, loc="upper right", ncol=len(key), fontsize=8, frameon=False)
    figure.suptitle("China share of supply against the cap of each period", x=0.02, ha="left")
    return _svg(figure)


def cost_chart(costs: dict[str, Any], currency: str) -> str:
    """Draw the expected cost by component as horizontal bars."""
    figure = Figure(figsize=(12.0, 3.2))
    axes = figure.add_subplot()
    items = [(k.replace("_", " "), v or 0.0) for k, v in costs.items()]
    axes.barh([k for k, _ in items][::-1], [v for _, v in items][::-1], color=BLUE)
    axes.set_xlabel(f"expected cost ({plain(currency)})")
    axes.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.set_title("Cost breakdown")
    axes.grid(axis="x", alpha=0.3)
    return _svg(figure)


def stock_chart(stock: list[dict[str, Any]], unit: str) -> str:
    """Draw the expected stock per element over the periods, the cover target dashed.

    Each chart's y axis starts at 0; its group has the id ``stock-y-N``.
    """
    elements = list(dict.fromkeys(row["element"] for row in stock))
    figure, rows, columns = _panels(len(elements))
    for i, element in enumerate(elements):
        axes = figure.add_subplot(rows, columns, i + 1)
        axes.yaxis.set_gid(f"stock-y-{i}")
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
        axes.set_ylim(bottom=0)  # stock is never negative: the axis starts at 0
        axes.set_title(f"{plain(element)} ({plain(unit)})", fontsize=9)
        axes.tick_params(axis="x", labelrotation=90, labelsize=6)
        axes.tick_params(axis="y", labelsize=7)
        if i == 0:
            axes.legend(fontsize=7)
    return _svg(figure)
