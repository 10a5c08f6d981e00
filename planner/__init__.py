"""planner: optimisation-based sourcing for rare earths and other critical minerals.

The public API::

    import planner
    case = planner.load("inputs/japan-2026.xlsx")
    result = planner.solve(case, time_limit_s=30)
    result.tables["Purchases"]
    result.write("outputs/japan-2026-plan.xlsx")

The names are loaded when first used (PEP 562), so that importing a light
module of the package (``planner.cli`` for ``planner --help``) does not load
Pyomo, HiGHS and pandas.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.version import __version__

if TYPE_CHECKING:  # what the names are, for type checkers and readers
    from planner.api import Result, solve
    from planner.data import Case, Settings
    from planner.errors import InputError, Issue, PlannerError, SolverError
    from planner.io.limits import ReaderLimits
    from planner.loading import load, validate
    from planner.roll import RollPlan, roll
    from planner.sweep import SweepResult, sweep

#: Public name -> the module that defines it.
_WHERE = {
    "Result": "planner.api",
    "load": "planner.loading",
    "solve": "planner.api",
    "validate": "planner.loading",
    "Case": "planner.data",
    "Settings": "planner.data",
    "InputError": "planner.errors",
    "Issue": "planner.errors",
    "PlannerError": "planner.errors",
    "SolverError": "planner.errors",
    "ReaderLimits": "planner.io.limits",
    "RollPlan": "planner.roll",
    "roll": "planner.roll",
    "SweepResult": "planner.sweep",
    "sweep": "planner.sweep",
}

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


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (and keep it here)."""
    if name not in _WHERE:
        raise AttributeError(f"module 'planner' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


#: Public names that are also submodules' names (``planner.roll``, ``planner.solve``).
_SHADOWED = frozenset(name for name in _WHERE if (Path(__file__).parent / f"{name}.py").is_file())


class _Facade(types.ModuleType):
    """The package, whose submodules ``roll``, ``solve`` and ``sweep`` never hide the functions.

    Importing ``planner.roll`` sets the package's attribute ``roll`` to the
    module. An eager ``from planner.roll import roll`` here rebound it at
    once; the lazy facade keeps it from being set (the module stays in
    ``sys.modules``, where ``from planner.roll import ...`` finds it).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Facade
