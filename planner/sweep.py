"""Sensitivity sweeps: solve a case for every combination of changed values.

A change names one value of the case and the values to try::

    china_share_max[Dy]        every Policies row (china_share_max, Dy), in every period
    china_share_max[Dy,2027Q1] only that period's row (added if there is none)
    china_share_max            the rows for every element (blank element)
    china_share_max[TOTAL]     the pooled rows; likewise country_share_max, risk_max,
                               offer_share_max, min_offers
    country_share_max[TOTAL,refining]   a basis (china_share_max, country_share_max; blank:
                               Settings china_basis)
    capacity[Nd-CN]           an Offers cell: capacity, unit_cost, fixed_cost, min_take, risk,
                               lead_time
    demand_scale, demand_scale[Dy]   multiply all demand (of one element)
    capacity_factor[cn_stop]   every Disruptions row of that scenario; likewise cost_factor,
                               cover_factor
    cvar_weight, cvar_alpha, change_cost   a Settings value
    Elements.shortage_cost[Dy] any cell of an id-keyed sheet: Sheet.column[id]

A policy change sets the cap it names in every period, whatever rows the
workbook used to state it (a blank-period row, or one per quarter); where a
row it does not change still decides a cell (an element's own row beside a
changed blank-element row), the sweep warns, naming the cells.

Several changes make a grid: the product of their values. Each variant is a
modified copy of the case, checked and solved like any other, in parallel
worker processes.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from planner.data import ROW, TABLES, Case
from planner.io.limits import ReaderLimits
from planner.model.parameters import BASES, POLICIES, applicable_cap, policy_bases
from planner.parallel import executor_of
from planner.results import expected_shares
from planner.version import __version__

OFFER_COLUMNS = ("capacity", "unit_cost", "fixed_cost", "min_take", "risk", "lead_time")
SETTINGS = ("cvar_weight", "cvar_alpha", "change_cost")
_NAME = re.compile(r"^(?P<what>[A-Za-z_.]+)(?:\[(?P<key>[^\]]+)\])?$")


class ChangeError(ValueError):
    """A change that names nothing in the case, or values that cannot be read."""


def max_variants() -> int:
    """Return the most variants one sweep may have (``PLANNER_MAX_VARIANTS``, default 10,000)."""
    return ReaderLimits.from_environment().max_variants


def _too_many(what: str, count: float, limit: int) -> str:
    amount = f"{count:,.0f}" if math.isfinite(count) else "countless"
    return (
        f"{what}: {amount} variants, more than the limit of {limit:,} variants per sweep "
        "(PLANNER_MAX_VARIANTS)"
    )


def parse_values(text: str, limit: int | None = None) -> list[float]:
    """Read ``1.0:0.0:-0.1`` (start:stop:step, stop included) or ``0.5,0.6,0.8``.

    The values are counted before any is made: more than ``limit`` (default
    :func:`max_variants`) is an error, as are a step of 0 and values that
    are not finite numbers.
    """
    limit = max_variants() if limit is None else limit
    try:
        if ":" in text:
            start, stop, step = (float(part) for part in text.split(":"))
            if not all(math.isfinite(number) for number in (start, stop, step)):
                raise ChangeError(f"{text!r}: start, stop and step must be finite numbers")
            if step == 0 or (stop - start) * step < 0:
                raise ChangeError(f"{text!r}: the step must go from start towards stop")
            span = (stop - start) / step  # inf when the range overflows a float
            count = math.floor(span + 1e-9) + 1 if math.isfinite(span) else math.inf
            if count > limit:
                raise ChangeError(_too_many(repr(text), count, limit))
            return [round(start + i * step, 12) for i in range(int(count))]
        parts = [part for part in text.split(",") if part.strip()]
        if len(parts) > limit:
            raise ChangeError(_too_many(repr(text), len(parts), limit))
        values = [float(part) for part in parts]
        if not all(math.isfinite(value) for value in values):
            raise ChangeError(f"{text!r}: every value must be a finite number")
        return values
    except ValueError as error:
        if isinstance(error, ChangeError):
            raise
        raise ChangeError(f"{text!r}: give start:stop:step or a comma-separated list") from None


def grid_size(counts: Iterable[int]) -> int:
    """Return the number of variants of a grid whose changes have ``counts`` values each."""
    return math.prod(counts)


def check_grid(changes: Mapping[str, Iterable[float]], limit: int | None = None) -> None:
    """Refuse a grid of more than ``limit`` variants (default :func:`max_variants`), unbuilt.

    Raises
    ------
    ChangeError
        Naming the size of each change.
    """
    limit = max_variants() if limit is None else limit
    sizes = {name: len(_sized(values)) for name, values in changes.items()}
    if grid_size(sizes.values()) > limit:
        shape = " x ".join(f"{count:,} ({name})" for name, count in sizes.items())
        raise ChangeError(_too_many(f"the grid {shape}", grid_size(sizes.values()), limit))


def parse_vary(text: str) -> tuple[str, list[float]]:
    """Read a CLI ``--vary`` argument: ``NAME=VALUES``."""
    name, equals, values = text.partition("=")
    if not equals:
        raise ChangeError(f"{text!r}: write NAME=VALUES, e.g. china_share_max[Dy]=1.0:0.5:-0.1")
    return name.strip(), parse_values(values)


def _policy(case: Case, policy: str, key: str | None, value: float) -> list[str]:
    """Set the Policies rows of (policy, element, basis) in every period, or the named one.

    ``key`` lists an element (or TOTAL; none: the blank-element rows), and
    optionally a basis and a period id, comma-separated in any order. Without
    a period every row of that element and basis changes, whatever its period
    (a cap given per quarter is a cap too); a period changes that period's
    row. Where no row exists one is added. Returns warnings for the cells
    where another row, not changed, still decides the cap.
    """
    periods = [str(p) for p in case.periods.index]
    parts = [part.strip() for part in key.split(",")] if key else []
    basis = next((part for part in parts if part in BASES), None)
    period = next((part for part in parts if part in periods), None)
    element = next((p for p in parts if p not in BASES and p not in periods and p), None)
    table = case.policies
    element_blank = table["element"].isna() | (table["element"] == "")
    effective = policy_bases(table, case.settings.china_basis)
    wanted_basis = basis or case.settings.china_basis
    same = (
        (table["policy"] == policy)
        & (element_blank if element is None else table["element"] == element)
        & ((effective == wanted_basis) | (effective == ""))
    )
    if period is not None:
        same &= table["period"] == period
    if same.any():
        table.loc[same, "value"] = value
        changed = set(table.index[same])
    else:
        row = {
            ROW: pd.NA,
            "policy": policy,
            "element": element,
            "period": period,
            "value": value,
            "basis": basis,
        }
        case.policies = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
        changed = {case.policies.index[-1]}
    return _overridden(case, policy, wanted_basis, element, period, changed)


def _overridden(
    case: Case,
    policy: str,
    basis: str,
    element: str | None,
    period: str | None,
    changed: set[Any],
) -> list[str]:
    """Cells the change means to set where another Policies row still decides the cap."""
    table = case.policies
    effective = policy_bases(table, case.settings.china_basis)
    family = table[(table["policy"] == policy) & ((effective == basis) | (effective == ""))]
    rows = [
        (label, _blank_to_none(e), _blank_to_none(p), float(v))
        for label, e, p, v in zip(
            family.index, family["element"], family["period"], family["value"], strict=True
        )
    ]
    elements = [element] if element is not None else [str(e) for e in case.elements.index]
    periods = [period] if period is not None else [str(p) for p in case.periods.index]
    if policy == "min_offers":
        periods = periods[:1]  # a horizon-wide rule
    tightest = max if policy == "min_offers" else min
    cells = []
    for target in elements:
        for name in periods:
            cap = applicable_cap(rows, target, name, tightest)
            if cap is not None and not set(cap.rows) & changed:
                cells.append(f"{target} in {name}")
    if not cells:
        return []
    shown = ", ".join(cells[:4]) + (f" and {len(cells) - 4} more" if len(cells) > 4 else "")
    return [f"{policy}: rows not changed still decide the cap for {shown}"]


def _blank_to_none(value: Any) -> Any:
    return (
        None
        if value is None or value == "" or (isinstance(value, float) and np.isnan(value))
        else value
    )


def apply_change(case: Case, name: str, value: float) -> list[str]:
    """Set the value named ``name`` in ``case`` (see the module's grammar); return warnings."""
    match = _NAME.match(name.strip())
    if not match:
        raise ChangeError(f"{name!r}: not a change name (e.g. china_share_max[Dy])")
    what, key = match["what"], match["key"]
    if what in POLICIES:
        return _policy(case, what, key, value)
    if what in OFFER_COLUMNS and key is not None:
        if key not in case.offers.index:
            raise ChangeError(f"{name!r}: no offer {key!r}")
        case.offers.loc[key, what] = value
    elif what == "demand_scale":
        rows = case.demand["element"] == key if key else slice(None)
        case.demand.loc[rows, "quantity"] = case.demand.loc[rows, "quantity"] * value
    elif what in ("capacity_factor", "cost_factor", "cover_factor") and key is not None:
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
    return []


def _cell(case: Case, what: str, key: str, value: float, name: str) -> None:
    sheet, _, column = what.partition(".")
    if sheet not in TABLES:
        raise ChangeError(f"{name!r}: no sheet {sheet!r}")
    table = case.table(sheet)
    if column not in table.columns or key not in table.index:
        raise ChangeError(f"{name!r}: no {column!r} of {key!r} in {sheet}")
    table.loc[key, column] = value


def sheet_changes(case: Case) -> dict[str, list[float]]:
    """Return the changes listed in the case's Sweep sheet (checked with the case)."""
    return {
        str(name).strip(): parse_values(str(values))
        for name, values in zip(case.sweep["change"], case.sweep["values"], strict=True)
    }


def variants(
    changes: Mapping[str, Iterable[float]], limit: int | None = None
) -> list[dict[str, float]]:
    """Every combination of the changes' values, in order, counted first (:func:`check_grid`)."""
    lists = {name: _sized(values) for name, values in changes.items()}
    check_grid(lists, limit)
    names = list(lists)
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(list(lists[n]) for n in names))
    ]


