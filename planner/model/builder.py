"""Build the sourcing model: a table of contents of formulation.md."""

from __future__ import annotations

import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from planner.model import (
    balance,
    objective,
    policies,
    sets,
    shortage,
    stability,
    supply,
    variables,
    working_capital,
)
from planner.model.parameters import ModelData


def build_model(data: ModelData) -> pyo.ConcreteModel:
    """Build the mixed-integer sourcing model of ``data`` (formulation.md, in order).

    Python's cyclic garbage collector is paused while the model is built (as
    the hand-off does): the build makes millions of objects and no garbage
    worth collecting, and each full collection walks every one of them (on
    issue 24's class, 17 x 30 x 12 x 20, the collections were about half of
    the build's time).
    """
    with PauseGC():
        model = pyo.ConcreteModel(name="sourcing")
        model.data = data
        sets.define_sets(model, data)
        variables.define_variables(model, data)
        supply.define_capacity_constraints(model, data)  # 1
        supply.define_minimum_take_constraints(model, data)  # 1
        supply.define_activity_capacity_constraints(model, data)  # 2
        supply.define_signing_constraints(model, data)  # A3
        supply.define_commitment_constraints(model, data)  # A5
        balance.define_balance_constraints(model, data)  # 3
        balance.define_substitution_limit_constraints(model, data)  # 4
        balance.define_unmet_bound_constraints(model, data)  # A1 (else the bound of u)
        shortage.define_shortage_by_use_constraints(model, data)  # B1
        shortage.define_tier_limit_constraints(model, data)  # B1 (else the bounds of u_i)
        # 5, storage, is the upper bound of the stock variables
        balance.define_cover_constraints(model, data)  # 6, A4
        working_capital.define_stock_value_constraints(model, data)  # B3
        stability.define_change_constraints(model, data)  # A5
        policies.define_supply_definitions(model, data)  # 7
        policies.define_china_share_constraints(model, data)  # 8, A6
        policies.define_country_share_constraints(model, data)  # A6
        policies.define_risk_constraints(model, data)  # 7, 9
        policies.define_value_share_constraints(model, data)  # B2
        policies.define_offer_share_constraints(model, data)  # 10
        policies.define_min_offers_constraints(model, data)  # 11, A3
        # 12, non-anticipativity, holds by construction: variables live on tree nodes
        objective.define_cvar_constraints(model, data)
        objective.define_objective(model, data)
        return model
