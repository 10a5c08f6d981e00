"""The sourcing model in Pyomo: derived parameters, sets, variables, constraints.

``build_model`` (Pyomo) is loaded when first used, so that the checks, which
read only :mod:`planner.model.parameters`, do not load Pyomo (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from planner.model.parameters import ModelData, derive

if TYPE_CHECKING:
    from planner.model.builder import build_model

__all__ = ["ModelData", "build_model", "derive"]


def __getattr__(name: str) -> Any:
    """Load ``build_model`` (and Pyomo with it) on first use."""
    if name != "build_model":
        raise AttributeError(f"module 'planner.model' has no attribute {name!r}")
    value = importlib.import_module("planner.model.builder").build_model
    globals()[name] = value
    return value
