"""Checks of a typed case (the second stage of validation; parsing is :mod:`planner.parse`).

:func:`check_case` checks a typed case: ranges, references between sheets,
uniqueness and the rules of the contract (docs/workbook.md), including the
v2 additions: joint products, signings, commitments, previous plans, bases.
It also runs on a case modified in Python before every solve. Checks are
pure functions: they never print and never mutate their input; they return
issues, all of them, located as ``Sheet!CELL``.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.utils import column_index_from_string, range_boundaries
from scipy.optimize import linprog

from planner.changes import (
    ChangeError,
    apply_change,
    checked_values,
    grid_size,
    max_variants,
    parse_values,
    same_change,
)
from planner.data import ROW, TABLES, Case
from planner.economics_checks import check_initial_stock_value, check_shortage_tiers
from planner.errors import Issue
from planner.events import check_events
from planner.locate import Locator, is_blank, records
from planner.model.parameters import (
    BASIS_POLICIES,
    CHINA_GROUP,
    DOMESTIC,
    POOLABLE_POLICIES,
    TOTAL,
    VALUE,
    Policy,
    activity_countries,
    derive,
    offer_countries,
    policy_bases,
    policy_measures,
)
from planner.numerics import check_big_m
from planner.parse import covers, describe, input_sheets, row_spans
from planner.schema import RESERVED_ELEMENT_IDS, Column, catalogue

#: Fractions of one offer may sum to 1 plus this (rounding in the workbook).
FRACTION_TOLERANCE = 1e-9


def offers_per_element(case: Case) -> dict[Any, int]:
    """How many offers carry each element (``O_e``: their element, or OfferContents)."""
    counts: dict[Any, int] = {}
    joint = set(case.offer_contents["offer"].dropna())
    for offer, element in case.offers["element"].items():
        if offer not in joint and isinstance(element, str) and element:
            counts[element] = counts.get(element, 0) + 1
    contents = case.offer_contents.dropna(subset=["offer", "element"])
    for element, group in contents.groupby("element"):
        counts[element] = counts.get(element, 0) + int(group["offer"].nunique())
    return counts


def repeated_pairs(
    where: Locator, sheet: str, table: pd.DataFrame, key: tuple[str, str], noun: str
) -> list[Issue]:
    """Report each row that repeats the (a, b) pair of ``key`` of an earlier row of ``sheet``."""
    keyed = table.dropna(subset=list(key))
    return [
        Issue(
            where.row(sheet, label),
            f"duplicate {noun} for ({keyed.at[label, key[0]]!s}, {keyed.at[label, key[1]]!s})",
        )
        for label in keyed.index[keyed.duplicated(subset=list(key), keep="first")]
    ]


def check_offer_contents(case: Case) -> list[Issue]:
    """Check that an offer has an element or OfferContents rows, not both, fractions <= 1."""
    where = Locator(case)
    issues: list[Issue] = []
    contents = case.offer_contents
    joint = set(contents["offer"].dropna())
    offers = case.offers[~case.offers.index.duplicated()]
    for offer, element in offers["element"].items():
        has_element = isinstance(element, str) and bool(element)
        if has_element and offer in joint:
            issues.append(
                Issue(
                    where.cell("Offers", "element", offer),
                    f"offer {offer!r} has both an element and OfferContents rows; leave the "
                    "element blank for a joint product, or delete its OfferContents rows",
                )
            )
        elif not has_element and offer not in joint:
            issues.append(
                Issue(
                    where.cell("Offers", "element", offer),
                    "element is required (or OfferContents rows for a joint product)",
                )
            )
    keyed = contents.dropna(subset=["offer", "element"])
    issues += repeated_pairs(where, "OfferContents", contents, ("offer", "element"), "contents")
    for offer, group in keyed.groupby("offer", sort=False):
        offer = str(offer)
        total = float(group["fraction"].fillna(0.0).sum())
        if total > 1 + FRACTION_TOLERANCE:
            issues.append(
                Issue(
                    where.cell("OfferContents", "fraction", group.index[-1]),
                    f"the fractions of {offer} sum to {total:.10g}; they must sum to at most 1",
                )
            )
    return issues


def check_signing(case: Case) -> list[Issue]:
    """lead_time is a whole number of periods; a lead time beyond the horizon is a warning."""
    where = Locator(case)
    issues: list[Issue] = []
    n_periods = len(case.periods)
    offers = case.offers[~case.offers.index.duplicated()]
    for offer, record in records(offers):
        lead = record["lead_time"]
        if is_blank(lead) or lead < 0:
            continue
        if not float(lead).is_integer():
            issues.append(
                Issue(
                    where.cell("Offers", "lead_time", offer),
                    f"lead_time must be a whole number of periods, got {lead:g}",
                )
            )
        elif lead >= n_periods > 0 and record["contracted"] != "yes":
            issues.append(
                Issue(
                    where.cell("Offers", "lead_time", offer),
                    f"lead_time {lead:g} is not shorter than the horizon ({n_periods} periods): "
                    f"{offer} can never deliver",
                    "warning",
                )
            )
    return issues


def check_country_settings(case: Case) -> list[Issue]:
    """Domestic is never China; no code is both China and home (formulation A6)."""
    where = Locator(case)
    issues: list[Issue] = []
    china, home = set(case.settings.china_codes), set(case.settings.home_codes)
    if DOMESTIC in china:
        issues.append(
            Issue(
                where.setting("china_codes"),
                f"{DOMESTIC!r} cannot be a China code: domestic supply is never China-linked",
            )
        )
    for code in sorted(china & home):
        issues.append(
            Issue(
                where.setting("home_codes"),
                f"{code!r} is in both china_codes and home_codes; it can be only one",
            )
        )
    return issues


def check_policy_bases(case: Case) -> list[Issue]:
    """Warn of a basis on a policy that takes none, and of country caps that force shortage."""
    where = Locator(case)
    issues: list[Issue] = []
    policies = case.policies
    if "basis" not in policies.columns:
        return issues
    for label, record in records(policies):
        basis, policy = record["basis"], record["policy"]
        if isinstance(basis, str) and basis and policy not in BASIS_POLICIES:
            issues.append(
                Issue(
                    where.cell("Policies", "basis", label),
                    f"basis applies to china_share_max and country_share_max only; "
                    f"ignored for {policy}",
                    "warning",
                )
            )
        if policy == Policy.COUNTRY_SHARE_MAX and not is_blank(record["value"]):
            issues += _country_cap_reach(case, where, label, record)
    return issues


def check_policy_measures(case: Case) -> list[Issue]:
    """Warn of a measure where it changes nothing: on one element, or on a policy without one (B2).

    ``value`` weighs pooled supply by reference prices; on a row for one
    element (or a blank element) the price cancels, and the row is read as
    ``quantity``. offer_share_max and min_offers take no measure.
    """
    where = Locator(case)
    issues: list[Issue] = []
    if "measure" not in case.policies.columns:
        return issues
    for label, record in records(case.policies):
        measure, policy = record["measure"], record["policy"]
        if not (isinstance(measure, str) and measure) or is_blank(policy):
            continue
        if policy not in POOLABLE_POLICIES:
            issues.append(
                Issue(
                    where.cell("Policies", "measure", label),
                    f"measure applies to {', '.join(POOLABLE_POLICIES)} on TOTAL only; "
                    f"ignored for {policy}",
                    "warning",
                )
            )
        elif measure == VALUE and record["element"] != TOTAL:
            element = record["element"]
            scope = f"element {element}" if isinstance(element, str) and element else "each element"
            issues.append(
                Issue(
                    where.cell("Policies", "measure", label),
                    f"measure value on {scope} changes nothing (the reference price cancels "
                    "within one element): read as quantity; value weighs elements only on TOTAL",
                    "warning",
                )
            )
    return issues


def check_reference_prices(case: Case) -> list[Issue]:
    """Every element needs a reference_price when prices weigh anything (B2, B3).

    A Policies row on TOTAL with measure value weighs supply by price; Settings
    stock_value_max values the stock by it. Each missing Elements cell is named
    once, with every reason that asks for it.
    """
    where = Locator(case)
    reasons = []
    policies = case.policies
    valued = policy_measures(policies) == VALUE if len(policies) else pd.Series(dtype=bool)
    if valued.any():
        first = where.cell("Policies", "measure", policies.index[valued.to_numpy()][0])
        reasons.append(
            f"a Policies row on TOTAL counts supply in value ({first}), which weighs every "
            "element by its reference price"
        )
    if case.settings.stock_value_max is not None:
        budget = where.setting("stock_value_max")
        reasons.append(f"Settings stock_value_max ({budget}) values the stock at reference prices")
    if not reasons:
        return []
    prices = (
        case.elements["reference_price"]
        if "reference_price" in case.elements.columns
        else pd.Series(np.nan, index=case.elements.index)
    )
    return [
        Issue(
            where.cell("Elements", "reference_price", element),
            f"reference_price of {element} is required: {'; and '.join(reasons)}",
        )
        for element, price in prices.items()
        if is_blank(price)
    ]


def _country_cap_reach(
    case: Case, where: Locator, label: Any, record: Mapping[str, Any]
) -> list[Issue]:
    """Warn when a country cap leaves no mix of suppliers that meets it: it forces shortage.

    Per element (or, for TOTAL, the pooled suppliers of every element): is
    there a split of supply over the offers and recyclers that can supply it
    with every country group at or below the cap? On one basis that is
    1 / (groups that can supply) unless exempt supply exists; on ``any`` an
    offer counts for each of its groups, so a small linear program decides.
    """
    value = float(record["value"])
    basis = record["basis"] if isinstance(record["basis"], str) and record["basis"] else None
    basis = basis or case.settings.china_basis
    element = record["element"]
    if element == "TOTAL":
        targets: list[tuple[str, list[Any]]] = [("TOTAL", list(case.elements.index))]
    elif isinstance(element, str) and element:
        targets = [(element, [element])]
    else:
        targets = [(e, [e]) for e in case.elements.index]
    issues: list[Issue] = []
    for name, elements in targets:
        memberships = _suppliers(case, elements, basis)
        if not memberships or _cap_can_hold(memberships, value):
            continue
        groups = sorted(set().union(*memberships))
        issues.append(
            Issue(
                where.cell("Policies", "value", label),
                f"country_share_max {value:g} cannot hold for {name} on basis {basis} "
                f"(its suppliers count for {', '.join(groups)}, none exempt enough): "
                "it forces shortage",
                "warning",
            )
        )
    return issues


def _cap_can_hold(memberships: list[frozenset[str]], value: float) -> bool:
    """Whether supply can be split over suppliers so that no group exceeds ``value``."""
    if any(not groups for groups in memberships):
        return True  # exempt supply can take any share
    groups = sorted(set().union(*memberships))
    a_ub = np.array([[1.0 if g in m else 0.0 for m in memberships] for g in groups])
    outcome = linprog(
        np.zeros(len(memberships)),
        A_ub=a_ub,
        b_ub=np.full(len(groups), value + 1e-12),
        A_eq=np.ones((1, len(memberships))),
        b_eq=[1.0],
        bounds=(0, None),
        method="highs",
    )
    return bool(outcome.status == 0)


def _suppliers(case: Case, elements: list[Any], basis: str) -> list[frozenset[str]]:
    """Return the country groups each supplier of ``elements`` counts for on ``basis`` (A6)."""
    offers = case.offers[~case.offers.index.duplicated()]
    carriers = set(offers.index[offers["element"].isin(elements)])
    carriers |= set(case.offer_contents.loc[case.offer_contents["element"].isin(elements), "offer"])
    countries = offer_countries(offers)
    columns = {
        "shipment": ["country"],
        "mining": ["mine_country"],
        "refining": ["refine_country"],
    }.get(basis, ["country", "mine_country", "refine_country"])
    china = set(case.settings.china_codes)
    exempt_codes = set(case.settings.home_codes) | {DOMESTIC}

    def group(code: str) -> str | None:
        if code in exempt_codes:
            return None
        return CHINA_GROUP if code in china else code

    memberships = []
    for offer in sorted(carriers & set(offers.index)):
        named = {group(str(countries[column][offer])) for column in columns}
        memberships.append(frozenset(g for g in named if g is not None))
    recycling = case.activities[case.activities["kind"] == "recycling"]
    recyclers = set(
        case.activity_yields.loc[case.activity_yields["element"].isin(elements), "activity"]
    )
    for activity, country in activity_countries(recycling).items():
        if activity in recyclers:
            code = group(country)
            memberships.append(frozenset([code]) if code is not None else frozenset())
    return memberships


def check_commitments(case: Case) -> list[Issue]:
    """Firm orders: on contracted offers, one per (offer, period), within capacity."""
    where = Locator(case)
    issues: list[Issue] = []
    table = case.commitments
    issues += repeated_pairs(where, "Commitments", table, ("offer", "period"), "commitment")
    offers = case.offers[~case.offers.index.duplicated()]
    for label, record in records(table):
        offer, period, quantity = record["offer"], record["period"], record["quantity"]
        if offer not in offers.index:
            continue  # reported as an unknown reference
        if offers.at[offer, "contracted"] != "yes":
            issues.append(
                Issue(
                    where.cell("Commitments", "offer", label),
                    f"{offer} is not contracted: a firm order needs contracted = yes in "
                    f"{where.cell('Offers', 'contracted', offer)}",
                )
            )
        if is_blank(quantity) or period not in case.periods.index:
            continue
        capacity = _capacity_in(case, offer, period)
        if quantity > capacity * (1 + 1e-9):
            issues.append(
                Issue(
                    where.cell("Commitments", "quantity", label),
                    f"firm order {quantity:g} for {offer} in {period} is above its capacity "
                    f"{capacity:g} there",
                )
            )
    return issues


def _capacity_in(case: Case, offer: Any, period: Any) -> float:
    """Return an offer's capacity in a period before disruptions (0 outside its window)."""
    record = case.offers.loc[offer]
    position = _period_position(case)
    first, last = _window(record, position, (0, len(position) - 1))
    if not first <= position[period] <= last:
        return 0.0
    overrides = case.offer_periods[
        (case.offer_periods["offer"] == offer) & (case.offer_periods["period"] == period)
    ]["capacity"].dropna()
    capacity = float(overrides.iloc[0]) if len(overrides) else float(record["capacity"])
    return capacity if math.isfinite(capacity) else 0.0


