"""Solved model -> tidy pandas tables (no Excel here).

The plan is read off the model's node variables once, expanded to
(scenario, period) with the scenario tree, and every table and cost figure
is computed from those arrays and the derived parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from planner.model.families import FAMILIES
from planner.model.parameters import (
    BASES,
    QUANTITY,
    TOTAL,
    VALUE,
    ModelData,
    Policy,
    activity_countries,
    offer_countries,
    offer_suppliers,
    split_shortage,
)
from planner.model.policies import TOTAL_INDEX

#: Quantities below this are solver noise and reported as 0.
EPSILON = 1e-9
#: A share within this of its cap meets the cap (headroom 0, no breach).
SHARE_TOLERANCE = 1e-6

COST_KEYS = (
    "fixed_cost",
    "purchase_cost",
    "activity_cost",
    "holding_cost",
    "shortage_cost",
    "cover_penalty",
    "change_cost",
)

#: What ``spend`` adds up (B5): the money paid, expected over scenarios.
SPEND_KEYS = (
    "fixed_cost",
    "purchase_cost",
    "activity_cost",
    "holding_cost",
    "change_cost",
)


@dataclass
class Plan:
    """The plan as arrays: first stage, and [item, period, scenario] per node variable.

    Each field holds the model variable of the same name without its unit
    (``model.purchase_product_units`` -> ``purchase``); the unit is in the
    comment.
    """

    contract: np.ndarray  # [offer]: y (1 for offers contracted before the horizon; 0 for later)
    signed: np.ndarray  # [offer, period, scenario]: w of later offers (signed in or before t)
    adopt: np.ndarray  # [activity]
    purchase: np.ndarray  # [offer, period, scenario], product units
    level: np.ndarray  # [activity, period, scenario], units of activity level
    stock: np.ndarray  # [element, period, scenario], element units (end of period)
    unmet: np.ndarray  # [element, period, scenario], element units
    #: [segment, period, scenario], element units: the solver's shortage per use (B1);
    #: an element without tiers has one segment, its whole shortage
    by_use: np.ndarray
    cover_gap: np.ndarray  # [element, period, scenario], element units below the target
    change: np.ndarray  # [offer, period, scenario], product units: |x - prev| where priced


def _node_values(var: Any, rows: int, nodes: int) -> np.ndarray:
    values = np.zeros((rows, nodes))
    for (i, n), data in var.items():
        values[i, n] = data.value or 0.0
    values[np.abs(values) < EPSILON] = 0.0
    return values


def _binary(var: Any) -> float:
    """Return a binary's value; one that no row uses was not solved and keeps its lower bound.

    An offer contracted before the horizon (y fixed at 1) whose capacity a
    disruption cuts to 0 everywhere appears in no row, so the solver never sees it.
    """
    value = var.value if var.value is not None else var.lb
    return float(round(value or 0.0))


def read_plan(model: pyo.ConcreteModel, data: ModelData) -> Plan:
    """Read the loaded solution off the model and expand it to scenarios."""
    n_nodes = len(data.nodes)

    def expand(values: np.ndarray) -> np.ndarray:
        return values[:, data.node_of]  # [item, period, scenario]

    contract = np.zeros(len(data.offers))
    for o in model.NOW_OFFERS:
        contract[o] = _binary(model.contract[o])
    signed = np.zeros((len(data.offers), n_nodes))
    for (o, n), var in model.signed.items():
        signed[o, n] = _binary(var)
    unmet = _node_values(model.unmet_units, len(data.elements), n_nodes)
    by_use = _node_values(model.shortage_by_use_units, len(data.segment_element), n_nodes)
    single = ~data.tiered()[data.segment_element]
    by_use[single] = unmet[data.segment_element[single]]
    return Plan(
        contract=contract,
        signed=expand(signed),
        adopt=np.array([_binary(model.adopt[k]) for k in model.ACTIVITIES], float),
        purchase=expand(_node_values(model.purchase_product_units, len(data.offers), n_nodes)),
        level=expand(_node_values(model.activity_level, len(data.activities), n_nodes)),
        stock=expand(_node_values(model.stock_units, len(data.elements), n_nodes)),
        unmet=expand(unmet),
        by_use=expand(by_use),
        cover_gap=expand(_node_values(model.cover_gap_units, len(data.elements), n_nodes)),
        change=expand(_node_values(model.change_product_units, len(data.offers), n_nodes)),
    )


def delivery_signature(plan: Plan, data: ModelData) -> np.ndarray:
    """[offer, period, scenario]: 1 where the offer may deliver (signed, lead time elapsed)."""
    n_t = len(data.periods)
    now = plan.contract[:, None, None] * data.deliverable()[:, :, None]
    later = np.zeros_like(plan.signed)
    for o in np.flatnonzero(data.offer_later):
        lead = int(data.offer_lead[o])
        if lead < n_t:
            later[o, lead:, :] = plan.signed[o, : n_t - lead, :]
    later *= data.offer_window[:, :, None]
    return np.where(data.offer_later[:, None, None], later, now)


def first_stage_fixed_cost(plan: Plan, data: ModelData) -> float:
    """F: offers signed now (not those contracted before the horizon) and adopted activities."""
    payable = np.where(data.offer_contracted, 0.0, data.offer_fixed_cost)
    return float(plan.contract @ payable + plan.adopt @ data.activity_fixed_cost)


def signing_costs(plan: Plan, data: ModelData) -> np.ndarray:
    """[scenario]: fixed cost of the later offers each scenario signs (paid once, when signed)."""
    if not len(data.periods):
        return np.zeros(len(data.scenarios))
    return np.einsum("o,ow->w", data.offer_fixed_cost * data.offer_later, plan.signed[:, -1, :])


def requirement(plan: Plan, data: ModelData) -> np.ndarray:
    """Q[e,t,w] = d + sum_{k in K_sub} max(0, -yield[k,e]) r[k,t,w]: A1's bound of u."""
    substitution = ~data.recycling()
    added = np.einsum(
        "ke,ktw->etw",
        np.where(data.yields < 0, -data.yields, 0.0)[substitution],
        plan.level[substitution],
    )
    return np.asarray(data.demand + added)


