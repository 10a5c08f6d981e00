"""Sensitivity sweeps: solve a case for every combination of changed values.

The changes are written in the grammar of :mod:`planner.changes` (for
example ``china_share_max[Dy]`` or ``capacity[Nd-CN]``). Several changes
make a grid: the product of their values. Each variant is a modified copy of
the case, checked and solved like any other, in parallel worker processes;
a variant whose change provably keeps the last plan optimal (a capacity or cap
tightened that the plan still holds, a price raised where it buys nothing) is
not solved again (see :class:`planner.api.Resolver`), and the grid is solved
from its loosest variant to its tightest, each run along the change with the
most values, so that many can be (:func:`loosest_first`).
"""

from __future__ import annotations

import gc
import itertools
import math
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner import outcome
from planner.api import Resolver
from planner.changes import apply_change, variants
from planner.checks import check_changes
from planner.data import Case
from planner.errors import InputError, Issue
from planner.events import scenario_probability
from planner.io.sweep_writer import picture, write_sweep
from planner.parallel import WORKER_TIMEOUT, ClusterError, WorkerWatch, executor_of
from planner.results import expected_shares
from planner.solve import Status
from planner.version import __version__

#: Variants per run on a cluster at most: a worker lost costs at most this many, and a
#: large cluster gets work for every worker (locally, one run per worker process).
CLUSTER_RUN = 20


def chunks(grid: list[dict[str, float]], parts: int) -> list[list[dict[str, float]]]:
    """Split the grid into ``parts`` runs of neighbouring variants (warm starts follow them)."""
    parts = max(1, min(parts, len(grid)))
    bounds = np.linspace(0, len(grid), parts + 1).round().astype(int)
    return [grid[a:b] for a, b in itertools.pairwise(bounds) if b > a]


#: The note on the variant that changes nothing: its figures are a plain solve's.
UNCHANGED = "the workbook's own values: solved afresh, as planner solve does"

#: One solved variant: its row of the sweep table and its result.
Solved = tuple[dict[str, Any], outcome.Result]


def solve_chunk(
    case: Case,
    chunk: list[dict[str, float]],
    options: dict[str, Any],
    queue: Any = None,
    tables: bool = True,
    checked: bool = False,
) -> list[Solved]:
    """Solve neighbouring variants with one model, changed in place between them.

    Each variant's row of the sweep table is worked out here, in the worker;
    with ``tables`` False the results keep no tables (the row has what the
    sweep shows) and only the row's figures are computed. Stops early,
    keeping what finished, when a solve is interrupted (Ctrl-C). ``queue``,
    if given, receives one item per finished variant (progress). ``checked``:
    every variant's values were checked before the sweep (one change, see
    :func:`planner.checks.check_changes`), so a variant is not checked again.
    """
    resolver = Resolver(full_tables=tables, skip=True, **options)
    solved: list[Solved] = []
    base = case.copy()
    base.sweep = base.sweep.iloc[0:0]  # checked once with the case, not again per variant
    try:
        with _collecting_young_objects() as built:
            for values in chunk:
                model = id(resolver.model)
                row, result = _solve_variant(resolver, base, values, options, tables, checked)
                if id(resolver.model) != model:
                    built()  # a model built: the last one is garbage, this one is kept
                solved.append((row, result))
                if queue is not None:
                    queue.put(1)
                if result.status == Status.INTERRUPTED:
                    break
    except KeyboardInterrupt:
        pass  # the finished variants are kept; the caller sees fewer results
    return solved


def _solve_variant(
    resolver: Resolver,
    base: Case,
    values: dict[str, float],
    options: dict[str, Any],
    tables: bool,
    checked: bool,
) -> Solved:
    """Solve one variant of ``base`` with ``resolver``; its row of the sweep table and result."""
    variant = base.copy()
    notes: list[str] = []
    for name, value in values.items():
        notes += apply_change(variant, name, value)
    unchanged = same_case(base, variant)
    try:
        if unchanged and resolver.model is not None:
            # the workbook as it is: solved afresh, so that its row is what
            # `planner solve` gives, not another plan within the gap reached warm
            fresh = Resolver(full_tables=tables, keep_model=False, **options)
            result = fresh.solve(variant)
        else:
            result = resolver.solve(variant, checked=checked)
    except InputError as error:  # changes valid alone, not together (min_take, capacity)
        named = ", ".join(f"{name}={value:g}" for name, value in values.items())
        raise InputError(
            [Issue(i.where, f"the variant {named}: {i.message}") for i in error.issues],
            error.source,
        ) from None
    row = _row(values, result)
    if unchanged:
        notes.insert(0, UNCHANGED)
    if notes:  # why a row is, or is not, the workbook as it stands
        row["note"] = "; ".join(dict.fromkeys(notes))
    if not tables:
        result.tables = {}
    return row, result


