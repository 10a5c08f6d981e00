"""The sourcing model in Pyomo: derived parameters, sets, variables, constraints."""

from planner.model.builder import build_model
from planner.model.parameters import ModelData, derive

__all__ = ["ModelData", "build_model", "derive"]
