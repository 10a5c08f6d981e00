"""Load and check an input workbook: the light half of the API (no solver, no Pyomo).

``planner validate`` needs only this: the reader, the parser and the checks.
:mod:`planner.api` re-exports both functions.
"""

from __future__ import annotations

from pathlib import Path

from planner.checks import check_case, merge_issues
from planner.data import Case
from planner.errors import InputError, Issue
from planner.io.limits import ReaderLimits
from planner.io.reader import read_workbook
from planner.parse import parse_workbook

__all__ = ["load", "validate"]


def load(path: str | Path, limits: ReaderLimits | None = None) -> Case:
    """Read and validate an input workbook.

    Parameters
    ----------
    path
        An ``.xlsx`` (or ``.xlsm``) workbook following ``docs/workbook.md``.
    limits
        Bounds on the workbook (default: ``ReaderLimits.from_environment()``).

    Returns
    -------
    Case
        The validated case; its ``warnings`` list what was ignored or assumed.

    Raises
    ------
    InputError
        With every problem of the workbook, each as ``Sheet!CELL: message``.
    """
    raw = read_workbook(path, limits)
    case, parsed = parse_workbook(raw)
    issues = merge_issues(parsed, check_case(case))
    if any(issue.severity == "error" for issue in issues):
        raise InputError(issues, str(path))
    case.warnings = [issue for issue in issues if issue.severity != "error"]
    return case


def validate(case: Case, sweep: bool = True) -> list[Issue]:
    """Check a case (for example one modified in Python) and return its warnings.

    ``sweep`` False leaves out the Sweep sheet's variants (a solve does not read it).

    Raises
    ------
    InputError
        With every problem found.
    """
    issues = check_case(case, sweep=sweep)
    if any(issue.severity == "error" for issue in issues):
        raise InputError(issues, case.source.path)
    return [issue for issue in issues if issue.severity != "error"]
