"""Scenarios made from Events (models/sourcing/formulation.md, v3 B4).

A workbook may list *events* ("China stops Dy and Tb from Q3", "Lynas is
down for a quarter") instead of combined scenarios. Each event has a
probability; the events of one group are alternatives (at most one
happens) and groups are independent. A group with events e_1..e_j has the
outcomes none (probability ``1 - sum p``) and each e_i (p_i); the scenarios
are every combination of one outcome per group.

This module is the one place that turns the Events table, as the user
wrote it, into the Scenarios and Disruptions tables the model reads
(:func:`scenario_tables`): the model's ``derive``, the results, the writer,
sweeps and roll all see the same list. The case keeps Events as written,
so that a change to an event's probability (in Python or in a sweep) makes
the scenarios anew. Its checks (:func:`check_events`) name the Events
cells, never a generated row.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from planner.data import ROW, Case
from planner.errors import Issue
from planner.locate import Locator, is_blank, records

#: Probabilities of one event's rows are equal within this; a group's ``none``
#: within this of 0 is 0, and its probabilities may sum to 1 plus this.
PROBABILITY_TOLERANCE = 1e-9
#: The id of the scenario in which no event happens (an event cannot take it).
BASE = "base"
#: Joins the ids of the events of a scenario (an event id cannot contain it).
JOIN = "+"
#: The columns an Events row shares with a Disruptions row.
DISRUPTION_COLUMNS = (
    "target_type",
    "target",
    "element",
    "first_period",
    "last_period",
    "capacity_factor",
    "cost_factor",
    "cover_factor",
)


@dataclass(frozen=True)
class Event:
    """One event: its id, probability, group and the labels of its Events rows."""

    id: str
    probability: float  # NaN where the first row has none (an error of the checks)
    group: str
    rows: tuple[Any, ...]


@dataclass(frozen=True)
class Group:
    """Alternative events: at most one of them happens."""

    name: str
    events: tuple[Event, ...]

    @property
    def none_probability(self) -> float:
        """Probability that no event of the group happens (0 within the tolerance)."""
        rest = 1.0 - math.fsum(e.probability for e in self.events if not math.isnan(e.probability))
        return 0.0 if rest <= PROBABILITY_TOLERANCE else rest

    def outcomes(self) -> list[tuple[Event | None, float]]:
        """Return the outcomes of positive probability: none first, then the events in row order."""
        found: list[tuple[Event | None, float]] = []
        if self.none_probability > 0:
            found.append((None, self.none_probability))
        found += [(e, e.probability) for e in self.events if not e.probability <= 0]
        return found


@dataclass(frozen=True)
class Scenario:
    """A scenario made from events: its id, probability and the events that happen."""

    id: str
    probability: float
    events: tuple[str, ...]


def has_events(case: Case) -> bool:
    """Whether the case's scenarios come from its Events sheet."""
    return not case.events.empty


def _text(value: Any) -> str:
    return "" if is_blank(value) else str(value).strip()


def event_groups(events: pd.DataFrame) -> list[Group]:
    """Read the events and their groups, in the order of their first rows.

    An event's probability and group are those of its first row; a blank
    group is the event's own id, so ``group = X`` joins the group of event X
    when X's group is blank. Lenient with invalid tables (the checks report
    them): a blank probability is NaN, rows without an id are skipped.
    """
    rows: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    for label, record in records(events):
        ident = _text(record.get("event"))
        if ident:
            rows.setdefault(ident, []).append((label, record))
    members: dict[str, list[Event]] = {}
    for ident, own in rows.items():
        first = own[0][1]
        probability: Any = first.get("probability")
        event = Event(
            id=ident,
            probability=float("nan") if is_blank(probability) else float(probability),
            group=_text(first.get("group")) or ident,
            rows=tuple(label for label, _ in own),
        )
        members.setdefault(event.group, []).append(event)
    return [Group(name, tuple(found)) for name, found in members.items()]


def count_scenarios(groups: Iterable[Group]) -> int:
    """Count the combinations of positive probability (counted, not made)."""
    return math.prod(len(group.outcomes()) for group in groups)


def generate(groups: list[Group]) -> list[Scenario]:
    """Every combination of one outcome per group, the first group outermost.

    A scenario's probability is the product of its outcomes'; its id is the
    ids of its events joined by ``+`` in group order, ``base`` when none
    happens. Outcomes of probability 0 make no scenario.
    """
    scenarios = []
    for combination in itertools.product(*(group.outcomes() for group in groups)):
        happening = tuple(event.id for event, _ in combination if event is not None)
        probability = math.prod(p for _, p in combination)
        scenarios.append(Scenario(JOIN.join(happening) or BASE, probability, happening))
    return scenarios


def event_scenarios(case: Case) -> list[Scenario]:
    """Return the scenarios the case's Events make (empty without Events)."""
    return generate(event_groups(case.events)) if has_events(case) else []


