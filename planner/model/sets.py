"""Index sets of the model, sparse: only the (offer, node) pairs that can deliver, etc.

Offers, activities, elements and scenarios are indexed by position; nodes by
their id in the scenario tree. ``model.data`` maps positions back to ids.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from planner.model import policies
from planner.model.parameters import ModelData


def _window_nodes(window: np.ndarray, node_period: list[int]) -> pyo.Set:
    """(item, node) pairs where the item's delivery window covers the node's period."""
    return pyo.Set(
        dimen=2,
        ordered=True,
        initialize=[
            (item, n)
            for n, t in enumerate(node_period)
            for item in np.flatnonzero(window[:, t]).tolist()
        ],
    )


def define_sets(model: pyo.ConcreteModel, data: ModelData) -> None:
    """NODES, OFFERS, ACTIVITIES, ELEMENTS, SCENARIOS and their sparse products."""
    node_period = [node.period for node in data.nodes]
    representative = [node.scenarios[0] for node in data.nodes]
    n_nodes, n_elements = len(data.nodes), len(data.elements)
    model.NODES = pyo.Set(initialize=range(n_nodes), ordered=True)
    model.FIRST_NODES = pyo.Set(
        initialize=[n for n, t in enumerate(node_period) if t == 0], ordered=True
    )
    model.OFFERS = pyo.Set(initialize=range(len(data.offers)), ordered=True)
    model.NOW_OFFERS = pyo.Set(initialize=np.flatnonzero(~data.offer_later).tolist(), ordered=True)
    model.ACTIVITIES = pyo.Set(initialize=range(len(data.activities)), ordered=True)
    model.ELEMENTS = pyo.Set(initialize=range(n_elements), ordered=True)
    model.SCENARIOS = pyo.Set(initialize=range(len(data.scenarios)), ordered=True)
    model.OFFER_NODES = _window_nodes(data.deliverable(), node_period)
    model.SIGNING_NODES = pyo.Set(
        dimen=2,
        ordered=True,
        initialize=[
            (o, n) for o in np.flatnonzero(data.offer_later).tolist() for n in range(n_nodes)
        ],
    )
    model.ACTIVITY_NODES = _window_nodes(data.activity_window, node_period)
    model.ELEMENT_NODES = pyo.Set(
        dimen=2,
        ordered=True,
        initialize=[(e, n) for n in range(n_nodes) for e in range(n_elements)],
    )
    target = data.cover_target()
    model.COVER_NODES = pyo.Set(
        dimen=2,
        ordered=True,
        initialize=[
            (e, n)
            for n, t in enumerate(node_period)
            for e in range(n_elements)
            if target[e, t, representative[n]] > 0
        ],
    )
    committed = ~np.isnan(data.commitment)
    model.COMMITMENT_NODES = pyo.Set(
        dimen=2,
        ordered=True,
        initialize=[(o, n) for o, n in model.OFFER_NODES if committed[o, node_period[n]]],
    )
    model.CHANGE_NODES = pyo.Set(
        dimen=2,
        ordered=True,
        initialize=[
            (o, n)
            for n, t in enumerate(node_period)
            if data.previous_periods[t] and data.change_cost > 0
            for o in np.flatnonzero(data.previous_offers).tolist()
        ],
    )
    carried = [np.flatnonzero(row).tolist() for row in data.contents]  # per offer, not per node
    model.OFFER_SHARE_CELLS = pyo.Set(  # (offer, node, element it carries)
        dimen=3,
        ordered=True,
        initialize=[(o, n, e) for o, n in model.OFFER_NODES for e in carried[o]],
    )
    model.MIN_OFFERS_CELLS = pyo.Set(  # (element, node of the first period)
        dimen=2,
        ordered=True,
        initialize=[(e, n) for e in range(n_elements) for n in model.FIRST_NODES],
    )
    tiered = np.flatnonzero(data.tiered()).tolist()
    model.TIERED_ELEMENT_NODES = pyo.Set(  # (element with ShortageTiers, node) (B1)
        dimen=2, ordered=True, initialize=[(e, n) for n in range(n_nodes) for e in tiered]
    )
    model.TIER_NODES = pyo.Set(  # (shortage segment of a tiered element, node) (B1)
        dimen=2,
        ordered=True,
        initialize=[
            (s, n) for n in range(n_nodes) for e in tiered for s in data.segments_of(e).tolist()
        ],
    )
    model.BUDGET_NODES = pyo.Set(  # nodes held to Settings stock_value_max (B3)
        initialize=range(n_nodes) if np.isfinite(data.stock_value_max) else [], ordered=True
    )
    model.segments_of = [data.segments_of(e).tolist() for e in range(n_elements)]
    model.node_period = node_period
    model.representative = representative
    model.later_offers = np.flatnonzero(data.offer_later).tolist()
    model.changed_offers_at = [[] for _ in range(n_nodes)]
    for o, n in model.CHANGE_NODES:
        model.changed_offers_at[n].append(o)
    model.offers_of = [data.offers_of(e).tolist() for e in range(n_elements)]
    define_availability(model, data)
    model.SUPPLY_NODES = pyo.Set(  # (element, node) where S[e,n] is defined once (7)
        dimen=2, ordered=True, initialize=policies.supply_nodes(model)
    )


def define_availability(model: pyo.ConcreteModel, data: ModelData) -> None:
    """Per period: the offers of each element that deliver, and the activities that run.

    Plain lists, so that rules look terms up instead of testing set membership.
    ``offers_at[t][e]`` lists ``(offer, a[o,e])`` pairs; ``recycling_at[t][e]``
    and ``substitution_at[t][e]`` list ``(activity, yield)`` pairs.
    """
    n_elements = len(data.elements)
    kinds = data.activity_kind
    deliverable_window = data.deliverable()
    model.offers_at = []
    model.recycling_at = []
    model.substitution_at = []
    model.offers_in = []
    model.activities_in = []
    for t in range(len(data.periods)):
        deliverable = np.flatnonzero(deliverable_window[:, t])
        running = np.flatnonzero(data.activity_window[:, t]).tolist()
        by_element: list[list[tuple[int, float]]] = [[] for _ in range(n_elements)]
        for o in deliverable.tolist():
            for e in np.flatnonzero(data.contents[o]).tolist():
                by_element[e].append((o, float(data.contents[o, e])))
        recycling: list[list[tuple[int, float]]] = [[] for _ in range(n_elements)]
        substitution: list[list[tuple[int, float]]] = [[] for _ in range(n_elements)]
        for k in running:
            target = recycling if kinds[k] == "recycling" else substitution
            for e in np.flatnonzero(data.yields[k]).tolist():
                target[e].append((k, float(data.yields[k, e])))
        model.offers_at.append(by_element)
        model.recycling_at.append(recycling)
        model.substitution_at.append(substitution)
        model.offers_in.append(deliverable.tolist())
        model.activities_in.append(running)
