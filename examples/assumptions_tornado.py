"""Which assumptions move the Japan plan most? A tornado over five of them.

Run from the repository root:

    .venv/bin/python examples/assumptions_tornado.py

Each assumption of inputs/japan-2026.xlsx below is swept to a low and a high
value that its sources leave plausible (``planner.sweep``, one value changed
at a time, the rest as drawn). The table gives, per variant, the expected
cost, the expected lost value and what the plan does now about it (the
2026Q1 orders and the contracts signed now that differ from the plan as
drawn); the chart (docs/japan-2026-tornado.png) ranks the assumptions by how
far they move the expected cost.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

import planner

ROOT = Path(__file__).resolve().parent.parent
PICTURE = ROOT / "docs" / "japan-2026-tornado.png"


class Assumption(NamedTuple):
    """One assumption: what it is, the change that sets it, and its plausible range."""

    label: str
    change: str
    low: float
    high: float


ASSUMPTIONS = (
    Assumption(
        "China bans Dy, Tb, Sm, Y for a year: probability (15%)",
        "probability[cn_heavy_12m_2026Q3]",
        0.05,
        0.30,
    ),
    Assumption(
        "China stops everything for a year: probability (4%)",
        "probability[cn_all_12m_2026Q4]",
        0.01,
        0.10,
    ),
    Assumption("China's licensed Dy to Japan, t a quarter (6)", "capacity[Dy-CN]", 0.0, 12.0),
    Assumption(
        "NdPr metal made outside China from Lynas oxide, t a quarter (150)",
        "capacity[NdPr-LYN-priority]",
        0.0,
        550.0,
    ),
    Assumption("Japan's Dy need (76 t a quarter), scaled", "demand_scale[Dy]", 0.75, 1.5),
)


def _figures(result: planner.Result) -> dict[str, float | str | None]:
    summary = result.summary
    lost = summary.get("lost_value", summary.get("shortage_cost"))
    return {
        "status": result.status,
        "expected_cost": summary.get("expected_cost"),
        "lost_value": lost,
    }


def _orders_now(result: planner.Result) -> pd.Series:
    """Return the 2026Q1 purchases every scenario shares, t per offer."""
    purchases = result.tables["Purchases"]
    first = purchases[(purchases["period"] == "2026Q1") & (purchases["scenarios"] == "all")]
    return first.groupby("offer")["quantity"].sum()


def _signed_now(result: planner.Result) -> set[str]:
    contracts = result.tables["Contracts"]
    return set(contracts.loc[contracts["contracted"] == 1, "offer"])


def _differences(result: planner.Result, drawn: planner.Result) -> str:
    """Say what the variant does now that the plan as drawn does not (orders, contracts)."""
    if not result.has_plan:
        return ""
    now, before = _orders_now(result), _orders_now(drawn)
    changed = now.sub(before, fill_value=0)
    moves = [f"{offer} {delta:+,.0f} t" for offer, delta in changed.items() if abs(delta) > 0.5]
    signed = _signed_now(result) - _signed_now(drawn)
    dropped = _signed_now(drawn) - _signed_now(result)
    moves += [f"sign {offer}" for offer in sorted(signed)]
    moves += [f"no {offer}" for offer in sorted(dropped)]
    return "; ".join(moves)


def main(picture: Path | None = PICTURE) -> pd.DataFrame:
    """Solve the Japan case as drawn and at each assumption's low and high value."""
    case = planner.load(ROOT / "inputs" / "japan-2026.xlsx")
    drawn = planner.solve(case, duals=False)
    centre = _figures(drawn)
    rows = []
    for assumption in ASSUMPTIONS:
        study = planner.sweep(
            case,
            {assumption.change: [assumption.low, assumption.high]},
            workers=1,
            duals=False,
            tables=True,
        )
        for side, value, result in zip(
            ("low", "high"), (assumption.low, assumption.high), study.results, strict=True
        ):
            rows.append(
                {
                    "assumption": assumption.label,
                    "side": side,
                    "value": value,
                    **_figures(result),
                    "does_now": _differences(result, drawn),
                }
            )
    table = pd.DataFrame(rows)
    table["cost_change"] = table["expected_cost"] - centre["expected_cost"]
    table.attrs["expected_cost"] = centre["expected_cost"]
    table.attrs["lost_value"] = centre["lost_value"]
    print(f"as drawn: expected cost {centre['expected_cost']:,.0f} JPY m")  # noqa: T201
    print(table.drop(columns="does_now").to_string(index=False))  # noqa: T201
    for row in table.itertuples():
        if row.does_now:
            print(f"{row.assumption} = {row.value:g}: {row.does_now}")  # noqa: T201
    if picture is not None:
        _tornado(table, picture)
        print(f"-> {picture}")  # noqa: T201
    return table


def _tornado(table: pd.DataFrame, picture: Path) -> None:
    """Draw the cost change of each assumption's low and high value, widest on top."""
    swing = table.pivot_table(index="assumption", columns="side", values="cost_change")
    order = (swing["high"] - swing["low"]).abs().sort_values().index
    swing = swing.loc[order] / 1000  # JPY bn
    figure, axes = plt.subplots(figsize=(9, 3.6))
    rows = range(len(swing))
    axes.barh(rows, swing["low"], color="#4472C4", label="low value")
    axes.barh(rows, swing["high"], color="#C00000", label="high value")
    axes.set_yticks(list(rows), list(swing.index), fontsize=8)
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_xlabel("change of the expected cost against the plan as drawn, JPY bn")
    axes.set_title("Japan 2026: the assumptions that move the plan most", fontsize=10)
    axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    picture.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(picture, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    main()
