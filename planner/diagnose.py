"""Explain an infeasible case in the workbook's terms.

Only rules that force purchases can make the model infeasible: min_offers
with min_take, firm orders (Commitments) and contracts signed before the
horizon, against a share, country, risk or storage limit, or the stock
budget (Settings stock_value_max, B3) (formulation.md).
Each such rule is one cell of the workbook. A deletion filter finds an
irreducible set of them: relax one rule at a time (a cap to 1, a min_take or
min_offers to 0, a storage capacity or the stock budget to unlimited); if the rest is still
infeasible the rule is not needed for the conflict and stays relaxed,
otherwise it is part of it. What remains cannot all hold together, and
dropping any one of them makes the case feasible.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from planner.data import Case
from planner.errors import Issue
from planner.locate import Locator
from planner.model import build_model, derive
from planner.model.parameters import BASIS_POLICIES, POLICIES, VALUE, Policy, policy_measures
from planner.solve import HighsSession, SolveOptions, Status

#: At most this many rules are tested one by one.
MAX_RULES = 200


@dataclass(frozen=True)
class Rule:
    """One relaxable rule of the workbook; ``forcing`` rules make the plan buy."""

    where: str
    text: str
    relax: Callable[[Case], None]
    forcing: bool = False


def _cell(case: Case, sheet: str, column: str, label: object) -> str:
    return Locator(case).cell(sheet, column, label)


def _policy_rules(case: Case) -> list[Rule]:
    rules = []
    by_value = set(case.policies.index[(policy_measures(case.policies) == VALUE).to_numpy()])
    for label, record in sorted(
        case.policies.iterrows(), key=lambda item: POLICIES.index(item[1]["policy"])
    ):
        policy = record["policy"]
        if policy == Policy.MIN_OFFERS and record["value"] <= 0:
            continue
        if policy != Policy.MIN_OFFERS and record["value"] >= 1:
            continue
        element = record["element"] if isinstance(record["element"], str) else "every element"
        period = record["period"] if isinstance(record["period"], str) else "every period"
        scope = element if policy == Policy.MIN_OFFERS else f"{element}, {period}"
        basis = record.get("basis")
        if policy in BASIS_POLICIES and isinstance(basis, str) and basis:
            scope += f", basis {basis}"
        if label in by_value:
            scope += ", by value"
        loosest = 0.0 if policy == Policy.MIN_OFFERS else 1.0

        def relax(target: Case, label: object = label, loosest: float = loosest) -> None:
            target.policies.at[label, "value"] = loosest

        rules.append(
            Rule(
                _cell(case, "Policies", "value", label),
                f"{policy} {record['value']:g} for {scope}",
                relax,
                forcing=policy == Policy.MIN_OFFERS,
            )
        )
    return rules


def _commitment_rules(case: Case) -> list[Rule]:
    rules = []
    for label, record in case.commitments.iterrows():
        if not record["quantity"] > 0:
            continue

        def relax(target: Case, label: object = label) -> None:
            target.commitments.at[label, "quantity"] = 0.0

        rules.append(
            Rule(
                _cell(case, "Commitments", "quantity", label),
                f"firm order {record['quantity']:g} of {record['offer']} in {record['period']}",
                relax,
                forcing=True,
            )
        )
    return rules


def _storage_rules(case: Case) -> list[Rule]:
    rules = []
    for element, capacity in case.elements["storage_capacity"].items():
        if isinstance(capacity, float) and math.isnan(capacity):
            continue

        def relax(target: Case, element: object = element) -> None:
            target.elements.at[element, "storage_capacity"] = math.nan

        rules.append(
            Rule(
                _cell(case, "Elements", "storage_capacity", element),
                f"storage_capacity {capacity:g} of {element}",
                relax,
            )
        )
    return rules


def _budget_rules(case: Case) -> list[Rule]:
    """Return Settings stock_value_max (B3) as a rule: minimum takes and firm orders break it."""
    limit = case.settings.stock_value_max
    if limit is None:
        return []

    def relax(target: Case) -> None:
        target.settings.stock_value_max = None

    return [
        Rule(
            Locator(case).setting("stock_value_max"),
            f"stock_value_max {limit:g} (the stock's value at reference prices, every period)",
            relax,
        )
    ]


def _min_take_rules(case: Case) -> list[Rule]:
    rules = []
    for offer, minimum in case.offers["min_take"].items():
        if not minimum > 0:
            continue

        def relax(target: Case, offer: object = offer) -> None:
            target.offers.at[offer, "min_take"] = 0.0

        rules.append(
            Rule(
                _cell(case, "Offers", "min_take", offer), f"min_take {minimum:g} of {offer}", relax
            )
        )
    return rules


def candidate_rules(case: Case) -> list[Rule]:
    """Every rule that can take part in a conflict, caps before the forcing rules."""
    policies = _policy_rules(case)
    caps = [rule for rule in policies if not rule.forcing]
    forcing = [rule for rule in policies if rule.forcing]
    return [
        *caps,
        *_storage_rules(case),
        *_budget_rules(case),
        *_min_take_rules(case),
        *_commitment_rules(case),
        *forcing,
    ][:MAX_RULES]


def _infeasible(case: Case, relaxed: list[Rule], options: SolveOptions, time_limit: float) -> bool:
    trial = case.copy()
    for rule in relaxed:
        rule.relax(trial)
    model = build_model(derive(trial))
    report = HighsSession(model, options).solve(time_limit, mip_gap=1.0)
    return report.status == Status.INFEASIBLE


def _badly_scaled(case: Case) -> Issue:
    """Explain a solver's "infeasible" for a case where buying nothing is always a plan.

    Without a rule that forces purchases every workbook has a plan (leave
    demand unmet and pay for it), so "infeasible" is the solver failing on
    numbers that span too many orders of magnitude: name the largest cost.
    """
    costs = [
        ("Elements", column, label, value)
        for column in ("shortage_cost", "holding_cost", "cover_penalty")
        for label, value in case.elements[column].items()
    ] + [("Offers", "unit_cost", label, value) for label, value in case.offers["unit_cost"].items()]
    costs = [c for c in costs if isinstance(c[3], float) and math.isfinite(c[3]) and c[3] > 0]
    if not costs:
        where = "Workbook"
        largest = ""
    else:
        sheet, column, label, value = max(costs, key=lambda c: c[3])
        where = _cell(case, sheet, column, label)
        smallest = min(c[3] for c in costs)
        largest = f" (costs run from {smallest:g} to {value:g} here)"
    return Issue(
        where,
        "the solver found no plan, but buying nothing is always a plan in this workbook: its "
        f"numbers span too many orders of magnitude for the solver{largest}; state costs in a "
        "larger currency unit (thousands or millions) and solve again",
    )


def explain_infeasibility(case: Case, options: SolveOptions, time_limit: float) -> list[Issue]:
    """Return the rules that cannot all hold, one issue per workbook cell."""
    deadline = time.monotonic() + max(time_limit, 5.0)
    rules = candidate_rules(case)
    if not rules or _infeasible(case, rules, options, time_limit):
        # with every forcing rule relaxed, buying nothing is a plan: the solver lost its way
        return [_badly_scaled(case)]
    relaxed: list[Rule] = []
    conflict: list[Rule] = []
    for rule in rules:
        if time.monotonic() > deadline:
            conflict.extend(r for r in rules if r not in relaxed and r not in conflict)
            break
        if _infeasible(case, [*relaxed, rule], options, time_limit):
            relaxed.append(rule)
        else:
            conflict.append(rule)
    return [Issue(rule.where, f"{rule.text}: part of a conflict") for rule in conflict]
