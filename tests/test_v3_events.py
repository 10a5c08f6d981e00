"""v3 B4: scenarios made from independent groups of alternative events (sheet Events).

The hand cases of tests/data/reference/v3/README.md ("v3-b4-events",
"v3-b4-event-groups") and their variants, the generated scenario list, every
validation error with its cell, and sweeps over an event's probability.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

import planner
from planner.errors import InputError
from planner.events import DISRUPTION_COLUMNS, event_scenarios, scenario_tables
from planner.model import derive
from tests.conftest import REFERENCE

V3 = REFERENCE / "v3"
EVENTS = V3 / "v3-b4-events.xlsx"
GROUPS = V3 / "v3-b4-event-groups.xlsx"

Sheets = dict[str, list[list[Any]]]


def _expected(name: str) -> float:
    objective: float = json.loads((V3 / "expected.json").read_text())[name]["objective"]
    return objective


def _sheets(path: Path) -> Sheets:
    """The rows of every sheet of a workbook, to change and write again."""
    book = openpyxl.load_workbook(path)
    return {sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book}


def _objective(path: Path) -> float:
    result = planner.solve(planner.load(path), mip_gap=0.0)
    assert result.status == "optimal"
    return result.objective


def _listed(result_or_case: Any) -> list[tuple[str, float, str]]:
    table = result_or_case.tables["Scenarios"]
    return [
        (w, round(p, 12), e if isinstance(e, str) else "")
        for w, p, e in zip(table["scenario"], table["probability"], table["events"], strict=True)
    ]


def result_data(result: Any) -> Any:
    """The model data a result was solved from."""
    return derive(result.case)


# --------------------------------------------------------------------------- the hand cases


@pytest.mark.parametrize("path", [EVENTS, GROUPS], ids=lambda p: p.stem)
def test_hand_case_reaches_its_objective(path: Path) -> None:
    assert _objective(path) == pytest.approx(_expected(path.name), rel=1e-6)


def test_two_independent_events_make_four_scenarios_in_nested_order() -> None:
    result = planner.solve(planner.load(EVENTS), mip_gap=0.0)
    assert _listed(result) == [
        ("base", 0.4, ""),
        ("B", 0.1, "B"),
        ("A", 0.4, "A"),
        ("A+B", 0.1, "A+B"),
    ]
    periods = [result_data(result).periods[node.period] for node in result_data(result).nodes]
    assert periods == ["P1", "P2", "P2", "P2", "P2"]  # the tree splits in P2


def test_a_group_of_alternatives_and_an_event_with_two_rows() -> None:
    result = planner.solve(planner.load(GROUPS), mip_gap=0.0)
    assert _listed(result) == [
        ("base", 0.25, ""),
        ("au_up", 0.25, "au_up"),
        ("short", 0.15, "short"),
        ("short+au_up", 0.15, "short+au_up"),
        ("long", 0.1, "long"),
        ("long+au_up", 0.1, "long+au_up"),
    ]
    data = result_data(result)
    in_p2 = sorted(
        sorted(data.scenarios[w] for w in node.scenarios) for node in data.nodes if node.period == 1
    )
    # short and long look the same in P2; they split in P3
    assert ["long", "short"] in in_p2
    assert ["long+au_up", "short+au_up"] in in_p2
    assert sum(node.period == 2 for node in data.nodes) == 6
    # the Scenarios sheet of the solution workbook, base's events blank
    _, disruptions = scenario_tables(result.case)
    assert disruptions.loc[disruptions["scenario"] == "long", "_row"].tolist() == [3, 5]


def test_alternatives_read_as_independent_change_the_plan(
    make_workbook: Callable[..., Path],
) -> None:
    """README's variant: long in a group of its own makes P(stop in P2) 0.44, so no stock."""
    sheets = _sheets(GROUPS)
    sheets["Events"][2][2] = None  # long's group: its own
    path = make_workbook(sheets)
    case = planner.load(path)
    probabilities = {s.id: s.probability for s in event_scenarios(case)}
    assert probabilities["base"] == pytest.approx(0.7 * 0.8 * 0.5)
    assert probabilities["short+long"] == pytest.approx(0.3 * 0.2 * 0.5)
    assert len(probabilities) == 8
    assert _objective(path) == pytest.approx(7920, rel=1e-6)
    grouped = planner.solve(planner.load(GROUPS), mip_gap=0.0)
    independent = planner.solve(case, mip_gap=0.0)
    stock_p1 = {
        name: float(r.tables["Stock"].loc[r.tables["Stock"]["period"] == "P1", "stock"].iloc[0])
        for name, r in (("grouped", grouped), ("independent", independent))
    }
    assert stock_p1 == pytest.approx({"grouped": 50.0, "independent": 0.0}, abs=1e-6)


