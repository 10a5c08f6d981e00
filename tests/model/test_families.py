"""The registry of constraint families is the one list: the builder, the docs and Duals agree."""

from __future__ import annotations

from dataclasses import fields

import pyomo.environ as pyo

import planner
from planner.model import ModelData, build_model, derive
from planner.model.families import FAMILIES
from planner.results import PRICED_FAMILIES
from planner.solve import HighsSession, SolveOptions
from tests.conftest import REFERENCE, ROOT


def test_every_family_is_documented_with_its_number() -> None:
    text = (ROOT / "models" / "sourcing" / "formulation.md").read_text()
    for family in FAMILIES:
        assert f"model.{family.name}" in text, family.name
        assert f"| {family.number} |" in text or family.number == "objective", family.name


def test_the_builder_defines_exactly_the_registered_families() -> None:
    model = build_model(derive(planner.load(REFERENCE / "v2" / "v2-a5-change-cost.xlsx")))
    built = {c.name for c in model.component_objects(pyo.Constraint)}
    assert built <= {family.name for family in FAMILIES}
    only_with_cvar = {"node_cost_definition", "cvar_excess_floor"}  # only with cvar_weight > 0
    assert {f.name for f in FAMILIES} - built <= only_with_cvar


def test_duals_are_read_from_the_priced_families() -> None:
    session = HighsSession(
        build_model(derive(planner.load(REFERENCE / "case-00-hand.xlsx"))), SolveOptions()
    )
    assert session.solve(60, 0.0).has_plan
    priced = {name for name, _ in session.duals(PRICED_FAMILIES)}
    assert priced <= {family.name for family in FAMILIES if family.priced}
    assert {"capacity_limit", "stock_balance"} <= priced


def test_duals_keep_the_names_the_workbook_spec_gives_them() -> None:
    shown = [(family.dual_name, family.measure) for family in FAMILIES if family.priced]
    assert shown == [
        ("capacity", "quantity"),
        ("balance", "quantity"),
        ("china_share_max", "quantity"),
        ("country_share_max", "quantity"),
        ("risk_max", "quantity"),
        ("china_share_max", "value"),  # B2: the same policies, counted in value
        ("country_share_max", "value"),
        ("risk_max", "value"),
        ("offer_share_max", "quantity"),
    ]


def test_no_constraint_is_named_like_a_parameter_or_a_variable() -> None:
    """``model.capacity`` was a constraint beside the parameter ``model.data.capacity``."""
    model = build_model(derive(planner.load(REFERENCE / "v2" / "v2-a5-change-cost.xlsx")))
    taken = {item.name for item in fields(ModelData)} | {
        name for name in dir(ModelData) if not name.startswith("_")
    }
    taken |= {c.name for kind in (pyo.Var, pyo.Expression) for c in model.component_objects(kind)}
    for family in FAMILIES:
        assert family.name not in taken, family.name
        assert family.rule.__name__ == f"{family.name}_rule", family.name
        assert family.name.endswith(("_limit", "_floor", "_balance", "_definition", "_persistence"))


def test_every_quantity_of_the_model_is_named_with_its_unit() -> None:
    """``_units`` (element), ``_product_units`` (offer), ``_currency``; binaries have none."""
    data = derive(planner.load(REFERENCE / "v2" / "v2-a5-change-cost.xlsx"))
    data.cvar_weight = 0.5  # the CVaR variables too
    model = build_model(data)
    units = ("_units", "_currency", "activity_level")
    quantities = [
        c
        for c in model.component_objects(pyo.Var)
        if not all(v.domain is pyo.Binary for v in c.values())
    ]
    assert {c.name for c in quantities} >= {"purchase_product_units", "cvar_node_cost_currency"}
    for component in [
        *quantities,
        *model.component_objects(pyo.Expression),
        *model.component_objects(pyo.Objective),
    ]:
        assert component.name.endswith(units), component.name
