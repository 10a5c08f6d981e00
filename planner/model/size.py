"""How large the model of a case will be, worked out from the scenario tree before any build.

A model that cannot fit should be refused with its figures, not built for a
minute and then lost to the solver or the operating system (issue 26: a
353 KB workbook of 10,000 scenarios x 40 periods, 39,001 tree nodes, built
for 46 s, passed 2.5 GB and ended in "solver stopped with an error").

Every family but the CVaR rows lives on tree nodes, and what a node holds
depends only on its period: the offers that can deliver then, the
activities that run, the elements, the caps of that period. So the estimate
counts one node of each period (rows, columns and nonzeros of each family,
as :mod:`planner.model.builder` would make them, taking a row the builder
may skip, such as a minimum take of 0, as made) and multiplies by the
nodes of that period. It reads only :class:`ModelData`: milliseconds for
the largest trees. ``tests/test_model_size.py`` holds it within a factor
of 2 of the rows, columns and nonzeros of real builds (reference, Japan and
generated cases); it is an upper estimate wherever the builder skips rows.

Memory follows the benchmarks' largest case (``benchmarks/README.md``,
Memory: 6.7 M nonzeros; the planner's peak 2,758 MB at the hand-off, 5,553
MB with HiGHS's MIP): :data:`BASE_MB` for Python, the libraries and the
data, and :data:`BYTES_PER_NONZERO` for the Pyomo model, the hand-off and
HiGHS's presolve and root LP together.
"""

from __future__ import annotations

import math
import os
import resource
from dataclasses import dataclass

import numpy as np

from planner.model.parameters import TOTAL, ModelData, Policy

#: Resident memory of the planner before a model: Python, pandas, Pyomo, HiGHS, the data.
BASE_MB = 200
#: Peak memory per nonzero of the model: the Pyomo build, the hand-off and HiGHS's MIP
#: (5,553 MB less the base over 6,727,676 nonzeros at the benchmarks' largest size).
BYTES_PER_NONZERO = 800


@dataclass(frozen=True)
class ModelSize:
    """The estimated size of a case's model.

    Attributes
    ----------
    nodes, scenarios, periods
        The scenario tree's nodes, its scenarios and periods.
    rows, columns, nonzeros
        The model's constraints, variables and matrix entries (estimated).
    memory_mb
        The peak memory a solve of it needs (estimated, MB).
    """

    nodes: int
    scenarios: int
    periods: int
    rows: int
    columns: int
    nonzeros: int
    memory_mb: int

    def describe(self) -> str:
        """Say the figures in one phrase."""
        return (
            f"{self.nodes:,} tree nodes ({self.scenarios:,} scenarios x {self.periods:,} "
            f"periods): about {_millions(self.rows)} rows, {_millions(self.columns)} columns, "
            f"{_millions(self.nonzeros)} nonzeros and {self.memory_mb:,} MB of memory"
        )


#: The share of the machine's memory (or of the process's address-space limit) a model may take.
MEMORY_SHARE = 0.8


def memory_limit() -> tuple[int, str]:
    """Return the default limit on a model's memory (MB) and where it comes from.

    ``PLANNER_MAX_MODEL_MB`` if set; else 80 % of the smaller of this
    machine's memory and the process's address-space limit (``RLIMIT_AS``:
    a web job's ``--max-memory-mb``).
    """
    given = os.environ.get("PLANNER_MAX_MODEL_MB", "").strip()
    if given:
        try:
            value = float(given)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"PLANNER_MAX_MODEL_MB must be a number of MB > 0, got {given!r}")
        return int(value), "PLANNER_MAX_MODEL_MB"
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY and soft / 2**20 < machine:
        return int(MEMORY_SHARE * soft / 2**20), (
            f"{MEMORY_SHARE:.0%} of this process's memory limit of {soft / 2**20:,.0f} MB"
        )
    return int(MEMORY_SHARE * machine), f"{MEMORY_SHARE:.0%} of this machine's {machine:,.0f} MB"


def _millions(count: int) -> str:
    return f"{count / 1e6:.1f} M" if count >= 100_000 else f"{count:,}"