def shortage_by_use(plan: Plan, data: ModelData) -> np.ndarray:
    """[segment, period, scenario]: the shortage split over its uses, cheapest first (B1)."""
    return split_shortage(plan.unmet, requirement(plan, data), data)


def scenario_costs(plan: Plan, data: ModelData) -> pd.DataFrame:
    """Cost components of every scenario.

    ``fixed_cost`` is the first-stage cost F plus the later signings of the
    scenario; ``scenario_cost`` is V_w, everything but F. ``shortage_cost``
    prices each use's shortage at its tier cost (B1: the reported split).
    """
    fixed = first_stage_fixed_cost(plan, data)
    signing = signing_costs(plan, data)
    frame = pd.DataFrame(
        {
            "fixed_cost": fixed + signing,
            "purchase_cost": np.einsum("otw,otw->w", data.unit_cost, plan.purchase),
            "activity_cost": np.einsum("ktw,ktw->w", data.activity_cost, plan.level),
            "holding_cost": np.einsum("e,etw->w", data.holding_cost, plan.stock),
            "shortage_cost": np.einsum("s,stw->w", data.segment_cost, shortage_by_use(plan, data)),
            "cover_penalty": np.einsum("e,etw->w", data.cover_penalty, plan.cover_gap),
            "change_cost": data.change_cost * plan.change.sum(axis=(0, 1)),
        },
        index=pd.Index(data.scenarios, name="scenario"),
    )
    frame["scenario_cost"] = frame[list(COST_KEYS)].sum(axis=1) - fixed
    frame.insert(0, "probability", data.probability)
    return frame


def spend_and_lost_value(
    expected_costs: dict[str, float], expected_cost: float, objective: float, cvar_weight: float
) -> dict[str, float]:
    """Return the figures a planner reads first (formulation B5).

    ``spend`` is the money paid (:data:`SPEND_KEYS`), ``lost_value`` the
    expected shortage cost (the ``shortage_cost`` figure, tiers included),
    ``risk_premium`` what the CVaR term adds to the expected cost (0 when
    ``cvar_weight`` is 0). ``spend + lost_value + cover_penalty`` is the
    expected cost.

    Parameters
    ----------
    expected_costs
        The expected cost components, keyed as :data:`COST_KEYS`.
    expected_cost, objective, cvar_weight
        The plan's expected cost, its objective and the Settings' cvar_weight.
    """
    return {
        "spend": float(sum(expected_costs[key] for key in SPEND_KEYS)),
        "lost_value": float(expected_costs["shortage_cost"]),
        "risk_premium": float(objective - expected_cost) if cvar_weight else 0.0,
    }


def cvar(fixed: float, scenario_cost: np.ndarray, probability: np.ndarray, alpha: float) -> float:
    """F + min_eta { eta + sum_w p_w max(V_w - eta, 0) / (1 - alpha) } (Rockafellar-Uryasev).

    The function of eta is convex and piecewise linear with breaks at the V_w,
    so its minimum is at one of them.
    """
    candidates = [
        eta + float(probability @ np.maximum(scenario_cost - eta, 0.0)) / (1 - alpha)
        for eta in scenario_cost
    ]
    return float(fixed + min(candidates))


#: The columns that say where in the scenario tree a row of a per-node table is.
NODE_COLUMNS = ["node", "period", "scenarios", "probability"]


def _node_frame(data: ModelData, items: list[str], item_name: str) -> pd.DataFrame:
    """Every (tree node, item) pair, nodes in period order (spec v2: tables per node).

    ``scenarios`` is ``all`` for a node every scenario shares (what to do
    whatever happens), else the node's scenarios joined by ``|``.
    """
    nodes = data.nodes
    n_items = len(items)
    return pd.DataFrame(
        {
            "node": np.repeat([node.id for node in nodes], n_items),
            "period": np.repeat([data.periods[node.period] for node in nodes], n_items),
            "scenarios": np.repeat([node_scenarios(data, node.id) for node in nodes], n_items),
            "probability": np.repeat([node.probability for node in nodes], n_items),
            item_name: np.tile(np.array(items, dtype=object), len(nodes)),
        }
    )


def _flat(data: ModelData, values: np.ndarray) -> np.ndarray:
    """[item, period, scenario] -> its value at each node, flat in (node, item) order."""
    periods = [node.period for node in data.nodes]
    representatives = [node.scenarios[0] for node in data.nodes]
    return np.ascontiguousarray(values[:, periods, representatives].T).reshape(-1)


def purchases_table(plan: Plan, data: ModelData, offers: pd.DataFrame) -> pd.DataFrame:
    """Purchases with quantity > 0, one row per tree node and offer (quantity in product units)."""
    frame = _node_frame(data, data.offers, "offer")
    frame["quantity"] = _flat(data, plan.purchase)
    frame["unit_cost"] = _flat(data, data.unit_cost)
    frame = frame[frame["quantity"] > EPSILON].copy()
    info = offers.loc[frame["offer"]]
    position = {o: i for i, o in enumerate(data.offers)}
    frame.insert(5, "supplier", offer_suppliers(info).to_numpy())
    frame.insert(6, "element", [data.offer_label[position[o]] for o in frame["offer"]])
    frame.insert(7, "country", info["country"].to_numpy())
    countries = offer_countries(info)
    frame.insert(8, "mine_country", countries["mine_country"].to_numpy())
    frame.insert(9, "refine_country", countries["refine_country"].to_numpy())
    frame.insert(10, "china_linked", [int(data.china[position[o]]) for o in frame["offer"]])
    frame["cost"] = frame["quantity"] * frame["unit_cost"]
    return frame.reset_index(drop=True)


