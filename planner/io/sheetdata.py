"""A table's rows written as sheet XML in bulk, into an XlsxWriter worksheet.

XlsxWriter's ``write_*`` calls cost several microseconds a cell (argument
checks, a cell tuple, XML escaping, one file write per cell): about three
quarters of writing a solution workbook of a million cells. Here the
``<row>``/``<c>`` XML of a whole table is made column by column and written
to the worksheet's row file in large blocks:

* text goes into the workbook's shared-string table, so each distinct text
  (an offer, a period, a node's scenarios) is stored once and cells refer to
  it by number; XlsxWriter writes and escapes that table. Text is never a
  formula. A text XlsxWriter would take for pre-rendered rich text (``<r>``
  ... ``</r>``) is written as an escaped in-line string instead;
* numbers are numbers, written as Python's shortest exact ``repr`` (they
  read back bit for bit), with the column's number format;
* blanks (None, NaN, infinities) are no cell at all.

It uses what XlsxWriter's ``constant_memory`` mode keeps on a worksheet (the
row file ``row_data_fh``, ``previous_row``, the pending row ``table``, the
shared ``str_table``, ``_write_single_row`` and ``_check_dimensions``, and a
format's ``_get_xf_index``), the
same in XlsxWriter 1.x to 3.x. :func:`write_rows` checks for them and returns
False when any is missing (another mode or version); the caller then writes
cell by cell. ``tests/test_writer.py`` checks that the installed XlsxWriter
takes this path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from xlsxwriter.utility import xl_col_to_name

if TYPE_CHECKING:
    from xlsxwriter.format import Format
    from xlsxwriter.worksheet import Worksheet

__all__ = ["looks_like_rich_text", "supported", "write_rows"]

#: Rows made at a time: bounds the memory of the cell texts.
BLOCK = 20_000

_INTERNALS = (
    "row_data_fh",
    "previous_row",
    "table",
    "str_table",
    "_write_single_row",
    "_check_dimensions",
)
_ESCAPED = re.compile(r"(_x[0-9a-fA-F]{4}_)")


def looks_like_rich_text(text: str) -> bool:
    """Tell whether XlsxWriter would store ``text`` as pre-rendered rich text, unescaped."""
    return text.startswith("<r>") and text.endswith("</r>")


def supported(sheet: Worksheet) -> bool:
    """Tell whether ``sheet`` is a constant-memory worksheet whose row file can be written."""
    return (
        bool(getattr(sheet, "constant_memory", False))
        and all(hasattr(sheet, name) for name in _INTERNALS)
        and getattr(sheet, "row_data_fh", None) is not None
        and not getattr(sheet, "row_data_fh_closed", False)
    )


def _inline(text: str) -> str:
    """Return an in-line string cell's tail (``t="inlineStr"``), escaped as XlsxWriter does."""
    text = _ESCAPED.sub(r"_x005F\1", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f' t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


#: Whole numbers below this are written without a decimal point (exact as integers).
_WHOLE = 2.0**53


def _numbers(array: np.ndarray) -> list[Any]:
    """Floats as Python numbers: whole ones as int (``58``, as Excel writes them), others float."""
    with np.errstate(invalid="ignore"):
        whole = (np.abs(array) < _WHOLE) & (array == np.trunc(array))
    if not whole.any():
        return list(array.tolist())
    values = array.astype(object)
    values[whole] = array[whole].astype(np.int64).tolist()
    return list(values.tolist())


class _Column:
    """How the cells of one column are made: its letter, number style, and the shared strings."""

    def __init__(self, index: int, style: Format | None, sheet: Worksheet, plain: Any) -> None:
        self.letter = xl_col_to_name(index)
        xf = style._get_xf_index() if style is not None else 0
        self.style = f' s="{xf}"' if xf else ""
        self.strings = sheet.str_table
        self.plain = plain

    def cells(self, values: pd.Series, rows: list[str]) -> list[str]:
        """Return the ``<c>`` XML of each value ('' for a blank)."""
        dtype = values.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
            array = values.to_numpy()
            if dtype.kind == "b":
                array = array.astype(np.int64)
            head, tail = f'<c r="{self.letter}', f'"{self.style}><v>'
            if dtype.kind == "f":
                finite = np.isfinite(array)
                return [
                    f"{head}{row}{tail}{value}</v></c>" if ok else ""
                    for row, value, ok in zip(rows, _numbers(array), finite.tolist(), strict=True)
                ]
            return [
                f"{head}{row}{tail}{value}</v></c>"
                for row, value in zip(rows, array.tolist(), strict=True)
            ]
        return self._mixed(values, rows)

    def _mixed(self, values: pd.Series, rows: list[str]) -> list[str]:
        """Cells of text (or of anything else): each distinct value is made once."""
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        used = np.bincount(codes[codes >= 0], minlength=len(uniques)).tolist()
        tails = [self._tail(value, count) for value, count in zip(uniques, used, strict=True)]
        head = f'<c r="{self.letter}'
        return [
            f"{head}{row}{tails[code]}" if code >= 0 and tails[code] else ""
            for row, code in zip(rows, codes.tolist(), strict=True)
        ]

    def _tail(self, value: Any, count: int) -> str:
        """Return the cell XML after its reference, for ``value`` written ``count`` times."""
        value = self.plain(value)
        if value is None:
            return ""
        if not isinstance(value, str):
            whole = isinstance(value, float) and value.is_integer() and abs(value) < _WHOLE
            number = int(value) if whole else value
            return f'"{self.style}><v>{number!r}</v></c>'
        if looks_like_rich_text(value):
            return f'"{_inline(value)}'  # XlsxWriter would write it unescaped as rich text
        index = self.strings._get_shared_string_index(value)
        self.strings.count += count - 1  # references, as the table's count attribute says
        return f'" t="s"><v>{index}</v></c>'


def write_rows(
    sheet: Worksheet,
    frame: pd.DataFrame,
    first_row: int,
    styles: list[Format | None],
    plain: Callable[[Any], Any],
) -> bool:
    """Write ``frame``'s rows from ``first_row`` (0-based) on; False when not possible here.

    Parameters
    ----------
    sheet
        A constant-memory worksheet whose rows so far end above ``first_row``.
    frame
        The table (its header is written by the caller).
    first_row
        The sheet row of the table's first row.
    styles
        Each column's format of its numbers (None: none); text cells have
        no format, as ``write_string`` without one.
    plain
        Turns a value into what a cell holds: int, float, cleaned text or None.

    Returns
    -------
    bool
        False (nothing written) when ``sheet`` is not a constant-memory
        worksheet of a known XlsxWriter, or rows at or below ``first_row``
        were written already.
    """
    if not supported(sheet) or first_row <= sheet.previous_row:
        return False
    if frame.empty:
        return True
    last = first_row + len(frame) - 1
    sheet._check_dimensions(first_row, 0)
    sheet._check_dimensions(last, len(frame.columns) - 1)
    sheet._write_single_row(last)  # the rows pending above; later writes go below ours
    columns = [_Column(j, style, sheet, plain) for j, style in enumerate(styles)]
    stream = sheet.row_data_fh
    for start in range(0, len(frame), BLOCK):
        block = frame.iloc[start : start + BLOCK]
        rows = [str(row + 1) for row in range(first_row + start, first_row + start + len(block))]
        cells = [column.cells(block.iloc[:, j], rows) for j, column in enumerate(columns)]
        stream.write(
            "".join(
                f'<row r="{row}">{"".join(each)}</row>'
                for row, *each in zip(rows, *cells, strict=True)
            )
        )
    return True
