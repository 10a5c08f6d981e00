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
def test_committed_workbook_matches_its_generator(
    name: str, build: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    fresh = tmp_path / name
    getattr(_generator(), build)().save(fresh)
    committed = (  # the Japan case as loaded once a session
        request.getfixturevalue("japan_case") if build == "japan" else planner.load(INPUTS / name)
    )
    assert planner.load(fresh).content_sha256() == committed.content_sha256()


def test_tiny_example_is_the_hand_case() -> None:
    result = planner.solve(planner.load(INPUTS / "tiny.xlsx"), mip_gap=0)
    assert result.objective == pytest.approx(21_702)


def test_japan_case_covers_what_the_issue_asks(japan_case: planner.Case) -> None:
    case = japan_case
    assert case.period_ids[0] == "2026Q1" and len(case.period_ids) >= 12
    assert {"Nd", "Pr", "Dy", "Tb", "La", "Ce", "Sm", "Y"} <= set(case.elements.index)
    countries = set(case.offers["country"])
    assert {"CN", "MY", "VN", "FR", "AU", "EE", "US", "JP"} <= countries
    lynas = case.offers[case.offers["supplier"].str.startswith("Lynas")]
    assert set(lynas["mine_country"]) == {"AU"} and set(lynas["refine_country"]) == {"MY"}
    assert ((case.offers["country"] == "VN") & (case.offers["mine_country"] == "CN")).any()
    deep = case.offers[case.offers["supplier"].str.contains("deep-sea")]
    assert set(deep["first_period"]) == {"2028Q1"}
    assert set(case.activities["kind"]) == {"recycling", "substitution"}
    notes = openpyxl.load_workbook(INPUTS / "japan-2026.xlsx", read_only=True)["Notes"]
    assert next(notes.iter_rows(values_only=True))[:4] == ("sheet", "key", "figures", "source")


def test_japan_plan_makes_sense(japan_result: planner.Result) -> None:
    japan = japan_result
    assert japan.status == "optimal"
    assert japan.case.warnings == []
    shares = japan.tables["Shares"]
    rows = shares[(shares["element"] == "TOTAL") & shares["china_cap_shipment"].notna()]
    assert len(rows)
    share = rows["china_share_shipment"]
    assert (share.fillna(0) <= rows["china_cap_shipment"] + 1e-7).all()
    assert "hhi_refining" in shares.columns
    adopted = japan.tables["Adoption"].set_index("activity")["adopted"]
    assert adopted.sum() >= 1
    # before an event can be seen, every scenario holds the same plan
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


def test_the_crma_country_cap_study_runs(japan_case: planner.Case) -> None:
    case = japan_case
    case.sweep = case.sweep.iloc[0:0]  # not the study's: each solve would check its variants
    table = _example("crma_country_cap").main(case)
    normal = table[table["events"] == "normal"].set_index("basis")
    assert list(normal.index) == ["shipment", "mining", "refining", "any"]
    # shipment: the cap holds in normal times, at a cost (heavy rare earths left short)
    assert normal.loc["shipment", "status"] == "optimal"
    assert normal.loc["shipment", "extra_cost"] > 0
    # JARE's take-or-pay Lynas NdPr alone is over 65% of NdPr mined in AU and refined in MY
    assert set(normal.loc[["mining", "refining", "any"], "status"]) == {"infeasible"}
    # through a Chinese stop no one-country cap can hold
    [drawn] = table[table["events"] == "as drawn"]["status"].tolist()
    assert drawn == "infeasible"
