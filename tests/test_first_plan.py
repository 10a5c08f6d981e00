"""A first plan constructed for HiGHS to start from (issue 24.3, planner/first_plan.py).

Every construction must give a plan that holds every rule (the planner's
own check, planner/verify.py), HiGHS must take it in as its incumbent, and
it must never change an optimum, nor a solve where it finds nothing. No
assertion here depends on the machine's speed: limits are HiGHS's node
limits or a time share of zero.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

import planner
from benchmarks.generate import V3_FEATURES, Size, generate, write
from planner.first_plan import CLOSED, OPEN, FirstPlan, first_plan
from planner.model import build_model, derive
from planner.results import read_plan
from planner.solve import TIME_LIMIT, HighsSession, SolveOptions, SolverReport
from planner.verify import verify_plan
from tests.conftest import REFERENCE, expected

V1 = sorted(expected())
V2 = sorted(path.name for path in (REFERENCE / "v2").glob("*.xlsx"))
V3 = sorted(path.name for path in (REFERENCE / "v3").glob("*.xlsx"))
REFERENCE_CASES = [*V1, *(f"v2/{name}" for name in V2), *(f"v3/{name}" for name in V3)]
SOLVE = importlib.import_module("planner.solve")  # the module: planner.solve is the function
SMALL = Size(4, 5, 6, 3)
GENERATED = {"v1": {}, "v2": {"v2": True}, "v3": {"v2": True, "v3": V3_FEATURES}}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("generated")
    return {
        name: write(generate(SMALL, seed=1, **options), folder / f"{name}.xlsx")  # type: ignore[arg-type]
        for name, options in GENERATED.items()
    }


def _construct(
    case: Path | planner.Case, constructions: tuple[str, ...] = (CLOSED, OPEN)
) -> tuple[FirstPlan, list[str], float]:
    """A first plan for ``case`` (or its workbook): the plan, the check's finds, its cost."""
    data = derive(planner.load(case) if isinstance(case, Path) else case)
    model = build_model(data)
    session = HighsSession(model, SolveOptions())
    session._set_options(None, None)  # one thread, as every solve here (HiGHS's scheduler)
    constructed = first_plan(session.highs, session.integer, 600.0, constructions)
    if constructed.values is None:
        return constructed, [], float("nan")
    session._load_values(constructed.values)
    broken = verify_plan(read_plan(model, data), data)
    return constructed, broken, session.handed.cost_of(constructed.values)


@pytest.mark.parametrize("name", REFERENCE_CASES)
def test_the_first_plan_of_a_reference_case_holds_every_rule(name: str) -> None:
    constructed, broken, cost = _construct(REFERENCE / name)
    assert constructed.values is not None, constructed.how
    assert broken == []
    assert constructed.objective == pytest.approx(cost, rel=1e-9, abs=1e-6)
    assert constructed.how in (CLOSED, OPEN)


@pytest.mark.parametrize("features", sorted(GENERATED))
@pytest.mark.parametrize("construction", [CLOSED, OPEN])
def test_each_construction_on_generated_cases_holds_every_rule(
    generated: dict[str, Path], features: str, construction: str
) -> None:
    """Generated cases have min_offers, minimum takes, caps (v2: later signings; v3: all)."""
    constructed, broken, cost = _construct(generated[features], (construction,))
    assert constructed.values is not None, constructed.how
    assert constructed.how == construction
    assert broken == []
    assert constructed.objective == pytest.approx(cost, rel=1e-9)


def test_a_forced_purchase_under_a_china_cap_needs_the_open_construction(
    japan_small_case: planner.Case,
) -> None:
    """Japan: contracted offers' minimum takes break the TOTAL China cap unless others are open.

    The reduced case (tests/conftest.py) has every offer, contract and cap of the whole one.
    """
    closed, _, _ = _construct(japan_small_case, (CLOSED,))
    assert closed.values is None
    constructed, broken, _ = _construct(japan_small_case)
    assert constructed.how == OPEN
    assert broken == []


def test_the_cheaper_construction_is_kept(generated: dict[str, Path]) -> None:
    both, _, _ = _construct(generated["v1"])
    each = [_construct(generated["v1"], (how,))[0].objective for how in (CLOSED, OPEN)]
    assert both.objective == pytest.approx(min(value for value in each if value is not None))


@pytest.mark.parametrize("name", REFERENCE_CASES)
def test_the_first_plan_never_changes_an_optimum(name: str) -> None:
    case = planner.load(REFERENCE / name)
    without = planner.solve(case, mip_gap=0.0, first_plan=False)
    with_it = planner.solve(case, mip_gap=0.0, first_plan=True)
    assert with_it.report.extra["first_plan"]["objective"] is not None, with_it.report.extra
    assert with_it.status == without.status == "optimal"
    assert with_it.objective == pytest.approx(without.objective, rel=1e-9)
    if name in V1:
        assert with_it.objective == pytest.approx(expected()[name]["objective"], rel=1e-6)


def test_highs_takes_the_first_plan_in_as_its_incumbent(generated: dict[str, Path]) -> None:
    """With no branching node allowed HiGHS still reports a plan: at worst the one handed to it."""
    case = planner.load(generated["v3"])
    result = planner.solve(case, first_plan=True, highs_options={"mip_max_nodes": 0})
    constructed = result.report.extra["first_plan"]
    assert result.has_plan
    assert not constructed["taken_as_is"]  # HiGHS reported it (or better) itself
    assert result.report.extra["first_plan_seconds"] == constructed["seconds"]
    assert result.objective <= constructed["objective"] * (1 + 1e-9)
    assert result.summary["status"] in ("time_limit", "optimal")


def test_a_solve_whose_construction_finds_nothing_runs_as_before(
    generated: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = planner.load(generated["v2"])
    before = planner.solve(case, first_plan=False)
    monkeypatch.setattr(SOLVE, "FIRST_PLAN_SHARE", 0.0)  # no time for it
    after = planner.solve(case, first_plan=True)
    assert after.report.extra["first_plan"]["objective"] is None
    assert after.report.extra["first_plan"]["how"] == "out of its time"
    assert after.status == before.status
    assert after.objective == pytest.approx(before.objective, rel=1e-9)


def test_large_models_construct_a_first_plan_by_default(
    generated: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = planner.load(generated["v1"])
    assert "first_plan" not in planner.solve(case).report.extra  # small: HiGHS alone
    monkeypatch.setattr(SOLVE, "FIRST_PLAN_NONZEROS", 1)
    assert planner.solve(case).report.extra["first_plan"]["objective"] is not None
    assert "first_plan" not in planner.solve(case, first_plan=False).report.extra


def test_a_plan_handed_to_highs_is_the_plan_when_highs_stops_before_taking_it(
    generated: dict[str, Path],
) -> None:
    """HiGHS takes a start in after presolve; stopped before, the constructed plan is written."""
    data = derive(planner.load(generated["v1"]))
    model = build_model(data)
    session = HighsSession(model, SolveOptions(first_plan=True))
    constructed = session._first_plan(600.0)
    assert constructed.values is not None
    report = SolverReport(TIME_LIMIT, False, termination="Time limit reached")
    session._take_first_plan(report, constructed)
    assert report.has_plan and report.extra["first_plan"]["taken_as_is"]
    assert report.objective == pytest.approx(constructed.objective, rel=1e-9)
    assert verify_plan(read_plan(model, data), data) == []
    assert np.array_equal(session.start, constructed.values)
