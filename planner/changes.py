"""The change grammar: name one value of a case and the values to try.

Used by the checks of the Sweep sheet, :func:`planner.sweep`, the CLI's
``--vary`` and the web page. A change names one value of the case and the values to try::

    china_share_max[Dy]        every Policies row (china_share_max, Dy), in every period
    china_share_max[Dy,2027Q1] only that period's row (added if there is none)
    china_share_max            the rows for every element (blank element)
    china_share_max[TOTAL]     the pooled rows; likewise country_share_max, risk_max,
                               offer_share_max, min_offers
    country_share_max[TOTAL,refining]   a basis (china_share_max, country_share_max; blank:
                               Settings china_basis)
    china_share_max[TOTAL,value]   the pooled rows counted in value (Policies measure; B2);
                               without ``value`` a change sets the rows in quantity
    capacity[Nd-CN]           an Offers cell: capacity, unit_cost, fixed_cost, min_take, risk,
                               lead_time
    demand_scale, demand_scale[Dy]   multiply all demand (of one element)
    capacity_factor[cn_stop]   every Disruptions row of that scenario; likewise cost_factor,
                               cover_factor (with Events: every row of that event)
    probability[cn_stop]       an event's probability (Events; the scenarios are made anew)
    cvar_weight, cvar_alpha, change_cost, stock_value_max   a Settings value
    tier_cost[Nd,polishing]    a ShortageTiers row's cost (element, use label; a blank use
                               is ``tier N``, its rank by cost); likewise tier_share
    Elements.shortage_cost[Dy] any cell of an id-keyed sheet: Sheet.column[id]

A policy change sets the cap it names in every period, whatever rows the
workbook used to state it (a blank-period row, or one per quarter); where a
row it does not change still decides a cell (an element's own row beside a
changed blank-element row), the sweep warns, naming the cells.

Several changes make a grid: the product of their values (:func:`variants`).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from planner.data import ROW, TABLES, Case
from planner.io.limits import ReaderLimits
from planner.model.parameters import (
    BASES,
    MEASURES,
    POLICIES,
    QUANTITY,
    TOTAL,
    Policy,
    applicable_cap,
    policy_bases,
    policy_measures,
    tier_labels,
)
from planner.schema import catalogue

OFFER_COLUMNS = ("capacity", "unit_cost", "fixed_cost", "min_take", "risk", "lead_time")
SETTINGS = ("cvar_weight", "cvar_alpha", "change_cost", "stock_value_max")
#: ShortageTiers columns a change names by element and use: tier_cost[Nd,polishing]
TIER_COLUMNS = {"tier_cost": "cost", "tier_share": "share"}
_NAME = re.compile(r"^(?P<what>[A-Za-z_.]+)(?:\[(?P<key>[^\]]+)\])?$")
#: A number as a planner types it: no ``1_000`` (Python's digit grouping read ``1_0e-1`` as 1.0),
#: no hexadecimal; ``inf`` and ``nan`` are read so that they are refused as not finite.
_NUMBER = re.compile(
    r"^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)$", re.I
)


class ChangeError(ValueError):
    """A change that names nothing in the case, or values that cannot be read."""


def max_variants() -> int:
    """Return the most variants one sweep may have (``PLANNER_MAX_VARIANTS``, default 10,000)."""
    return ReaderLimits.from_environment().max_variants


def _too_many(what: str, count: float, limit: int) -> str:
    amount = f"{count:,.0f}" if math.isfinite(count) else "countless"
    return (
        f"{what}: {amount} variants, more than the limit of {limit:,} variants per sweep "
        "(PLANNER_MAX_VARIANTS)"
    )


def _number(text: str) -> float:
    """Read one number as typed: ``0.1``, ``-1e8``, ``.5``; never ``1_0e-1`` or ``0x10``."""
    if not _NUMBER.match(text.strip()):
        raise ValueError(text)
    return float(text)


def parse_values(text: str, limit: int | None = None) -> list[float]:
    """Read ``1.0:0.0:-0.1`` (start:stop:step, stop included) or ``0.5,0.6,0.8``.

    The values are counted before any is made: more than ``limit`` (default
    :func:`max_variants`) is an error, as are a step of 0, values that are
    not finite numbers and text Python would read but a planner would not
    write (``1_0e-1``, read as 1.0).
    """
    limit = max_variants() if limit is None else limit
    try:
        if ":" in text:
            start, stop, step = (_number(part) for part in text.split(":"))
            if not all(math.isfinite(number) for number in (start, stop, step)):
                raise ChangeError(f"{text!r}: start, stop and step must be finite numbers")
            if step == 0 or (stop - start) * step < 0:
                raise ChangeError(f"{text!r}: the step must go from start towards stop")
            span = (stop - start) / step  # inf when the range overflows a float
            count = math.floor(span + 1e-9) + 1 if math.isfinite(span) else math.inf
            if count > limit:
                raise ChangeError(_too_many(repr(text), count, limit))
            return [round(start + i * step, 12) for i in range(int(count))]
        parts = [part for part in text.split(",") if part.strip()]
        if len(parts) > limit:
            raise ChangeError(_too_many(repr(text), len(parts), limit))
        values = [_number(part) for part in parts]
        if not all(math.isfinite(value) for value in values):
            raise ChangeError(f"{text!r}: every value must be a finite number")
        return values
    except ValueError as error:
        if isinstance(error, ChangeError):
            raise
        raise ChangeError(f"{text!r}: give start:stop:step or a comma-separated list") from None


def grid_size(counts: Iterable[int]) -> int:
    """Return the number of variants of a grid whose changes have ``counts`` values each."""
    return math.prod(counts)


def check_grid(changes: Mapping[str, Iterable[float]], limit: int | None = None) -> None:
    """Refuse a grid of more than ``limit`` variants (default :func:`max_variants`), unbuilt.

    A change without values is refused too (the grid would have no variant).

    Raises
    ------
    ChangeError
        Naming the size of each change.
    """
    limit = max_variants() if limit is None else limit
    sizes = {name: len(_sized(values)) for name, values in changes.items()}
    empty = [name for name, count in sizes.items() if not count]
    if empty:  # a grid without it would have no variant at all
        raise ChangeError(f"{empty[0]}: no values to try")
    if grid_size(sizes.values()) > limit:
        shape = " x ".join(f"{count:,} ({name})" for name, count in sizes.items())
        raise ChangeError(_too_many(f"the grid {shape}", grid_size(sizes.values()), limit))


def parse_vary(text: str) -> tuple[str, list[float]]:
    """Read a CLI ``--vary`` argument: ``NAME=VALUES``."""
    name, equals, values = text.partition("=")
    if not equals:
        raise ChangeError(f"{text!r}: write NAME=VALUES, e.g. china_share_max[Dy]=1.0:0.5:-0.1")
    return name.strip(), parse_values(values)


def parse_varies(texts: Iterable[str]) -> dict[str, list[float]]:
    """Read every ``--vary``; a change named twice is refused (the first would be lost)."""
    changes: dict[str, list[float]] = {}
    for text in texts:
        name, values = parse_vary(text)
        key = _canonical(name)
        earlier = next((given for given in changes if _canonical(given) == key), None)
        if earlier is not None:
            raise ChangeError(
                f"{text!r}: {earlier} is varied twice; give all its values in one --vary "
                "(e.g. 0.1,0.2,0.5)"
            )
        changes[name] = values
    return changes


def _canonical(name: str) -> str:
    """``china_share_max[ Dy ]`` and ``china_share_max[Dy]`` name one change."""
    match = _NAME.match(re.sub(r"\s+", "", name))
    if not match:
        return name.strip()
    parts = sorted(part for part in (match["key"] or "").split(",") if part)
    return f"{match['what']}[{','.join(parts)}]" if parts else match["what"]


def _policy(case: Case, policy: str, key: str | None, value: float) -> list[str]:
    """Set the Policies rows of (policy, element, basis) in every period, or the named one.

    ``key`` lists an element (or TOTAL; none: the blank-element rows), and
    optionally a basis, a measure (``value``: the TOTAL rows counted in value,
    B2; else those in quantity) and a period id, comma-separated in any order. Without
    a period every row of that element and basis changes, whatever its period
    (a cap given per quarter is a cap too); a period changes that period's
    row. Where no row exists one is added. Returns warnings for the cells
    where another row, not changed, still decides the cap.
    """
    periods = [str(p) for p in case.periods.index]
    parts = [part.strip() for part in key.split(",")] if key else []
    _check_policy_key(case, policy, parts, periods)
    basis = next((part for part in parts if part in BASES), None)
    measure = next((part for part in parts if part in MEASURES), None)
    period = next((part for part in parts if part in periods), None)
    element = next(
        (p for p in parts if p not in BASES and p not in MEASURES and p not in periods and p),
        None,
    )
    table = case.policies
    element_blank = table["element"].isna() | (table["element"] == "")
    effective = policy_bases(table, case.settings.china_basis)
    wanted_basis = basis or case.settings.china_basis
    probe = pd.DataFrame({"policy": [policy], "element": [element], "measure": [measure]})
    wanted_measure = policy_measures(probe).iloc[0]  # value only where it weighs (TOTAL)
    same = (
        (table["policy"] == policy)
        & (element_blank if element is None else table["element"] == element)
        & ((effective == wanted_basis) | (effective == ""))
        & (policy_measures(table) == wanted_measure)
    )
    if period is not None:
        same &= table["period"] == period
    added: list[str] = []
    if same.any():
        table.loc[same, "value"] = value
        changed = set(table.index[same])
    else:
        elsewhere = (
            (table["policy"] == policy)
            & (element_blank if element is None else table["element"] == element)
            & (effective != wanted_basis)
            & (policy_measures(table) == wanted_measure)
        )
        if elsewhere.any():  # the workbook's own cap is on another basis: this one is new
            others = ", ".join(sorted(set(effective[elsewhere])))
            added.append(
                f"{policy}[{key or ''}] adds a cap on the {wanted_basis} basis: the workbook's "
                f"own is on the {others} basis and stays (name the basis to change it: "
                f"{policy}[{key + ',' if key else ''}{others.split(', ')[0]}])"
            )
        row = {
            ROW: pd.NA,
            "policy": policy,
            "element": element,
            "period": period,
            "value": value,
            "basis": basis,
            "measure": None if wanted_measure == QUANTITY else wanted_measure,
        }
        case.policies = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
        changed = {case.policies.index[-1]}
    return added + _overridden(case, policy, wanted_basis, wanted_measure, element, period, changed)


def _check_policy_key(case: Case, policy: str, parts: list[str], periods: list[str]) -> None:
    """Refuse a key that names two elements (``[Nd,Dy]`` changed Nd only) or an unknown id."""
    elements = {str(e) for e in case.elements.index} | {TOTAL}
    kinds: dict[str, list[str]] = {"element": [], "basis": [], "measure": [], "period": []}
    for part in parts:
        if part in BASES:
            kinds["basis"].append(part)
        elif part in MEASURES:
            kinds["measure"].append(part)
        elif part in periods:
            kinds["period"].append(part)
        elif part in elements:
            kinds["element"].append(part)
        else:
            raise ChangeError(
                f"{policy}[{','.join(parts)}]: {part!r} is no element, TOTAL, basis "
                f"({', '.join(BASES)}), measure ({', '.join(MEASURES)}) or period of this "
                "workbook"
            )
    for kind, named in kinds.items():
        if len(named) > 1:
            raise ChangeError(
                f"{policy}[{','.join(parts)}]: names {len(named)} {kind}s ({', '.join(named)}); "
                f"a change sets one {kind}'s cap: give one change per {kind}"
            )


def _overridden(
    case: Case,
    policy: str,
    basis: str,
    measure: str,
    element: str | None,
    period: str | None,
    changed: set[Any],
) -> list[str]:
    """Cells the change means to set where another Policies row still decides the cap."""
    table = case.policies
    effective = policy_bases(table, case.settings.china_basis)
    family = table[
        (table["policy"] == policy)
        & ((effective == basis) | (effective == ""))
        & (policy_measures(table) == measure)
    ]
    rows = [
        (label, _blank_to_none(e), _blank_to_none(p), float(v))
        for label, e, p, v in zip(
            family.index, family["element"], family["period"], family["value"], strict=True
        )
    ]
    elements = [element] if element is not None else [str(e) for e in case.elements.index]
    periods = [period] if period is not None else [str(p) for p in case.periods.index]
    if policy == Policy.MIN_OFFERS:
        periods = periods[:1]  # a horizon-wide rule
    tightest = max if policy == Policy.MIN_OFFERS else min
    cells = []
    for target in elements:
        for name in periods:
            cap = applicable_cap(rows, target, name, tightest)
            if cap is not None and not set(cap.rows) & changed:
                cells.append(f"{target} in {name}")
    if not cells:
        return []
    shown = ", ".join(cells[:4]) + (f" and {len(cells) - 4} more" if len(cells) > 4 else "")
    return [f"{policy}: rows not changed still decide the cap for {shown}"]


def _blank_to_none(value: Any) -> Any:
    return (
        None
        if value is None or value == "" or (isinstance(value, float) and np.isnan(value))
        else value
    )


def apply_change(case: Case, name: str, value: float) -> list[str]:
    """Set the value named ``name`` in ``case`` (see the module's grammar); return warnings."""
    match = _NAME.match(name.strip())
    if not match:
        raise ChangeError(f"{name!r}: not a change name (e.g. china_share_max[Dy])")
    what, key = match["what"], match["key"]
    if what in POLICIES:
        return _policy(case, what, key, value)
    if what in OFFER_COLUMNS and key is not None:
        if key not in case.offers.index:
            raise ChangeError(f"{name!r}: no offer {key!r}")
        case.offers.loc[key, what] = value
    elif what == "demand_scale":
        rows = case.demand["element"] == key if key else slice(None)
        case.demand.loc[rows, "quantity"] = case.demand.loc[rows, "quantity"] * value
    elif what in ("capacity_factor", "cost_factor", "cover_factor") and key is not None:
        _factor(case, what, key, value, name)
    elif what == "probability" and key is not None:
        _event_probability(case, key, value, name)
    elif what in SETTINGS and key is None:
        setattr(case.settings, what, value)
    elif what in TIER_COLUMNS and key is not None:
        _tier(case, TIER_COLUMNS[what], key, value, name)
    elif "." in what and key is not None:
        _cell(case, what, key, value, name)
    else:
        raise ChangeError(f"{name!r}: not a change name (see planner.changes for the forms)")
    return []


def _factor(case: Case, what: str, key: str, value: float, name: str) -> None:
    """Set a factor on every Disruptions row of a scenario, or every Events row of an event."""
    if not case.events.empty:
        rows = case.events["event"] == key
        if not rows.any():
            raise ChangeError(f"{name!r}: no event {key!r} in Events")
        case.events.loc[rows, what] = value
        return
    rows = case.disruptions["scenario"] == key
    if not rows.any():
        raise ChangeError(f"{name!r}: scenario {key!r} has no Disruptions rows")
    case.disruptions.loc[rows, what] = value


def _event_probability(case: Case, key: str, value: float, name: str) -> None:
    """Set an event's probability: on its first row, later rows left as they are if blank.

    A later row that repeated the old probability repeats the new one, so the
    event keeps one probability.
    """
    rows = case.events["event"] == key if not case.events.empty else None
    if rows is None or not rows.any():
        raise ChangeError(f"{name!r}: no event {key!r} in Events")
    given = rows & case.events["probability"].notna()
    case.events.loc[given, "probability"] = value
    case.events.loc[case.events.index[rows][0], "probability"] = value


def _tier(case: Case, column: str, key: str, value: float, name: str) -> None:
    """Set ``column`` of the ShortageTiers row of (element, use) named by ``key``."""
    element, _, use = (part.strip() for part in key.partition(","))
    tiers = case.shortage_tiers
    labels = tier_labels(tiers)
    rows = (tiers["element"] == element) & (labels == use)
    if not use or not rows.any():
        raise ChangeError(f"{name!r}: no ShortageTiers row of element {element!r}, use {use!r}")
    tiers.loc[rows, column] = value


def _cell(case: Case, what: str, key: str, value: float, name: str) -> None:
    sheet, _, column = what.partition(".")
    if sheet not in TABLES:
        raise ChangeError(f"{name!r}: no sheet {sheet!r}")
    table = case.table(sheet)
    if column not in table.columns or key not in table.index:
        raise ChangeError(f"{name!r}: no {column!r} of {key!r} in {sheet}")
    kind = catalogue().sheet(sheet).column(column).type
    if kind != "number":
        raise ChangeError(
            f"{name!r}: {sheet}.{column} holds {_KINDS.get(kind, kind)}, not a number; "
            "a sweep changes numbers only"
        )
    table.loc[key, column] = value


_KINDS = {"ref": "an id", "id": "an id", "code": "a country code", "enum": "a choice"}


def sheet_changes(case: Case) -> dict[str, list[float]]:
    """Return the changes listed in the case's Sweep sheet (checked with the case)."""
    return {
        str(name).strip(): parse_values(str(values))
        for name, values in zip(case.sweep["change"], case.sweep["values"], strict=True)
    }


def same_change(first: str, second: str) -> bool:
    """Whether two change names name one value (spaces and the order of a key aside)."""
    return _canonical(first) == _canonical(second)


def checked_values(values: Iterable[float], every: int = 16) -> list[float]:
    """Return the values of one change whose variants the whole case's checks see.

    All of them up to ``every`` distinct values; beyond, the smallest, the
    largest, the first and the first that is not a whole number. Every rule
    the contract puts on one number is a bound (a range, a cap within what
    the offers can reach, ``min_take`` within ``capacity``) or asks for a
    whole number, so these decide every value between them.
    """
    distinct = list(dict.fromkeys(float(value) for value in values))
    if len(distinct) <= every:
        return distinct
    fractional = [value for value in distinct if not value.is_integer()]
    picked = [distinct[0], min(distinct), max(distinct), *fractional[:1]]
    return list(dict.fromkeys(picked))


def variants(
    changes: Mapping[str, Iterable[float]], limit: int | None = None
) -> list[dict[str, float]]:
    """Every combination of the changes' values, in order, counted first (:func:`check_grid`)."""
    lists = {name: _sized(values) for name, values in changes.items()}
    check_grid(lists, limit)
    names = list(lists)
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(list(lists[n]) for n in names))
    ]


def _sized(values: Iterable[float]) -> Collection[float]:
    """Return ``values`` as a collection (a ``range`` is counted without being built)."""
    return values if isinstance(values, Collection) else list(values)
