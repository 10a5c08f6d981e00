"""What does each point of China share cost Japan? The trade-off curve of the Japan case.

Run from the repository root:

    .venv/bin/python examples/china_share_tradeoff.py

It tightens the pooled China-share cap of inputs/japan-2026.xlsx (all
elements together, counted by shipping country as customs statistics do) from
70% to 50% in steps of 5 points, solves each variant in parallel, prints the
table with what each step costs over the last, and writes
outputs/japan-2026-china-tradeoff.xlsx with the curve and its efficient
frontier. In Jupyter, the returned SweepResult shows as a table.

What a buyer reads in it: the first 5 points below 70% cost little (Lynas
lanthanum and cerium replace Chinese ones); each further step costs several
times the last, because what has to move next is NdPr metal and magnets,
which only China makes in volume. Below about 47% the cap collides with
JARE's take-or-pay Lynas NdPr made into metal in China (it ships from China):
no plan meets both. A cap in the low 60s is the sensible target until metal
is made elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import planner

ROOT = Path(__file__).resolve().parent.parent
CAPS = [0.70, 0.65, 0.60, 0.55, 0.50]
OUT = ROOT / "outputs" / "japan-2026-china-tradeoff.xlsx"


def main(
    workbook: Path = ROOT / "inputs" / "japan-2026.xlsx", output: Path = OUT
) -> planner.SweepResult:
    """Sweep the TOTAL China-share cap of the Japan case and write the trade-off workbook.

    ``workbook`` is the case to sweep, ``output`` the trade-off workbook written.
    """
    case = planner.load(workbook)
    change = "china_share_max[TOTAL,shipment]"
    result = planner.sweep(case, {change: CAPS}, duals=False, tables=True)
    table = result.table
    table["step_cost"] = table["expected_cost"].diff()
    table["china_share_shipment"] = [_shipment_share(variant) for variant in result.results]
    columns = [change, "status", "expected_cost", "step_cost", "china_share_shipment", "efficient"]
    print(table[columns].to_string(index=False))  # noqa: T201 - an example prints
    costs = table["expected_cost"].diff().dropna()
    print(f"each 5 points less China share costs {costs.mean():,.0f} JPY m on average")  # noqa: T201
    result.write(output)
    print(f"-> {output}")  # noqa: T201
    return result


def _shipment_share(result: planner.Result) -> float | None:
    """Return the expected China share of supply by shipping country (the customs view)."""
    if not result.has_plan:
        return None
    shares = result.tables["Shares"]
    total = shares[shares["element"] == "TOTAL"]
    if "measure" in total:
        total = total[total["measure"] == "quantity"]
    weight = total["probability"] * total["supply"]
    china = (weight * total["china_share_shipment"].fillna(0.0)).sum()
    return float(china / weight.sum()) if weight.sum() > 0 else None


if __name__ == "__main__":
    main()