def check_previous_plan(case: Case) -> list[Issue]:
    """PreviousPlan rows: unknown offers and periods are ignored (warning); no duplicates."""
    where = Locator(case)
    issues: list[Issue] = []
    table = case.previous_plan
    issues += repeated_pairs(where, "PreviousPlan", table, ("offer", "period"), "previous order")
    known = {"offer": set(case.offers.index), "period": set(case.periods.index)}
    for label, record in records(table):
        for column, ids in known.items():
            value = record[column]
            if isinstance(value, str) and value and value not in ids:
                issues.append(
                    Issue(
                        where.cell("PreviousPlan", column, label),
                        f"{column} {value!r} is not in this workbook; the row is ignored",
                        "warning",
                    )
                )
    return issues


CHECKS = (
    check_offer_contents,
    check_signing,
    check_country_settings,
    check_policy_bases,
    check_policy_measures,
    check_reference_prices,
    check_commitments,
    check_previous_plan,
    check_shortage_tiers,
)


_PROBABILITY_TOLERANCE = 1e-6

#: Upper bounds from this size on are magnitude bounds (what HiGHS computes
#: reliably), not bounds of meaning such as a risk's 1: say how to keep within them.
_MAGNITUDE = 1e3
_MAGNITUDE_HINT = "; larger numbers are beyond what the solver computes reliably: use a larger unit"


