"""The input contract, read from the schema catalogue in ``models/sourcing``.

The catalogue (``sheets.csv``, ``columns.csv``, ``settings.csv``) is the one
place that declares every sheet, column, type, bound and default. Validation,
the template workbook and the docs are all driven from it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_PACKAGED = Path(__file__).parent / "_models" / "sourcing"
_REPOSITORY = Path(__file__).resolve().parent.parent / "models" / "sourcing"

#: Sheets that document a workbook and are never read as input.
DOCUMENTATION_SHEETS = ("Notes", "Instructions", "Lists")

#: Ids that cannot be element ids.
RESERVED_ELEMENT_IDS = ("light", "heavy", "TOTAL")


@dataclass(frozen=True)
class Column:
    """One column of an input sheet, as declared in ``columns.csv``."""

    sheet: str
    name: str
    required: bool
    type: str  # id | ref | text | code | number | enum
    ref: str | None
    values: tuple[str, ...]
    min: float | None
    min_strict: bool
    max: float | None
    default: str | None
    unit: str
    description: str

    def bounds_text(self) -> str:
        """Describe the allowed range, e.g. ``>= 0`` or ``in [0, 1]``."""
        if self.min is not None and self.max is not None:
            left = "(" if self.min_strict else "["
            return f"in {left}{_fmt(self.min)}, {_fmt(self.max)}]"
        return self.lower_text() or self.upper_text()

    def lower_text(self) -> str:
        """Describe the lower bound alone, e.g. ``>= 0`` (empty if none)."""
        if self.min is None:
            return ""
        return f"{'>' if self.min_strict else '>='} {_fmt(self.min)}"

    def upper_text(self) -> str:
        """Describe the upper bound alone, e.g. ``<= 1e9`` (empty if none)."""
        return "" if self.max is None else f"<= {_fmt(self.max)}"


@dataclass(frozen=True)
class Sheet:
    """One input sheet, as declared in ``sheets.csv``."""

    name: str
    required: bool
    id_column: str | None
    description: str
    columns: tuple[Column, ...]
    #: When the sheet is needed though not always (``unless every offer has a risk``):
    #: ``required`` in sheets.csv reads ``unless ...``; None for a plain yes or no.
    required_unless: str | None = None
    #: One example row (column -> value, from examples.csv) for the template.
    example: tuple[tuple[str, str], ...] = ()

    @property
    def requirement(self) -> str:
        """Return how much the sheet is needed, in words: required, optional, required unless."""
        if self.required:
            return "required"
        return f"required unless {self.required_unless}" if self.required_unless else "optional"

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")


@dataclass(frozen=True)
class SettingKey:
    """One key of the Settings sheet, as declared in ``settings.csv``."""

    key: str
    type: str  # text | codes | enum | number
    values: tuple[str, ...]
    min: float | None
    min_strict: bool
    max: float | None
    max_strict: bool
    default: str
    description: str

    def bounds_text(self) -> str:
        """Describe the allowed range, e.g. ``in [0, 1)``."""
        if self.min is not None and self.max is not None:
            left = "(" if self.min_strict else "["
            right = ")" if self.max_strict else "]"
            return f"in {left}{_fmt(self.min)}, {_fmt(self.max)}{right}"
        if self.min is not None:
            return f"{'>' if self.min_strict else '>='} {_fmt(self.min)}"
        return ""


@dataclass(frozen=True)
class Catalogue:
    """Every input sheet and Settings key."""

    sheets: tuple[Sheet, ...]
    settings: tuple[SettingKey, ...]

    def sheet(self, name: str) -> Sheet:
        """Return the sheet called ``name`` (exact spelling)."""
        for sheet in self.sheets:
            if sheet.name == name:
                return sheet
        raise KeyError(name)

    def setting(self, key: str) -> SettingKey:
        """Return the Settings key ``key``."""
        for setting in self.settings:
            if setting.key == key:
                return setting
        raise KeyError(key)


def _fmt(number: float) -> str:
    """Write a bound as typed in the catalogue: ``0``, ``0.5``, ``1e9`` (not ``1e+09``)."""
    mantissa, _, exponent = f"{number:g}".partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa


def _number(text: str) -> float | None:
    return float(text) if text.strip() else None


def _rows(directory: Path, name: str) -> list[dict[str, str]]:
    with (directory / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def catalogue_directory() -> Path:
    """Return the folder holding the catalogue (installed copy first)."""
    return _PACKAGED if _PACKAGED.is_dir() else _REPOSITORY


@cache
def catalogue() -> Catalogue:
    """Read and return the schema catalogue (cached)."""
    directory = catalogue_directory()
    columns: dict[str, list[Column]] = {}
    for row in _rows(directory, "columns.csv"):
        columns.setdefault(row["sheet"], []).append(
            Column(
                sheet=row["sheet"],
                name=row["column"],
                required=row["required"] == "yes",
                type=row["type"],
                ref=row["ref"] or None,
                values=tuple(v for v in row["values"].split("|") if v),
                min=_number(row["min"]),
                min_strict=row["min_strict"] == "yes",
                max=_number(row["max"]),
                default=row["default"] or None,
                unit=row["unit"],
                description=row["description"],
            )
        )
    examples: dict[str, list[tuple[str, str]]] = {}
    if (directory / "examples.csv").is_file():
        for row in _rows(directory, "examples.csv"):
            examples.setdefault(row["sheet"], []).append((row["column"], row["value"]))
    sheets = tuple(
        Sheet(
            name=row["sheet"],
            required=row["required"] == "yes",
            id_column=row["id_column"] or None,
            description=row["description"],
            columns=tuple(columns.get(row["sheet"], ())),
            required_unless=row["required"].removeprefix("unless ").strip()
            if row["required"].startswith("unless ")
            else None,
            example=tuple(examples.get(row["sheet"], ())),
        )
        for row in _rows(directory, "sheets.csv")
    )
    settings = tuple(
        SettingKey(
            key=row["key"],
            type=row["type"],
            values=tuple(v for v in row["values"].split("|") if v),
            min=_number(row["min"]),
            min_strict=row["min_strict"] == "yes",
            max=_number(row["max"]),
            max_strict=row["max_strict"] == "yes",
            default=row["default"],
            description=row["description"],
        )
        for row in _rows(directory, "settings.csv")
    )
    return Catalogue(sheets=sheets, settings=settings)