#: Allocations between collections of the youngest objects during a sweep's run (Python's
#: default is 700): a kept variant makes tens of thousands of short-lived objects.
YOUNG_THRESHOLD = 20_000


@contextmanager
def _collecting_young_objects() -> Iterator[Callable[[], None]]:
    """Keep Python's garbage collector off the kept model while a run of variants solves.

    The model (about a million Pyomo objects on the Japan case) lives for
    the whole run; each full collection would walk it again, about a tenth
    of a kept variant's time. Yields ``built``, to call once a model is built:
    the objects alive then (the model) are set aside (:func:`gc.freeze`)
    after a collection that frees the model it replaced. On leaving, all is
    as before: the objects are collectable again, the thresholds restored.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], YOUNG_THRESHOLD), *thresholds[1:])
    own = gc.get_freeze_count() == 0  # else the process froze objects of its own: leave them

    def built() -> None:
        if own:
            gc.unfreeze()
            gc.collect()
            gc.freeze()

    try:
        yield built
    finally:
        if own:
            gc.unfreeze()
        gc.set_threshold(*thresholds)


def same_case(base: Case, variant: Case) -> bool:
    """Whether ``variant`` holds the same values as ``base``: its Settings and every table.

    Compares the tables as they stand (``DataFrame.equals``), which costs far
    less than hashing the whole case per variant (``Case.content_sha256``).
    """
    if vars(base.settings) != vars(variant.settings):
        return False
    for item in fields(base):
        table = getattr(base, item.name)
        if (
            isinstance(table, pd.DataFrame)
            and item.name != "sweep"
            and not table.equals(getattr(variant, item.name))
        ):
            return False
    return True


#: Column of the sweep table: whether the variant was solved, or kept the last plan
#: (proven optimal for it without a solve, see :class:`planner.api.Resolver`).
RESOLVED = "re-solved"


def _row(values: dict[str, float], result: outcome.Result) -> dict[str, Any]:
    """Return the variant's row of the sweep table: its values, status and figures."""
    summary = result.summary
    row: dict[str, Any] = {**values, "status": result.status}
    for key in ("spend", "lost_value", "china_share", "shortfall", "expected_cost", "cvar"):
        row[key] = summary.get(key)
    row["objective"] = result.objective
    shares = result.tables.get("Shares")
    table = result.tables.get("ExpectedShares")  # a sweep's own result has these already
    if shares is not None and len(shares):
        probability = scenario_probability(result.case)
        table = expected_shares(shares, probability, result.case.settings.china_basis)
    if table is not None:
        for element, share in zip(table["element"], table["china_share"], strict=True):
            if element != "TOTAL":
                row[f"china_share[{element}]"] = share
    contracts = result.tables.get("Contracts")
    if contracts is not None:
        row["contracted"] = ", ".join(contracts.loc[contracts["contracted"] == 1, "offer"])
    row[RESOLVED] = "no" if _kept(result) else "yes"
    return row


def _kept(result: outcome.Result) -> bool:
    """Whether the variant kept the last plan without a solve."""
    return result.report is not None and result.report.extra.get("resolved") is False


#: Which way a change's value moves what a plan may do: +1 where a larger value allows
#: more (a cap, a capacity), -1 where it allows less or costs more (a minimum, a price).
LOOSER = {
    "capacity": 1,
    "capacity_factor": 1,
    "china_share_max": 1,
    "country_share_max": 1,
    "risk_max": 1,
    "offer_share_max": 1,
    "stock_value_max": 1,
    "min_take": -1,
    "min_offers": -1,
    "unit_cost": -1,
    "fixed_cost": -1,
}