def check_columns(case: Case) -> list[Issue]:
    """Check required values, number ranges, enumerations and unique ids."""
    where = Locator(case)
    issues: list[Issue] = []
    for spec in input_sheets():
        table = case.table(spec.name)
        if spec.id_column and table.index.has_duplicates:
            for label in table.index[table.index.duplicated()].unique():
                rows = table.loc[[label], ROW].dropna().astype(int).tolist()
                cells = ", ".join(
                    f"{case.source.columns.get(spec.name, {}).get(spec.id_column, 'A')}{r}"
                    for r in rows
                )
                issues.append(
                    Issue(
                        f"{where.title(spec.name)}!{cells.split(', ')[-1]}"
                        if rows
                        else where.title(spec.name),
                        f"duplicate {spec.id_column} {label!r} (rows {cells}); ids must be unique",
                    )
                )
            table = table[~table.index.duplicated()]
        read = case.source.columns.get(spec.name)
        for column in spec.columns:
            absent = read is not None and column.name not in read
            absent = absent and column.name != table.index.name
            for label, value in _column_values(table, column):
                if absent and is_blank(value):
                    continue  # not in the sheet at all: its header was reported, not every row
                # a value in a column the sheet lacks was set in Python or by a sweep: checked
                message = _column_problem(column, value)
                if message:
                    issues.append(Issue(where.cell(spec.name, column.name, label), message))
    return issues


