"""Derived parameters of the model (models/sourcing/formulation.md, "Derived parameters").

Everything the Pyomo builder needs is computed here from a validated
:class:`~planner.data.Case` as plain numpy arrays and dicts: per-scenario
capacities, costs and demand after disruptions, the scenario tree, China
flags, risk scores and the policy value that applies to each cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from planner.data import Case
from planner.events import ScenarioSet, scenario_set

BASES = ("shipment", "mining", "refining", "any")
#: Policies.measure: pooled supply counted in units (blank) or at reference prices (B2).
QUANTITY, VALUE = "quantity", "value"
MEASURES = (QUANTITY, VALUE)


class Policy(StrEnum):
    """The rules of the Policies sheet's ``policy`` column (equal to their text)."""

    CHINA_SHARE_MAX = "china_share_max"
    COUNTRY_SHARE_MAX = "country_share_max"
    RISK_MAX = "risk_max"
    OFFER_SHARE_MAX = "offer_share_max"
    MIN_OFFERS = "min_offers"


POLICIES = tuple(Policy)
#: Policies whose rows name a basis (Policies.basis; blank: Settings china_basis).
BASIS_POLICIES = (Policy.CHINA_SHARE_MAX, Policy.COUNTRY_SHARE_MAX)
#: Policies that may pool every element (element TOTAL); on TOTAL also by value (B2).
POOLABLE_POLICIES = (Policy.CHINA_SHARE_MAX, Policy.COUNTRY_SHARE_MAX, Policy.RISK_MAX)
TOTAL = "TOTAL"
#: The country group the china_codes form together (formulation A6).
CHINA_GROUP = "China"
#: Where an activity runs when its country is blank; never China, never a group.
DOMESTIC = "domestic"
_TREE_RTOL = 1e-9

#: A family of caps: (policy, basis); basis "" for policies without one.
CapFamily = tuple[str, str]
#: A float or an array of them: the derived-parameter formulas work on either.
Number = TypeVar("Number", float, np.ndarray)


@dataclass(frozen=True)
class Node:
    """A node of the scenario tree: one period and the scenarios it cannot tell apart."""

    id: int
    period: int
    scenarios: tuple[int, ...]
    probability: float
    parent: int | None


@dataclass(frozen=True)
class Cap:
    """The policy value that applies to one cell, and the Policies rows it came from."""

    value: float
    rows: tuple[Any, ...]  # labels of the Policies rows that bind (tightest, highest rank)