def estimate(data: ModelData) -> ModelSize:
    """Estimate the model's size from ``data`` and its scenario tree, without building it."""
    n_scenarios, periods = len(data.scenarios), len(data.periods)
    per_period = np.bincount([node.period for node in data.nodes], minlength=periods)
    cvar = data.cvar_weight > 0
    rows = columns = nonzeros = 0.0
    for t in range(periods):
        if per_period[t]:
            counts = _node(data, t, cvar)
            rows += per_period[t] * counts[0]
            columns += per_period[t] * counts[1]
            nonzeros += per_period[t] * counts[2]
    free = ~data.offer_later & ~data.offer_contracted  # signed-before contracts are fixed
    columns += int(free.sum()) + len(data.activities)  # contracts, adoptions
    if cvar:  # a row and a column per scenario, and the threshold
        rows += n_scenarios
        columns += n_scenarios + 1
        nonzeros += n_scenarios * (periods + 2)
    memory = BASE_MB + nonzeros * BYTES_PER_NONZERO / 2**20
    return ModelSize(
        nodes=len(data.nodes),
        scenarios=n_scenarios,
        periods=periods,
        rows=int(rows),
        columns=int(columns),
        nonzeros=int(nonzeros),
        memory_mb=math.ceil(memory),
    )


def _node(data: ModelData, t: int, cvar: bool) -> tuple[int, int, int]:
    """Rows, columns and nonzeros of one tree node of period ``t``, family by family."""
    n_elements = len(data.elements)
    offers = data.deliverable()[:, t]
    running = data.activity_window[:, t]
    carries = data.contents[offers] > 0  # [deliverable offer, element]
    by_element = carries.sum(axis=0)
    making = (data.yields[running] != 0).sum(axis=0)
    width = by_element + making  # supply terms of each element
    n_offers, n_running = int(offers.sum()), int(running.sum())
    later = int(np.count_nonzero(data.offer_later))
    later_rows = later if t > 0 else 0  # a contract signed stays signed (from the parent)
    takes = int(np.count_nonzero(data.offer_min_take[offers] > 0))
    firm = int(np.count_nonzero(~np.isnan(data.commitment[offers, t])))
    covered = int((data.cover_target()[:, t, :] > 0).any(axis=1).sum())
    changing = (
        int(np.count_nonzero(data.previous_offers))
        if data.previous_periods[t] and data.change_cost > 0
        else 0
    )
    caps = _caps(data, t, width, by_element)
    rows = n_offers + takes + n_running + later_rows + firm  # (1), (2), A3, A5
    nonzeros = 2 * (n_offers + takes + n_running + later_rows) + firm
    rows += n_elements + covered + 2 * changing  # (3), (6), A5 changes
    nonzeros += (3 if t > 0 else 2) * n_elements + int(width.sum()) + 2 * covered + 6 * changing
    rows += caps[0]
    nonzeros += caps[1]
    columns = n_offers + n_running + 2 * n_elements + covered + later + changing + caps[2]
    if cvar:  # the node's cost defined once
        rows += 1
        columns += 1
        nonzeros += 1 + n_offers + n_running + 2 * n_elements + covered + 2 * later + changing
    return rows, columns, nonzeros


def _caps(
    data: ModelData, t: int, width: np.ndarray, by_element: np.ndarray
) -> tuple[int, int, int]:
    """Rows, nonzeros and supply columns of the policies of one node of period ``t``.

    A cap of 1 or more binds nowhere and makes no row; each element with a
    cap below 1 gets its supply ``S`` defined once (rows then weigh against it).
    """
    position = {name: e for e, name in enumerate(data.elements)}
    terms = int(width.sum())
    rows = nonzeros = 0
    supplied: set[int] = set()
    for (policy, _basis), caps in data.caps.items():
        groups = max(len(data.groups), 1) if policy == Policy.COUNTRY_SHARE_MAX else 1
        for (name, period), cap in caps.items():
            if period != t or cap.value >= 1:
                continue
            # a country group's row weighs only its own offers: the groups share the terms
            if name == TOTAL:
                rows += min(groups, max(terms, 1))
                nonzeros += terms + (groups - 1) * (groups > 1)
                continue
            e = position[name]
            supplied.add(e)
            if policy == Policy.OFFER_SHARE_MAX:
                rows += int(by_element[e])
                nonzeros += 2 * int(by_element[e])
            else:
                reach = min(groups, max(int(width[e]), 1))
                rows += reach
                nonzeros += int(width[e]) + 2 * reach
    if t == 0:
        for name, cap in data.min_offers.items():
            if cap.value > 0 and name in position:
                rows += 1
                nonzeros += int(np.count_nonzero(data.contents[:, position[name]] > 0))
    rows += len(supplied)
    nonzeros += sum(int(width[e]) + 1 for e in supplied)
    return rows, nonzeros, len(supplied)
