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

from planner.model import balance, objective, policies, stability, supply
from planner.model.parameters import Policy


@dataclass(frozen=True)
class Family:
    """One constraint family of the model.

    Attributes
    ----------
    name
        The Pyomo component name (``model.<name>``).
    rule
        The rule that builds one row from its index.
    number
        Its number in formulation.md (``"8"``, ``"A3"``).
    priced
        Whether its duals are reported in the Duals sheet.
    policy
        The Policies policy it implements (None for structural families); also
        the constraint name in the Duals sheet.
    """

    name: str
    rule: Callable[..., Any]
    number: str
    priced: bool = False
    policy: Policy | None = None

    @property
    def dual_name(self) -> str:
        """The name of its rows in the Duals sheet."""
        return self.policy or self.name


#: Every constraint family, in the builder's order.
FAMILIES: tuple[Family, ...] = (
    Family("capacity", supply.capacity_rule, "1", priced=True),
    Family("minimum_take", supply.minimum_take_rule, "1"),
    Family("activity_capacity", supply.activity_capacity_rule, "2"),
    Family("signing", supply.signing_rule, "A3"),
    Family("commitment", supply.commitment_rule, "A5"),
    Family("balance", balance.balance_rule, "3", priced=True),
    Family("substitution_limit", balance.substitution_limit_rule, "4"),
    Family("unmet_bound", balance.unmet_bound_rule, "A1"),
    Family("cover", balance.cover_rule, "6"),
    Family("change_up", stability.change_up_rule, "A5"),
    Family("change_down", stability.change_down_rule, "A5"),
    Family("supply_definition", policies.supply_rule, "7"),
    Family("china_share", policies.china_share_rule, "8", True, Policy.CHINA_SHARE_MAX),
    Family("country_share", policies.country_share_rule, "A6", True, Policy.COUNTRY_SHARE_MAX),
    Family("risk", policies.risk_rule, "9", True, Policy.RISK_MAX),
    Family("offer_share", policies.offer_share_rule, "10", True, Policy.OFFER_SHARE_MAX),
    Family("min_offers", policies.min_offers_rule, "11", policy=Policy.MIN_OFFERS),
    Family("cost_definition", objective.cost_definition_rule, "objective"),
    Family("cvar_definition", objective.cvar_excess_rule, "objective"),
)

#: Families whose rows exist per policy cell: a variant may need fewer of them.
CELL_FAMILIES = ("china_share", "country_share", "risk")


def family(name: str) -> Family:
    """Return the family called ``name``."""
    for item in FAMILIES:
        if item.name == name:
            return item
    raise KeyError(name)