@dataclass
class ModelData:
    """All parameters, indexed by position in the id lists (``periods``, ``offers``, ...).

    The field names are the public contract (users' scripts read them), so
    they carry no unit; the comments give it: ``units`` is the element's unit
    (Settings ``unit``), ``product units`` an offer's product (``contents``
    element units each), ``level`` an activity's, ``currency`` Settings
    ``currency``.
    """

    periods: list[str]
    days: np.ndarray  # [period]: days
    elements: list[str]
    element_group: list[str]
    shortage_cost: np.ndarray  # [element]: currency per unit unmet
    holding_cost: np.ndarray  # [element]: currency per unit held per period
    initial_stock: np.ndarray  # [element]: units
    storage_capacity: np.ndarray  # [element]: units, inf where unlimited
    cover_days: np.ndarray  # [element]: days of demand
    cover_penalty: np.ndarray  # [element]: currency per unit below target per period
    reference_price: np.ndarray  # P_e, currency per unit; NaN where blank (B2, B3)
    #: Shortage segments (B1), grouped by element in element order: an element with
    #: ShortageTiers rows has its tiers by cost (ties in row order), then the rest;
    #: one without has a single segment, the whole requirement at shortage_cost.
    segment_element: np.ndarray  # int [segment]: its element
    segment_use: list[str]  # [segment]: the tier's use label; OTHER_USE for the rest
    segment_share: np.ndarray  # [segment]: share of the requirement Q[e,n] it covers
    segment_cost: np.ndarray  # [segment]: currency per unit short in it
    stock_value_max: float  # currency: end-of-period stock value at reference prices (B3); inf
    offers: list[str]
    contents: np.ndarray  # a[o,e]: units of element e per product unit of offer o
    offer_label: list[str]  # the offer's element, or its contents joined by '+'
    offer_later: np.ndarray  # bool [offer]: signing = later (and not already contracted)
    offer_lead: np.ndarray  # int [offer]: periods from signing to first delivery
    offer_contracted: np.ndarray  # bool [offer]: already signed before the horizon
    offer_fixed_cost: np.ndarray  # [offer]: currency
    offer_min_take: np.ndarray  # [offer]: product units per period (see min_take())
    offer_window: np.ndarray  # bool [offer, period]
    offer_risk: np.ndarray
    offer_china: dict[str, np.ndarray]  # basis -> bool [offer]
    groups: list[str]  # country groups of country_share_max (china_codes together)
    offer_groups: dict[str, np.ndarray]  # basis -> 0/1 [offer, group]: counts for the group
    #: HHI's groups: every code (china_codes together, home codes and domestic included)
    sources: list[str]
    offer_sources: dict[str, np.ndarray]  # basis -> [offer, source]: share of its quantity
    activities: list[str]
    activity_kind: list[str]
    activity_fixed_cost: np.ndarray  # [activity]: currency
    activity_window: np.ndarray  # bool [activity, period]
    activity_risk: np.ndarray
    activity_china: np.ndarray  # bool [activity]
    activity_groups: np.ndarray  # 0/1 [activity, group] (recycling counts on every basis)
    activity_sources: np.ndarray  # [activity, source]: recycling's country (HHI)
    yields: np.ndarray  # [activity, element]: units per unit of level
    scenarios: list[str]
    probability: np.ndarray
    capacity: np.ndarray  # [offer, period, scenario]: product units per period
    unit_cost: np.ndarray  # [offer, period, scenario]: currency per product unit
    activity_capacity: np.ndarray  # [activity, period, scenario]: level per period
    activity_cost: np.ndarray  # [activity, period, scenario]: currency per level
    demand: np.ndarray  # [element, period, scenario]: units per period
    cover_factor: np.ndarray  # [element, period, scenario], Disruptions.cover_factor
    commitment: np.ndarray  # [offer, period]: firm order, product units, NaN where none
    previous: np.ndarray  # [offer, period]: PreviousPlan product units (0 where no row)
    previous_offers: np.ndarray  # bool [offer]: listed in PreviousPlan
    previous_periods: np.ndarray  # bool [period]: named by any PreviousPlan row
    change_cost: float  # currency per product unit of change against PreviousPlan
    china_basis: str
    cvar_alpha: float
    cvar_weight: float
    nodes: list[Node] = field(default_factory=list)
    node_of: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=int))
    #: (policy, basis) -> (element or TOTAL, period) -> the cap that applies
    caps: dict[CapFamily, dict[tuple[str, int], Cap]] = field(default_factory=dict)
    #: (policy, basis) -> (TOTAL, period) -> the cap of Policies rows with measure value (B2)
    value_caps: dict[CapFamily, dict[tuple[str, int], Cap]] = field(default_factory=dict)
    min_offers: dict[str, Cap] = field(default_factory=dict)
    #: [offer, node]: product units no optimal plan needs more of (:func:`useful_capacity`)
    offer_useful: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    #: [activity, node]: level no optimal plan needs more of (:func:`useful_capacity`)
    activity_useful: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def china(self) -> np.ndarray:
        """China flag of each offer on the case's basis."""
        return self.offer_china[self.china_basis]

    def min_take(self) -> np.ndarray:
        """Effective minimum take ``m[o,t,w] = min(min_take, cap[o,t,w])`` (product units)."""
        return effective_min_take(self.offer_min_take[:, None, None], self.capacity)

    def firm_order(self) -> np.ndarray:
        """Firm order ``min(quantity, cap[o,t,w])`` of Commitments, NaN where none (A5)."""
        return effective_firm_order(self.commitment[:, :, None], self.capacity)

    def cover_target(self) -> np.ndarray:
        """Cover target ``q[e,t,w] = cover_days[e] d[e,t,w] / days[t]`` times cover_factor."""
        return cover_target(
            self.cover_days[:, None, None],
            self.demand,
            self.days[None, :, None],
            self.cover_factor,
        )

    def offer_bound(self, o: int, n: int) -> float:
        """Return the big-M of x[o,n] <= M y: ``min(cap[o,n], useful[o,n])`` (product units)."""
        node = self.nodes[n]
        capacity = float(self.capacity[o, node.period, node.scenarios[0]])
        return min(capacity, float(self.offer_useful[o, n]))

    def activity_bound(self, k: int, n: int) -> float:
        """Return the big-M of r[k,n] <= M z: ``min(acap[k,n], useful[k,n])`` (level)."""
        node = self.nodes[n]
        capacity = float(self.activity_capacity[k, node.period, node.scenarios[0]])
        return min(capacity, float(self.activity_useful[k, n]))

    def cap_families(self, policy: str, measure: str = QUANTITY) -> list[CapFamily]:
        """Return the (policy, basis) families of ``policy`` that have caps, in basis order.

        ``measure`` value: the families of value-weighted caps on TOTAL (B2).
        """
        return [family for family in self.caps_of(measure) if family[0] == policy]

    def caps_of(self, measure: str) -> dict[CapFamily, dict[tuple[str, int], Cap]]:
        """Return the caps counted in ``measure``: :attr:`caps` or :attr:`value_caps`."""
        return self.value_caps if measure == VALUE else self.caps

    def prices(self) -> np.ndarray:
        """P_e with blanks as 0 (only value caps read it; checks require every price then)."""
        return np.nan_to_num(self.reference_price, nan=0.0)

    def first_delivery(self) -> np.ndarray:
        """Period position from which each offer can deliver at the earliest (its lead time)."""
        return np.where(self.offer_contracted, 0, self.offer_lead)

    def deliverable(self) -> np.ndarray:
        """Bool [offer, period]: inside the window and past the lead time."""
        periods = np.arange(len(self.periods))
        return self.offer_window & (periods[None, :] >= self.first_delivery()[:, None])

    def offers_of(self, e: int) -> np.ndarray:
        """Positions of the offers that carry element e (``O_e``)."""
        return np.flatnonzero(self.contents[:, e] > 0)

    def recycling(self) -> np.ndarray:
        """Bool mask of recycling activities."""
        return np.array([kind == "recycling" for kind in self.activity_kind], dtype=bool)

    def segments_of(self, e: int) -> np.ndarray:
        """Positions of element e's shortage segments, cheapest first (B1)."""
        return np.flatnonzero(self.segment_element == e)

    def tiered(self) -> np.ndarray:
        """Bool [element]: the element has ShortageTiers rows (more than one segment, B1)."""
        counts = np.bincount(self.segment_element, minlength=len(self.elements))
        return np.asarray(counts > 1, dtype=bool)


def effective_min_take(min_take: Number, capacity: Number) -> Number:
    """Effective minimum take ``m = min(min_take, cap)``: a disruption may cut it (1).

    Elementwise, so that the model's rows (per scalar) and the plan's checks
    (whole arrays) read the one definition.
    """
    return np.minimum(min_take, capacity)


def effective_firm_order(quantity: Number, capacity: Number) -> Number:
    """Firm order ``min(quantity, cap)``: a disrupted capacity cuts it (A5); NaN stays NaN."""
    return np.minimum(quantity, capacity)


def cover_target(cover_days: Number, demand: Number, days: Number, cover_factor: Number) -> Number:
    """Cover target ``q = cover_days d / days`` times cover_factor (6, A4), elementwise."""
    return cover_days * demand / days * cover_factor


#: The use label of the rest of a requirement, beyond an element's tiers (B1).
OTHER_USE = "other"


def tier_labels(tiers: pd.DataFrame) -> pd.Series:
    """Return the ``use`` label of every ShortageTiers row: as typed, or ``tier N`` if blank.

    N is the row's rank among its element's tiers sorted by cost, 1 the
    cheapest, ties in row order (v3 readings). Rows with a blank element or
    cost are ranked after the others.
    """
    labels = pd.Series("", index=tiers.index, dtype=object)
    for _, group in tiers.groupby("element", sort=False, dropna=False):
        ranked = tier_order(group)
        for rank, label in enumerate(ranked, start=1):
            use = group.at[label, "use"]
            labels[label] = str(use) if not _blank(use) and str(use) else f"tier {rank}"
    return labels


def tier_order(tiers: pd.DataFrame) -> list[Any]:
    """Labels of ``tiers`` sorted by cost, ties (and blank costs, last) in row order."""
    costs = pd.to_numeric(tiers["cost"], errors="coerce").fillna(np.inf).to_numpy(float)
    order = np.argsort(costs, kind="stable")
    return [tiers.index[i] for i in order]


