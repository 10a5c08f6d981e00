"""Hostile and broken workbooks: a clear message, a non-zero exit, nothing lost."""

from __future__ import annotations

import random
import subprocess
import sys
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

import planner
from planner.cli import app
from planner.errors import InputError
from planner.io.limits import ReaderLimits
from tests import hostile
from tests.conftest import REFERENCE, ROOT

runner = CliRunner()
Sheets = dict[str, list[list[Any]]]


def _refusal(path: Path, **kwargs: Any) -> tuple[str, bool, float]:
    """Load ``path``; return the first issue, whether any XML was parsed and the peak MB.

    "Refused before parsing" is what keeps a refusal down to milliseconds on
    any machine; it is checked as such, not with a clock.
    """
    opened: list[object] = []
    real = openpyxl.load_workbook

    def spied(*args: Any, **options: Any) -> Any:
        opened.append(args)
        return real(*args, **options)

    tracemalloc.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(openpyxl, "load_workbook", spied)
            with pytest.raises(InputError) as raised:
                planner.load(path, **kwargs)
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return str(raised.value.issues[0]), bool(opened), peak


# ---------------------------------------------------------------- not a workbook


NOT_WORKBOOKS: dict[str, Callable[[Path], bytes]] = {
    "random bytes": lambda _: random.Random(7).randbytes(4096),
    "truncated zip": lambda hand: hand.read_bytes()[:2000],
    "renamed pdf": lambda _: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n",
    "empty file": lambda _: b"",
    "encrypted workbook": lambda _: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4088),
}


@pytest.mark.parametrize("kind", sorted(NOT_WORKBOOKS))
def test_not_a_workbook_is_refused_with_a_clear_message(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "plan.xlsx"
    path.write_bytes(NOT_WORKBOOKS[kind](hostile.HAND))
    message, parsed, _ = _refusal(path)
    assert message.startswith("plan.xlsx: not an .xlsx workbook")
    assert not parsed


def test_encrypted_workbook_says_why(tmp_path: Path) -> None:
    path = tmp_path / "locked.xlsx"
    path.write_bytes(NOT_WORKBOOKS["encrypted workbook"](hostile.HAND))
    assert _refusal(path)[0] == (
        "locked.xlsx: not an .xlsx workbook (it is password-protected or an old .xls; "
        "save it as .xlsx without a password)"
    )


def test_a_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "letter.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    assert _refusal(path)[0] == (
        "letter.xlsx: not an .xlsx workbook (open it in Excel and save it as .xlsx)"
    )


@pytest.mark.parametrize("suffix", [".xls", ".ods", ".xlsb"])
def test_other_spreadsheet_formats_ask_for_xlsx(suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"plan{suffix}"
    path.write_bytes(b"anything")
    assert _refusal(path)[0] == f"plan{suffix}: '{suffix}' files are not read: save it as .xlsx"


def test_binary_workbook_renamed_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "plan.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.bin", b"\x83\x01")
    assert _refusal(path)[0] == "plan.xlsx: binary .xlsb workbooks are not read: save it as .xlsx"


