"""planner roll: the next quarter's input from the last input and its plan (issue 15).

A hand case per rule of spec/workbook.md "CLI additions", the "done when" list of
the issue (exact reproduction under a high change cost, the fresh optimum under
none, a firm order cut by a disruption) and the CLI round trip.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from openpyxl.worksheet.datavalidation import DataValidation
from typer.testing import CliRunner

import planner
from planner.batch import run_batch
from planner.cli import app
from planner.errors import InputError, OutputError
from planner.events import DISRUPTION_COLUMNS, scenario_probability
from planner.io.reader import read_workbook
from planner.roll import next_period_id, read_solution, total_change
from tests.conftest import ROOT, write_workbook

runner = CliRunner()

#: Four quarters, one scenario. Nd-L is cheap but delivers two quarters after signing;
#: Nd-X is never worth its fixed cost; Dy-L is a later offer, signed only in a stop.
CASE: dict[str, list[list[Any]]] = {
    "Settings": [["key", "value"], ["change_cost", 0]],
    "Periods": [["period", "days"], ["2026Q1", 90], ["2026Q2", 91], ["2026Q3", 92], ["2026Q4", 92]],
    "Elements": [
        ["element", "shortage_cost", "holding_cost", "initial_stock"],
        ["Nd", 200, 1, 5],
        ["Dy", 1000, 1, 0],
    ],
    "Demand": [
        ["element", "period", "quantity"],
        *[["Nd", f"2026Q{q}", 90 + 10 * q] for q in range(1, 5)],
        *[["Dy", f"2026Q{q}", 8 + 2 * q] for q in range(1, 5)],
    ],
    "Offers": [
        [
            "offer",
            "element",
            "country",
            "unit_cost",
            "capacity",
            "fixed_cost",
            "signing",
            "lead_time",
        ],
        ["Nd-A", "Nd", "AU", 50, 80, 0, "now", 0],
        ["Nd-B", "Nd", "MY", 60, 100, 100, "now", 0],
        ["Nd-L", "Nd", "US", 30, 50, 50, "now", 2],
        ["Nd-X", "Nd", "US", 40, 50, 100000, "now", 0],
        ["Dy-A", "Dy", "CN", 300, 20, 0, "now", 0],
        ["Dy-L", "Dy", "US", 250, 15, 5000, "later", 0],
    ],
    "Countries": [["country", "risk"], ["AU", 0.1], ["MY", 0.3], ["CN", 0.9], ["US", 0.2]],
    "OfferPeriods": [
        ["offer", "period", "capacity", "unit_cost"],
        ["Nd-B", "2026Q1", 90, None],
        ["Nd-B", "2026Q3", None, 61],
    ],
    "Policies": [
        ["policy", "element", "period", "value"],
        ["china_share_max", "TOTAL", "2026Q1", 1],
        ["china_share_max", "TOTAL", None, 1],
    ],
    "Notes": [["topic", "value", "source or reasoning"], ["What", "roll test case", "tests"]],
}

#: The same with a stop of Dy-A in the first quarter (so the first period branches) and a
#: cost rise in Malaysia from the first quarter on.
STOP: dict[str, list[list[Any]]] = {
    "Scenarios": [["scenario", "probability"], ["base", 0.75], ["stop", 0.25]],
    "Disruptions": [
        [
            "scenario",
            "target_type",
            "target",
            "first_period",
            "last_period",
            "capacity_factor",
            "cost_factor",
        ],
        ["stop", "offer", "Dy-A", "2026Q1", "2026Q1", 0, None],
        ["stop", "country", "MY", "2026Q1", None, None, 1.5],
        ["base", "offer", "Nd-X", "2026Q2", "2026Q3", 0.5, None],
    ],
}


def _case(tmp_path: Path, name: str = "q1.xlsx", **sheets: list[list[Any]]) -> Path:
    data = copy.deepcopy(CASE)
    data.update(copy.deepcopy(sheets))
    return write_workbook(tmp_path / name, data)


def _solve(path: Path, **options: Any) -> tuple[planner.Result, Path]:
    result = planner.solve(planner.load(path), mip_gap=0, **options)
    assert result.status == "optimal"
    target = path.with_name(f"{path.stem}-solution.xlsx")
    result.write(target)
    return result, target


def _rows(path: Path, sheet: str) -> list[dict[str, Any]]:
    book = openpyxl.load_workbook(path)
    rows = list(book[sheet].iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, row, strict=False)) for row in rows[1:] if any(row)]


def _edit(path: Path, sheet: str, change: Callable[[Any], None]) -> None:
    book = openpyxl.load_workbook(path)
    change(book[sheet])
    book.save(path)


def _set(sheet: Any, key_column: str, key: str, column: str, value: Any) -> None:
    """Set ``column`` of the row whose ``key_column`` is ``key``."""
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[header.index(key_column)].value == key:
            row[header.index(column)].value = value
            return
    raise KeyError(key)


@pytest.fixture(scope="module")
def rolled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The four-quarter case solved and rolled once (firm 2)."""
    folder = tmp_path_factory.mktemp("rolled")
    last = _case(folder)
    result, solution = _solve(last)
    plan = planner.roll(last, solution, folder / "q2.xlsx", firm=2)
    return {
        "last": last,
        "result": result,
        "solution": solution,
        "plan": plan,
        "next": folder / "q2.xlsx",
    }


