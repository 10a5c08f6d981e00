"""Solved model -> tidy pandas tables (no Excel here).

The plan is read off the model's node variables once, expanded to
(scenario, period) with the scenario tree, and every table and cost figure
is computed from those arrays and the derived parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from planner.model.parameters import BASES, TOTAL, ModelData
from planner.model.policies import TOTAL_INDEX

#: Quantities below this are solver noise and reported as 0.
EPSILON = 1e-9

COST_KEYS = (
    "fixed_cost",
    "purchase_cost",
    "activity_cost",
    "holding_cost",
    "shortage_cost",
    "cover_penalty",
)


@dataclass
class Plan:
    """The plan as arrays: first stage, and [item, period, scenario] per node variable."""

    contract: np.ndarray  # [offer]
    adopt: np.ndarray  # [activity]
    purchase: np.ndarray  # [offer, period, scenario]
    level: np.ndarray  # [activity, period, scenario]
    stock: np.ndarray  # [element, period, scenario]
    unmet: np.ndarray
    cover_gap: np.ndarray


def _node_values(var: Any, rows: int, nodes: int) -> np.ndarray:
    values = np.zeros((rows, nodes))
    for (i, n), data in var.items():
        values[i, n] = data.value or 0.0
    values[np.abs(values) < EPSILON] = 0.0
    return values


def read_plan(model: pyo.ConcreteModel, data: ModelData) -> Plan:
    """Read the loaded solution off the model and expand it to scenarios."""
    n_nodes = len(data.nodes)

    def expand(values: np.ndarray) -> np.ndarray:
        return values[:, data.node_of]  # [item, period, scenario]

    return Plan(
        contract=np.array([round(model.contract[o].value or 0.0) for o in model.OFFERS], float),
        adopt=np.array([round(model.adopt[k].value or 0.0) for k in model.ACTIVITIES], float),
        purchase=expand(_node_values(model.purchase, len(data.offers), n_nodes)),
        level=expand(_node_values(model.activity_level, len(data.activities), n_nodes)),
        stock=expand(_node_values(model.stock, len(data.elements), n_nodes)),
        unmet=expand(_node_values(model.unmet, len(data.elements), n_nodes)),
        cover_gap=expand(_node_values(model.cover_gap, len(data.elements), n_nodes)),
    )


def scenario_costs(plan: Plan, data: ModelData) -> pd.DataFrame:
    """Cost components of every scenario (first-stage cost in every row)."""
    fixed = float(plan.contract @ data.offer_fixed_cost + plan.adopt @ data.activity_fixed_cost)
    frame = pd.DataFrame(
        {
            "fixed_cost": np.full(len(data.scenarios), fixed),
            "purchase_cost": np.einsum("otw,otw->w", data.unit_cost, plan.purchase),
            "activity_cost": np.einsum("ktw,ktw->w", data.activity_cost, plan.level),
            "holding_cost": np.einsum("e,etw->w", data.holding_cost, plan.stock),
            "shortage_cost": np.einsum("e,etw->w", data.shortage_cost, plan.unmet),
            "cover_penalty": np.einsum("e,etw->w", data.cover_penalty, plan.cover_gap),
        },
        index=pd.Index(data.scenarios, name="scenario"),
    )
    frame["scenario_cost"] = frame[list(COST_KEYS[1:])].sum(axis=1)
    frame.insert(0, "probability", data.probability)
    return frame


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


def _scenario_period_frame(data: ModelData, items: list[str], item_name: str) -> pd.DataFrame:
    """All (scenario, period, item) combinations in a fixed order."""
    index = pd.MultiIndex.from_product(
        [data.scenarios, data.periods, items], names=["scenario", "period", item_name]
    )
    return index.to_frame(index=False)


def _flat(values: np.ndarray) -> np.ndarray:
    """[item, period, scenario] -> flat in (scenario, period, item) order."""
    return np.transpose(values, (2, 1, 0)).reshape(-1)


def purchases_table(plan: Plan, data: ModelData, offers: pd.DataFrame) -> pd.DataFrame:
    """Purchases with quantity > 0, one row per scenario, period and offer."""
    frame = _scenario_period_frame(data, data.offers, "offer")
    frame["quantity"] = _flat(plan.purchase)
    frame["unit_cost"] = _flat(data.unit_cost)
    frame = frame[frame["quantity"] > EPSILON].copy()
    info = offers.loc[frame["offer"]]
    frame.insert(
        3, "supplier", info["supplier"].fillna(pd.Series(info.index, index=info.index)).to_numpy()
    )
    frame.insert(4, "element", info["element"].to_numpy())
    frame.insert(5, "country", info["country"].to_numpy())
    frame.insert(6, "mine_country", info["mine_country"].fillna(info["country"]).to_numpy())
    frame.insert(7, "refine_country", info["refine_country"].fillna(info["country"]).to_numpy())
    position = {o: i for i, o in enumerate(data.offers)}
    frame.insert(8, "china_linked", [int(data.china[position[o]]) for o in frame["offer"]])
    frame["cost"] = frame["quantity"] * frame["unit_cost"]
    return frame.reset_index(drop=True)


def contracts_table(plan: Plan, data: ModelData, offers: pd.DataFrame) -> pd.DataFrame:
    """Every offer: contracted or not, the fixed cost paid, expected quantity bought."""
    expected = np.einsum("otw,w->o", plan.purchase, data.probability)
    return pd.DataFrame(
        {
            "offer": data.offers,
            "supplier": offers["supplier"]
            .fillna(pd.Series(offers.index, index=offers.index))
            .to_numpy(),
            "element": offers["element"].to_numpy(),
            "country": offers["country"].to_numpy(),
            "contracted": plan.contract.astype(int),
            "fixed_cost": plan.contract * data.offer_fixed_cost,
            "expected_quantity": expected,
            "risk": data.offer_risk,
            "china_linked": data.china.astype(int),
        }
    )


def activities_table(plan: Plan, data: ModelData) -> pd.DataFrame:
    """Every activity in every period it can run: level, cost and adoption."""
    frame = _scenario_period_frame(data, data.activities, "activity")
    if frame.empty:
        return pd.DataFrame(
            columns=["scenario", "period", "activity", "kind", "level", "cost", "adopted"]
        )
    kind = dict(zip(data.activities, data.activity_kind, strict=True))
    adopted = dict(zip(data.activities, plan.adopt.astype(int), strict=True))
    frame["kind"] = frame["activity"].map(kind)
    frame["level"] = _flat(plan.level)
    frame["cost"] = frame["level"] * _flat(data.activity_cost)
    frame["adopted"] = frame["activity"].map(adopted)
    window = _flat(np.repeat(data.activity_window[:, :, None], len(data.scenarios), axis=2))
    return frame[window].reset_index(drop=True)


def adoption_table(plan: Plan, data: ModelData, activities: pd.DataFrame) -> pd.DataFrame:
    """Every activity: adopted or not, the fixed cost paid, expected total level."""
    return pd.DataFrame(
        {
            "activity": data.activities,
            "kind": data.activity_kind,
            "country": activities["country"].fillna("domestic").to_numpy(),
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
    n_e = len(data.elements)
    purchased = np.zeros((n_e, *plan.purchase.shape[1:]))
    np.add.at(purchased, data.offer_element, plan.purchase)
    recycling = data.recycling()
    recycled = np.einsum("ke,ktw->etw", data.yields[recycling], plan.level[recycling])
    substituted = np.einsum("ke,ktw->etw", data.yields[~recycling], plan.level[~recycling])
    return {"purchased": purchased, "recycled": recycled, "substituted": substituted}


def stock_table(plan: Plan, data: ModelData) -> pd.DataFrame:
    """Stock against its cover target, with the whole balance of every row."""
    inflows = flows(plan, data)
    opening = opening_stock(plan, data)
    target = data.cover_target()
    daily = data.demand / data.days[None, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(daily > 0, plan.stock / daily, np.nan)
    frame = _scenario_period_frame(data, data.elements, "element")
    frame["stock"] = _flat(plan.stock)
    frame["target"] = _flat(target)
    frame["cover_days"] = _flat(cover)
    frame["cover_days_target"] = _flat(
        np.repeat(
            np.repeat(data.cover_days[:, None, None], len(data.periods), axis=1),
            len(data.scenarios),
            axis=2,
        )
    )
    frame["below_target"] = _flat(plan.cover_gap)
    frame["opening"] = _flat(opening)
    frame["purchased"] = _flat(inflows["purchased"])
    frame["recycled"] = _flat(inflows["recycled"])
    frame["substituted"] = _flat(inflows["substituted"])
    frame["shortage"] = _flat(plan.unmet)
    frame["demand"] = _flat(data.demand)
    return frame


def shortage_table(plan: Plan, data: ModelData) -> pd.DataFrame:
    """Unmet requirement > 0, with the demand beside it."""
    frame = _scenario_period_frame(data, data.elements, "element")
    frame["quantity"] = _flat(plan.unmet)
    frame["demand"] = _flat(data.demand)
    return frame[frame["quantity"] > EPSILON].reset_index(drop=True)


def _supply_weights(
    plan: Plan, data: ModelData, offer_weight: np.ndarray, activity_weight: np.ndarray
) -> np.ndarray:
    """sum_o a_o x + sum_{k rec} a_k yield r, per [element, period, scenario]."""
    n_e = len(data.elements)
    weighted = np.zeros((n_e, *plan.purchase.shape[1:]))
    np.add.at(weighted, data.offer_element, offer_weight[:, None, None] * plan.purchase)
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


def shares_table(plan: Plan, data: ModelData) -> pd.DataFrame:
    """China share on every basis and risk, per element and TOTAL, with the caps."""
    measures = supply_measures(plan, data)
    items = [*data.elements, TOTAL]
    pooled = {
        key: np.concatenate([value, value.sum(axis=0, keepdims=True)])
        for key, value in measures.items()
    }
    frame = _scenario_period_frame(data, items, "element")
    supply = _flat(pooled["supply"])
    frame["supply"] = supply
    positive = supply > EPSILON
    for basis in BASES:
        frame[f"china_share_{basis}"] = np.where(
            positive, _flat(pooled[f"china_{basis}"]) / np.where(positive, supply, 1), np.nan
        )
    frame["risk"] = np.where(
        positive, _flat(pooled["risk"]) / np.where(positive, supply, 1), np.nan
    )
    position = {p: t for t, p in enumerate(data.periods)}
    for policy, column in (("china_share_max", "china_cap"), ("risk_max", "risk_cap")):
        caps = data.caps.get(policy, {})
        frame[column] = [
            caps[(e, position[p])].value if (e, position[p]) in caps else np.nan
            for p, e in zip(frame["period"], frame["element"], strict=True)
        ]
    return frame


DUAL_COLUMNS = ["constraint", "scenario", "period", "element", "offer", "dual", "cost_per_point"]


def _priced_rows(
    model: pyo.ConcreteModel, data: ModelData, supply: np.ndarray
) -> Iterator[tuple[str, int, str, str, Any, float | None]]:
    """Yield (constraint, node, element, offer, row, supply S at the node or None)."""

    def node_supply(n: int, target: int) -> float:
        t, w = data.nodes[n].period, data.nodes[n].scenarios[0]
        return float(supply[:, t, w].sum() if target == TOTAL_INDEX else supply[target, t, w])

    for (o, n), row in model.capacity.items():
        element = data.elements[data.offer_element[o]]
        yield "capacity", n, element, data.offers[o], row, None
    for (e, n), row in model.balance.items():
        yield "balance", n, data.elements[e], "", row, None
    for component, name in ((model.china_share, "china_share_max"), (model.risk, "risk_max")):
        for (target, n), row in component.items():
            element = TOTAL if target == TOTAL_INDEX else data.elements[target]
            yield name, n, element, "", row, node_supply(n, target)
    for (o, n), row in model.offer_share.items():
        e = int(data.offer_element[o])
        yield "offer_share_max", n, data.elements[e], data.offers[o], row, node_supply(n, e)


def duals_table(
    model: pyo.ConcreteModel, data: ModelData, plan: Plan, duals: dict[Any, float]
) -> pd.DataFrame:
    """Tabulate shadow prices per scenario-tree node, divided by the node's probability."""
    if not duals:
        return pd.DataFrame(columns=DUAL_COLUMNS)
    supply = supply_measures(plan, data)["supply"]  # [element, period, scenario]
    rows: list[dict[str, Any]] = []
    for name, n, element, offer, row, node_supply in _priced_rows(model, data, supply):
        if row not in duals:
            continue
        node = data.nodes[n]
        probability = node.probability
        dual = duals[row] / probability if probability > 0 else 0.0
        per_point = np.nan
        if node_supply is not None:
            per_point = -probability * dual * 0.01 * node_supply + 0.0
        rows.append(
            {
                "constraint": name,
                "scenario": "|".join(data.scenarios[w] for w in node.scenarios),
                "period": data.periods[node.period],
                "element": element,
                "offer": offer,
                "dual": dual + 0.0,
                "cost_per_point": per_point,
            }
        )
    return pd.DataFrame(rows, columns=DUAL_COLUMNS)


