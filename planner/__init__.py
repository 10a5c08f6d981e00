"""planner: optimisation-based sourcing for rare earths and other critical minerals.

The public API::

    import planner
    case = planner.load("inputs/japan-2026.xlsx")
    result = planner.solve(case, time_limit_s=30)
    result.tables["Purchases"]
    result.write("outputs/japan-2026-plan.xlsx")
"""

from __future__ import annotations

from planner.api import Result, load, solve, validate
from planner.data import Case, Settings
from planner.errors import InputError, Issue, PlannerError, SolverError
from planner.io.limits import ReaderLimits
from planner.roll import RollPlan, roll
from planner.sweep import SweepResult, sweep
from planner.version import __version__

__all__ = [
    "Case",
    "InputError",
    "Issue",
    "PlannerError",
    "ReaderLimits",
    "Result",
    "RollPlan",
    "Settings",
    "SolverError",
    "SweepResult",
    "__version__",
    "load",
    "roll",
    "solve",
    "sweep",
    "validate",
]
