"""Never overwrite, never lose a plan, and say truly what was written.

Each test here failed before its fix: an input written over by batch, sweep
or template; two plans written to one name; "nothing written" said of a
file that had been renamed into place; a finaliser's traceback after the
clean message on a full disk.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

import planner
from planner.cli import app
from tests.conftest import REFERENCE

runner = CliRunner()
HAND = REFERENCE / "case-00-hand.xlsx"


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter (a hang guard, not a speed limit)."""
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# ------------------------------------------------------------ interrupts, full disk

_TERMINATED_AFTER_RENAME = """
import os, signal, sys
real_replace = os.replace
def replace_then_terminated(source, target):
    real_replace(source, target)
    os.kill(os.getpid(), signal.SIGTERM)  # lands the moment the file is in place
os.replace = replace_then_terminated
sys.argv = ["planner", "solve", sys.argv[1], "-o", sys.argv[2]]
from planner.cli import main
main()
"""


def test_sigterm_right_after_the_rename_reports_the_written_plan(tmp_path: Path) -> None:
    target = tmp_path / "plan.xlsx"
    target.write_bytes(b"last quarter's plan")
    done = _run(_TERMINATED_AFTER_RENAME, str(HAND), str(target))
    assert done.returncode == 0, done.stderr
    assert "nothing written" not in done.stderr
    assert done.stdout.startswith("optimal: ") and done.stdout.rstrip().endswith(str(target))
    assert openpyxl.load_workbook(target).sheetnames[0] == "Summary"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.xlsx"]


def test_sigterm_after_the_rename_reaches_an_api_caller_with_the_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal

    import planner.io.atomic as atomic

    result = planner.solve(planner.load(HAND))
    real_replace = os.replace

    def replace_then_interrupted(source: str, target: str) -> None:
        real_replace(source, target)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(atomic.os, "replace", replace_then_interrupted)
    target = tmp_path / "plan.xlsx"
    with pytest.raises(KeyboardInterrupt):
        result.write(target)
    monkeypatch.undo()
    assert openpyxl.load_workbook(target).sheetnames[0] == "Summary"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.xlsx"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


_FULL_DISK = """
import errno, sys, zipfile
class FullDisk:
    def __init__(self, stream):
        self.stream, self.written = stream, 0
    def write(self, data):
        self.written += len(data)
        if self.written > 4096:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.stream.write(data)
    def __getattr__(self, name):
        return getattr(self.stream, name)
opened = zipfile.ZipFile.__init__
def on_a_full_disk(self, file, mode="r", *args, **kwargs):
    opened(self, file, mode, *args, **kwargs)
    if mode == "w":
        self.fp = FullDisk(self.fp)
zipfile.ZipFile.__init__ = on_a_full_disk
sys.argv = ["planner", *sys.argv[1:]]
from planner.cli import main
main()
"""


@pytest.mark.parametrize("command", ["solve", "template"])
def test_a_full_disk_prints_the_message_and_nothing_else(command: str, tmp_path: Path) -> None:
    target = tmp_path / "plan.xlsx"
    args = ["solve", str(HAND), "-o", str(target)] if command == "solve" else [command, str(target)]
    done = _run(_FULL_DISK, *args)
    assert done.returncode == 4, done.stderr
    assert "No space left on device" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------ batch


def _digests(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_batch_into_its_own_folder_writes_over_no_input(tmp_path: Path) -> None:
    folder = tmp_path / "cases"
    folder.mkdir()
    for name in ("a.xlsx", "a-solution.xlsx", "batch-summary.xlsx"):
        shutil.copy(HAND, folder / name)
    before = _digests(folder)
    done = runner.invoke(app, ["batch", str(folder), "-o", str(folder), "--workers", "1"])
    assert done.exit_code == 0, done.output
    after = _digests(folder)
    assert {name: after[name] for name in before} == before  # every input as it was
    assert sorted(set(after) - set(before)) == [
        "a-solution-2.xlsx",  # a.xlsx's plan: a-solution.xlsx is an input
        "a-solution-solution.xlsx",
        "batch-summary-2.xlsx",  # the roll-up: batch-summary.xlsx is an input
        "batch-summary-solution.xlsx",
    ]
    roll_up = openpyxl.load_workbook(folder / "batch-summary-2.xlsx")["Batch"]
    header = [cell.value for cell in roll_up[1]]
    at = header.index("output")
    outputs = {row[0]: row[at] for row in roll_up.iter_rows(min_row=2, values_only=True)}
    assert outputs == {
        "a-solution.xlsx": "a-solution-solution.xlsx",
        "a.xlsx": "a-solution-2.xlsx",
        "batch-summary.xlsx": "batch-summary-solution.xlsx",
    }
    assert "roll-up " + str(folder / "batch-summary-2.xlsx") in done.stdout


def test_batch_keeps_both_plans_of_inputs_that_share_a_name(tmp_path: Path) -> None:
    folder, out = tmp_path / "cases", tmp_path / "out"
    folder.mkdir()
    shutil.copy(HAND, folder / "b.xlsx")
    shutil.copy(REFERENCE / "case-01.xlsx", folder / "b.xlsm")
    done = runner.invoke(app, ["batch", str(folder), "-o", str(out), "--workers", "1"])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in out.iterdir()) == [
        "b-xlsm-solution.xlsx",
        "b-xlsx-solution.xlsx",
        "batch-summary.xlsx",
    ]
    sources = {
        dict(openpyxl.load_workbook(out / name)["Summary"].iter_rows(values_only=True, max_col=2))[
            "input_sha256"
        ]
        for name in ("b-xlsm-solution.xlsx", "b-xlsx-solution.xlsx")
    }
    assert len(sources) == 2  # two plans, from two different inputs


