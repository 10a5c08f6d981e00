"""What would the EU's 65 % one-country rule cost Japan? The Japan case under a CRMA-style cap.

Run from the repository root:

    .venv/bin/python examples/crma_country_cap.py

The EU Critical Raw Materials Act's benchmark is that no more than 65% of a
strategic raw material come from one third country at any stage. This study
adds ``country_share_max`` 0.65 (each element, Japan exempt as home) to
inputs/japan-2026.xlsx on each basis in turn (shipment, mining, refining and
any, where an offer counts for every country it passes through) and prints
what each costs over the plan without the cap. The benchmark is a target for
a year's consumption in normal times, so the cap is tried on the case without
its events (``normal``) and, on the shipment basis, with them (``as drawn``).

What a buyer reads in it:

* On the refining, mining and "any" bases the cap cannot hold: JARE's
  take-or-pay Lynas NdPr (Australian-mined, refined in Malaysia, 1,250 t a
  quarter) alone is more than 65% of Japan's NdPr, and the firm Lynas Dy
  likewise. A buyer bound by the CRMA would have to renegotiate JARE's firm
  volume first: buying more elsewhere to dilute it only fills the warehouse.
* On the shipment basis it holds in normal times, at a high price (about
  JPY 500 bn over the three years): no second country can ship 35% of
  Japan's Tb, Dy or Y, so the cap leaves them short. Through a Chinese stop
  it cannot hold at all: with China out, the few suppliers left each carry
  more than 65%. A one-country cap needs an emergency exemption, and a
  second heavy-rare-earth source before it can bind.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import planner

ROOT = Path(__file__).resolve().parent.parent
BASES = ("shipment", "mining", "refining", "any")
CAP = 0.65


def _normal_times(case: planner.Case) -> planner.Case:
    """Return the case without its events: the base scenario alone."""
    normal = case.copy()
    normal.events = normal.events.iloc[0:0]
    return normal


def _row(basis: str, events: str, result: planner.Result, free: planner.Result | None) -> dict:
    cost = result.summary.get("expected_cost")
    extra = None if cost is None or free is None else cost - free.summary["expected_cost"]
    return {
        "basis": basis,
        "events": events,
        "status": result.status,
        "objective": result.objective,
        "expected_cost": cost,
        "extra_cost": extra,
        "shortfall": result.summary.get("shortfall"),
    }


def main(case: planner.Case | None = None) -> pd.DataFrame:
    """Solve the Japan case without and with the 65% cap on each basis; one row per variant.

    ``case``: the Japan case already loaded (the default reads inputs/japan-2026.xlsx).
    """
    if case is None:
        case = planner.load(ROOT / "inputs" / "japan-2026.xlsx")
    normal = _normal_times(case)
    free = planner.solve(normal, duals=False)
    rows = []
    for basis in BASES:
        study = planner.sweep(normal, {f"country_share_max[{basis}]": [CAP]}, duals=False)
        rows.append(_row(basis, "normal", study.results[0], free))
    [drawn] = planner.sweep(case, {"country_share_max[shipment]": [CAP]}, duals=False).results
    # what the cap adds to the plan as drawn, where it has one (the events make it infeasible)
    free_drawn = planner.solve(case, duals=False) if drawn.has_plan else None
    rows.append(_row("shipment", "as drawn", drawn, free_drawn))
    table = pd.DataFrame(rows)
    table.attrs["free"] = free
    print(f"normal times, no one-country cap: expected cost {free.summary['expected_cost']:,.0f}")  # noqa: T201
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.0f}"))  # noqa: T201
    return table


if __name__ == "__main__":
    main()
