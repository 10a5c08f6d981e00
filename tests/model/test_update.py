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


def _held(session: Any) -> dict[str, tuple[float, float, dict[str, float]]]:
    """Every active row HiGHS holds: its bounds and coefficients, by row and column name."""
    import numpy as np
    from scipy import sparse

    lp = session.highs.getLp()
    matrix = sparse.csc_matrix(
        (
            np.asarray(lp.a_matrix_.value_),
            np.asarray(lp.a_matrix_.index_),
            np.asarray(lp.a_matrix_.start_),
        ),
        shape=(lp.num_row_, lp.num_col_),
    ).tocsr()
    names = [column.name for column in session.handed.columns]
    held = {}
    for i, row in enumerate(session.handed.rows):
        if not row.active:
            continue  # freed: its bounds open
        part = matrix[i]
        coefficients = {names[j]: v for j, v in zip(part.indices, part.data, strict=True) if v}
        held[row.name] = (lp.row_lower_[i], lp.row_upper_[i], coefficients)
    return held


def test_only_the_rows_that_read_a_changed_entry_are_set_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from planner.model import build_model, derive
    from planner.solve import HighsSession, SolveOptions

    case = planner.load(REFERENCE / "case-00-hand.xlsx")
    resolver = Resolver(duals=False, mip_gap=0.0)
    synced: list[Any] = []
    original = HighsSession.sync

    def noted(self: Any, rebound: Any) -> bool:
        synced.append(rebound)
        return bool(original(self, rebound))

    monkeypatch.setattr(HighsSession, "sync", noted)
    offers = list(case.offers.index)
    steps = [
        ("capacity[Nd-CN]", 90),
        ("capacity[Nd-CN]", 80),  # the rows are noted entry by entry from here
        ("capacity[Nd-CN]", 0),  # its minimum take row goes
        ("capacity[Nd-CN]", 70),  # and comes back
        (f"capacity[{offers[-1]}]", 5),
        ("china_share_max[Nd]", 0.5),
        ("demand_scale", 1.1),  # the layout again: every row noted anew
        ("capacity[Nd-CN]", 60),
    ]
    variant = case.copy()
    resolver.solve(variant)
    for name, value in steps:
        variant = variant.copy()
        apply_change(variant, name, value)
        result = resolver.solve(variant)
        assert result.report.extra["reused"]
        fresh = HighsSession(build_model(derive(variant)), SolveOptions())
        assert _held(resolver.session) == _held(fresh), (name, value)
        alone = planner.solve(variant, duals=False, mip_gap=0.0)
        assert result.status == alone.status
        assert result.objective == pytest.approx(alone.objective, rel=1e-9)
    some = [r.rows["capacity_limit"] for r in synced if "capacity_limit" in r.rows]
    assert len(some) >= 3  # capacity changes set some rows, not all: those of one offer
    assert all(len({o for o, _ in rows}) == 1 for rows in some)
    assert {offers[rows[0][0]] for rows in some} == {"Nd-CN", offers[-1]}


def test_a_rule_s_reads_are_noted_entry_by_entry() -> None:
    import numpy as np

    from planner.model import derive

    data = derive(planner.load(REFERENCE / "case-00-hand.xlsx"))
    reads = update._Reads(data)
    reads.entries = noted = set()
    assert reads.capacity[0, 1, 0] == data.capacity[0, 1, 0]
    reads.capacity[1]  # a slice of one offer: every entry under it
    assert ("capacity", (0, 1, 0)) in noted and ("capacity", (1,)) in noted
    np.asarray(reads.offer_min_take)  # the whole array
    reads.capacity[:, 0]
    assert ("offer_min_take", None) in noted and ("capacity", None) in noted
    noted.clear()
    np.ones(len(data.offers)) * reads.offer_risk  # numpy takes it as a whole array
    assert noted == {("offer_risk", None)}
    with pytest.raises(TypeError):
        reads.offer_risk * 2.0  # arithmetic on it first: its family is set again unnoted
    changed = data.capacity.copy()
    changed[1, 0, 0] += 1
    other = type(data)(**{**data.__dict__, "capacity": changed})
    rows = {
        "a": {("capacity", (0, 1, 0))},
        "b": {("capacity", (1,))},
        "c": {("capacity", None)},
        "d": {("offer_min_take", None)},
    }
    assert update._affected(rows, {"capacity", "offer_min_take"}, data, other) == ["b", "c"]
