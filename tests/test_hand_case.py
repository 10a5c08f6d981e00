"""The hand case's plan matches the reasoning of its README, number by number."""

from __future__ import annotations

import pandas as pd
import pytest

import planner
from tests.conftest import REFERENCE


@pytest.fixture(scope="module")
def result() -> planner.Result:
    return planner.solve(planner.load(REFERENCE / "case-00-hand.xlsx"), mip_gap=0.0)


def _bought(result: planner.Result) -> dict[tuple[str, str], float]:
    purchases = result.tables["Purchases"]
    return {
        (p, o): q for p, o, q in purchases[["period", "offer", "quantity"]].itertuples(index=False)
    }


def test_objective_and_cost_breakdown(result: planner.Result) -> None:
    summary = result.summary
    assert result.objective == pytest.approx(21_702)
    assert summary["fixed_cost"] == pytest.approx(500)
    assert summary["purchase_cost"] == pytest.approx(20_200)
    assert summary["holding_cost"] == pytest.approx(2)
    assert summary["shortage_cost"] == pytest.approx(1_000)
    assert summary["cover_penalty"] == pytest.approx(0)


def test_neodymium_split_half_and_half_under_the_cap(result: planner.Result) -> None:
    bought = _bought(result)
    for period in ("2026Q1", "2026Q2"):
        assert bought[(period, "Nd-CN")] == pytest.approx(50)
        assert bought[(period, "Nd-MY")] == pytest.approx(50)
    contracts = result.tables["Contracts"].set_index("offer")
    assert contracts.loc["Nd-MY", "contracted"] == 1
    assert contracts.loc["Nd-MY", "fixed_cost"] == pytest.approx(500)


def test_dysprosium_bought_at_capacity_two_held_one_short(result: planner.Result) -> None:
    bought = _bought(result)
    assert bought[("2026Q1", "Dy-CN")] == pytest.approx(12)
    assert bought[("2026Q2", "Dy-CN")] == pytest.approx(12)
    stock = result.tables["Stock"].set_index(["period", "element"])["stock"]
    assert stock[("2026Q1", "Dy")] == pytest.approx(2)
    assert stock[("2026Q2", "Dy")] == pytest.approx(0)
    shortage = result.tables["Shortage"]
    assert shortage[["period", "element"]].values.tolist() == [["2026Q2", "Dy"]]
    assert shortage["quantity"].iloc[0] == pytest.approx(1)


def test_china_shares_on_the_any_basis(result: planner.Result) -> None:
    shares = result.tables["Shares"].set_index(["period", "element"])
    for period in ("2026Q1", "2026Q2"):
        assert shares.loc[(period, "Nd"), "china_share_any"] == pytest.approx(0.5)
        assert shares.loc[(period, "Nd"), "china_cap"] == pytest.approx(0.5)
        assert shares.loc[(period, "Dy"), "china_share_any"] == pytest.approx(1.0)
        assert pd.isna(shares.loc[(period, "Dy"), "china_cap"])


def test_the_binding_cap_has_a_positive_cost_per_point(result: planner.Result) -> None:
    duals = result.tables["Duals"]
    caps = duals[duals["constraint"] == "china_share_max"]
    assert len(caps) == 2
    # 1 point less China share moves ~1.2 t from Nd-CN (50/t) to Nd-MY (80/t): ~30 per point
    assert (caps["cost_per_point"] > 0).all()
    assert caps["cost_per_point"].tolist() == pytest.approx([30.0, 30.0])


def test_dysprosium_balance_prices_a_free_tonne(result: planner.Result) -> None:
    duals = result.tables["Duals"]
    balance = duals[(duals["constraint"] == "balance") & (duals["element"] == "Dy")]
    # one more tonne in Q2 saves a 1,000 shortage; in Q1 it saves 1,000 less 1 holding
    assert balance.set_index("period")["dual"].to_dict() == pytest.approx(
        {"2026Q1": -999.0, "2026Q2": -1000.0}
    )