def shortage_segments(
    case: Case, elements: list[str], shortage: np.ndarray
) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """(element, use, share, cost) of every shortage segment, grouped by element (B1)."""
    tiers = case.shortage_tiers
    labels = tier_labels(tiers)
    element_of, uses, shares, costs = [], [], [], []
    for e, element in enumerate(elements):
        mine = tiers[tiers["element"] == element]
        share_of = mine["share"].astype(float).to_dict()
        cost_of = mine["cost"].astype(float).to_dict()
        rest = 1.0
        for label in tier_order(mine):
            element_of.append(e)
            uses.append(str(labels[label]))
            shares.append(share_of[label])
            costs.append(cost_of[label])
            rest -= shares[-1]
        element_of.append(e)
        uses.append(OTHER_USE)
        shares.append(max(0.0, rest) if len(mine) else 1.0)
        costs.append(float(shortage[e]))
    return (
        np.array(element_of, dtype=int),
        uses,
        np.array(shares, dtype=float),
        np.array(costs, dtype=float),
    )


def split_shortage(unmet: np.ndarray, requirement: np.ndarray, data: ModelData) -> np.ndarray:
    """Split u [element, ...] over the segments cheapest first, each up to share Q (B1).

    Returns [segment, ...]. The v3 reading "Which tier": each element's
    shortage fills its tiers in order, each up to ``share_i Q[e,n]``; the
    last segment takes what is left, so a shortage above Q (a broken A1
    bound) shows there above its bound.
    """
    split = np.zeros((len(data.segment_element), *unmet.shape[1:]))
    for e in range(len(data.elements)):
        left = unmet[e].astype(float)
        positions = data.segments_of(e)
        for s in positions[:-1]:
            split[s] = np.minimum(left, data.segment_share[s] * requirement[e])
            split[s] = np.maximum(split[s], 0.0)
            left = left - split[s]
        split[positions[-1]] = left
    return split


