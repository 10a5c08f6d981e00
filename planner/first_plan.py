"""A first feasible plan, fast, for HiGHS to start its MIP from (issue 24, part 3).

On the hardest cases HiGHS can spend its whole time limit in presolve, the
root LP and the search without finding any plan: at the largest benchmark
size (17 x 60 x 20 x 100) not one in 300 s. A planner with a time limit
must still get a plan. This module constructs one from the matrices HiGHS
holds, whatever the case's features, and
:class:`~planner.solve.HighsSession` hands it to HiGHS as a start
(``Highs.setSolution``), so that HiGHS has a plan from the start and
measures its gap against it.

A construction chooses every contract decision (every integer column), then
solves the LP that is left for purchases, activity levels, stock and
shortage. Two choices are tried, in this order:

* **closed**: the fewest decisions: nothing signed or adopted except where
  the case forces it (an offer signed before the horizon, formulation A5,
  by its bounds; ``min_offers`` and other rows between decisions alone, by a
  small MIP of those rows). Shortage covers demand and cover gaps the cover
  targets, and with the offers closed HiGHS's presolve removes most of the
  LP: it solves in a fraction of the MIP's root LP. Its plan is poor (it
  buys little), but it is a plan.
* **open**: every decision whose taking tightens no row with a continuous
  column (it opens capacity: no minimum take, no budget, no commitment) is
  taken, the others left closed, again within the rows between decisions.
  The LP then buys what is cheapest: a plan nearer the optimum, and the only
  one of the two when a forced purchase (a contracted offer's minimum take)
  must be balanced by other offers to keep a China or risk cap. Its LP is
  as large as the MIP's root LP, so it runs only in the time left.

The cheaper plan found is returned; none when both fail (a forced purchase
the rest of the case cannot absorb, a time limit reached), and HiGHS then
runs as it always did. The model is left as it was: the LPs run in a copy
of it, whose solver memory is freed before HiGHS's MIP starts.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import highspy
import numpy as np

from planner.handoff import INF, new_highs, run_time_limit

logger = logging.getLogger(__name__)

#: The fewest contract decisions (nothing signed unless the case forces it)
CLOSED = "closed"
#: Every contract decision that opens capacity without forcing a purchase taken
OPEN = "open"


@dataclass
class FirstPlan:
    """What :func:`first_plan` found: a plan (a value per column) or why there is none."""

    values: np.ndarray | None
    objective: float | None
    seconds: float
    how: str


@dataclass
class _Decisions:
    """The integer columns, their bounds and costs, and the rows among them alone.

    ``opens``: taking the decision (raising the column) tightens no row that
    has a continuous column. The rows of integer columns alone are kept
    column-wise (``start``, ``index``, ``value``; bounds ``row_lower``,
    ``row_upper``) for the small MIP that chooses within them.
    """

    columns: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    cost: np.ndarray
    opens: np.ndarray
    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray


def _decisions(highs: highspy.Highs, integer: np.ndarray) -> _Decisions:
    """Read the integer columns and their rows from ``highs`` (those rows only, not the matrix)."""
    columns = np.flatnonzero(integer).astype(np.int32)
    count = len(columns)
    _, _, cost, lower, upper, _ = highs.getCols(count, columns)
    _, _, rows, _ = highs.getColsEntries(count, columns)
    candidates = np.unique(np.array(rows, dtype=np.int32))
    is_integer = np.zeros(highs.getNumCol(), dtype=bool)
    is_integer[columns] = True
    position = np.full(highs.getNumCol(), -1, dtype=np.int64)
    position[columns] = np.arange(count)
    if len(candidates):
        _, _, row_lower, row_upper, _ = highs.getRows(len(candidates), candidates)
        _, row_start, row_index, row_value = highs.getRowsEntries(len(candidates), candidates)
    else:
        row_lower = row_upper = row_value = np.zeros(0)
        row_start = row_index = np.zeros(0, dtype=np.int32)
    row_lower, row_upper = np.array(row_lower), np.array(row_upper)
    row_index, row_value = np.array(row_index), np.array(row_value)
    lengths = np.diff(np.append(np.array(row_start), len(row_index)))
    owner = np.repeat(np.arange(len(candidates)), lengths)
    mixed = np.zeros(len(candidates), dtype=bool)
    np.logical_or.at(mixed, owner, ~is_integer[row_index])
    # taking a decision tightens a row where its coefficient pushes towards a finite bound
    on_integer = is_integer[row_index]
    tightens = (
        on_integer
        & mixed[owner]
        & (
            ((row_value > 0) & np.isfinite(row_upper[owner]))
            | ((row_value < 0) & np.isfinite(row_lower[owner]))
        )
    )
    opens = np.ones(count, dtype=bool)
    opens[position[row_index[tightens]]] = False
    pure = np.flatnonzero(~mixed & (lengths > 0))
    keep = np.isin(owner, pure)
    renumber = np.full(len(candidates), -1, dtype=np.int64)
    renumber[pure] = np.arange(len(pure))
    from_rows = renumber[owner[keep]]
    to_columns = position[row_index[keep]]
    order = np.lexsort((from_rows, to_columns))  # column-wise
    return _Decisions(
        columns=columns,
        lower=np.array(lower, dtype=float),
        upper=np.array(upper, dtype=float),
        cost=np.array(cost, dtype=float),
        opens=opens,
        start=np.searchsorted(to_columns[order], np.arange(count + 1)).astype(np.int32),
        index=from_rows[order].astype(np.int32),
        value=row_value[keep][order],
        row_lower=row_lower[pure],
        row_upper=row_upper[pure],
    )


def _choose(
    decisions: _Decisions, weight: np.ndarray, time_limit: float, threads: int
) -> np.ndarray | None:
    """Integer values that hold the rows among decisions alone, at least ``weight``; or None.

    ``threads``: the model's own HiGHS's (HiGHS's scheduler is one per
    process: another count fails the run).
    """
    lower, upper = decisions.lower, decisions.upper
    if not len(decisions.row_lower):  # no rows among them: each at its better bound
        return np.where(weight > 0, lower, upper)
    small = new_highs()
    small.setOptionValue("output_flag", False)
    small.setOptionValue("threads", threads)
    small.setOptionValue("time_limit", max(time_limit, 1e-3))
    count = len(decisions.columns)
    small.passModel(
        count,
        len(decisions.row_lower),
        len(decisions.value),
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize),
        0.0,
        weight,
        lower,
        upper,
        decisions.row_lower,
        decisions.row_upper,
        decisions.start,
        decisions.index,
        decisions.value,
        np.ones(count, dtype=np.int32),
    )
    small.run()
    if int(small.getInfo().primal_solution_status) != 2:  # kSolutionStatusFeasible
        return None
    return np.round(np.array(small.getSolution().col_value, dtype=float))


def _fixed_lp(
    highs: highspy.Highs, decisions: _Decisions, values: np.ndarray, time_limit: float
) -> tuple[np.ndarray, float] | None:
    """Solve the LP with the integer columns fixed at ``values``: its column values and cost.

    None when the LP has no optimum (infeasible, or stopped at the time
    limit). The columns are fixed and made continuous in place and restored
    after, and the solver's state is cleared: the MIP that follows starts
    afresh.
    """
    integer, count = decisions.columns, len(decisions.columns)
    kinds = highspy.HighsVarType
    highs.changeColsBounds(count, integer, values, values)
    highs.changeColsIntegrality(count, integer, np.full(count, kinds.kContinuous))
    try:
        highs.setOptionValue("time_limit", run_time_limit(highs, max(time_limit, 1e-3)))
        highs.run()
        if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        plan = np.array(highs.getSolution().col_value, dtype=float)
        return plan, float(highs.getInfo().objective_function_value)
    finally:
        highs.changeColsBounds(count, integer, decisions.lower, decisions.upper)
        highs.changeColsIntegrality(count, integer, np.full(count, kinds.kInteger))
        highs.clearSolver()


def _copy(highs: highspy.Highs) -> highspy.Highs:
    """Return a new HiGHS holding the model and the options ``highs`` holds.

    The construction's LPs run in the copy. HiGHS keeps an LP's simplex
    state (its copy of the LP, the factorization, the row-wise matrix) in the
    instance that solved it, past ``clearSolver``; in the model's own instance
    that memory stayed through the MIP, on top of the MIP's own (1.3 GB at the
    largest benchmark size, benchmarks/README.md "Memory"). The copy's goes
    with it when the construction ends; the model's copy is its price while
    the construction runs, below the MIP's peak.
    """
    work = new_highs()
    work.passOptions(highs.getOptions())
    model = highs.getModel()
    work.passModel(model)
    del model
    return work


def first_plan(
    highs: highspy.Highs,
    integer: np.ndarray,
    time_limit: float,
    constructions: tuple[str, ...] = (CLOSED, OPEN),
) -> FirstPlan:
    """Construct a plan that holds every row of the model ``highs`` holds, within ``time_limit`` s.

    ``integer`` says which columns are integer. HiGHS's options other than
    the time limit are the caller's (threads, seed, output). The LPs run in
    a copy of ``highs`` (:func:`_copy`): nothing is solved in ``highs``
    itself, which is left as it was. Returns a :class:`FirstPlan`
    whose ``values`` are None when no plan was found (``how`` says why),
    else the cheaper of the ``constructions`` that succeeded (``how`` names it).
    """
    started = time.perf_counter()

    def left() -> float:
        return time_limit - (time.perf_counter() - started)

    if not integer.any():
        return FirstPlan(None, None, 0.0, "no contract decisions: the model is an LP")
    work = _copy(highs)
    decisions = _decisions(work, integer)
    threads = int(work.getOptionValue("threads")[1])
    scale = 1.0 + float(np.abs(decisions.cost).max(initial=0.0))
    tie = decisions.cost / scale  # within the same count of decisions, the cheaper
    weights = {
        CLOSED: 1.0 + tie,
        OPEN: np.where(decisions.opens, -1.0, 1.0) + tie,
    }
    best: FirstPlan | None = None
    for how in constructions:
        weight = weights[how]
        if left() <= 0:
            break
        values = _choose(decisions, weight, left(), threads)
        solved = None if values is None else _fixed_lp(work, decisions, values, left())
        if solved is not None and (best is None or solved[1] < float(best.objective or 0.0)):
            best = FirstPlan(solved[0], solved[1], 0.0, how)
    del work  # its LPs' solver memory with it, before the MIP starts
    seconds = time.perf_counter() - started
    if best is not None:
        best.seconds = seconds
        return best
    why = "out of its time" if left() <= 0 else "no feasible plan by either construction"
    logger.info("no first plan (%s) after %.2f s", why, seconds)
    return FirstPlan(None, None, seconds, why)


__all__ = ["CLOSED", "INF", "OPEN", "FirstPlan", "first_plan"]
