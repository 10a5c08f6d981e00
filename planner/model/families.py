"""The registry of constraint families: one place that names each and says what it is.

The builder (a table of contents of formulation.md) defines them, the
in-place re-solve (:mod:`planner.model.update`) re-evaluates them with their
rules, and the results layer reads which are priced in the Duals sheet and
under which name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from planner.model import (
    balance,
    objective,
    policies,
    shortage,
    stability,
    supply,
    working_capital,
)
from planner.model.parameters import QUANTITY, VALUE, Policy


@dataclass(frozen=True)
class Family:
    """One constraint family of the model.

    Component names are noun phrases naming the restriction, so that none
    reads like a parameter of :class:`~planner.model.parameters.ModelData` or
    a variable: ``<quantity>_limit`` for an upper limit (``<=``),
    ``<quantity>_floor`` for a lower one (``>=``), and ``stock_balance``,
    ``supply_definition``, ``node_cost_definition``, ``signing_persistence``
    for the equalities and the one monotone link. What the user sees, the
    Duals sheet's ``constraint`` column, is :attr:`dual_name`, fixed by the
    workbook spec.

    Attributes
    ----------
    name
        The Pyomo component name (``model.<name>``); its rule is ``<name>_rule``.
    rule
        The rule that builds one row from its index.
    number
        Its number in formulation.md (``"8"``, ``"A3"``).
    priced
        Whether its duals are reported in the Duals sheet.
    policy
        The Policies policy it implements (None for structural families); also
        the constraint name in the Duals sheet.
    shown_as
        The name users see for a structural family (Duals ``constraint``),
        where it is not the component name.
    measure
        What a policy family's supply is counted in: ``quantity``, or
        ``value`` at reference prices (B2; the Duals sheet's ``measure``).
    """

    name: str
    rule: Callable[..., Any]
    number: str
    priced: bool = False
    policy: Policy | None = None
    shown_as: str = ""
    measure: str = QUANTITY

    @property
    def dual_name(self) -> str:
        """The name of its rows in the Duals sheet (the workbook spec's, not the component's)."""
        return self.policy or self.shown_as or self.name


#: Every constraint family, in the builder's order.
FAMILIES: tuple[Family, ...] = (
    Family("capacity_limit", supply.capacity_limit_rule, "1", True, shown_as="capacity"),
    Family("minimum_take_floor", supply.minimum_take_floor_rule, "1"),
    Family("activity_capacity_limit", supply.activity_capacity_limit_rule, "2"),
    Family("signing_persistence", supply.signing_persistence_rule, "A3"),
    Family("commitment_floor", supply.commitment_floor_rule, "A5"),
    Family("stock_balance", balance.stock_balance_rule, "3", True, shown_as="balance"),
    Family("substitution_limit", balance.substitution_limit_rule, "4"),
    Family("unmet_limit", balance.unmet_limit_rule, "A1"),
    Family("shortage_by_use_definition", shortage.shortage_by_use_definition_rule, "B1"),
    Family("tier_limit", shortage.tier_limit_rule, "B1"),
    Family("cover_floor", balance.cover_floor_rule, "6"),
    Family("stock_value_limit", working_capital.stock_value_limit_rule, "B3"),
    Family("change_up_floor", stability.change_up_floor_rule, "A5"),
    Family("change_down_floor", stability.change_down_floor_rule, "A5"),
    Family("supply_definition", policies.supply_definition_rule, "7"),
    Family("china_share_limit", policies.china_share_limit_rule, "8", True, Policy.CHINA_SHARE_MAX),
    Family(
        "country_share_limit",
        policies.country_share_limit_rule,
        "A6",
        True,
        Policy.COUNTRY_SHARE_MAX,
    ),
    Family("risk_limit", policies.risk_limit_rule, "9", True, Policy.RISK_MAX),
    Family(
        "china_share_value_limit",
        policies.china_share_value_limit_rule,
        "B2",
        True,
        Policy.CHINA_SHARE_MAX,
        measure=VALUE,
    ),
    Family(
        "country_share_value_limit",
        policies.country_share_value_limit_rule,
        "B2",
        True,
        Policy.COUNTRY_SHARE_MAX,
        measure=VALUE,
    ),
    Family(
        "risk_value_limit",
        policies.risk_value_limit_rule,
        "B2",
        True,
        Policy.RISK_MAX,
        measure=VALUE,
    ),
    Family(
        "offer_share_limit", policies.offer_share_limit_rule, "10", True, Policy.OFFER_SHARE_MAX
    ),
    Family("min_offers_floor", policies.min_offers_floor_rule, "11", policy=Policy.MIN_OFFERS),
    Family("node_cost_definition", objective.node_cost_definition_rule, "objective"),
    Family("cvar_excess_floor", objective.cvar_excess_floor_rule, "objective"),
)

#: Families whose rows exist per policy cell (:func:`planner.model.policies.cells`): a
#: variant may need fewer of them.
CELL_FAMILIES = (
    "china_share_limit",
    "country_share_limit",
    "risk_limit",
    "china_share_value_limit",
    "country_share_value_limit",
    "risk_value_limit",
)


def family(name: str) -> Family:
    """Return the family whose component is called ``name``."""
    for item in FAMILIES:
        if item.name == name:
            return item
    raise KeyError(name)
