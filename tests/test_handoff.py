"""The hand-off compiles the same standard form as Pyomo's compiler, with less memory."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from pyomo.common.errors import InfeasibleConstraintException

import planner
from benchmarks.generate import Size, generate, write
from planner.api import Resolver
from planner.handoff import HighsModel, StandardForm, compiled_by_pyomo, standard_form
from planner.model import build_model, derive
from planner.results import PRICED_FAMILIES, read_plan
from planner.solve import HighsSession, SolveOptions
from tests.conftest import REFERENCE

INPUTS = Path(__file__).resolve().parent.parent / "inputs"
CASES = [
    REFERENCE / "case-00-hand.xlsx",
    REFERENCE / "case-03.xlsx",
    *sorted((REFERENCE / "v2").glob("*.xlsx"))[:4],
    INPUTS / "japan-2026.xlsx",
]


def _same(ours: StandardForm, pyomos: StandardForm) -> None:
    assert [id(r) for r in ours.rows] == [id(r) for r in pyomos.rows]
    assert [id(c) for c in ours.columns] == [id(c) for c in pyomos.columns]
    assert ours.offset == pyomos.offset
    for name in (
        "cost",
        "col_lower",
        "col_upper",
        "row_lower",
        "row_upper",
        "start",
        "index",
        "value",
        "integer",
    ):
        assert np.array_equal(getattr(ours, name), getattr(pyomos, name)), name
    assert ours.start.dtype == ours.index.dtype == np.int32


@pytest.mark.parametrize("path", CASES, ids=lambda path: path.stem)
def test_the_form_is_pyomo_s_compiler_s(path: Path) -> None:
    model = build_model(derive(planner.load(path)))
    _same(standard_form(model), compiled_by_pyomo(model))


def test_a_generated_v2_case_with_every_feature(tmp_path: Path) -> None:
    path = write(generate(Size(4, 6, 3, 3), seed=1, v2=True), tmp_path / "case.xlsx")
    model = build_model(derive(planner.load(path)))
    _same(standard_form(model), compiled_by_pyomo(model))


def _small() -> pyo.ConcreteModel:
    """Ranged, fixed, constant, unused and duplicate terms: the compiler's corner cases."""
    model = pyo.ConcreteModel()
    model.x = pyo.Var(range(4), bounds=(0, 10))
    model.y = pyo.Var(domain=pyo.Binary)
    model.unused = pyo.Var()
    model.x[3].fix(2.0)
    model.goal = pyo.Objective(expr=model.x[0] + 3 * model.y + model.x[3] + 5)
    model.ranged = pyo.Constraint(expr=pyo.inequality(1, model.x[0] + 2 * model.x[1] + 1, 8))
    model.fixed = pyo.Constraint(expr=model.x[1] + model.x[3] >= 1)
    model.equal = pyo.Constraint(expr=model.x[2] + model.x[2] - model.y == 1)
    model.zero = pyo.Constraint(expr=0 * model.x[0] + model.x[2] <= 4)
    model.constant = pyo.Constraint(expr=model.x[3] <= 5)
    return model


def test_the_compiler_s_corner_cases() -> None:
    model = _small()
    ours = standard_form(model)
    _same(ours, compiled_by_pyomo(model))
    assert len(ours.rows) == 6  # the ranged row is two; the fixed x[3]'s row stays, empty
    assert ours.row_upper[-1] == 3.0  # x[3] <= 5 with x[3] fixed at 2
    assert ours.offset == 7.0  # x[3] is fixed at 2


def test_an_impossible_constant_row_is_reported() -> None:
    model = _small()
    model.impossible = pyo.Constraint(expr=model.x[0] - model.x[0] >= 1)
    with pytest.raises(InfeasibleConstraintException, match="impossible"):
        standard_form(model)
    handed = HighsModel(model)
    assert "impossible" in handed.infeasible_constant
    assert handed.rows == [] and handed.nonzeros == 0


def test_highs_holds_the_form() -> None:
    model = _small()
    handed = HighsModel(model)
    form = standard_form(model)
    lp = handed.highs.getLp()
    assert np.array_equal(lp.a_matrix_.value_, form.value)
    assert np.array_equal(lp.a_matrix_.index_, form.index)
    assert np.array_equal(lp.row_lower_, form.row_lower)
    assert np.array_equal(lp.col_cost_, form.cost)
    assert lp.offset_ == form.offset
    assert [int(kind) for kind in lp.integrality_] == form.integer.astype(int).tolist()


