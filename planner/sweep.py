"""Sensitivity sweeps: solve a case for every combination of changed values.

A change names one value of the case and the values to try::

    china_share_max[Dy]        the Policies row (china_share_max, Dy, every period)
    china_share_max            the row for every element (blank element)
    china_share_max[TOTAL]     the pooled row; likewise risk_max, offer_share_max, min_offers
    capacity[Nd-LYN]           an Offers cell: capacity, unit_cost, fixed_cost, min_take, risk
    demand_scale, demand_scale[Dy]   multiply all demand (of one element)
    capacity_factor[cn_stop]   every Disruptions row of that scenario; likewise cost_factor
    cvar_weight, cvar_alpha    a Settings value
    Elements.shortage_cost[Dy] any cell of an id-keyed sheet: Sheet.column[id]

Several changes make a grid: the product of their values. Each variant is a
modified copy of the case, checked and solved like any other, in parallel
worker processes.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from planner.data import ROW, TABLES, Case

POLICIES = ("china_share_max", "risk_max", "offer_share_max", "min_offers")
OFFER_COLUMNS = ("capacity", "unit_cost", "fixed_cost", "min_take", "risk")
SETTINGS = ("cvar_weight", "cvar_alpha")
_NAME = re.compile(r"^(?P<what>[A-Za-z_.]+)(?:\[(?P<key>[^\]]+)\])?$")


class ChangeError(ValueError):
    """A change that names nothing in the case, or values that cannot be read."""


def parse_values(text: str) -> list[float]:
    """Read ``1.0:0.0:-0.1`` (start:stop:step, stop included) or ``0.5,0.6,0.8``."""
    try:
        if ":" in text:
            start, stop, step = (float(part) for part in text.split(":"))
            if step == 0 or (stop - start) * step < 0:
                raise ChangeError(f"{text!r}: the step must go from start towards stop")
            count = int(np.floor((stop - start) / step + 1e-9)) + 1
            return [round(start + i * step, 12) for i in range(count)]
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        if isinstance(error, ChangeError):
            raise
        raise ChangeError(f"{text!r}: give start:stop:step or a comma-separated list") from None


def parse_vary(text: str) -> tuple[str, list[float]]:
    """Read a CLI ``--vary`` argument: ``NAME=VALUES``."""
    name, equals, values = text.partition("=")
    if not equals:
        raise ChangeError(f"{text!r}: write NAME=VALUES, e.g. china_share_max[Dy]=1.0:0.5:-0.1")
    return name.strip(), parse_values(values)


def _policy(case: Case, policy: str, element: str | None, value: float) -> None:
    table = case.policies
    element_blank = table["element"].isna() | (table["element"] == "")
    same = (
        (table["policy"] == policy)
        & (element_blank if element is None else table["element"] == element)
        & (table["period"].isna() | (table["period"] == ""))
    )
    if same.any():
        table.loc[same, "value"] = value
    else:
        row = {ROW: pd.NA, "policy": policy, "element": element, "period": None, "value": value}
        case.policies = pd.concat([table, pd.DataFrame([row])], ignore_index=True)


def apply_change(case: Case, name: str, value: float) -> None:
    """Set the value named ``name`` in ``case`` (see the module's grammar)."""
    match = _NAME.match(name.strip())
    if not match:
        raise ChangeError(f"{name!r}: not a change name (e.g. china_share_max[Dy])")
    what, key = match["what"], match["key"]
    if what in POLICIES:
        _policy(case, what, key, value)
    elif what in OFFER_COLUMNS and key is not None:
        if key not in case.offers.index:
            raise ChangeError(f"{name!r}: no offer {key!r}")
        case.offers.loc[key, what] = value
    elif what == "demand_scale":
        rows = case.demand["element"] == key if key else slice(None)
        case.demand.loc[rows, "quantity"] = case.demand.loc[rows, "quantity"] * value
    elif what in ("capacity_factor", "cost_factor") and key is not None:
        rows = case.disruptions["scenario"] == key
        if not rows.any():
            raise ChangeError(f"{name!r}: scenario {key!r} has no Disruptions rows")
        case.disruptions.loc[rows, what] = value
    elif what in SETTINGS and key is None:
        setattr(case.settings, what, value)
    elif "." in what and key is not None:
        _cell(case, what, key, value, name)
    else:
        raise ChangeError(f"{name!r}: not a change name (see planner.sweep for the forms)")


def _cell(case: Case, what: str, key: str, value: float, name: str) -> None:
    sheet, _, column = what.partition(".")
    if sheet not in TABLES:
        raise ChangeError(f"{name!r}: no sheet {sheet!r}")
    table = case.table(sheet)
    if column not in table.columns or key not in table.index:
        raise ChangeError(f"{name!r}: no {column!r} of {key!r} in {sheet}")
    table.loc[key, column] = value


def variants(changes: Mapping[str, Iterable[float]]) -> list[dict[str, float]]:
    """Every combination of the changes' values, in order."""
    names = list(changes)
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(list(changes[n]) for n in names))
    ]


