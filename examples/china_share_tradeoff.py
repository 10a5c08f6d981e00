"""What does each point of China share cost Japan? The trade-off curve of the Japan case.

Run from the repository root:

    .venv/bin/python examples/china_share_tradeoff.py

It tightens the pooled China-share cap of inputs/japan-2026.xlsx (all
elements together, counted by shipping country as customs statistics do) from
70% to 40% in steps of 5 points, solves each variant in parallel, prints the table
and writes outputs/japan-2026-china-tradeoff.xlsx with the curve and its
efficient frontier. In Jupyter, the returned SweepResult shows as a table.
"""

from __future__ import annotations

from pathlib import Path

import planner

ROOT = Path(__file__).resolve().parent.parent


def main() -> planner.SweepResult:
    """Sweep the TOTAL China-share cap of the Japan case and write the trade-off workbook."""
    case = planner.load(ROOT / "inputs" / "japan-2026.xlsx")
    change = "china_share_max[TOTAL,shipment]"
    result = planner.sweep(case, {change: [0.70, 0.65, 0.60, 0.55, 0.50, 0.45, 0.40]}, duals=False)
    columns = [change, "status", "expected_cost", "china_share", "shortfall", "efficient"]
    print(result.table[columns].to_string(index=False))  # noqa: T201 - an example prints
    costs = result.table["expected_cost"].diff().dropna()
    print(f"each 5 points less China share costs {costs.mean():,.0f} JPY m on average")  # noqa: T201
    output = ROOT / "outputs" / "japan-2026-china-tradeoff.xlsx"
    result.write(output)
    print(f"-> {output}")  # noqa: T201
    return result


if __name__ == "__main__":
    main()
