"""Build the example input workbooks in ``inputs/`` from their data tables.

Run ``python scripts/build_inputs.py``. It writes:

* ``inputs/japan-2026.xlsx``: Japan's rare-earth sourcing, 12 quarters from
  2026Q1, assembled from the tables in ``inputs/japan-2026/`` (one CSV per
  sheet; every row gives its source, the figure as the source states it, and
  how the figure follows, or the word ``assumption`` and its reasoning;
  ``sources.csv`` gives each source's title, publisher and date). This script
  holds no figure of the case: it copies the tables, grows the first
  quarter's demand by its growth rate, and writes every table row with its
  provenance into the Notes sheet;
* ``inputs/tiny.xlsx``: two quarters, two elements, three offers, small
  enough to solve by hand (the optimum, 21,702, is worked out in its Notes).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any, NamedTuple

import openpyxl
from openpyxl.styles import Font

INPUTS = Path(__file__).resolve().parent.parent / "inputs"
DATA = INPUTS / "japan-2026"
PROVENANCE = ("source", "as_stated", "reasoning")
ASSUMPTION = "assumption"
NOTES_HEADER = [
    "sheet",
    "key",
    "figures",
    "source",
    "title",
    "publisher",
    "date",
    "as stated",
    "how derived",
]


class Table(NamedTuple):
    """One data table: the sheet it fills, its file, and the columns naming a row."""

    sheet: str
    file: str
    key: tuple[str, ...]


# The sheets of the Japan case in workbook order, each from one table of inputs/japan-2026/.
TABLES = (
    Table("Settings", "settings.csv", ("key",)),
    Table("Periods", "periods.csv", ("period",)),
    Table("Elements", "elements.csv", ("element",)),
    Table("Demand", "demand.csv", ("element",)),
    Table("Offers", "offers.csv", ("offer",)),
    Table("OfferContents", "offer_contents.csv", ("offer", "element")),
    Table("OfferPeriods", "offer_periods.csv", ("offer", "period")),
    Table("Countries", "countries.csv", ("country",)),
    Table("Activities", "activities.csv", ("activity",)),
    Table("ActivityYields", "activity_yields.csv", ("activity", "element")),
    Table("Policies", "policies.csv", ("policy", "element", "period", "basis", "measure")),
    Table("ShortageTiers", "shortage_tiers.csv", ("element", "use")),
    Table("Events", "events.csv", ("event", "target_type", "target", "element", "first_period")),
    Table("Sweep", "sweep.csv", ("change",)),
)
PERCENT_COLUMNS = {"Policies": ("value",), "ShortageTiers": ("share",)}


def _value(text: str) -> Any:
    """Read a table cell as the workbook holds it: blank as None, numbers as numbers."""
    text = text.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def read_table(name: str) -> list[dict[str, Any]]:
    """Rows of one data table of the Japan case, cells typed as in the workbook."""
    with (DATA / name).open(newline="", encoding="utf-8") as handle:
        return [
            {column: _value(text or "") for column, text in row.items()}
            for row in csv.DictReader(handle)
        ]


def sources() -> dict[str, dict[str, Any]]:
    """Return the cited sources by key: title, publisher, date, address."""
    return {str(row["source"]): row for row in read_table("sources.csv")}


def source_keys(row: dict[str, Any]) -> list[str]:
    """Return the source keys a table row cites (``assumption`` alone when none)."""
    return [key.strip() for key in str(row["source"] or "").split(";") if key.strip()]


def figure_columns(row: dict[str, Any]) -> list[str]:
    """Return the columns of a table row that hold the sheet's figures (not provenance)."""
    return [column for column in row if column not in PROVENANCE]


def demand_rows(row: dict[str, Any], periods: list[str]) -> list[list[Any]]:
    """Demand of one element per period: the first quarter's quantity grown by its rate."""
    base, growth = float(row["quantity"]), float(row["growth"] or 0)
    return [
        [row["element"], period, round(base * (1 + growth) ** index, 1)]
        for index, period in enumerate(periods)
    ]


def _sheet(
    workbook: openpyxl.Workbook,
    name: str,
    rows: list[list[Any]],
    percent_columns: tuple[str, ...] = (),
) -> None:
    sheet = workbook.create_sheet(name)
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    header = rows[0]
    for name_ in percent_columns:
        column = header.index(name_) + 1
        for row in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            row[0].number_format = "0%"
    for column in sheet.columns:
        width = max(len(str(c.value)) if c.value is not None else 0 for c in column)
        sheet.column_dimensions[column[0].column_letter].width = min(max(10, width + 2), 80)
    sheet.freeze_panes = "A2"