def contracts_table(plan: Plan, data: ModelData, offers: pd.DataFrame) -> pd.DataFrame:
    """Every offer: contracted or not, the fixed cost paid, expected quantity bought.

    ``contracted`` is 1 for an offer signed now (or before the horizon) and
    for a later offer the plan signs in some scenario; ``signed_probability``
    says how likely that signing is, and ``fixed_cost`` is the expected fixed
    cost paid (nothing for an offer already contracted).
    """
    expected = np.einsum("otw,w->o", plan.purchase, data.probability)
    if len(data.periods):
        signed_later = np.einsum("ow,w->o", plan.signed[:, -1, :], data.probability)
    else:
        signed_later = np.zeros(len(data.offers))
    probability = np.where(data.offer_later, signed_later, plan.contract)
    payable = np.where(data.offer_contracted, 0.0, data.offer_fixed_cost)
    return pd.DataFrame(
        {
            "offer": data.offers,
            "supplier": offer_suppliers(offers).to_numpy(),
            "element": data.offer_label,
            "country": offers["country"].to_numpy(),
            "signing": np.where(data.offer_later, "later", "now"),
            "lead_time": np.where(data.offer_contracted, 0, data.offer_lead),
            "already_contracted": data.offer_contracted.astype(int),
            "contracted": (probability > EPSILON).astype(int),
            "signed_probability": probability,
            "fixed_cost": probability * payable,
            "expected_quantity": expected,
            "risk": data.offer_risk,
            "china_linked": data.china.astype(int),
        }
    )


def node_scenarios(data: ModelData, n: int) -> str:
    """``all`` for a node every scenario shares, else its scenarios joined by ``|``."""
    members = data.nodes[n].scenarios
    if len(members) == len(data.scenarios):
        return "all"
    return "|".join(data.scenarios[w] for w in members)


def signings_table(plan: Plan, data: ModelData) -> pd.DataFrame:
    """Per later offer and node where the plan signs it (A3)."""
    rows = []
    for o in np.flatnonzero(data.offer_later):
        for node in data.nodes:
            w = node.scenarios[0]
            now = plan.signed[o, node.period, w]
            before = plan.signed[o, node.period - 1, w] if node.parent is not None else 0.0
            if now - before > 0.5:
                rows.append(
                    {
                        "offer": data.offers[o],
                        "element": data.offer_label[o],
                        "node": node.id,
                        "period": data.periods[node.period],
                        "scenarios": node_scenarios(data, node.id),
                        "probability": node.probability,
                        "first_delivery": _first_delivery(data, int(o), node.period),
                        "fixed_cost": float(data.offer_fixed_cost[o]),
                    }
                )
    columns = [
        "offer",
        "element",
        "node",
        "period",
        "scenarios",
        "probability",
        "first_delivery",
        "fixed_cost",
    ]
    return pd.DataFrame(rows, columns=columns)


def _first_delivery(data: ModelData, o: int, signed_at: int) -> str:
    """Return the first period a signature at ``signed_at`` lets offer o deliver ("" if none)."""
    window = np.flatnonzero(data.offer_window[o])
    start = signed_at + int(data.offer_lead[o])
    later = window[window >= start]
    return data.periods[int(later[0])] if len(later) else ""


def planned_quantity(plan: Plan, data: ModelData) -> np.ndarray:
    """[offer, period]: the node value where every scenario shares it, else the expectation."""
    return np.einsum("otw,w->ot", plan.purchase, data.probability)


def changes_table(plan: Plan, data: ModelData) -> pd.DataFrame:
    """Per offer and period of PreviousPlan: previous, planned and the change (A5).

    Offers the plan signs that were not contracted before follow (those it
    buys from or pays a fixed cost for), with ``period`` blank and ``change``
    = ``newly signed``.
    """
    columns = ["offer", "element", "period", "previous", "planned", "change"]
    if not data.previous_offers.any():
        return pd.DataFrame(columns=columns)
    planned = planned_quantity(plan, data)
    rows: list[dict[str, Any]] = []
    for o in np.flatnonzero(data.previous_offers):
        for t in np.flatnonzero(data.previous_periods):
            rows.append(
                {
                    "offer": data.offers[o],
                    "element": data.offer_label[o],
                    "period": data.periods[t],
                    "previous": float(data.previous[o, t]),
                    "planned": float(planned[o, t]),
                    "change": float(planned[o, t] - data.previous[o, t]),
                }
            )
    used = (plan.purchase.sum(axis=(1, 2)) > EPSILON) | (data.offer_fixed_cost > 0)
    for o in np.flatnonzero(contracts_signed(plan, data) & used & ~data.offer_contracted):
        rows.append(
            {
                "offer": data.offers[o],
                "element": data.offer_label[o],
                "period": "",
                "previous": np.nan,
                "planned": np.nan,
                "change": "newly signed",
            }
        )
    return pd.DataFrame(rows, columns=columns)


def contracts_signed(plan: Plan, data: ModelData) -> np.ndarray:
    """Bool [offer]: signed now, before the horizon, or later in some scenario."""
    later = plan.signed[:, -1, :].max(axis=1) > 0.5 if len(data.periods) else plan.contract > 2
    return (plan.contract > 0.5) | later


