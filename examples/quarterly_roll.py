"""Quarterly re-planning: three quarters of the Japan case, each rolled from the last.

Run from the repository root:

    .venv/bin/python examples/quarterly_roll.py

Quarter 1 solves inputs/japan-2026.xlsx. ``planner.roll`` writes quarter 2's
input from it: the first quarter dropped and one appended, the stock at the
end of quarter 1, the contracts signed, the orders of quarter 2 as firm
commitments and the plan as PreviousPlan. In quarter 2 a disruption is
revealed: the case's disruption scenario that starts earliest is now known
to be happening, so the planner keeps it alone (probability 1) and prices
every change against the last plan (Settings ``change_cost``, 5% of the
median unit cost). Quarter 3 is rolled from quarter 2's plan in the same
way. Offer ids, scenarios and periods are all read from the workbook.

It prints, per quarter, the expected cost, the China share and the total
change against the previous plan (sum of |change| of the Changes sheet;
blank where the last plan had no orders shared by every scenario), and keeps
every workbook in outputs/quarterly-roll/.
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


def main() -> pd.DataFrame:
    """Solve and roll three quarters; return one row per quarter."""
    OUT.mkdir(parents=True, exist_ok=True)
    workbook = ROOT / "inputs" / "japan-2026.xlsx"
    rows = []
    for quarter in (1, 2, 3):
        case = planner.load(workbook)
        result = planner.solve(case)
        solution = OUT / f"q{quarter}-solution.xlsx"
        result.write(solution)
        rows.append(
            {
                "quarter": quarter,
                "first_period": case.period_ids[0],
                "scenarios": ", ".join(map(str, case.scenarios.index)) or "base",
                "status": result.status,
                "expected_cost": result.summary["expected_cost"],
                "china_share": result.summary["china_share"],
                "total_change": total_change(result.tables.get("Changes")),
            }
        )
        if quarter == 3:
            break
        following = OUT / f"q{quarter + 1}.xlsx"
        # what happened in the quarter just planned: the likeliest branch, then the revealed one
        planner.roll(workbook, solution, following, firm=1, scenario=_likeliest(case))
        if quarter == 1:
            _reveal(following)
        workbook = following
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))  # noqa: T201 - an example prints
    print(f"-> {OUT}")  # noqa: T201
    return table


def _likeliest(case: planner.Case) -> str | None:
    probability = case.scenarios["probability"]
    return str(probability.idxmax()) if len(probability) else None


def _reveal(path: Path) -> None:
    """Make the disruption that starts earliest certain, and price change against the last plan."""
    case = planner.load(path)
    disruptions = case.disruptions
    if disruptions.empty:
        return
    order = {p: t for t, p in enumerate(case.period_ids)}
    starts = disruptions["first_period"].map(lambda p: order.get(p, 0))
    likeliest = _likeliest(case)
    candidates = disruptions.assign(start=starts)[disruptions["scenario"] != likeliest]
    if candidates.empty:
        return
    weight = candidates["scenario"].map(case.scenarios["probability"])
    candidates = candidates.assign(weight=-weight).sort_values(["start", "weight"], kind="stable")
    revealed = str(candidates["scenario"].iloc[0])
    change_cost = 0.05 * float(case.offers["unit_cost"].median())
    book = openpyxl.load_workbook(path)
    _keep(book["Scenarios"], revealed, {"probability": 1.0})
    _keep(book["Disruptions"], revealed, {})
    settings = book["Settings"] if "Settings" in book.sheetnames else book.create_sheet("Settings")
    if settings.max_row == 1 and settings["A1"].value is None:
        settings.append(["key", "value"])
    keys = [str(c.value).strip().lower() for c in settings["A"]]
    if "change_cost" in keys:
        settings.cell(keys.index("change_cost") + 1, 2, change_cost)
    else:
        settings.append(["change_cost", change_cost])
    notes = book["Notes"] if "Notes" in book.sheetnames else book.create_sheet("Notes")
    notes.append(["Revealed", f"{revealed} is happening: the only scenario kept", "example"])
    book.save(path)
    print(f"quarter 2: {revealed} revealed; change_cost {change_cost:,.2f}")  # noqa: T201


def _keep(sheet: Any, scenario: str, values: dict[str, Any]) -> None:
    """Keep the data rows of ``scenario`` (column ``scenario``), setting ``values`` by column."""
    header = [str(c.value).strip().lower() for c in sheet[1]]
    key = header.index("scenario")
    rows = [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]
    kept = [r for r in rows if r[key] == scenario]
    for number, row in enumerate(rows, start=2):
        for column in range(len(row)):
            sheet.cell(number, column + 1).value = None
    for number, row in enumerate(kept, start=2):
        for column, value in enumerate(row):
            sheet.cell(number, column + 1).value = values.get(header[column], value)


if __name__ == "__main__":
    main()
