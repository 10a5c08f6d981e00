"""Errors the planner raises on purpose.

Every failure a user can cause is a :class:`PlannerError`; anything else is a
bug. ``InputError`` carries every issue of a workbook at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One problem (or warning) found in the input, located in workbook terms.

    Attributes
    ----------
    where : str
        ``Sheet!CELL`` (``Offers!F7``), ``Sheet!1:1`` for a header row, or just
        ``Sheet`` for the sheet as a whole.
    message : str
        What is wrong and what is expected.
    severity : str
        ``"error"`` or ``"warning"``.
    """

    where: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class PlannerError(Exception):
    """Base class of every error the planner raises on purpose."""


class InputError(PlannerError):
    """The input is invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: list[Issue], source: str = "") -> None:
        self.issues = [i for i in issues if i.severity == "error"]
        self.warnings = [i for i in issues if i.severity != "error"]
        self.source = source
        head = f"{source}: " if source else ""
        count = len(self.issues)
        lines = [f"{head}{count} problem{'s' if count != 1 else ''} in the input"]
        lines += [f"  {issue}" for issue in self.issues]
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[type[InputError], tuple[list[Issue], str]]:
        """Pickle with the issues (a sweep's worker process raises it to the parent)."""
        return (type(self), ([*self.issues, *self.warnings], self.source))


class SolverError(PlannerError):
    """The solver failed in a way that leaves no usable answer."""


class OutputError(PlannerError):
    """The solution workbook could not be written (nothing was left behind)."""
