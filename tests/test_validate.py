"""One deliberately broken workbook per validation rule, each with its exact message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import planner
from planner.errors import InputError

Sheets = dict[str, list[list[Any]]]


def _column(sheets: Sheets, sheet: str, name: str) -> int:
    return sheets[sheet][0].index(name)


def _set(sheet: str, row: int, column: str, value: Any) -> Callable[[Sheets], None]:
    def mutate(sheets: Sheets) -> None:
        sheets[sheet][row - 1][_column(sheets, sheet, column)] = value

    return mutate


def _add(sheet: str, *rows: list[Any]) -> Callable[[Sheets], None]:
    def mutate(sheets: Sheets) -> None:
        sheets.setdefault(sheet, [])
        sheets[sheet].extend([list(row) for row in rows])

    return mutate


def _drop_sheet(sheet: str) -> Callable[[Sheets], None]:
    return lambda sheets: sheets.pop(sheet)


def _drop_column(sheet: str, name: str) -> Callable[[Sheets], None]:
    def mutate(sheets: Sheets) -> None:
        index = _column(sheets, sheet, name)
        for row in sheets[sheet]:
            del row[index]

    return mutate


BROKEN: dict[str, tuple[Callable[[Sheets], None], str]] = {
    "missing required sheet": (_drop_sheet("Offers"), "Offers: required sheet is missing"),
    "missing required column": (
        _drop_column("Offers", "capacity"),
        "Offers!1:1: missing required column 'capacity'",
    ),
    "negative capacity": (
        _set("Offers", 2, "capacity", -5),
        "Offers!H2: capacity must be >= 0, got -5",
    ),
    "thousands separator in a number": (
        _set("Offers", 2, "capacity", "1,200"),
        "Offers!H2: capacity must be a number, got '1,200'",
    ),
    "date where a number belongs": (
        _set("Demand", 3, "quantity", dt.datetime(2026, 1, 5)),
        "Demand!C3: quantity must be a number, got a date/time (2026-01-05 00:00:00)",
    ),
    "boolean where a number belongs": (
        _set("Elements", 2, "shortage_cost", True),
        "Elements!D2: shortage_cost must be a number, got TRUE",
    ),
    "blank required cell": (
        _set("Offers", 3, "unit_cost", None),
        "Offers!G3: unit_cost is required",
    ),
    "unknown enumeration value": (
        _set("Elements", 2, "group", "medium"),
        "Elements!C2: group must be one of light, heavy, got 'medium'",
    ),
    "unknown element": (
        _set("Demand", 2, "element", "Xx"),
        "Demand!A2: unknown element 'Xx': not in Elements",
    ),
    "element in the wrong case": (
        _set("Demand", 2, "element", "nd"),
        "Demand!A2: unknown element 'nd': not in Elements "
        "(ids are case-sensitive: did you mean 'Nd'?)",
    ),
    "unknown period": (
        _set("Demand", 4, "period", "2027Q1"),
        "Demand!B4: unknown period '2027Q1': not in Periods",
    ),
    "duplicate offer id": (
        _set("Offers", 3, "offer", "Nd-CN"),
        "Offers!A3: duplicate offer 'Nd-CN' (rows A2, A3); ids must be unique",
    ),
    "duplicate demand pair": (
        _add("Demand", ["Nd", "2026Q1", 5]),
        "Demand!6:6: duplicate demand for (Nd, 2026Q1); first given at Demand!2:2",
    ),
    "reserved element id": (
        _add("Elements", ["TOTAL", "all", "light", 1, 0]),
        "Elements!A4: 'TOTAL' is reserved and cannot be an element id",
    ),
    "min_take above capacity": (
        lambda s: (s["Offers"][0].append("min_take"), s["Offers"][1].append(150)),
        "Offers!J2: min_take 150 is above capacity 100",
    ),
    "first_period after last_period": (
        lambda s: (
            s["Offers"][0].extend(["first_period", "last_period"]),
            s["Offers"][2].extend(["2026Q2", "2026Q1"]),
        ),
        "Offers!K3: last_period '2026Q1' is before first_period '2026Q2'",
    ),
    "blank risk and no Countries row": (
        _set("Offers", 3, "mine_country", "ZZ"),
        "Offers!E3: risk is blank and mine_country 'ZZ' is not in Countries; "
        "add it to Countries or give the offer a risk",
    ),
    "storage below initial stock": (
        lambda s: (
            s["Elements"][0].extend(["initial_stock", "storage_capacity"]),
            s["Elements"][1].extend([50, 20]),
        ),
        "Elements!G2: storage_capacity 20 is below initial_stock 50",
    ),
    "probabilities not summing to 1": (
        _add("Scenarios", ["scenario", "probability"], ["base", 0.5], ["stop", 0.4]),
        "Scenarios!B2:B3: probabilities sum to 0.9; they must sum to 1",
    ),
    "yield for an unknown activity": (
        lambda s: s.update(
            {
                "Activities": [
                    ["activity", "kind", "unit_cost", "capacity"],
                    ["REC", "recycling", 5, 10],
                ],
                "ActivityYields": [
                    ["activity", "element", "yield"],
                    ["REC", "Nd", 0.2],
                    ["SUB", "Dy", 0.1],
                ],
            }
        ),
        "ActivityYields!A3: unknown activity 'SUB': not in Activities",
    ),
    "recycling with a negative yield": (
        lambda s: s.update(
            {
                "Activities": [
                    ["activity", "kind", "unit_cost", "capacity"],
                    ["REC", "recycling", 5, 10],
                ],
                "ActivityYields": [["activity", "element", "yield"], ["REC", "Nd", -0.2]],
            }
        ),
        "ActivityYields!C2: yield of recycling must be > 0, got -0.2",
    ),
    "activities without yields sheet": (
        lambda s: s.update(
            {
                "Activities": [
                    ["activity", "kind", "unit_cost", "capacity"],
                    ["REC", "recycling", 5, 10],
                ],
            }
        ),
        "ActivityYields: required sheet is missing (Activities has rows)",
    ),
    "duplicate policy row": (
        _add("Policies", ["china_share_max", "Nd", None, 0.6]),
        "Policies!3:3: the same (china_share_max, Nd, blank) on basis any is given twice",
    ),
    "share policy above 1": (
        _set("Policies", 2, "value", 1.5),
        "Policies!D2: china_share_max must be in [0, 1], got 1.5",
    ),
    "TOTAL for offer_share_max": (
        _add("Policies", ["offer_share_max", "TOTAL", None, 0.6]),
        "Policies!B3: TOTAL applies to china_share_max, country_share_max, risk_max only, "
        "not offer_share_max",
    ),
    "min_offers above the offers of an element": (
        _add("Policies", ["min_offers", "Dy", None, 2]),
        "Policies!D3: min_offers 2 for Dy but it has only 1 offer",
    ),
    "min_offers with a period": (
        _add("Policies", ["min_offers", "Nd", "2026Q1", 1]),
        "Policies!C3: period must be blank for min_offers (it is a horizon-wide rule)",
    ),
    "fractional min_offers": (
        _add("Policies", ["min_offers", "Nd", None, 1.5]),
        "Policies!D3: min_offers must be a whole number >= 0, got 1.5",
    ),
    "unknown policy element": (
        _set("Policies", 2, "element", "Total"),
        "Policies!B2: unknown element 'Total': not in Elements "
        "(ids are case-sensitive: did you mean 'TOTAL'?)",
    ),
    "setting out of range": (
        lambda s: s.update({"Settings": [["key", "value"], ["cvar_alpha", 1]]}),
        "Settings!B2: cvar_alpha must be in [0, 1), got 1",
    ),
    "unknown setting value": (
        lambda s: s.update({"Settings": [["key", "value"], ["china_basis", "origin"]]}),
        "Settings!B2: china_basis must be one of shipment, mining, refining, any, got 'origin'",
    ),
    "disruption of an unknown offer": (
        lambda s: s.update(
            {
                "Scenarios": [["scenario", "probability"], ["base", 0.5], ["stop", 0.5]],
                "Disruptions": [["scenario", "target_type", "target"], ["stop", "offer", "Nd-XX"]],
            }
        ),
        "Disruptions!C2: offer 'Nd-XX' matches nothing in Offers",
    ),
    "disruption of an unknown scenario": (
        lambda s: s.update(
            {"Disruptions": [["scenario", "target_type", "target"], ["stop", "country", "CN"]]}
        ),
        "Disruptions!A2: unknown scenario 'stop': not in Scenarios",
    ),
    "disruption with a bad element filter": (
        lambda s: s.update(
            {
                "Scenarios": [["scenario", "probability"], ["base", 0.5], ["stop", 0.5]],
                "Disruptions": [
                    ["scenario", "target_type", "target", "element"],
                    ["stop", "country", "CN", "medium"],
                ],
            }
        ),
        "Disruptions!D2: element must be blank, an element id, light or heavy; got 'medium'",
    ),
    "zero cost factor": (
        lambda s: s.update(
            {
                "Scenarios": [["scenario", "probability"], ["base", 0.5], ["stop", 0.5]],
                "Disruptions": [
                    ["scenario", "target_type", "target", "cost_factor"],
                    ["stop", "country", "CN", 0],
                ],
            }
        ),
        "Disruptions!D2: cost_factor must be > 0, got 0",
    ),
    "non-positive period length": (
        _set("Periods", 2, "days", 0),
        "Periods!B2: days must be >= 1, got 0",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_workbook_reports_its_cell(
    name: str, hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    mutate, message = BROKEN[name]
    mutate(hand_sheets)
    path = make_workbook(hand_sheets)
    with pytest.raises(InputError) as raised:
        planner.load(path)
    messages = [str(issue) for issue in raised.value.issues]
    assert message in messages, messages


def test_every_problem_is_reported_at_once(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    _set("Offers", 2, "capacity", -5)(hand_sheets)
    _set("Demand", 2, "element", "Xx")(hand_sheets)
    _set("Periods", 3, "days", "ninety")(hand_sheets)
    with pytest.raises(InputError) as raised:
        planner.load(make_workbook(hand_sheets))
    assert [str(issue) for issue in raised.value.issues] == [
        "Periods!B3: days must be a number, got 'ninety'",
        "Offers!H2: capacity must be >= 0, got -5",
        "Demand!A2: unknown element 'Xx': not in Elements",
    ]
    assert "3 problems in the input" in str(raised.value)


def test_warnings_do_not_stop_loading(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    hand_sheets["Offers"][0].append("notes")
    hand_sheets["Scratch"] = [["anything"]]
    hand_sheets["Notes"] = [["note"], ["documentation only"]]
    hand_sheets["OfferPeriods"] = [["offer", "period", "capacity"], ["Nd-MY", "2026Q3", 5]]
    hand_sheets["Periods"].append(["2026Q3", 92])
    hand_sheets["Offers"][0].append("last_period")
    hand_sheets["Offers"][2].extend([None, "2026Q2"])
    hand_sheets["Policies"].append(["offer_share_max", "Nd", None, 0.4])
    case = planner.load(make_workbook(hand_sheets))
    assert [str(w) for w in case.warnings] == [
        "Scratch: unknown sheet, ignored",
        "Offers!J1: unknown column 'notes', ignored",
        "OfferPeriods!B2: 2026Q3 is outside the delivery window of Nd-MY; no effect",
        "Policies!D3: offer_share_max 0.4 is below 1/2 for Nd (2 offers): it forces shortage",
    ]


def test_messy_but_valid_input_is_read_as_meant(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    hand_sheets["Offers"][0] = [f"  {name.upper()} " for name in hand_sheets["Offers"][0]]
    hand_sheets["Offers"][1][6] = " 50.5 "  # numeric text
    hand_sheets["Periods"] = [["period", "days"], [2026, 90], [2027.0, 91]]
    hand_sheets["Demand"] = [
        ["element", "period", "quantity"],
        ["Nd", 2026, 100],
        [None, None, None],
        ["Dy", "2027", 10],
    ]
    hand_sheets["Policies"][1][0] = "China_Share_Max"
    case = planner.load(make_workbook(hand_sheets))
    assert case.period_ids == ["2026", "2027"]
    assert case.offers.loc["Nd-CN", "unit_cost"] == 50.5
    assert case.demand[["element", "period"]].values.tolist() == [["Nd", "2026"], ["Dy", "2027"]]
    assert case.policies["policy"].tolist() == ["china_share_max"]


def _inject_formula(
    path: Path, sheet_index: int, cell: str, formula: str, cached: str | None
) -> None:
    """Rewrite one cell of a saved workbook as a formula, with or without a cached value."""
    import re
    import shutil
    import zipfile

    member = f"xl/worksheets/sheet{sheet_index}.xml"
    copy = path.with_suffix(".tmp")
    shutil.copy(path, copy)
    with zipfile.ZipFile(copy) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == member:
                value = f"<v>{cached}</v>" if cached is not None else ""
                data = re.sub(
                    rf'<c r="{cell}"[^>]*?(/>|>.*?</c>)'.encode(),
                    f'<c r="{cell}"><f>{formula}</f>{value}</c>'.encode(),
                    data,
                )
            target.writestr(item, data)
    copy.unlink()


def test_formula_is_read_by_its_cached_value(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    path = make_workbook(hand_sheets)
    _inject_formula(path, 4, "H2", "50+50", "100")  # Offers is the 4th sheet
    assert planner.load(path).offers.loc["Nd-CN", "capacity"] == 100


def test_formula_without_cached_value_is_an_error(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    path = make_workbook(hand_sheets)
    _inject_formula(path, 4, "H2", "50+50", None)
    with pytest.raises(InputError) as raised:
        planner.load(path)
    assert [str(i) for i in raised.value.issues] == [
        "Offers!H2: formula without a cached value; open and save it in Excel"
    ]


def test_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "plan.xlsx"
    path.write_bytes(b"%PDF-1.4 not a spreadsheet")
    with pytest.raises(InputError) as raised:
        planner.load(path)
    assert [str(i) for i in raised.value.issues] == [
        "plan.xlsx: not an .xlsx workbook (open it in Excel and save it as .xlsx)"
    ]


def test_legacy_format_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "plan.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError) as raised:
        planner.load(path)
    assert str(raised.value.issues[0]) == "plan.xls: '.xls' files are not read: save it as .xlsx"


def test_a_case_modified_in_python_is_checked_before_solving() -> None:
    from tests.conftest import REFERENCE

    case = planner.load(REFERENCE / "case-00-hand.xlsx")
    case.offers.loc["Nd-MY", "capacity"] = -1.0
    with pytest.raises(InputError) as raised:
        planner.solve(case)
    assert [str(i) for i in raised.value.issues] == ["Offers!H3: capacity must be >= 0, got -1"]


# --------------------------------------------------------------------------
# A repeated or blank id together with references to it: reported, never a crash
# --------------------------------------------------------------------------


def _referenced(sheets: Sheets) -> Sheets:
    """The hand case with a reference to every id-keyed sheet from every sheet that can."""
    sheets["Offers"][0].extend(["first_period", "last_period"])
    for row in sheets["Offers"][1:]:
        row.extend(["2026Q1", "2026Q2"])
    sheets["OfferPeriods"] = [["offer", "period", "capacity"], ["Nd-CN", "2026Q2", 90]]
    sheets["Activities"] = [
        ["activity", "kind", "country", "unit_cost", "capacity", "first_period"],
        ["REC", "recycling", "AU", 5, 10, "2026Q1"],
    ]
    sheets["ActivityYields"] = [["activity", "element", "yield"], ["REC", "Nd", 0.2]]
    sheets["Policies"] += [["min_offers", "Nd", None, 1], ["risk_max", "Dy", "2026Q2", 0.95]]
    sheets["Scenarios"] = [["scenario", "probability"], ["base", 0.5], ["stop", 0.5]]
    sheets["Disruptions"] = [
        ["scenario", "target_type", "target", "element", "first_period", "last_period"],
        ["stop", "offer", "Nd-CN", None, "2026Q1", "2026Q2"],
        ["stop", "activity", "REC", "Nd", "2026Q2", None],
        ["stop", "country", "CN", "heavy", None, None],
        ["stop", "supplier", "Lynas", None, None, None],
    ]
    sheets["Sweep"] = [["change", "values"], ["capacity[Nd-CN]", "50,100"]]
    return sheets


#: Sheet -> (row to repeat, the error it gets): each sheet's id is referenced elsewhere.
REPEATED_IDS = {
    "Periods": (2, "Periods!A4: duplicate period '2026Q1' (rows A2, A4); ids must be unique"),
    "Elements": (2, "Elements!A4: duplicate element 'Nd' (rows A2, A4); ids must be unique"),
    "Offers": (2, "Offers!A5: duplicate offer 'Nd-CN' (rows A2, A5); ids must be unique"),
    "Countries": (2, "Countries!A5: duplicate country 'CN' (rows A2, A5); ids must be unique"),
    "Activities": (2, "Activities!A3: duplicate activity 'REC' (rows A2, A3); ids must be unique"),
    "Scenarios": (3, "Scenarios!A4: duplicate scenario 'stop' (rows A3, A4); ids must be unique"),
}


@pytest.mark.parametrize("sheet", sorted(REPEATED_IDS))
def test_a_repeated_id_that_is_referenced_is_reported(
    sheet: str, hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    sheets = _referenced(hand_sheets)
    planner.load(make_workbook(sheets))  # valid before the repeat
    row, message = REPEATED_IDS[sheet]
    sheets[sheet].append(list(sheets[sheet][row - 1]))
    with pytest.raises(InputError) as raised:
        planner.load(make_workbook(sheets))
    assert message in [str(issue) for issue in raised.value.issues]


@pytest.mark.parametrize("sheet", sorted(REPEATED_IDS))
def test_a_blank_id_that_is_repeated_is_reported(
    sheet: str, hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    sheets = _referenced(hand_sheets)
    blank = list(sheets[sheet][1])
    blank[0] = None
    sheets[sheet] += [blank, list(blank)]
    rows = len(sheets[sheet])
    with pytest.raises(InputError) as raised:
        planner.load(make_workbook(sheets))
    messages = [str(issue) for issue in raised.value.issues]
    column = sheets[sheet][0][0]
    assert f"{sheet}!A{rows - 1}: {column} is required" in messages
    assert f"{sheet}!A{rows}: {column} is required" in messages


def test_a_blank_disruption_cell_with_a_repeated_period_is_reported(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    sheets = _referenced(hand_sheets)
    sheets["Disruptions"][2][1] = None  # target_type
    sheets["Periods"].append(["2026Q2", 91])
    with pytest.raises(InputError) as raised:
        planner.load(make_workbook(sheets))
    assert sorted(str(issue) for issue in raised.value.issues) == [
        "Disruptions!B3: target_type is required",
        "Periods!A4: duplicate period '2026Q2' (rows A3, A4); ids must be unique",
    ]


# --------------------------------------------------------------------------
# Magnitudes beyond what HiGHS computes reliably: the cell, before any solve
# --------------------------------------------------------------------------

_TOO_BIG = "; larger numbers are beyond what the solver computes reliably: use a larger unit"

#: (sheet, row, column, value, the error it gets): each once crashed the solve.
HUGE = [
    ("Offers", 2, "capacity", 1e15, f"Offers!H2: capacity must be <= 1e9, got 1e+15{_TOO_BIG}"),
    ("Offers", 3, "unit_cost", 1e300, f"Offers!G3: unit_cost must be <= 1e9, got 1e+300{_TOO_BIG}"),
    ("Demand", 2, "quantity", 1e300, f"Demand!C2: quantity must be <= 1e9, got 1e+300{_TOO_BIG}"),
    (
        "Elements",
        2,
        "shortage_cost",
        1e300,
        f"Elements!D2: shortage_cost must be <= 1e9, got 1e+300{_TOO_BIG}",
    ),
    (
        "Elements",
        3,
        "holding_cost",
        1e15,
        f"Elements!E3: holding_cost must be <= 1e9, got 1e+15{_TOO_BIG}",
    ),
    ("Periods", 2, "days", 1e-9, "Periods!B2: days must be >= 1, got 1e-09"),
]


@pytest.mark.parametrize(("sheet", "row", "column", "value", "message"), HUGE)
def test_a_huge_number_is_refused_with_its_cell(
    sheet: str,
    row: int,
    column: str,
    value: float,
    message: str,
    hand_sheets: Sheets,
    make_workbook: Callable[..., Path],
) -> None:
    _set(sheet, row, column, value)(hand_sheets)
    with pytest.raises(InputError) as raised:
        planner.load(make_workbook(hand_sheets))
    assert [str(issue) for issue in raised.value.issues] == [message]


def test_the_largest_numbers_allowed_still_solve(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    for column, value in (("capacity", 1e9), ("unit_cost", 1e9), ("fixed_cost", 1e12)):
        _set("Offers", 2, column, value)(hand_sheets)
    _set("Demand", 2, "quantity", 1e9)(hand_sheets)
    _set("Elements", 2, "shortage_cost", 1e9)(hand_sheets)
    result = planner.solve(planner.load(make_workbook(hand_sheets)), duals=False)
    assert result.status == "optimal"


def test_a_huge_number_set_in_python_is_refused_before_solving() -> None:
    from tests.conftest import REFERENCE

    case = planner.load(REFERENCE / "case-00-hand.xlsx")
    case.offers.loc["Nd-MY", "capacity"] = 1e20
    case.elements.loc["Dy", "shortage_cost"] = float("inf")
    with pytest.raises(InputError) as raised:
        planner.solve(case)
    assert [str(i) for i in raised.value.issues] == [
        "Elements!D3: shortage_cost must be a finite number, got inf",
        f"Offers!H3: capacity must be <= 1e9, got 1e+20{_TOO_BIG}",
    ]


@pytest.mark.parametrize("command", ["validate", "solve"])
def test_the_cli_names_the_cell_of_a_huge_number(
    command: str, hand_sheets: Sheets, make_workbook: Callable[..., Path], tmp_path: Path
) -> None:
    import subprocess
    import sys

    _set("Offers", 2, "capacity", 1e15)(hand_sheets)
    path = make_workbook(hand_sheets)
    arguments = [str(path)] + (["-o", str(tmp_path / "out.xlsx")] if command == "solve" else [])
    run = subprocess.run(
        [sys.executable, "-m", "planner", command, *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2, run.stderr
    assert "Offers!H2: capacity must be <= 1e9, got 1e+15" in run.stderr
    assert not (tmp_path / "out.xlsx").exists()


def test_a_misspelt_header_is_one_message_at_its_cell(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    index = _column(hand_sheets, "Offers", "unit_cost")
    hand_sheets["Offers"][0][index] = "Unit cost"
    hand_sheets["Offers"][0].append("Capcity notes")
    with pytest.raises(InputError) as raised:
        planner.load(make_workbook(hand_sheets))
    assert [str(issue) for issue in raised.value.issues] == [
        "Offers!G1: unknown column 'Unit cost'; did you mean 'unit_cost'?"
    ]
    assert [str(w) for w in raised.value.warnings] == [
        "Offers!J1: unknown column 'Capcity notes', ignored"
    ]


def test_an_unknown_header_near_an_optional_column_gets_a_hint(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    hand_sheets["Offers"][0].append("min take")
    hand_sheets["Offers"][1].append(5)
    case = planner.load(make_workbook(hand_sheets))
    assert [str(w) for w in case.warnings] == [
        "Offers!J1: unknown column 'min take', ignored; did you mean 'min_take'?"
    ]


def test_a_cover_target_above_the_storage_cap_is_a_warning_naming_the_cover_cell(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    """Two inputs that contradict each other: the cover penalty would be paid every period."""
    hand_sheets["Elements"][0] += ["storage_capacity", "cover_days"]
    hand_sheets["Elements"][1] += [40, 30]  # Nd: 30 days of 100 t a quarter = 33 t, fits in 40
    hand_sheets["Elements"][2] += [3, 20]  # Dy: 20 days of 15 t in 91 days = 3.3 t, above 3
    case = planner.load(make_workbook(hand_sheets))
    assert [str(w) for w in case.warnings] == [
        "Elements!G3: the cover target reaches 3.297 in 2026Q2, above storage_capacity 3: the "
        "cover penalty is paid in every period it cannot be met; lower cover_days or raise "
        "storage_capacity"
    ]
    hand_sheets["Elements"][2][-2] = 4
    assert planner.load(make_workbook(hand_sheets)).warnings == []


def _tiers(*rows: list[Any]) -> Callable[[Sheets], None]:
    return lambda sheets: sheets.update(
        {"ShortageTiers": [["element", "use", "share", "cost"], *rows]}
    )


def _budget(value: Any) -> Callable[[Sheets], None]:
    return lambda sheets: sheets.update(
        {"Settings": [["key", "value"], ["stock_value_max", value]]}
    )


#: v3 B1 (ShortageTiers) and B3 (stock_value_max): each rule with its exact message.
BROKEN_V3 = {
    "tier shares over 1": (
        _tiers(["Nd", "glass", 0.6, 10], ["Nd", "polishing", 0.5, 20]),
        "ShortageTiers!C3: the shares of Nd sum to 1.1; they must sum to at most 1 (the rest of "
        "the requirement costs its shortage_cost)",
    ),
    "shortage_cost below a tier cost, at the Elements cell": (
        _tiers(["Nd", "glass", 0.5, 300]),
        "Elements!D2: shortage_cost 200 of Nd is below the cost of its tier ShortageTiers!D2 (up "
        "to 300); it prices the uses cut last, so it must be at least every tier cost",
    ),
    "shortage_cost below a tier cost, at the tier's cell": (
        _tiers(["Nd", "glass", 0.5, 300]),
        "ShortageTiers!D2: tier cost 300 is above the shortage_cost 200 of Nd (Elements!D2); the "
        "uses cut last must cost the most",
    ),
    "tier use other": (
        _tiers(["Nd", "Other", 0.5, 10]),
        "ShortageTiers!B2: use 'other' is reserved for the rest of Nd's requirement (priced at its "
        "shortage_cost); name this use otherwise",
    ),
    "tier use twice": (
        _tiers(["Dy", "motors", 0.2, 10], ["Dy", "motors", 0.2, 20]),
        "ShortageTiers!B3: use 'motors' of Dy is given twice (also ShortageTiers!B2)",
    ),
    "blank tier use named like another": (
        _tiers(["Dy", None, 0.2, 10], ["Dy", "tier 1", 0.2, 20]),
        "ShortageTiers!B3: use 'tier 1' of Dy is given twice (also ShortageTiers!B2)",
    ),
    "tier share of 0": (
        _tiers(["Dy", "motors", 0, 10]),
        "ShortageTiers!C2: share must be > 0, got 0",
    ),
    "tier of an unknown element": (
        _tiers(["Tb", "motors", 0.5, 10]),
        "ShortageTiers!A2: unknown element 'Tb': not in Elements",
    ),
    "budget of 0": (_budget(0), "Settings!B2: stock_value_max must be > 0, got 0"),
    "budget without reference prices": (
        _budget(1000),
        "Elements!2:2: reference_price of Nd is required: Settings stock_value_max "
        "(Settings!B2) values the stock at reference prices",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN_V3))
def test_broken_v3_tiers_or_budget_reports_its_cell(
    name: str, hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    mutate, message = BROKEN_V3[name]
    mutate(hand_sheets)
    with pytest.raises(InputError) as raised:
        planner.load(make_workbook(hand_sheets))
    messages = [str(issue) for issue in raised.value.issues]
    assert message in messages, messages


def test_cover_targets_worth_more_than_the_stock_budget_are_a_warning_naming_the_budget(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    """Nd 32.97 t at 1 and Dy 3.297 t at 10: 65.93 of stock the budget of 60 cannot hold."""
    hand_sheets["Elements"][0] += ["reference_price", "cover_days"]
    hand_sheets["Elements"][1] += [1, 30]  # Nd: 30 days of 100 t in 91 days = 33 t, worth 33
    hand_sheets["Elements"][2] += [10, 20]  # Dy: 20 days of 15 t in 91 days = 3.3 t, worth 33
    hand_sheets["Settings"] = [["key", "value"], ["stock_value_max", 60]]
    case = planner.load(make_workbook(hand_sheets))
    assert [str(w) for w in case.warnings] == [
        "Settings!B2: the cover targets are worth 65.93 in 2026Q2 at reference prices, above "
        "stock_value_max 60: the cover penalty is paid in every period they cannot be met; "
        "lower cover_days or raise the budget"
    ]
    hand_sheets["Settings"][1][1] = 70
    assert planner.load(make_workbook(hand_sheets)).warnings == []
