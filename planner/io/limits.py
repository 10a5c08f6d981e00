"""Limits on what the reader accepts: documented settings, checked before parsing.

Every limit can be changed for one call (``planner.load(path,
limits=ReaderLimits(max_rows=500_000))``) or for a process through the
environment variable named beside it. docs/hostile-input.md lists them with
what each bad input gets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

MB = 1024 * 1024


@dataclass(frozen=True)
class ReaderLimits:
    """Bounds on an input workbook.

    Attributes
    ----------
    max_file_bytes
        Largest file read at all (``PLANNER_MAX_FILE_BYTES``).
    max_unpacked_bytes
        Largest total size of the workbook's parts once unzipped, as its zip
        directory declares them (``PLANNER_MAX_UNPACKED_BYTES``).
    max_ratio
        Largest ratio of unpacked to packed size: a zip bomb packs gigabytes
        into kilobytes (``PLANNER_MAX_RATIO``).
    max_members
        Most parts in the zip archive (``PLANNER_MAX_MEMBERS``).
    max_part_bytes
        Largest unpacked size of any other part of the archive: shared strings,
        styles, the workbook's own XML, pictures (``PLANNER_MAX_PART_BYTES``).
    max_sheet_bytes
        Largest unpacked XML of one sheet; it bounds the time to parse the sheet
        (``PLANNER_MAX_SHEET_BYTES``). Sheets are found through the workbook's
        relationships, wherever their parts are stored.
    max_sheets
        Most worksheets (``PLANNER_MAX_SHEETS``).
    max_rows
        Most non-blank rows read from one sheet (``PLANNER_MAX_ROWS``).
    max_columns
        Columns read from each row; cells further right are not read
        (``PLANNER_MAX_COLUMNS``).
    max_blank_run
        Consecutive blank rows after which the rest of a sheet is not read,
        with a warning naming the row (formatting to the last row of a sheet
        makes a million blank rows) (``PLANNER_MAX_BLANK_RUN``).
    """

    max_file_bytes: int = 50 * MB
    max_unpacked_bytes: int = 200 * MB
    max_ratio: float = 200.0
    max_members: int = 2_000
    max_part_bytes: int = 10 * MB
    max_sheet_bytes: int = 10 * MB
    max_sheets: int = 100
    max_rows: int = 200_000
    max_columns: int = 256
    max_blank_run: int = 10_000
    max_variants: int = 10_000

    @classmethod
    def from_environment(cls) -> ReaderLimits:
        """Return the defaults, overridden by ``PLANNER_MAX_*`` environment variables."""
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = os.environ.get(f"PLANNER_{item.name.upper()}")
            if raw:
                values[item.name] = float(raw) if item.type == "float" else int(raw)
        return cls(**values)
