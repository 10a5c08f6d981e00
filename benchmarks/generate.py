"""Generate valid sourcing cases of any size, for benchmarks and stress tests.

``generate(Size(elements=8, offers=10, periods=12, scenarios=5), seed=0)``
returns the rows of every sheet; ``write(sheets, path)`` saves them as an
input workbook. The data are random but shaped like the real problem: a
cheap, large, China-linked offer per element and dearer alternatives,
fixed costs and minimum takes on some offers, recycling and substitution,
China-share, risk and min_offers policies, and scenarios in which a
country stops shipping some elements from a random quarter on.

With ``v2=True`` the case also uses the v2 features (formulation A2-A6):
one joint product per pair of light elements (OfferContents), about a fifth
of the offers signed ``later`` with lead times of 0-2 quarters,
``cover_factor`` 0 on every country stop (the stock may be used up) and a
``country_share_max`` of 0.5 on the refining basis.

With ``v3`` (a set of the names in :data:`V3_FEATURES`) the case also uses the
v3 features (formulation B1-B4): ``tiers``, shortage tiers by use on every
element (a cheap use that can wait, a dearer one, the rest at shortage_cost);
``value``, reference prices and the TOTAL China cap weighed by value;
``budget``, a working capital ``stock_value_max`` of half what the cover
targets are worth at the start, so that it binds; ``events``, Events in place
of Scenarios and Disruptions: a group of three alternative Chinese stops (3, 6
and 12 months, from different quarters) and four independent events, 64
scenarios whatever ``scenarios`` says.

:func:`class_features` adds what issue 24's held-out cases had on top of the
generated ones: a CVaR weight, a ``mip_gap``, OfferPeriods overrides of some
offers' capacity and unit cost, an ``offer_share_max`` on every element and a
tighter one on one element (benchmarks/run.py's ``class-hard`` size).
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl

from planner.events import DISRUPTION_COLUMNS

Sheets = dict[str, list[list[Any]]]

ELEMENT_IDS = [
    "Nd",
    "Pr",
    "Dy",
    "Tb",
    "La",
    "Ce",
    "Sm",
    "Y",
    "Gd",
    "Eu",
    "Ho",
    "Er",
    "Tm",
    "Yb",
    "Lu",
    "Sc",
    "Pm",
]
HEAVY = {"Dy", "Tb", "Sm", "Y", "Gd", "Eu", "Ho", "Er", "Tm", "Yb", "Lu", "Sc"}
COUNTRIES = {
    "CN": 0.9,
    "MY": 0.3,
    "AU": 0.1,
    "VN": 0.5,
    "FR": 0.1,
    "IN": 0.35,
    "KZ": 0.5,
    "US": 0.15,
    "JP": 0.05,
    "BR": 0.3,
}


@dataclass(frozen=True)
class Size:
    """How big a case is: elements x offers per element x periods x scenarios."""

    elements: int
    offers: int
    periods: int
    scenarios: int

    @property
    def label(self) -> str:
        """Short name, e.g. ``8x10x12x5``."""
        return f"{self.elements}x{self.offers}x{self.periods}x{self.scenarios}"


def _periods(count: int) -> list[str]:
    return [f"{2026 + q // 4}Q{q % 4 + 1}" for q in range(count)]


#: The v3 features :func:`generate` can add, each on its own (benchmarks time them apart).
V3_FEATURES = ("tiers", "value", "budget", "events")


def generate(size: Size, seed: int = 0, v2: bool = False, v3: Collection[str] = ()) -> Sheets:
    """Build the rows of every sheet of a valid case of ``size``.

    ``v2`` adds the v2 features, ``v3`` the named v3 features (:data:`V3_FEATURES`).
    """
    rng = random.Random(seed)
    periods = _periods(size.periods)
    elements = ELEMENT_IDS[: size.elements]
    sheets: Sheets = {
        "Settings": [
            ["key", "value"],
            ["cvar_alpha", 0.9],
            ["cvar_weight", 0.2],
            ["time_limit_s", 600],
            ["mip_gap", 1e-4],
        ],
        "Periods": [["period", "days"], *[[p, 91] for p in periods]],
        "Elements": [
            ["element", "group", "shortage_cost", "holding_cost", "initial_stock", "cover_days"]
        ],
        "Demand": [["element", "period", "quantity"]],
        "Offers": [
            [
                "offer",
                "supplier",
                "element",
                "country",
                "mine_country",
                "refine_country",
                "unit_cost",
                "capacity",
                "fixed_cost",
                "min_take",
                "first_period",
            ]
        ],
        "Countries": [["country", "risk"], *[[c, r] for c, r in COUNTRIES.items()]],
        "Activities": [["activity", "kind", "country", "unit_cost", "capacity", "fixed_cost"]],
        "ActivityYields": [["activity", "element", "yield"]],
        "Policies": [
            ["policy", "element", "period", "value"],
            ["china_share_max", "TOTAL", None, 0.6],
            ["risk_max", None, None, 0.8],
        ],
    }
    others = [c for c in COUNTRIES if c != "CN"]
    for element in elements:
        price = rng.uniform(1, 200) if element in HEAVY else rng.uniform(0.3, 15)
        demand = rng.uniform(10, 1000)
        sheets["Elements"].append(
            [
                element,
                "heavy" if element in HEAVY else "light",
                max(195.0, 3 * price),
                round(0.02 * price, 4),
                round(demand * 0.5, 2),
                180 if element in HEAVY else 60,
            ]
        )
        for index, period in enumerate(periods):
            sheets["Demand"].append([element, period, round(demand * (1 + 0.01 * index), 2)])
        for k in range(size.offers):
            china = k == 0 or rng.random() < 0.15
            country = "CN" if china and k == 0 else rng.choice(others)
            refine = "CN" if china else country
            capacity = demand * (1.5 if k == 0 else rng.uniform(0.05, 0.4))
            fixed = 0 if k == 0 else rng.choice([0, 0, 50, 200, 500])
            min_take = round(0.2 * capacity, 2) if fixed and rng.random() < 0.4 else 0
            start = rng.choice([None, None, None, periods[rng.randrange(len(periods))]])
            sheets["Offers"].append(
                [
                    f"{element}-{k:02d}",
                    f"Supplier {k:02d}",
                    element,
                    country,
                    None,
                    refine,
                    round(price * (1 if k == 0 else rng.uniform(1.05, 2.0)), 4),
                    round(capacity, 2),
                    fixed,
                    min_take,
                    start,
                ]
            )
    for k, (kind, country) in enumerate(
        [("recycling", "JP"), ("recycling", "VN"), ("substitution", None)]
    ):
        activity = f"ACT-{k}"
        sheets["Activities"].append(
            [activity, kind, country, rng.uniform(1, 5), 300, rng.choice([100, 300])]
        )
        for element in rng.sample(elements, min(3, len(elements))):
            value = rng.uniform(0.01, 0.2)
            sheets["ActivityYields"].append([activity, element, round(value, 4)])
    for element in elements[: max(1, len(elements) // 3)]:
        sheets["Policies"].append(["min_offers", element, None, 1])
    _scenarios(sheets, size, periods, elements, rng)
    if v2:
        _v2_features(sheets, elements, rng)
    unknown = set(v3) - set(V3_FEATURES)
    if unknown:
        raise ValueError(f"unknown v3 features {sorted(unknown)}; known: {V3_FEATURES}")
    if v3:
        _v3_features(sheets, periods, set(v3))
    return sheets


def class_features(
    sheets: Sheets,
    seed: int = 0,
    cvar_weight: float = 0.3,
    mip_gap: float = 1e-6,
    overrides: float = 0.1,
    offer_share: float | None = 0.4,
    tight_share: float | None = 0.3,
) -> Sheets:
    """Add issue 24's class to generated ``sheets`` (in place; returned too).

    ``cvar_weight`` and ``mip_gap`` replace the Settings' values. About a
    fraction ``overrides`` of the (offer, period) cells within each offer's
    delivery window get an OfferPeriods row, half of them a capacity of
    0.5-1.5 times the offer's, half a unit cost of 0.9-1.3 times its own.
    ``offer_share`` is an ``offer_share_max`` on every element (blank
    element), ``tight_share`` a tighter one on the first element (its row
    outranks the blank one). The rest of the case is left as it is, so the
    size with and without these features is the same case otherwise.
    """
    rng = random.Random(seed + 24)  # its own stream: the base case is unchanged
    settings = {row[0]: row for row in sheets["Settings"][1:]}
    for key, value in (("cvar_weight", cvar_weight), ("mip_gap", mip_gap)):
        if key in settings:
            settings[key][1] = value
        else:
            sheets["Settings"].append([key, value])
    periods = [row[0] for row in sheets["Periods"][1:]]
    offers = sheets["Offers"]
    column = {name: index for index, name in enumerate(offers[0])}
    rows: list[list[Any]] = [["offer", "period", "capacity", "unit_cost"]]
    for offer in offers[1:]:
        first = offer[column["first_period"]]
        window = periods[periods.index(first) :] if first in periods else periods
        for period in window:
            if rng.random() >= overrides:
                continue
            if rng.random() < 0.5:
                capacity = round(offer[column["capacity"]] * rng.uniform(0.5, 1.5), 2)
                rows.append([offer[0], period, capacity, None])
            else:
                cost = round(offer[column["unit_cost"]] * rng.uniform(0.9, 1.3), 4)
                rows.append([offer[0], period, None, cost])
    sheets["OfferPeriods"] = rows
    policies = sheets["Policies"]
    width = len(policies[0])
    element = sheets["Elements"][1][0]
    for target, value in ((None, offer_share), (element, tight_share)):
        if value is not None:
            row = ["offer_share_max", target, None, value]
            policies.append(row + [None] * (width - len(row)))
    return sheets


def _v3_features(sheets: Sheets, periods: list[str], features: set[str]) -> None:
    """Add the chosen v3 features (formulation B1-B4) to a generated case."""
    elements = sheets["Elements"]
    head = elements[0]
    column = {name: index for index, name in enumerate(head)}
    demand = {row[0]: row[2] for row in sheets["Demand"][1:] if row[1] == periods[0]}
    # the generator's price of an element is its cheapest offer's (the China offer, k = 0)
    price = {row[2]: row[6] for row in sheets["Offers"][1:] if str(row[0]).endswith("-00")}
    if features & {"value", "budget"}:
        head.append("reference_price")
        for row in elements[1:]:
            row.append(round(price[row[0]], 4))
    if "tiers" in features:
        tiers: list[list[Any]] = [["element", "use", "share", "cost"]]
        for row in elements[1:]:
            element, shortage = row[0], row[column["shortage_cost"]]
            tiers.append([element, "can wait", 0.3, round(0.8 * price[element], 4)])
            tiers.append([element, "adapts", 0.4, min(shortage, round(4 * price[element], 4))])
        sheets["ShortageTiers"] = tiers
    if "value" in features:
        policies = sheets["Policies"]
        policies[0].append("measure")
        for row in policies[1:]:
            row += [None] * (len(policies[0]) - 1 - len(row)) + [None]
        row = ["china_share_max", "TOTAL", None, 0.55]
        policies.append(row + [None] * (len(policies[0]) - 1 - len(row)) + ["value"])
    if "budget" in features:
        cover = sum(
            price[row[0]] * demand[row[0]] * row[column["cover_days"]] / 91 for row in elements[1:]
        )
        sheets["Settings"].append(["stock_value_max", round(0.5 * cover, 2)])
    if "events" in features:
        sheets.pop("Scenarios", None)
        sheets.pop("Disruptions", None)
        sheets["Events"] = _events(periods)


def _events(periods: list[str]) -> list[list[Any]]:
    """Three alternative Chinese stops and four independent events: 4 x 2^4 = 64 scenarios."""

    def at(index: int) -> str:
        return periods[min(index, len(periods) - 1)]

    rows: list[list[Any]] = [["event", "probability", "group", *DISRUPTION_COLUMNS]]
    # a Chinese export stop of 3, 6 or 12 months (1, 2 or 4 quarters), from different quarters
    for event, p, start, quarters in (("cn3", 0.2, 2, 1), ("cn6", 0.1, 3, 2), ("cn12", 0.05, 4, 4)):
        rows.append(
            [
                event,
                p,
                "cn_stop",
                "country",
                "CN",
                None,
                at(start),
                at(start + quarters - 1),
                0,
                1,
                0,
            ]
        )
    rows.append(["heavy_ban", 0.15, None, "country", "CN", "heavy", at(2), at(9), 0, 1, 0])
    rows.append(["my_outage", 0.1, None, "country", "MY", None, at(3), at(3), 0, 1, 1])
    rows.append(["vn_delay", 0.3, None, "country", "VN", None, at(0), at(5), 0.3, 1, 1])
    rows.append(["price_spike", 0.25, None, "country", "CN", None, at(1), at(4), 1, 1.8, 1])
    return rows


def _v2_features(sheets: Sheets, elements: list[str], rng: random.Random) -> None:
    """Add joint products, later signings, cover_factor 0 on stops and a country cap."""
    offers = sheets["Offers"]
    offers[0] += ["signing", "lead_time"]
    for row in offers[1:]:
        later = not row[0].endswith("-00") and rng.random() < 0.2
        row += ["later" if later else "now", rng.choice([0, 1, 2]) if later else 0]
    light = [element for element in elements if element not in HEAVY]
    contents: list[list[Any]] = [["offer", "element", "fraction"]]
    for index in range(0, len(light) - 1, 2):
        first, second = light[index], light[index + 1]
        joint = f"JOINT-{first}-{second}"
        offers.append(
            [joint, "Joint Supplier", None, "AU", None, "MY", 6.0, 800.0, 200, 0, None, "now", 0]
        )
        contents += [[joint, first, 0.6], [joint, second, 0.3]]
    sheets["OfferContents"] = contents
    sheets["Policies"][0].append("basis")
    for row in sheets["Policies"][1:]:
        row.append(None)
    sheets["Policies"].append(["country_share_max", None, None, 0.5, "refining"])
    disruptions = sheets.get("Disruptions")
    if disruptions:
        disruptions[0].append("cover_factor")
        for row in disruptions[1:]:
            row.append(0 if row[6] == 0 else 1)


def _scenarios(
    sheets: Sheets, size: Size, periods: list[str], elements: list[str], rng: random.Random
) -> None:
    if size.scenarios <= 1:
        return
    weights = [rng.uniform(0.5, 1.5) for _ in range(size.scenarios)]
    weights[0] *= size.scenarios  # the base scenario is the most likely
    total = sum(weights)
    probabilities = [round(w / total, 6) for w in weights]
    probabilities[0] = round(1 - sum(probabilities[1:]), 6)
    sheets["Scenarios"] = [
        ["scenario", "probability"],
        *[[f"S{w:03d}" if w else "base", p] for w, p in enumerate(probabilities)],
    ]
    sheets["Disruptions"] = [
        [
            "scenario",
            "target_type",
            "target",
            "element",
            "first_period",
            "last_period",
            "capacity_factor",
            "cost_factor",
        ]
    ]
    for w in range(1, size.scenarios):
        start = rng.randrange(len(periods))
        stop = min(len(periods) - 1, start + rng.randrange(1, 5))
        target = "CN" if rng.random() < 0.7 else rng.choice(list(COUNTRIES))
        group = rng.choice([None, "heavy", "light", rng.choice(elements)])
        sheets["Disruptions"].append(
            [
                f"S{w:03d}",
                "country",
                target,
                group,
                periods[start],
                periods[stop],
                rng.choice([0, 0, 0.3, 0.5]),
                rng.choice([1, 1.2, 1.5]),
            ]
        )


def write(sheets: Sheets, path: Path) -> Path:
    """Save ``sheets`` as an input workbook."""
    workbook = openpyxl.Workbook(write_only=True)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def main() -> None:
    """Write one generated case: ``python benchmarks/generate.py 8 10 12 5 -o case.xlsx``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("elements", "offers", "periods", "scenarios"):
        parser.add_argument(name, type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--v2", action="store_true", help="add the v2 features")
    parser.add_argument(
        "--v3", default="", help=f"comma-separated v3 features to add: {','.join(V3_FEATURES)}"
    )
    parser.add_argument(
        "--class-features",
        action="store_true",
        help="add issue 24's class: CVaR weight 0.3, mip_gap 1e-6, OfferPeriods, offer shares",
    )
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    size = Size(args.elements, args.offers, args.periods, args.scenarios)
    v3 = [name for name in args.v3.split(",") if name]
    sheets = generate(size, args.seed, v2=args.v2, v3=v3)
    if args.class_features:
        class_features(sheets, args.seed)
    write(sheets, args.output)


if __name__ == "__main__":
    main()
