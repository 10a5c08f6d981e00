"""Never a wrong "optimal" (issue 26, 1): big-Ms bounded by use, rounded plans re-checked."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import planner
import planner.api
from planner.cli import EXIT_UNPROVEN, app
from planner.model import derive
from planner.model import parameters as model_parameters
from planner.results import read_plan
from tests.conftest import HAND, write_workbook

runner = CliRunner()
Sheets = dict[str, list[list[Any]]]

#: The issue's case: a Dy offer of "unlimited" capacity and a fixed cost of 1e9, with
#: Dy demand 100 a quarter, a shortage at 1e9 a tonne; its optimum signs the offer.
OPTIMUM = 1_000_033_500.0


def big_m_sheets(
    capacity: float = 999_999_999, total_cap: bool = False, country_cap: bool = False
) -> Sheets:
    sheets = copy.deepcopy(HAND)
    sheets["Offers"].append(["Dy-AU", "Big", "Dy", "AU", None, None, 100, capacity, 1e9])
    sheets["Elements"][2][3] = 1e9  # Dy shortage_cost, the largest the input takes
    sheets["Demand"][3][2] = sheets["Demand"][4][2] = 100
    if total_cap:  # a pooled cap: Dy-AU (non-China) may pay beyond the requirement
        sheets["Policies"].append(["china_share_max", "TOTAL", None, 0.99])
    if country_cap:  # a country cap: Dy-AU is cleaner than it for every other group
        sheets["Policies"].append(["country_share_max", "Dy", None, 0.99])
    return sheets


def _case(tmp_path: Path, **kwargs: Any) -> Path:
    return write_workbook(tmp_path / "big-m.xlsx", big_m_sheets(**kwargs))


def test_the_same_case_with_a_capacity_it_can_use_has_the_optimum(tmp_path: Path) -> None:
    result = planner.solve(planner.load(_case(tmp_path, capacity=400)))
    assert (result.status, result.objective) == ("optimal", pytest.approx(OPTIMUM, rel=1e-9))


@pytest.mark.parametrize("duals", [True, False])
def test_an_unlimited_capacity_with_a_large_fixed_cost_is_solved_right(
    duals: bool, tmp_path: Path
) -> None:
    result = planner.solve(planner.load(_case(tmp_path)), duals=duals)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(OPTIMUM, rel=1e-9)
    assert result.summary["mip_gap"] <= result.summary["mip_gap_target"]
    assert result.tables["Contracts"].set_index("offer").loc["Dy-AU", "contracted"] == 1


def test_the_cli_writes_the_optimum_of_the_unlimited_offer(tmp_path: Path) -> None:
    out = tmp_path / "plan.xlsx"
    cli = runner.invoke(app, ["solve", str(_case(tmp_path)), "-o", str(out), "--no-duals"])
    assert cli.exit_code == 0, cli.output
    assert cli.stdout.startswith("optimal: spend 1,000,033,500 USD, lost value 0 USD")


def test_the_big_m_is_what_the_case_can_use(tmp_path: Path) -> None:
    data = derive(planner.load(_case(tmp_path)))
    dy_au = data.offers.index("Dy-AU")
    # 2026Q1: its demand and the next quarter's (cover 0); 2026Q2, the last: its demand
    assert data.offer_useful[dy_au].tolist() == [200.0, 100.0]
    assert [data.offer_bound(dy_au, n) for n in range(2)] == [200.0, 100.0]
    nd_cn = data.offers.index("Nd-CN")  # under the Nd China cap, and China: trimmed too
    assert data.offer_bound(nd_cn, 0) == 100.0  # its capacity is below the 200 it could use


def test_storage_floors_and_caps_decide_the_bound(tmp_path: Path) -> None:
    sheets = big_m_sheets()
    sheets["Elements"][0].append("storage_capacity")
    sheets["Elements"][1].append(None)
    sheets["Elements"][2].append(30)  # Dy: at most 30 in stock
    sheets["Offers"][0].append("min_take")
    for row in sheets["Offers"][1:]:
        row.append(150 if row[0] == "Dy-AU" else None)
    data = derive(planner.load(write_workbook(tmp_path / "a.xlsx", sheets)))
    dy_au = data.offers.index("Dy-AU")
    # hard: storage + demand = 130; trim: max(use, min_take 150)
    assert data.offer_useful[dy_au].tolist() == [130.0, 130.0]

    pooled = derive(planner.load(_case(tmp_path, total_cap=True)))
    # a non-China offer under a pooled China cap may pay beyond the requirement, up to
    # what lets the China part in: Nd-CN's and Dy-CN's use (200 each in 2026Q1, 100 each
    # in 2026Q2) over 0.99
    assert pooled.offer_useful[dy_au].tolist() == pytest.approx([400 / 0.99, 200 / 0.99])

    country = derive(planner.load(_case(tmp_path, country_cap=True)))
    # cleaner than a country cap for every other group: no trim, and with unlimited
    # storage no hard bound either
    assert np.isinf(country.offer_useful[dy_au]).all()
    assert country.offer_bound(dy_au, 0) == 999_999_999


def test_a_capacity_row_bound_by_use_prices_no_capacity(tmp_path: Path) -> None:
    result = planner.solve(planner.load(_case(tmp_path)))
    duals = result.tables["Duals"]
    capacity = duals[(duals["constraint"] == "capacity") & (duals["offer"] == "Dy-AU")]
    assert len(capacity) == 2 and (capacity["dual"] == 0).all()


def test_a_big_m_the_bound_cannot_cut_is_solved_again_strictly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """With the bound off (as where a cap forbids it), the rounded plan is re-checked."""
    monkeypatch.setattr(model_parameters, "useful_capacity", _loose)
    case = planner.load(_case(tmp_path))
    for duals in (True, False):
        caplog.clear()
        result = planner.solve(case, duals=duals)
        # HiGHS's first plan opens Dy-AU at 1.8e-7: rounded, it costs 176,000,020,700
        assert "costs 176000020700.0, not the solver's" in caplog.text
        assert "solving again at a strict integrality tolerance" in caplog.text
        assert result.status == "optimal"
        assert result.objective == pytest.approx(OPTIMUM, rel=1e-9)
        assert result.summary["mip_gap"] <= result.summary["mip_gap_target"]


def test_a_big_m_under_a_country_cap_keeps_its_optimum(tmp_path: Path) -> None:
    case = planner.load(_case(tmp_path, country_cap=True))
    near = planner.solve(planner.load(_case(tmp_path, capacity=400, country_cap=True)))
    assert near.objective == pytest.approx(1_000_033_900.0, rel=1e-9)  # AU at most 99 %
    result = planner.solve(case)
    assert (result.status, result.objective) == ("optimal", pytest.approx(near.objective))


def test_a_plan_its_rounding_does_not_reproduce_is_unproven(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(planner.api, "_reproduced", lambda *args: False)
    path = _case(tmp_path)
    result = planner.solve(planner.load(path), duals=False)
    assert (result.status, result.has_plan) == ("unproven", True)
    assert result.summary["message"].startswith("not proven optimal: ")
    out = tmp_path / "plan.xlsx"
    cli = runner.invoke(app, ["solve", str(path), "-o", str(out)])
    assert cli.exit_code == EXIT_UNPROVEN == 5
    assert cli.stdout.startswith("unproven (gap ")
    assert "warning: not proven optimal: " in cli.stderr
    rows = openpyxl.load_workbook(out)["Summary"].iter_rows(min_row=2, values_only=True)
    summary = {row[0]: row[1] for row in rows}
    assert summary["status"] == "unproven"


def test_a_plan_failing_the_planners_check_is_a_status_not_an_exception(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def tampered(model: Any, data: Any) -> Any:
        plan = read_plan(model, data)
        plan.purchase[0, 0, 0] += 1_000.0  # Nd-CN buys more than its capacity
        return plan

    monkeypatch.setattr(planner.api, "read_plan", tampered)
    result = planner.solve(planner.load(_case(tmp_path, capacity=400)), duals=False)
    assert (result.status, result.has_plan, result.tables) == ("error", False, {})
    assert "fails the planner's own check" in result.summary["message"]


# ------------------------------------------------ the bound never changes the optimum


def test_extra_non_china_supply_under_a_pooled_cap_is_not_cut(tmp_path: Path) -> None:
    """Buying 140 t of Nd nobody needs lets 100 t of cheap Chinese Dy under the TOTAL cap."""
    sheets: Sheets = {
        "Periods": [["period", "days"], ["P1", 90]],
        "Elements": [["element", "shortage_cost"], ["Nd", 1e6], ["Dy", 1e6]],
        "Demand": [["element", "period", "quantity"], ["Nd", "P1", 10], ["Dy", "P1", 100]],
        "Offers": [
            ["offer", "element", "country", "unit_cost", "capacity"],
            ["Nd-AU", "Nd", "AU", 1, 10_000],
            ["Dy-CN", "Dy", "CN", 100, 1_000],
            ["Dy-US", "Dy", "US", 1_000, 1_000],
        ],
        "Countries": [["country", "risk"], ["CN", 0.9], ["AU", 0.1], ["US", 0.2]],
        "Policies": [
            ["policy", "element", "period", "value"],
            ["china_share_max", "TOTAL", None, 0.4],
        ],
    }
    case = planner.load(write_workbook(tmp_path / "pooled.xlsx", sheets))
    result = planner.solve(case, mip_gap=0.0)
    # 150 t Nd-AU (10 used, 140 left in stock) and 100 t Dy-CN: 150 x 1 + 100 x 100
    assert result.objective == pytest.approx(10_150.0, rel=1e-9)
    data = derive(case)
    # what lets the most China supply in (Dy-CN's use, 100 t) under 40 %: 100 / 0.4
    assert data.offer_useful[data.offers.index("Nd-AU")].tolist() == [250.0]


def test_extra_non_china_supply_under_a_value_cap_is_not_cut(tmp_path: Path) -> None:
    """The same under a TOTAL China cap counted in value (B2): Nd worth 1, Dy worth 100.

    China value 100 x 100 = 10,000 may be 40 % of all value: 25,000, so 15,000 of non-China
    value is needed: 15,000 t of Nd-AU at 1 (price 1), 14,990 of them unused. The trim bound
    (what Nd's demand can use: 10 t) would cut that plan; Dy from the US would cost 90,000 more.
    """
    sheets: Sheets = {
        "Periods": [["period", "days"], ["P1", 90]],
        "Elements": [
            ["element", "shortage_cost", "reference_price"],
            ["Nd", 1e6, 1],
            ["Dy", 1e6, 100],
        ],
        "Demand": [["element", "period", "quantity"], ["Nd", "P1", 10], ["Dy", "P1", 100]],
        "Offers": [
            ["offer", "element", "country", "unit_cost", "capacity"],
            ["Nd-AU", "Nd", "AU", 1, 100_000],
            ["Dy-CN", "Dy", "CN", 100, 1_000],
            ["Dy-US", "Dy", "US", 1_000, 1_000],
        ],
        "Countries": [["country", "risk"], ["CN", 0.9], ["AU", 0.1], ["US", 0.2]],
        "Policies": [
            ["policy", "element", "period", "value", "measure"],
            ["china_share_max", "TOTAL", None, 0.4, "value"],
        ],
    }
    case = planner.load(write_workbook(tmp_path / "pooled-value.xlsx", sheets))
    result = planner.solve(case, mip_gap=0.0)
    # 15,000 t of Nd-AU (value 15,000) and 100 t of Dy-CN (value 10,000): 15,000 + 10,000
    assert result.objective == pytest.approx(25_000.0, rel=1e-9)


def _random_case(draw: Any) -> Sheets:
    n_periods = draw(st.integers(2, 3))
    periods = [f"P{t}" for t in range(n_periods)]
    sheets: Sheets = {
        "Periods": [["period", "days"], *([p, 90] for p in periods)],
        "Elements": [
            [
                "element",
                "group",
                "shortage_cost",
                "holding_cost",
                "initial_stock",
                "storage_capacity",
                "cover_days",
            ],
            *(
                [
                    element,
                    group,
                    draw(st.sampled_from([50, 500, 5_000])),
                    draw(st.sampled_from([0, 1, 5])),
                    draw(st.sampled_from([0, 20])),
                    draw(st.sampled_from([None, 40, 300])),
                    draw(st.sampled_from([0, 30, 90])),
                ]
                for element, group in (("Nd", "light"), ("Dy", "heavy"))
            ),
        ],
        "Demand": [
            ["element", "period", "quantity"],
            *(
                [element, period, draw(st.sampled_from([0, 10, 60, 100]))]
                for element in ("Nd", "Dy")
                for period in periods
            ),
        ],
        "Countries": [["country", "risk"], ["CN", 0.9], ["MY", 0.3], ["AU", 0.1], ["US", 0.2]],
    }
    offers = [
        ["offer", "element", "country", "unit_cost", "capacity", "fixed_cost", "min_take"],
    ]
    for i, (element, country) in enumerate(
        [("Nd", "CN"), ("Nd", "AU"), ("Dy", "CN"), ("Dy", "US"), ("Dy", "MY")]
    ):
        offers.append(
            [
                f"O{i}",
                element,
                country,
                draw(st.sampled_from([10, 40, 120])),
                draw(st.sampled_from([30, 80, 1_000, 50_000])),
                draw(st.sampled_from([0, 500, 20_000])),
                draw(st.sampled_from([0, 0, 15])),
            ]
        )
    sheets["Offers"] = offers
    policies: list[list[Any]] = [["policy", "element", "period", "value"]]
    for policy in draw(
        st.lists(
            st.sampled_from(
                [
                    ["china_share_max", "Dy", None, 0.5],
                    ["china_share_max", "TOTAL", None, 0.6],
                    ["risk_max", "TOTAL", None, 0.5],
                    ["offer_share_max", "Nd", None, 0.7],
                ]
            ),
            max_size=2,
            unique_by=lambda row: (row[0], row[1]),
        )
    ):
        policies.append(policy)
    sheets["Policies"] = policies
    if draw(st.booleans()):  # a China stop from the second period: a scenario tree
        sheets["Scenarios"] = [["scenario", "probability"], ["base", 0.7], ["stop", 0.3]]
        sheets["Disruptions"] = [
            ["scenario", "target_type", "target", "first_period", "capacity_factor"],
            ["stop", "country", "CN", "P1", 0],
        ]
    return sheets


@st.composite
def random_cases(draw: Any) -> Sheets:
    return _random_case(draw)


def _loose(data: Any) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.full((len(data.offers), len(data.nodes)), np.inf),
        np.full((len(data.activities), len(data.nodes)), np.inf),
    )


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sheets=random_cases())
def test_the_bounded_model_has_the_loose_models_optimum(
    sheets: Sheets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = planner.load(write_workbook(tmp_path / "random.xlsx", sheets))
    tight = planner.solve(case, mip_gap=0.0, duals=False)
    with monkeypatch.context() as patch:
        patch.setattr(model_parameters, "useful_capacity", _loose)
        loose = planner.solve(case, mip_gap=0.0, duals=False)
    assert tight.status == loose.status == "optimal"
    assert tight.objective == pytest.approx(loose.objective, rel=1e-7, abs=1e-6)


def test_the_random_cases_are_bounded_below_their_capacities(tmp_path: Path) -> None:
    """The property above is not empty: its large capacities are cut in most of its cases."""
    cases = st.lists(random_cases(), min_size=30, max_size=30)

    @settings(max_examples=1, derandomize=True, database=None, deadline=None)
    @given(cases)
    def count(drawn: list[Sheets]) -> None:
        cut = 0
        for i, sheets in enumerate(drawn):
            data = derive(planner.load(write_workbook(tmp_path / f"c{i}.xlsx", sheets)))
            periods = [node.period for node in data.nodes]
            first = [node.scenarios[0] for node in data.nodes]
            capacity = data.capacity[:, periods, first]
            cut += bool((data.offer_useful < capacity).any())
        assert cut >= 15

    count()


# ------------------------------------------------ fragile input is named


FRAGILE = (
    "Offers!H5: capacity 999,999,999 is 5,000,000 times what the case can use of Dy "
    "(200 over the horizon) while its fixed_cost 1e+09 (Offers!I5) prices signing it: "
    "numerically fragile"
)


def test_validate_names_a_capacity_far_above_use_with_a_fixed_cost(tmp_path: Path) -> None:
    cli = runner.invoke(app, ["validate", str(_case(tmp_path))])
    assert cli.exit_code == 0, cli.output
    assert f"warning: {FRAGILE}" in cli.stderr
    assert "a contract switch at the solver's integrality tolerance 1e-06 buys 1,000" in (
        cli.stderr
    )


def test_solve_warns_of_the_fragile_cells_too(tmp_path: Path) -> None:
    out = tmp_path / "plan.xlsx"
    cli = runner.invoke(app, ["solve", str(_case(tmp_path)), "-o", str(out)])
    assert cli.exit_code == 0 and f"warning: {FRAGILE}" in cli.stderr
    warnings = openpyxl.load_workbook(out)["Warnings"]
    assert [row[0] for row in warnings.iter_rows(min_row=2, values_only=True)] == ["Offers!H5"]


@pytest.mark.parametrize(
    ("capacity", "fixed_cost"),
    [(400, 1e9), (999_999_999, 0), (999_999_999, None), (1_000_000, 1e9)],
)
def test_no_warning_for_a_capacity_near_use_or_without_a_fixed_cost(
    capacity: float, fixed_cost: float | None, tmp_path: Path
) -> None:
    sheets = big_m_sheets(capacity)
    sheets["Offers"][-1][8] = fixed_cost
    sheets["Demand"][3][2] = sheets["Demand"][4][2] = 1_000  # 1e6 is 500 times the use
    case = planner.load(write_workbook(tmp_path / "calm.xlsx", sheets))
    assert not [w for w in case.warnings if "numerically fragile" in w.message]


def test_an_activity_far_above_use_with_a_fixed_cost_is_named(tmp_path: Path) -> None:
    sheets = big_m_sheets(400)
    sheets["Activities"] = [
        ["activity", "kind", "unit_cost", "capacity", "fixed_cost"],
        ["Recycle-Dy", "recycling", 50, 500_000_000, 1e6],
    ]
    sheets["ActivityYields"] = [["activity", "element", "yield"], ["Recycle-Dy", "Dy", 0.5]]
    case = planner.load(write_workbook(tmp_path / "recycle.xlsx", sheets))
    fragile = [w for w in case.warnings if "numerically fragile" in w.message]
    assert [w.where for w in fragile] == ["Activities!D2"]
    assert "(Activities!E2)" in fragile[0].message


def test_a_model_highs_refuses_is_a_status_not_an_exception(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import highspy

    monkeypatch.setattr(highspy.Highs, "passModel", lambda *args: highspy.HighsStatus.kError)
    result = planner.solve(planner.load(_case(tmp_path, capacity=400)))
    assert (result.status, result.has_plan) == ("error", False)
    assert result.summary["message"] == "HiGHS refused the model"


def test_a_web_job_shows_an_unproven_plan_as_such(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from planner.web import worker
    from planner.web.jobs import UPLOAD

    monkeypatch.setattr(planner.api, "_reproduced", lambda *args: False)
    folder = tmp_path / "job"
    folder.mkdir()
    (folder / UPLOAD).write_bytes(_case(tmp_path).read_bytes())
    outcome = worker._attempt(folder, "solve", 60, {"filename": "mine.xlsx"}, None)
    assert (outcome["job_status"], outcome["status"], outcome["has_plan"]) == (
        "done",
        "unproven",
        True,
    )
    assert outcome["message"].startswith("not proven optimal: ")
    assert (folder / worker.SOLUTION).exists()


def test_an_offer_period_far_above_use_is_named_with_its_offers_fixed_cost(
    tmp_path: Path,
) -> None:
    sheets = big_m_sheets(400)
    sheets["OfferPeriods"] = [["offer", "period", "capacity"], ["Dy-AU", "2026Q2", 999_999_999]]
    case = planner.load(write_workbook(tmp_path / "period.xlsx", sheets))
    fragile = [w for w in case.warnings if "numerically fragile" in w.message]
    assert [w.where for w in fragile] == ["OfferPeriods!C2"]
    assert "while the fixed_cost of Dy-AU (Offers!I5) prices signing it" in fragile[0].message
