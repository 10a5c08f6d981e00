"""Checks of the v3 economics: shortage tiers by use (B1) and the stock budget (B3).

Pure functions of a typed case, like :mod:`planner.checks` (which runs
them): they return every issue, located as ``Sheet!CELL``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.data import Case
from planner.errors import Issue
from planner.locate import Locator, is_blank
from planner.model.parameters import OTHER_USE, ModelData, tier_labels

#: The shares of one element may sum to 1 plus this (rounding in the workbook).
SHARE_TOLERANCE = 1e-9


def _number(value: Any) -> float | None:
    """Return a cell's value as a float, None when blank or not a number."""
    if is_blank(value) or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def check_shortage_tiers(case: Case) -> list[Issue]:
    """ShortageTiers: shares of an element at most 1, labels distinct, costs at most shortage_cost.

    ``other`` is reserved for the rest of the requirement; a blank ``use``
    reads ``tier N`` (its rank by cost). An element's shortage_cost below a
    tier cost would make the cost curve non-convex: the error names the
    Elements cell and the cost cell of each dearer tier.
    """
    where = Locator(case)
    issues: list[Issue] = []
    tiers = case.shortage_tiers
    if tiers.empty:
        return issues
    labels = tier_labels(tiers)
    for element, group in tiers.groupby("element", sort=False):
        element = str(element)
        seen: dict[str, str] = {}
        for label in group.index:
            use = str(labels[label])
            cell = where.cell("ShortageTiers", "use", label)
            if use.strip().lower() == OTHER_USE:
                issues.append(
                    Issue(
                        cell,
                        f"use {OTHER_USE!r} is reserved for the rest of {element}'s requirement "
                        "(priced at its shortage_cost); name this use otherwise",
                    )
                )
            elif use in seen:
                issues.append(
                    Issue(cell, f"use {use!r} of {element} is given twice (also {seen[use]})")
                )
            else:
                seen[use] = cell
        shares = [_number(value) for value in group["share"]]
        total = sum(share for share in shares if share is not None)
        if total > 1 + SHARE_TOLERANCE:
            issues.append(
                Issue(
                    where.cell("ShortageTiers", "share", group.index[-1]),
                    f"the shares of {element} sum to {total:.10g}; they must sum to at most 1 "
                    "(the rest of the requirement costs its shortage_cost)",
                )
            )
        issues += _dearer_tiers(case, where, element, group)
    return issues


def _dearer_tiers(case: Case, where: Locator, element: str, group: Any) -> list[Issue]:
    """Tiers of ``element`` that cost more than its shortage_cost: one issue per cell."""
    if element not in case.elements.index:
        return []  # an unknown element is reported as a reference
    shortage = _number(case.elements.at[element, "shortage_cost"])
    if shortage is None:
        return []
    dearer = [
        (label, cost)
        for label, cost in zip(group.index, (_number(v) for v in group["cost"]), strict=True)
        if cost is not None and cost > shortage
    ]
    if not dearer:
        return []
    shortage_cell = where.cell("Elements", "shortage_cost", element)
    cells = [where.cell("ShortageTiers", "cost", label) for label, _ in dearer]
    highest = max(cost for _, cost in dearer)
    issues = [
        Issue(
            shortage_cell,
            f"shortage_cost {shortage:g} of {element} is below the cost of its tier"
            f"{'s' if len(cells) > 1 else ''} {', '.join(cells)} (up to {highest:g}); it prices "
            "the uses cut last, so it must be at least every tier cost",
        )
    ]
    issues += [
        Issue(
            cell,
            f"tier cost {cost:g} is above the shortage_cost {shortage:g} of {element} "
            f"({shortage_cell}); the uses cut last must cost the most",
        )
        for cell, (_, cost) in zip(cells, dearer, strict=True)
    ]
    return issues


def check_initial_stock_value(case: Case, data: ModelData) -> list[Issue]:
    """Check that the initial stock the first period cannot use fits the budget (B3).

    The stock the first period's demand cannot use, valued at reference
    prices, stays at its end whatever the plan does (unless a substitution
    that adds demand for it can run then): above stock_value_max no plan
    exists.
    """
    limit = case.settings.stock_value_max
    if limit is None or not data.periods or not data.elements:
        return []
    substitution = np.array([kind != "recycling" for kind in data.activity_kind], dtype=bool)
    uses_stock = (
        (data.yields < 0)[:, :, None]
        & substitution[:, None, None]
        & (data.activity_capacity[:, 0, :] > 0)[:, None, :]
    ).any(axis=0)  # [element, scenario]: a substitution in the first period can use it
    left = np.maximum(0.0, data.initial_stock[:, None] - data.demand[:, 0, :])
    left = np.where(uses_stock, 0.0, left)
    value = np.nansum(data.reference_price[:, None] * left, axis=0)
    w = int(np.argmax(value))
    if value[w] <= limit * (1 + 1e-9):
        return []
    where = Locator(case)
    return [
        Issue(
            where.setting("stock_value_max"),
            f"stock_value_max {limit:g} is below {value[w]:g}, the value of the initial stock "
            f"that the first period's demand cannot use (scenario {data.scenarios[w]}, period "
            f"{data.periods[0]}): no plan can keep the budget; raise it",
        )
    ]