def _solve_variant(case: Case, values: dict[str, float], options: dict[str, Any]) -> Any:
    import planner

    variant = case.copy()
    for name, value in values.items():
        apply_change(variant, name, value)
    return planner.solve(variant, **options)


def _row(values: dict[str, float], result: Any) -> dict[str, Any]:
    summary = result.summary
    row: dict[str, Any] = {**values, "status": result.status, "objective": result.objective}
    for key in ("expected_cost", "cvar", "china_share", "shortfall"):
        row[key] = summary.get(key)
    shares = result.tables.get("Shares")
    if shares is not None and len(shares):
        probability = result.case.scenarios["probability"]
        basis = f"china_share_{result.case.settings.china_basis}"
        weighted = shares.assign(
            _w=shares["scenario"].map(probability),
            _c=shares[basis].fillna(0.0) * shares["supply"],
        )
        for element, part in weighted.groupby("element", sort=False):
            supply = float((part["supply"] * part["_w"]).sum())
            china = float((part["_c"] * part["_w"]).sum())
            row[f"china_share[{element}]"] = china / supply if supply > 0 else np.nan
    contracts = result.tables.get("Contracts")
    if contracts is not None:
        row["contracted"] = ", ".join(contracts.loc[contracts["contracted"] == 1, "offer"])
    return row


def efficient(costs: pd.Series, shares: pd.Series) -> pd.Series:
    """Points no other point beats on both cost and China share (the efficient frontier)."""
    flags = []
    for cost, share in zip(costs, shares, strict=True):
        dominated = (
            (costs <= cost) & (shares <= share) & ((costs < cost) | (shares < share))
        ).any()
        flags.append(bool(not dominated and pd.notna(cost) and pd.notna(share)))
    return pd.Series(flags, index=costs.index)


@dataclass
class SweepResult:
    """The sweep's tidy table (one row per variant) and each variant's full result."""

    table: pd.DataFrame
    results: list[Any] = field(default_factory=list)

    def _repr_html_(self) -> str:
        """Show the table in Jupyter."""
        return str(self.table.to_html(index=False, float_format=lambda v: f"{v:,.4g}"))

    def write(self, path: Any) -> Any:
        """Write the sweep workbook: the table and a chart of the trade-off curve."""
        from pathlib import Path

        from planner.io.sweep_writer import write_sweep

        return write_sweep(self, Path(path))


def sweep(
    case: Case, changes: Mapping[str, Iterable[float]], workers: int | None = None, **options: Any
) -> SweepResult:
    """Solve ``case`` for every combination of ``changes``' values.

    Parameters
    ----------
    case
        The case to vary (left unchanged).
    changes
        Change name -> values to try (see this module's grammar).
    workers
        Worker processes (default: one per core; 1 solves in this process).
    **options
        Passed to :func:`planner.solve` for every variant.
    """
    grid = variants(changes)
    probe = case.copy()
    for values in grid[:1]:
        for name, value in values.items():
            apply_change(probe, name, value)  # a bad name fails here, before any solve
    if (workers or os.cpu_count() or 1) <= 1 or len(grid) <= 1:
        results = [_solve_variant(case, values, options) for values in grid]
    else:
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
            futures = [pool.submit(_solve_variant, case, values, options) for values in grid]
            results = [future.result() for future in futures]
    table = pd.DataFrame(
        [_row(values, result) for values, result in zip(grid, results, strict=True)]
    )
    if {"expected_cost", "china_share"} <= set(table.columns):
        table["efficient"] = efficient(table["expected_cost"], table["china_share"])
    return SweepResult(table=table, results=results)
