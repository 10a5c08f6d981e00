"""Decision variables, named for what they decide."""

from __future__ import annotations

import math

import pyomo.environ as pyo

from planner.model.parameters import ModelData


def _storage_bounds(model: pyo.ConcreteModel, e: int, n: int) -> tuple[float, float | None]:
    capacity = model.data.storage_capacity[e]
    return (0.0, None if math.isinf(capacity) else float(capacity))


def define_variables(model: pyo.ConcreteModel, data: ModelData) -> None:
    """First stage y, z; per tree node x, r, s, u, g (formulation.md, Variables)."""
    model.contract = pyo.Var(model.OFFERS, domain=pyo.Binary)  # y[o]
    model.adopt = pyo.Var(model.ACTIVITIES, domain=pyo.Binary)  # z[k]
    model.purchase = pyo.Var(model.OFFER_NODES, domain=pyo.NonNegativeReals)  # x[o,n]
    model.activity_level = pyo.Var(model.ACTIVITY_NODES, domain=pyo.NonNegativeReals)  # r[k,n]
    model.stock = pyo.Var(model.ELEMENT_NODES, bounds=_storage_bounds)  # s[e,n]
    model.unmet = pyo.Var(model.ELEMENT_NODES, domain=pyo.NonNegativeReals)  # u[e,n]
    model.cover_gap = pyo.Var(model.COVER_NODES, domain=pyo.NonNegativeReals)  # g[e,n]


def refresh_bounds(model: pyo.ConcreteModel) -> None:
    """Set the bounds that come from data (storage capacity) again, after ``model.data`` changed."""
    for e, n in model.ELEMENT_NODES:
        model.stock[e, n].setlb(_storage_bounds(model, e, n)[0])
        model.stock[e, n].setub(_storage_bounds(model, e, n)[1])
