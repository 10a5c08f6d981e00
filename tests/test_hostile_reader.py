"""Hostile input that would hang the reader or take memory without limit (issue 10).

Every refusal is shown to come from arithmetic on sizes, counts and range
bounds, never from the time it takes: the parsers that would do the
expensive work are replaced by ones that fail if called.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import planner
import planner.io.reader as reader
from planner.changes import ChangeError, parse_values
from planner.checks import merge_issues
from planner.errors import InputError, Issue
from planner.io.limits import ReaderLimits
from tests import hostile
from tests.conftest import REFERENCE, ROOT

HAND = REFERENCE / "case-00-hand.xlsx"
GUARD_SECONDS = 120  # a hang guard only: a refusal takes far less on any machine
MEMORY_CAP = 2**30  # the CLI validates the hand case in less than 800 MB of address space
DEMAND_PART = "xl/worksheets/sheet3.xml"


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


def _memory_cap() -> None:
    """Give the child process 1 GB of address space: a runaway read fails there, not here."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


@contextlib.contextmanager
def _headroom(megabytes: int = 500) -> Iterator[None]:
    """Let this process grow by at most ``megabytes`` inside the block (MemoryError beyond)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    resource.setrlimit(
        resource.RLIMIT_AS, (pages * os.sysconf("SC_PAGE_SIZE") + megabytes * 2**20, hard)
    )
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _validate(path: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ``planner validate PATH`` in a fresh process, with guards against a hang."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "planner", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=GUARD_SECONDS,
        env=environment,
        cwd=ROOT,
        preexec_fn=_memory_cap,
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


# ---------------------------------------------------------------- merged ranges


def _with_merges(target: Path, *ranges: str, part: str = DEMAND_PART) -> Path:
    def merge(name: str, data: bytes) -> bytes:
        return hostile.merged_sheet(data, *ranges) if name == part else data

    return hostile.rewrite(target, merge)


def test_a_merge_over_the_whole_sheet_is_reported_by_its_bounds(tmp_path: Path) -> None:
    """An 8 KB file whose one merge covers 268 million cells: never one entry per cell."""
    whole = _with_merges(tmp_path / "plan.xlsx", "A2:IV1048576")
    assert whole.stat().st_size < 10_000
    result = _validate(whole)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines()[1:] == [
        "  Demand!A2:IV1048576: merged cells inside a table; unmerge them so that each value "
        "has its cell"
    ]


def test_merges_to_the_last_cell_are_read_by_their_bounds(tmp_path: Path) -> None:
    odd = _with_merges(tmp_path / "plan.xlsx", "B3:XFD1048576", "D9")
    assert reader.read_workbook(odd).sheets["Demand"].merged == ["B3:XFD1048576", "D9"]
    with _headroom():
        issue = _issue(odd)
    assert issue == (
        "Demand!B3:XFD1048576: merged cells inside a table; unmerge them so that each value "
        "has its cell"
    )


def test_a_merge_hides_only_the_cells_it_covers(tmp_path: Path) -> None:
    """The Demand rows under a merge of B3:B1048576 lose their period, but only those."""
    merged = _with_merges(tmp_path / "plan.xlsx", "B3:B1048576")
    with _headroom(), pytest.raises(InputError) as raised:
        planner.load(merged)
    assert [str(issue) for issue in raised.value.issues] == [
        "Demand!B3:B1048576: merged cells inside a table; unmerge them so that each value "
        "has its cell"
    ]


def test_checked_cells_inside_a_huge_range_are_not_reported_twice() -> None:
    parsed = [Issue("Demand!A2:XFD1048576", "merged cells inside a table")]
    checked = [
        Issue("Demand!B7", "period is required"),
        Issue("Demand!B1048577", "below the range"),
        Issue("Offers!B7", "another sheet"),
        Issue("Demand!1:1", "a row, not a cell"),
    ]
    with _headroom():
        joined = merge_issues(parsed, checked)
    assert [issue.where for issue in joined] == [
        "Demand!A2:XFD1048576",
        "Demand!B1048577",
        "Offers!B7",
        "Demand!1:1",
    ]


def test_rows_are_never_wider_than_the_column_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sheet declaring A1:XFD1048576 would make every row a tuple of 16,384 cells."""
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    def wide(name: str, data: bytes) -> bytes:
        if name != DEMAND_PART:
            return data
        data = data.replace(b'<dimension ref="A1:C5" />', b'<dimension ref="A1:XFD1048576"/>')
        return data.replace(b"</row></sheetData>", b'<c r="XFD5"><v>1</v></c></row></sheetData>')

    widths: list[int] = []
    get_row = ReadOnlyWorksheet._get_row

    def measured(self: Any, *args: Any, **kwargs: Any) -> Any:
        cells = get_row(self, *args, **kwargs)
        widths.append(len(cells))
        return cells

    monkeypatch.setattr(ReadOnlyWorksheet, "_get_row", measured)
    raw = reader.read_workbook(hostile.rewrite(tmp_path / "plan.xlsx", wide))
    assert widths and max(widths) == 256
    assert [number for number, _ in raw.sheets["Demand"].rows] == [2, 3, 4, 5]


