"""The example workbooks in inputs/: current with their generator, valid, and sensible."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import openpyxl
import pytest

import planner
from tests.conftest import ROOT

INPUTS = ROOT / "inputs"


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "build_inputs", ROOT / "scripts" / "build_inputs.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.mark.parametrize("name,build", [("japan-2026.xlsx", "japan"), ("tiny.xlsx", "tiny")])
def test_committed_workbook_matches_its_generator(name: str, build: str, tmp_path: Path) -> None:
    fresh = tmp_path / name
    getattr(_generator(), build)().save(fresh)
    committed = planner.load(INPUTS / name)
    assert planner.load(fresh).content_sha256() == committed.content_sha256()


def test_tiny_example_is_the_hand_case() -> None:
    result = planner.solve(planner.load(INPUTS / "tiny.xlsx"), mip_gap=0)
    assert result.objective == pytest.approx(21_702)


@pytest.fixture(scope="module")
def japan() -> planner.Result:
    return planner.solve(planner.load(INPUTS / "japan-2026.xlsx"))


def test_japan_case_covers_what_the_issue_asks(japan: planner.Result) -> None:
    case = japan.case
    assert case.period_ids[0] == "2026Q1" and len(case.period_ids) >= 12
    assert {"Nd", "Pr", "Dy", "Tb", "La", "Ce", "Sm", "Y"} <= set(case.elements.index)
    countries = set(case.offers["country"])
    assert {"CN", "MY", "VN", "FR", "AU", "EE", "US", "JP"} <= countries
    lynas = case.offers[case.offers["supplier"].str.startswith("Lynas")]
    assert set(lynas["mine_country"]) == {"AU"} and set(lynas["refine_country"]) == {"MY"}
    assert ((case.offers["country"] == "VN") & (case.offers["refine_country"] == "CN")).any()
    deep = case.offers[case.offers["supplier"].str.contains("deep-sea")]
    assert set(deep["first_period"]) == {"2028Q1"}
    assert set(case.activities["kind"]) == {"recycling", "substitution"}
    assert {"cn_stop_3m", "cn_stop_12m", "cn_heavy_12m"} <= set(case.scenarios.index)
    assert case.warnings == []


def test_japan_notes_cite_every_assumption() -> None:
    notes = openpyxl.load_workbook(INPUTS / "japan-2026.xlsx")["Notes"]
    topics = {row[0] for row in notes.iter_rows(min_row=2, values_only=True)}
    for topic in (
        "Demand",
        "China prices",
        "Shortage cost",
        "Calibration",
        "Licensing regime",
        "National stockpile",
        "Country risk",
        "Recycling",
        "Substitution",
        "Deep-sea mud",
    ):
        assert topic in topics
    for row in notes.iter_rows(min_row=2, values_only=True):
        assert row[2], f"note {row[0]!r} has no source or reasoning"


def test_japan_plan_makes_sense(japan: planner.Result) -> None:
    assert japan.status == "optimal"
    shortage = japan.by_scenario("Shortage")
    base = set(shortage[shortage["scenario"] == "base"]["element"])
    assert base <= {"Sm", "Y"}  # normal times: only the licensed elements run short
    heavy = set(shortage[shortage["scenario"] == "cn_heavy_12m"]["element"])
    assert heavy and heavy <= {"Sm", "Dy", "Tb", "Y"}  # only the restricted elements
    shares = japan.tables["Shares"]
    for element, basis in (("TOTAL", "shipment"), ("Nd", "refining"), ("Dy", "refining")):
        rows = shares[(shares["element"] == element) & shares[f"china_cap_{basis}"].notna()]
        assert len(rows)
        share = rows[f"china_share_{basis}"]
        assert (share.fillna(0) <= rows[f"china_cap_{basis}"] + 1e-7).all()
    assert "hhi_refining" in shares.columns
    adopted = japan.tables["Adoption"].set_index("activity")["adopted"]
    assert adopted.sum() >= 1
    # before a stop can be seen, every scenario holds the same plan
    purchases = japan.by_scenario("Purchases")
    first = purchases[purchases["period"] == "2026Q1"].pivot_table(
        index="offer", columns="scenario", values="quantity"
    )
    assert first.nunique(axis=1).max() == 1


def _example(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_crma_country_cap_study_runs() -> None:
    table = _example("crma_country_cap").main().set_index("basis")
    assert list(table.index) == ["shipment", "mining", "refining", "any"]
    capped = table[table["status"] == "optimal"]
    assert {"shipment", "refining"} <= set(capped.index)
    assert (capped["extra_cost"] > 0).all()  # a binding cap costs something
    # "any" counts an offer for every country it passes through: never looser than a basis
    if table.loc["any", "status"] == "optimal":
        assert table.loc["any", "objective"] >= capped["objective"].max() - 1e-6
    else:
        assert table.loc["any", "status"] == "infeasible"
