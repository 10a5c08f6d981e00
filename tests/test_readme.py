"""The README's promises: two commands, CI runs the test one; docs follow the catalogue."""

from __future__ import annotations

import re

from planner.docs import render
from tests.conftest import ROOT


def _commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", readme, flags=re.S)


def test_readme_has_exactly_two_commands() -> None:
    commands = _commands()
    assert len(commands) == 2
    assert "planner solve inputs/japan-2026.xlsx -o outputs/" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    assert _commands()[1] in (ROOT / ".ci" / "run").read_text()


def test_workbook_docs_are_generated_from_the_catalogue() -> None:
    assert (ROOT / "docs" / "workbook.md").read_text() == render()