def scenario_tables(case: Case) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the Scenarios and Disruptions tables the model reads.

    Without Events those of the case; with them, the scenarios the events
    make and, for each, the rows of its events (in scenario order, then row
    order). A generated Disruptions row keeps its Events row in ``_row`` and
    its event in ``event``.
    """
    if not has_events(case):
        return case.scenarios, case.disruptions
    made = event_scenarios(case)
    scenarios = _scenario_frame(made)
    table = case.events
    rows_of = {event.id: event.rows for group in event_groups(table) for event in group.events}
    labels: list[Any] = []
    names: list[str] = []
    for scenario in made:
        for event in scenario.events:
            labels += rows_of[event]
            names += [scenario.id] * len(rows_of[event])
    disruptions = table.loc[labels, [ROW, "event", *DISRUPTION_COLUMNS]].reset_index(drop=True)
    disruptions.insert(1, "scenario", pd.Series(names, dtype=object))
    return scenarios, disruptions


def _scenario_frame(made: list[Scenario]) -> pd.DataFrame:
    """Return a Scenarios table of the scenarios made (``_row`` blank: no workbook row)."""
    scenarios = pd.DataFrame(
        {ROW: pd.array([pd.NA] * len(made), dtype="Int64")},
        index=pd.Index([s.id for s in made], name="scenario", dtype=object),
    )
    scenarios["probability"] = [s.probability for s in made]
    return scenarios


@dataclass(frozen=True)
class ScenarioSet:
    """The scenarios the model solves and the disruption rows of each, without repeating rows.

    ``disruptions`` holds each row once (the Disruptions rows, or the Events
    rows), and ``applies_to[i]`` the ids of the scenarios row i applies to:
    an Events row applies to every scenario in which its event happens, so a
    row is read once however many scenarios share it.
    """

    scenarios: pd.DataFrame  # indexed by scenario id, with ``probability``
    disruptions: pd.DataFrame
    applies_to: list[list[str]]


def scenario_set(case: Case) -> ScenarioSet:
    """Return the scenarios and disruption rows the model reads (:class:`ScenarioSet`)."""
    if not has_events(case):
        applies = [[str(w)] for w in case.disruptions["scenario"]]
        return ScenarioSet(case.scenarios, case.disruptions, applies)
    made = event_scenarios(case)
    happening: dict[str, list[str]] = {}
    for scenario in made:
        for event in scenario.events:
            happening.setdefault(event, []).append(scenario.id)
    table = case.events
    applies = [happening.get(_text(event), []) for event in table["event"]]
    return ScenarioSet(_scenario_frame(made), table, applies)


def scenario_probability(case: Case) -> pd.Series:
    """Return the probability of each scenario the model solves, by scenario id."""
    table = _scenario_frame(event_scenarios(case)) if has_events(case) else case.scenarios
    probability: pd.Series = table["probability"]
    return probability


def scenarios_table(case: Case) -> pd.DataFrame:
    """Return the output sheet Scenarios: ``scenario, probability, events`` (or empty)."""
    made = event_scenarios(case)
    return pd.DataFrame(
        {
            "scenario": [s.id for s in made],
            "probability": [s.probability for s in made],
            "events": [JOIN.join(s.events) or None for s in made],
        },
        columns=["scenario", "probability", "events"],
    )


class NotIndependent(ValueError):
    """Scenarios kept by a roll that independent groups of events cannot describe."""


def condition(case: Case, kept: Iterable[str]) -> dict[str, float]:
    """Return each event's probability given that one of the scenarios ``kept`` happens.

    A roll keeps the scenarios of the first-period node that happened. In
    each group the outcomes still possible are those of the kept scenarios;
    each event's probability is divided by theirs (none's included), as a
    roll of Scenarios rescales the probabilities kept: an event seen in the
    first period becomes certain, its alternatives are dropped, a group
    nothing told apart keeps its probabilities. Events no longer possible
    are left out of the answer.

    Raises
    ------
    NotIndependent
        When the kept scenarios are not every combination of the outcomes
        still possible (two events of different groups that the first period
        cannot tell apart): the conditioned groups would not be independent.
    """
    groups = event_groups(case.events)
    made = generate(groups)
    wanted = set(kept)

    def outcome(scenario: Scenario, group: Group) -> str | None:
        return next((e.id for e in group.events if e.id in scenario.events), None)

    possible = [{outcome(s, group) for s in made if s.id in wanted} for group in groups]
    product = {
        s.id
        for s in made
        if all(
            outcome(s, group) in allowed for group, allowed in zip(groups, possible, strict=True)
        )
    }
    if product != wanted:
        raise NotIndependent(
            "the scenarios kept are not every combination of the events still possible: "
            + ", ".join(sorted(product - wanted))
            + " would come back"
        )
    probabilities: dict[str, float] = {}
    for group, allowed in zip(groups, possible, strict=True):
        weights = {o: p for o, p in ((e.id if e else None, p) for e, p in group.outcomes())}
        total = math.fsum(weights[o] for o in allowed)
        for event in group.events:
            if event.id in allowed:
                probabilities[event.id] = min(1.0, weights[event.id] / total)
    return probabilities


def scenario_named(case: Case, name: str) -> str | None:
    """Return the scenario made from Events that ``name`` means: its events in any order.

    ``A+B`` and ``B + A`` name the same scenario; ``base`` (or a blank name)
    the one without events. None when no scenario has exactly those events.
    """
    wanted = {part.strip() for part in name.split(JOIN) if part.strip()} - {BASE}
    return next((s.id for s in event_scenarios(case) if set(s.events) == wanted), None)


# --------------------------------------------------------------------------- checks


def check_events(case: Case) -> list[Issue]:
    """Check the Events sheet (B4), naming its cells; all problems at once.

    Events beside Scenarios or Disruptions rows; an event's probability on
    its first row (later rows blank or equal within 1e-9); its group on its
    first row (later rows blank or equal); ids that cannot make scenario
    ids; a group's probabilities over 1; ``group`` naming an event that is
    itself in another group; more scenarios than Settings max_scenarios.
    """
    where = Locator(case)
    issues = _check_max_scenarios(case, where)
    if not has_events(case):
        return issues
    issues += _beside(case, where)
    table = case.events
    groups = event_groups(table)
    events = {event.id: event for group in groups for event in group.events}
    for event in events.values():
        issues += _check_event(table, where, event, events)
    for group in groups:
        if not all(0 < e.probability <= 1 for e in group.events):
            continue  # a probability out of range is reported at its cell
        total = math.fsum(e.probability for e in group.events)
        if total > 1 + PROBABILITY_TOLERANCE:
            named = ", ".join(e.id for e in group.events)
            issues += [
                Issue(
                    where.cell("Events", "probability", event.rows[0]),
                    f"the events of group {group.name!r} ({named}) are alternatives: their "
                    f"probabilities sum to {total:.10g}, more than 1",
                )
                for event in group.events
            ]
    count = count_scenarios(groups)
    limit = float(case.settings.max_scenarios)
    if limit >= 1 and limit.is_integer() and count > limit:
        issues.append(
            Issue(
                where.title("Events"),
                f"the events make {count:,} scenarios (combinations of positive probability), "
                f"more than Settings max_scenarios {_limit(case):,}; raise max_scenarios or "
                "join events into groups of alternatives",
            )
        )
    return issues


def _limit(case: Case) -> int:
    return int(case.settings.max_scenarios)


def _check_max_scenarios(case: Case, where: Locator) -> list[Issue]:
    value = float(case.settings.max_scenarios)
    if value >= 1 and not value.is_integer():
        return [
            Issue(
                where.setting("max_scenarios"),
                f"max_scenarios must be a whole number >= 1, got {value:g}",
            )
        ]
    return []


def _beside(case: Case, where: Locator) -> list[Issue]:
    issues = []
    scenarios = case.scenarios
    default = (
        len(scenarios) == 1
        and list(scenarios.index) == [BASE]
        and (ROW not in scenarios.columns or scenarios[ROW].isna().all())
    )
    if not default:
        issues.append(
            Issue(
                where.title("Scenarios"),
                "the workbook has Events rows: the events make the scenarios, so Scenarios "
                "must be empty (delete its rows, or the Events rows)",
            )
        )
    if not case.disruptions.empty:
        issues.append(
            Issue(
                where.title("Disruptions"),
                "the workbook has Events rows: each event's rows are its disruptions, so "
                "Disruptions must be empty (move its rows to Events, or delete the Events rows)",
            )
        )
    return issues


def _check_event(
    table: pd.DataFrame, where: Locator, event: Event, events: dict[str, Event]
) -> list[Issue]:
    issues = []
    first = event.rows[0]
    if event.id == BASE or JOIN in event.id:
        issues.append(
            Issue(
                where.cell("Events", "event", first),
                f"event id {event.id!r} cannot be used: 'base' names the scenario without "
                "events and '+' joins event ids in scenario ids",
            )
        )
    if math.isnan(event.probability):
        issues.append(
            Issue(
                where.cell("Events", "probability", first),
                f"probability is required on the first row of event {event.id!r}",
            )
        )
    own_group = _text(table.at[first, "group"])
    for label in event.rows[1:]:
        later: Any = table.at[label, "probability"]
        if not is_blank(later) and not (
            math.isnan(event.probability)
            or abs(float(later) - event.probability) <= PROBABILITY_TOLERANCE
        ):
            issues.append(
                Issue(
                    where.cell("Events", "probability", label),
                    f"probability {float(later):g} differs from {event.probability:g} on the "
                    f"first row of event {event.id!r} "
                    f"({where.cell('Events', 'probability', first)}); leave it blank",
                )
            )
        group = _text(table.at[label, "group"])
        if group and group != own_group:
            issues.append(
                Issue(
                    where.cell("Events", "group", label),
                    f"group {group!r} differs from {own_group or 'blank'} on the first row of "
                    f"event {event.id!r} ({where.cell('Events', 'group', first)}); "
                    "leave it blank",
                )
            )
    named = events.get(own_group)
    if own_group and named is not None and named.id != event.id and named.group != named.id:
        issues.append(
            Issue(
                where.cell("Events", "group", first),
                f"group {own_group!r} is the id of event {own_group!r}, which is in group "
                f"{named.group!r}: write {named.group!r} to make them alternatives",
            )
        )
    return issues