def test_macro_workbook_is_read_with_macros_ignored(tmp_path: Path) -> None:
    path = hostile.rewrite(
        tmp_path / "plan.xlsm",
        lambda name, data: data,
        extra={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 macro code that is never run"},
    )
    result = planner.solve(planner.load(path), mip_gap=0)
    assert result.objective == pytest.approx(21_702)


# ---------------------------------------------------------------- resource attacks


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile.zip_bomb(tmp_path_factory.mktemp("bomb") / "bomb.xlsx", gigabytes=1.0)


def test_zip_bomb_is_refused_before_unpacking(zip_bomb: Path) -> None:
    assert zip_bomb.stat().st_size < 2 * 2**20  # a tiny file ...
    message, parsed, peak = _refusal(zip_bomb)  # ... of a gigabyte unpacked
    assert message == (
        "bomb.xlsx: the workbook unpacks to 1,024 MB, more than the limit of 200 MB "
        "(PLANNER_MAX_UNPACKED_BYTES)"
    )
    assert not parsed and peak < 20


def test_compression_ratio_is_bounded(zip_bomb: Path) -> None:
    limits = ReaderLimits(max_unpacked_bytes=2**40)
    message, _, _ = _refusal(zip_bomb, limits=limits)
    assert "more than the limit of 200 (PLANNER_MAX_RATIO): refused as a zip bomb" in message


@pytest.mark.parametrize("attack", ["billion_laughs", "external_entity"])
def test_xml_entities_are_refused(attack: str, tmp_path: Path) -> None:
    xml = getattr(hostile, attack)()
    path = hostile.rewrite(tmp_path / "plan.xlsx", hostile.replace_part(hostile.PERIODS_PART, xml))
    message, _, peak = _refusal(path)  # parsed by defusedxml, which refuses the entities
    assert message == (
        "plan.xlsx: not an .xlsx workbook (it declares XML entities or external references; "
        "refused)"
    )
    assert peak < 20  # nothing expanded: a billion laughs would be gigabytes


def test_defusedxml_parses_every_workbook() -> None:
    import defusedxml
    import openpyxl.xml.functions as xml

    assert openpyxl.xml.DEFUSEDXML
    assert xml.iterparse.__module__.startswith("defusedxml")
    assert defusedxml.__version__


def test_a_million_rows_are_refused_before_parsing(tmp_path: Path) -> None:
    xml = hostile.periods_sheet(hostile.period_rows(2, 1_000_001))
    path = hostile.rewrite(tmp_path / "plan.xlsx", hostile.replace_part(hostile.PERIODS_PART, xml))
    message, parsed, peak = _refusal(path)
    assert message.startswith("plan.xlsx: one sheet (xl/worksheets/sheet1.xml) unpacks to 100.7 MB")
    assert "(PLANNER_MAX_SHEET_BYTES)" in message
    assert not parsed and peak < 20


def test_formatting_to_the_last_row_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    pulled: dict[str, int] = {}
    real = ReadOnlyWorksheet.iter_rows

    def counted(self: ReadOnlyWorksheet, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for row in real(self, *args, **kwargs):
            pulled[self.title] = pulled.get(self.title, 0) + 1
            yield row

    monkeypatch.setattr(ReadOnlyWorksheet, "iter_rows", counted)
    rows = (
        '<row r="2"><c r="A2" t="inlineStr"><is><t>2026Q1</t></is></c><c r="B2"><v>90</v></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><is><t>2026Q2</t></is></c><c r="B3"><v>91</v></c></row>'
    )
    xml = hostile.periods_sheet(rows + hostile.formatted_rows(4, 220_000)).replace(
        b"<sheetData>", b'<dimension ref="A1:B220000"/><sheetData>'
    )
    path = hostile.rewrite(tmp_path / "plan.xlsx", hostile.replace_part(hostile.PERIODS_PART, xml))
    case = planner.load(path)
    assert pulled["Periods"] == 10_003  # not 220,000: the work is bounded, on any machine
    assert case.period_ids == ["2026Q1", "2026Q2"]
    assert [str(w) for w in case.warnings] == [
        "Periods: stopped reading at row 10003: 10,000 blank rows in a row (formatting to the "
        "end of the sheet?); rows below are not read"
    ]


def test_thousands_of_sheets_are_refused(tmp_path: Path) -> None:
    message, parsed, _ = _refusal(hostile.many_sheets(tmp_path / "plan.xlsx", 3000))
    assert message == (
        "plan.xlsx: the workbook has 3006 sheets, more than the limit of 100 (PLANNER_MAX_SHEETS)"
    )
    assert not parsed


def test_limits_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    hand = REFERENCE / "case-00-hand.xlsx"
    assert _refusal(hand, limits=ReaderLimits(max_rows=1))[0] == (
        "Periods: more than 1 rows, the limit (PLANNER_MAX_ROWS)"
    )
    monkeypatch.setenv("PLANNER_MAX_SHEETS", "3")
    assert "more than the limit of 3 (PLANNER_MAX_SHEETS)" in _refusal(hand)[0]


def test_every_limit_is_documented() -> None:
    page = (ROOT / "docs" / "hostile-input.md").read_text()
    for field in ReaderLimits.__dataclass_fields__:
        assert f"PLANNER_{field.upper()}" in page


# ---------------------------------------------------------------- silent data changes


def test_ids_stay_exactly_as_typed(
    hand_sheets: Sheets, make_workbook: Callable[..., Path], tmp_path: Path
) -> None:
    hand_sheets["Offers"][1][0] = "NA"
    hand_sheets["Offers"][2][0] = "0012"
    hand_sheets["Offers"][3][0] = True
    hand_sheets["Offers"].append(["None", "x", "Dy", "CN", None, None, 400, 1, None])
    case = planner.load(make_workbook(hand_sheets))
    assert list(case.offers.index) == ["NA", "0012", "TRUE", "None"]
    path = planner.solve(case).write(tmp_path / "plan.xlsx")
    contracts = openpyxl.load_workbook(path)["Contracts"]
    assert [row[0] for row in contracts.iter_rows(min_row=2, values_only=True)] == [
        "NA",
        "0012",
        "TRUE",
        "None",
    ]


def test_spaces_in_ids_are_normalised_with_a_warning(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    hand_sheets["Demand"][1][0] = " Nd\u00a0"
    hand_sheets["Offers"][3][0] = "Dy\u00a0CN"
    case = planner.load(make_workbook(hand_sheets))
    assert case.demand["element"].tolist()[0] == "Nd"
    assert "Dy CN" in case.offers.index
    assert [str(w) for w in case.warnings] == [
        "Demand!A2: element ' Nd\\xa0' had surrounding or non-breaking spaces; read as 'Nd'",
        "Offers!A4: offer 'Dy\\xa0CN' had surrounding or non-breaking spaces; read as 'Dy CN'",
    ]


def test_merged_cells_inside_a_table_are_an_error(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    path = make_workbook(hand_sheets)
    workbook = openpyxl.load_workbook(path)
    workbook["Demand"].merge_cells("A3:A4")
    workbook["Demand"].merge_cells("F10:G11")  # beside the table: harmless
    workbook.save(path)
    with pytest.raises(InputError) as raised:
        planner.load(path)
    assert [str(i) for i in raised.value.issues] == [
        "Demand!A3:A4: merged cells inside a table; unmerge them so that each value has its cell"
    ]


def test_blank_rows_inside_a_table_are_skipped(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    hand_sheets["Demand"][2:2] = [[None, None, None], [None, None, None]]
    case = planner.load(make_workbook(hand_sheets))
    assert len(case.demand) == 4
    assert planner.solve(case).objective == pytest.approx(21_702, rel=1e-4)


def test_hidden_sheets_are_read_with_a_warning(
    hand_sheets: Sheets, make_workbook: Callable[..., Path]
) -> None:
    path = make_workbook(hand_sheets)
    workbook = openpyxl.load_workbook(path)
    workbook["Policies"].sheet_state = "hidden"
    workbook.save(path)
    case = planner.load(path)
    assert len(case.policies) == 1
    assert [str(w) for w in case.warnings] == [
        "Policies: the sheet is hidden; it is read all the same"
    ]


# ---------------------------------------------------------------- output


UNSAFE_TEXT = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tindent", "\rreturn"]


def test_unsafe_text_is_written_inert_and_clean(
    hand_sheets: Sheets, make_workbook: Callable[..., Path], tmp_path: Path
) -> None:
    hand_sheets["Offers"] += [
        [f"X{i}", "", "Dy", "CN", None, None, 900, 1, None] for i in range(len(UNSAFE_TEXT))
    ]
    case = planner.load(make_workbook(hand_sheets))
    for i, text in enumerate(UNSAFE_TEXT):  # set from Python: the reader would trim the tab
        case.offers.loc[f"X{i}", "supplier"] = text
    case.offers.loc["Nd-CN", "supplier"] = "bell\x07 and nul\x00 end"  # set from Python
    case.offers.loc["Dy-CN", "supplier"] = "x" * 40_000  # over Excel's limit of a cell
    path = planner.solve(case).write(tmp_path / "plan.xlsx")
    workbook = openpyxl.load_workbook(path)
    suppliers = {row[1].value: row[1] for row in workbook["Contracts"].iter_rows(min_row=2)}
    for text in UNSAFE_TEXT:
        written = text.replace("\r", "\n")  # line ends are normalised to LF
        assert written in suppliers, text
        assert suppliers[written].data_type == "s"
    assert "bell and nul end" in suppliers
    assert len(max(suppliers, key=len)) == 32_767
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    assert len(cell.value) <= 32_767
                    assert "\x07" not in cell.value and "\x00" not in cell.value


def test_unwritable_folder_leaves_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tempfile

    def denied(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    result = runner.invoke(
        app, ["solve", str(REFERENCE / "case-00-hand.xlsx"), "-o", str(tmp_path / "plan.xlsx")]
    )
    assert result.exit_code == 4
    assert "cannot write there (Permission denied)" in result.stderr
    assert list(tmp_path.iterdir()) == []


_SLOW_SAVE = """
import sys, time, xlsxwriter
def slow_save(self):
    with open(self.filename, "wb") as stream:
        stream.write(b"PK half a workbook")
        stream.flush()
        time.sleep(600)  # until the test's signal: never reached its end
xlsxwriter.Workbook._store_workbook = slow_save
sys.argv = ["planner", "solve", sys.argv[1], "-o", sys.argv[2]]
from planner.cli import main
main()
"""


@pytest.fixture
def slow_writer(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    target = tmp_path / "plan.xlsx"
    target.write_bytes(b"last quarter's plan")
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_SAVE, str(REFERENCE / "case-00-hand.xlsx"), str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300  # a hang guard only: the marker is the partial file
    while not list(tmp_path.glob(".plan.*.partial.xlsx")):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    yield process, target
    process.kill()
    process.wait()


def test_termination_during_the_save_leaves_the_old_file(
    slow_writer: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, target = slow_writer
    process.terminate()
    _, err = process.communicate(timeout=300)  # a hang guard
    assert process.returncode == 130
    assert b"interrupted; nothing written" in err
    assert target.read_bytes() == b"last quarter's plan"
    assert [p.name for p in target.parent.iterdir()] == ["plan.xlsx"]


def test_a_killed_save_is_cleaned_up_by_the_next(
    slow_writer: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, target = slow_writer
    process.kill()
    process.wait()
    assert target.read_bytes() == b"last quarter's plan"  # the old plan is whole
    result = planner.solve(planner.load(REFERENCE / "case-00-hand.xlsx"))
    result.write(target)
    assert [p.name for p in target.parent.iterdir()] == ["plan.xlsx"]
    assert openpyxl.load_workbook(target).sheetnames[0] == "Summary"


# ---------------------------------------------------------------- solver faults


@pytest.fixture(scope="module")
def slow_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A case HiGHS takes seconds to solve (10 s on a busy machine), built in a few.

    The 17 x 20 x 20 x 20 case this was took some 20 s to build before HiGHS ran at all;
    the Ctrl-C arrives within milliseconds of HiGHS starting, either way.
    """
    from benchmarks.generate import Size, generate, write

    return write(
        generate(Size(10, 12, 16, 10), seed=0), tmp_path_factory.mktemp("slow") / "slow.xlsx"
    )


def test_a_limit_with_a_plan_is_not_called_optimal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Stopped by a limit before optimality is proven: the plan is written, never "optimal".

    The limit is HiGHS's solution limit (stop at its first plan), not a time
    limit: a time limit "with a plan" depends on the machine's speed (on a
    busy machine no plan may come within it). Any limit HiGHS reports is
    mapped alike (tests/test_api.py).
    """
    from functools import partial

    limited = partial(planner.solve, highs_options={"mip_max_improving_sols": 1})
    monkeypatch.setattr(planner, "solve", limited)
    out = tmp_path / "plan.xlsx"
    hand = str(REFERENCE / "case-00-hand.xlsx")
    result = runner.invoke(app, ["solve", hand, "-o", str(out), "--no-duals"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("time_limit (gap 0.4%): spend 20,702 USD, lost value 1,000 USD")
    summary = {
        r[0]: r[1] for r in openpyxl.load_workbook(out)["Summary"].iter_rows(values_only=True)
    }
    assert summary["status"] == "time_limit"
    assert summary["mip_gap"] > 1e-4
    assert summary["message"] == (
        "solver limit reached (HiGHS: Solution limit reached); the best plan found is "
        "reported with its gap"
    )


def test_a_limit_before_any_plan_exits_3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from functools import partial

    monkeypatch.setattr(
        planner, "solve", partial(planner.solve, highs_options={"mip_max_nodes": 0})
    )
    out = tmp_path / "plan.xlsx"
    result = runner.invoke(app, ["solve", str(REFERENCE / "case-05.xlsx"), "-o", str(out)])
    assert result.exit_code == 3
    assert (
        "no plan found (time_limit): solver limit reached (HiGHS: Solution limit reached) "
        "before any feasible plan was found; nothing written" in result.stderr
    )
    assert not out.exists()


def test_time_limit_without_a_plan_exits_3(tmp_path: Path) -> None:
    out = tmp_path / "plan.xlsx"
    result = runner.invoke(
        app, ["solve", str(REFERENCE / "case-05.xlsx"), "-o", str(out), "--time-limit", "1e-6"]
    )
    assert result.exit_code == 3
    assert (
        "no plan found (time_limit): time limit reached before any feasible plan" in result.stderr
    )
    assert not out.exists()


_ANNOUNCED_SOLVE = """
import sys, highspy
real = highspy.Highs.run
def announced(self):
    print("HiGHS is running", file=sys.stderr, flush=True)
    return real(self)
highspy.Highs.run = announced
sys.argv = ["planner", "solve", sys.argv[1], "-o", sys.argv[2]]
from planner.cli import main
main()
"""


def test_ctrl_c_during_the_solve_stops_cleanly(slow_case: Path, tmp_path: Path) -> None:
    """Ctrl-C once HiGHS is running (a printed marker says so), whatever the machine's speed."""
    import signal

    out = tmp_path / "plan.xlsx"
    process = subprocess.Popen(
        [sys.executable, "-c", _ANNOUNCED_SOLVE, str(slow_case), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    log = ""
    while "HiGHS is running" not in log:
        line = process.stderr.readline()
        assert line, log
        log += line
    process.send_signal(signal.SIGINT)  # the solve of this case takes seconds
    _, err = process.communicate(timeout=300)  # a hang guard
    assert process.returncode == 130
    assert "no plan found (interrupted): interrupted by the user; nothing written" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_a_solver_error_is_a_status_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import highspy

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("HiGHS crashed")

    monkeypatch.setattr(highspy.Highs, "run", broken)
    result = planner.solve(planner.load(REFERENCE / "case-00-hand.xlsx"))
    assert (result.status, result.has_plan) == ("error", False)
    assert result.summary["message"] == "solver error: HiGHS crashed"
    cli = runner.invoke(
        app, ["solve", str(REFERENCE / "case-00-hand.xlsx"), "-o", str(tmp_path / "plan.xlsx")]
    )
    assert cli.exit_code == 1
    assert "no plan found (error): solver error: HiGHS crashed; nothing written" in cli.stderr
    assert "Traceback" not in cli.output


def test_a_plan_that_breaks_the_rules_is_never_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import planner.api
    from planner.results import read_plan

    def tampered(model: Any, data: Any) -> Any:
        plan = read_plan(model, data)
        plan.purchase[0, 0, 0] += 1_000.0  # Nd-CN buys more than its capacity
        return plan

    monkeypatch.setattr(planner.api, "read_plan", tampered)
    out = tmp_path / "plan.xlsx"
    cli = runner.invoke(app, ["solve", str(REFERENCE / "case-00-hand.xlsx"), "-o", str(out)])
    assert cli.exit_code == 1
    assert "fails the planner's own check" in cli.stderr
    assert "purchase above capacity of Nd-CN in 2026Q1 (scenario base)" in cli.stderr
    assert not out.exists()
