"""Quarterly re-planning: three quarters of the Japan case, each rolled from the last.

Run from the repository root:

    .venv/bin/python examples/quarterly_roll.py

Quarter 1 solves inputs/japan-2026.xlsx. ``planner.roll`` writes quarter 2's
input from it: the first quarter dropped and one appended, the stock at the
end of quarter 1, the contracts signed, the orders of quarter 2 as firm
commitments and the plan as PreviousPlan. In quarter 2 an event is revealed:
the one that starts earliest (ties: the likeliest; in the Japan case, Viet
Nam's faltering processing from 2026Q3) is now known to be happening, so the
planner keeps it alone (probability 1, the other events dropped) and prices
every change against the last plan (Settings ``change_cost``, 5% of the
median unit cost). Quarter 3 is rolled from quarter 2's plan in the same way.
Offer ids, events and periods are all read from the workbook.

It prints, per quarter, the expected cost, the China share and the total
change against the previous plan (sum of |change| of the Changes sheet;
blank where the last plan had no orders shared by every scenario), and keeps
every workbook in outputs/quarterly-roll/.

What a buyer reads in it: the orders already placed stand (they are
Commitments of the next quarter); once the news is in, the plan is one plan
for every quarter after it, and rolling on without further news changes none
of its orders (a total change of 0 against the last plan): a plan made
quarter by quarter is the plan made at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd

import planner
from planner.roll import total_change

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "outputs" / "quarterly-roll"


def main(workbook: Path = ROOT / "inputs" / "japan-2026.xlsx", out: Path = OUT) -> pd.DataFrame:
    """Solve and roll three quarters; return one row per quarter.

    ``workbook`` is quarter 1's input; every workbook is kept in ``out``.
    """
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    revealed = ""
    for quarter in (1, 2, 3):
        case = planner.load(workbook)
        result = planner.solve(case, duals=False)
        solution = out / f"q{quarter}-solution.xlsx"
        result.write(solution)
        rows.append(
            {
                "quarter": quarter,
                "first_period": case.period_ids[0],
                "status": result.status,
                "expected_cost": result.summary["expected_cost"],
                "china_share": result.summary["china_share"],
                "total_change": total_change(result.tables.get("Changes")),
                "revealed": revealed,
            }
        )
        if quarter == 3:
            break
        following = out / f"q{quarter + 1}.xlsx"
        planner.roll(workbook, solution, following, firm=1)
        if quarter == 1:
            revealed = _reveal(following) or ""
        workbook = following
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))  # noqa: T201 - an example prints
    print(f"-> {out}")  # noqa: T201
    return table


def _reveal(path: Path) -> str | None:
    """Make the event that starts earliest certain, drop the others, and price change.

    Returns the event revealed (None when the workbook has no events).
    """
    case = planner.load(path)
    events = case.events
    if events.empty:
        return None
    order = {p: t for t, p in enumerate(case.period_ids)}
    first_rows = events.drop_duplicates("event")
    starts = events.groupby("event")["first_period"].agg(
        lambda periods: min(order.get(p, 0) for p in periods)
    )
    candidates = first_rows.assign(start=first_rows["event"].map(starts))
    candidates = candidates.sort_values(["start", "probability"], ascending=[True, False])
    revealed = str(candidates["event"].iloc[0])
    change_cost = 0.05 * float(case.offers["unit_cost"].median())
    book = openpyxl.load_workbook(path)
    _keep_event(book["Events"], revealed)
    settings = book["Settings"] if "Settings" in book.sheetnames else book.create_sheet("Settings")
    if settings.max_row == 1 and settings["A1"].value is None:
        settings.append(["key", "value"])
    keys = [str(c.value).strip().lower() for c in settings["A"]]
    if "change_cost" in keys:
        settings.cell(keys.index("change_cost") + 1, 2, change_cost)
    else:
        settings.append(["change_cost", change_cost])
    book.save(path)
    print(f"quarter 2: {revealed} revealed; change_cost {change_cost:,.2f}")  # noqa: T201
    return revealed


def _keep_event(sheet: Any, event: str) -> None:
    """Keep the Events rows of ``event`` alone, its first row at probability 1, no group."""
    header = [str(c.value).strip().lower() for c in sheet[1]]
    rows = [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]
    kept = [r for r in rows if r[header.index("event")] == event]
    for number, row in enumerate(rows, start=2):
        for column in range(len(row)):
            sheet.cell(number, column + 1).value = None
    for number, row in enumerate(kept, start=2):
        for column, value in enumerate(row):
            name = header[column]
            if name == "probability":
                value = 1.0 if number == 2 else None
            elif name == "group":
                value = None
            sheet.cell(number, column + 1).value = value


if __name__ == "__main__":
    main()
