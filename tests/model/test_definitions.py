"""One place per fact: the model's rows read ModelData's derived parameters, not copies."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyomo.environ as pyo
import pytest

import planner
from benchmarks.generate import Size, generate, write
from planner.model import build_model, derive
from planner.model.balance import supply_terms
from planner.model.linear import coefficient_arrays
from planner.model.variables import signature
from planner.results import read_plan, supply_measures
from planner.solve import HighsSession, SolveOptions
from tests.conftest import REFERENCE


@pytest.fixture(scope="module", params=["generated", "commitments"])
def model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A v2 case with minimum takes, disruptions and cover factors; one with firm orders."""
    if request.param == "generated":
        sheets = generate(Size(4, 6, 3, 3), seed=2, v2=True)
        path = write(sheets, tmp_path_factory.mktemp("definitions") / "case.xlsx")
    else:
        path = REFERENCE / "v2" / "v2-a5-commitments.xlsx"
    return build_model(derive(planner.load(path)))


def _at(model: pyo.ConcreteModel, values: np.ndarray, item: int, n: int) -> float:
    """``values[item, t(n), w(n)]``, a derived parameter at node n."""
    return float(values[item, model.node_period[n], model.representative[n]])


def _coefficient(row: Any, var: Any) -> float:
    variables, coefficients, _ = coefficient_arrays(row.body)
    return float(sum(c for v, c in zip(variables, coefficients, strict=True) if v is var))


def test_minimum_take_rows_are_the_effective_minimum_take(model: pyo.ConcreteModel) -> None:
    minimum = model.data.min_take()
    rows = model.minimum_take_floor
    for o, n in model.OFFER_NODES:
        expected = _at(model, minimum, o, n)
        assert ((o, n) in rows) == (expected > 0)
        if expected > 0:
            assert -_coefficient(rows[o, n], signature(model, o, n)) == expected


def test_commitment_rows_are_the_firm_orders(model: pyo.ConcreteModel) -> None:
    firm = model.data.firm_order()
    rows = model.commitment_floor
    for o, n in model.COMMITMENT_NODES:
        expected = _at(model, firm, o, n)
        assert ((o, n) in rows) == (expected > 0)
        if expected > 0:
            assert rows[o, n].lower == expected


def test_cover_rows_are_the_cover_target(model: pyo.ConcreteModel) -> None:
    target = model.data.cover_target()
    rows = model.cover_floor
    assert len(rows) == len(model.COVER_NODES)
    for e, n in model.COVER_NODES:
        assert rows[e, n].lower == _at(model, target, e, n)


def test_the_reported_supply_is_the_models_supply(model: pyo.ConcreteModel) -> None:
    """results' numpy S (Shares, Duals) sums the terms the model's rows use (7, A2)."""
    HighsSession(model, SolveOptions()).solve(60, mip_gap=1.0)
    data = model.data
    reported = supply_measures(read_plan(model, data), data)["supply"]
    for e, n in model.ELEMENT_NODES:
        coefficients, variables = supply_terms(model, e, n)
        value = sum(c * (v.value or 0.0) for c, v in zip(coefficients, variables, strict=True))
        assert _at(model, reported, e, n) == pytest.approx(value, abs=1e-6)