def test_group_naming_an_event_joins_its_group(make_workbook: Callable[..., Path]) -> None:
    sheets = _sheets(GROUPS)
    sheets["Events"][1][2] = None  # short: its own group ...
    sheets["Events"][2][2] = "short"  # ... which long joins
    path = make_workbook(sheets)
    assert [s.id for s in event_scenarios(planner.load(path))] == [
        "base",
        "au_up",
        "short",
        "short+au_up",
        "long",
        "long+au_up",
    ]
    assert _objective(path) == pytest.approx(8050, rel=1e-6)


def test_without_event_b(make_workbook: Callable[..., Path]) -> None:
    """README: A alone, base 0.5 and A 0.5: 2,300."""
    sheets = _sheets(EVENTS)
    sheets["Events"] = sheets["Events"][:2]
    path = make_workbook(sheets)
    assert [(s.id, s.probability) for s in event_scenarios(planner.load(path))] == [
        ("base", 0.5),
        ("A", 0.5),
    ]
    assert _objective(path) == pytest.approx(2300, rel=1e-6)


def test_a_certain_group_drops_its_none(make_workbook: Callable[..., Path]) -> None:
    """none within 1e-9 of 0 is 0: no scenario without a stop."""
    sheets = _sheets(GROUPS)
    sheets["Events"][1][1] = 0.8 - 1e-12  # short; long 0.2
    case = planner.load(make_workbook(sheets))
    assert [s.id for s in event_scenarios(case)] == ["short", "short+au_up", "long", "long+au_up"]


def test_a_changed_probability_solves_again_from_the_case() -> None:
    case = planner.load(EVENTS)
    certain = case.copy()
    certain.events.loc[certain.events["event"] == "A", "probability"] = 1.0
    assert [s.id for s in event_scenarios(certain)] == ["A", "A+B"]
    # A certain: P2 costs 20 or 40 (expected 24) against 11 stocked: 1,550 + 1,200
    assert planner.solve(certain, mip_gap=0.0).objective == pytest.approx(2750, rel=1e-6)
    assert planner.solve(case, mip_gap=0.0).objective == pytest.approx(2400, rel=1e-6)
    assert len(planner.load(EVENTS).events) == 2  # the case keeps Events as written


def test_sweep_over_an_event_probability() -> None:
    """In place (same scenarios) and rebuilt (a certain event drops base): both right."""
    case = planner.load(EVENTS)
    case.settings.mip_gap = 0.0
    study = planner.sweep(case, {"probability[B]": [0.2, 0.5], "probability[A]": [0.5, 1.0]})
    objectives = {
        (row["probability[B]"], row["probability[A]"]): row["objective"]
        for row in study.table.to_dict("records")
    }
    # B 0.5, A 0.5: P2 costs 10, 10, 20, 40 (0.25 each); 1,550 + 1,000
    # A 1.0: B 0.2 -> 2,750 (above); B 0.5 -> 1,550 + 0.5 x 1,000 + 0.5 x 2,000
    assert objectives == pytest.approx(
        {(0.2, 0.5): 2400, (0.5, 0.5): 2550, (0.2, 1.0): 2750, (0.5, 1.0): 3050}, rel=1e-6
    )


# --------------------------------------------------------------------------- validation

EVENT_HEADER = ["event", "probability", "group", *DISRUPTION_COLUMNS]


def _events(*rows: list[Any]) -> Callable[[Sheets], None]:
    def mutate(sheets: Sheets) -> None:
        sheets["Events"] = [EVENT_HEADER, *(list(row) for row in rows)]

    return mutate


def _cell(row: int, column: int, value: Any) -> Callable[[Sheets], None]:
    def mutate(sheets: Sheets) -> None:
        sheets["Events"][row - 1][column - 1] = value

    return mutate


def _add(sheet: str, *rows: list[Any]) -> Callable[[Sheets], None]:
    def mutate(sheets: Sheets) -> None:
        sheets[sheet] = [list(row) for row in rows]

    return mutate


