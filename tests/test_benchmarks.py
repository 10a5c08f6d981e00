"""The benchmark machinery is correct (no timings asserted: those live in benchmarks/)."""

from __future__ import annotations

from pathlib import Path

import pytest

import planner
from benchmarks.generate import V3_FEATURES, Size, generate, write
from benchmarks.run import OFFER_SHARE, STAGES, Row, _workbook, measure, table
from tests.conftest import REFERENCE, ROOT


@pytest.mark.parametrize("size", [Size(1, 1, 1, 1), Size(3, 4, 5, 3), Size(17, 3, 4, 6)])
@pytest.mark.parametrize("seed", [0, 1])
def test_generated_cases_are_valid(size: Size, seed: int, tmp_path: Path) -> None:
    case = planner.load(write(generate(size, seed), tmp_path / "case.xlsx"))
    assert len(case.elements) == size.elements
    assert len(case.offers) == size.elements * size.offers
    assert len(case.periods) == size.periods
    assert len(case.scenarios) == size.scenarios
    assert not [w for w in case.warnings if "unknown" in w.message]


def test_the_smallest_size_measures_what_a_plain_solve_gives(tmp_path: Path) -> None:
    measured = measure("small", time_limit=120, mip_gap=1e-4)
    assert set(measured["seconds"]) == set(STAGES)
    assert all(seconds >= 0 for seconds in measured["seconds"].values())
    assert measured["status"] == "optimal"
    case = planner.load(write(generate(Size(8, 10, 12, 5), seed=0), tmp_path / "small.xlsx"))
    result = planner.solve(case, mip_gap=1e-4)
    assert measured["objective"] == pytest.approx(result.objective, rel=2e-4)
    assert (measured["rows"], measured["columns"], measured["nonzeros"]) == (
        result.summary["rows"],
        result.summary["columns"],
        result.summary["nonzeros"],
    )
    rendered = table([Row(**measured)])
    assert "| small |" in rendered and "HiGHS alone" in rendered
    # the time to the first plan, the planner's and HiGHS alone's (issue 24.3)
    assert 0 <= measured["first_plan"] <= measured["seconds"]["solve"]
    assert measured["highs_alone_first_plan"] >= 0
    assert "| first plan s | HiGHS alone first plan s |" in rendered


def test_the_sweep_benchmark_checks_its_variants() -> None:
    from benchmarks.sweep import measure, report

    # solved loosest first: 90 builds, 80 and 70 are changed in place and keep its plan (50 t)
    vary = "capacity[Nd-CN]=70,80,90"
    timing = measure(REFERENCE / "case-00-hand.xlsx", vary, repeats=1)
    assert timing.variants == 3 and timing.reused == 2 and timing.not_resolved == 2
    assert timing.largest_difference < 1e-9
    assert "2 of them not solved again" in report(timing, Path("hand.xlsx"), vary)


def test_the_sweep_throughput_counts_every_variant_and_its_workers_cpu() -> None:
    from benchmarks.sweep import report_throughput, throughput

    measured = throughput(REFERENCE / "case-00-hand.xlsx", "capacity[Dy-CN]=12,13,14", workers=2)
    assert measured.variants == 3 and sum(measured.statuses.values()) == 3
    assert measured.cpu > 0 and measured.objectives[0] <= measured.objectives[1]
    assert "3 variants" in report_throughput(measured, Path("hand.xlsx"), "capacity[Dy-CN]=12")


def test_the_sweep_throughput_counts_the_re_solves_skipped() -> None:
    from benchmarks.sweep import report_throughput, throughput

    vary = "capacity[Nd-CN]=80:100:10"  # solved 100, 90 (kept: tighter), then 80 on worker 2
    measured = throughput(REFERENCE / "case-00-hand.xlsx", vary, workers=2, check=3)
    assert measured.not_resolved == 1 and measured.checked == 3
    assert measured.largest_difference < 1e-9
    assert "Re-solves skipped (the last plan provably kept): 1 of 3" in report_throughput(
        measured, Path("hand.xlsx"), vary
    )


@pytest.mark.parametrize("size", [Size(3, 4, 5, 3), Size(5, 6, 4, 4)])
def test_the_array_baseline_solves_the_same_model(size: Size, tmp_path: Path) -> None:
    from benchmarks import baseline

    path = write(generate(size, seed=1), tmp_path / "case.xlsx")
    sheets = generate(size, seed=1)
    sheets["Policies"].append(["offer_share_max", None, None, 0.5])
    shared = write(sheets, tmp_path / "shares.xlsx")
    for workbook in (path, shared, ROOT / "inputs" / "tiny.xlsx"):
        array = baseline.solve(workbook, time_limit=120, mip_gap=0.0)
        result = planner.solve(planner.load(workbook), mip_gap=0.0, duals=False)
        assert array["status"] == "Optimal"
        assert array["objective"] == pytest.approx(result.objective, rel=1e-6)
        assert array["nonzeros"] > 0 and len(array["presolved"]) == 3


def test_a_v2_case_is_generated_with_the_v2_features(tmp_path: Path) -> None:
    case = planner.load(write(generate(Size(6, 5, 4, 3), seed=0, v2=True), tmp_path / "v2.xlsx"))
    data = planner.model.derive(case)
    assert data.offer_later.any()
    assert (data.contents > 0).sum(axis=1).max() == 2  # joint products
    assert ("country_share_max", "refining") in data.caps
    result = planner.solve(case, duals=False)
    assert result.has_plan


