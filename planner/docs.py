"""Render the input contract (docs/workbook.md) from the schema catalogue.

Run ``python -m planner.docs > docs/workbook.md`` after changing the catalogue;
a test keeps the committed page in step with it.
"""

from __future__ import annotations

import sys

from planner.schema import Column, Sheet, catalogue


def _allowed(column: Column) -> str:
    if column.type == "enum":
        return " / ".join(f"`{v}`" for v in column.values)
    if column.type == "ref":
        return f"id in {column.ref}"
    if column.type == "number":
        return column.bounds_text() or "number"
    return "text"


def _needed(sheet: Sheet) -> str:
    """Return the sheet's "required" cell: yes, no, or ``unless ...``."""
    if sheet.required:
        return "yes"
    return f"unless {sheet.required_unless}" if sheet.required_unless else "no"


def render() -> str:
    """Return the input contract as Markdown."""
    lines = [
        "# The input workbook",
        "",
        "Generated from `models/sourcing/*.csv` by `python -m planner.docs`; do not edit by hand.",
        "Headers, sheet names, Settings keys and enumeration values are matched"
        " case-insensitively;",
        "ids are case-sensitive text. Blank cells take the default. Every problem is reported as",
        "`Sheet!CELL: message`, all of them at once. `planner template OUT.xlsx` writes this as an",
        "empty workbook with comments and dropdowns. The upper bounds on numbers (quantities and",
        "capacities 1e9 units, costs 1e9 per unit, fixed costs 1e12) keep the model within what",
        "the solver computes reliably: pick the unit and currency (t or kt, thousands or millions)",
        "that keeps the numbers under them.",
        "",
        "| sheet | required | what |",
        "|---|---|---|",
    ]
    specs = catalogue()
    lines += [f"| {s.name} | {_needed(s)} | {s.description} |" for s in specs.sheets]
    lines += ["", "## Settings", "", "| key | allowed | default | meaning |", "|---|---|---|---|"]
    for setting in specs.settings:
        allowed = (
            " / ".join(f"`{v}`" for v in setting.values)
            if setting.values
            else setting.bounds_text() or setting.type
        )
        lines.append(f"| {setting.key} | {allowed} | {setting.default} | {setting.description} |")
    for sheet in specs.sheets:
        if sheet.name == "Settings":
            continue
        lines += [
            "",
            f"## {sheet.name}{'' if sheet.required else f' ({sheet.requirement})'}",
            "",
            sheet.description,
            "",
            "| column | required | allowed | unit | default | meaning |",
            "|---|---|---|---|---|---|",
        ]
        for column in sheet.columns:
            lines.append(
                f"| {column.name} | {'yes' if column.required else ''} | {_allowed(column)} | "
                f"{column.unit} | {column.default or ''} | {column.description} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
