"""What would a Chinese stop cost Japan? The Japan case's stops beside Nomura's estimates.

Run from the repository root:

    .venv/bin/python examples/nomura_calibration.py

Nomura Research Institute (T. Kiuchi, quoted in the seed articles) puts a
three-month Chinese stop at about JPY 660 bn (0.11% of GDP) and a one-year
stop at about JPY 2.6 tn (0.43% of GDP), losses of value added. Nothing in
inputs/japan-2026.xlsx is fitted to them: each shortage tier is valued at the
value added its use loses per tonne (ShortageTiers, with its derivation).

A stop's cost here is read off the plan: the scenario in which only that
stop happens against ``base``, in lost value added:

* ``lost_value``: demand left short, at the value added of the uses cut
  (cheapest uses first). A use's value added is its output less its inputs,
  the rare earth included: the material not bought is already netted in it;
* ``working_stock``: the cover penalty, the cost of running the 18 days of
  private working stock down (expediting, rescheduling, risk of a line stop);
* ``dearer_material``: what the tonnes bought cost above their price in
  normal times (ex-China prices rise in a stop), plus the extra fixed,
  activity and holding costs: inputs dearer, value added lower.

Their sum is the stop's cost. Money not spent on Chinese material that never
came is not a saving: it is inside the value added lost. The table gives the
cost beside Nomura's figure, and the ratio of the 12-month to the 3-month
stop beside Nomura's (3.9).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import planner

ROOT = Path(__file__).resolve().parent.parent
NOMURA = {"3 months": 660_000.0, "12 months": 2_600_000.0}  # JPY m, the seed articles
STOPS = {"3 months": "cn_all_3m_2026Q3", "12 months": "cn_all_12m_2026Q4"}
OTHER_SPEND = ("fixed_cost", "activity_cost", "holding_cost", "change_cost")


def _nominal_cost(case: planner.Case) -> pd.Series:
    """Each offer's unit cost per period before any event: OfferPeriods' override, else Offers'."""
    offers = case.offers["unit_cost"]
    index = pd.MultiIndex.from_product([offers.index, case.period_ids], names=["offer", "period"])
    nominal = pd.Series(offers.reindex(index.get_level_values("offer")).to_numpy(), index=index)
    overrides = case.offer_periods
    if "unit_cost" in overrides and len(overrides):
        given = overrides.dropna(subset=["unit_cost"]).set_index(["offer", "period"])["unit_cost"]
        nominal.update(given)
    return nominal


def stop_costs(result: planner.Result) -> pd.DataFrame:
    """Each scenario's cost against ``base``: lost value, working stock, dearer material.

    Parameters
    ----------
    result
        A solved Japan case (its ScenarioCosts and Purchases tables).

    Returns
    -------
    pandas.DataFrame
        One row per scenario (index), columns ``lost_value``, ``working_stock``,
        ``dearer_material`` and ``cost``, all in JPY m against ``base``.
    """
    costs = result.tables["ScenarioCosts"].set_index("scenario")
    purchases = result.by_scenario("Purchases")
    nominal = _nominal_cost(result.case)
    paid = purchases["unit_cost"].to_numpy()
    normal = nominal.reindex(pd.MultiIndex.from_frame(purchases[["offer", "period"]])).to_numpy()
    above = (purchases["quantity"] * (paid - normal)).groupby(purchases["scenario"]).sum()
    above = above.reindex(costs.index, fill_value=0.0)
    other = costs[[column for column in OTHER_SPEND if column in costs]].sum(axis=1)
    dearer = above + other
    table = pd.DataFrame(
        {
            "lost_value": costs["shortage_cost"] - costs.loc["base", "shortage_cost"],
            "working_stock": costs["cover_penalty"] - costs.loc["base", "cover_penalty"],
            "dearer_material": dearer - dearer["base"],
        }
    )
    table["cost"] = table.sum(axis=1)
    return table


def main(result: planner.Result | None = None) -> pd.DataFrame:
    """Solve the Japan case (unless given) and compare its 3- and 12-month stops with Nomura's."""
    if result is None:
        result = planner.solve(planner.load(ROOT / "inputs" / "japan-2026.xlsx"), duals=False)
    costs = stop_costs(result)
    rows = []
    for length, scenario in STOPS.items():
        row = costs.loc[scenario]
        rows.append(
            {
                "stop": length,
                "scenario": scenario,
                "lost_value": row["lost_value"],
                "working_stock": row["working_stock"],
                "dearer_material": row["dearer_material"],
                "cost": row["cost"],
                "nomura": NOMURA[length],
                "cost_over_nomura": row["cost"] / NOMURA[length],
            }
        )
    table = pd.DataFrame(rows).set_index("stop")
    ratio = table.loc["12 months", "cost"] / table.loc["3 months", "cost"]
    table.attrs["ratio"] = ratio
    table.attrs["nomura_ratio"] = NOMURA["12 months"] / NOMURA["3 months"]
    print(table.to_string(float_format=lambda v: f"{v:,.2f}"))  # noqa: T201 - an example prints
    print(  # noqa: T201
        f"12-month / 3-month: {ratio:.2f} (Nomura {table.attrs['nomura_ratio']:.2f})"
    )
    return table


if __name__ == "__main__":
    main()