def loosest_first(grid: list[dict[str, float]]) -> list[int]:
    """Return the order to solve the grid in: runs from loose to tight, the longest run inside.

    A variant that only tightens the last one (a capacity or a cap lowered)
    or only raises prices may keep its plan without a solve (see
    :class:`planner.api.Resolver`); a loosened one never can. So every
    change with a known direction (:data:`LOOSER`) is walked from its
    loosest value to its tightest, and the grid is nested so that each
    variant follows the one a step looser in one change: the changes
    without a direction outermost (in the user's order of their values),
    then those with one, the change with the most values innermost. A
    variant then loosens the last one only where a run along the innermost
    change starts again: with one plan kept at a time, as few times as a
    grid allows when two changes have a direction (the shorter change's
    count). The order only decides how many solves are saved: each saving
    is proven.
    """
    if not grid:
        return []
    names = list(grid[0])
    places: dict[str, dict[float, int]] = {}  # each change's values, in the order walked
    for name in names:
        values = list(dict.fromkeys(variant[name] for variant in grid))
        direction = LOOSER.get(_what(name))
        if direction is not None:
            values.sort(key=lambda value, d=direction: -d * value)  # type: ignore[misc]
        places[name] = {value: at for at, value in enumerate(values)}
    nesting = sorted(
        names,
        key=lambda name: (
            LOOSER.get(_what(name)) is not None,  # without a direction: outermost
            len(places[name]) if LOOSER.get(_what(name)) is not None else 0,
        ),
    )
    return sorted(
        range(len(grid)),
        key=lambda i: tuple(places[name][grid[i][name]] for name in nesting),
    )


def _what(name: str) -> str:
    """Return the kind of value a change names: ``capacity`` of ``capacity[Nd-CN]``."""
    match = re.match(r"\s*([A-Za-z_.]+)", name)
    return match[1] if match else name


def efficient(costs: pd.Series, shares: pd.Series) -> pd.Series:
    """Points no other point beats on both cost and China share (the efficient frontier)."""
    cost = costs.to_numpy(dtype=float)
    share = shares.to_numpy(dtype=float)
    flags = ~np.isnan(cost) & ~np.isnan(share)
    block = 1024  # pairwise, a block of points at a time
    for start in range(0, len(cost), block):
        c, s = cost[start : start + block, None], share[start : start + block, None]
        beaten = (cost <= c) & (share <= s) & ((cost < c) | (share < s))
        flags[start : start + block] &= ~beaten.any(axis=1)
    return pd.Series(flags, index=costs.index)


class SweepResult(outcome.SweepResult):
    """The outcome of a sweep (see :class:`planner.outcome.SweepResult`), writable."""

    def picture(self) -> bytes:
        """Return the trade-off chart as PNG bytes (drawn once, for the workbook and the page)."""
        return picture(self)

    def write(self, path: str | Path) -> Path:
        """Write the sweep workbook: the table and a chart of the trade-off curve."""
        return write_sweep(self, Path(path))


