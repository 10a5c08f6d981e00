"""The Python API: load a workbook, solve a case, get tables back."""

from __future__ import annotations

from pathlib import Path

from planner.data import Case
from planner.errors import InputError
from planner.io.reader import read_workbook
from planner.validate import check_case, merge_issues, parse_workbook


def load(path: str | Path) -> Case:
    """Read and validate an input workbook.

    Parameters
    ----------
    path
        An ``.xlsx`` (or ``.xlsm``) workbook following ``spec/workbook.md``.

    Returns
    -------
    Case
        The validated case; its ``warnings`` list what was ignored or assumed.

    Raises
    ------
    InputError
        With every problem of the workbook, each as ``Sheet!CELL: message``.
    """
    raw = read_workbook(path)
    case, parsed = parse_workbook(raw)
    issues = merge_issues(parsed, check_case(case))
    if any(issue.severity == "error" for issue in issues):
        raise InputError(issues, str(path))
    case.warnings = [issue for issue in issues if issue.severity != "error"]
    return case


def validate(case: Case) -> None:
    """Check a case (for example one modified in Python); raise if invalid.

    Raises
    ------
    InputError
        With every problem found.
    """
    issues = check_case(case)
    if any(issue.severity == "error" for issue in issues):
        raise InputError(issues, case.source.path)