def _blank(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def _window(table: pd.DataFrame, periods: list[str]) -> np.ndarray:
    position = {p: i for i, p in enumerate(periods)}
    window = np.zeros((len(table), len(periods)), dtype=bool)
    for row, (first, last) in enumerate(
        zip(table["first_period"], table["last_period"], strict=True)
    ):
        start = position.get(first, 0) if not _blank(first) else 0
        stop = position.get(last, len(periods) - 1) if not _blank(last) else len(periods) - 1
        window[row, start : stop + 1] = True
    return window


def derive(case: Case) -> ModelData:
    """Compute every derived parameter of ``case``."""
    periods = case.period_ids
    elements = [str(e) for e in case.elements.index]
    element_position = {e: i for i, e in enumerate(elements)}
    settings = case.settings
    # copies: the arrays below may be views of the tables, and a view would follow a later
    # edit of the case (a sweep's next variant), hiding the change from the kept model
    el = case.elements.copy()
    shortage = el["shortage_cost"].to_numpy(float)
    cover_penalty = el["cover_penalty"].to_numpy(float)
    cover_penalty = np.where(np.isnan(cover_penalty), 0.1 * shortage, cover_penalty)
    reference_price = (
        el["reference_price"].to_numpy(float)
        if "reference_price" in el.columns
        else np.full(len(elements), np.nan)
    )
    segment_element, segment_use, segment_share, segment_cost = shortage_segments(
        case, [str(e) for e in el.index], shortage
    )
    stock_value_max = settings.stock_value_max
    storage = el["storage_capacity"].to_numpy(float)
    storage = np.where(np.isnan(storage), np.inf, storage)

    offers = case.offers.copy()
    china_codes = set(settings.china_codes) - {DOMESTIC}
    countries = offer_countries(offers)
    in_china = {column: codes.isin(china_codes).to_numpy() for column, codes in countries.items()}
    offer_china = {
        "shipment": in_china["country"],
        "mining": in_china["mine_country"],
        "refining": in_china["refine_country"],
        "any": in_china["country"] | in_china["mine_country"] | in_china["refine_country"],
    }
    country_risk = case.countries["risk"].to_dict()
    weakest_link = (
        np.max(
            np.column_stack(
                [
                    codes.map(country_risk).fillna(0.0).to_numpy(float)
                    for codes in countries.values()
                ]
            ),
            axis=1,
        )
        if len(offers)
        else np.zeros(0)
    )
    offer_risk = offers["risk"].to_numpy(float)
    offer_risk = np.where(np.isnan(offer_risk), weakest_link, offer_risk)
    contents = offer_contents(case, elements)

    activities = case.activities.copy()
    activity_country = activity_countries(activities)
    activity_risk = activities["risk"].to_numpy(float)
    activity_country_risk = activity_country.map(country_risk).fillna(0.0).to_numpy(float)
    activity_risk = np.where(np.isnan(activity_risk), activity_country_risk, activity_risk)
    activity_ids = [str(k) for k in activities.index]
    activity_position = {k: i for i, k in enumerate(activity_ids)}
    yields = np.zeros((len(activity_ids), len(elements)))
    for activity, element, value in case.activity_yields[
        ["activity", "element", "yield"]
    ].itertuples(index=False):
        yields[activity_position[activity], element_position[element]] = value
    groups, offer_groups, activity_groups = country_groups(
        settings, countries, activity_country, activities["kind"]
    )
    sources, offer_sources, activity_sources = country_groups(
        settings, countries, activity_country, activities["kind"], split=True
    )
    made = scenario_set(case)  # from Scenarios and Disruptions, or made from Events (B4)
    contracted = offers["contracted"].fillna("no").eq("yes").to_numpy(bool)
    later = offers["signing"].fillna("now").eq("later").to_numpy(bool) & ~contracted

    data = ModelData(
        periods=periods,
        days=case.periods["days"].to_numpy(float, copy=True),
        elements=elements,
        element_group=[str(g) for g in el["group"]],
        shortage_cost=shortage,
        holding_cost=el["holding_cost"].to_numpy(float),
        initial_stock=el["initial_stock"].to_numpy(float),
        storage_capacity=storage,
        cover_days=el["cover_days"].to_numpy(float),
        cover_penalty=cover_penalty,
        reference_price=reference_price,
        segment_element=segment_element,
        segment_use=segment_use,
        segment_share=segment_share,
        segment_cost=segment_cost,
        stock_value_max=np.inf if stock_value_max is None else float(stock_value_max),
        offers=[str(o) for o in offers.index],
        contents=contents,
        offer_label=["+".join(elements[e] for e in np.flatnonzero(row > 0)) for row in contents],
        offer_later=later,
        offer_lead=offers["lead_time"].fillna(0.0).to_numpy(float).astype(int),
        offer_contracted=contracted,
        offer_fixed_cost=offers["fixed_cost"].to_numpy(float),
        offer_min_take=offers["min_take"].to_numpy(float),
        offer_window=_window(offers, periods),
        offer_risk=offer_risk,
        offer_china=offer_china,
        groups=groups,
        offer_groups=offer_groups,
        sources=sources,
        offer_sources=offer_sources,
        activities=activity_ids,
        activity_kind=[str(k) for k in activities["kind"]],
        activity_fixed_cost=activities["fixed_cost"].to_numpy(float),
        activity_window=_window(activities, periods),
        activity_risk=activity_risk,
        activity_china=activity_country.isin(china_codes).to_numpy(),
        activity_groups=activity_groups,
        activity_sources=activity_sources,
        yields=yields,
        scenarios=[str(w) for w in made.scenarios.index],
        probability=made.scenarios["probability"].to_numpy(float),
        capacity=np.zeros(0),
        unit_cost=np.zeros(0),
        activity_capacity=np.zeros(0),
        activity_cost=np.zeros(0),
        demand=np.zeros(0),
        cover_factor=np.zeros(0),
        commitment=np.zeros(0),
        previous=np.zeros(0),
        previous_offers=np.zeros(0, dtype=bool),
        previous_periods=np.zeros(0, dtype=bool),
        change_cost=float(settings.change_cost),
        china_basis=settings.china_basis,
        cvar_alpha=float(settings.cvar_alpha),
        cvar_weight=float(settings.cvar_weight),
    )
    _scenario_parameters(case, data, made)
    _plan_parameters(case, data)
    data.nodes, data.node_of = scenario_tree(data)
    data.caps, data.value_caps, data.min_offers = resolve_policies(case, data)
    data.offer_useful, data.activity_useful = useful_capacity(data)
    return data


def offer_countries(offers: pd.DataFrame) -> dict[str, pd.Series]:
    """Country, mine_country and refine_country of every offer (blank: its country)."""
    return {
        column: offers[column].fillna(offers["country"]).astype(str)
        for column in ("country", "mine_country", "refine_country")
    }


def activity_countries(activities: pd.DataFrame) -> pd.Series:
    """Country of every activity (blank: DOMESTIC, run at home; never China, never a group)."""
    country = activities["country"]
    return country.where(country.notna() & (country != ""), DOMESTIC).astype(str)


def offer_suppliers(offers: pd.DataFrame) -> pd.Series:
    """Supplier label of every offer (blank: the offer id)."""
    return offers["supplier"].fillna(pd.Series(offers.index, index=offers.index)).astype(str)


def offer_contents(case: Case, elements: list[str]) -> np.ndarray:
    """``a[o,e]``: OfferContents fractions, else 1 for the offer's element (formulation A2)."""
    position = {e: i for i, e in enumerate(elements)}
    offer_position = {str(o): i for i, o in enumerate(case.offers.index)}
    contents = np.zeros((len(case.offers), len(elements)))
    for row, element in enumerate(case.offers["element"]):
        if isinstance(element, str) and element in position:
            contents[row, position[element]] = 1.0
    for offer, element, fraction in case.offer_contents[
        ["offer", "element", "fraction"]
    ].itertuples(index=False):
        contents[offer_position[offer], position[element]] = fraction
    return contents


def country_groups(
    settings: Any,
    countries: dict[str, pd.Series],
    activity_country: pd.Series,
    activity_kind: pd.Series,
    split: bool = False,
) -> tuple[list[str], dict[str, np.ndarray], np.ndarray]:
    """Country groups of country_share_max, and who counts for which (formulation A6).

    The china_codes form one group, every other code its own; ``domestic``
    and the Settings home_codes form none. On a single basis an offer counts
    for the group of that country; on ``any`` once for each distinct group of
    its three countries. Recycling counts for its country's group.

    ``split``: the sources of the Herfindahl-Hirschman index instead: home
    codes and domestic are sources too, and an offer's quantity is split
    equally over its distinct sources (on ``any``), so shares add up to 1.
    """
    china = set(settings.china_codes) - {DOMESTIC}
    exempt = set() if split else set(settings.home_codes) | {DOMESTIC}

    def group(code: str) -> str | None:
        if code in exempt:
            return None
        return CHINA_GROUP if code in china else code

    codes = [*(c for series in countries.values() for c in series), *activity_country]
    groups = sorted({g for g in map(group, codes) if g is not None})
    position = {g: i for i, g in enumerate(groups)}
    n_offers = len(countries["country"])
    by_column = {
        "shipment": ["country"],
        "mining": ["mine_country"],
        "refining": ["refine_country"],
        "any": ["country", "mine_country", "refine_country"],
    }
    offer_groups = {}
    for basis, columns in by_column.items():
        matrix = np.zeros((n_offers, len(groups)))
        for column in columns:
            for o, code in enumerate(countries[column]):
                g = group(code)
                if g is not None:
                    matrix[o, position[g]] = 1.0  # once per distinct group
        if split:
            matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1.0)
        offer_groups[basis] = matrix
    activity_groups = np.zeros((len(activity_country), len(groups)))
    for k, (code, kind) in enumerate(zip(activity_country, activity_kind, strict=True)):
        g = group(code)
        if g is not None and kind == "recycling":
            activity_groups[k, position[g]] = 1.0
    return groups, offer_groups, activity_groups


def _plan_parameters(case: Case, data: ModelData) -> None:
    """Fill commitments and the previous plan, as [offer, period] arrays (formulation A5)."""
    offer_position = {o: i for i, o in enumerate(data.offers)}
    period_position = {p: t for t, p in enumerate(data.periods)}
    shape = (len(data.offers), len(data.periods))
    data.commitment = np.full(shape, np.nan)
    for offer, period, quantity in case.commitments[["offer", "period", "quantity"]].itertuples(
        index=False
    ):
        data.commitment[offer_position[offer], period_position[period]] = quantity
    data.previous = np.zeros(shape)
    data.previous_offers = np.zeros(shape[0], dtype=bool)
    data.previous_periods = np.zeros(shape[1], dtype=bool)
    for offer, period, quantity in case.previous_plan[["offer", "period", "quantity"]].itertuples(
        index=False
    ):
        if offer not in offer_position or period not in period_position:
            continue  # a warning says so
        o, t = offer_position[offer], period_position[period]
        data.previous[o, t] = quantity
        data.previous_offers[o] = True
        data.previous_periods[t] = True