def _column_values(table: pd.DataFrame, column: Column) -> Iterable[tuple[Any, Any]]:
    if column.name == table.index.name:
        return ((label, label) for label in table.index)
    if column.name not in table.columns:
        return ()
    return table[column.name].items()


#: OOXML's escape of a character in text (``_x000B_``): Excel shows the character, while
#: openpyxl leaves inline text as typed and strips only ``x005F_`` from shared text.
_EXCEL_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _column_problem(column: Column, value: Any) -> str | None:
    if is_blank(value) or (isinstance(value, str) and not value):
        return f"{column.name} is required" if column.required else None
    if column.type in ("id", "ref", "code") and isinstance(value, str):
        escape = _EXCEL_ESCAPE.search(value)
        if escape:
            shown = chr(int(escape[1], 16))
            return (
                f"{column.name} {value!r} holds {escape[0]!r}, an escape that Excel may show "
                f"as the character {shown!r} (U+{escape[1].upper()}) while the planner reads "
                "the text: ids would differ between the two; type the id without it"
            )
    if column.type == "number":
        if not isinstance(value, int | float | np.number) or isinstance(value, bool):
            return f"{column.name} must be a number, got {describe(value)}"
        number = float(value)
        if not math.isfinite(number):
            return f"{column.name} must be a finite number, got {number:g}"
        if column.min is not None and (
            number <= column.min if column.min_strict else number < column.min
        ):
            return f"{column.name} must be {column.lower_text()}, got {number:g}"
        if column.max is not None and number > column.max:
            hint = _MAGNITUDE_HINT if column.max >= _MAGNITUDE else ""
            return f"{column.name} must be {column.upper_text()}, got {number:g}{hint}"
    elif column.type == "enum" and value not in column.values:
        return f"{column.name} must be one of {', '.join(column.values)}, got {value!r}"
    return None


def check_settings(case: Case) -> list[Issue]:
    """Every Settings value in its range."""
    where = Locator(case)
    issues: list[Issue] = []
    for spec in catalogue().settings:
        value = getattr(case.settings, spec.key)
        if value is None:
            continue  # a key without a default, left blank
        if spec.type == "number":
            number = float(value)
            low_bad = spec.min is not None and (
                number <= spec.min if spec.min_strict else number < spec.min
            )
            high_bad = spec.max is not None and (
                number >= spec.max if spec.max_strict else number > spec.max
            )
            if low_bad or high_bad:
                issues.append(
                    Issue(
                        where.setting(spec.key),
                        f"{spec.key} must be {spec.bounds_text()}, got {number:g}",
                    )
                )
        elif spec.type == "enum" and value not in spec.values:
            issues.append(
                Issue(
                    where.setting(spec.key),
                    f"{spec.key} must be one of {', '.join(spec.values)}, got {value!r}",
                )
            )
        elif spec.type == "codes" and not value and spec.default:
            issues.append(Issue(where.setting(spec.key), f"{spec.key} needs at least one code"))
    return issues


def check_references(case: Case) -> list[Issue]:
    """Every reference to another sheet names a row that exists there."""
    where = Locator(case)
    issues: list[Issue] = []
    for spec in input_sheets():
        table = case.table(spec.name)
        for column in spec.columns:
            if column.type != "ref" or column.ref is None:
                continue
            known = set(case.table(column.ref).index)
            for label, value in table[column.name].items():
                if isinstance(value, str) and value and value not in known:
                    issues.append(
                        Issue(
                            where.cell(spec.name, column.name, label),
                            f"unknown {column.name} {value!r}: not in {where.title(column.ref)}"
                            f"{_suggest(value, known)}",
                        )
                    )
    return issues


def _suggest(value: str, known: Iterable[Any]) -> str:
    matches = [str(k) for k in known if str(k).lower() == value.lower()]
    if matches:
        return f" (ids are case-sensitive: did you mean {matches[0]!r}?)"
    return ""


def check_structure(case: Case) -> list[Issue]:
    """At least one period and one element; reserved ids unused."""
    where = Locator(case)
    issues: list[Issue] = []
    for sheet in ("Periods", "Elements"):
        if case.table(sheet).empty and sheet in case.source.titles:
            issues.append(Issue(where.title(sheet), "needs at least one row"))
    for element in case.elements.index:
        if element in RESERVED_ELEMENT_IDS:
            issues.append(
                Issue(
                    where.cell("Elements", "element", element),
                    f"{element!r} is reserved and cannot be an element id",
                )
            )
    return issues


def _period_position(case: Case) -> dict[str, int]:
    return {p: i for i, p in enumerate(case.periods.index)}


def _check_window(case: Case, sheet: str, issues: list[Issue]) -> None:
    where = Locator(case)
    position = _period_position(case)
    table = case.table(sheet)
    for label, record in records(table):
        first, last = record["first_period"], record["last_period"]
        if first in position and last in position and position[first] > position[last]:
            issues.append(
                Issue(
                    where.cell(sheet, "last_period", label),
                    f"last_period {last!r} is before first_period {first!r}",
                )
            )


def check_stock(case: Case) -> list[Issue]:
    """Storage capacity not below the initial stock."""
    where = Locator(case)
    issues: list[Issue] = []
    for element, record in records(case.elements):
        capacity, initial = record["storage_capacity"], record["initial_stock"]
        if not is_blank(capacity) and not is_blank(initial) and initial > capacity:
            issues.append(
                Issue(
                    where.cell("Elements", "storage_capacity", element),
                    f"storage_capacity {capacity:g} is below initial_stock {initial:g}",
                )
            )
    return issues


