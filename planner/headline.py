"""How the planner's first figures read: the CLI's one line and the page's headline cards.

One place, so that ``planner solve`` and the web page show the same numbers
in the same form (formulation B5: spend and lost value apart).
"""

from __future__ import annotations

import math
from typing import Any


def amount(value: Any, unit: str = "") -> str:
    """Return a headline amount: whole numbers with separators, small ones to 3 digits.

    Parameters
    ----------
    value
        A number, or None (shown ``n/a``).
    unit
        Appended after a space when given (``JPY m``, ``t``).
    """
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
        return "n/a"
    shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"
    if shown in ("-0", "-0.0"):
        shown = "0"
    return f"{shown} {unit}" if unit else shown


def percent(value: Any) -> str:
    """Return a share as ``68.0%`` (None: ``n/a``)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
        return "n/a"
    return f"{value:.1%}"


def headline(summary: dict[str, Any], status: str, target: object) -> str:
    """Return ``planner solve``'s one line: what the plan spends and loses, China share, file.

    ``optimal: spend 268,019 JPY m, lost value 1,415,294 JPY m (shortfall 1,053 t);
    China share 68.0% -> OUT.xlsx`` (workbook.md, v3 Output); a plan stopped
    before its gap says the gap after the status.
    """
    currency, unit = str(summary.get("currency", "")), str(summary.get("unit", ""))
    gap = summary.get("mip_gap")
    stopped = "" if status == "optimal" else f" (gap {percent(gap)})"
    return (
        f"{status}{stopped}: spend {amount(summary.get('spend'), currency)}, "
        f"lost value {amount(summary.get('lost_value'), currency)} "
        f"(shortfall {amount(summary.get('shortfall'), unit)}); "
        f"China share {percent(summary.get('china_share'))} -> {target}"
    )


#: How a figure's column reads in a table a planner opens (the sweep, the batch roll-up):
#: a plain name, and the kind of unit it is in ("money", "quantity" or none).
_COLUMN_NAMES = {
    "spend": ("spend", "money"),
    "lost_value": ("lost value", "money"),
    "expected_cost": ("expected cost", "money"),
    "objective": ("objective", "money"),
    "cvar": ("CVaR", "money"),
    "risk_premium": ("risk premium", "money"),
    "shortfall": ("shortfall", "quantity"),
    "total_change": ("total change", "quantity"),
    "china_share": ("China share", ""),
    "mip_gap": ("MIP gap", ""),
    "seconds": ("seconds", ""),
    "contracted": ("contracts signed", ""),
    "efficient": ("efficient (cost and China share)", ""),
}


def column_names(columns: list[str], currency: str, unit: str) -> dict[str, str]:
    """Return a table's figure columns renamed for a planner, each with its unit.

    ``spend`` -> ``spend (JPY m)``, ``shortfall`` -> ``shortfall (t)``,
    ``china_share[Nd]`` -> ``China share, Nd``; other columns (a sweep's
    changed values, ``status``) keep their names. A blank currency or unit
    is left out.
    """
    units = {"money": currency, "quantity": unit, "": ""}
    renamed: dict[str, str] = {}
    for column in columns:
        if column in _COLUMN_NAMES:
            name, kind = _COLUMN_NAMES[column]
            renamed[column] = f"{name} ({units[kind]})" if units[kind] else name
        elif column.startswith("china_share[") and column.endswith("]"):
            renamed[column] = f"China share, {column[len('china_share[') : -1]}"
    return renamed
