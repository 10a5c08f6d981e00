"""Build linear expressions directly from coefficients and variables.

Pyomo's operator overloading (``a * x + b * y``) builds an expression one
term at a time; handing it the lists at once is several times faster and
gives the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pyomo.core.expr.numeric_expr import LinearExpression
from pyomo.repn import generate_standard_repn


def linear(coefficients: Sequence[float], variables: Sequence[Any], constant: float = 0.0) -> Any:
    """Return ``constant + sum(coefficients[i] * variables[i])``."""
    return LinearExpression(
        constant=constant, linear_coefs=list(coefficients), linear_vars=list(variables)
    )


def coefficient_arrays(expression: Any) -> tuple[list[Any], np.ndarray, float]:
    """(variables, coefficients, constant) of a linear expression, duplicates summed."""
    repn = generate_standard_repn(expression, compute_values=True, quadratic=False)
    if repn.nonlinear_expr is not None:
        raise ValueError("a row is not linear")
    return list(repn.linear_vars), np.array(repn.linear_coefs, dtype=float), float(repn.constant)