def cover_targets(case: Case) -> pd.DataFrame:
    """Return the cover target of every (element, period) with demand: cover_days of demand.

    Formulation: ``q[e,t] = cover_days[e] d[e,t] / days[t]`` before any
    disruption (a disruption's cover_factor only lowers it).
    """
    demand = case.demand.dropna(subset=["element", "period", "quantity"])
    demand = demand[demand["element"].isin(case.elements.index)]
    demand = demand[demand["period"].isin(case.periods.index)]
    cover = pd.to_numeric(case.elements["cover_days"], errors="coerce").fillna(0.0)
    days = pd.to_numeric(case.periods["days"], errors="coerce")
    target = demand["element"].map(cover) * demand["quantity"] / demand["period"].map(days)
    return demand.assign(target=target)[["element", "period", "target"]].dropna()


def check_cover_targets(case: Case) -> list[Issue]:
    """Warn where a cover target asks for more stock than storage or the stock budget allows.

    Such a target cannot be met: the cover penalty is paid in every period it
    exceeds the cap, whatever the plan does (two inputs contradict each other).
    """
    where = Locator(case)
    issues: list[Issue] = []
    targets = cover_targets(case)
    if targets.empty:
        return issues
    storage = pd.to_numeric(case.elements["storage_capacity"], errors="coerce")
    top = targets.loc[targets.groupby("element", sort=False)["target"].idxmax()]
    for _, row in top.iterrows():
        capacity = storage.get(row["element"])
        if capacity is not None and not math.isnan(capacity) and row["target"] > capacity + 1e-9:
            issues.append(
                Issue(
                    where.cell("Elements", "cover_days", row["element"]),
                    f"the cover target reaches {row['target']:,.4g} in {row['period']}, above "
                    f"storage_capacity {capacity:g}: the cover penalty is paid in every period "
                    "it cannot be met; lower cover_days or raise storage_capacity",
                    "warning",
                )
            )
    budget = getattr(case.settings, "stock_value_max", None)
    if budget is not None and "reference_price" in case.elements.columns:
        price = pd.to_numeric(case.elements["reference_price"], errors="coerce")
        value = (targets["target"] * targets["element"].map(price)).groupby(targets["period"]).sum()
        if len(value) and value.max() > budget + 1e-9:
            issues.append(
                Issue(
                    where.setting("stock_value_max"),
                    f"the cover targets are worth {value.max():,.2f} in {value.idxmax()} at "
                    f"reference prices, above stock_value_max {budget:g}: the cover penalty is "
                    "paid in every period they cannot be met; lower cover_days or raise the budget",
                    "warning",
                )
            )
    return issues


def check_demand(case: Case) -> list[Issue]:
    """At most one Demand row per (element, period)."""
    where = Locator(case)
    issues: list[Issue] = []
    demand = case.demand.dropna(subset=["element", "period"])  # blanks are reported already
    first_of = demand.reset_index().groupby(["element", "period"])["index"].first()
    duplicated = demand.duplicated(subset=["element", "period"], keep="first")
    for label in demand.index[duplicated]:
        element: Any = demand.at[label, "element"]
        period: Any = demand.at[label, "period"]
        first = first_of[(element, period)]
        issues.append(
            Issue(
                where.row("Demand", label),
                f"duplicate demand for ({element}, {period}); first given at "
                f"{where.row('Demand', first)}",
            )
        )
    return issues


def check_offers(case: Case) -> list[Issue]:
    """min_take within capacity, a sane window, and a risk for every offer."""
    where = Locator(case)
    issues: list[Issue] = []
    countries = set(case.countries.index)
    for offer, record in records(case.offers):
        minimum, capacity = record["min_take"], record["capacity"]
        if (
            not is_blank(minimum)
            and not is_blank(capacity)
            and minimum > 0
            and capacity >= 0
            and minimum > capacity
        ):
            issues.append(
                Issue(
                    where.cell("Offers", "min_take", offer),
                    f"min_take {record['min_take']:g} is above capacity {record['capacity']:g}",
                )
            )
        if is_blank(record["risk"]):
            for column in ("country", "mine_country", "refine_country"):
                code = record[column]
                if isinstance(code, str) and code and code not in countries:
                    issues.append(
                        Issue(
                            where.cell("Offers", column, offer),
                            f"risk is blank and {column} {code!r} is not in Countries; "
                            "add it to Countries or give the offer a risk",
                        )
                    )
    _check_window(case, "Offers", issues)
    return issues


def check_offer_periods(case: Case) -> list[Issue]:
    """One override per (offer, period); overrides outside the window have no effect."""
    where = Locator(case)
    issues: list[Issue] = []
    table = case.offer_periods
    position = _period_position(case)
    horizon = (0, len(position) - 1)
    for label in table.index[table.duplicated(subset=["offer", "period"], keep="first")]:
        issues.append(
            Issue(
                where.row("OfferPeriods", label),
                f"duplicate override for ({table.loc[label, 'offer']}, "
                f"{table.loc[label, 'period']})",
            )
        )
    for label, record in records(table):
        offer, period = record["offer"], record["period"]
        if offer not in case.offers.index or period not in position:
            continue
        first, last = _window(case.offers.loc[offer], position, horizon)
        if not first <= position[period] <= last:
            issues.append(
                Issue(
                    where.cell("OfferPeriods", "period", label),
                    f"{period} is outside the delivery window of {offer}; no effect",
                    "warning",
                )
            )
    return issues