def _traced_peak(compile_: Callable[[pyo.ConcreteModel], StandardForm], model: Any) -> int:
    tracemalloc.start()
    try:
        compile_(model)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_compile_holds_no_row_objects(tmp_path: Path) -> None:
    """Rows go into typed arrays as they are read: a third of the compiler's peak allocation.

    Pyomo's compiler keeps every row's term dictionary until the end (about
    280 bytes a nonzero; 1.8 GB at the benchmarks' largest size); the
    hand-off's compile about 80. Allocations are counted, not time.
    """
    path = write(generate(Size(6, 10, 6, 6), seed=0), tmp_path / "case.xlsx")
    model = build_model(derive(planner.load(path)))
    ours, pyomos = _traced_peak(standard_form, model), _traced_peak(compiled_by_pyomo, model)
    assert ours < 0.4 * pyomos, (ours, pyomos)


@pytest.mark.parametrize(
    "path", [REFERENCE / "case-04.xlsx", REFERENCE / "v2" / "v2-a6-country-cap.xlsx"]
)
def test_releasing_the_rows_keeps_the_plan_and_the_duals(path: Path) -> None:
    sessions = []
    for release in (False, True):
        model = build_model(derive(planner.load(path)))
        session = HighsSession(model, SolveOptions())
        if release:
            session.release_rows(PRICED_FAMILIES)
            assert not list(model.component_objects((pyo.Constraint, pyo.Objective)))
        report = session.solve(60, 0.0)
        assert report.status == "optimal"
        sessions.append((model, session, report))
    (kept_model, kept, kept_report), (freed_model, freed, freed_report) = sessions
    assert freed_report.rows == kept_report.rows > 0
    assert freed_report.objective == pytest.approx(kept_report.objective, rel=1e-9)
    data = derive(planner.load(path))
    kept_plan, freed_plan = read_plan(kept_model, data), read_plan(freed_model, data)
    assert np.allclose(freed_plan.purchase, kept_plan.purchase)
    assert np.allclose(freed_plan.stock, kept_plan.stock)
    kept_duals, freed_duals = kept.duals(PRICED_FAMILIES), freed.duals(PRICED_FAMILIES)
    assert list(freed_duals) == list(kept_duals)
    assert {name for name, _ in freed_duals} >= {"capacity_limit", "stock_balance"}
    for key, value in kept_duals.items():
        assert freed_duals[key] == pytest.approx(value, abs=1e-6), key


def test_a_single_solve_writes_the_duals_a_kept_model_gives() -> None:
    case = planner.load(REFERENCE / "v2" / "v2-a6-basis-caps.xlsx")
    single = planner.solve(case)  # releases its rows before the MIP
    kept = Resolver().solve(case)
    assert single.objective == pytest.approx(kept.objective, rel=1e-9)
    duals = single.tables["Duals"]
    assert len(duals) > 0 and set(duals["constraint"]) > {"capacity", "balance"}
    pd.testing.assert_frame_equal(duals, kept.tables["Duals"], atol=1e-6)


def test_a_resolver_that_frees_its_rows_builds_every_case_anew() -> None:
    case = planner.load(REFERENCE / "case-01.xlsx")
    resolver = Resolver(keep_model=False, duals=False)
    first, second = resolver.solve(case), resolver.solve(case)
    assert (first.report.extra["reused"], second.report.extra["reused"]) == (False, False)
    assert second.objective == pytest.approx(first.objective, rel=1e-9)
    keeping = Resolver(duals=False)
    keeping.solve(case)
    assert keeping.solve(case).report.extra["reused"] is True


def test_the_release_lists_the_priced_rows_with_the_collector_paused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    handed = HighsModel(build_model(derive(planner.load(REFERENCE / "case-03.xlsx"))))
    seen: list[bool] = []
    listing = HighsModel.row_keys

    def noting(self: HighsModel, families: Any) -> Any:
        for key in listing(self, families):
            seen.append(gc.isenabled())
            yield key

    monkeypatch.setattr(HighsModel, "row_keys", noting)
    handed.release_rows(PRICED_FAMILIES)
    assert seen and not any(seen)  # no full collection walks the model while it lists them
    assert gc.isenabled()