def note(table: Table, row: dict[str, Any], cited: dict[str, dict[str, Any]]) -> list[Any]:
    """Return the Notes row of a table row: what it sets, where its figures come from, how."""
    key = " / ".join(str(row[column]) for column in table.key if row[column] is not None)
    figures = "; ".join(
        f"{column}={row[column]}"
        for column in figure_columns(row)
        if column not in table.key and row[column] is not None
    )
    keys = source_keys(row)
    if keys == [ASSUMPTION]:
        return [table.sheet, key, figures, ASSUMPTION, None, None, None, None, row["reasoning"]]
    found = [cited[name] for name in keys]
    return [
        table.sheet,
        key,
        figures,
        "; ".join(keys),
        " | ".join(str(source["title"]) for source in found),
        " | ".join(str(source["publisher"]) for source in found),
        " | ".join(str(source["date"]) for source in found),
        row["as_stated"],
        row["reasoning"],
    ]


def japan() -> openpyxl.Workbook:
    """Assemble the Japan 2026 case from its data tables (inputs/japan-2026/)."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    cited = sources()
    periods = [str(row["period"]) for row in read_table("periods.csv")]
    notes: list[list[Any]] = [NOTES_HEADER]
    for table in TABLES:
        rows = read_table(table.file)
        columns = figure_columns(rows[0])
        if table.sheet == "Demand":
            body = [line for row in rows for line in demand_rows(row, periods)]
            columns = ["element", "period", "quantity"]
        else:
            body = [[row[column] for column in columns] for row in rows]
        _sheet(workbook, table.sheet, [columns, *body], PERCENT_COLUMNS.get(table.sheet, ()))
        notes += [note(table, row, cited) for row in rows]
    _sheet(workbook, "Notes", notes)
    return workbook


TINY_NOTES = [
    (
        "What",
        "Two quarters; Nd demand 100 + 100 t, Dy 10 + 15 t; three offers; China share of Nd "
        "at most 50%.",
        "A case small enough to check by hand.",
    ),
    (
        "Nd",
        "Without Nd-MY the cap forces Nd-CN to 0 and 200 t go short: 40,000. With it (fixed "
        "cost 500): 50 t from each offer each quarter, 2 x (50 x 50 + 50 x 80) = 13,000; total "
        "13,500.",
        "Short tonnes (200) cost more than a CN+MY pair (65 per t).",
    ),
    (
        "Dy",
        "25 t needed, at most 24 t can be bought: 12 t in Q1 (10 used, 2 held: holding 2), "
        "12 t in Q2, 1 t short: 24 x 300 + 2 + 1,000 = 8,202.",
        "Buying less in Q1 means more short at 1,000 per t.",
    ),
    (
        "Optimum",
        "21,702 = fixed 500 + purchases 20,200 + holding 2 + shortage 1,000.",
        "China share (any basis): Nd 50% in both quarters (the cap binds), Dy 100% (no cap).",
    ),
]


def tiny() -> openpyxl.Workbook:
    """Build the hand-checkable tiny case (the reference hand case, with its reasoning)."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    _sheet(workbook, "Periods", [["period", "days"], ["2026Q1", 90], ["2026Q2", 91]])
    _sheet(
        workbook,
        "Elements",
        [
            ["element", "name", "group", "shortage_cost", "holding_cost"],
            ["Nd", "Neodymium", "light", 200, 2],
            ["Dy", "Dysprosium", "heavy", 1000, 1],
        ],
    )
    _sheet(
        workbook,
        "Demand",
        [
            ["element", "period", "quantity"],
            ["Nd", "2026Q1", 100],
            ["Nd", "2026Q2", 100],
            ["Dy", "2026Q1", 10],
            ["Dy", "2026Q2", 15],
        ],
    )
    _sheet(
        workbook,
        "Offers",
        [
            [
                "offer",
                "supplier",
                "element",
                "country",
                "mine_country",
                "refine_country",
                "unit_cost",
                "capacity",
                "fixed_cost",
            ],
            ["Nd-CN", "China Northern", "Nd", "CN", None, None, 50, 100, None],
            ["Nd-MY", "Lynas", "Nd", "MY", "AU", "MY", 80, 60, 500],
            ["Dy-CN", "Ganzhou", "Dy", "CN", None, None, 300, 12, None],
        ],
    )
    _sheet(
        workbook,
        "Countries",
        [
            ["country", "name", "risk"],
            ["CN", "China", 0.9],
            ["MY", "Malaysia", 0.3],
            ["AU", "Australia", 0.1],
        ],
    )
    _sheet(
        workbook,
        "Policies",
        [["policy", "element", "period", "value"], ["china_share_max", "Nd", None, 0.5]],
        percent_columns=("value",),
    )
    _sheet(
        workbook,
        "Notes",
        [["topic", "value", "source or reasoning"], *[list(n) for n in TINY_NOTES]],
    )
    return workbook


def main() -> int:
    """Write both workbooks into inputs/."""
    INPUTS.mkdir(exist_ok=True)
    for name, build in (("japan-2026.xlsx", japan), ("tiny.xlsx", tiny)):
        build().save(INPUTS / name)
        sys.stdout.write(f"wrote {INPUTS / name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