def _window(
    record: Mapping[str, Any], position: dict[str, int], horizon: tuple[int, int]
) -> tuple[int, int]:
    """Return the positions of a record's first and last periods: the horizon's where blank."""
    first = position.get(record["first_period"], horizon[0])
    last = position.get(record["last_period"], horizon[1])
    return first, last


def check_activities(case: Case) -> list[Issue]:
    """Activities have yields of the right sign; yields name known activities."""
    where = Locator(case)
    issues: list[Issue] = []
    _check_window(case, "Activities", issues)
    yields = case.activity_yields
    if not case.activities.empty and yields.empty and "ActivityYields" not in case.source.titles:
        issues.append(Issue("ActivityYields", "required sheet is missing (Activities has rows)"))
    for label in yields.index[yields.duplicated(subset=["activity", "element"], keep="first")]:
        issues.append(
            Issue(
                where.row("ActivityYields", label),
                f"duplicate yield for ({yields.loc[label, 'activity']}, "
                f"{yields.loc[label, 'element']})",
            )
        )
    kinds = case.activities["kind"].to_dict()
    for label, record in records(yields):
        kind, value = kinds.get(record["activity"]), record["yield"]
        if is_blank(value) or kind is None:
            continue
        if kind == "recycling" and value <= 0:
            issues.append(
                Issue(
                    where.cell("ActivityYields", "yield", label),
                    f"yield of recycling must be > 0, got {value:g}",
                )
            )
        elif kind == "substitution" and value == 0:
            issues.append(
                Issue(
                    where.cell("ActivityYields", "yield", label),
                    "yield of substitution must not be 0 (> 0 avoids demand, < 0 adds it)",
                )
            )
    with_yields = set(yields["activity"])
    for activity in case.activities.index:
        if activity not in with_yields and not yields.empty:
            issues.append(
                Issue(
                    where.row("Activities", activity),
                    f"activity {activity!r} has no ActivityYields rows; it has no effect",
                    "warning",
                )
            )
    return issues


def _policy_target(
    where: Locator, label: Any, policy: str, element: Any, elements: set[Any]
) -> list[Issue]:
    if not (isinstance(element, str) and element):
        return []
    if element == "TOTAL" and policy not in POOLABLE_POLICIES:
        message = f"TOTAL applies to {', '.join(POOLABLE_POLICIES)} only, not {policy}"
    elif element != "TOTAL" and element not in elements:
        suggestion = _suggest(element, [*elements, "TOTAL"])
        message = f"unknown element {element!r}: not in Elements{suggestion}"
    else:
        return []
    return [Issue(where.cell("Policies", "element", label), message)]


def _policy_targets(element: Any, elements: set[Any]) -> list[Any]:
    return [element] if isinstance(element, str) and element else sorted(elements)


def _min_offers_value(
    where: Locator,
    label: Any,
    record: Mapping[str, Any],
    elements: set[Any],
    offers: dict[Any, int],
) -> list[Issue]:
    issues: list[Issue] = []
    value, period = record["value"], record["period"]
    if isinstance(period, str) and period:
        issues.append(
            Issue(
                where.cell("Policies", "period", label),
                "period must be blank for min_offers (it is a horizon-wide rule)",
            )
        )
    if value < 0 or not float(value).is_integer():
        message = f"min_offers must be a whole number >= 0, got {value:g}"
        return [*issues, Issue(where.cell("Policies", "value", label), message)]
    for target in _policy_targets(record["element"], elements):
        count = offers.get(target, 0)
        if target in elements and value > count:
            issues.append(
                Issue(
                    where.cell("Policies", "value", label),
                    f"min_offers {value:g} for {target} but it has only "
                    f"{count} offer{'s' if count != 1 else ''}",
                )
            )
    return issues


def _share_value(
    where: Locator,
    label: Any,
    record: Mapping[str, Any],
    elements: set[Any],
    offers: dict[Any, int],
) -> list[Issue]:
    policy, value = record["policy"], record["value"]
    if not 0 <= value <= 1:
        message = f"{policy} must be in [0, 1], got {value:g}"
        return [Issue(where.cell("Policies", "value", label), message)]
    if policy != Policy.OFFER_SHARE_MAX:
        return []
    issues = []
    for target in _policy_targets(record["element"], elements):
        count = offers.get(target, 0)
        if count and value < 1 / count - 1e-12:
            issues.append(
                Issue(
                    where.cell("Policies", "value", label),
                    f"offer_share_max {value:g} is below 1/{count} for {target} "
                    f"({count} offers): it forces shortage",
                    "warning",
                )
            )
    return issues


def check_policies(case: Case) -> list[Issue]:
    """Check that policy rows name valid targets, hold valid values and are not repeated."""
    where = Locator(case)
    issues: list[Issue] = []
    table = case.policies
    elements = set(case.elements.index)
    offers = offers_per_element(case)
    for label, record in records(table):
        policy = record["policy"]
        if is_blank(policy) or is_blank(record["value"]):
            continue
        issues += _policy_target(where, label, policy, record["element"], elements)
        check = _min_offers_value if policy == Policy.MIN_OFFERS else _share_value
        issues += check(where, label, record, elements, offers)
    keys = table[["policy", "element", "period"]].fillna("")
    keys.insert(1, "basis", policy_bases(table, case.settings.china_basis))
    keys.insert(2, "measure", policy_measures(table))
    for label in table.index[keys.duplicated(keep="first")]:
        policy, basis, measure, element, period = keys.loc[label]
        on = f" on basis {basis}" if basis else ""
        on += " by value" if measure == VALUE else ""
        issues.append(
            Issue(
                where.row("Policies", label),
                f"the same ({policy}, {element or 'blank'}, {period or 'blank'}){on} "
                "is given twice",
            )
        )
    return issues