def _scenario_parameters(case: Case, data: ModelData, made: ScenarioSet) -> None:
    """Fill capacity, cost and demand per scenario (OfferPeriods, windows, disruptions)."""
    periods, scenarios = data.periods, data.scenarios
    n_t, n_w = len(periods), len(scenarios)
    period_position = {p: i for i, p in enumerate(periods)}
    offers = case.offers
    offer_position = {o: i for i, o in enumerate(data.offers)}

    capacity = np.repeat(offers["capacity"].to_numpy(float)[:, None], n_t, axis=1)
    cost = np.repeat(offers["unit_cost"].to_numpy(float)[:, None], n_t, axis=1)
    for offer, period, cap, unit_cost in case.offer_periods[
        ["offer", "period", "capacity", "unit_cost"]
    ].itertuples(index=False):
        o, t = offer_position[offer], period_position[period]
        if not data.offer_window[o, t]:
            continue  # the window wins (a warning was given)
        if not _blank(cap):
            capacity[o, t] = cap
        if not _blank(unit_cost):
            cost[o, t] = unit_cost
    capacity = np.where(data.offer_window, capacity, 0.0)
    data.capacity = np.repeat(capacity[:, :, None], n_w, axis=2)
    data.unit_cost = np.repeat(cost[:, :, None], n_w, axis=2)

    acts = case.activities
    acap = np.where(
        data.activity_window,
        np.repeat(acts["capacity"].to_numpy(float)[:, None], n_t, axis=1),
        0.0,
    )
    acost = np.repeat(acts["unit_cost"].to_numpy(float)[:, None], n_t, axis=1)
    data.activity_capacity = np.repeat(acap[:, :, None], n_w, axis=2)
    data.activity_cost = np.repeat(acost[:, :, None], n_w, axis=2)

    demand = np.zeros((len(data.elements), n_t))
    element_position = {e: i for i, e in enumerate(data.elements)}
    for element, period, quantity in case.demand[["element", "period", "quantity"]].itertuples(
        index=False
    ):
        demand[element_position[element], period_position[period]] = quantity
    data.demand = np.repeat(demand[:, :, None], n_w, axis=2)
    data.cover_factor = np.ones_like(data.demand)
    _apply_disruptions(case, data, made)


def _element_mask(data: ModelData, element: Any) -> np.ndarray:
    """Elements matched by a disruption's element field (blank, id or group)."""
    if _blank(element) or element == "":
        return np.ones(len(data.elements), dtype=bool)
    if element in data.elements:
        return np.array([e == element for e in data.elements], dtype=bool)
    group = str(element).lower()
    return np.array([g == group for g in data.element_group], dtype=bool)


def _apply_disruptions(case: Case, data: ModelData, made: ScenarioSet) -> None:
    """Multiply each disruption row's factors into the scenarios it applies to."""
    periods = data.periods
    scenario_position = {w: i for i, w in enumerate(data.scenarios)}
    offers, activities = case.offers, case.activities
    codes = {column: series.to_numpy() for column, series in offer_countries(offers).items()}
    supplier = offer_suppliers(offers)
    activity_country = activity_countries(activities).to_numpy()
    activity_ids = np.array(data.activities, dtype=object)
    offer_ids = np.array(data.offers, dtype=object)
    window = _window(made.disruptions, periods)
    for row, record in enumerate(made.disruptions.to_dict("records")):
        w = np.array([scenario_position[s] for s in made.applies_to[row]], dtype=int)
        if not len(w):
            continue  # a row of no scenario: nothing to apply
        t_mask = window[row]
        cap_factor = 1.0 if _blank(record["capacity_factor"]) else float(record["capacity_factor"])
        cost_factor = 1.0 if _blank(record["cost_factor"]) else float(record["cost_factor"])
        target = None if _blank(record["target"]) else str(record["target"])
        elements = _element_mask(data, record["element"])
        cover_factor: Any = record.get("cover_factor")
        if not _blank(cover_factor):
            data.cover_factor[np.ix_(elements, t_mask, w)] *= float(cover_factor)
        target_type = record["target_type"]
        if target_type == "demand":
            data.demand[np.ix_(elements, t_mask, w)] *= cap_factor
            continue
        # a joint product stops whole when any element of its contents matches (A2)
        offer_mask = np.asarray((data.contents[:, elements] > 0).any(axis=1), dtype=bool)
        activity_mask = np.zeros(len(data.activities), dtype=bool)
        if target_type == "country":
            offer_mask &= (
                (codes["country"] == target)
                | (codes["mine_country"] == target)
                | (codes["refine_country"] == target)
            )
            activity_mask = activity_country == target
        elif target_type == "supplier":
            offer_mask &= supplier.to_numpy() == target
        elif target_type == "offer":
            offer_mask &= offer_ids == target
        else:  # activity
            offer_mask[:] = False
            activity_mask = activity_ids == target
        data.capacity[np.ix_(offer_mask, t_mask, w)] *= cap_factor
        data.unit_cost[np.ix_(offer_mask, t_mask, w)] *= cost_factor
        data.activity_capacity[np.ix_(activity_mask, t_mask, w)] *= cap_factor
        data.activity_cost[np.ix_(activity_mask, t_mask, w)] *= cost_factor


def scenario_tree(data: ModelData) -> tuple[list[Node], np.ndarray]:
    """Group scenarios that cannot be told apart, period by period.

    Scenarios share a node at period t when all their derived parameters are
    equal (relative 1e-9) in every period up to and including t.

    Returns
    -------
    nodes, node_of
        The nodes in period order, and ``node_of[t, w]``, the node of scenario
        ``w`` at period ``t``.
    """
    n_t, n_w = len(data.periods), len(data.scenarios)
    signature = np.concatenate(
        [
            data.capacity.reshape(-1, n_t, n_w),
            data.unit_cost.reshape(-1, n_t, n_w),
            data.activity_capacity.reshape(-1, n_t, n_w),
            data.activity_cost.reshape(-1, n_t, n_w),
            data.demand.reshape(-1, n_t, n_w),
            data.cover_target().reshape(-1, n_t, n_w),
        ],
        axis=0,
    )  # [parameter, period, scenario]
    nodes: list[Node] = []
    node_of = np.zeros((n_t, n_w), dtype=int)
    groups: list[tuple[list[int], int | None]] = [(list(range(n_w)), None)]
    for t in range(n_t):
        next_groups: list[tuple[list[int], int | None]] = []
        for members, parent in groups:
            for subgroup in _split(signature[:, t, :], members):
                node = Node(
                    id=len(nodes),
                    period=t,
                    scenarios=tuple(subgroup),
                    probability=float(data.probability[subgroup].sum()),
                    parent=parent,
                )
                nodes.append(node)
                node_of[t, subgroup] = node.id
                next_groups.append((subgroup, node.id))
        groups = next_groups
    return nodes, node_of


