"""Index sets of the model, sparse: only the (offer, node) pairs that can deliver, etc.

Offers, activities, elements and scenarios are indexed by position; nodes by
their id in the scenario tree. ``model.data`` maps positions back to ids.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

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
    model.NODES = pyo.Set(initialize=range(len(data.nodes)), ordered=True)
    model.OFFERS = pyo.Set(initialize=range(len(data.offers)), ordered=True)
    model.ACTIVITIES = pyo.Set(initialize=range(len(data.activities)), ordered=True)
    model.ELEMENTS = pyo.Set(initialize=range(len(data.elements)), ordered=True)
    model.SCENARIOS = pyo.Set(initialize=range(len(data.scenarios)), ordered=True)
    model.OFFER_NODES = _window_nodes(data.offer_window, node_period)
    model.ACTIVITY_NODES = _window_nodes(data.activity_window, node_period)
    model.ELEMENT_NODES = pyo.Set(
        dimen=2,
        ordered=True,
        initialize=[(e, n) for n in range(len(data.nodes)) for e in range(len(data.elements))],
    )
    target = data.cover_target()
    model.COVER_NODES = pyo.Set(
        dimen=2,
        ordered=True,
        initialize=[
            (e, n)
            for n, t in enumerate(node_period)
            for e in range(len(data.elements))
            if target[e, t, representative[n]] > 0
        ],
    )
    model.node_period = node_period
    model.representative = representative
    model.offers_of = [
        np.flatnonzero(data.offer_element == e).tolist() for e in range(len(data.elements))
    ]
    define_availability(model, data)


def define_availability(model: pyo.ConcreteModel, data: ModelData) -> None:
    """Per period: the offers of each element that deliver, and the activities that run.

    Plain lists, so that rules look terms up instead of testing set membership.
    ``offers_at[t][e]`` lists offer positions; ``recycling_at[t][e]`` and
    ``substitution_at[t][e]`` list ``(activity, yield)`` pairs.
    """
    n_elements = len(data.elements)
    kinds = data.activity_kind
    model.offers_at = []
    model.recycling_at = []
    model.substitution_at = []
    model.offers_in = []
    model.activities_in = []
    for t in range(len(data.periods)):
        deliverable = np.flatnonzero(data.offer_window[:, t])
        running = np.flatnonzero(data.activity_window[:, t]).tolist()
        by_element: list[list[int]] = [[] for _ in range(n_elements)]
        for o in deliverable.tolist():
            by_element[int(data.offer_element[o])].append(o)
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
