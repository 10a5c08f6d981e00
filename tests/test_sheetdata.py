"""Tables written as sheet XML in bulk read back exactly as the cell-by-cell writer's do."""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
import xlsxwriter

from planner.io import sheetdata, writer
from planner.io.writer import Formats, write_table

TEXTS = [
    "=1+1",
    "+SUM(A1)",
    "@cmd",
    " padded ",
    "a & b < c > d \"q\" 'p'",
    "_x0041_",  # Excel's escape of a character: must stay these seven characters
    "<r><t>rich</t></r>",  # XlsxWriter writes a shared string like this as raw XML
    "<r>",
    "line\nbreak",
    "bell\x07 end",
    "Nd|Pr|Dy",
    "日本",
]


def _frame() -> pd.DataFrame:
    n = len(TEXTS)
    return pd.DataFrame(
        {
            "offer": pd.Series(TEXTS, dtype="str"),
            "node": np.arange(n, dtype=np.int64),
            "quantity": [
                *(0.1 + 0.2, 1 / 3, math.nan, math.inf, -0.0, 58.0, 1e-300, 2.5e20),
                *(123456789.123456789, -math.inf, 7.0, 1e16),
            ],
            "adopted": [True, False] * (n // 2),
            "mixed": [1, "x", None, 2.5, True, "=A1", math.nan, np.int64(4), 3.0, "", "7", pd.NA],
            "nullable": pd.array([1, None] * (n // 2), dtype="Int64"),
            "empty": [None] * n,
        }
    )


def _write(path: Path, frame: pd.DataFrame, constant_memory: bool = True) -> bool:
    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": constant_memory,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    sheet = workbook.add_worksheet("T")
    fast = sheetdata.supported(sheet)
    write_table(sheet, frame, Formats(workbook))
    workbook.close()
    return fast


def _cells(path: Path) -> list[list[Any]]:
    sheet = openpyxl.load_workbook(path)["T"]
    return [[(c.value, c.data_type, c.number_format) for c in row] for row in sheet.iter_rows()]


def _expected(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def test_the_installed_xlsxwriter_takes_the_bulk_path(tmp_path: Path) -> None:
    assert _write(tmp_path / "fast.xlsx", _frame(), constant_memory=True)
    assert not _write(tmp_path / "slow.xlsx", _frame(), constant_memory=False)


def test_every_value_reads_back_exactly(tmp_path: Path) -> None:
    frame = _frame()
    _write(tmp_path / "fast.xlsx", frame, constant_memory=True)
    rows = _cells(tmp_path / "fast.xlsx")
    assert [value for value, _, _ in rows[0]] == list(frame.columns)
    for i, row in enumerate(rows[1:]):
        offer, node, quantity, adopted, mixed, nullable = (value for value, _, _ in row[:6])
        text = TEXTS[i].replace("\x07", "")
        assert (offer, row[0][1]) == (text, "s")  # text stays text, never a formula
        assert node == i
        expected = _expected(frame["quantity"][i])
        assert quantity == expected  # exact: no rounding to 16 digits
        assert adopted == int(frame["adopted"][i])
        value = _expected(frame["mixed"][i])
        if isinstance(value, str) or value is None:
            assert mixed == value, i
        else:
            assert mixed == value and not isinstance(mixed, str), i
        assert nullable == _expected(frame["nullable"][i])
        assert row[6][0] is None
    formats = {rows[0][c][0]: rows[1][c][2] for c in range(3)}
    assert formats["quantity"] == "#,##0.00"  # the column's number format
    assert all(rows[1][c][2] == "General" for c in (0,))  # text has none


def test_whole_numbers_read_back_as_integers(tmp_path: Path) -> None:
    _write(tmp_path / "fast.xlsx", _frame(), constant_memory=True)
    quantities = [row[2][0] for row in _cells(tmp_path / "fast.xlsx")[1:]]
    assert quantities[5] == 58 and isinstance(quantities[5], int)  # as Excel writes 58.0
    assert quantities[0] == 0.1 + 0.2 != 0.3  # exact, not rounded to 16 digits


def test_the_bulk_path_reads_back_as_the_cell_by_cell_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = _frame()
    _write(tmp_path / "fast.xlsx", frame)
    monkeypatch.setattr(writer, "write_rows", lambda *args: False)  # the fallback
    _write(tmp_path / "slow.xlsx", frame)
    fast, slow = _cells(tmp_path / "fast.xlsx"), _cells(tmp_path / "slow.xlsx")
    for i, (a, b) in enumerate(zip(fast, slow, strict=True)):
        for (va, ta, fa), (vb, tb, fb) in zip(a, b, strict=True):
            assert (ta, fa) == (tb, fb), i
            if vb == "_x005F_x0041_":  # an in-line string's escape that openpyxl does not undo
                vb = "_x0041_"  # (Excel does; both paths show the same text there)
            if isinstance(va, float) and isinstance(vb, float):
                assert va == pytest.approx(vb, rel=1e-15)
            else:
                assert va == vb, i


def test_each_text_is_stored_once(tmp_path: Path) -> None:
    frame = pd.DataFrame({"offer": ["Nd-00", "Nd-01"] * 500, "q": np.arange(1000.0)})
    _write(tmp_path / "fast.xlsx", frame, constant_memory=True)
    with zipfile.ZipFile(tmp_path / "fast.xlsx") as archive:
        strings = archive.read("xl/sharedStrings.xml").decode()
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert re.findall(r"<t>(Nd-0\d)</t>", strings) == ["Nd-00", "Nd-01"]
    assert "Nd-0" not in sheet
    assert 'count="1000"' in strings  # the references, as the table declares them


def test_rows_of_a_large_table_come_in_blocks(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(sheetdata, "BLOCK", 7)
    frame = pd.DataFrame({"offer": [f"o{i % 5}" for i in range(30)], "q": np.arange(30.0)})
    _write(tmp_path / "fast.xlsx", frame, constant_memory=True)
    rows = _cells(tmp_path / "fast.xlsx")
    assert [[v for v, _, _ in row] for row in rows[1:]] == [[f"o{i % 5}", i] for i in range(30)]
    sheet = openpyxl.load_workbook(tmp_path / "fast.xlsx")["T"]
    assert sheet.dimensions == "A1:B31"
    assert sheet.auto_filter.ref == "A1:B31"
    assert sheet.freeze_panes == "A2"


def test_text_reads_back_literally_without_constant_memory(tmp_path: Path) -> None:
    """The sweep and batch workbooks keep every cell in memory: shared strings, cell by cell."""
    assert not _write(tmp_path / "slow.xlsx", _frame(), constant_memory=False)
    offers = [row[0] for row in _cells(tmp_path / "slow.xlsx")[1:]]
    assert [value for value, _, _ in offers] == [text.replace("\x07", "") for text in TEXTS]
    assert {kind for _, kind, _ in offers} == {"s"}