def _split(values: np.ndarray, members: list[int]) -> list[list[int]]:
    """Split ``members`` into groups whose columns of ``values`` are equal (rel. 1e-9)."""
    subgroups: list[list[int]] = []
    for w in members:
        for subgroup in subgroups:
            a, b = values[:, subgroup[0]], values[:, w]
            if np.all(np.abs(a - b) <= _TREE_RTOL * np.maximum(np.abs(a), np.abs(b))):
                subgroup.append(w)
                break
        else:
            subgroups.append([w])
    return subgroups


def resolve_policies(
    case: Case, data: ModelData
) -> tuple[
    dict[CapFamily, dict[tuple[str, int], Cap]],
    dict[CapFamily, dict[tuple[str, int], Cap]],
    dict[str, Cap],
]:
    """Find the policy value that applies to each (element or TOTAL, period), per family.

    A family is a policy, for china_share_max and country_share_max a basis
    (blank: Settings china_basis), and a measure (B2: ``value`` only on TOTAL
    rows of the poolable policies, else ``quantity``); families are
    independent. Within one, rows are ranked by how many of (element, period)
    they name; for each cell the covering rows of the highest rank apply, and
    the tightest of them binds (for min_offers the largest). A blank-element
    row never covers TOTAL.

    Returns
    -------
    caps, value_caps, min_offers
        Quantity caps per (policy, basis), value caps per (policy, basis) (on
        TOTAL only), and min_offers per element.
    """
    policies = case.policies
    caps: dict[CapFamily, dict[tuple[str, int], Cap]] = {}
    value_caps: dict[CapFamily, dict[tuple[str, int], Cap]] = {}
    min_offers: dict[str, Cap] = {}
    bases = policy_bases(policies, data.china_basis)
    measures = policy_measures(policies)
    keys = set(zip(policies["policy"], bases, measures, strict=True))
    for policy, basis, measure in sorted(keys, key=_family_order):
        family = (policy, basis)
        found = value_caps if measure == VALUE else caps
        selected = policies[
            (policies["policy"] == policy) & (bases == basis) & (measures == measure)
        ]
        rows = [
            (label, _named(element), _named(period), float(value))
            for label, element, period, value in zip(
                selected.index,
                selected["element"],
                selected["period"],
                selected["value"],
                strict=True,
            )
        ]
        targets = list(data.elements)
        if policy in POOLABLE_POLICIES:
            targets.append(TOTAL)
        for element in targets:
            for t, period in enumerate(data.periods):
                cap = applicable_cap(
                    rows, element, period, tightest=min if policy != Policy.MIN_OFFERS else max
                )
                if cap is None:
                    continue
                if policy == Policy.MIN_OFFERS:
                    min_offers[element] = cap
                    break
                found.setdefault(family, {})[(element, t)] = cap
    return caps, value_caps, min_offers


def policy_bases(policies: pd.DataFrame, china_basis: str) -> pd.Series:
    """Return the basis of each Policies row: its own, else Settings; "" where none applies."""
    own = policies["basis"] if "basis" in policies.columns else pd.Series(None, policies.index)
    takes_basis = policies["policy"].isin(BASIS_POLICIES)
    chosen = own.where(own.notna() & (own != ""), china_basis)
    return chosen.where(takes_basis, "").astype(str)


def policy_measures(policies: pd.DataFrame) -> pd.Series:
    """Return the measure each Policies row is read in: ``value`` or ``quantity`` (B2).

    ``value`` only on a TOTAL row of china_share_max, risk_max or
    country_share_max; on one element or a blank element the price cancels and
    the row is read as ``quantity`` (a warning says so), as it is on the other
    policies (ignored, a warning). Blank is ``quantity``.
    """
    own = policies["measure"] if "measure" in policies.columns else pd.Series(None, policies.index)
    weighed = (
        (own == VALUE) & (policies["element"] == TOTAL) & policies["policy"].isin(POOLABLE_POLICIES)
    )
    return pd.Series(np.where(weighed, VALUE, QUANTITY), index=policies.index, dtype=object)


def _family_order(key: tuple[str, str, str]) -> tuple[int, int, int]:
    policy, basis, measure = key
    return (
        POLICIES.index(policy),
        BASES.index(basis) if basis in BASES else -1,
        MEASURES.index(measure),
    )


def _named(value: Any) -> Any:
    """Return a Policies cell's element or period, None where blank (it covers all)."""
    return None if _blank(value) or value == "" else value


def applicable_cap(
    rows: list[tuple[Any, Any, Any, float]], element: str, period: str, tightest: Any
) -> Cap | None:
    """Return the cap of (element or TOTAL, period) from (label, element, period, value) rows.

    The covering rows of the highest rank apply; the tightest of them binds.
    """
    best_rank, chosen = -1, []
    for label, row_element, row_period, value in rows:
        if row_element is None and element == TOTAL:
            continue
        if row_element not in (None, element) or row_period not in (None, period):
            continue
        rank = (row_element is not None) + (row_period is not None)
        if rank > best_rank:
            best_rank, chosen = rank, [(label, value)]
        elif rank == best_rank:
            chosen.append((label, value))
    if not chosen:
        return None
    value = tightest(v for _, v in chosen)
    return Cap(value=value, rows=tuple(label for label, v in chosen if v == value))