def activities_table(plan: Plan, data: ModelData) -> pd.DataFrame:
    """Every activity in every period it can run: level, cost and adoption."""
    frame = _node_frame(data, data.activities, "activity")
    if frame.empty:
        return pd.DataFrame(columns=[*NODE_COLUMNS, "activity", "kind", "level", "cost", "adopted"])
    kind = dict(zip(data.activities, data.activity_kind, strict=True))
    adopted = dict(zip(data.activities, plan.adopt.astype(int), strict=True))
    frame["kind"] = frame["activity"].map(kind)
    frame["level"] = _flat(data, plan.level)
    frame["cost"] = frame["level"] * _flat(data, data.activity_cost)
    frame["adopted"] = frame["activity"].map(adopted)
    window = _flat(data, np.repeat(data.activity_window[:, :, None], len(data.scenarios), axis=2))
    return frame[window].reset_index(drop=True)


def adoption_table(plan: Plan, data: ModelData, activities: pd.DataFrame) -> pd.DataFrame:
    """Every activity: adopted or not, the fixed cost paid, expected total level."""
    return pd.DataFrame(
        {
            "activity": data.activities,
            "kind": data.activity_kind,
            "country": activity_countries(activities).to_numpy(),
            "adopted": plan.adopt.astype(int),
            "fixed_cost": plan.adopt * data.activity_fixed_cost,
            "expected_level": np.einsum("ktw,w->k", plan.level, data.probability),
        }
    )


def opening_stock(plan: Plan, data: ModelData) -> np.ndarray:
    """Stock at the start of each period: the initial stock, then last period's end."""
    first = np.repeat(data.initial_stock[:, None, None], plan.stock.shape[2], axis=2)
    return np.concatenate([first, plan.stock[:, :-1, :]], axis=1)


def flows(plan: Plan, data: ModelData) -> dict[str, np.ndarray]:
    """Per [element, period, scenario]: purchases, recycling, substitution."""
    purchased = np.einsum("oe,otw->etw", data.contents, plan.purchase)
    recycling = data.recycling()
    recycled = np.einsum("ke,ktw->etw", data.yields[recycling], plan.level[recycling])
    substituted = np.einsum("ke,ktw->etw", data.yields[~recycling], plan.level[~recycling])
    return {"purchased": purchased, "recycled": recycled, "substituted": substituted}