def _sized(values: Iterable[float]) -> Collection[float]:
    """Return ``values`` as a collection (a ``range`` is counted without being built)."""
    return values if isinstance(values, Collection) else list(values)


def chunks(grid: list[dict[str, float]], parts: int) -> list[list[dict[str, float]]]:
    """Split the grid into ``parts`` runs of neighbouring variants (warm starts follow them)."""
    parts = max(1, min(parts, len(grid)))
    bounds = np.linspace(0, len(grid), parts + 1).round().astype(int)
    return [grid[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def solve_chunk(
    case: Case, chunk: list[dict[str, float]], options: dict[str, Any], queue: Any = None
) -> list[Any]:
    """Solve neighbouring variants with one model, changed in place between them.

    Stops early, keeping what finished, when a solve is interrupted (Ctrl-C).
    ``queue``, if given, receives one item per finished variant (progress).
    """
    from planner.api import Resolver

    resolver = Resolver(**options)
    results: list[Any] = []
    try:
        for values in chunk:
            variant = case.copy()
            for name, value in values.items():
                apply_change(variant, name, value)
            results.append(resolver.solve(variant))
            if queue is not None:
                queue.put(1)
            if results[-1].status == "interrupted":
                break
    except KeyboardInterrupt:
        pass  # the finished variants are kept; the caller sees fewer results
    return results


def _row(values: dict[str, float], result: Any) -> dict[str, Any]:
    summary = result.summary
    row: dict[str, Any] = {**values, "status": result.status, "objective": result.objective}
    for key in ("expected_cost", "cvar", "china_share", "shortfall"):
        row[key] = summary.get(key)
    shares = result.tables.get("Shares")
    if shares is not None and len(shares):
        probability = result.case.scenarios["probability"]
        table = expected_shares(shares, probability, result.case.settings.china_basis)
        for element, share in zip(table["element"], table["china_share"], strict=True):
            if element != "TOTAL":
                row[f"china_share[{element}]"] = share
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
    about: dict[str, Any] = field(default_factory=dict)  # version, input hash, changes, solver
    #: where a change does not decide what it names (a row not changed still overrides it)
    warnings: list[str] = field(default_factory=list)
    #: the names of the changes, in the order of the table's first columns
    changes: list[str] = field(default_factory=list)
    _picture: bytes | None = field(default=None, repr=False, compare=False)

    def picture(self) -> bytes:
        """Return the trade-off chart as PNG bytes (drawn once, for the workbook and the page)."""
        if self._picture is None:
            from planner.io.sweep_writer import point_labels, trade_off_png

            self._picture = trade_off_png(
                self.table, self.about.get("currency", ""), point_labels(self)
            ).getvalue()
        return self._picture

    def _repr_html_(self) -> str:
        """Show the table in Jupyter."""
        return str(self.table.to_html(index=False, float_format=lambda v: f"{v:,.4g}"))

    def write(self, path: Any) -> Any:
        """Write the sweep workbook: the table and a chart of the trade-off curve."""
        from pathlib import Path

        from planner.io.sweep_writer import write_sweep

        return write_sweep(self, Path(path))


def sweep(
    case: Case,
    changes: Mapping[str, Iterable[float]],
    workers: int | None = None,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
    **options: Any,
) -> SweepResult:
    """Solve ``case`` for every combination of ``changes``' values.

    The grid is split into runs of neighbouring variants, one per worker;
    each run builds the model once and changes it in place from one variant
    to the next, re-solving warm (see :class:`planner.api.Resolver`).

    Parameters
    ----------
    case
        The case to vary (left unchanged).
    changes
        Change name -> values to try (see this module's grammar).
    workers
        Worker processes (default: one per core; 1 solves in this process).
    executor
        Where to run the runs instead: any :class:`concurrent.futures.Executor`,
        e.g. a Dask cluster's ``distributed.Client(address).get_executor()``
        (or the ``Client`` itself). Results equal the in-process ones.
    progress
        Called with the number of variants finished so far, as they finish.
    **options
        Passed to :func:`planner.solve` for every variant; ``explain_infeasible``
        is off unless asked for (it re-solves the case many times).

    Raises
    ------
    ChangeError
        For a change that names nothing, or a grid of more than
        ``PLANNER_MAX_VARIANTS`` variants (checked before anything is built).
    KeyboardInterrupt
        On Ctrl-C, after the workers stop; ``partial`` on the exception is
        the :class:`SweepResult` of the variants that finished.
    """
    grid = variants(changes)  # a grid beyond PLANNER_MAX_VARIANTS fails here, unbuilt
    options = {"explain_infeasible": False, **options}
    probe = case.copy()
    warnings: list[str] = []
    for values in grid[:1]:
        for name, value in values.items():
            warnings += apply_change(probe, name, value)  # a bad name fails here, first
    try:
        runs = _run_all(case, grid, options, workers, executor, progress)
    except KeyboardInterrupt as interrupt:
        partial = getattr(interrupt, "partial", None)
        if partial is not None:
            partial.about = _about(case, changes, partial.results)
        raise
    results = [result for run in runs for result in run]
    table = _table(grid[: len(results)], results) if runs else pd.DataFrame()
    about = _about(case, changes, results)
    if warnings:
        about["warnings"] = "; ".join(warnings)
    return SweepResult(
        table=table, results=results, about=about, warnings=warnings, changes=list(changes)
    )


def _about(
    case: Case, changes: Mapping[str, Iterable[float]], results: list[Any]
) -> dict[str, Any]:
    """Return what makes the sweep reproducible: the planner, the input, how it was solved."""
    about: dict[str, Any] = {
        "planner_version": __version__,
        "input_file": os.path.basename(case.source.path) if case.source.path else "",
        "input_sha256": case.source.sha256 or case.content_sha256(),
        "case_sha256": case.content_sha256(),
        "currency": case.settings.currency,
        "changes": "; ".join(f"{name} = {list(values)}" for name, values in changes.items()),
        "variants": len(results),
    }
    if results:
        summary = results[0].summary
        for key in ("solver", "threads", "seed", "mip_gap_target", "time_limit_s"):
            about[key] = summary.get(key)
    return about


def _table(grid: list[dict[str, float]], results: list[Any]) -> pd.DataFrame:
    table = pd.DataFrame(
        [_row(values, result) for values, result in zip(grid, results, strict=True)]
    )
    if {"expected_cost", "china_share"} <= set(table.columns):
        table["efficient"] = efficient(table["expected_cost"], table["china_share"])
    return table


def _run_all(
    case: Case,
    grid: list[dict[str, float]],
    options: dict[str, Any],
    workers: int | None,
    executor: Executor | None,
    progress: Callable[[int], None] | None,
) -> list[list[Any]]:
    """Every run's results, in grid order; on Ctrl-C raise with what finished."""
    executor = executor_of(executor)
    count = workers or (os.cpu_count() or 1)
    runs = chunks(grid, count)
    if executor is None and (count <= 1 or len(grid) <= 1):
        finished: list[list[Any]] = []
        counter = _Counter(progress)
        try:
            for run in runs:
                finished.append(solve_chunk(case, run, options, counter))
                if len(finished[-1]) < len(run):
                    raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            finished += [[] for _ in runs[len(finished) :]]
            interrupt.partial = _partial(runs, finished)  # type: ignore[attr-defined]
            raise
        return finished
    return _run_parallel(case, runs, options, executor, count, progress)


def _run_parallel(
    case: Case,
    runs: list[list[dict[str, float]]],
    options: dict[str, Any],
    executor: Executor | None,
    count: int,
    progress: Callable[[int], None] | None,
) -> list[list[Any]]:
    own = executor is None
    pool = executor or ProcessPoolExecutor(max_workers=count)
    manager = multiprocessing.Manager() if own and progress is not None else None
    queue = manager.Queue() if manager is not None else None
    futures = [pool.submit(solve_chunk, case, run, options, queue) for run in runs]
    done = 0
    try:
        while not all(future.done() for future in futures):
            wait(futures, timeout=0.2)
            done = _drain(queue, futures, runs, done, progress)
        _drain(queue, futures, runs, done, progress)
        finished = [future.result() for future in futures]
        if any(len(got) < len(run) for got, run in zip(finished, runs, strict=True)):
            raise KeyboardInterrupt  # a worker was interrupted
        return finished
    except KeyboardInterrupt as interrupt:
        wait(futures, timeout=30)  # the workers got Ctrl-C too and return what finished
        interrupt.partial = _partial(runs, [_finished(future) for future in futures])  # type: ignore[attr-defined]
        raise
    finally:
        if own:
            pool.shutdown(wait=False, cancel_futures=True)
        if manager is not None:
            manager.shutdown()


def _finished(future: Future[list[Any]]) -> list[Any]:
    """Return a run's results, or none if it did not finish (cancelled or failed)."""
    if future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return []


def _partial(runs: list[list[dict[str, float]]], finished: list[list[Any]]) -> SweepResult:
    """Return the sweep result of the variants that finished, with their grid values."""
    values = [run[j] for run, got in zip(runs, finished, strict=True) for j in range(len(got))]
    results = [result for got in finished for result in got]
    return SweepResult(
        table=_table(values, results) if results else pd.DataFrame(), results=results
    )


def _drain(
    queue: Any,
    futures: list[Future[list[Any]]],
    runs: list[list[dict[str, float]]],
    done: int,
    progress: Callable[[int], None] | None,
) -> int:
    """Report progress: per variant from the queue, else per finished run."""
    if progress is None:
        return done
    if queue is not None:
        try:
            while not queue.empty():
                queue.get_nowait()
                done += 1
        except (OSError, EOFError):  # the manager was stopped by Ctrl-C too
            return done
    else:
        done = sum(len(run) for future, run in zip(futures, runs, strict=True) if future.done())
    progress(done)
    return done


class _Counter:
    """A queue-like progress sink for in-process runs."""

    def __init__(self, progress: Callable[[int], None] | None) -> None:
        self.progress, self.done = progress, 0

    def put(self, item: int) -> None:
        self.done += item
        if self.progress is not None:
            self.progress(self.done)
