"""Hostile input that would hang the reader or take memory without limit (issue 10).

Every refusal is shown to come from arithmetic on sizes, counts and range
bounds, never from the time it takes: the parsers that would do the
expensive work are replaced by ones that fail if called.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import planner
import planner.io.reader as reader
from planner.errors import InputError
from planner.io.limits import ReaderLimits
from tests import hostile
from tests.conftest import REFERENCE, ROOT

HAND = REFERENCE / "case-00-hand.xlsx"
GUARD_SECONDS = 120  # a hang guard only: a refusal takes far less on any machine


def _issue(path: Path, **kwargs: Any) -> str:
    with pytest.raises(InputError) as raised:
        planner.load(path, **kwargs)
    return str(raised.value.issues[0])


@pytest.fixture
def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if openpyxl is asked to open the workbook (shared strings, styles, sheets)."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the workbook was parsed before the refusal")

    monkeypatch.setattr(reader.openpyxl, "load_workbook", refuse)


def _validate(path: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ``planner validate PATH`` in a fresh process, with a guard against a hang."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "planner", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=GUARD_SECONDS,
        env=environment,
        cwd=ROOT,
    )


# ---------------------------------------------------------------- not a regular file


def test_dev_zero_is_refused_without_reading_it() -> None:
    result = _validate("/dev/zero")
    assert result.returncode == 2, result.stderr
    assert (
        "zero: not a regular file (a device, a pipe or a socket)" in result.stdout + result.stderr
    )


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    pipe = tmp_path / "plan.xlsx"
    os.mkfifo(pipe)
    result = _validate(pipe)
    assert result.returncode == 2, result.stderr
    assert "plan.xlsx: not a regular file" in result.stdout + result.stderr


def test_a_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "plan.xlsx"
    folder.mkdir()
    result = _validate(folder)
    assert result.returncode == 2
    assert "plan.xlsx: is a folder, not a workbook" in result.stdout + result.stderr


def test_a_loop_of_symbolic_links_is_refused(tmp_path: Path) -> None:
    first, second = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    first.symlink_to(second)
    second.symlink_to(first)
    result = _validate(first)
    assert result.returncode == 2
    assert "a.xlsx: cannot read the file: a loop of symbolic links" in (
        result.stdout + result.stderr
    )


def test_a_symbolic_link_to_a_workbook_is_read(tmp_path: Path) -> None:
    link = tmp_path / "plan.xlsx"
    link.symlink_to(HAND)
    assert planner.load(link).periods.index.tolist() == ["2026Q1", "2026Q2"]


def test_a_file_that_grows_while_read_stops_at_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``stat`` says 10 bytes; by the time it is read the file holds far more."""
    growing = tmp_path / "plan.xlsx"
    growing.write_bytes(HAND.read_bytes())
    check = reader._check_file

    def at_ten_bytes(status: os.stat_result, path: Path, limits: ReaderLimits) -> int:
        return check(os.stat_result((*status[:6], 10, *status[7:10])), path, limits)

    monkeypatch.setattr(reader, "_check_file", at_ten_bytes)
    assert _issue(growing, limits=ReaderLimits(max_file_bytes=1000)) == (
        "plan.xlsx: the file grew past the limit of 1,000 bytes (PLANNER_MAX_FILE_BYTES) "
        "while it was read"
    )


# ---------------------------------------------------------------- every part has a limit


def test_huge_shared_strings_are_refused_before_parsing(tmp_path: Path, no_parsing: None) -> None:
    bloated = hostile.shared_strings(tmp_path / "plan.xlsx", megabytes=12)
    assert bloated.stat().st_size < 8 * 2**20  # within the file limit and the zip-bomb ratio
    assert _issue(bloated) == (
        "plan.xlsx: one part (xl/sharedStrings.xml) unpacks to 12 MB, more than the limit "
        "of 10 MB (PLANNER_MAX_PART_BYTES)"
    )


def test_huge_styles_are_refused_before_parsing(tmp_path: Path, no_parsing: None) -> None:
    styles = hostile.styles(kilobytes=300)
    bloated = hostile.rewrite(tmp_path / "plan.xlsx", hostile.replace_part("xl/styles.xml", styles))
    limits = ReaderLimits(max_part_bytes=200 * 1024, max_ratio=10_000)
    assert _issue(bloated, limits=limits) == (
        "plan.xlsx: one part (xl/styles.xml) unpacks to 307,373 bytes, more than the limit "
        "of 204,800 bytes (PLANNER_MAX_PART_BYTES)"
    )


def test_a_part_limit_is_an_environment_variable(
    tmp_path: Path, no_parsing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANNER_MAX_PART_BYTES", "5000")
    assert ReaderLimits.from_environment().max_part_bytes == 5000
    assert "one part (xl/theme/theme1.xml) unpacks to" in _issue(HAND)


def test_sheets_stored_elsewhere_count_as_sheets(tmp_path: Path, no_parsing: None) -> None:
    hidden = hostile.many_sheets(tmp_path / "plan.xlsx", 150, folder="xl/media/")
    assert _issue(hidden) == (
        "plan.xlsx: the workbook has 156 sheets, more than the limit of 100 (PLANNER_MAX_SHEETS)"
    )


def test_a_sheet_stored_elsewhere_has_the_sheet_limit(tmp_path: Path, no_parsing: None) -> None:
    rows = hostile.periods_sheet(hostile.period_rows(2, 3000))
    big = hostile.many_sheets(tmp_path / "plan.xlsx", 1, folder="custom/", sheet=rows)
    limits = ReaderLimits(max_sheet_bytes=100_000, max_part_bytes=100_000)
    issue = _issue(big, limits=limits)
    assert issue.startswith("plan.xlsx: one sheet (custom/extra0.xml) unpacks to 0.3 MB")
    assert "(PLANNER_MAX_SHEET_BYTES)" in issue


def test_one_part_named_by_many_sheets_counts_each_time(tmp_path: Path, no_parsing: None) -> None:
    rows = hostile.periods_sheet(hostile.period_rows(2, 300))
    shared = hostile.many_sheets(tmp_path / "plan.xlsx", 90, share=True, sheet=rows)
    assert len(reader.zipfile.ZipFile(shared).namelist()) < 20  # one part, 90 sheets
    limits = ReaderLimits(max_unpacked_bytes=2 * 2**20)
    assert _issue(shared, limits=limits) == (
        "plan.xlsx: the sheets unpack to 2.4 MB, more than the limit of 2 MB "
        "(PLANNER_MAX_UNPACKED_BYTES)"
    )


def test_a_workbook_within_every_limit_is_still_read() -> None:
    assert planner.load(HAND).offers.index.tolist() == ["Nd-CN", "Nd-MY", "Dy-CN"]
