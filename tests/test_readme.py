"""The README's promises: two commands, CI runs the test one; docs follow the catalogue."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import planner
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


def _snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    [snippet] = re.findall(r"```python\n(.+?)\n```", readme, flags=re.S)
    return snippet


def _study_command(snippet: str) -> str:
    """Return the command the snippet's first comment says to run it with."""
    [command] = re.findall(r"run it with `([^`]+)`", snippet.splitlines()[0])
    return command


def test_the_study_command_is_the_first_commands_environment() -> None:
    """Issue 23.4: the first command makes .venv and never activates it; say its python."""
    command = _study_command(_snippet())
    assert shlex.split(command) == [".venv/bin/python", "study.py"]
    assert "python3.11 -m venv .venv && .venv/bin/pip install" in _commands()[0]


def test_the_python_snippet_runs_as_a_script_where_workers_start_afresh(
    tmp_path: Path, japan_small_workbook: Path
) -> None:
    """Workers started by spawn (macOS, Windows) import the script again: it must be guarded.

    The snippet runs as written, on the Japan case with three of its events in the place
    of inputs/japan-2026.xlsx (tests/conftest.py): a script and its workers are tested here,
    its six solves of the whole case took minutes.
    """
    snippet = _snippet()
    command = _study_command(snippet)
    script = tmp_path / "study.py"
    prelude = "import multiprocessing\nmultiprocessing.set_start_method('spawn', force=True)\n"
    script.write_text(prelude + snippet)
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "japan-2026.xlsx").symlink_to(japan_small_workbook)
    (tmp_path / "outputs").mkdir()
    (tmp_path / ".venv").symlink_to(sys.prefix)  # the environment the first command made
    path = os.pathsep.join(  # as in a fresh shell: that environment is not activated
        p for p in os.environ.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix)
    )
    done = subprocess.run(
        shlex.split(command),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard only
        env={**os.environ, "PATH": path, "VIRTUAL_ENV": ""},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("optimal ")
    assert (tmp_path / "outputs" / "tighter.xlsx").exists()
    assert "china_share_max[TOTAL]" in done.stdout


def test_the_readme_sweep_example_changes_every_total_cap(japan_case: planner.Case) -> None:
    """`--vary "china_share_max[TOTAL]=0.7:..."` sets the TOTAL cap of every period."""
    from planner.changes import apply_change
    from planner.model import derive

    case = japan_case
    readme = (ROOT / "README.md").read_text()
    [vary] = re.findall(r'--vary "(china_share_max\[TOTAL\])=([0-9.]+):', readme)
    name, first = vary
    apply_change(case, name, float(first))
    data = derive(case)
    totals = {
        (family, t): cap.value
        for family, cells in data.caps.items()
        if family[0] == "china_share_max"
        for (element, t), cap in cells.items()
        if element == "TOTAL"
    }
    assert totals and set(totals.values()) == {float(first)}


def test_the_readme_solve_line_is_what_planner_solve_prints(japan_cli: tuple[str, Path]) -> None:
    """The example line of `planner solve` in the README is the Japan case's, as printed."""
    readme = (ROOT / "README.md").read_text()
    [line] = re.findall(r"`planner solve` prints one line, for example\n`([^`]+)`", readme)
    shown, target = line.rsplit(" -> ", 1)
    assert target == "outputs/japan-2026-solution.xlsx"
    stdout, out = (
        japan_cli  # `planner solve inputs/japan-2026.xlsx -o .../japan-2026-solution.xlsx`
    )
    assert stdout.strip() == f"{shown} -> {out}"


def test_the_readme_lists_the_solution_sheets_in_the_workbook_order(tmp_path: Path) -> None:
    """Issue 23.11: the README's sheet table follows the workbook (Signings where it is)."""
    import planner
    from planner.io.writer import sheet_names
    from tests.conftest import REFERENCE

    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Reading the solution workbook", 1)[1].split("\n\n", 2)[1]
    listed = [
        name.strip()
        for row in re.findall(r"^\| ([^|]+) \|", table, flags=re.M)[2:]
        for name in row.split(" / ")
    ]
    result = planner.solve(planner.load(REFERENCE / "v2" / "v2-a3-later-signing.xlsx"))
    written = [n for n in sheet_names(result) if n in listed]
    assert "Signings" in written
    assert [n for n in listed if n in written] == written
