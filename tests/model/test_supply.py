"""The supply S[e,n] defined once (formulation 7): fewer nonzeros, the same rows and prices."""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo
import pytest

import planner
from benchmarks.generate import Size, generate, write
from planner.model import build_model, derive, policies
from planner.results import PRICED_FAMILIES
from planner.solve import HighsSession, SolveOptions

SHARE_FAMILIES = ("china_share_limit", "country_share_limit", "risk_limit", "offer_share_limit")


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A small v2 case with an offer-share cap: every kind of share row, joint products."""
    sheets = generate(Size(4, 6, 3, 3), seed=2, v2=True)
    sheets["Policies"].append(["offer_share_max", None, None, 0.45, None])
    path = write(sheets, tmp_path_factory.mktemp("supply") / "case.xlsx")
    return planner.load(path)


def _inline(monkeypatch: pytest.MonkeyPatch, case: Any) -> pyo.ConcreteModel:
    """The model with S written inline in every row (no S defined anywhere)."""
    with monkeypatch.context() as patch:
        patch.setattr(policies, "supply_nodes", lambda model: [])
        return build_model(derive(case))


def _terms(row: Any) -> int:
    return len(row.body.linear_vars)


def test_offer_share_rows_are_two_terms_where_supply_is_defined(case: Any) -> None:
    model = build_model(derive(case))
    assert len(model.SUPPLY_NODES) > 0
    rows = [row for row in model.offer_share_limit.values() if row.active]
    assert rows
    assert max(_terms(row) for row in rows) == 2


def test_defining_supply_lowers_the_nonzeros(case: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    defined = HighsSession(build_model(derive(case)), SolveOptions())
    inline = HighsSession(_inline(monkeypatch, case), SolveOptions())
    assert defined.nonzeros < 0.8 * inline.nonzeros


def test_rows_have_the_same_values_once_supply_is_substituted(
    case: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    defined = build_model(derive(case))
    inline = _inline(monkeypatch, case)
    for k, var in enumerate(defined.purchase_product_units.values()):
        var.set_value(1.0 + (k % 7))
    for k, var in enumerate(defined.activity_level.values()):
        var.set_value(0.5 + (k % 3))
    for index, var in defined.supply_units.items():  # S at its definition
        row = defined.supply_definition[index]
        var.set_value(0.0)
        var.set_value(-pyo.value(row.body))
    for index, var in defined.purchase_product_units.items():
        inline.purchase_product_units[index].set_value(var.value)
    for index, var in defined.activity_level.items():
        inline.activity_level[index].set_value(var.value)
    compared = 0
    for name in SHARE_FAMILIES:
        for index, row in defined.component(name).items():
            other = inline.component(name)[index]
            assert row.active == other.active
            if row.active:
                assert pyo.value(row.body) == pytest.approx(pyo.value(other.body), abs=1e-9)
                compared += 1
    assert compared > 0


def test_the_plan_and_the_share_duals_do_not_change(
    case: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = []
    for model in (build_model(derive(case)), _inline(monkeypatch, case)):
        session = HighsSession(model, SolveOptions())
        report = session.solve(120, 0.0)
        assert report.status == "optimal"
        duals = session.duals(PRICED_FAMILIES)
        results.append((report.objective, duals))
    (objective, duals), (inline_objective, inline_duals) = results
    assert objective == pytest.approx(inline_objective, rel=1e-9)
    assert duals.keys() == inline_duals.keys()
    for key, value in duals.items():
        assert value == pytest.approx(inline_duals[key], rel=1e-6, abs=1e-6), key
