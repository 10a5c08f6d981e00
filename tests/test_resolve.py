"""A changed case re-solved in place equals a fresh build and solve of it."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

import planner
import planner.events
from planner.api import Resolver
from planner.changes import apply_change
from tests.conftest import JAPAN_KEPT_EVENTS, REFERENCE

# (change, value, whether the model's shape allows changing it in place)
CHANGES = [
    ("china_share_max[Dy,refining]", 0.7, True),  # coefficients of existing rows
    ("china_share_max[Dy,refining]", 1.0, True),  # the row can no longer bind: skipped
    ("capacity[Nd-CN]", 0.0, True),
    ("unit_cost[Tb-CN]", 1.0, True),  # objective only
    ("demand_scale", 1.2, True),  # right-hand sides and cover targets
    ("Elements.storage_capacity[Nd]", 900.0, True),  # a column bound
    ("cvar_alpha", 0.8, True),
    ("min_take[NdPr-LYN-VN]", 300.0, True),
    ("fixed_cost[NdPr-NEO]", 5_000.0, True),  # a later offer
    ("risk[Dy-CN]", 0.2, True),
    # scenarios are told apart at other quarters: another scenario tree, built anew
    ("cost_factor[cn_heavy_price_spike]", 1.0, False),  # the spike gone: merges with none
    ("capacity_factor[vn_delay]", 1.0, False),  # Viet Nam as planned: merges with none
    ("Elements.cover_days[Dy]", 30.0, True),
    ("Elements.holding_cost[Nd]", 2.0, True),
    ("Elements.initial_stock[Tb]", 0.0, True),
    ("cvar_weight", 0.0, False),  # CVaR variables disappear: built anew
    ("china_share_max", 0.9, False),  # new policy cells: built anew
]


@pytest.fixture(scope="module")
def japan(_japan_small_loaded: planner.Case) -> planner.Case:
    """The reduced Japan case (tests/conftest.py), loaded once a session: read it only.

    The events kept (6 scenarios of 48): a stop, the price spike and Viet Nam's delay, which
    the changes above name. Every kind of change is exercised as on the whole case (mip_gap 0
    makes each of the 48-scenario solves last a minute or more). Its Sweep sheet is left out:
    each of the three solves a change takes would check the sweep's variants again.
    """
    case = _japan_small_loaded.copy()
    assert set(case.events["event"]) == set(JAPAN_KEPT_EVENTS)
    assert len(planner.events.scenario_probability(case)) == 6
    return case


@dataclass
class Kept:
    """The module's resolver, and whether its model has the base case's shape."""

    resolver: Resolver
    base_shape: bool = True


@pytest.fixture(scope="module")
def resolver(japan: planner.Case) -> Kept:
    resolver = Resolver(duals=False, mip_gap=0.0)  # exact: the Japan MIP stops within 1e-4
    assert resolver.solve(japan).report.extra["reused"] is False
    return Kept(resolver)


@pytest.mark.parametrize(("name", "value", "in_place"), CHANGES)
def test_in_place_equals_fresh(
    japan: planner.Case, resolver: Kept, name: str, value: float, in_place: bool
) -> None:
    """Each change made in place on the model the last test left, or built anew, as expected.

    The model the last test left has the base's shape unless its change was built anew;
    then it is taken back to the base first. A change made in place thus also undoes the
    last test's change in place (in a test run alone: changes the base): one solve a test
    fewer than going back to the base each time, and the undoing is checked too.
    """
    variant = japan.copy()
    apply_change(variant, name, value)
    if not resolver.base_shape:
        resolver.resolver.solve(japan)  # back to the base: the last change was built anew
    resolver.base_shape = False  # unknown until this change is solved
    again = resolver.resolver.solve(variant)
    resolver.base_shape = again.report.extra["reused"] is True
    fresh = planner.solve(variant, duals=False, mip_gap=0.0)
    assert again.report.extra["reused"] is in_place
    assert again.status == fresh.status == "optimal"
    assert again.objective == pytest.approx(fresh.objective, rel=1e-7)
    for key in ("expected_cost", "cvar", "china_share", "shortfall"):
        assert again.summary[key] == pytest.approx(fresh.summary[key], rel=1e-6, abs=1e-6)


KEYS = ["constraint", "scenario", "period", "element", "offer", "basis", "country_group"]


@pytest.mark.parametrize("values", [(1.0, 0.5, 1.0), (0.5, 1.0, 0.5)])
def test_a_kept_model_prices_the_rows_a_fresh_build_has_in_its_order(
    values: tuple[float, ...],
) -> None:
    case = planner.load(REFERENCE / "case-04.xlsx")
    resolver = Resolver()
    for value in values:  # rows added at HiGHS's end, then switched off, then on again
        variant = case.copy()
        apply_change(variant, "china_share_max[Tb]", value)
        again, fresh = resolver.solve(variant), planner.solve(variant)
        duals, fresh_duals = again.tables["Duals"], fresh.tables["Duals"]
        pd.testing.assert_frame_equal(duals[KEYS], fresh_duals[KEYS])
        assert duals["dual"].tolist() == pytest.approx(fresh_duals["dual"].tolist(), abs=1e-6)
    assert again.report.extra["reused"] is True


def test_a_row_the_base_skipped_is_added() -> None:
    case = planner.load(REFERENCE / "case-00-hand.xlsx")
    loose = case.copy()
    apply_change(loose, "china_share_max[Nd]", 1.0)  # cannot bind: the base has no row
    resolver = Resolver()
    resolver.solve(loose)
    tight = case.copy()
    apply_change(tight, "china_share_max[Nd]", 0.3)
    again = resolver.solve(tight)
    fresh = planner.solve(tight)
    assert again.report.extra["reused"] is True
    assert again.objective == pytest.approx(fresh.objective, rel=1e-9)
    duals = again.tables["Duals"]
    fresh_duals = fresh.tables["Duals"]
    share = duals[duals["constraint"] == fresh_duals["constraint"].iloc[0]]
    assert len(duals) == len(fresh_duals)  # the new row is priced like a built one
    assert share["dual"].tolist() == pytest.approx(
        fresh_duals[fresh_duals["constraint"] == share["constraint"].iloc[0]]["dual"].tolist()
    )
    looser = case.copy()
    apply_change(looser, "china_share_max[Nd]", 0.4)  # the added row itself changes now
    assert resolver.solve(looser).objective == pytest.approx(
        planner.solve(looser).objective, rel=1e-9
    )


def test_an_infeasible_variant_then_a_feasible_one() -> None:
    case = planner.load(REFERENCE / "case-00-hand.xlsx")
    resolver = Resolver(explain_infeasible=False)
    resolver.solve(case)
    impossible = case.copy()
    apply_change(impossible, "china_share_max[Nd]", 0.0)
    apply_change(impossible, "Elements.shortage_cost[Nd]", 1e9)
    assert resolver.solve(impossible).status == planner.solve(impossible).status
    assert resolver.solve(case).objective == pytest.approx(planner.solve(case).objective)


def test_an_offer_that_never_delivers_keeps_the_model_changeable() -> None:
    """An offer at capacity 0 everywhere (a ban) has no HiGHS column: a change is still in place."""
    case = planner.load(REFERENCE / "case-00-hand.xlsx")
    idle = case.offers.loc[["Nd-MY"]].copy()
    idle.index = pd.Index(["Nd-IDLE"], name=case.offers.index.name)
    idle["capacity"], idle["fixed_cost"] = 0.0, 0.0
    case.offers = pd.concat([case.offers, idle])
    resolver = Resolver(duals=False, mip_gap=0.0)
    resolver.solve(case)
    variant = case.copy()
    apply_change(variant, "china_share_max[Nd]", 0.4)
    again = resolver.solve(variant)
    assert again.report.extra["reused"] is True
    assert again.objective == pytest.approx(planner.solve(variant, mip_gap=0).objective, rel=1e-9)


def test_a_chain_of_changes_each_equal_to_fresh(japan: planner.Case) -> None:
    """Each variant changes something else than the last, so no part can be left stale."""
    resolver = Resolver(duals=False, mip_gap=0.0)
    resolver.solve(japan)
    case = japan.copy()
    chain = [
        ("china_share_max[Dy,refining]", 0.7),
        ("unit_cost[NdPr-LYN-VN]", 10.0),
        ("china_share_max[Dy,refining]", 0.9),
        ("demand_scale[Nd]", 1.3),
        ("Elements.storage_capacity[La]", 2_000.0),
        ("cvar_weight", 0.5),
    ]
    for name, value in chain:
        apply_change(case, name, value)
        again = resolver.solve(case)
        fresh = planner.solve(case, duals=False, mip_gap=0.0)
        assert again.report.extra["reused"] is True, name
        assert again.objective == pytest.approx(fresh.objective, rel=1e-7), name
    case.offers.loc["Dy-LYN", "country"] = "CN"  # China flags: every row looks again
    again = resolver.solve(case)
    fresh = planner.solve(case, duals=False, mip_gap=0.0)
    assert again.objective == pytest.approx(fresh.objective, rel=1e-7)


def test_a_misjudged_warm_start_is_solved_again_cold(japan: planner.Case) -> None:
    """HiGHS 1.16 once called the previous plan optimal here, at a wrong objective."""
    resolver = Resolver(duals=False, mip_gap=0.0)
    fresh = resolver.solve(japan)  # built and solved cold: a fresh solve
    assert fresh.report.extra["reused"] is False and not fresh.report.extra.get("warm")
    variant = japan.copy()
    apply_change(variant, "cvar_alpha", 0.8)
    resolver.solve(variant)
    back = resolver.solve(japan)  # warm from the 0.8 plan
    assert back.report.extra["warm"] is True
    assert back.objective == pytest.approx(fresh.objective, rel=1e-9)


# v2 changes on the v2 hand cases: (case, change, value, in place)
V2_CHANGES = [
    ("v2-a6-country-cap", "country_share_max[mining]", 0.4, True),  # a country cap's value
    ("v2-a6-country-cap", "country_share_max[shipment]", 0.25, True),  # now binds
    ("v2-a6-basis-caps", "china_share_max[refining]", 0.3, True),
    ("v2-a6-basis-caps", "country_share_max[TOTAL,any]", 0.4, False),  # new TOTAL cells
    ("v2-a4-stock-release", "cover_factor[cn_stop]", 0.5, False),  # a released target returns
    ("v2-a4-stock-release", "cover_factor[cn_stop]", 1.0, False),  # the tree joins again
    ("v2-a3-later-signing", "lead_time[DY-AU]", 2.0, False),  # deliveries start later
    ("v2-a3-later-signing", "fixed_cost[DY-AU]", 60_000.0, True),  # never worth signing
    ("v2-a5-change-cost", "change_cost", 30.0, True),
    ("v2-a5-change-cost", "change_cost", 0.0, False),  # no deviation variables
    ("v2-a5-commitments", "Commitments.quantity", 30.0, True),
    ("v2-a5-commitments", "capacity_factor[cut]", 0.2, True),  # the firm order is cut further
    ("v2-a2-joint-product", "unit_cost[MIX]", 70.0, True),
]


@pytest.mark.parametrize(("name", "change", "value", "in_place"), V2_CHANGES)
def test_v2_changes_in_place_equal_fresh(
    name: str, change: str, value: float, in_place: bool
) -> None:
    case = planner.load(REFERENCE / "v2" / f"{name}.xlsx")
    variant = case.copy()
    if change == "Commitments.quantity":
        variant.commitments["quantity"] = value
    else:
        apply_change(variant, change, value)
    resolver = Resolver(duals=False, mip_gap=0.0)
    resolver.solve(case)
    again = resolver.solve(variant)
    fresh = planner.solve(variant, duals=False, mip_gap=0.0)
    assert again.report.extra["reused"] is in_place
    assert again.status == fresh.status == "optimal"
    assert again.objective == pytest.approx(fresh.objective, rel=1e-7)
    assert fresh.objective != pytest.approx(case and planner.solve(case).objective, rel=1e-9)
