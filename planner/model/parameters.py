"""Derived parameters of the model (formulation.md, "Derived parameters").

Everything the Pyomo builder needs is computed here from a validated
:class:`~planner.data.Case` as plain numpy arrays and dicts: per-scenario
capacities, costs and demand after disruptions, the scenario tree, China
flags, risk scores and the policy value that applies to each cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from planner.data import Case

BASES = ("shipment", "mining", "refining", "any")
POLICIES = ("china_share_max", "risk_max", "offer_share_max", "min_offers")
TOTAL = "TOTAL"
_TREE_RTOL = 1e-9


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
    """All parameters of the model, indexed by position (see the ``*_ids`` lists)."""

    periods: list[str]
    days: np.ndarray
    elements: list[str]
    element_group: list[str]
    shortage_cost: np.ndarray
    holding_cost: np.ndarray
    initial_stock: np.ndarray
    storage_capacity: np.ndarray  # inf where unlimited
    cover_days: np.ndarray
    cover_penalty: np.ndarray
    offers: list[str]
    offer_element: np.ndarray  # element position of each offer
    offer_fixed_cost: np.ndarray
    offer_min_take: np.ndarray
    offer_window: np.ndarray  # bool [offer, period]
    offer_risk: np.ndarray
    offer_china: dict[str, np.ndarray]  # basis -> bool [offer]
    activities: list[str]
    activity_kind: list[str]
    activity_fixed_cost: np.ndarray
    activity_window: np.ndarray  # bool [activity, period]
    activity_risk: np.ndarray
    activity_china: np.ndarray  # bool [activity]
    yields: np.ndarray  # [activity, element]
    scenarios: list[str]
    probability: np.ndarray
    capacity: np.ndarray  # [offer, period, scenario]
    unit_cost: np.ndarray  # [offer, period, scenario]
    activity_capacity: np.ndarray  # [activity, period, scenario]
    activity_cost: np.ndarray  # [activity, period, scenario]
    demand: np.ndarray  # [element, period, scenario]
    china_basis: str
    cvar_alpha: float
    cvar_weight: float
    nodes: list[Node] = field(default_factory=list)
    node_of: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=int))
    caps: dict[str, dict[tuple[str, int], Cap]] = field(default_factory=dict)
    min_offers: dict[str, Cap] = field(default_factory=dict)

    @property
    def china(self) -> np.ndarray:
        """China flag of each offer on the case's basis."""
        return self.offer_china[self.china_basis]

    def min_take(self) -> np.ndarray:
        """Effective minimum take ``m[o,t,w] = min(min_take, cap[o,t,w])``."""
        return np.minimum(self.offer_min_take[:, None, None], self.capacity)

    def cover_target(self) -> np.ndarray:
        """Cover target ``q[e,t,w] = cover_days[e] * d[e,t,w] / days[t]``."""
        return self.cover_days[:, None, None] * self.demand / self.days[None, :, None]

    def recycling(self) -> np.ndarray:
        """Bool mask of recycling activities."""
        return np.array([kind == "recycling" for kind in self.activity_kind], dtype=bool)


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
    el = case.elements
    shortage = el["shortage_cost"].to_numpy(float)
    cover_penalty = el["cover_penalty"].to_numpy(float)
    cover_penalty = np.where(np.isnan(cover_penalty), 0.1 * shortage, cover_penalty)
    storage = el["storage_capacity"].to_numpy(float)
    storage = np.where(np.isnan(storage), np.inf, storage)

    offers = case.offers
    china_codes = set(settings.china_codes)
    countries = {
        column: offers[column].fillna(offers["country"]).astype(str)
        for column in ("country", "mine_country", "refine_country")
    }
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

    activities = case.activities
    activity_country = activities["country"].fillna("domestic").astype(str)
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

    data = ModelData(
        periods=periods,
        days=case.periods["days"].to_numpy(float),
        elements=elements,
        element_group=[str(g) for g in el["group"]],
        shortage_cost=shortage,
        holding_cost=el["holding_cost"].to_numpy(float),
        initial_stock=el["initial_stock"].to_numpy(float),
        storage_capacity=storage,
        cover_days=el["cover_days"].to_numpy(float),
        cover_penalty=cover_penalty,
        offers=[str(o) for o in offers.index],
        offer_element=np.array([element_position[e] for e in offers["element"]], dtype=int),
        offer_fixed_cost=offers["fixed_cost"].to_numpy(float),
        offer_min_take=offers["min_take"].to_numpy(float),
        offer_window=_window(offers, periods),
        offer_risk=offer_risk,
        offer_china=offer_china,
        activities=activity_ids,
        activity_kind=[str(k) for k in activities["kind"]],
        activity_fixed_cost=activities["fixed_cost"].to_numpy(float),
        activity_window=_window(activities, periods),
        activity_risk=activity_risk,
        activity_china=activity_country.isin(china_codes).to_numpy(),
        yields=yields,
        scenarios=[str(w) for w in case.scenarios.index],
        probability=case.scenarios["probability"].to_numpy(float),
        capacity=np.zeros(0),
        unit_cost=np.zeros(0),
        activity_capacity=np.zeros(0),
        activity_cost=np.zeros(0),
        demand=np.zeros(0),
        china_basis=settings.china_basis,
        cvar_alpha=float(settings.cvar_alpha),
        cvar_weight=float(settings.cvar_weight),
    )
    _scenario_parameters(case, data)
    data.nodes, data.node_of = scenario_tree(data)
    data.caps, data.min_offers = resolve_policies(case, data)
    return data