def priced_constraints(model: pyo.ConcreteModel) -> list[Any]:
    """Return the constraints whose duals are reported (kinds 1 upper, 3, 8, 9, 10)."""
    components = (model.capacity, model.balance, model.china_share, model.risk, model.offer_share)
    return [con for component in components for con in component.values() if con.active]


def expected(
    frame: pd.DataFrame, probability: pd.Series, by: list[str], value: str
) -> pd.DataFrame:
    """Sum ``value`` over scenarios weighted by their probability, grouped by ``by``."""
    weighted = frame.assign(_w=frame[value] * frame["scenario"].map(probability))
    return weighted.groupby(by, sort=False)["_w"].sum().reset_index().rename(columns={"_w": value})


def expected_shares(shares: pd.DataFrame, probability: pd.Series, basis: str) -> pd.DataFrame:
    """Probability-weighted China share of each element (and TOTAL) over the horizon.

    ``shares`` is the Shares table, ``probability`` the scenario probabilities
    by scenario id. Returns ``element``, ``supply`` (expected units),
    ``china_share`` (expected China-linked supply over expected supply, on
    ``basis``) and ``china_cap`` (the tightest cap over the periods, NaN if none).
    """
    shares = shares.assign(china=shares[f"china_share_{basis}"].fillna(0.0) * shares["supply"])
    grouped = expected(shares, probability, ["element"], "supply").merge(
        expected(shares, probability, ["element"], "china"), on="element"
    )
    caps = shares.groupby("element", sort=False)["china_cap"].min()
    grouped["china_cap"] = grouped["element"].map(caps)
    grouped["china_share"] = (grouped["china"] / grouped["supply"]).where(grouped["supply"] > 0)
    return grouped.drop(columns="china")