def test_a_solution_is_never_written_over_another_input(tmp_path: Path) -> None:
    from planner.batch import solve_one

    folder = tmp_path / "cases"
    folder.mkdir()
    shutil.copy(HAND, folder / "a.xlsx")
    other = folder / "other.xlsx"
    other.write_bytes(b"someone's workbook")
    row = solve_one(folder / "a.xlsx", other, {}, (str(folder / "a.xlsx"), str(other)))
    assert row["outcome"] == "not written"
    assert "refusing to overwrite the input workbook" in row["error"]
    assert other.read_bytes() == b"someone's workbook"


# ------------------------------------------------------------ sweep and template


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[planner.SweepResult, Path]:
    source = tmp_path_factory.mktemp("sweep") / "case.xlsx"
    shutil.copy(HAND, source)
    case = planner.load(source)
    return planner.sweep(case, {"china_share_max[Nd]": [0.5, 0.6]}, workers=1), source


def test_a_sweep_is_never_written_over_its_input(
    study: tuple[planner.SweepResult, Path], tmp_path: Path
) -> None:
    result, source = study
    before = source.read_bytes()
    with pytest.raises(planner.PlannerError, match="refusing to overwrite the input workbook"):
        result.write(source)
    assert source.read_bytes() == before
    copy = tmp_path / "copy-of-the-input.xlsx"  # the same workbook by content
    shutil.copy(source, copy)
    with pytest.raises(planner.PlannerError, match="refusing to overwrite the input workbook"):
        result.write(copy)
    assert copy.read_bytes() == before
    assert result.write(tmp_path / "sweep.xlsx").exists()


def test_template_refuses_to_replace_a_workbook_unless_forced(tmp_path: Path) -> None:
    from planner.io.template import write_template

    filled = tmp_path / "filled.xlsx"
    shutil.copy(HAND, filled)
    done = runner.invoke(app, ["template", str(filled)])
    assert done.exit_code == 4
    assert "already exists; not replaced by an empty template" in done.stderr
    assert filled.read_bytes() == HAND.read_bytes()
    with pytest.raises(planner.PlannerError, match="already exists"):
        write_template(filled)
    assert filled.read_bytes() == HAND.read_bytes()
    forced = runner.invoke(app, ["template", str(filled), "--force"])
    assert forced.exit_code == 0, forced.output
    assert openpyxl.load_workbook(filled).sheetnames[0] == "Instructions"


def _handlers_after_a_save(folder: str) -> bool:
    """Write a template; tell whether Ctrl-C and SIGTERM are back to their handlers."""
    import signal

    from planner.io.template import write_template

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    write_template(Path(folder) / "template.xlsx")
    return (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_worker_forked_while_reporting_does_not_hold_interrupts(tmp_path: Path) -> None:
    import multiprocessing

    from planner.io.atomic import outcome_reported

    with outcome_reported():
        context = multiprocessing.get_context("fork")
        with context.Pool(1) as pool:
            assert pool.apply(_handlers_after_a_save, (str(tmp_path),))


def test_a_command_that_reports_no_file_does_not_hold_interrupts(tmp_path: Path) -> None:
    from planner.cli import _guard

    saved: list[bool] = []

    def serve_a_template() -> int:  # as the server does for /template.xlsx
        saved.append(_handlers_after_a_save(str(tmp_path)))
        return 0

    assert _guard(serve_a_template, debug=False, reports_files=False) == 0
    assert saved == [True]


# ------------------------------------------------------------ temporary files


def test_a_save_removes_only_its_own_names_dead_temporary_files(tmp_path: Path) -> None:
    """Saving plan.xlsx leaves the live temporary file of plan.<N>.xlsx alone.

    The clean-up once read ``.plan.2026.<pid>.<random>.partial.xlsx`` (another
    process writing ``plan.2026.xlsx``) as a file of ``plan.xlsx`` left by a
    dead process 2026, and deleted it mid-write.
    """
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its id is a process that no longer exists
    live = tmp_path / f".plan.{dead.pid}.{os.getpid()}.abcd_123.partial.xlsx"  # plan.<N>.xlsx
    stale = tmp_path / f".plan.{dead.pid}.x7y8z9_0.partial.xlsx"  # plan.xlsx, writer killed
    for path in (live, stale):
        path.write_bytes(b"PK being written")
    planner.solve(planner.load(HAND)).write(tmp_path / "plan.xlsx")
    assert live.read_bytes() == b"PK being written"
    assert not stale.exists()
    assert (tmp_path / "plan.xlsx").exists()


def test_a_temporary_name_with_no_possible_process_id_is_left_alone(tmp_path: Path) -> None:
    odd = tmp_path / ".plan.99999999999999999999999.abcdefgh.partial.xlsx"  # was OverflowError
    odd.write_bytes(b"PK someone's")
    planner.solve(planner.load(HAND)).write(tmp_path / "plan.xlsx")
    assert odd.exists() and (tmp_path / "plan.xlsx").exists()