def _scenario_parameters(case: Case, data: ModelData) -> None:
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
    _apply_disruptions(case, data)


def _element_mask(data: ModelData, element: Any) -> np.ndarray:
    """Elements matched by a disruption's element field (blank, id or group)."""
    if _blank(element) or element == "":
        return np.ones(len(data.elements), dtype=bool)
    if element in data.elements:
        return np.array([e == element for e in data.elements], dtype=bool)
    group = str(element).lower()
    return np.array([g == group for g in data.element_group], dtype=bool)


def _apply_disruptions(case: Case, data: ModelData) -> None:
    periods = data.periods
    scenario_position = {w: i for i, w in enumerate(data.scenarios)}
    offers, activities = case.offers, case.activities
    codes = {
        column: offers[column].fillna(offers["country"]).astype(str).to_numpy()
        for column in ("country", "mine_country", "refine_country")
    }
    supplier = offers["supplier"].fillna(pd.Series(offers.index, index=offers.index)).astype(str)
    activity_country = activities["country"].fillna("domestic").astype(str).to_numpy()
    activity_ids = np.array(data.activities, dtype=object)
    offer_ids = np.array(data.offers, dtype=object)
    window = _window(case.disruptions, periods)
    for row, record in enumerate(case.disruptions.to_dict("records")):
        w = np.array([scenario_position[record["scenario"]]])
        t_mask = window[row]
        cap_factor = 1.0 if _blank(record["capacity_factor"]) else float(record["capacity_factor"])
        cost_factor = 1.0 if _blank(record["cost_factor"]) else float(record["cost_factor"])
        target = None if _blank(record["target"]) else str(record["target"])
        elements = _element_mask(data, record["element"])
        target_type = record["target_type"]
        if target_type == "demand":
            data.demand[np.ix_(elements, t_mask, w)] *= cap_factor
            continue
        offer_mask = elements[data.offer_element] if len(data.offers) else np.zeros(0, bool)
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
) -> tuple[dict[str, dict[tuple[str, int], Cap]], dict[str, Cap]]:
    """Find the policy value that applies to each (element or TOTAL, period).

    Rows are ranked by how many of (element, period) they name; for each cell
    the covering rows of the highest rank apply, and the tightest of them
    binds (for min_offers the largest). A blank-element row never covers
    TOTAL.
    """
    policies = case.policies
    caps: dict[str, dict[tuple[str, int], Cap]] = {p: {} for p in POLICIES if p != "min_offers"}
    min_offers: dict[str, Cap] = {}
    for policy in POLICIES:
        selected = policies[policies["policy"] == policy]
        if selected.empty:
            continue
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
        if policy in ("china_share_max", "risk_max"):
            targets.append(TOTAL)
        for element in targets:
            for t, period in enumerate(data.periods):
                cap = _applicable(
                    rows, element, period, tightest=min if policy != "min_offers" else max
                )
                if cap is None:
                    continue
                if policy == "min_offers":
                    min_offers[element] = cap
                    break
                caps[policy][(element, t)] = cap
    return caps, min_offers


def _named(value: Any) -> Any:
    """Return a Policies cell's element or period, None where blank (it covers all)."""
    return None if _blank(value) or value == "" else value


def _applicable(
    rows: list[tuple[Any, Any, Any, float]], element: str, period: str, tightest: Any
) -> Cap | None:
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
