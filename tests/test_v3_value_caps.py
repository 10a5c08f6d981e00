"""B2, value-weighted pooled caps (formulation.md "v3 additions" B2 and the v3 readings).

The hand cases of ../shared/reference/v3 (copied to tests/data/reference/v3):
v3-b2-value-cap and v3-b2-quantity-cap, one workbook with the TOTAL China
cap counted in value or in tonnes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest

import planner
from planner.errors import InputError
from planner.model import ModelData, build_model, derive
from planner.results import Plan, read_plan
from planner.solve import HighsSession, SolveOptions
from planner.verify import verify_plan
from tests.conftest import REFERENCE, write_workbook

V3 = REFERENCE / "v3"
CASES = {
    name: expected
    for name, expected in json.loads((V3 / "expected.json").read_text()).items()
    if name.startswith("v3-b2")
}
Sheets = dict[str, list[list[Any]]]
POLICY_HEADER = ["policy", "element", "period", "value", "basis", "measure"]


def _sheets(name: str = "v3-b2-value-cap") -> Sheets:
    """The rows of a v3 reference workbook, header first, to change and write again."""
    workbook = openpyxl.load_workbook(V3 / f"{name}.xlsx")
    return {
        sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)]
        for sheet in workbook.worksheets
    }


def _write(tmp_path: Path, sheets: Sheets, name: str = "case.xlsx") -> Path:
    return write_workbook(tmp_path / name, sheets)


def _policies(sheets: Sheets, *rows: list[Any]) -> None:
    sheets["Policies"] = [POLICY_HEADER, *[list(row) for row in rows]]


def _bought(result: planner.Result) -> dict[str, float]:
    purchases = result.tables["Purchases"]
    return purchases.groupby("offer")["quantity"].sum().to_dict()


def _value_cap_case(value: float = 0.5) -> planner.Case:
    case = planner.load(V3 / "v3-b2-value-cap.xlsx")
    case.policies.loc[:, "value"] = value
    return case


# --- the hand-derived optima -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_objective_matches_the_hand_derived_optimum(name: str) -> None:
    result = planner.solve(planner.load(V3 / name), mip_gap=0.0)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(CASES[name]["objective"], rel=1e-6)


def test_a_value_row_on_one_element_is_read_as_quantity_with_a_warning(tmp_path: Path) -> None:
    sheets = _sheets("v3-b2-quantity-cap")
    _policies(sheets, ["china_share_max", "Ce", None, 0.5, "shipment", "value"])
    case = planner.load(_write(tmp_path, sheets))
    assert [str(w) for w in case.warnings] == [
        "Policies!F2: measure value on element Ce changes nothing (the reference price cancels "
        "within one element): read as quantity; value weighs elements only on TOTAL"
    ]
    result = planner.solve(case, mip_gap=0.0)
    assert result.objective == pytest.approx(1225, rel=1e-6)  # Ce China <= 50 t (README)
    assert derive(case).value_caps == {}


# --- the plan changes because of the feature ----------------------------------------------


def test_under_a_value_cap_ce_moves_off_china_before_tb() -> None:
    bought = _bought(planner.solve(planner.load(V3 / "v3-b2-value-cap.xlsx"), mip_gap=0.0))
    assert bought.get("Ce-CN", 0.0) == pytest.approx(0.0, abs=1e-9)  # all Ce moved first
    assert bought["Ce-AU"] == pytest.approx(100)
    assert bought["Tb-CN"] == pytest.approx(0.6)  # then Tb, only as far as needed
    assert bought["Tb-JP"] == pytest.approx(0.4)


def test_under_a_quantity_cap_tonnes_decide_and_tb_stays_in_china() -> None:
    bought = _bought(planner.solve(planner.load(V3 / "v3-b2-quantity-cap.xlsx"), mip_gap=0.0))
    assert bought["Tb-CN"] == pytest.approx(1.0)
    assert bought.get("Tb-JP", 0.0) == pytest.approx(0.0, abs=1e-9)
    assert bought["Ce-CN"] == pytest.approx(49.5)
    assert bought["Ce-AU"] == pytest.approx(50.5)


@pytest.mark.parametrize(
    ("quantity_cap", "objective"),
    [
        # tonnes bind: Tb-CN <= 0.303 t, the rest of Tb from JP: 250 + 303 + 1,045.5
        (0.003, 1598.5),
        # value binds (the quantity cap alone would allow 89.9 t of Ce from China: 1,207.55)
        (0.9, 1450.0),
    ],
)
def test_a_value_cap_and_a_quantity_cap_on_total_both_apply(
    tmp_path: Path, quantity_cap: float, objective: float
) -> None:
    sheets = _sheets()
    _policies(
        sheets,
        ["china_share_max", "TOTAL", None, 0.5, "shipment", "value"],
        ["china_share_max", "TOTAL", None, quantity_cap, "shipment", "quantity"],
    )
    case = planner.load(_write(tmp_path, sheets))
    assert not case.warnings  # separate families: no duplicate
    result = planner.solve(case, mip_gap=0.0)
    assert result.objective == pytest.approx(objective, rel=1e-6)
    shares = result.tables["Shares"].set_index(["element", "measure"])
    assert shares.loc[("TOTAL", "value"), "china_cap_shipment"] == pytest.approx(0.5)
    assert shares.loc[("TOTAL", "quantity"), "china_cap_shipment"] == pytest.approx(quantity_cap)
    assert shares.loc[("TOTAL", "value"), "china_share_shipment"] <= 0.5 + 1e-9
    assert shares.loc[("TOTAL", "quantity"), "china_share_shipment"] <= quantity_cap + 1e-9


def test_the_value_cap_dual_equals_a_finite_difference_of_the_objective() -> None:
    result = planner.solve(_value_cap_case(0.5), mip_gap=0.0)
    duals = result.tables["Duals"]
    cap = duals[(duals["constraint"] == "china_share_max") & (duals["measure"] == "value")]
    assert len(cap) == 1
    per_point = float(cap["cost_per_point"].iloc[0])
    tighter = planner.solve(_value_cap_case(0.49), mip_gap=0.0)
    assert tighter.objective - result.objective == pytest.approx(per_point, rel=1e-6)
    # the value-weighted supply (1,200), not the 101 t of the quantity rows
    assert per_point == pytest.approx(-float(cap["dual"].iloc[0]) * 0.01 * 1200, rel=1e-9)
    assert per_point == pytest.approx(6.0, rel=1e-6)


def test_value_caps_of_risk_and_of_a_country_bind_by_value(tmp_path: Path) -> None:
    # risk 0.9 CN, 0.1 AU, 0.05 JP; by value the cap holds Tb's risk, by tonnes it would not
    sheets = _sheets()
    _policies(sheets, ["risk_max", "TOTAL", None, 0.5, None, "value"])
    result = planner.solve(planner.load(_write(tmp_path, sheets, "risk.xlsx")), mip_gap=0.0)
    shares = result.tables["Shares"].set_index(["element", "measure"])
    assert shares.loc[("TOTAL", "value"), "risk"] == pytest.approx(0.5, abs=1e-7)
    assert shares.loc[("TOTAL", "value"), "risk_cap"] == pytest.approx(0.5)
    assert _bought(result).get("Tb-JP", 0.0) > 0.1  # Tb's value is what the cap weighs

    sheets = _sheets()
    _policies(sheets, ["country_share_max", "TOTAL", None, 0.5, "shipment", "value"])
    result = planner.solve(planner.load(_write(tmp_path, sheets, "country.xlsx")), mip_gap=0.0)
    assert result.objective == pytest.approx(1450, rel=1e-6)  # China is the largest group
    duals = result.tables["Duals"]
    country = duals[duals["constraint"] == "country_share_max"]
    assert set(country["measure"]) == {"value"}
    assert "China" in set(country["country_group"])


# --- the results: Shares, Duals, Summary ----------------------------------------------------


def test_shares_have_a_measure_and_a_total_row_by_value() -> None:
    result = planner.solve(planner.load(V3 / "v3-b2-value-cap.xlsx"), mip_gap=0.0)
    shares = result.tables["Shares"]
    assert shares["measure"].tolist() == ["quantity", "quantity", "quantity", "value"]
    value = shares[shares["measure"] == "value"].iloc[0]
    assert value["element"] == "TOTAL"
    assert value["supply"] == pytest.approx(2 * 100 + 1000 * 1)  # currency
    assert value["china_share_shipment"] == pytest.approx(0.5)
    assert value["china_cap_shipment"] == pytest.approx(0.5)
    quantity = shares[(shares["element"] == "TOTAL") & (shares["measure"] == "quantity")].iloc[0]
    assert quantity["china_share_shipment"] == pytest.approx(0.6 / 101)
    assert pd.isna(quantity["china_cap_shipment"])  # the cap is on value, not on tonnes
    # value-weighted risk: (0.6 x 1,000 x 0.9 + 0.4 x 1,000 x 0.05 + 200 x 0.1) / 1,200
    assert value["risk"] == pytest.approx((540 + 20 + 20) / 1200)


def test_no_row_by_value_without_every_reference_price() -> None:
    case = planner.load(REFERENCE / "v2" / "v2-a6-country-cap.xlsx")
    shares = planner.solve(case).tables["Shares"]
    assert set(shares["measure"]) == {"quantity"}


def test_the_summary_names_the_value_cap_with_least_headroom() -> None:
    result = planner.solve(planner.load(V3 / "v3-b2-value-cap.xlsx"), mip_gap=0.0)
    summary = result.summary
    assert summary["china_tightest_where"] == "TOTAL, P1, basis shipment (by value)"
    assert summary["china_cap_tightest"] == pytest.approx(0.5)
    assert summary["china_share_at_tightest"] == pytest.approx(0.5)
    assert summary["china_headroom"] == pytest.approx(0.0, abs=1e-9)
    # the headline China share stays the share of tonnes
    assert summary["china_share"] == pytest.approx(0.6 / 101)


def test_the_solution_workbook_writes_the_measure_columns(tmp_path: Path) -> None:
    result = planner.solve(planner.load(V3 / "v3-b2-value-cap.xlsx"), mip_gap=0.0)
    path = result.write(tmp_path / "out.xlsx")
    shares = pd.read_excel(path, sheet_name="Shares")
    assert shares["measure"].tolist() == ["quantity", "quantity", "quantity", "value"]
    duals = pd.read_excel(path, sheet_name="Duals")
    assert "value" in set(duals["measure"].dropna())


# --- the model: quantity-only workbooks are v2; the independent check -----------------------


@pytest.mark.parametrize(
    "path", sorted((REFERENCE / "v2").glob("*.xlsx")) + sorted(REFERENCE.glob("*.xlsx"))
)
def test_quantity_only_workbooks_build_no_value_rows(path: Path) -> None:
    model = build_model(derive(planner.load(path)))
    for name in ("china_share_value_limit", "country_share_value_limit", "risk_value_limit"):
        assert len(model.component(name)) == 0


def _plan(data: ModelData) -> Plan:
    model = build_model(data)
    HighsSession(model, SolveOptions()).solve(60.0, mip_gap=0.0)
    return read_plan(model, data)


def test_verify_finds_a_plan_over_a_value_cap() -> None:
    quantity = derive(planner.load(V3 / "v3-b2-quantity-cap.xlsx"))
    plan = _plan(quantity)  # all Tb from China: within the cap on tonnes
    assert verify_plan(plan, quantity) == []
    valued = derive(planner.load(V3 / "v3-b2-value-cap.xlsx"))
    assert verify_plan(plan, valued) == [
        "china_share_max (shipment) by value of TOTAL in P1 (scenario base)"
    ]
    assert verify_plan(_plan(valued), valued) == []


def test_an_infeasible_value_cap_is_named_by_its_cell(tmp_path: Path) -> None:
    sheets = _sheets()
    offers = sheets["Offers"]
    header = offers[0]
    for row in offers[1:]:
        if row[0] == "Tb-CN":
            row[header.index("contracted")] = "yes"
            row[header.index("min_take")] = 1
        if row[0] == "Tb-JP":
            row[header.index("capacity")] = 0
        if row[0] == "Ce-AU":  # at most 200 of value outside China against Tb's 1,000
            row[header.index("capacity")] = 100
    _policies(sheets, ["china_share_max", "TOTAL", None, 0.5, "shipment", "value"])
    result = planner.solve(planner.load(_write(tmp_path, sheets)))
    assert result.status == "infeasible"
    assert sorted(str(issue) for issue in result.conflicts) == [
        "Offers!J4: min_take 1 of Tb-CN: part of a conflict",
        "Policies!D2: china_share_max 0.5 for TOTAL, every period, basis shipment, by value: "
        "part of a conflict",
    ]


# --- validation ---------------------------------------------------------------------------

Mutation = Callable[[Sheets], None]


def _price(element: str, value: Any) -> Mutation:
    def mutate(sheets: Sheets) -> None:
        rows = sheets["Elements"]
        column = rows[0].index("reference_price")
        for row in rows[1:]:
            if row[0] == element:
                row[column] = value

    return mutate


def _rows(*rows: list[Any]) -> Mutation:
    def mutate(sheets: Sheets) -> None:
        _policies(sheets, *rows)

    return mutate


def _both(*mutations: Mutation) -> Mutation:
    def mutate(sheets: Sheets) -> None:
        for mutation in mutations:
            mutation(sheets)

    return mutate


BROKEN: dict[str, tuple[Mutation, list[str]]] = {
    "a missing reference price": (
        _price("Tb", None),
        [
            "Elements!J3: reference_price of Tb is required: a Policies row on TOTAL counts "
            "supply in value (Policies!F2), which weighs every element by its reference price"
        ],
    ),
    "every missing reference price, each by its cell": (
        _both(_price("Ce", None), _price("Tb", None)),
        [
            "Elements!J2: reference_price of Ce is required: a Policies row on TOTAL counts "
            "supply in value (Policies!F2), which weighs every element by its reference price",
            "Elements!J3: reference_price of Tb is required: a Policies row on TOTAL counts "
            "supply in value (Policies!F2), which weighs every element by its reference price",
        ],
    ),
    "a negative reference price": (
        _price("Ce", -2),
        ["Elements!J2: reference_price must be >= 0, got -2"],
    ),
    "an unknown measure": (
        _rows(["china_share_max", "TOTAL", None, 0.5, "shipment", "money"]),
        ["Policies!F2: measure must be one of quantity, value, got 'money'"],
    ),
    "the same value cap twice": (
        _rows(
            ["china_share_max", "TOTAL", None, 0.5, "shipment", "value"],
            ["china_share_max", "TOTAL", None, 0.6, "shipment", " Value "],
        ),
        [
            "Policies!3:3: the same (china_share_max, TOTAL, blank) on basis shipment by value "
            "is given twice"
        ],
    ),
    "a value row on one element is a quantity row for the duplicate key": (
        _rows(
            ["risk_max", "Ce", None, 0.5, None, None],
            ["risk_max", "Ce", None, 0.6, None, "value"],
        ),
        ["Policies!3:3: the same (risk_max, Ce, blank) is given twice"],
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_value_cap_workbook_reports_its_cells(name: str, tmp_path: Path) -> None:
    mutate, wanted = BROKEN[name]
    sheets = _sheets()
    mutate(sheets)
    with pytest.raises(InputError) as raised:
        planner.load(_write(tmp_path, sheets))
    messages = [str(issue) for issue in raised.value.issues if issue.severity == "error"]
    assert messages == wanted


def test_a_missing_price_is_no_error_without_a_value_row(tmp_path: Path) -> None:
    sheets = _sheets("v3-b2-quantity-cap")
    _price("Tb", None)(sheets)
    case = planner.load(_write(tmp_path, sheets))
    assert not case.warnings


def test_measure_warnings_name_their_cells(tmp_path: Path) -> None:
    sheets = _sheets()
    _policies(
        sheets,
        ["china_share_max", "TOTAL", None, 0.5, "shipment", "VALUE"],
        ["offer_share_max", "Ce", None, 0.9, None, "value"],
        ["min_offers", "Tb", None, 1, None, "quantity"],
        ["country_share_max", None, None, 0.9, "shipment", "value"],
    )
    case = planner.load(_write(tmp_path, sheets))
    assert [str(w) for w in case.warnings] == [
        "Policies!F3: measure applies to china_share_max, country_share_max, risk_max on TOTAL "
        "only; ignored for offer_share_max",
        "Policies!F4: measure applies to china_share_max, country_share_max, risk_max on TOTAL "
        "only; ignored for min_offers",
        "Policies!F5: measure value on each element changes nothing (the reference price "
        "cancels within one element): read as quantity; value weighs elements only on TOTAL",
    ]
    data = derive(case)
    assert list(data.value_caps) == [("china_share_max", "shipment")]
    assert ("offer_share_max", "") in data.caps
    assert ("country_share_max", "shipment") in data.caps  # read as quantity, per element


# --- sweeps: the in-place re-solve ----------------------------------------------------------


#: the value-cap case's cap, as a sweep names it (its basis is shipment)
CAP = "china_share_max[TOTAL,shipment,value]"


@pytest.mark.parametrize(
    "steps",
    [
        [(CAP, 0.49), (CAP, 0.3)],
        [("Elements.reference_price[Tb]", 500.0), ("Elements.reference_price[Ce]", 0.0)],
        [(CAP, 1.0), ("Elements.reference_price[Tb]", 3.0), (CAP, 0.4)],
    ],
)
def test_a_sweep_over_a_value_cap_or_a_price_changes_the_model_in_place(
    steps: list[tuple[str, float]],
) -> None:
    from planner.api import Resolver
    from planner.changes import apply_change
    from tests.model.test_update import _held

    resolver = Resolver(duals=False, mip_gap=0.0)
    variant = planner.load(V3 / "v3-b2-value-cap.xlsx")
    resolver.solve(variant)
    for name, value in steps:
        variant = variant.copy()
        apply_change(variant, name, value)
        result = resolver.solve(variant)
        assert result.report.extra["reused"], name
        fresh = HighsSession(build_model(derive(variant)), SolveOptions())
        assert _held(resolver.session) == _held(fresh), (name, value)
        alone = planner.solve(variant, duals=False, mip_gap=0.0)
        assert result.objective == pytest.approx(alone.objective, rel=1e-9), (name, value)


def test_a_sweep_that_adds_a_value_cap_builds_anew_and_solves_like_a_fresh_case() -> None:
    from planner.api import Resolver
    from planner.changes import apply_change

    resolver = Resolver(duals=False, mip_gap=0.0)
    case = planner.load(V3 / "v3-b2-quantity-cap.xlsx")
    resolver.solve(case)
    variant = case.copy()
    apply_change(variant, "china_share_max[TOTAL,value]", 0.5)
    assert derive(variant).value_caps  # a row added, in value, beside the quantity row
    result = resolver.solve(variant)
    assert not result.report.extra["reused"]
    assert result.objective == pytest.approx(planner.solve(variant, mip_gap=0.0).objective)
    # both rows apply: value 0.5 and quantity 0.5 (the value plan's 0.6 t of China fits)
    assert result.objective == pytest.approx(1450, rel=1e-6)


def test_the_template_offers_the_measure_and_shows_a_value_row() -> None:
    from planner.io.template import build_template

    workbook = build_template()
    policies = workbook["Policies"]
    header = [cell.value for cell in policies[1]]
    letter = "ABCDEFGHIJ"[header.index("measure")]
    dropdowns = {str(v.sqref): v.formula1 for v in policies.data_validations.dataValidation}
    assert dropdowns[f"{letter}2:{letter}1000"] == '"quantity,value"'
    assert "reference_price" in policies[f"{letter}1"].comment.text
    assert policies.max_row == 1  # the input sheets stay empty
    elements = [cell.value for cell in workbook["Elements"][1]]
    assert "reference_price" in elements
    text = [str(c.value) for row in workbook["Instructions"].iter_rows() for c in row if c.value]
    assert any("element = TOTAL" in t and "measure = value" in t for t in text), text
    assert "Example: value" in policies[f"{letter}1"].comment.text


def test_a_price_asked_for_by_a_value_cap_and_a_budget_is_named_once(
    tmp_path: Path,
) -> None:
    case = planner.load(REFERENCE / "v3" / "v3-b2-value-cap.xlsx")
    case.elements.loc["Tb", "reference_price"] = np.nan
    case.settings.stock_value_max = 1000.0
    with pytest.raises(InputError) as raised:
        planner.validate(case)
    issues = [issue for issue in raised.value.issues if "reference_price" in issue.message]
    assert len(issues) == 1, issues
    assert "counts supply in value" in issues[0].message
    assert "Settings stock_value_max" in issues[0].message
