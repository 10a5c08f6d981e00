"""The validated, typed case: the only thing model code sees.

A :class:`Case` holds one pandas table per input sheet, with constant
defaults filled in and every id as text. Values whose default is derived from
other data stay blank (``NaN``) so that a change made in Python carries
through: an offer's blank ``risk`` follows the Countries sheet, a blank
``cover_penalty`` follows ``shortage_cost``, blank first/last periods follow
the horizon and a blank ``storage_capacity`` is unlimited.

Each table keeps the Excel row of every record in a ``_row`` column, so that
checks run on a case modified in Python still name the workbook's cells.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field, fields

import pandas as pd

from planner.errors import Issue

#: Sheet name -> attribute of :class:`Case`.
TABLES: dict[str, str] = {
    "Periods": "periods",
    "Elements": "elements",
    "Demand": "demand",
    "Offers": "offers",
    "OfferPeriods": "offer_periods",
    "OfferContents": "offer_contents",
    "Countries": "countries",
    "Activities": "activities",
    "ActivityYields": "activity_yields",
    "Policies": "policies",
    "Scenarios": "scenarios",
    "Disruptions": "disruptions",
    "Events": "events",
    "Commitments": "commitments",
    "PreviousPlan": "previous_plan",
    "ShortageTiers": "shortage_tiers",
    "Sweep": "sweep",
}

ROW = "_row"


@dataclass
class Settings:
    """The Settings sheet, typed, with the defaults of the contract."""

    currency: str = "USD"
    unit: str = "t"
    china_codes: tuple[str, ...] = ("CN",)
    home_codes: tuple[str, ...] = ()
    china_basis: str = "any"
    cvar_alpha: float = 0.95
    cvar_weight: float = 0.0
    time_limit_s: float = 60.0
    mip_gap: float = 1e-4
    change_cost: float = 0.0
    max_scenarios: float = 256.0
    stock_value_max: float | None = None  # blank: no working-capital budget (B3)
    decompose: str = "no"  # yes, no or auto: progressive hedging (issue 25)


@dataclass
class Source:
    """Where the case came from, for messages and for the outputs."""

    path: str = ""
    sha256: str = ""
    #: sheet -> column name -> column letter in the workbook
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    #: the actual sheet titles found, by canonical sheet name
    titles: dict[str, str] = field(default_factory=dict)
    #: Settings key -> cell address of its value
    settings_cells: dict[str, str] = field(default_factory=dict)


@dataclass
class Case:
    """A validated sourcing case.

    Id-keyed tables are indexed by their id (``offers.loc["Nd-CN"]``); the
    others have a plain index. Modify values in place and call
    :func:`planner.solve` again: the case is checked again before solving.
    """

    settings: Settings
    periods: pd.DataFrame
    elements: pd.DataFrame
    demand: pd.DataFrame
    offers: pd.DataFrame
    offer_periods: pd.DataFrame
    offer_contents: pd.DataFrame
    countries: pd.DataFrame
    activities: pd.DataFrame
    activity_yields: pd.DataFrame
    policies: pd.DataFrame
    scenarios: pd.DataFrame
    disruptions: pd.DataFrame
    events: pd.DataFrame  # as written; the scenarios it makes: planner.events
    commitments: pd.DataFrame
    previous_plan: pd.DataFrame
    shortage_tiers: pd.DataFrame
    sweep: pd.DataFrame  # changes for planner sweep; not part of the model
    source: Source = field(default_factory=Source)
    warnings: list[Issue] = field(default_factory=list)

    def table(self, sheet: str) -> pd.DataFrame:
        """Return the table of sheet ``sheet`` (e.g. ``"Offers"``)."""
        table: pd.DataFrame = getattr(self, TABLES[sheet])
        return table

    def copy(self) -> Case:
        """Return a deep copy, to modify without touching this case."""
        return copy.deepcopy(self)

    def content_sha256(self) -> str:
        """Hash of the data as it stands (changes when the case is modified)."""
        digest = hashlib.sha256()
        digest.update(repr(sorted(vars(self.settings).items())).encode())
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, pd.DataFrame) and item.name != "sweep":
                digest.update(item.name.encode())
                digest.update(value.drop(columns=[ROW], errors="ignore").to_csv().encode())
        return digest.hexdigest()

    @property
    def period_ids(self) -> list[str]:
        """Period ids in time order."""
        return [str(p) for p in self.periods.index]
