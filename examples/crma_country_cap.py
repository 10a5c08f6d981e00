"""What would the EU's 65 % one-country rule cost Japan? The Japan case under a CRMA-style cap.

Run from the repository root:

    .venv/bin/python examples/crma_country_cap.py

The EU Critical Raw Materials Act's benchmark is that no more than 65% of a
strategic raw material come from one third country at any stage. This study
adds ``country_share_max`` 0.65 (each element, Japan exempt as home) to
inputs/japan-2026.xlsx on each basis in turn (shipment, mining, refining and
any, where an offer counts for every country it passes through), solves each
variant and prints what each costs over the plan without the cap.

On the mining and any bases the cap cannot hold: the firm (take-or-pay)
offtakes of Australian-mined Dy and Tb (Lynas via JARE, Caremag's feed) alone
exceed 65% of Dy supply once China stops, so those variants are
``infeasible`` (``planner solve`` names the conflicting rules). On the
shipment and refining bases (the same here: every offer ships from where it
is refined) the cap holds at a price.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import planner

ROOT = Path(__file__).resolve().parent.parent
BASES = ("shipment", "mining", "refining", "any")
CAP = 0.65


def main() -> pd.DataFrame:
    """Solve the Japan case without and with the 65% cap on each basis; one row per basis."""
    case = planner.load(ROOT / "inputs" / "japan-2026.xlsx")
    free = planner.solve(case, duals=False)
    rows = []
    for basis in BASES:
        study = planner.sweep(case, {f"country_share_max[{basis}]": [CAP]}, duals=False)
        result = study.results[0]
        cost = result.summary.get("expected_cost")
        rows.append(
            {
                "basis": basis,
                "status": result.status,
                "objective": result.objective,
                "expected_cost": cost,
                "extra_cost": None if cost is None else cost - free.summary["expected_cost"],
                "shortfall": result.summary.get("shortfall"),
            }
        )
    table = pd.DataFrame(rows)
    table.attrs["free"] = free
    print(f"without a one-country cap: expected cost {free.summary['expected_cost']:,.0f} JPY m")  # noqa: T201
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.0f}"))  # noqa: T201
    return table


if __name__ == "__main__":
    main()