def check_scenarios(case: Case) -> list[Issue]:
    """Probabilities sum to 1 (within 1e-6; used as given, not rescaled)."""
    where = Locator(case)
    probabilities = case.scenarios["probability"].dropna()
    total = float(probabilities.sum())
    if len(probabilities) == len(case.scenarios) and abs(total - 1) > _PROBABILITY_TOLERANCE:
        return [
            Issue(
                where.column_range("Scenarios", "probability"),
                f"probabilities sum to {total:.10g}; they must sum to 1",
            )
        ]
    return []


def check_disruptions(case: Case) -> list[Issue]:
    """Targets exist for their type; element filters are elements or groups.

    The rows of Events (v3 B4) are disruption rows too, checked alike.
    """
    return [issue for sheet in ("Disruptions", "Events") for issue in _disruption_rows(case, sheet)]


def _disruption_rows(case: Case, sheet: str) -> list[Issue]:
    where = Locator(case)
    issues: list[Issue] = []
    _check_window(case, sheet, issues)
    elements = set(case.elements.index)
    universe = {
        "offer": set(case.offers.index),
        "activity": set(case.activities.index),
        "supplier": set(case.offers["supplier"].dropna()) | set(case.offers.index),
        "country": set(case.offers[["country", "mine_country", "refine_country"]].stack().dropna())
        | set(case.activities["country"].dropna()),
    }
    for label, record in records(case.table(sheet)):
        target_type, target, element = record["target_type"], record["target"], record["element"]
        if is_blank(target_type):
            continue  # reported as required
        blank_target = not (isinstance(target, str) and target)
        if target_type == "demand":
            if not blank_target:
                issues.append(
                    Issue(
                        where.cell(sheet, "target", label),
                        "target must be blank for target_type demand",
                        "warning",
                    )
                )
        elif blank_target:
            issues.append(
                Issue(
                    where.row(sheet, label),
                    f"target is required for target_type {target_type}",
                )
            )
        elif target not in universe[target_type]:
            severity = "error" if target_type in ("offer", "activity") else "warning"
            named = "Offers" if target_type != "activity" else "Activities"
            issues.append(
                Issue(
                    where.cell(sheet, "target", label),
                    f"{target_type} {target!r} matches nothing in {where.title(named)}"
                    f"{_suggest(target, universe[target_type])}",
                    severity,
                )
            )
        if (
            isinstance(element, str)
            and element
            and element not in elements
            and element.lower() not in ("light", "heavy")
        ):
            issues.append(
                Issue(
                    where.cell(sheet, "element", label),
                    f"element must be blank, an element id, light or heavy; got {element!r}"
                    f"{_suggest(element, elements)}",
                )
            )
    return issues


def check_sweep(case: Case) -> list[Issue]:
    """Each Sweep row names a value of this case and values that pass every check.

    The values are counted before they are made, and so is the grid of all
    rows: more than ``PLANNER_MAX_VARIANTS`` is an error at the row that
    passes the limit. A change named by two rows is refused (the later row
    would silently replace the first). Each row's values then go through
    :func:`check_changes`.
    """
    where = Locator(case)
    issues: list[Issue] = []
    limit = max_variants()
    counts: dict[str, int] = {}
    changes: dict[str, list[float]] = {}
    places: dict[str, str] = {}
    value_places: dict[str, str] = {}
    for label, record in records(case.sweep):
        name, values = record["change"], record["values"]
        if is_blank(name) or is_blank(values):
            continue  # reported as required
        name = str(name).strip()
        earlier = next((given for given in places if same_change(given, name)), None)
        if earlier is not None:
            issues.append(
                Issue(
                    where.cell("Sweep", "change", label),
                    f"{name} is also changed at {places[earlier]}; give all its values in one "
                    "row (e.g. 0.1,0.2,0.5)",
                )
            )
            continue
        try:
            tried = parse_values(str(values), limit)
        except ChangeError as error:
            issues.append(Issue(where.cell("Sweep", "values", label), str(error)))
            continue
        if not tried:
            issues.append(Issue(where.cell("Sweep", "values", label), "no values to try"))
            continue
        within = grid_size(counts.values()) <= limit
        counts[name] = len(tried)
        if within and grid_size(counts.values()) > limit:
            issues.append(
                Issue(
                    where.cell("Sweep", "values", label),
                    f"the Sweep sheet's rows make {grid_size(counts.values()):,} variants, more "
                    f"than the limit of {limit:,} variants per sweep (PLANNER_MAX_VARIANTS)",
                )
            )
        changes[name] = tried
        places[name] = where.cell("Sweep", "change", label)
        value_places[name] = where.cell("Sweep", "values", label)
    if changes and grid_size(counts.values()) <= limit:
        issues += check_changes(case, changes, places, value_places)
    return issues