def stock_table(plan: Plan, data: ModelData) -> pd.DataFrame:
    """Stock against its cover target, with the whole balance of every row and its value."""
    inflows = flows(plan, data)
    opening = opening_stock(plan, data)
    target = data.cover_target()
    daily = data.demand / data.days[None, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(daily > 0, plan.stock / daily, np.nan)
    frame = _node_frame(data, data.elements, "element")
    frame["stock"] = _flat(data, plan.stock)
    frame["target"] = _flat(data, target)
    frame["cover_days"] = _flat(data, cover)
    frame["cover_days_target"] = _flat(
        data,
        np.repeat(
            np.repeat(data.cover_days[:, None, None], len(data.periods), axis=1),
            len(data.scenarios),
            axis=2,
        ),
    )
    frame["below_target"] = _flat(data, plan.cover_gap)
    frame["opening"] = _flat(data, opening)
    frame["purchased"] = _flat(data, inflows["purchased"])
    frame["recycled"] = _flat(data, inflows["recycled"])
    frame["substituted"] = _flat(data, inflows["substituted"])
    frame["shortage"] = _flat(data, plan.unmet)
    frame["demand"] = _flat(data, data.demand)
    # at reference prices, what Settings stock_value_max holds (B3); blank without a price
    frame["stock_value"] = _flat(data, data.reference_price[:, None, None] * plan.stock)
    return frame


def shortage_table(plan: Plan, data: ModelData) -> pd.DataFrame:
    """Unmet requirement > 0 by use, with its value and the demand beside it (B1, B5).

    One row per (node, element, use) short: the node's shortage split over
    the element's tiers cheapest first (``other`` the rest, or the whole
    shortage of an element without tiers), ``value`` = quantity x tier cost.
    """
    split = shortage_by_use(plan, data)
    elements = [data.elements[e] for e in data.segment_element]
    frame = _node_frame(data, elements, "element")
    frame.insert(len(frame.columns), "use", np.tile(np.array(data.segment_use), len(data.nodes)))
    frame["quantity"] = _flat(data, split)
    frame["value"] = frame["quantity"] * np.tile(data.segment_cost, len(data.nodes))
    frame["demand"] = _flat(data, data.demand[data.segment_element])
    return frame[frame["quantity"] > EPSILON].reset_index(drop=True)


def _supply_weights(
    plan: Plan, data: ModelData, offer_weight: np.ndarray, activity_weight: np.ndarray
) -> np.ndarray:
    """sum_o w_o a[o,e] x + sum_{k rec} w_k yield r, per [element, period, scenario].

    The supply's terms as :func:`planner.model.balance.supply_terms` defines
    them for the model's rows (contents of offers, yields of recycling; not
    substitution), evaluated on the plan's arrays with weights ``w``.
    """
    weighted = np.einsum("oe,otw->etw", data.contents * offer_weight[:, None], plan.purchase)
    recycling = data.recycling()
    weighted += np.einsum(
        "ke,ktw->etw",
        data.yields[recycling] * activity_weight[recycling, None],
        plan.level[recycling],
    )
    return weighted


def supply_measures(plan: Plan, data: ModelData) -> dict[str, np.ndarray]:
    """Supply S, China-linked supply per basis and risk-weighted supply, per element."""
    ones_o, ones_k = np.ones(len(data.offers)), np.ones(len(data.activities))
    measures = {"supply": _supply_weights(plan, data, ones_o, ones_k)}
    for basis in BASES:
        measures[f"china_{basis}"] = _supply_weights(
            plan, data, data.offer_china[basis].astype(float), data.activity_china.astype(float)
        )
    measures["risk"] = _supply_weights(plan, data, data.offer_risk, data.activity_risk)
    return measures


def group_supply(plan: Plan, data: ModelData, basis: str) -> np.ndarray:
    """[group, element, period, scenario]: supply that counts for each country group (A6)."""
    return (
        np.stack(
            [
                _supply_weights(
                    plan, data, data.offer_groups[basis][:, g], data.activity_groups[:, g]
                )
                for g in range(len(data.groups))
            ]
        )
        if data.groups
        else np.zeros((0, len(data.elements), *plan.purchase.shape[1:]))
    )


def valued(data: ModelData) -> bool:
    """Whether Shares has a TOTAL row by value: every element has a reference price (B2)."""
    return bool(len(data.elements)) and not np.isnan(data.reference_price).any()


def _pooled(data: ModelData, values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Append the TOTAL of ``values`` over elements (``axis``), and its value (B2) where priced.

    [..., element, ...] -> [..., element + TOTAL (+ TOTAL by value), ...]: the
    items of the Shares table, in its order.
    """
    parts = [values, values.sum(axis=axis, keepdims=True)]
    if valued(data):
        prices = data.reference_price.reshape([-1 if k == axis else 1 for k in range(values.ndim)])
        parts.append((values * prices).sum(axis=axis, keepdims=True))
    return np.concatenate(parts, axis=axis)


def shares_table(plan: Plan, data: ModelData) -> pd.DataFrame:
    """China share on every basis and risk, per element and TOTAL, with the caps.

    ``measure`` is ``quantity`` on every row; where every element has a
    reference price, one more TOTAL row per node has ``measure`` value: its
    supply is ``sum_e P_e S[e,n]`` (currency), its shares and risk are
    weighted by value, and the caps beside them are the value caps (B2).
    """
    measures = supply_measures(plan, data)
    items = [*data.elements, TOTAL, *([TOTAL] if valued(data) else [])]
    pooled = {key: _pooled(data, value) for key, value in measures.items()}
    frame = _node_frame(data, items, "element")
    kinds = [QUANTITY] * (len(data.elements) + 1) + [VALUE] * (len(items) - len(data.elements) - 1)
    frame.insert(5, "measure", np.tile(np.array(kinds, dtype=object), len(data.nodes)))
    supply = _flat(data, pooled["supply"])
    frame["supply"] = supply
    positive = supply > EPSILON
    for basis in BASES:
        frame[f"china_share_{basis}"] = np.where(
            positive, _flat(data, pooled[f"china_{basis}"]) / np.where(positive, supply, 1), np.nan
        )
    frame["risk"] = np.where(
        positive, _flat(data, pooled["risk"]) / np.where(positive, supply, 1), np.nan
    )
    frame["china_cap"] = _cap_column(frame, data, (Policy.CHINA_SHARE_MAX, data.china_basis))
    frame["risk_cap"] = _cap_column(frame, data, (Policy.RISK_MAX, ""))
    china_families = [
        *data.cap_families(Policy.CHINA_SHARE_MAX),
        *data.cap_families(Policy.CHINA_SHARE_MAX, VALUE),
    ]
    for family in sorted(set(china_families), key=lambda f: BASES.index(f[1])):
        frame[f"china_cap_{family[1]}"] = _cap_column(frame, data, family)
    for basis in BASES:
        by_group = group_supply(plan, data, basis)  # [group, element, period, scenario]
        pooled_groups = _pooled(data, by_group, axis=1)
        shares = (
            np.where(
                positive[None, :],
                np.stack([_flat(data, g) for g in pooled_groups])
                / np.where(positive, supply, 1)[None, :],
                np.nan,
            )
            if len(data.groups)
            else np.full((0, len(frame)), np.nan)
        )
        family = (Policy.COUNTRY_SHARE_MAX, basis)
        if family in data.caps or family in data.value_caps:
            names = np.array([*data.groups, ""], dtype=object)
            top = (
                np.argmax(np.nan_to_num(shares, nan=-1.0), axis=0)
                if len(data.groups)
                else np.full(len(frame), -1)
            )
            chosen = pd.Series(names.take(np.asarray(top, dtype=int)), index=frame.index)
            frame[f"top_country_{basis}"] = chosen.where(positive)
            frame[f"top_country_share_{basis}"] = (
                np.where(
                    np.isnan(shares).all(axis=0),
                    np.nan,
                    np.nan_to_num(shares, nan=-np.inf).max(axis=0),
                )
                if len(data.groups)
                else np.nan
            )
            frame[f"country_cap_{basis}"] = _cap_column(
                frame, data, (Policy.COUNTRY_SHARE_MAX, basis)
            )
        frame[f"hhi_{basis}"] = _hhi(plan, data, basis, supply, positive)
    return frame


def _hhi(
    plan: Plan, data: ModelData, basis: str, supply: np.ndarray, positive: np.ndarray
) -> np.ndarray:
    """Herfindahl-Hirschman index of supply by source country on ``basis`` (0-1).

    Sources are the country groups with home codes and domestic supply as
    sources of their own; on ``any`` an offer's quantity is split equally over
    its distinct sources, so the shares add up to 1.
    """
    squares = np.zeros(len(supply))
    for source in range(len(data.sources)):
        part = _supply_weights(
            plan, data, data.offer_sources[basis][:, source], data.activity_sources[:, source]
        )
        share = _flat(data, _pooled(data, part)) / np.where(positive, supply, 1)
        squares += share**2
    return np.where(positive, squares, np.nan)


def _cap_column(frame: pd.DataFrame, data: ModelData, family: tuple[str, str]) -> list[float]:
    """Return the cap of ``family`` on each row's (element, period, measure), NaN where none."""
    caps = {measure: data.caps_of(measure).get(family, {}) for measure in (QUANTITY, VALUE)}
    position = {p: t for t, p in enumerate(data.periods)}
    return [
        caps[m][(e, position[p])].value if (e, position[p]) in caps[m] else np.nan
        for p, e, m in zip(frame["period"], frame["element"], frame["measure"], strict=True)
    ]


DUAL_COLUMNS = [
    "constraint",
    "scenario",
    "period",
    "element",
    "offer",
    "basis",
    "country_group",
    "measure",
    "dual",
    "cost_per_point",
]


@dataclass(frozen=True)
class _PricedRow:
    """A priced row of the model, in the Duals sheet's terms."""

    constraint: str
    node: int
    element: str
    offer: str = ""
    basis: str = ""
    group: str = ""
    target: int | None = None  # element position or TOTAL_INDEX, for cost_per_point
    measure: str = ""  # quantity or value for a cap (B2), blank for other rows


def _priced_row(shown: str, index: Any, data: ModelData, measure: str = QUANTITY) -> _PricedRow:
    """Describe the row at ``index`` of the priced family the Duals sheet calls ``shown``.

    ``measure`` is the family's (B2): a cap's row carries it, others none.
    """

    def name(target: int) -> str:
        return TOTAL if target == TOTAL_INDEX else data.elements[target]

    match shown, index:
        case "capacity", (o, n):
            return _PricedRow(shown, n, data.offer_label[o], offer=data.offers[o])
        case "balance", (e, n):
            return _PricedRow(shown, n, data.elements[e])
        case Policy.CHINA_SHARE_MAX, (basis, target, n):
            return _PricedRow(shown, n, name(target), basis=basis, target=target, measure=measure)
        case Policy.COUNTRY_SHARE_MAX, (basis, g, target, n):
            return _PricedRow(
                shown,
                n,
                name(target),
                basis=basis,
                group=data.groups[g],
                target=target,
                measure=measure,
            )
        case Policy.RISK_MAX, (target, n):
            return _PricedRow(shown, n, name(target), target=target, measure=measure)
        case Policy.OFFER_SHARE_MAX, (o, n, e):
            return _PricedRow(
                shown, n, data.elements[e], offer=data.offers[o], target=e, measure=measure
            )
    raise ValueError(f"no Duals layout for the priced rows {shown}")


def _bound_below_capacity(data: ModelData, o: int, n: int) -> bool:
    """Whether the capacity row of (o, n) bounds by the useful capacity, not the capacity."""
    node = data.nodes[n]
    return bool(data.offer_useful[o, n] < data.capacity[o, node.period, node.scenarios[0]])


def duals_table(data: ModelData, plan: Plan, duals: dict[tuple[str, Any], float]) -> pd.DataFrame:
    """Tabulate shadow prices per scenario-tree node, divided by the node's probability.

    ``duals`` is :meth:`~planner.solve.HighsSession.duals` of
    :data:`PRICED_FAMILIES`, keyed by (family, index) in the registry's
    order; each row is named as the Duals sheet names it
    (:attr:`Family.dual_name`; formulation, Duals; A7). A value cap's
    ``cost_per_point`` uses the value-weighted supply ``sum_e P_e S[e,n]`` (B2).
    """
    if not duals:
        return pd.DataFrame(columns=DUAL_COLUMNS)
    supply = supply_measures(plan, data)["supply"]  # [element, period, scenario]
    families = {family.name: family for family in FAMILIES}
    rows: list[dict[str, Any]] = []
    for (name, index), value in duals.items():
        family = families[name]
        priced = _priced_row(family.dual_name, index, data, family.measure)
        if name == "capacity_limit" and _bound_below_capacity(data, *index):
            value = 0.0  # the row bounds by what the case can use; more capacity is worth 0
        node = data.nodes[priced.node]
        probability = node.probability
        dual = value / probability if probability > 0 else 0.0
        per_point = np.nan
        if priced.target is not None:
            t, w = node.period, node.scenarios[0]
            node_supply = float(
                (data.prices() if priced.measure == VALUE else np.ones(len(data.elements)))
                @ supply[:, t, w]
                if priced.target == TOTAL_INDEX
                else supply[priced.target, t, w]
            )
            per_point = -probability * dual * 0.01 * node_supply + 0.0
        rows.append(
            {
                "constraint": priced.constraint,
                "scenario": "|".join(data.scenarios[w] for w in node.scenarios),
                "period": data.periods[node.period],
                "element": priced.element,
                "offer": priced.offer,
                "basis": priced.basis,
                "country_group": priced.group,
                "measure": priced.measure,
                "dual": dual + 0.0,
                "cost_per_point": per_point,
            }
        )
    return pd.DataFrame(rows, columns=DUAL_COLUMNS)


#: The constraint families whose duals the Duals sheet reports (the registry's priced ones).
PRICED_FAMILIES: tuple[str, ...] = tuple(family.name for family in FAMILIES if family.priced)


def expected(
    frame: pd.DataFrame, probability: pd.Series, by: list[str], value: str
) -> pd.DataFrame:
    """Sum ``value`` weighted by probability, grouped by ``by``.

    A per-node table carries each row's probability; a table with a
    ``scenario`` column is weighted by ``probability`` (by scenario id).
    """
    weight = (
        frame["scenario"].map(probability) if "scenario" in frame.columns else frame["probability"]
    )
    weighted = frame.assign(_w=frame[value] * weight)
    return weighted.groupby(by, sort=False)["_w"].sum().reset_index().rename(columns={"_w": value})


def element_purchases(purchases: pd.DataFrame, contents: pd.DataFrame) -> pd.DataFrame:
    """Purchases in element units: a joint product's row split over the elements it carries.

    A Purchases row of an offer with OfferContents rows (``element`` ``Nd+Pr``,
    ``quantity`` in product units) becomes one row per element, its quantity
    times that element's fraction; other rows are kept as they are.
    """
    if purchases.empty or contents.empty:
        return purchases
    joint = purchases["offer"].isin(contents["offer"])
    split = (
        purchases[joint]
        .drop(columns="element")
        .merge(contents[["offer", "element", "fraction"]], on="offer")
    )
    split["quantity"] = split["quantity"] * split["fraction"]
    split = split.drop(columns="fraction")[purchases.columns]
    return pd.concat([purchases[~joint], split], ignore_index=True)


def by_scenario(table: pd.DataFrame, scenarios: list[str]) -> pd.DataFrame:
    """Expand a per-node table to one row per scenario (``scenario`` in place of the node).

    ``scenarios`` lists every scenario id (what ``all`` stands for).
    """
    members = table["scenarios"].map(lambda text: scenarios if text == "all" else text.split("|"))
    expanded = table.assign(scenario=members).explode("scenario")
    expanded = expanded.drop(columns=["node", "scenarios", "probability"])
    columns = ["scenario", *(c for c in expanded.columns if c != "scenario")]
    return expanded[columns].reset_index(drop=True)


def quantity_rows(shares: pd.DataFrame) -> pd.DataFrame:
    """Return the Shares rows counted in quantity (without the TOTAL rows by value, B2)."""
    return shares[shares["measure"] == QUANTITY] if "measure" in shares.columns else shares


def expected_shares(shares: pd.DataFrame, probability: pd.Series, basis: str) -> pd.DataFrame:
    """Probability-weighted China share of each element (and TOTAL) over the horizon.

    ``shares`` is the Shares table, ``probability`` the scenario probabilities
    by scenario id. Returns ``element``, ``supply`` (expected units),
    ``china_share`` (expected China-linked supply over expected supply, on
    ``basis``) and ``china_cap`` (the tightest cap over the periods, NaN if none).
    """
    shares = quantity_rows(shares)
    shares = shares.assign(china=shares[f"china_share_{basis}"].fillna(0.0) * shares["supply"])
    grouped = expected(shares, probability, ["element"], "supply").merge(
        expected(shares, probability, ["element"], "china"), on="element"
    )
    caps = shares.groupby("element", sort=False)["china_cap"].min()
    grouped["china_cap"] = grouped["element"].map(caps)
    grouped["china_share"] = (grouped["china"] / grouped["supply"]).where(grouped["supply"] > 0)
    return grouped.drop(columns="china")


def expected_china_shares(plan: Plan, data: ModelData) -> pd.DataFrame:
    """:func:`expected_shares` of the plan's Shares table, without making the table.

    ``element`` (each element, then TOTAL), ``supply`` and ``china_share``
    on the case's basis, from the same per-node figures: what a sweep's row
    needs, a few milliseconds instead of the table's tens.
    """
    measures = supply_measures(plan, data)
    periods = [node.period for node in data.nodes]
    representatives = [node.scenarios[0] for node in data.nodes]
    probability = np.array([node.probability for node in data.nodes], dtype=float)

    def at_nodes(values: np.ndarray) -> np.ndarray:  # [item (elements, TOTAL), node]
        pooled = np.concatenate([values, values.sum(axis=0, keepdims=True)])
        return pooled[:, periods, representatives]

    supply = at_nodes(measures["supply"])
    china = at_nodes(measures[f"china_{data.china_basis}"])
    positive = supply > EPSILON
    share = np.where(positive, china / np.where(positive, supply, 1), np.nan)
    expected_supply = supply @ probability
    expected_china = (np.where(np.isnan(share), 0.0, share) * supply) @ probability
    return pd.DataFrame(
        {
            "element": np.array([*data.elements, TOTAL], dtype=object),
            "supply": expected_supply,
            "china_share": pd.Series(
                expected_china / np.where(expected_supply > 0, expected_supply, 1)
            )
            .where(expected_supply > 0)
            .to_numpy(),
        }
    )


#: The Orders sheet's blocks, in order: what to decide now, what the plan already fixes for
#: later quarters whatever happens, and what it does only if a situation comes about.
NOW, DECIDED_LATER, IF_IT_HAPPENS = (
    "now",
    "already decided for later quarters",
    "if the situation comes about",
)
ORDER_COLUMNS = [
    "block",
    "action",
    "offer",
    "supplier",
    "element",
    "country",
    "period",
    "quantity",
    "unit_cost",
    "cost",
    "scenarios",
    "probability",
    "fixed_cost",
    "note",
]


def orders_table(
    purchases: pd.DataFrame,
    contracts: pd.DataFrame,
    signings: pd.DataFrame | None,
    first_period: str,
) -> pd.DataFrame:
    """Return what to do now (spec v2, Orders): the table a planner acts on.

    Three blocks (column ``block``). **now**: the first period's purchases
    (``buy``; every scenario shares the first period), each contract to sign
    now (``sign now``; one signed at no cost that the plan never buys from is
    an ``option``; a later offer every scenario signs in the first period is
    signed now too). **already decided for later quarters**: purchases in
    later periods at a node every scenario shares (``buy later``) and later
    signings every scenario makes (``sign later``, ``scenarios`` all): the
    plan makes them whatever happens, though they are placed when their
    quarter comes (and re-planned by then). **if the situation comes about**:
    the later signings only some scenarios make (``sign later``). Contracts
    already signed before the horizon are not listed: nothing to decide.
    """
    shared = purchases[purchases["scenarios"] == "all"]
    first = (shared["period"] == first_period).to_numpy()
    buy = pd.DataFrame(
        {
            "block": np.where(first, NOW, DECIDED_LATER),
            "action": np.where(first, "buy", "buy later"),
            "offer": shared["offer"],
            "supplier": shared["supplier"],
            "element": shared["element"],
            "country": shared["country"],
            "period": shared["period"],
            "quantity": shared["quantity"],
            "unit_cost": shared["unit_cost"],
            "cost": shared["cost"],
            "scenarios": "all",
            "probability": 1.0,
            "note": np.where(
                first, "", "every scenario buys this then: decided now, placed in its quarter"
            ),
        }
    )
    now = contracts[
        (contracts["signing"] == "now")
        & (contracts["contracted"] == 1)
        & (contracts["already_contracted"] == 0)
    ]
    unused = now["expected_quantity"] <= EPSILON
    sign = pd.DataFrame(
        {
            "block": NOW,
            "action": np.where(unused, "option", "sign now"),
            "offer": now["offer"],
            "supplier": now["supplier"],
            "element": now["element"],
            "country": now["country"],
            "scenarios": "all",
            "probability": 1.0,
            "fixed_cost": now["fixed_cost"],
            "note": np.where(
                unused,
                "contracted at no cost, nothing bought in the plan: an option to use",
                "",
            ),
        }
    )
    parts = [buy, sign]
    if signings is not None and len(signings):
        parts.append(_later_signings(signings, contracts, first_period))
    frame = (
        pd.concat([p for p in parts if len(p)], ignore_index=True)
        if any(len(p) for p in parts)
        else pd.DataFrame(columns=ORDER_COLUMNS)
    )
    rank = frame["block"].map({NOW: 0, DECIDED_LATER: 1, IF_IT_HAPPENS: 2})
    frame = frame.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)
    return frame.reindex(columns=ORDER_COLUMNS)


def _later_signings(
    signings: pd.DataFrame, contracts: pd.DataFrame, first_period: str
) -> pd.DataFrame:
    """Return the Orders rows of later offers: signed now, decided for later, or conditional."""
    info = contracts.set_index("offer")
    everywhere = (signings["scenarios"] == "all").to_numpy()
    now_signed = everywhere & (signings["period"] == first_period).to_numpy()
    decided = everywhere & ~now_signed
    first_delivery = "first delivery " + signings["first_delivery"].astype(str)
    return pd.DataFrame(
        {
            "block": np.select([now_signed, decided], [NOW, DECIDED_LATER], IF_IT_HAPPENS),
            "action": np.where(now_signed, "sign now", "sign later"),
            "offer": signings["offer"],
            "supplier": signings["offer"].map(info["supplier"]),
            "element": signings["element"],
            "country": signings["offer"].map(info["country"]),
            "period": signings["period"],
            "scenarios": signings["scenarios"],
            "probability": signings["probability"],
            "fixed_cost": signings["fixed_cost"],
            "note": np.select(
                [now_signed, decided],
                [
                    "a later offer the plan signs now; ",
                    "every scenario signs it in " + signings["period"].astype(str) + "; ",
                ],
                "sign if this situation comes about; ",
            )
            + first_delivery,
        }
    )


def china_against_caps(shares: pd.DataFrame, basis: str | None = None) -> pd.DataFrame:
    """China share against the cap that applies, period by period (element and TOTAL).

    One row per basis with a China cap (``basis`` None: every basis that has
    one; a basis: that one), measure (B2: the TOTAL row by value beside the
    ones in quantity), element and period. The share is the
    expectation over the period's nodes (China-linked supply over supply,
    probability-weighted); ``breach`` is True only where some node's share
    exceeds its cap (caps bind per node); ``headroom`` is the cap minus the
    highest share of any node of the period.
    """
    columns = [
        "basis",
        "measure",
        "element",
        "period",
        "china_share",
        "china_cap",
        "highest",
        "headroom",
        "breach",
    ]
    bases = (
        [basis]
        if basis is not None
        else [c.removeprefix("china_cap_") for c in shares.columns if c.startswith("china_cap_")]
    )
    parts = [_against_cap(shares, b) for b in bases]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def _against_cap(shares: pd.DataFrame, basis: str) -> pd.DataFrame:
    share = f"china_share_{basis}"
    cap = f"china_cap_{basis}" if f"china_cap_{basis}" in shares.columns else "china_cap"
    rows = shares[shares[cap].notna()].copy()
    if rows.empty:
        return pd.DataFrame()
    if "measure" not in rows.columns:
        rows["measure"] = QUANTITY
    rows["_china"] = rows[share].fillna(0.0) * rows["supply"] * rows["probability"]
    rows["_supply"] = rows["supply"] * rows["probability"]
    grouped = rows.groupby(["measure", "element", "period"], sort=False).agg(
        china=("_china", "sum"),
        supply=("_supply", "sum"),
        china_cap=(cap, "min"),
        highest=(share, "max"),
    )
    grouped["china_share"] = (grouped["china"] / grouped["supply"]).where(grouped["supply"] > 0)
    headroom = grouped["china_cap"] - grouped["highest"].fillna(0.0)
    grouped["breach"] = headroom < -SHARE_TOLERANCE
    # a cap met exactly reads 0, not the rounding noise of the share (-2.2e-16)
    grouped["headroom"] = headroom.mask(headroom.abs() <= SHARE_TOLERANCE, 0.0)
    grouped["basis"] = basis
    return grouped.reset_index()