def useful_capacity(data: ModelData) -> tuple[np.ndarray, np.ndarray]:
    """Bound every purchase and activity level by what the case can use (the big-Ms of 1 and 2).

    A capacity of 999,999,999 (a planner's "unlimited") as the coefficient of
    a contract binary lets the solver's integrality tolerance (1e-6) open a
    contract at a millionth of its fixed cost and still buy what the plan
    needs. The rows ``x <= M y`` and ``r <= M z`` therefore use
    ``M = min(capacity, useful)``, with ``useful`` the smaller of two bounds,
    both per scenario-tree node n (element e, period t(n)):

    * ``Q[e,n] = d[e,n] + sum_{k in K_sub} max(0, -yield[k,e]) acap[k,n]``, the
      most of e that node n can consume (demand plus the extra demand of every
      substitution at full capacity), and
    * ``K[e,n] = max(q[e,n], max_{c child of n} (Q[e,c] + K[e,c]))``, the most
      stock at the end of n that can still serve: the requirement along any
      path below n plus the cover target where that path stops (at the last
      period, ``K = q``: stock left at the horizon has no value).

    **Hard bound** (every feasible plan meets it): the balance
    ``s[n] = s[parent] + sum a x + sum yield r + u - d`` with ``s >= 0``,
    ``s <= storage``, inflows ``>= 0`` and outflows ``<= Q`` gives
    ``a[o,e] x[o,n] <= storage[e] + Q[e,n]`` for every element of o, and the
    same with ``yield[k,e]`` for recycling. A substitution k that avoids
    demand of e has ``yield[k,e] r[k,n] <= d[e,n]`` (constraint 4). Being
    implied by the other rows, it cuts off no feasible plan.

    **Trim bound** (some optimal plan meets it), for offers and recycling:
    ``U[o,n] = max(max_e (Q[e,n] + K[e,n]) / a[o,e], m[o,n], firm[o,n],
    prev[o,t(n)])``. Take any feasible plan with ``x[o,n] > U``. Each element
    e of o has ``s[e,n] >= a x - Q > K``, so lowering ``x[o,n]`` to ``U``
    lowers ``s[e,n]`` by at most ``a x - Q - K < s[e,n] - K[e,n]`` and the
    stock of every node m below n by the same; along the path
    ``s[m] >= s[n] - sum Q > K[e,n] - sum Q >= q[e,m] >= 0``, so every stock
    stays non-negative and at or above its cover target (the cover gaps can
    stay), storage only loosens, shortage and its bound are untouched, and the
    minimum take, firm order and PreviousPlan deviation hold because ``U`` is
    at least each of them. Costs are non-negative (unit, holding), so no
    scenario cost rises, nor the CVaR (its ``eta`` and excesses still hold),
    nor a v3 stock-value budget (stock only falls). Binaries are unchanged, so
    signing rows and min_offers hold. What lowering supply can break is a
    ratio cap ``part <= v S`` of a cell (an element of o, or TOTAL, at t(n)):
    it still holds when o weighs at least v in its own part (a China offer on
    a China cap's basis, a risk at or above a risk cap, an offer counted for
    every country group, the only offer of an element with offer_share_max).
    Where o is cleaner than some cap there, buying beyond the requirement can
    pay (extra non-China supply lets more cheap China supply under a pooled
    cap), so the trim bound is widened to what that cap's part can need
    (:func:`_widened`, China and risk caps whose part is itself bounded) or,
    failing that, not used: only the hard bound applies. A family this
    function does not know (a later model's) counts as cleaner. A value cap
    (B2) weighs an element's part and supply by one price, so a row weighs
    enough in it exactly where it does in the same cap counted in quantity;
    value caps are not widened (a row cleaner than one keeps the hard bound).
    Recycling is trimmed the same way with its yields; substitution only by
    its hard bounds.

    Together: the tightened model's optimum is the loose model's, and the
    Duals sheet prices a capacity row whose bound is ``useful < capacity`` at
    0 (more capacity above a bound no optimal plan reaches is worth nothing).

    Returns
    -------
    offer_useful, activity_useful
        ``[offer, node]`` in product units and ``[activity, node]`` in level;
        ``inf`` where nothing tighter than the capacity is known.
    """
    n_nodes = len(data.nodes)
    if not n_nodes:
        return np.zeros((len(data.offers), 0)), np.zeros((len(data.activities), 0))
    periods = np.array([node.period for node in data.nodes])
    first = np.array([node.scenarios[0] for node in data.nodes])
    recycling = data.recycling()
    substitution = ~recycling
    activity_capacity = data.activity_capacity[:, periods, first]  # [k, node]
    extra = np.where(data.yields < 0, -data.yields, 0.0)[substitution]  # [k_sub, e]
    requirement = data.demand[:, periods, first] + extra.T @ activity_capacity[substitution]
    keep = data.cover_target()[:, periods, first].copy()  # [e, node]
    for node in reversed(data.nodes):  # children before their parent
        if node.parent is not None:
            keep[:, node.parent] = np.maximum(
                keep[:, node.parent], requirement[:, node.id] + keep[:, node.id]
            )
    hard = data.storage_capacity[:, None] + requirement  # [e, node], inf where unlimited
    absorb = requirement + keep

    def per_unit(weights: np.ndarray, amounts: np.ndarray, pick: Any) -> np.ndarray:
        """``pick`` over the elements of each row of ``weights`` of ``amounts / weight``.

        [row, node], ``inf`` for a row that carries no element; one element at
        a time, so memory stays rows x nodes on the largest trees.
        """
        picked = np.full((weights.shape[0], amounts.shape[1]), np.nan)
        for e in range(weights.shape[1]):
            rows = np.flatnonzero(weights[:, e] > 0)
            if len(rows):
                ratio = amounts[e][None, :] / weights[rows, e][:, None]
                before = picked[rows]
                picked[rows] = np.where(np.isnan(before), ratio, pick(before, ratio))
        return np.where(np.isnan(picked), np.inf, picked)

    # offers: the hard bound always; the trim bound where no cap cell forbids it
    capacity = data.capacity[:, periods, first]
    floors = np.maximum.reduce(
        [
            effective_min_take(data.offer_min_take[:, None], capacity),
            np.nan_to_num(effective_firm_order(data.commitment[:, periods], capacity), nan=0.0),
            data.previous[:, periods],
        ]
    )
    trim = np.maximum(per_unit(data.contents, absorb, np.maximum), floors)
    offer_ok = _trimmable(data, data.contents, _offer_weighs)[:, periods]
    offer_hard = per_unit(data.contents, hard, np.minimum)

    # activities: recycling as offers; substitution by what it avoids (constraint 4)
    gains = np.where(data.yields > 0, data.yields, 0.0)
    demand = data.demand[:, periods, first]
    activity_hard = np.where(
        recycling[:, None], per_unit(gains, hard, np.minimum), per_unit(gains, demand, np.minimum)
    )
    recycled = np.where(recycling[:, None], gains, 0.0)
    activity_ok = _trimmable(data, recycled, _recycling_weighs)[:, periods] & recycling[:, None]
    activity_trim = np.where(recycling[:, None], per_unit(gains, absorb, np.maximum), np.inf)

    # supply rows, offers then activities: trimmed where no cap forbids, else widened
    ok = np.vstack([offer_ok, activity_ok])
    hard_rows = np.vstack([offer_hard, activity_hard])
    trim_rows = np.vstack([trim, activity_trim])
    bound = np.minimum(hard_rows, np.where(ok, trim_rows, np.inf))
    widened = _widened(data, periods, np.vstack([data.contents, recycled]), bound, ok, trim_rows)
    bound = np.where(ok, bound, np.minimum(hard_rows, widened))
    return bound[: len(data.offers)], bound[len(data.offers) :]


