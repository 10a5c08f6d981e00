"""Checks of the v2 contract: joint products, signings, commitments, previous plans, bases.

Pure functions on a typed case, like those of :mod:`planner.validate` (which
runs them with its own): they never print and never mutate their input, and
name every problem as ``Sheet!CELL``. See spec/workbook.md, "v2 additions".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from planner.data import Case
from planner.errors import Issue
from planner.locate import Locator, is_blank, records
from planner.model.parameters import BASIS_POLICIES, CHINA_GROUP, DOMESTIC, Policy, offer_countries

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
    for label in keyed.index[keyed.duplicated(subset=["offer", "element"], keep="first")]:
        issues.append(
            Issue(
                where.row("OfferContents", label),
                f"duplicate contents for ({keyed.at[label, 'offer']!s}, "
                f"{keyed.at[label, 'element']!s})",
            )
        )
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


def _country_cap_reach(case: Case, where: Locator, label: Any, record: pd.Series) -> list[Issue]:
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
    for activity, country in recycling["country"].items():
        if activity in recyclers:
            code = group(country if isinstance(country, str) and country else DOMESTIC)
            memberships.append(frozenset([code]) if code is not None else frozenset())
    return memberships


def check_commitments(case: Case) -> list[Issue]:
    """Firm orders: on contracted offers, one per (offer, period), within capacity."""
    where = Locator(case)
    issues: list[Issue] = []
    table = case.commitments
    keyed = table.dropna(subset=["offer", "period"])
    for label in keyed.index[keyed.duplicated(subset=["offer", "period"], keep="first")]:
        issues.append(
            Issue(
                where.row("Commitments", label),
                f"duplicate commitment for ({keyed.at[label, 'offer']!s}, "
                f"{keyed.at[label, 'period']!s})",
            )
        )
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
    periods = [str(p) for p in case.periods.index]
    position = {p: t for t, p in enumerate(periods)}
    first = position.get(record["first_period"], 0)
    last = position.get(record["last_period"], len(periods) - 1)
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
    keyed = table.dropna(subset=["offer", "period"])
    for label in keyed.index[keyed.duplicated(subset=["offer", "period"], keep="first")]:
        issues.append(
            Issue(
                where.row("PreviousPlan", label),
                f"duplicate previous order for ({keyed.at[label, 'offer']!s}, "
                f"{keyed.at[label, 'period']!s})",
            )
        )
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
    check_commitments,
    check_previous_plan,
)