# ------------------------------------------------------------------ one rule at a time


def test_next_period_ids() -> None:
    assert next_period_id(["2028Q3", "2028Q4"]) == "2029Q1"
    assert next_period_id(["2026Q1"]) == "2026Q2"
    assert next_period_id(["2026-12"]) == "2027-01"
    assert next_period_id(["P09"]) == "P10"
    assert next_period_id(["spring"]) == "spring+1"


def test_first_period_dropped_and_one_appended_with_the_days_and_demand_of_four_before(
    rolled: dict[str, Any],
) -> None:
    periods = _rows(rolled["next"], "Periods")
    assert [(r["period"], r["days"]) for r in periods] == [
        ("2026Q2", 91),
        ("2026Q3", 92),
        ("2026Q4", 92),
        ("2027Q1", 90),
    ]
    demand = {(r["element"], r["period"]): r["quantity"] for r in _rows(rolled["next"], "Demand")}
    assert ("Nd", "2026Q1") not in demand
    assert demand[("Nd", "2027Q1")] == 100 and demand[("Dy", "2027Q1")] == 10  # 2026Q1's


def test_with_fewer_than_four_periods_the_last_is_copied(tmp_path: Path) -> None:
    last = write_workbook(tmp_path / "tiny.xlsx", _tiny())
    _, solution = _solve(last)
    plan = planner.roll(last, solution, tmp_path / "next.xlsx")
    assert (plan.appended, plan.source) == ("2026Q3", "2026Q2")
    assert [(r["period"], r["days"]) for r in _rows(tmp_path / "next.xlsx", "Periods")] == [
        ("2026Q2", 91),
        ("2026Q3", 91),
    ]


def _tiny() -> dict[str, list[list[Any]]]:
    from tests.conftest import HAND

    return copy.deepcopy(HAND)


def test_initial_stock_is_the_stock_at_the_end_of_the_first_period(rolled: dict[str, Any]) -> None:
    stock = rolled["result"].tables["Stock"]
    first = stock[stock["period"] == "2026Q1"].set_index("element")["stock"]
    elements = {r["element"]: r["initial_stock"] for r in _rows(rolled["next"], "Elements")}
    assert elements == pytest.approx(first.to_dict())
    assert elements["Nd"] != 5  # not the old initial stock


def test_contracts_signed_are_marked_and_a_lead_time_still_running_moves_first_period(
    rolled: dict[str, Any],
) -> None:
    contracts = rolled["result"].tables["Contracts"].set_index("offer")["contracted"]
    offers = {r["offer"]: r for r in _rows(rolled["next"], "Offers")}
    for offer, signed in contracts.items():
        assert (offers[offer]["contracted"] == "yes") == bool(signed), offer
    assert not contracts["Nd-X"] and contracts["Nd-L"]
    # Nd-L, signed in 2026Q1 with a lead time of two quarters, delivers from 2026Q3
    assert offers["Nd-L"]["first_period"] == "2026Q3"
    next_case = planner.load(rolled["next"])
    assert next_case.offers.at["Nd-L", "contracted"] == "yes"


def test_the_next_k_periods_shared_orders_become_commitments(rolled: dict[str, Any]) -> None:
    purchases = rolled["result"].tables["Purchases"]
    firm = purchases[purchases["period"].isin(["2026Q2", "2026Q3"])]
    expected = {
        (o, p): q for o, p, q in zip(firm["offer"], firm["period"], firm["quantity"], strict=True)
    }
    commitments = {
        (r["offer"], r["period"]): r["quantity"] for r in _rows(rolled["next"], "Commitments")
    }
    assert commitments == pytest.approx(expected)
    assert {p for _, p in commitments} == {"2026Q2", "2026Q3"}  # --firm 2


def test_firm_zero_writes_no_commitments(rolled: dict[str, Any], tmp_path: Path) -> None:
    plan = planner.roll(rolled["last"], rolled["solution"], tmp_path / "n.xlsx", firm=0)
    assert plan.commitments == []
    assert planner.load(tmp_path / "n.xlsx").commitments.empty


def test_the_previous_plan_is_what_the_last_plan_decided(rolled: dict[str, Any]) -> None:
    """Issue 23.14: an order of 0 on a contract the plan held is a decision; no contract, none.

    Nd-X (never contracted) and Dy-L (a later offer never signed) were never
    considered; Nd-L (lead time 2) could not deliver in 2026Q2. Nd-B bought
    nothing in 2026Q3-Q4 though it could: those zeros are the plan's.
    """
    purchases = rolled["result"].tables["Purchases"]
    later = purchases[purchases["period"] != "2026Q1"]
    previous = pd.DataFrame(_rows(rolled["next"], "PreviousPlan"))
    assert set(previous["period"]) == {"2026Q2", "2026Q3", "2026Q4"}
    rows = {(r.offer, r.period): r.quantity for r in previous.itertuples()}
    assert set(rows) == {
        *[(o, p) for o in ("Nd-A", "Nd-B", "Dy-A") for p in ("2026Q2", "2026Q3", "2026Q4")],
        ("Nd-L", "2026Q3"),
        ("Nd-L", "2026Q4"),
    }
    assert rows[("Nd-B", "2026Q3")] == rows[("Nd-B", "2026Q4")] == 0  # chosen zeros
    merged = previous.merge(later, on=["offer", "period"], how="left").fillna({"quantity_y": 0})
    assert merged["quantity_x"].tolist() == pytest.approx(merged["quantity_y"].tolist())
    assert set(later["offer"]) <= set(previous["offer"])  # every order is there


