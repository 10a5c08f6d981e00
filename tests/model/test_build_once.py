"""The offer-share rows (10) reuse each node's supply terms, built once; the build pauses the GC."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import numpy as np
import pyomo.environ as pyo
import pytest

import planner
from benchmarks.generate import Size, generate, write
from planner.model import balance, build_model, derive, policies, update

CAP = 0.45


def _sheets(fraction: float = 0.6) -> dict[str, list[list[Any]]]:
    """A v2 case (joint products, recycling) with offer shares, one of them 0 in one period."""
    sheets = generate(Size(4, 6, 3, 3), seed=2, v2=True)
    sheets["Policies"].append(["offer_share_max", None, None, CAP, None])
    sheets["Policies"].append(["offer_share_max", "Nd", "2026Q2", 0.0, None])
    for row in sheets["OfferContents"][1:]:
        if row[2] == 0.6:
            row[2] = fraction
    return sheets


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return planner.load(write(_sheets(), tmp_path_factory.mktemp("once") / "case.xlsx"))


def _terms(row: Any) -> list[tuple[str, float]]:
    body = row.body
    return [(v.name, float(c)) for c, v in zip(body.linear_coefs, body.linear_vars, strict=True)]


def _by_part(model: pyo.ConcreteModel, o: int, n: int, e: int) -> Any:
    """The row as every share row is written (``_part``, weight 1 on offer o), or None."""
    data = model.data
    cap = data.caps[("offer_share_max", "")].get((data.elements[e], model.node_period[n]))
    if cap is None or cap.value >= 1:
        return None
    weight = np.zeros(len(data.offers))
    weight[o] = 1.0
    coefficients, variables, _ = policies._part(
        model, e, n, weight, np.zeros(len(data.activities)), cap.value
    )
    return [(v.name, float(c)) for c, v in zip(coefficients, variables, strict=True)]


def test_each_offer_share_row_is_the_share_row_of_its_offer(case: Any) -> None:
    model = build_model(derive(case))
    inline = written = 0
    for (o, n, e), row in model.offer_share_limit.items():
        expected = _by_part(model, o, n, e)
        assert row.active == (expected is not None)
        if expected is None:
            continue
        assert _terms(row) == expected, (o, n, e)
        assert row.upper == 0.0 and row.lower is None
        written += 1
        inline += all("supply_units" not in name for name, _ in expected)
    assert written > 0 and 0 < inline < written  # both forms: against S and inline (v = 0)


def test_the_supply_terms_are_built_once_per_node_not_per_offer(
    case: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = derive(case)
    calls: list[tuple[int, int]] = []
    original = balance.supply_terms

    def counted(model: pyo.ConcreteModel, e: int, n: int) -> Any:
        calls.append((e, n))
        return original(model, e, n)

    real = policies.define_offer_share_constraints

    def offer_share_rows(model: pyo.ConcreteModel, data: Any) -> None:
        calls.clear()
        with monkeypatch.context() as patch:
            patch.setattr(policies, "supply_terms", counted)
            real(model, data)
        model.offer_share_calls = list(calls)

    monkeypatch.setattr(policies, "define_offer_share_constraints", offer_share_rows)
    model = build_model(data)
    cells = {
        (e, n) for _, n, e in model.offer_share_limit if model.offer_share_limit[_, n, e].active
    }
    assert len(model.offer_share_limit) > len(cells)  # several offers per element and node
    assert sorted(model.offer_share_calls) == sorted(cells)
    assert model.offer_share_terms is None  # not kept once the rows are built


def test_a_rebound_model_writes_the_offer_share_rows_of_its_new_contents(
    case: Any, tmp_path: Path
) -> None:
    model = build_model(derive(case))
    base = [_terms(row) for row in model.offer_share_limit.values()]
    for fraction in (0.5, 0.4):  # the second rebind finds the terms the first one kept
        changed = derive(planner.load(write(_sheets(fraction), tmp_path / f"{fraction}.xlsx")))
        assert update.rebind(model, changed) is not None
        assert model.offer_share_terms  # kept on the model for the next variant
        fresh = build_model(changed)
        rows = list(fresh.offer_share_limit.items())
        assert all(model.offer_share_limit[index].active == row.active for index, row in rows)
        mine = [_terms(model.offer_share_limit[index]) for index, row in rows]
        assert mine == [_terms(row) for _, row in rows]
        assert mine != base


def test_the_garbage_collector_is_paused_while_building_and_resumed_after(
    case: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real = policies.define_offer_share_constraints

    def noting(model: pyo.ConcreteModel, data: Any) -> None:
        seen.append(gc.isenabled())
        real(model, data)

    monkeypatch.setattr(policies, "define_offer_share_constraints", noting)
    assert gc.isenabled()
    build_model(derive(case))
    assert seen == [False]
    assert gc.isenabled()