STOP = ["country", "CN", None, "P2", "P2", 0, None, None]
BROKEN: dict[str, tuple[Callable[[Sheets], None], list[str]]] = {
    "probability blank on the first row": (
        _cell(2, 2, None),
        ["Events!B2: probability is required on the first row of event 'A'"],
    ),
    "probability 0": (_cell(2, 2, 0), ["Events!B2: probability must be > 0, got 0"]),
    "probability above 1": (_cell(2, 2, 1.5), ["Events!B2: probability must be <= 1, got 1.5"]),
    "a later row's probability differs": (
        _events(["A", 0.5, None, *STOP], ["A", 0.4, None, *STOP]),
        [
            "Events!B3: probability 0.4 differs from 0.5 on the first row of event 'A' "
            "(Events!B2); leave it blank"
        ],
    ),
    "a later row's group differs": (
        _events(["A", 0.5, "g", *STOP], ["A", None, "h", *STOP]),
        [
            "Events!C3: group 'h' differs from g on the first row of event 'A' (Events!C2); "
            "leave it blank"
        ],
    ),
    "a group's probabilities over 1": (
        _events(["A", 0.6, "g", *STOP], ["B", 0.5, "g", *STOP]),
        [
            "Events!B2: the events of group 'g' (A, B) are alternatives: their probabilities "
            "sum to 1.1, more than 1",
            "Events!B3: the events of group 'g' (A, B) are alternatives: their probabilities "
            "sum to 1.1, more than 1",
        ],
    ),
    "event id base": (
        _cell(2, 1, "base"),
        [
            "Events!A2: event id 'base' cannot be used: 'base' names the scenario without events "
            "and '+' joins event ids in scenario ids"
        ],
    ),
    "event id with +": (
        _cell(3, 1, "B+C"),
        [
            "Events!A3: event id 'B+C' cannot be used: 'base' names the scenario without events "
            "and '+' joins event ids in scenario ids"
        ],
    ),
    "group names an event in another group": (
        _events(["A", 0.2, "g", *STOP], ["B", 0.2, "A", *STOP]),
        [
            "Events!C3: group 'A' is the id of event 'A', which is in group 'g': write 'g' to "
            "make them alternatives"
        ],
    ),
    "an unknown offer": (
        _cell(3, 5, "Nd-XX"),
        ["Events!E3: offer 'Nd-XX' matches nothing in Offers"],
    ),
    "beside Scenarios rows": (
        _add("Scenarios", ["scenario", "probability"], ["base", 1]),
        [
            "Scenarios: the workbook has Events rows: the events make the scenarios, so "
            "Scenarios must be empty (delete its rows, or the Events rows)"
        ],
    ),
    "beside Disruptions rows": (
        _add("Disruptions", ["scenario", "target_type", "target"], ["base", "country", "CN"]),
        [
            "Disruptions: the workbook has Events rows: each event's rows are its disruptions, "
            "so Disruptions must be empty (move its rows to Events, or delete the Events rows)"
        ],
    ),
    "more combinations than max_scenarios": (
        _add("Settings", ["key", "value"], ["max_scenarios", 3]),
        [
            "Events: the events make 4 scenarios (combinations of positive probability), more "
            "than Settings max_scenarios 3; raise max_scenarios or join events into groups of "
            "alternatives"
        ],
    ),
    "max_scenarios not whole": (
        _add("Settings", ["key", "value"], ["max_scenarios", 2.5]),
        ["Settings!B2: max_scenarios must be a whole number >= 1, got 2.5"],
    ),
    "max_scenarios 0": (
        _add("Settings", ["key", "value"], ["max_scenarios", 0]),
        ["Settings!B2: max_scenarios must be in [1, 10000], got 0"],
    ),
    "last before first": (
        _events(["A", 0.5, None, "country", "CN", None, "P2", "P1", 0]),
        ["Events!H2: last_period 'P1' is before first_period 'P2'"],
    ),
    "an unknown target type": (
        _cell(2, 4, "port"),
        [
            "Events!D2: target_type must be one of country, supplier, offer, activity, demand, "
            "got 'port'"
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_events_report_their_cells(name: str, make_workbook: Callable[..., Path]) -> None:
    mutate, messages = BROKEN[name]
    sheets = _sheets(EVENTS)
    mutate(sheets)
    with pytest.raises(InputError) as caught:
        planner.load(make_workbook(sheets))
    errors = [str(issue) for issue in caught.value.issues if issue.severity == "error"]
    assert errors == messages


def test_every_events_problem_at_once(make_workbook: Callable[..., Path]) -> None:
    sheets = _sheets(GROUPS)
    sheets["Events"][1][1] = 0.9  # short: cn_stop sums to 1.1
    sheets["Events"][4][1] = 0.3  # long's second row differs
    sheets["Events"][3][0] = "base"  # au_up renamed
    sheets["Settings"] = [["key", "value"], ["max_scenarios", 2]]
    with pytest.raises(InputError) as caught:
        planner.load(make_workbook(sheets))
    where = sorted(issue.where for issue in caught.value.issues if issue.severity == "error")
    assert where == ["Events", "Events!A4", "Events!B2", "Events!B3", "Events!B5"]


# --------------------------------------------------------------------------- template


def test_the_template_documents_events_without_a_row_that_would_be_read(tmp_path: Path) -> None:
    from planner.io.template import write_template

    path = write_template(tmp_path / "template.xlsx")
    book = openpyxl.load_workbook(path)
    events = book["Events"]
    assert [c.value for c in events[1]] == EVENT_HEADER
    assert events.max_row == 1  # no row to read
    dropdowns = {str(v.sqref): v.formula1 for v in events.data_validations.dataValidation}
    assert dropdowns["D2:D1000"] == '"country,supplier,offer,activity,demand"'
    assert "at most one happens" in events["C1"].comment.text
    instructions = [row for row in book["Instructions"].iter_rows(values_only=True)]
    example = [row[2:5] for row in instructions if row[2] in ("cn_dy_quarter", "cn_dy_year")]
    assert example == [
        ("cn_dy_quarter", 0.3, "cn_dy"),
        ("cn_dy_year", 0.1, "cn_dy"),
        ("cn_dy_year", None, None),
    ]
    settings = {row[0]: row[1] for row in book["Settings"].iter_rows(min_row=2, values_only=True)}
    assert settings["max_scenarios"] == 256


def test_exploding_combinations_are_counted_not_made(make_workbook: Callable[..., Path]) -> None:
    """30 independent events: 2^30 scenarios, refused before any is made."""
    sheets = _sheets(EVENTS)
    sheets["Events"] = [EVENT_HEADER] + [[f"e{k}", 0.5, None, *STOP] for k in range(30)]
    with pytest.raises(InputError) as caught:
        planner.load(make_workbook(sheets))
    assert [str(i) for i in caught.value.issues if i.severity == "error"] == [
        "Events: the events make 1,073,741,824 scenarios (combinations of positive probability), "
        "more than Settings max_scenarios 256; raise max_scenarios or join events into groups "
        "of alternatives"
    ]


def test_a_change_naming_no_event_is_refused() -> None:
    from planner.changes import ChangeError, apply_change

    case = planner.load(EVENTS)
    with pytest.raises(ChangeError, match="no event 'C' in Events"):
        apply_change(case, "probability[C]", 0.5)
    apply_change(case, "cost_factor[B]", 3.0)
    assert case.events.loc[case.events["event"] == "B", "cost_factor"].tolist() == [3.0]
    # B at cost 3: A+B's AU costs 60 in P2; 0.5 x 10 + 0.4 x 20 + 0.1 x 60 = 19 saved per t
    assert planner.solve(case, mip_gap=0.0).objective == pytest.approx(2500, rel=1e-6)


def test_the_solution_workbook_lists_the_scenarios_events_made(tmp_path: Path) -> None:
    result = planner.solve(planner.load(EVENTS), mip_gap=0.0)
    book = openpyxl.load_workbook(result.write(tmp_path / "plan.xlsx"))
    rows = list(book["Scenarios"].iter_rows(values_only=True))
    assert rows == [
        ("scenario", "probability", "events"),
        ("base", 0.4, None),
        ("B", 0.1, "B"),
        ("A", 0.4, "A"),
        ("A+B", 0.1, "A+B"),
    ]
    plain = planner.solve(planner.load(REFERENCE / "case-00-hand.xlsx"))
    assert "Scenarios" not in plain.tables


def test_derive_reads_each_events_row_once_for_all_its_scenarios() -> None:
    from planner.events import scenario_set

    made = scenario_set(planner.load(GROUPS))
    assert len(made.disruptions) == 4  # the Events rows, not one copy per scenario (9)
    assert made.applies_to == [
        ["short", "short+au_up"],
        ["long", "long+au_up"],
        ["au_up", "short+au_up", "long+au_up"],
        ["long", "long+au_up"],
    ]
