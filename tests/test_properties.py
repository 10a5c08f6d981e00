"""Property-based tests: invariants of the plan, and a reader that never crashes.

Both are bounded (a fixed number of derandomised examples) so the suite
stays fast and reproducible.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import planner
from planner.errors import InputError
from tests import hostile
from tests.conftest import REFERENCE, write_workbook

BOUNDED = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
COUNTRIES = ["CN", "AU", "MY"]


@st.composite
def cases(draw: st.DrawFn) -> dict[str, list[list[Any]]]:
    """Small valid cases: 1-2 elements, 1-3 periods, 1-3 offers each, optional China cap."""
    elements = ["Nd", "Dy"][: draw(st.integers(1, 2))]
    periods = [f"2026Q{q}" for q in range(1, draw(st.integers(1, 3)) + 1)]
    sheets: dict[str, list[list[Any]]] = {
        "Periods": [["period", "days"], *[[p, 91] for p in periods]],
        "Elements": [["element", "shortage_cost", "holding_cost", "initial_stock", "cover_days"]],
        "Demand": [["element", "period", "quantity"]],
        "Offers": [
            ["offer", "element", "country", "unit_cost", "capacity", "fixed_cost", "min_take"]
        ],
        "Countries": [["country", "risk"], ["CN", 0.9], ["AU", 0.1], ["MY", 0.3]],
        "Policies": [["policy", "element", "period", "value"]],
    }
    for element in elements:
        sheets["Elements"].append(
            [
                element,
                draw(st.integers(50, 500)),
                draw(st.integers(0, 5)),
                draw(st.integers(0, 20)),
                draw(st.sampled_from([0, 30, 60])),
            ]
        )
        for period in periods:
            sheets["Demand"].append([element, period, draw(st.integers(0, 60))])
        for k in range(draw(st.integers(1, 3))):
            capacity = draw(st.integers(0, 50))
            sheets["Offers"].append(
                [
                    f"{element}-{k}",
                    element,
                    draw(st.sampled_from(COUNTRIES)),
                    draw(st.integers(1, 100)),
                    capacity,
                    draw(st.sampled_from([0, 0, 100])),
                    draw(st.integers(0, capacity // 2)),
                ]
            )
    if draw(st.booleans()):
        sheets["Policies"].append(
            ["china_share_max", "TOTAL", None, draw(st.sampled_from([0.2, 0.5, 0.8]))]
        )
    return sheets


def _load(sheets: dict[str, list[list[Any]]], folder: Path) -> planner.Case:
    return planner.load(write_workbook(folder / "case.xlsx", sheets))


def _objective(case: planner.Case) -> float:
    result = planner.solve(case, mip_gap=0.0, duals=False, explain_infeasible=False)
    assert result.status == "optimal"
    assert result.objective is not None
    return result.objective


@BOUNDED
@given(sheets=cases(), data=st.data())
def test_more_capacity_never_costs_more(
    sheets: dict[str, list[list[Any]]], data: st.DataObject, tmp_path: Path
) -> None:
    case = _load(sheets, tmp_path)
    offer = data.draw(st.sampled_from(list(case.offers.index)))
    bigger = case.copy()
    bigger.offers.loc[offer, "capacity"] = case.offers.loc[offer, "capacity"] * 2 + 10
    assert _objective(bigger) <= _objective(case) * (1 + 1e-9) + 1e-6


@BOUNDED
@given(sheets=cases())
def test_a_looser_cap_never_costs_more(sheets: dict[str, list[list[Any]]], tmp_path: Path) -> None:
    case = _load(sheets, tmp_path)
    looser = case.copy()
    looser.policies["value"] = (looser.policies["value"] + 0.2).clip(upper=1.0)
    assert _objective(looser) <= _objective(case) * (1 + 1e-9) + 1e-6


@BOUNDED
@given(sheets=cases())
def test_zero_demand_costs_zero(sheets: dict[str, list[list[Any]]], tmp_path: Path) -> None:
    case = _load(sheets, tmp_path)
    case.demand["quantity"] = 0.0
    case.elements["initial_stock"] = 0.0
    assert _objective(case) == pytest.approx(0.0, abs=1e-9)


# ---------------------------------------------------------------- the reader never crashes

CELL_VALUES = st.one_of(
    st.none(),
    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=12),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    st.sampled_from(["=1+1", "1,200", "NA", "TOTAL", "heavy", "Nd", "2026Q1", "CN", "-5", "1e400"]),
)
HAND_SHEETS = ["Periods", "Elements", "Demand", "Offers", "Countries", "Policies"]


def _only_input_errors(content: bytes, folder: Path) -> None:
    path = folder / "fuzzed.xlsx"
    path.write_bytes(content)
    try:
        planner.load(path)
    except InputError as error:
        assert error.issues, "an InputError always names at least one problem"
        for issue in error.issues:
            assert issue.where and issue.message


@BOUNDED
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(HAND_SHEETS), st.integers(1, 6), st.integers(1, 10), CELL_VALUES),
        min_size=1,
        max_size=8,
    )
)
def test_mutated_cells_only_ever_raise_input_errors(
    changes: list[tuple[str, int, int, Any]], tmp_path: Path
) -> None:
    workbook = openpyxl.load_workbook(hostile.HAND)
    for sheet, row, column, value in changes:
        cell = workbook[sheet].cell(row=row, column=column)
        cell.value = value
        if isinstance(value, str):
            cell.data_type = "s"
    buffer = io.BytesIO()
    workbook.save(buffer)
    _only_input_errors(buffer.getvalue(), tmp_path)


@BOUNDED
@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 40))
def test_corrupted_bytes_only_ever_raise_input_errors(
    seed: int, flips: int, tmp_path: Path
) -> None:
    content = hostile.HAND.read_bytes()
    _only_input_errors(hostile.mutate_bytes(content, seed, flips), tmp_path)


@BOUNDED
@given(
    part=st.sampled_from(
        [
            "xl/workbook.xml",
            "xl/worksheets/sheet2.xml",
            "[Content_Types].xml",
            "xl/_rels/workbook.xml.rels",
            "xl/styles.xml",
        ]
    ),
    seed=st.integers(0, 2**32 - 1),
    flips=st.integers(1, 20),
)
def test_corrupted_xml_parts_only_ever_raise_input_errors(
    part: str, seed: int, flips: int, tmp_path: Path
) -> None:
    def corrupt(name: str, data: bytes) -> bytes | None:
        return hostile.mutate_bytes(data, seed, flips) if name == part else data

    hostile.rewrite(tmp_path / "source.xlsx", corrupt)
    _only_input_errors((tmp_path / "source.xlsx").read_bytes(), tmp_path)


def test_fuzzing_covers_a_real_zip() -> None:
    with zipfile.ZipFile(hostile.HAND) as archive:
        assert {f"xl/worksheets/sheet{i}.xml" for i in range(1, 7)} <= set(archive.namelist())


# ------------------------------------------------- re-solving in place = solving fresh

OFFERS = [f"{e}-0{i}" for e in ("Nd", "Pr", "Dy") for i in range(3)]
CHANGES = st.one_of(
    st.tuples(st.just("china_share_max[TOTAL]"), st.sampled_from([0.3, 0.45, 0.6, 0.8, 1.0])),
    st.tuples(st.just("risk_max"), st.sampled_from([0.5, 0.7, 0.8, 1.0])),
    st.tuples(st.sampled_from([f"capacity[{o}]" for o in OFFERS]), st.sampled_from([0, 50, 400])),
    st.tuples(st.sampled_from([f"unit_cost[{o}]" for o in OFFERS]), st.sampled_from([5, 40, 90])),
    st.tuples(st.sampled_from([f"min_take[{o}]" for o in OFFERS]), st.sampled_from([0, 20])),
    st.tuples(st.just("demand_scale"), st.sampled_from([0.7, 1.0, 1.3])),
    st.tuples(
        st.sampled_from(["Elements.shortage_cost[Nd]", "Elements.holding_cost[Dy]"]),
        st.sampled_from([1.0, 50.0, 5_000.0]),
    ),
    st.tuples(st.just("cvar_alpha"), st.sampled_from([0.5, 0.8, 0.95])),
    st.tuples(st.just("cvar_weight"), st.sampled_from([0.0, 0.2, 0.6])),
    # v2: country caps and China caps per basis, stock release, lead times
    st.tuples(
        st.sampled_from(["country_share_max[TOTAL,mining]", "country_share_max[any]"]),
        st.sampled_from([0.4, 0.6, 1.0]),
    ),
    st.tuples(st.just("china_share_max[TOTAL,refining]"), st.sampled_from([0.3, 0.6, 1.0])),
    st.tuples(
        st.sampled_from(["cover_factor[S001]", "cover_factor[S002]"]), st.sampled_from([0.0, 0.5])
    ),
    st.tuples(st.sampled_from([f"lead_time[{o}]" for o in OFFERS]), st.sampled_from([0, 1])),
)
#: v3 B2: caps counted in value at reference prices, and the prices themselves
VALUE_CHANGES = st.one_of(
    st.tuples(st.just("china_share_max[TOTAL,value]"), st.sampled_from([0.3, 0.5, 0.8, 1.0])),
    st.tuples(st.just("risk_max[TOTAL,value]"), st.sampled_from([0.4, 0.6, 1.0])),
    st.tuples(st.just("country_share_max[TOTAL,shipment,value]"), st.sampled_from([0.4, 0.7, 1.0])),
    st.tuples(
        st.sampled_from([f"Elements.reference_price[{e}]" for e in ("Nd", "Pr", "Dy")]),
        st.sampled_from([0.0, 10.0, 500.0, 3_000.0]),
    ),
)
#: reference prices of the generated case's elements (a value cap needs every one)
PRICES = {"Nd": 80.0, "Pr": 90.0, "Dy": 400.0}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> planner.Case:
    from benchmarks.generate import Size, generate, write

    path = tmp_path_factory.mktemp("generated") / "case.xlsx"
    case = planner.load(write(generate(Size(3, 3, 4, 3), seed=0), path))
    assert list(case.elements.index) == list(PRICES)
    case.elements["reference_price"] = case.elements.index.map(PRICES).astype(float)
    return case


@pytest.fixture(scope="module")
def valued(generated: planner.Case) -> planner.Case:
    """The generated case with a China cap counted in value on TOTAL (B2)."""
    from planner.changes import apply_change

    case = generated.copy()
    apply_change(case, "china_share_max[TOTAL,value]", 0.6)
    return case


@BOUNDED
@given(chain=st.lists(st.one_of(CHANGES, VALUE_CHANGES), min_size=1, max_size=4))
def test_a_chain_of_in_place_changes_solves_like_fresh_cases(
    generated: planner.Case, chain: list[tuple[str, float]]
) -> None:
    """Whatever changes follow one another, the kept model answers as a fresh build does."""
    _chain(generated, chain)


@BOUNDED
@given(chain=st.lists(st.one_of(VALUE_CHANGES, CHANGES), min_size=1, max_size=4))
def test_value_caps_and_reference_prices_change_in_place_like_fresh_cases(
    valued: planner.Case, chain: list[tuple[str, float]]
) -> None:
    """(B2) From a model with a value cap, its level and the prices change in place correctly."""
    _chain(valued, chain)


def _chain(start: planner.Case, chain: list[tuple[str, float]]) -> None:
    from planner.api import Resolver
    from planner.changes import apply_change

    resolver = Resolver(duals=False, mip_gap=0.0, explain_infeasible=False)
    resolver.solve(start)
    case = start.copy()
    for name, value in chain:
        apply_change(case, name, value)
        again = resolver.solve(case)
        fresh = planner.solve(case, duals=False, mip_gap=0.0, explain_infeasible=False)
        assert again.status == fresh.status, (name, value)
        if fresh.objective is not None:
            assert again.objective == pytest.approx(fresh.objective, rel=1e-6), (name, value)


#: v3 B4: an event's probability (3 scenarios more or fewer when a group's none reaches 0,
#: or an event becomes certain: the model is built anew) and an event's factors.
EVENT_CHANGES = st.one_of(
    st.tuples(st.just("probability[short]"), st.sampled_from([0.1, 0.3, 0.8])),
    st.tuples(st.just("probability[long]"), st.sampled_from([0.2, 0.05])),
    st.tuples(st.just("probability[au_up]"), st.sampled_from([0.2, 0.5, 1.0])),
    st.tuples(st.just("cost_factor[au_up]"), st.sampled_from([1.0, 1.5, 3.0])),
    st.tuples(st.just("capacity_factor[long]"), st.sampled_from([0.0, 0.5])),
    st.tuples(st.just("unit_cost[Dy-AU]"), st.sampled_from([25, 40])),
)


@BOUNDED
@given(chain=st.lists(EVENT_CHANGES, min_size=1, max_size=4))
def test_a_chain_of_event_changes_solves_like_fresh_cases(chain: list[tuple[str, float]]) -> None:
    """Events: a changed probability re-solves in place, or rebuilds, as a fresh build does."""
    _chain(planner.load(REFERENCE / "v3" / "v3-b4-event-groups.xlsx"), chain)


# v3: shortage tiers by use (B1) and the stock budget (B3), changed in place
TIERED_CHANGES = st.one_of(
    st.tuples(st.just("stock_value_max"), st.sampled_from([20_000.0, 40_000.0, 1e6])),
    st.tuples(st.just("tier_cost[Nd,polishing]"), st.sampled_from([1.0, 10.0, 150.0])),
    st.tuples(st.just("tier_cost[Nd,motors]"), st.sampled_from([50.0, 120.0, 195.0])),
    st.tuples(st.just("tier_cost[Dy,tier 1]"), st.sampled_from([100.0, 300.0, 470.0])),
    st.tuples(st.just("tier_share[Nd,motors]"), st.sampled_from([0.2, 0.4, 0.7])),
    st.tuples(st.just("tier_share[Pr,glass]"), st.sampled_from([0.1, 0.5, 1.0])),
    st.tuples(
        st.sampled_from(["Elements.reference_price[Dy]", "Elements.reference_price[Nd]"]),
        st.sampled_from([5.0, 170.0, 400.0]),
    ),
    st.tuples(st.just("demand_scale"), st.sampled_from([0.7, 1.0, 1.3])),
    st.tuples(st.sampled_from([f"unit_cost[{o}]" for o in OFFERS]), st.sampled_from([5, 40, 90])),
)


@pytest.fixture(scope="module")
def tiered(generated: planner.Case) -> planner.Case:
    """The generated case with tiers on every element, reference prices and a stock budget."""
    case = generated.copy()
    rows = [
        ("Nd", "polishing", 0.3, 10.0),
        ("Nd", "motors", 0.4, 100.0),
        ("Pr", "glass", 0.5, 5.0),
        ("Dy", None, 0.5, 200.0),  # tier 1
    ]
    case.shortage_tiers = pd.DataFrame(
        {
            "_row": pd.array([pd.NA] * len(rows), dtype="Int64"),
            "element": [r[0] for r in rows],
            "use": [r[1] for r in rows],
            "share": [r[2] for r in rows],
            "cost": [r[3] for r in rows],
        }
    )
    case.elements["reference_price"] = [15.0, 2.0, 170.0]
    case.settings.stock_value_max = 40_000.0
    return case


@BOUNDED
@given(chain=st.lists(TIERED_CHANGES, min_size=1, max_size=4))
def test_a_chain_of_tier_and_budget_changes_solves_like_fresh_cases(
    tiered: planner.Case, chain: list[tuple[str, float]]
) -> None:
    """Sweeps over a budget, a tier's cost or share, a reference price: in place = fresh."""
    _chain(tiered, chain)