def test_a_new_offer_is_no_change_against_the_previous_plan(
    rolled: dict[str, Any], tmp_path: Path
) -> None:
    """Issue 23.14: under change_cost, buying from an offer never considered costs no change."""
    nxt = tmp_path / "next.xlsx"
    nxt.write_bytes(rolled["next"].read_bytes())
    _edit(nxt, "Settings", lambda s: _set(s, "key", "change_cost", "value", 1000))
    _edit(nxt, "Offers", lambda s: _set(s, "offer", "Nd-X", "fixed_cost", 0))
    _edit(nxt, "Offers", lambda s: _set(s, "offer", "Nd-X", "unit_cost", 1))
    new, _ = _solve(nxt)
    bought = new.tables["Purchases"]
    assert bought.loc[bought["offer"] == "Nd-X", "quantity"].sum() > 0  # a new decision
    changes = new.tables["Changes"]
    assert changes.loc[changes["offer"] == "Nd-X", "change"].tolist() == ["newly signed"]
    assert new.summary["change_cost"] == pytest.approx(0, abs=1e-6)


def test_windows_naming_the_dropped_period(rolled: dict[str, Any]) -> None:
    overrides = _rows(rolled["next"], "OfferPeriods")
    assert [(r["offer"], r["period"]) for r in overrides] == [("Nd-B", "2026Q3")]
    policies = _rows(rolled["next"], "Policies")
    assert [r["period"] for r in policies] == [None]


def test_a_note_says_what_was_rolled_from_which_files(rolled: dict[str, Any]) -> None:
    notes = _rows(rolled["next"], "Notes")
    assert notes[0]["topic"] == "What"  # the old notes stay
    text = " ".join(str(v) for v in notes[-1].values())
    for path in (rolled["last"], rolled["solution"]):
        assert path.name in text
        assert hashlib.sha256(path.read_bytes()).hexdigest() in text
    assert "2026Q1" in text and "2027Q1" in text


def test_formats_and_data_validation_are_kept(tmp_path: Path) -> None:
    last = _case(tmp_path)
    book = openpyxl.load_workbook(last)
    offers = book["Offers"]
    rule = DataValidation(type="list", formula1='"now,later"', allow_blank=True)
    rule.add("G2:G200")
    offers.add_data_validation(rule)
    offers["E2"].number_format = "#,##0.0"
    offers.column_dimensions["A"].width = 31
    book.save(last)
    _, solution = _solve(last)
    planner.roll(last, solution, tmp_path / "next.xlsx")
    rolled = openpyxl.load_workbook(tmp_path / "next.xlsx")["Offers"]
    assert [str(v.sqref) for v in rolled.data_validations.dataValidation] == ["G2:G200"]
    assert rolled["E2"].number_format == "#,##0.0"
    assert rolled.column_dimensions["A"].width == 31


def test_earlier_firm_orders_stay_firm(tmp_path: Path) -> None:
    last = _case(tmp_path)
    _, solution = _solve(last)
    q2 = tmp_path / "q2.xlsx"
    planner.roll(last, solution, q2, firm=3)
    placed = {(r["offer"], r["period"]): r["quantity"] for r in _rows(q2, "Commitments")}
    assert {p for _, p in placed} == {"2026Q2", "2026Q3", "2026Q4"}
    _, second = _solve(q2)
    plan = planner.roll(q2, second, tmp_path / "q3.xlsx", firm=1)
    kept = {(o, p): q for o, p, q in plan.commitments}
    assert {k: v for k, v in placed.items() if k[1] == "2026Q4"} == pytest.approx(
        {k: v for k, v in kept.items() if k[1] == "2026Q4"}
    )
    assert {p for _, p in kept} == {"2026Q3", "2026Q4"}


