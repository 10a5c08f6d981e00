"""The user's time limit, held across a decomposed solve's stages (issue 25).

A plain solve hands its time limit to HiGHS. A decomposed one runs many
solves one after the other (PH's sub-problems, the Lagrangian bound's, the
plan's down the tree, the extensive form's LP), and mpi-sppy checks its own
time limit only between PH iterations. A :class:`Budget` is one clock for
all of them: each stage has a deadline (a share of the limit), each solve
gets what is left of its stage's as its HiGHS time limit, and a solve whose
stage has run out is not started.

The clock is injectable (``clock``), so that what each solve receives can be
tested without timing anything.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Shares of the time limit at which each stage must end: PH (its bound included), then
#: the plan decided down the tree; the extensive form's LP (the plan's quantities and
#: duals) gets the rest. A stage that ends early leaves its time to the next.
PH_SHARE = 0.6
PLAN_SHARE = 0.85
#: The least time limit a solve is started with, s: below it HiGHS stops before its
#: presolve and the solve is wasted (a solve is not started at all once its stage is spent).
MIN_SOLVE_SECONDS = 0.05


@dataclass
class Budget:
    """Seconds of a time limit, on one clock, from the moment it is made.

    Parameters
    ----------
    limit
        The time limit, s (``inf``: none).
    clock
        Seconds from an arbitrary origin (``time.perf_counter`` by default; a
        fake one in tests).
    """

    limit: float
    clock: Callable[[], float] = time.perf_counter
    start: float = field(init=False)
    #: the stages that ran out of time, in order (for the Summary's message and warnings)
    spent_in: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.start = self.clock()

    def spent(self) -> float:
        """Seconds since the budget was made."""
        return self.clock() - self.start

    def left(self, share: float = 1.0) -> float:
        """Seconds left until ``share`` of the limit is spent (0 when past it)."""
        if not math.isfinite(self.limit):
            return math.inf
        return max(0.0, share * self.limit - self.spent())

    def solve_limit(self, share: float = 1.0) -> float | None:
        """Return the time limit for a solve starting now in a stage ending at ``share``.

        None when the stage has run out (the solve is not to be started).
        """
        left = self.left(share)
        return None if left < MIN_SOLVE_SECONDS else left

    def ran_out(self, stage: str) -> None:
        """Record that ``stage`` ran out of time (once)."""
        if stage not in self.spent_in:
            self.spent_in.append(stage)

    def align(self, seconds: float) -> None:
        """Count ``seconds`` of this budget as spent from now on (an MPI rank: rank 0's).

        In place, so that every stage holding this budget on the rank (PH's,
        the plan's down the tree) holds rank 0's, and the stages it finds out
        of time are recorded where rank 0 gathers them.
        """
        self.start = self.clock() - seconds