def check_changes(
    case: Case,
    changes: Mapping[str, Iterable[float]],
    places: Mapping[str, str] | None = None,
    value_places: Mapping[str, str] | None = None,
) -> list[Issue]:
    """Put every changed value through the checks of a cell, naming the variant and the change.

    Each change is applied alone to a copy of ``case``, value by value (see
    :func:`planner.changes.checked_values` for a change of many values), and
    the whole case is checked again: an error the case does not have
    without the change is reported at the change's place (its Sweep cell,
    ``--vary``, or the change's name) as ``NAME=VALUE (variant N): CELL:
    message``, N the first variant of the grid that has that value (at
    ``value_places``, where given: the Sweep cell of the values). A change
    that names nothing is an error; the first value's warnings (rows not
    changed that still decide a cap) are warnings.
    """
    places = places or {}
    value_places = value_places or places
    base = copy.copy(case)
    base.sweep = case.sweep.iloc[0:0]  # a variant's own Sweep sheet is not checked again
    known = {(i.where, i.message) for i in check_case(base) if i.severity == "error"}
    lists = {name: list(values) for name, values in changes.items()}
    sizes = [len(values) for values in lists.values()]
    issues: list[Issue] = []
    for k, (name, values) in enumerate(lists.items()):
        place = places.get(name, name)
        stride = math.prod(sizes[k + 1 :])
        for n, value in enumerate(checked_values(values)):
            variant = base.copy()
            try:
                notes = apply_change(variant, name, value)
            except ChangeError as error:
                text = str(error)
                prefix = f"{name!r}: "
                placed = name in places or not text.startswith(prefix)
                issues.append(Issue(place, text if placed else text[len(prefix) :]))
                break
            if n == 0:
                issues += [Issue(place, text, "warning") for text in notes]
            variant_name = f"{name}={value:g} (variant {values.index(value) * stride + 1:,})"
            issues += [
                Issue(value_places.get(name, place), f"{variant_name}: {issue}")
                if name in places
                else Issue(variant_name, str(issue))
                for issue in check_case(variant)
                if issue.severity == "error" and (issue.where, issue.message) not in known
            ]
    return issues


#: Checks of single cells and Settings values: they see every row as read.
CELL_CHECKS = (check_columns, check_settings)

#: Checks within and across sheets: they see each id once (see :func:`unique_ids`).
CROSS_CHECKS = (
    check_structure,
    check_references,
    check_stock,
    check_cover_targets,
    check_demand,
    check_offers,
    check_offer_periods,
    check_activities,
    check_policies,
    check_scenarios,
    check_disruptions,
    check_events,
    check_sweep,
    *CHECKS,
    check_big_m,
)


def unique_ids(case: Case) -> Case:
    """Return a view of ``case`` whose id-keyed tables hold each id once.

    A blank or repeated id is an error that :func:`check_columns` reports with
    its cells. The rows left out here (every blank id, every repeat after the
    first) would otherwise make an id stand for several rows, and a lookup by
    id return a table where a check expects one record. The tables are
    filtered copies; ``case`` itself is not changed.
    """
    view = copy.copy(case)  # shares everything but the tables replaced below
    for spec in input_sheets():
        if not spec.id_column:
            continue
        table = case.table(spec.name)
        index = table.index
        given = ~pd.isna(index) & (index.astype(str) != "")
        keep = given & ~index.duplicated(keep="first")
        if not keep.all():
            setattr(view, TABLES[spec.name], table[keep])
    return view


def check_case(case: Case, sweep: bool = True) -> list[Issue]:
    """Run every check on ``case``; return all issues (errors and warnings).

    ``sweep`` False leaves out the Sweep sheet's variants (:func:`check_sweep`:
    every value of every row, each on a copy of the whole case): a solve does
    not read the sheet, and its loading or ``planner sweep`` checks it.
    """
    issues: list[Issue] = []
    for check in CELL_CHECKS:
        issues.extend(check(case))
    view = unique_ids(case)
    for check in CROSS_CHECKS:
        if sweep or check is not check_sweep:
            issues.extend(check(view))
    if not any(issue.severity == "error" for issue in issues):
        issues.extend(check_derived(view))
    return issues


def check_derived(case: Case) -> list[Issue]:
    """Run the checks that need the derived parameters (disrupted demand), on a sound case."""
    if case.settings.stock_value_max is None:
        return []  # the only one so far; deriving costs a sweep's variant time
    return check_initial_stock_value(case, derive(case))


def merge_issues(parsed: Iterable[Issue], checked: Iterable[Issue]) -> list[Issue]:
    """Join the issues of both stages, without reporting a cell twice.

    A cell that failed to parse is blank in the case, so the checks may
    report it again (``is required``); the parse message is the useful one.
    """
    result = list(dict.fromkeys(parsed))
    parse_errors = {i.where for i in result if i.severity == "error"}
    checked = list(dict.fromkeys(checked))
    covered = _covered_cells(result, [i.where for i in checked if i.severity == "error"])
    for issue in checked:
        if issue.severity == "error" and (issue.where in parse_errors or issue.where in covered):
            continue
        result.append(issue)
    return result


_CELL = re.compile(r"^(?P<sheet>.+)!(?P<column>[A-Z]{1,3})(?P<row>[0-9]+)$")


def _covered_cells(ranges: list[Issue], cells: list[str]) -> set[str]:
    """Return the ``Sheet!A5`` addresses of ``cells`` inside a ``Sheet!A3:B4`` of ``ranges``.

    Worked out from the range bounds, never cell by cell: a range may cover a whole sheet.
    """
    boxes: dict[str, list[tuple[int, int, int, int]]] = {}
    for issue in ranges:
        sheet, _, area = issue.where.rpartition("!")
        if sheet and ":" in area and area[0].isalpha():
            boxes.setdefault(sheet, []).append(range_boundaries(area))
    located = [(where, _CELL.match(where)) for where in cells]
    wanted: dict[str, set[int]] = {}
    for _, match in located:
        if match and match["sheet"] in boxes:
            wanted.setdefault(match["sheet"], set()).add(column_index_from_string(match["column"]))
    spans = {sheet: row_spans(boxes[sheet], columns) for sheet, columns in wanted.items()}
    return {
        where
        for where, match in located
        if match
        and match["sheet"] in spans
        and covers(
            spans[match["sheet"]], int(match["row"]), column_index_from_string(match["column"])
        )
    }
