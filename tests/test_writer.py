"""The solution workbook reads back complete and consistent, and text stays text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

import planner
from planner.results import by_scenario
from tests.conftest import REFERENCE

NODE = ["node", "period", "scenarios", "probability"]  # spec v2: tables per tree node
REQUIRED = {
    "Summary": ["key", "value"],
    "Purchases": [
        "node",
        "period",
        "scenarios",
        "probability",
        "offer",
        "supplier",
        "element",
        "country",
        "quantity",
        "unit_cost",
        "cost",
    ],
    "Contracts": ["offer", "supplier", "element", "contracted", "fixed_cost"],
    "Activities": [*NODE, "activity", "kind", "level", "cost", "adopted"],
    "Stock": [*NODE, "element", "stock", "target", "cover_days"],
    "Shortage": [*NODE, "element", "quantity"],
    "Shares": [
        *NODE,
        "element",
        "supply",
        "china_share_shipment",
        "china_share_mining",
        "china_share_refining",
        "china_share_any",
        "risk",
        "china_cap",
        "risk_cap",
    ],
    "Duals": ["constraint", "scenario", "period", "element", "dual", "cost_per_point"],
}
SUMMARY_KEYS = [
    "status",
    "objective",
    "expected_cost",
    "cvar",
    "fixed_cost",
    "purchase_cost",
    "activity_cost",
    "holding_cost",
    "shortage_cost",
    "cover_penalty",
    "mip_gap",
    "solve_seconds",
    "planner_version",
    "input_sha256",
]


@pytest.fixture(scope="module")
def solution(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[planner.Result, dict[str, pd.DataFrame]]:
    result = planner.solve(planner.load(REFERENCE / "case-05.xlsx"))
    path = result.write(tmp_path_factory.mktemp("out") / "case-05-solution.xlsx")
    return result, pd.read_excel(path, sheet_name=None)


def test_every_required_sheet_and_column(
    solution: tuple[planner.Result, dict[str, pd.DataFrame]],
) -> None:
    _, sheets = solution
    assert next(iter(sheets)) == "Summary"
    for sheet, columns in REQUIRED.items():
        assert set(columns) <= set(sheets[sheet].columns), sheet
    keys = sheets["Summary"]["key"].tolist()
    assert set(SUMMARY_KEYS) <= set(keys)


def test_summary_figures_read_back(
    solution: tuple[planner.Result, dict[str, pd.DataFrame]],
) -> None:
    result, sheets = solution
    summary = sheets["Summary"].set_index("key")["value"]
    assert summary["status"] == "optimal"
    assert float(summary["objective"]) == pytest.approx(result.objective, rel=1e-12)
    assert summary["planner_version"] == planner.__version__
    assert summary["input_sha256"] == result.case.source.sha256
    assert len(summary["input_sha256"]) == 64


def test_summary_labels_quantities_in_the_unit_and_money_in_the_currency(
    solution: tuple[planner.Result, dict[str, pd.DataFrame]],
) -> None:
    """Issue 23.2: shortfall is in tonnes, not "JPY m" (both share the format #,##0.00)."""
    result, sheets = solution
    meaning = sheets["Summary"].set_index("key")["meaning"]
    unit, currency = result.case.settings.unit, result.case.settings.currency
    assert meaning["shortfall"].endswith(f", {unit}")
    assert not meaning["shortfall"].endswith(currency)
    for key in [k for k in meaning.index if k.startswith("shortfall_")]:
        assert meaning[key].endswith(f", {unit}"), key
    for key in ("spend", "lost_value", "risk_premium", "expected_cost", "objective"):
        assert meaning[key].endswith(f", {currency}"), key


def test_summary_leads_with_spend_and_lost_value(
    solution: tuple[planner.Result, dict[str, pd.DataFrame]],
) -> None:
    """B5: status, spend, lost value, shortfall (total, then per element) come first."""
    result, sheets = solution
    keys = sheets["Summary"]["key"].tolist()
    elements = [f"shortfall_{e}" for e in result.case.elements.index]
    assert keys[: 4 + len(elements)] == ["status", "spend", "lost_value", "shortfall", *elements]
    costs = keys.index("expected_cost")
    assert keys.index("china_share") < costs < keys.index("risk_premium") < keys.index("fixed_cost")


def test_balances_hold_in_every_row(
    solution: tuple[planner.Result, dict[str, pd.DataFrame]],
) -> None:
    _, sheets = solution
    stock = sheets["Stock"]
    inflow = stock["opening"] + stock["purchased"] + stock["recycled"] + stock["substituted"]
    assert (inflow + stock["shortage"] - stock["demand"] - stock["stock"]).abs().max() < 1e-6
    purchases = sheets["Purchases"].groupby(["node", "period", "element"])["quantity"].sum()
    bought = stock.set_index(["node", "period", "element"])["purchased"]
    joined = bought.to_frame().join(purchases).fillna(0.0)
    assert (joined["purchased"] - joined["quantity"]).abs().max() < 1e-6


def test_stock_carries_over_between_periods(
    solution: tuple[planner.Result, dict[str, pd.DataFrame]],
) -> None:
    result, sheets = solution
    scenarios = [str(w) for w in result.case.scenarios.index]
    stock = by_scenario(sheets["Stock"].astype({"period": str}), scenarios)
    periods = result.case.period_ids
    for _, rows in stock.groupby(["scenario", "element"]):
        rows = rows.set_index("period").loc[periods]
        assert rows["opening"].iloc[1:].to_numpy() == pytest.approx(
            rows["stock"].iloc[:-1].to_numpy()
        )


def test_costs_read_back_add_up(solution: tuple[planner.Result, dict[str, pd.DataFrame]]) -> None:
    _, sheets = solution
    purchases = sheets["Purchases"]
    expected = (purchases["cost"] * purchases["probability"]).sum()
    summary = sheets["Summary"].set_index("key")["value"]
    assert expected == pytest.approx(float(summary["purchase_cost"]), rel=1e-9)
    fixed = sheets["Contracts"]["fixed_cost"].sum() + sheets["Adoption"]["fixed_cost"].sum()
    assert fixed == pytest.approx(float(summary["fixed_cost"]))


def test_caps_hold_in_the_shares_sheet(
    solution: tuple[planner.Result, dict[str, pd.DataFrame]],
) -> None:
    result, sheets = solution
    shares = sheets["Shares"]
    basis = f"china_share_{result.case.settings.china_basis}"
    capped = shares.dropna(subset=["china_cap", basis])
    assert len(capped) > 0
    assert (capped[basis] <= capped["china_cap"] + 1e-7).all()
    risky = shares.dropna(subset=["risk_cap", "risk"])
    assert (risky["risk"] <= risky["risk_cap"] + 1e-7).all()


def test_duals_name_tree_nodes(solution: tuple[planner.Result, dict[str, pd.DataFrame]]) -> None:
    _, sheets = solution
    duals = sheets["Duals"]
    assert set(duals["constraint"]) >= {"capacity", "balance", "china_share_max", "risk_max"}
    nodes = set(duals["scenario"])
    assert any("|" in node for node in nodes)  # shared nodes list all their scenarios
    binding = duals[
        duals["constraint"].isin(["china_share_max", "risk_max"]) & (duals["dual"] < -1e-7)
    ]
    assert (binding["cost_per_point"] > 0).all()


def _title(chart: Any) -> str:
    """A chart's title: literal, or the cached text of the ChartData cell it refers to."""
    text = chart.title.tx
    return str(text.strRef.strCache.pt[0].v if text.strRef is not None else text.rich.p[0].r[0].t)


def test_charts_are_native(
    solution: tuple[planner.Result, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    result, _ = solution
    path = result.write(tmp_path / "charts.xlsx")
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames[:3] == ["Summary", "Orders", "Charts"]
    titles = [_title(chart) for chart in workbook["Charts"]._charts]
    assert titles[0] == "Supply mix by country, per element"
    assert "China share, TOTAL" in titles
    assert any(title.startswith("Stock vs cover target") for title in titles)
    assert workbook["Purchases"].freeze_panes == "A2"


def test_formula_like_names_come_back_as_text(
    hand_sheets: dict[str, list[list[Any]]], make_workbook: Callable[..., Path], tmp_path: Path
) -> None:
    offer = '=HYPERLINK("http://example.invalid","click")'
    supplier = "+cmd|' /C calc'!A0"
    hand_sheets["Offers"][1][0] = offer
    hand_sheets["Offers"][2][1] = supplier
    case = planner.load(make_workbook(hand_sheets))
    assert offer in case.offers.index
    path = planner.solve(case).write(tmp_path / "plan.xlsx")
    workbook = openpyxl.load_workbook(path)
    header = [cell.value for cell in workbook["Purchases"][1]]
    at_offer, at_supplier = header.index("offer"), header.index("supplier")
    purchases = list(workbook["Purchases"].iter_rows(min_row=2))
    assert offer in [row[at_offer].value for row in purchases]
    assert supplier in [row[at_supplier].value for row in purchases]
    contracts = [row[0] for row in workbook["Contracts"].iter_rows(min_row=2)]
    assert contracts[0].value == offer
    texts = [row[at_offer] for row in purchases] + [row[at_supplier] for row in purchases]
    for cell in texts + contracts:
        assert cell.data_type == "s"


def test_write_failure_leaves_nothing_behind(tmp_path: Path, monkeypatch: Any) -> None:
    result = planner.solve(planner.load(REFERENCE / "case-00-hand.xlsx"))
    target = tmp_path / "plan.xlsx"
    target.write_bytes(b"previous plan")

    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    import xlsxwriter

    monkeypatch.setattr(xlsxwriter.Workbook, "_store_workbook", full_disk)
    with pytest.raises(planner.PlannerError, match="No space left on device"):
        result.write(target)
    assert target.read_bytes() == b"previous plan"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.xlsx"]


def _rename(sheets: dict[str, list[list[Any]]], old: str, new: str) -> None:
    for rows in sheets.values():
        for row in rows[1:]:
            row[:] = [new if value == old else value for value in row]


def test_input_text_in_charts_is_never_a_formula(
    hand_sheets: dict[str, list[list[Any]]], make_workbook: Callable[..., Path], tmp_path: Path
) -> None:
    import re
    import zipfile

    unit, currency, element = "t REO!A1", '=HYPERLINK("http://x.invalid")', "=Dy!B2"
    hand_sheets["Settings"] = [["key", "value"], ["unit", unit], ["currency", currency]]
    _rename(hand_sheets, "Dy", element)
    path = planner.solve(planner.load(make_workbook(hand_sheets))).write(tmp_path / "plan.xlsx")
    with zipfile.ZipFile(path) as archive:
        charts = [archive.read(n).decode() for n in archive.namelist() if "charts/chart" in n]
    assert charts
    formulas = [f for chart in charts for f in re.findall(r"<c:f>(.*?)</c:f>", chart)]
    assert formulas and all(
        re.fullmatch(r"ChartData!\$[A-Z]+\$\d+(:\$[A-Z]+\$\d+)?", f) for f in formulas
    ), [f for f in formulas if not f.startswith("ChartData!")]
    cached = "".join(charts)
    assert f"<c:v>{unit}</c:v>" in cached  # the axis names read the unit literally
    assert f"<c:v>China share, {element}</c:v>" in cached
    sheet = openpyxl.load_workbook(path)["ChartData"]
    texts = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert unit in texts and f"Stock vs cover target, {element}" in texts


HOSTILE_TEXT = ["$x$", "$\\frac{", "$\\frac{$", "$$", "$" * 500, "\\$", "=A1", "t!B2"]


@pytest.mark.parametrize("currency", HOSTILE_TEXT)
def test_the_sweep_picture_draws_input_text_as_given(currency: str) -> None:
    from planner.io.sweep_writer import trade_off_png

    table = pd.DataFrame(
        {"china_share": [0.3, 0.5], "expected_cost": [2.0, 1.0], "efficient": [True, True]}
    )
    assert trade_off_png(table, currency).getvalue().startswith(b"\x89PNG")


def test_a_sweep_workbook_keeps_a_hostile_currency_literal(
    hand_sheets: dict[str, list[list[Any]]], make_workbook: Callable[..., Path], tmp_path: Path
) -> None:
    import re
    import zipfile

    currency = "=$\\frac{x!A1"
    hand_sheets["Settings"] = [["key", "value"], ["currency", currency]]
    case = planner.load(make_workbook(hand_sheets))
    study = planner.sweep(case, {"china_share_max[Nd]": [0.5, 0.6]}, workers=1)
    path = study.write(tmp_path / "sweep.xlsx")
    with zipfile.ZipFile(path) as archive:
        (chart,) = [archive.read(n).decode() for n in archive.namelist() if "charts/chart" in n]
    formulas = re.findall(r"<c:f>(.*?)</c:f>", chart)
    assert all(
        re.fullmatch(r"('Trade-off'|Sweep|Frontier)!\$[A-Z]+\$\d+(:\$[A-Z]+\$\d+)?", f)
        for f in formulas
    ), formulas
    assert f"<c:v>expected cost ({currency})</c:v>" in chart
    assert openpyxl.load_workbook(path)["Trade-off"]["Q30"].value == f"expected cost ({currency})"


def test_orders_is_second_and_buys_only_what_every_scenario_shares(tmp_path: Path) -> None:
    case = planner.load(REFERENCE / "v2" / "v2-a3-later-signing.xlsx")
    path = planner.solve(case).write(tmp_path / "plan.xlsx")
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames[:2] == ["Summary", "Orders"]
    orders = pd.read_excel(path, sheet_name="Orders")
    buy = orders[orders["action"] == "buy"]
    assert len(buy) and set(buy["scenarios"]) == {"all"}
    assert set(buy["period"]) == {"P1"}  # the tree splits at P2: nothing later is shared
    later = orders[orders["action"] == "sign later"]
    assert later[["offer", "period", "scenarios"]].values.tolist() == [["DY-AU", "P2", "cn_stop"]]
    summary = pd.read_excel(path, sheet_name="Summary").set_index("key")["value"]
    assert list(summary.index[:4]) == ["status", "spend", "lost_value", "shortfall"]
    assert workbook["ChartData"].sheet_state == "hidden"
    assert "Warnings" not in workbook.sheetnames  # nothing to warn about


def test_duals_of_zero_are_left_out(
    solution: tuple[planner.Result, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    result, sheets = solution
    duals = result.tables["Duals"]
    assert (duals["dual"] == 0).any()  # the case has rows that price nothing
    written = sheets["Duals"]
    assert len(written) == int((duals["dual"] != 0).sum()) > 0
    assert (written["dual"] != 0).all()
    kept = duals[duals["dual"] != 0].reset_index(drop=True)
    assert written["dual"].tolist() == kept["dual"].tolist()  # exactly, in order
    assert written["constraint"].tolist() == kept["constraint"].tolist()

    result.tables["Duals"] = duals.assign(dual=0.0)  # nothing priced: the header stays
    try:
        path = result.write(tmp_path / "no-duals.xlsx")
    finally:
        result.tables["Duals"] = duals
    empty = pd.read_excel(path, sheet_name="Duals")
    assert empty.empty and list(empty.columns) == list(duals.columns)


def test_tables_read_back_as_written(
    solution: tuple[planner.Result, dict[str, pd.DataFrame]],
) -> None:
    result, sheets = solution
    for name in ("Purchases", "Stock", "Shares", "Contracts"):
        table, written = result.tables[name], sheets[name]
        assert list(written.columns) == list(table.columns), name
        for column in table.columns:
            if pd.api.types.is_numeric_dtype(table[column]):
                expected = table[column].to_numpy(dtype=float)
                assert written[column].to_numpy(dtype=float) == pytest.approx(
                    expected, rel=0, abs=0, nan_ok=True
                ), (name, column)  # numbers as numbers, bit for bit
            else:
                assert written[column].astype(str).tolist() == table[column].astype(str).tolist()


def test_text_that_looks_like_rich_text_stays_literal(
    hand_sheets: dict[str, list[list[Any]]], make_workbook: Callable[..., Path], tmp_path: Path
) -> None:
    """XlsxWriter writes a string "<r>...</r>" into the file unescaped, as rich text."""
    offer, unit = "<r></t></r></is>x</r>", "<r><t>kt</t></r>"
    _rename(hand_sheets, "Nd-CN", offer)
    hand_sheets["Settings"] = [["key", "value"], ["unit", unit]]
    path = planner.solve(planner.load(make_workbook(hand_sheets))).write(tmp_path / "plan.xlsx")
    workbook = openpyxl.load_workbook(path)  # a damaged sheet would not parse
    assert offer in [row[0] for row in workbook["Contracts"].iter_rows(values_only=True)]
    texts = [c for row in workbook["ChartData"].iter_rows(values_only=True) for c in row]
    assert unit in texts


def test_the_supply_by_shipping_country_chart_counts_joint_products(tmp_path: Path) -> None:
    """A joint product's tonnes (Purchases element ``Nd+Pr``) reach the chart in element units."""
    path = REFERENCE / "v2" / "v2-a2-joint-product.xlsx"
    result = planner.solve(planner.load(path))
    purchases = result.tables["Purchases"]
    contents = result.case.offer_contents
    joint = purchases[purchases["offer"].isin(contents["offer"])]
    assert len(joint) and (joint["quantity"] > 0).any()
    written = result.write(tmp_path / "plan.xlsx")
    rows = list(openpyxl.load_workbook(written)["ChartData"].iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if row[0] and "shipping country" in str(row[0]))
    header = rows[start + 1]
    mix = {row[0]: dict(zip(header[1:], row[1:], strict=False)) for row in rows[start + 2 :]}
    probability = result.case.scenarios["probability"]
    for _, line in contents.iterrows():
        offer = joint[joint["offer"] == line["offer"]]
        if offer.empty:
            continue
        country = result.case.offers.loc[line["offer"], "country"]
        weight = (
            offer["probability"] if "probability" in offer else offer["scenario"].map(probability)
        )
        tonnes = float((offer["quantity"] * weight).sum() * line["fraction"])
        shown = mix[line["element"]][country] or 0.0
        assert shown >= tonnes - 1e-6, (line["element"], country, shown, tonnes)


def test_every_sheet_prints_landscape_one_page_wide_with_its_header_and_a_footer(
    solution: tuple[planner.Result, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    """Issue 23.10: a print layout on every table sheet; the charts one a page."""
    result, _ = solution
    path = result.write(tmp_path / "printed.xlsx")
    workbook = openpyxl.load_workbook(path)
    for name in ("Summary", "Orders", "Purchases", "Stock", "Shares"):
        sheet = workbook[name]
        assert sheet.page_setup.orientation == "landscape", name
        assert sheet.page_setup.paperSize == 9, name  # A4
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, name
        assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (None, 0), name
        assert sheet.print_title_rows == "$1:$1", name  # the header on every page
        assert sheet.oddFooter.left.text == "&F" and sheet.oddFooter.center.text == "&A"
        assert sheet.oddFooter.right.text == "Page &P of &N", name
    charts = workbook["Charts"]
    assert charts.page_setup.orientation == "landscape"
    assert (
        not charts.sheet_properties.pageSetUpPr or not charts.sheet_properties.pageSetUpPr.fitToPage
    )
    breaks = [b.id for b in charts.row_breaks.brk]
    anchors = sorted(c.anchor._from.row for c in charts._charts)
    assert len(anchors) == len(breaks) + 1  # the bar chart, then one break a line chart
    assert breaks == anchors[1:]  # each line chart starts a page


def test_the_orders_amounts_show_their_units(tmp_path: Path) -> None:
    """Issue 23.11: Orders keeps the contract's column names; each amount reads with its unit."""
    case = planner.load(REFERENCE / "v2" / "v2-a3-later-signing.xlsx")
    path = planner.solve(case).write(tmp_path / "plan.xlsx")
    sheet = openpyxl.load_workbook(path)["Orders"]
    header = [c.value for c in sheet[1]]
    buy = next(
        row for row in sheet.iter_rows(min_row=2) if row[header.index("action")].value == "buy"
    )
    unit, currency = case.settings.unit, case.settings.currency
    assert buy[header.index("quantity")].number_format == f'#,##0.00 "{unit}"'
    assert buy[header.index("unit_cost")].number_format == f'#,##0.00 "{currency}/{unit}"'
    assert buy[header.index("cost")].number_format == f'#,##0.00 "{currency}"'


def test_a_cap_met_exactly_has_no_negative_headroom() -> None:
    """Issue 23.11: a share equal to its cap up to rounding reads headroom 0, no breach."""
    from planner.results import china_against_caps

    shares = pd.DataFrame(
        {
            "element": ["TOTAL", "TOTAL"],
            "period": ["P1", "P2"],
            "probability": [1.0, 1.0],
            "supply": [10.0, 10.0],
            "china_share_any": [0.6 + 2.2e-16, 0.7],
            "china_cap": [0.6, 0.6],
        }
    )
    rows = china_against_caps(shares, "any").set_index("period")
    assert rows.at["P1", "headroom"] == 0.0 and not rows.at["P1", "breach"]
    assert rows.at["P2", "headroom"] == pytest.approx(-0.1) and rows.at["P2", "breach"]