def test_the_array_baseline_refuses_what_it_does_not_model() -> None:
    from benchmarks import baseline

    with pytest.raises(NotImplementedError, match="later signings"):
        baseline.solve(ROOT / "inputs" / "japan-2026.xlsx", time_limit=60, mip_gap=0.0)


def test_the_issue_class_with_offer_shares_is_valid_and_caps_every_element(
    tmp_path: Path,
) -> None:
    case = planner.load(_workbook("class-share", tmp_path))
    assert not [i for i in planner.validate(case) if i.severity == "error"]
    caps = case.policies[case.policies["policy"] == "offer_share_max"]
    assert list(caps["value"]) == [OFFER_SHARE]
    assert caps["element"].isna().all()  # blank: each element separately
    assert len(case.elements) == 17 and len(case.offers) == 17 * 30


@pytest.mark.parametrize(
    "features", [("tiers",), ("value",), ("budget",), ("events",), V3_FEATURES]
)
def test_generated_v3_cases_are_valid_and_use_their_features(
    features: tuple[str, ...], tmp_path: Path
) -> None:
    from planner.events import scenario_probability
    from planner.model import derive

    case = planner.load(write(generate(Size(6, 4, 8, 5), 0, v3=features), tmp_path / "v3.xlsx"))
    assert not [w for w in case.warnings if "unknown" in w.message]
    data = derive(case)
    assert (len(case.shortage_tiers) > 0) == ("tiers" in features)
    assert (case.settings.stock_value_max is not None) == ("budget" in features)
    assert bool(data.value_caps) == ("value" in features)
    assert len(scenario_probability(case)) == (64 if "events" in features else 5)


def test_a_v3_benchmark_size_names_its_features() -> None:
    from benchmarks.run import _v3_features

    assert _v3_features("medium-v3") == ("medium", list(V3_FEATURES))
    assert _v3_features("medium-v3-budget") == ("medium", ["budget"])
    assert _v3_features("medium-v2") == ("medium-v2", [])


def test_the_array_baseline_reaches_the_planners_objective_on_the_issue_24_class(
    tmp_path: Path,
) -> None:
    from benchmarks import baseline
    from benchmarks.generate import class_features

    sheets = class_features(generate(Size(5, 6, 4, 4), seed=1), seed=1, overrides=0.3)
    path = write(sheets, tmp_path / "class.xlsx")
    case = planner.load(path)
    data = planner.model.derive(case)
    assert data.cvar_weight == 0.3 and len(case.offer_periods) > 0
    assert ("offer_share_max", "") in data.caps
    array = baseline.solve(path, time_limit=120, mip_gap=0.0)
    result = planner.solve(case, mip_gap=0.0, duals=False)
    assert array["status"] == "Optimal"
    assert array["objective"] == pytest.approx(result.objective, rel=1e-6)


def test_the_issue_24_class_size_has_its_features_and_its_gap(tmp_path: Path) -> None:
    from benchmarks.run import HARD_GAP, size_gap

    case = planner.load(_workbook("class-hard", tmp_path))
    assert not [i for i in planner.validate(case) if i.severity == "error"]
    assert case.settings.cvar_weight == 0.3 and case.settings.mip_gap == HARD_GAP
    assert len(case.elements) == 17 and len(case.offers) == 17 * 30
    assert len(case.scenarios) == 20 and len(case.offer_periods) > 0
    overrides = case.offer_periods
    assert overrides["capacity"].notna().any() and overrides["unit_cost"].notna().any()
    caps = case.policies[case.policies["policy"] == "offer_share_max"]
    assert sorted(caps["value"]) == [0.3, OFFER_SHARE]  # one element tighter than the rest
    assert size_gap("class-hard", None) == HARD_GAP
    assert size_gap("class", None) == 1e-4 and size_gap("class-hard", 1e-3) == 1e-3


def test_the_duals_benchmark_prices_one_lp_from_every_start() -> None:
    from benchmarks import duals
    from planner.solve import DUALS_STARTS

    measured = duals.measure("small", time_limit=120, mip_gap=1e-4, repeat=2)
    assert measured["status"] == "optimal"
    starts = measured["starts"]
    assert set(starts) == set(DUALS_STARTS)
    assert len(starts["basis"]["seconds"]) == 1  # the MIP's basis is there once only
    assert all(len(starts[s]["seconds"]) == 2 for s in DUALS_STARTS if s != "basis")
    objectives = {round(v, 4) for entry in starts.values() for v in entry["objective"]}
    assert len(objectives) == 1  # the same LP from every start
    assert all(entry["count"] > 0 and min(entry["iterations"]) > 0 for entry in starts.values())
    assert "| small |" in duals.table([measured])


def test_the_table_splits_the_array_models_solve_from_its_read_and_build() -> None:
    seconds = dict.fromkeys(STAGES, 1.0)
    array = {
        "seconds": {"read": 0.5, "build": 1.5, "solve": 4.0},
        "peak_mb": 1.0,
        "rows": 1,
        "columns": 1,
        "nonzeros": 1,
        "presolved": [1, 1, 1],
        "objective": 1.0,
    }
    row = Row("x", 1, 1, 1, "optimal", 1.0, seconds, 1.0, 1.0, (1, 1, 1), array)
    head, _, cells = table([row]).splitlines()[:3]
    named = dict(zip(head.split("|"), cells.split("|"), strict=True))
    assert named[" array total "].strip() == "6.00"
    assert named[" array solve "].strip() == "4.00"