def sweep(
    case: Case,
    changes: Mapping[str, Iterable[float]],
    workers: int | None = None,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
    tables: bool = False,
    worker_timeout: float = WORKER_TIMEOUT,
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
        Change name -> values to try (see the grammar in :mod:`planner.changes`).
    workers
        Worker processes (default: one per core; 1 solves in this process).
    executor
        Where to run the runs instead: any :class:`concurrent.futures.Executor`,
        e.g. a Dask cluster's ``distributed.Client(address).get_executor()``
        (or the ``Client`` itself). Results equal the in-process ones. A pool
        of this machine's processes or threads gets one run per worker (as
        ``workers``); any other executor runs of :data:`CLUSTER_RUN` variants
        at most, so that a cluster's worker lost costs few.
    progress
        Called with the number of variants finished so far, as they finish.
    tables
        Keep every variant's full result tables in ``results`` (and its duals,
        if ``duals`` is passed). By default a variant's result has its
        status, objective and summary figures but no tables: only what the
        sweep table shows is computed, and no duals.
    worker_timeout
        On a Dask cluster: give up when it has had no worker for this many
        seconds (it lost them all, or never had one).
    **options
        Passed to :func:`planner.solve` for every variant; ``explain_infeasible``
        is off unless asked for (it re-solves the case many times), ``duals``
        unless ``tables``.

    Raises
    ------
    ChangeError
        For a grid of more than ``PLANNER_MAX_VARIANTS`` variants (checked
        before anything is built).
    InputError
        For a change that names nothing, or a value the case's checks refuse
        (``risk[Nd-CN]=5``), each naming the change and its first variant
        (:func:`planner.checks.check_changes`); nothing is solved.
    KeyboardInterrupt
        On Ctrl-C, after the workers stop; ``partial`` on the exception is
        the :class:`SweepResult` of the variants that finished.
    ClusterError
        A Dask cluster without workers for ``worker_timeout`` seconds;
        ``partial`` as for Ctrl-C.
    """
    grid = variants(changes)  # a grid beyond PLANNER_MAX_VARIANTS fails here, unbuilt
    options = {"explain_infeasible": False, "duals": False, **options}
    if not tables:
        options["duals"] = False  # nothing would show them
    issues = check_changes(case, changes)  # every value checked as a cell, before any solve
    if any(issue.severity == "error" for issue in issues):
        raise InputError(issues, case.source.path)
    warnings = [issue.message for issue in issues]
    order = loosest_first(grid)  # results come back in the user's order
    ordered = [grid[i] for i in order]
    try:
        solved = _run_all(
            case,
            ordered,
            options,
            workers,
            executor,
            progress,
            tables,
            worker_timeout,
            order,
            checked=len(changes) == 1,  # each value checked as a cell above: not again per variant
        )
    except (KeyboardInterrupt, ClusterError) as interrupt:
        partial = getattr(interrupt, "partial", None)
        if partial is not None:
            partial.about = _about(case, changes, partial.results)
        raise
    results = [result for _, result in solved]
    table = _table([row for row, _ in solved]) if solved else pd.DataFrame()
    about = _about(case, changes, results)
    if warnings:
        about["warnings"] = "; ".join(warnings)
    return SweepResult(
        table=table, results=results, about=about, warnings=warnings, changes=list(changes)
    )


def _about(
    case: Case, changes: Mapping[str, Iterable[float]], results: list[outcome.Result]
) -> dict[str, Any]:
    """Return what makes the sweep reproducible: the planner, the input, how it was solved."""
    about: dict[str, Any] = {
        "planner_version": __version__,
        "input_file": os.path.basename(case.source.path) if case.source.path else "",
        "input_sha256": case.source.sha256 or case.content_sha256(),
        "case_sha256": case.content_sha256(),
        "currency": case.settings.currency,
        "unit": case.settings.unit,
        "changes": "; ".join(f"{name} = {list(values)}" for name, values in changes.items()),
        "variants": len(results),
        "variants_not_resolved": sum(_kept(result) for result in results),
    }
    if results:
        summary = results[0].summary
        for key in ("solver", "threads", "seed", "mip_gap_target", "time_limit_s"):
            about[key] = summary.get(key)
    return about


def _table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    if {"expected_cost", "china_share"} <= set(table.columns):
        table["efficient"] = efficient(table["expected_cost"], table["china_share"])
    return table


def _local_workers(executor: Executor | None) -> int | None:
    """Return the workers of a pool of this machine's processes or threads (None: another kind).

    Such a pool gets one run of neighbouring variants per worker, as the
    sweep's own processes do; a cluster's executor (Dask's) runs of
    :data:`CLUSTER_RUN` at most, so that a worker lost costs few variants.
    """
    if isinstance(executor, ProcessPoolExecutor | ThreadPoolExecutor):
        return int(getattr(executor, "_max_workers", 0)) or None
    return None


def _run_all(
    case: Case,
    grid: list[dict[str, float]],
    options: dict[str, Any],
    workers: int | None,
    executor: Executor | None,
    progress: Callable[[int], None] | None,
    tables: bool,
    worker_timeout: float = WORKER_TIMEOUT,
    order: list[int] | None = None,
    checked: bool = False,
) -> list[Solved]:
    """Every variant's row and result, in the user's order; on Ctrl-C raise with what finished.

    ``grid`` is solved in the order given; ``order[i]`` is the position of
    ``grid[i]`` in the user's grid (None: the same).
    """
    executor = executor_of(executor)
    local = _local_workers(executor)
    count = workers or local or (os.cpu_count() or 1)
    if executor is not None and local is None:  # a cluster's
        count = max(count, math.ceil(len(grid) / CLUSTER_RUN))
    runs = chunks(grid, count)
    if executor is None and (count <= 1 or len(grid) <= 1):
        finished: list[list[Solved]] = []
        counter = _Counter(progress)
        try:
            for run in runs:
                finished.append(solve_chunk(case, run, options, counter, tables, checked))
                if len(finished[-1]) < len(run):
                    raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            finished += [[] for _ in runs[len(finished) :]]
            interrupt.partial = _partial(runs, finished, order)  # type: ignore[attr-defined]
            raise
    else:
        finished = _run_parallel(
            case, runs, options, executor, count, progress, tables, worker_timeout, order, checked
        )
    return _in_order(runs, finished, order)


def _run_parallel(
    case: Case,
    runs: list[list[dict[str, float]]],
    options: dict[str, Any],
    executor: Executor | None,
    count: int,
    progress: Callable[[int], None] | None,
    tables: bool,
    worker_timeout: float = WORKER_TIMEOUT,
    order: list[int] | None = None,
    checked: bool = False,
) -> list[list[Solved]]:
    own = executor is None
    watch = WorkerWatch(executor, worker_timeout)
    pool = executor or ProcessPoolExecutor(max_workers=count)
    manager = multiprocessing.Manager() if own and progress is not None else None
    queue = manager.Queue() if manager is not None else None
    futures = [pool.submit(solve_chunk, case, run, options, queue, tables, checked) for run in runs]
    done = 0
    try:
        while not all(future.done() for future in futures):
            wait(futures, timeout=0.2)
            done = _drain(queue, futures, runs, done, progress)
            try:
                watch.check()
            except ClusterError as lost:  # keep what finished; the rest will not
                for future in futures:
                    future.cancel()
                lost.partial = _partial(runs, [_finished(future) for future in futures], order)  # type: ignore[attr-defined]
                raise
        _drain(queue, futures, runs, done, progress)
        finished = [future.result() for future in futures]
        if any(len(got) < len(run) for got, run in zip(finished, runs, strict=True)):
            raise KeyboardInterrupt  # a worker was interrupted
        return finished
    except KeyboardInterrupt as interrupt:
        wait(futures, timeout=30)  # the workers got Ctrl-C too and return what finished
        interrupt.partial = _partial(runs, [_finished(future) for future in futures], order)  # type: ignore[attr-defined]
        raise
    finally:
        if own:
            pool.shutdown(wait=False, cancel_futures=True)
        if manager is not None:
            manager.shutdown()


def _finished(future: Future[list[Solved]]) -> list[Solved]:
    """Return a run's results, or none if it did not finish (cancelled or failed)."""
    if future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return []


def _in_order(
    runs: list[list[dict[str, float]]], finished: list[list[Solved]], order: list[int] | None
) -> list[Solved]:
    """Return the variants that finished, in the user's order (``order``: see ``_run_all``)."""
    placed: list[tuple[int, Solved]] = []
    start = 0
    for run, got in zip(runs, finished, strict=True):
        placed += [(start + k, item) for k, item in enumerate(got)]  # a run finishes a prefix
        start += len(run)
    if order is not None:
        placed = sorted(((order[at], item) for at, item in placed), key=lambda pair: pair[0])
    return [item for _, item in placed]


def _partial(
    runs: list[list[dict[str, float]]],
    finished: list[list[Solved]],
    order: list[int] | None = None,
) -> SweepResult:
    """Return the sweep result of the variants that finished, with their grid values."""
    solved = _in_order(runs, finished, order)
    return SweepResult(
        table=_table([row for row, _ in solved]) if solved else pd.DataFrame(),
        results=[result for _, result in solved],
    )


def _drain(
    queue: Any,
    futures: list[Future[list[Solved]]],
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