def test_an_offer_or_activity_whose_window_ended_goes_with_its_rows(tmp_path: Path) -> None:
    offers = copy.deepcopy(CASE["Offers"])
    offers[0].append("last_period")
    offers.append(["Nd-Old", "Nd", "AU", 45, 30, 0, "now", 0, "2026Q1"])
    last = _case(
        tmp_path,
        Offers=offers,
        OfferPeriods=[*CASE["OfferPeriods"], ["Nd-Old", "2026Q1", 20, None]],
        Scenarios=[["scenario", "probability"], ["base", 1]],
        Disruptions=[
            ["scenario", "target_type", "target", "capacity_factor"],
            ["base", "offer", "Nd-Old", 0.9],
            ["base", "activity", "old", 0.9],
            ["base", "offer", "Nd-A", 0.9],
        ],
        Activities=[
            ["activity", "kind", "unit_cost", "capacity", "first_period", "last_period"],
            ["rec", "recycling", 10, 5, "2026Q1", None],
            ["old", "recycling", 10, 5, None, "2026Q1"],
        ],
        ActivityYields=[["activity", "element", "yield"], ["rec", "Nd", 1], ["old", "Nd", 1]],
    )
    _, solution = _solve(last)
    plan = planner.roll(last, solution, tmp_path / "next.xlsx")
    assert (plan.retired_offers, plan.retired_activities) == (["Nd-Old"], ["old"])
    nxt = tmp_path / "next.xlsx"
    assert "Nd-Old" not in [r["offer"] for r in _rows(nxt, "Offers")]
    assert [r["offer"] for r in _rows(nxt, "OfferPeriods")] == ["Nd-B"]
    assert [r["target"] for r in _rows(nxt, "Disruptions")] == ["Nd-A"]
    assert [(r["activity"], r["first_period"]) for r in _rows(nxt, "Activities")] == [
        ("rec", "2026Q2")
    ]
    assert [r["activity"] for r in _rows(nxt, "ActivityYields")] == ["rec"]
    assert "Nd-Old" not in {r["offer"] for r in _rows(nxt, "PreviousPlan")}


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    offers = copy.deepcopy(CASE["Offers"])
    offers[0].append("supplier")
    for row in offers[1:]:
        row.append('=HYPERLINK("http://x")')
    last = _case(tmp_path, Offers=offers)
    _, solution = _solve(last)
    planner.roll(last, solution, tmp_path / "next.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "next.xlsx")["Offers"]
    column = [c.value for c in sheet[1]].index("supplier")
    cells = [row[column] for row in sheet.iter_rows(min_row=2)]
    assert cells and {c.data_type for c in cells} == {"s"}
    assert planner.load(tmp_path / "next.xlsx").offers["supplier"].str.startswith("=").all()


# ------------------------------------------------------------------ branches and scenarios


def test_a_branching_first_period_needs_the_scenario_that_happened(tmp_path: Path) -> None:
    last = _case(tmp_path, **STOP)
    _, solution = _solve(last)
    with pytest.raises(InputError) as error:
        planner.roll(last, solution, tmp_path / "next.xlsx")
    assert "--scenario" in str(error.value) and "base" in str(error.value)
    assert "stop" in str(error.value)
    assert not (tmp_path / "next.xlsx").exists()
    with pytest.raises(InputError, match="'nope' is not a scenario"):
        planner.roll(last, solution, tmp_path / "next.xlsx", scenario="nope")


def test_the_named_scenario_gives_stock_signings_and_the_scenarios_still_possible(
    tmp_path: Path,
) -> None:
    last = _case(tmp_path, **STOP)
    result, solution = _solve(last)
    plan = planner.roll(last, solution, tmp_path / "next.xlsx", scenario="stop")
    stock = result.tables["Stock"]
    stop_node = stock[(stock["period"] == "2026Q1") & (stock["scenarios"] == "stop")]
    elements = {r["element"]: r["initial_stock"] for r in _rows(tmp_path / "next.xlsx", "Elements")}
    assert elements == pytest.approx(stop_node.set_index("element")["stock"].to_dict())
    signings = result.tables["Signings"]
    assert ((signings["offer"] == "Dy-L") & (signings["scenarios"] == "stop")).any()
    assert "Dy-L" in plan.contracted  # signed at the stop's first-period node
    assert _rows(tmp_path / "next.xlsx", "Scenarios") == [{"scenario": "stop", "probability": 1}]
    disruptions = _rows(tmp_path / "next.xlsx", "Disruptions")
    # the first-quarter stop is over; the cost rise under way starts at the new first period;
    # the base scenario's row is gone with the base scenario
    assert [(r["scenario"], r["target"], r["first_period"]) for r in disruptions] == [
        ("stop", "MY", "2026Q2")
    ]
    planner.solve(planner.load(tmp_path / "next.xlsx"))  # valid and solvable


def test_scenario_kept_rows_whose_window_is_past_are_dropped(tmp_path: Path) -> None:
    last = _case(tmp_path, **STOP)
    _, solution = _solve(last)
    planner.roll(last, solution, tmp_path / "next.xlsx", scenario="base")
    disruptions = _rows(tmp_path / "next.xlsx", "Disruptions")
    assert [(r["scenario"], r["target"]) for r in disruptions] == [("base", "Nd-X")]
    assert _rows(tmp_path / "next.xlsx", "Scenarios") == [{"scenario": "base", "probability": 1}]


# ------------------------------------------------------------------ input and solution apart


def test_a_solution_of_another_workbook_is_refused(tmp_path: Path) -> None:
    last = _case(tmp_path)
    other = write_workbook(tmp_path / "tiny.xlsx", _tiny())
    _, solution = _solve(other)
    with pytest.raises(InputError) as error:
        planner.roll(last, solution, tmp_path / "next.xlsx")
    text = str(error.value)
    assert "the solution's offers are not the input's" in text
    assert "only in the input: Dy-A" in text
    assert "periods" in text
    assert "tiny-solution.xlsx!Summary!B" in text and "another input" in text
    assert not (tmp_path / "next.xlsx").exists()


def test_an_edited_input_is_refused_by_its_hash(tmp_path: Path) -> None:
    last = _case(tmp_path)
    _, solution = _solve(last)
    _edit(last, "Offers", lambda sheet: _set(sheet, "offer", "Nd-A", "unit_cost", 51))
    with pytest.raises(InputError, match="solved from another input"):
        planner.roll(last, solution, tmp_path / "next.xlsx")


def test_a_workbook_that_is_not_a_solution_is_refused(tmp_path: Path) -> None:
    last = _case(tmp_path)
    with pytest.raises(InputError, match="not a planner solution workbook"):
        planner.roll(last, last, tmp_path / "next.xlsx")


def test_a_solution_of_an_older_planner_is_refused(rolled: dict[str, Any], tmp_path: Path) -> None:
    old = tmp_path / "old-solution.xlsx"
    book = openpyxl.load_workbook(rolled["solution"])
    book["Stock"]["C1"] = "scenario"  # v1 tables: one row per scenario, no 'scenarios'
    book.save(old)
    with pytest.raises(InputError, match="Stock has no 'scenarios' column"):
        planner.roll(rolled["last"], old, tmp_path / "next.xlsx")


def test_a_solution_sheet_beyond_an_inputs_sheet_limit_is_read(
    rolled: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner's own output of a large case has sheets over 10 MB (Purchases 10.7 MB)."""
    monkeypatch.setenv("PLANNER_MAX_SHEET_BYTES", "2000")  # below Purchases, above no sheet
    with pytest.raises(InputError, match="PLANNER_MAX_SHEET_BYTES"):
        read_workbook(rolled["solution"])
    solution = read_solution(rolled["solution"])
    assert len(solution.tables["Purchases"]) == len(rolled["result"].tables["Purchases"])
    monkeypatch.setenv("PLANNER_MAX_UNPACKED_BYTES", "20000")  # the whole workbook still counts
    with pytest.raises(InputError, match="PLANNER_MAX_UNPACKED_BYTES"):
        read_solution(rolled["solution"])


def test_never_written_over_an_input(rolled: dict[str, Any]) -> None:
    for target in (rolled["last"], rolled["solution"]):
        before = target.read_bytes()
        with pytest.raises(OutputError, match="refusing to overwrite"):
            planner.roll(rolled["last"], rolled["solution"], target)
        assert target.read_bytes() == before


# ------------------------------------------------------------------ the "done when"


def _without_previous_plan(path: Path, target: Path) -> Path:
    book = openpyxl.load_workbook(path)
    del book["PreviousPlan"]
    book.save(target)
    return target


def _planned(result: planner.Result) -> dict[tuple[str, str], float]:
    changes = result.tables["Changes"]
    return {
        (o, p): q
        for o, p, q in zip(changes["offer"], changes["period"], changes["planned"], strict=True)
        if p
    }


def test_high_change_cost_reproduces_the_remaining_shared_orders_exactly(tmp_path: Path) -> None:
    last = _case(tmp_path)
    old, solution = _solve(last)
    planner.roll(last, solution, tmp_path / "next.xlsx", firm=0)  # no firm orders: price only
    _edit(tmp_path / "next.xlsx", "Settings", lambda s: _set(s, "key", "change_cost", "value", 1e4))
    new, _ = _solve(tmp_path / "next.xlsx")
    changes = new.tables["Changes"]
    previous = _rows(tmp_path / "next.xlsx", "PreviousPlan")
    orders = changes[changes["period"].notna() & (changes["period"] != "")]
    # what the last plan decided (issue 23.14), priced per offer listed x period (A5)
    offers, periods = {r["offer"] for r in previous}, {r["period"] for r in previous}
    assert offers == {"Nd-A", "Nd-B", "Nd-L", "Dy-A"} and len(periods) == 3
    assert len(orders) == len(offers) * len(periods)
    assert pd.to_numeric(changes["change"], errors="coerce").abs().max() == pytest.approx(
        0, abs=1e-7
    )
    purchases = old.tables["Purchases"]
    kept = purchases[purchases["period"] != "2026Q1"]
    assert {
        (o, p): q for o, p, q in zip(kept["offer"], kept["period"], kept["quantity"], strict=True)
    } == pytest.approx({k: v for k, v in _planned(new).items() if v > 1e-9})
    assert total_change(changes) == pytest.approx(0, abs=1e-6)


def test_change_cost_zero_gives_the_fresh_optimum_and_high_keeps_the_plan(tmp_path: Path) -> None:
    last = _case(tmp_path)
    _, solution = _solve(last)
    nxt = tmp_path / "next.xlsx"
    planner.roll(last, solution, nxt, firm=0)
    # the planner learns that Nd-B is now cheaper than Nd-A
    _edit(nxt, "Offers", lambda sheet: _set(sheet, "offer", "Nd-B", "unit_cost", 40))
    free, _ = _solve(nxt)
    fresh, _ = _solve(_without_previous_plan(nxt, tmp_path / "fresh.xlsx"))
    assert free.objective == pytest.approx(fresh.objective)
    assert total_change(free.tables["Changes"]) > 1  # the fresh optimum moves to Nd-B
    _edit(nxt, "Settings", lambda s: _set(s, "key", "change_cost", "value", 1e4))
    held, _ = _solve(nxt)
    assert total_change(held.tables["Changes"]) == pytest.approx(0, abs=1e-6)


def test_a_commitment_to_a_disrupted_offer_is_delivered_up_to_its_cut_capacity(
    rolled: dict[str, Any], tmp_path: Path
) -> None:
    commitments = {
        (r["offer"], r["period"]): r["quantity"] for r in _rows(rolled["next"], "Commitments")
    }
    assert commitments[("Nd-A", "2026Q2")] == pytest.approx(80)  # Nd-A's whole capacity
    nxt = tmp_path / "cut.xlsx"
    book = openpyxl.load_workbook(rolled["next"])
    book.create_sheet("Disruptions").append(
        ["scenario", "target_type", "target", "first_period", "last_period", "capacity_factor"]
    )
    book["Disruptions"].append(["base", "offer", "Nd-A", "2026Q2", "2026Q2", 0.5])
    book.save(nxt)
    result = planner.solve(planner.load(nxt))
    purchases = result.tables["Purchases"].set_index(["offer", "period"])["quantity"]
    assert purchases[("Nd-A", "2026Q2")] == pytest.approx(40)  # cut to half, not 80
    firm = commitments[("Nd-A", "2026Q3")]
    assert purchases[("Nd-A", "2026Q3")] >= firm - 1e-6  # the second, uncut


def test_a_contract_whose_offer_is_cut_to_nothing_everywhere_stays_contracted(
    rolled: dict[str, Any], tmp_path: Path
) -> None:
    # after a roll, a revealed ban may cut a contracted offer to 0 in every period: its y = 1
    # then sits in no row, and the plan must still read it as contracted (it was lost before)
    nxt = tmp_path / "banned.xlsx"
    book = openpyxl.load_workbook(rolled["next"])
    book.create_sheet("Disruptions").append(
        ["scenario", "target_type", "target", "capacity_factor"]
    )
    book["Disruptions"].append(["base", "offer", "Nd-B", 0])
    book.save(nxt)
    result = planner.solve(planner.load(nxt))
    assert result.status == "optimal"
    contracts = result.tables["Contracts"].set_index("offer")
    assert contracts.at["Nd-B", "contracted"] == 1 and contracts.at["Nd-B", "fixed_cost"] == 0


# ------------------------------------------------------------------ the command


def test_cli_round_trip_roll_edit_stock_solve_roll_again(tmp_path: Path) -> None:
    last = _case(tmp_path)
    first = tmp_path / "q1-solution.xlsx"
    assert runner.invoke(app, ["solve", str(last), "-o", str(first)]).exit_code == 0
    q2 = tmp_path / "q2.xlsx"
    done = runner.invoke(app, ["roll", str(last), str(first), "-o", str(q2), "--firm", "1"])
    assert done.exit_code == 0, done.output
    assert "rolled: dropped 2026Q1, appended 2027Q1" in done.stdout
    # the planner counts the store: 7 t of Dy more than the plan expected
    counted = {r["element"]: r["initial_stock"] for r in _rows(q2, "Elements")}["Dy"] + 7
    _edit(q2, "Elements", lambda sheet: _set(sheet, "element", "Dy", "initial_stock", counted))
    second = tmp_path / "q2-solution.xlsx"
    assert runner.invoke(app, ["solve", str(q2), "-o", str(second)]).exit_code == 0
    q3 = tmp_path / "q3.xlsx"
    again = runner.invoke(app, ["roll", str(q2), str(second), "-o", str(q3)])
    assert again.exit_code == 0, again.output
    q3_case = planner.load(q3)
    assert q3_case.period_ids == ["2026Q3", "2026Q4", "2027Q1", "2027Q2"]
    stock = planner.solve(planner.load(q2)).tables["Stock"]
    dy = stock[(stock["period"] == "2026Q2") & (stock["element"] == "Dy")]["stock"].iloc[0]
    assert q3_case.elements.at["Dy", "initial_stock"] == pytest.approx(dy)
    notes = [r["topic"] for r in _rows(q3, "Notes")]
    assert notes[-2:] == ["Rolled 2026Q1 -> 2027Q1", "Rolled 2026Q2 -> 2027Q2"]
    # rolling q3's input with q2's solution: they do not belong together
    wrong = runner.invoke(app, ["roll", str(q3), str(second), "-o", str(tmp_path / "x.xlsx")])
    assert wrong.exit_code == 2 and "another input" in wrong.stderr
    assert not (tmp_path / "x.xlsx").exists()
    # never over an input: exit 4, the input untouched
    before = second.read_bytes()
    over = runner.invoke(app, ["roll", str(q2), str(second), "-o", str(second)])
    assert over.exit_code == 4 and second.read_bytes() == before


def test_cli_names_the_scenarios_to_choose_from(tmp_path: Path) -> None:
    last = _case(tmp_path, **STOP)
    _, solution = _solve(last)
    done = runner.invoke(app, ["roll", str(last), str(solution), "-o", str(tmp_path / "n.xlsx")])
    assert done.exit_code == 2
    assert "--scenario: the last plan branches in 2026Q1" in done.stderr
    chosen = runner.invoke(
        app,
        ["roll", str(last), str(solution), "-o", str(tmp_path / "n.xlsx"), "--scenario", "stop"],
    )
    assert chosen.exit_code == 0, chosen.output
    bad = runner.invoke(
        app, ["roll", str(last), str(solution), "-o", str(tmp_path / "m.xlsx"), "--firm", "-1"]
    )
    assert bad.exit_code == 2


def test_batch_roll_up_gives_each_rolled_workbooks_total_change(
    rolled: dict[str, Any], tmp_path: Path
) -> None:
    folder = tmp_path / "quarter"
    folder.mkdir()
    (folder / "q2.xlsx").write_bytes(rolled["next"].read_bytes())
    (folder / "fresh.xlsx").write_bytes(rolled["last"].read_bytes())
    table = run_batch(folder, tmp_path / "out", workers=1).set_index("input")
    assert table.at["q2.xlsx", "total_change"] == pytest.approx(
        total_change(planner.solve(planner.load(rolled["next"])).tables["Changes"])
    )
    assert pd.isna(table.at["fresh.xlsx", "total_change"])  # no previous plan


def test_the_job_page_shows_the_changes_table_escaped(
    rolled: dict[str, Any], tmp_path: Path
) -> None:
    from types import SimpleNamespace

    from fastapi.templating import Jinja2Templates

    from planner.web import app as web
    from planner.web.worker import _solve

    out = _solve(planner.load(rolled["next"]), tmp_path, 60.0, None)
    assert [(c["offer"], c["period"]) for c in out["changes"]][:2] == [
        ("Nd-A", "2026Q2"),
        ("Nd-A", "2026Q3"),
    ]
    assert out["total_change"] == pytest.approx(
        total_change(planner.solve(planner.load(rolled["next"])).tables["Changes"])
    )
    out["changes"][0]["offer"] = "<script>alert(1)</script>"
    templates = Jinja2Templates(directory=Path(web.__file__).parent / "templates")
    templates.env.filters.update(number=web._number, percent=web._percent, points=web._points)
    job = SimpleNamespace(status="done", filename="q2.xlsx", id="x", time_limit=60, error=None)
    page = templates.env.get_template("job.html").render(
        job=job, result=out, progress=None, elapsed=1.0, finished=["done"], version="0"
    )
    assert '<table id="changes">' in page and "Changes from the previous plan" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_total_change_sums_absolute_changes_and_skips_new_signings() -> None:
    changes = pd.DataFrame(
        {"offer": ["a", "b", "c"], "period": ["p", "p", ""], "change": [2.0, -3.0, "newly signed"]}
    )
    assert total_change(changes) == 5
    assert total_change(pd.DataFrame()) is None


def test_the_quarterly_roll_example_runs(japan_small_workbook: Path, tmp_path: Path) -> None:
    """The example's rolls on the Japan case with three of its events (a mechanism)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "quarterly_roll", ROOT / "examples" / "quarterly_roll.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = module.main(japan_small_workbook, tmp_path / "quarterly-roll")
    assert len(table) == 3
    assert set(table["status"]) == {"optimal"}
    periods = planner.load(japan_small_workbook).period_ids
    assert table["first_period"].tolist() == periods[:3]
    assert (table["china_share"].between(0, 1)).all()
    assert table["total_change"].iloc[2] >= 0  # the third quarter prices change against the second


# ------------------------------------------------------------------ Events (v3 B4)

EVENT_HEADER = ["event", "probability", "group", *DISRUPTION_COLUMNS]
#: A group "china" of a first-quarter Dy stop and a later long one; a Malaysian cost rise
#: under way from the first quarter (its own group), with a second row that ends there.
EVENTS: dict[str, list[list[Any]]] = {
    "Events": [
        EVENT_HEADER,
        ["dy_stop", 0.2, "china", "offer", "Dy-A", None, "2026Q1", "2026Q1", 0, None],
        ["cn_long", 0.3, "china", "offer", "Dy-A", None, "2026Q2", "2026Q3", 0, None],
        ["my_cost", 0.5, None, "country", "MY", None, "2026Q1", None, None, 1.5],
        ["my_cost", None, None, "offer", "Nd-X", None, "2026Q1", "2026Q1", 0.5, None],
    ]
}


def _event_rows(path: Path) -> list[tuple[Any, ...]]:
    return [
        (r["event"], r["probability"], r["group"], r["first_period"], r["last_period"])
        for r in _rows(path, "Events")
    ]


def test_an_events_workbook_branching_in_the_first_period_needs_what_happened(
    tmp_path: Path,
) -> None:
    last = _case(tmp_path, **EVENTS)
    _, solution = _solve(last)
    with pytest.raises(InputError) as error:
        planner.roll(last, solution, tmp_path / "next.xlsx")
    assert "base | cn_long" in str(error.value) and "dy_stop+my_cost" in str(error.value)
    assert not (tmp_path / "next.xlsx").exists()


def test_events_roll_with_their_probabilities_given_what_happened(tmp_path: Path) -> None:
    """my_cost happened (certain now), dy_stop did not (dropped; cn_long conditioned)."""
    last = _case(tmp_path, **EVENTS)
    _, solution = _solve(last)
    plan = planner.roll(last, solution, tmp_path / "next.xlsx", scenario="my_cost")
    assert plan.scenarios == ["my_cost", "cn_long+my_cost"]
    assert plan.events == pytest.approx({"cn_long": 0.3 / 0.8, "my_cost": 1.0})
    # my_cost's row under way starts at the new first period; its row that ended is gone
    assert _event_rows(tmp_path / "next.xlsx") == [
        ("cn_long", 0.375, "china", "2026Q2", "2026Q3"),
        ("my_cost", 1, None, "2026Q2", None),
    ]
    rolled = planner.load(tmp_path / "next.xlsx")
    made = scenario_probability(rolled)
    assert made.to_dict() == pytest.approx(plan.probabilities)  # as Scenarios would rescale
    assert planner.solve(rolled).status == "optimal"


def test_an_event_seen_whose_rows_ended_leaves_with_its_alternatives(tmp_path: Path) -> None:
    last = _case(tmp_path, **EVENTS)
    _, solution = _solve(last)
    planner.roll(last, solution, tmp_path / "next.xlsx", scenario="my_cost + dy_stop")
    assert _event_rows(tmp_path / "next.xlsx") == [("my_cost", 1, None, "2026Q2", None)]
    assert list(scenario_probability(planner.load(tmp_path / "next.xlsx")).index) == ["my_cost"]


def test_events_that_the_first_period_does_not_tell_apart_keep_their_probabilities(
    tmp_path: Path,
) -> None:
    """Nothing happens in the first quarter: no --scenario, every event as it was."""
    events = copy.deepcopy(EVENTS)
    del events["Events"][1]  # dy_stop
    events["Events"][2][6] = "2026Q2"  # my_cost from Q2
    del events["Events"][3]
    last = _case(tmp_path, **events)
    _, solution = _solve(last)
    planner.roll(last, solution, tmp_path / "next.xlsx")
    assert _event_rows(tmp_path / "next.xlsx") == [
        ("cn_long", 0.3, "china", "2026Q2", "2026Q3"),
        ("my_cost", 0.5, None, "2026Q2", None),
    ]


def test_a_first_period_that_cannot_tell_two_groups_apart_is_refused(tmp_path: Path) -> None:
    events = {
        "Events": [
            EVENT_HEADER,
            ["a", 0.2, None, "offer", "Dy-A", None, "2026Q1", "2026Q1", 0, None],
            ["b", 0.3, None, "offer", "Dy-A", None, "2026Q1", "2026Q2", 0, None],
        ]
    }
    last = _case(tmp_path, **events)
    _, solution = _solve(last)
    with pytest.raises(InputError, match=r"cannot be rolled as Events.*base would come back"):
        planner.roll(last, solution, tmp_path / "next.xlsx", scenario="a")
    assert not (tmp_path / "next.xlsx").exists()


def test_the_roll_note_keeps_both_hashes_in_a_narrow_notes_sheet(tmp_path: Path) -> None:
    """Issue 23.12: a Notes sheet of two columns gets a third; the note is never cut."""
    last = _case(tmp_path, Notes=[["topic", "value"], ["What", "roll test case"]])
    _, solution = _solve(last)
    planner.roll(last, solution, tmp_path / "next.xlsx")
    notes = _rows(tmp_path / "next.xlsx", "Notes")
    assert notes[0] == {"topic": "What", "value": "roll test case", "source or reasoning": None}
    text = " ".join(str(v) for v in notes[-1].values())
    assert text.startswith("Rolled 2026Q1 -> 2027Q1")
    for path in (last, solution):
        assert hashlib.sha256(path.read_bytes()).hexdigest() in text


def test_an_offer_ending_with_the_horizon_gets_no_terms_in_the_appended_period(
    tmp_path: Path,
) -> None:
    """Issue 23.13: OfferPeriods of the old last period move on only for offers still open."""
    offers = copy.deepcopy(CASE["Offers"])
    offers[0].append("last_period")
    offers.append(["Nd-Spot", "Nd", "AU", 45, 30, 0, "now", 0, "2026Q4"])
    periods = [*CASE["OfferPeriods"], ["Nd-Spot", "2026Q4", 20, None], ["Nd-B", "2026Q4", 95, None]]
    last = _case(tmp_path, Offers=offers, OfferPeriods=periods)
    _, solution = _solve(last)
    planner.roll(last, solution, tmp_path / "next.xlsx")
    rows = [(r["offer"], r["period"]) for r in _rows(tmp_path / "next.xlsx", "OfferPeriods")]
    assert ("Nd-B", "2027Q1") in rows  # open: its latest terms carry on
    assert ("Nd-Spot", "2026Q4") in rows and ("Nd-Spot", "2027Q1") not in rows
    rolled = planner.load(tmp_path / "next.xlsx")
    assert not [w for w in rolled.warnings if "delivery window" in w.message]


def test_a_scenario_named_where_nothing_branches_is_a_warning(tmp_path: Path) -> None:
    """Issue 23.14: --scenario on a first period with one node is not silently ignored."""
    last = _case(tmp_path)
    _, solution = _solve(last)
    done = runner.invoke(
        app,
        ["roll", str(last), str(solution), "-o", str(tmp_path / "n.xlsx"), "--scenario", "base"],
    )
    assert done.exit_code == 0, done.output
    assert "warning: --scenario base: the last plan does not branch in 2026Q1" in done.stderr
    plan = planner.roll(last, solution, tmp_path / "m.xlsx")
    assert plan.warnings == []
