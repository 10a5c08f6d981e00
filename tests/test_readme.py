"""The README's promises: two commands, CI runs the test one; docs follow the catalogue."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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


def test_the_python_snippet_runs_as_a_script_where_workers_start_afresh(tmp_path: Path) -> None:
    """Workers started by spawn (macOS, Windows) import the script again: it must be guarded."""
    script = tmp_path / "study.py"
    prelude = "import multiprocessing\nmultiprocessing.set_start_method('spawn', force=True)\n"
    script.write_text(prelude + _snippet())
    (tmp_path / "inputs").symlink_to(ROOT / "inputs")
    (tmp_path / "outputs").mkdir()
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard only
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("optimal ")
    assert (tmp_path / "outputs" / "tighter.xlsx").exists()
    assert "china_share_max[TOTAL]" in done.stdout


def test_the_readme_sweep_example_changes_every_total_cap() -> None:
    """`--vary "china_share_max[TOTAL]=0.7:..."` sets the TOTAL cap of every period."""
    import planner
    from planner.changes import apply_change
    from planner.model import derive

    case = planner.load(ROOT / "inputs" / "japan-2026.xlsx")
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
