"""The in-place re-solve works the layout out again only when what it depends on changed."""

from __future__ import annotations

from typing import Any

import pytest

import planner
from planner.api import Resolver
from planner.model import update
from planner.sweep import apply_change
from tests.conftest import REFERENCE


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = update._layout

    def counted(data: Any) -> Any:
        calls.append(1)
        return original(data)

    monkeypatch.setattr(update, "_layout", counted)
    return calls


def test_a_sweep_over_capacity_reuses_the_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    case = planner.load(REFERENCE / "case-00-hand.xlsx")
    resolver = Resolver(duals=False)
    calls = _counting(monkeypatch)
    results = []
    for capacity in (100, 90, 80):
        variant = case.copy()
        apply_change(variant, "capacity[Nd-CN]", capacity)
        calls.clear()
        results.append(resolver.solve(variant))
    assert [r.report.extra["reused"] for r in results] == [False, True, True]
    assert calls == []  # the third variant: capacity is not part of the layout
    fresh = planner.solve(variant, duals=False)
    assert results[-1].objective == pytest.approx(fresh.objective, rel=1e-9)


def test_a_change_of_demand_works_the_layout_out_again(monkeypatch: pytest.MonkeyPatch) -> None:
    case = planner.load(REFERENCE / "case-00-hand.xlsx")
    resolver = Resolver(duals=False)
    resolver.solve(case)
    calls = _counting(monkeypatch)
    variant = case.copy()
    apply_change(variant, "demand_scale", 1.1)
    result = resolver.solve(variant)
    assert calls  # demand decides where cover rows exist
    assert result.objective == pytest.approx(planner.solve(variant, duals=False).objective)