# ---------------------------------------------------------------- sweeps of countless variants

TOO_MANY = "variants, more than the limit of 10,000 variants per sweep (PLANNER_MAX_VARIANTS)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0:1e12:1", f"'0:1e12:1': 1,000,000,000,001 {TOO_MANY}"),
        ("-1e308:1e308:1e-300", f"'-1e308:1e308:1e-300': countless {TOO_MANY}"),
        ("0:inf:1", "'0:inf:1': start, stop and step must be finite numbers"),
        ("nan:1:0.1", "'nan:1:0.1': start, stop and step must be finite numbers"),
        ("0:1:0", "'0:1:0': the step must go from start towards stop"),
        ("1,nan,2", "'1,nan,2': every value must be a finite number"),
        ("1," * 10_001, f"{'1,' * 10_001!r}: 10,001 {TOO_MANY}"),
    ],
)
def test_sweep_values_are_counted_before_they_are_made(text: str, message: str) -> None:
    with _headroom(), pytest.raises(ChangeError) as raised:
        parse_values(text)
    assert str(raised.value) == message


def test_the_variant_limit_is_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    values = parse_values
    assert values("1,2,3,4") == [1, 2, 3, 4]
    monkeypatch.setenv("PLANNER_MAX_VARIANTS", "3")
    with pytest.raises(ChangeError, match="4 variants, more than the limit of 3"):
        values("1,2,3,4")
    assert values("0:1:0.5") == [0, 0.5, 1]


def test_a_grid_is_counted_before_it_is_built() -> None:
    grid = {"china_share_max[Nd]": range(10**6), "china_share_max[Dy]": range(10**6)}
    with _headroom(), pytest.raises(ChangeError) as raised:
        planner.sweep(planner.load(HAND), grid, workers=1)
    assert str(raised.value) == (
        "the grid 1,000,000 (china_share_max[Nd]) x 1,000,000 (china_share_max[Dy]): "
        f"1,000,000,000,000 {TOO_MANY}"
    )


def test_vary_options_are_counted_on_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from planner.cli import app

    out = tmp_path / "sweep.xlsx"
    command = ["sweep", str(HAND), "-o", str(out), "--workers", "1"]
    with _headroom():
        huge = CliRunner().invoke(app, [*command, "--vary", "china_share_max[Nd]=0:1e12:1"])
        grid = CliRunner().invoke(
            app,
            [
                *command,
                "--vary",
                "china_share_max[Nd]=0:1:0.001",
                "--vary",
                "china_share_max[Dy]=0:1:0.01",
            ],
        )
    assert huge.exit_code == 2, huge.output
    assert f"--vary: '0:1e12:1': 1,000,000,000,001 {TOO_MANY}" in huge.stderr
    assert grid.exit_code == 2, grid.output
    assert (
        "--vary: the grid 1,001 (china_share_max[Nd]) x 101 (china_share_max[Dy]): "
        f"101,101 {TOO_MANY}"
    ) in grid.stderr
    assert not out.exists()


def test_the_sweep_sheet_is_counted_cell_by_cell(
    hand_sheets: dict[str, list[list[Any]]], make_workbook: Any
) -> None:
    rows = [
        ["china_share_max[Nd]", "0:1e12:1"],
        ["china_share_max[Nd]", "0:1:0.01"],
        ["china_share_max[Dy]", "0:1:0.001"],
        ["capacity[Dy-CN]", "10,11"],
    ]
    source = make_workbook({**hand_sheets, "Sweep": [["change", "values"], *rows]})
    with _headroom(), pytest.raises(InputError) as raised:
        planner.load(source)
    assert [str(issue) for issue in raised.value.issues] == [
        f"Sweep!B2: '0:1e12:1': 1,000,000,000,001 {TOO_MANY}",
        "Sweep!B4: the Sweep sheet's rows make 101,101 variants, more than the limit of "
        "10,000 variants per sweep (PLANNER_MAX_VARIANTS)",
    ]