def _widened(
    data: ModelData,
    periods: np.ndarray,
    weights: np.ndarray,
    bound: np.ndarray,
    ok: np.ndarray,
    trim: np.ndarray,
) -> np.ndarray:
    """Bound the supply rows cleaner than a China or risk cap whose part is bounded.

    Rows are offers then activities (``weights`` [row, element]: contents,
    recycling yields, 0 for substitution). A row cleaner than a cap cell
    (a non-China offer under a China cap, a risk below a risk cap) may buy
    beyond the requirement to admit more of the cap's part; where every row
    of that part is itself trimmed (``ok``: bounded by ``bound``; not by
    its capacity, so that a sweep over one offer's capacity changes that
    offer's rows only), the part
    is at most ``P = sum share x weight x bound``, and supply of ``P / v`` is
    all the cap can need: such a row keeps ``max(trim, P / (v weight))``,
    and once it buys that much, supply is at least ``P / v`` whatever the
    others buy. (First trim every ``ok`` row, which only lowers parts; then
    each remaining row to this bound: its own supply keeps ``S >= P / v``
    on every cell it is cleaner than, the rows it is not cleaner than hold
    as in :func:`useful_capacity`, and its stock as there.) A row cleaner
    than a country or offer-share cap, or than a cell with an untrimmed row
    in its part, stays unbounded (``inf``).
    """
    n_offers = len(data.offers)
    need = np.zeros_like(bound)
    blocked = np.zeros(bound.shape, dtype=bool)
    position = {element: e for e, element in enumerate(data.elements)}
    china = {
        basis: np.concatenate([flags, data.activity_china & data.recycling()])
        for basis, flags in data.offer_china.items()
    }
    risk = np.concatenate([data.offer_risk, data.activity_risk])
    value_families = [(family, cells, VALUE) for family, cells in data.value_caps.items()]
    for family, cells, measure in [
        *((family, cells, QUANTITY) for family, cells in data.caps.items()),
        *value_families,
    ]:
        policy = family[0] if measure == QUANTITY else None  # value caps (B2): no widening
        for (element, t), cap in cells.items():
            at = np.flatnonzero(periods == t)
            carried = weights.sum(axis=1) if element == TOTAL else weights[:, position[element]]
            carriers = carried > 0
            if policy == Policy.CHINA_SHARE_MAX:
                share = china[family[1]].astype(float)
            elif policy == Policy.RISK_MAX:
                share = risk
            else:  # country and offer-share caps, and any later family: no widening
                for row in np.flatnonzero(carriers):
                    weighs = _offer_weighs if row < n_offers else _recycling_weighs
                    index = row if row < n_offers else row - n_offers
                    if not weighs(data, int(index), family, element, cap.value):
                        blocked[row, at] = True
                continue
            clean = carriers & (share < cap.value)
            if not clean.any():
                continue
            part_rows = carriers & (share > 0)
            eligible = ok[np.ix_(part_rows, at)].all(axis=0)
            part = (share[part_rows] * carried[part_rows]) @ np.where(
                ok[np.ix_(part_rows, at)], bound[np.ix_(part_rows, at)], 0.0
            )
            wanted = part[None, :] / (cap.value * carried[clean][:, None])
            cell = np.ix_(clean, at)
            need[cell] = np.maximum(need[cell], np.where(eligible[None, :], wanted, np.inf))
    return np.where(blocked, np.inf, np.maximum(trim, need))


def _offer_weighs(data: ModelData, o: int, family: CapFamily, element: str, value: float) -> bool:
    """Whether offer o weighs at least ``value`` in the part of a cap (trimming it is safe)."""
    policy, basis = family[0], family[1]
    if policy == Policy.CHINA_SHARE_MAX:
        return bool(data.offer_china[basis][o])
    if policy == Policy.RISK_MAX:
        return bool(data.offer_risk[o] >= value)
    if policy == Policy.COUNTRY_SHARE_MAX:
        return bool(data.offer_groups[basis][o].all())
    if policy == Policy.OFFER_SHARE_MAX:
        carriers = data.offers_of(data.elements.index(element))
        return bool(len(carriers) == 1 and carriers[0] == o)
    return False


def _recycling_weighs(
    data: ModelData, k: int, family: CapFamily, element: str, value: float
) -> bool:
    """Whether recycling k weighs at least ``value`` in the part of a cap."""
    policy = family[0]
    if policy == Policy.CHINA_SHARE_MAX:
        return bool(data.activity_china[k])
    if policy == Policy.RISK_MAX:
        return bool(data.activity_risk[k] >= value)
    if policy == Policy.COUNTRY_SHARE_MAX:
        return bool(data.activity_groups[k].all())
    if policy == Policy.OFFER_SHARE_MAX:  # in S, in no offer's part
        return not len(data.offers_of(data.elements.index(element)))
    return False


def _trimmable(data: ModelData, carries: np.ndarray, weighs: Any) -> np.ndarray:
    """Bool [row, period]: every cap cell on a carried element (or TOTAL) lets the row be trimmed.

    ``carries`` is [row, element] (> 0 where the offer or activity supplies
    the element); ``weighs`` says whether the row weighs at least a cap's
    value in its part.
    """
    allowed = np.ones((carries.shape[0], len(data.periods)), dtype=bool)
    position = {element: e for e, element in enumerate(data.elements)}
    # a value cap (B2) weighs both sides of an element's terms by one price: trimming a row
    # keeps it exactly where it keeps the same cap counted in quantity
    for family, cells in [*data.caps.items(), *data.value_caps.items()]:
        for (element, t), cap in cells.items():
            rows = (
                np.flatnonzero(carries.any(axis=1))
                if element == TOTAL
                else np.flatnonzero(carries[:, position[element]] > 0)
            )
            for row in rows:
                if allowed[row, t] and not weighs(data, int(row), family, element, cap.value):
                    allowed[row, t] = False
    return allowed
