"""Build the example input workbooks in ``inputs/`` from the facts in domain.md.

Run ``python scripts/build_inputs.py``. It writes:

* ``inputs/japan-2026.xlsx``: Japan's rare-earth sourcing, 12 quarters from
  2026Q1, with a Notes sheet giving, for every figure, its source and date or
  "assumption" and how it was derived;
* ``inputs/tiny.xlsx``: two quarters, two elements, three offers, small
  enough to solve by hand (the optimum, 21,702, is worked out in its Notes).

The Japan case uses the v2 model: Lynas NdPr as one mixed oxide
(OfferContents), committed offtakes (``contracted = yes``) apart from surge
capacity and new offtakes signed only when needed (``signing = later`` with
lead times), China's licensing of the restricted elements in every scenario,
stop scenarios that release the stockpile (``cover_factor = 0``) and raise
ex-China prices, JOGMEC's national stockpile as offers of its own, Myanmar as
the mine behind Chinese Dy and Tb, and China caps per element and basis.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.styles import Font

INPUTS = Path(__file__).resolve().parent.parent / "inputs"

YEARS = (2026, 2027, 2028)
DAYS = {1: 90, 2: 91, 3: 92, 4: 92}
PERIODS = [f"{year}Q{q}" for year in YEARS for q in range(1, 5)]
STOP = "2026Q3"  # every stop scenario starts here: the plan cannot see it before
ASSUMED = "2026-12-02"  # the date of our own assumptions (this build)

# Where figures come from: key -> (citation, date of the source).
SOURCES: dict[str, tuple[str, str]] = {
    "customs": (
        "domain.md; seed 002 (Asia Daily): Japanese customs data for January 2026, compiled by Bloomberg",
        "2026-02",
    ),
    "meti": (
        "domain.md; seeds 000, 002: government (METI) figure, about 60% of Japan's needs from China; 63-76% recently",
        "2026-02",
    ),
    "stock": (
        "domain.md; seed 001: JOGMEC stockpile of about 60 days (42 days national, 18 days private)",
        "2026-01",
    ),
    "strategy": (
        "domain.md; seed 002: 2020 International Resource Strategy, 60 days for standard minerals, up to 180 days for high-risk ones",
        "2026-02",
    ),
    "nomura": (
        "domain.md; seeds 001, 002: Nomura Research Institute (T. Kiuchi): a 3-month Chinese curb costs Japan about JPY 660 bn (0.11% of GDP), one year JPY 2.6 tn",
        "2026-01",
    ),
    "ban": (
        "domain.md; seed 002: MOFCOM bans dual-use exports to Japanese military end users, seven rare earths (Sm, Gd, Tb, Dy, Lu, Sc, Y); 40 entities listed in February",
        "2026-01-06",
    ),
    "halt2010": (
        "domain.md; seeds 001, 002: China halted rare-earth exports to Japan for about two months in 2010",
        "2026-02",
    ),
    "vietnam": (
        "domain.md; seed 002: Viet Nam bans exports of unprocessed rare earths from 1 January 2026; Dong Pao struggles to produce consistently; 221 t from Viet Nam in January 2026",
        "2026-02",
    ),
    "jare": (
        "mining.com, 'Lynas gets $134 million funding from Japan': JARE (JOGMEC, Sojitz) takes up to 65% of Lynas Dy/Tb; NdPr priority to Japan up to 7,200 t a year",
        "2023-03-07",
    ),
    "jare30": (
        "iru-miru.com (METI announcement): the 65% of Lynas Dy/Tb is about 30% of Japan's demand",
        "2023-03-07",
    ),
    "lynas_hre": (
        "magneticsmag.com: Lynas makes its first Dy oxide in Malaysia, Tb next; engaged with customers in Japan",
        "2025-05-16",
    ),
    "lynas_third": (
        "domain.md; seed 001: Lynas supplies about one third of Japan's needs, mainly NdPr",
        "2026-01",
    ),
    "lynas_sm": (
        "theedgesingapore.com: Lynas Malaysia expansion, samarium by April 2026, then other heavy rare earths",
        "2025",
    ),
    "caremag": (
        "argusmedia.com: JOGMEC and Iwatani invest up to EUR 110 m in Caremag; Iwatani term contract for about 250 t/yr Dy and 45 t/yr Tb, deliveries from 2027 (plant starts late 2026)",
        "2025-03-18",
    ),
    "dy_exports": (
        "rawmaterials.net: Chinese Dy exports 3,501 kg in October 2025 (Japan 300 kg); Tb 12,200 kg (Japan 5,200 kg)",
        "2025-11-20",
    ),
    "dy_2025": (
        "rawmaterials.net: Chinese Dy exports 4,120 kg in December 2025; Japan received 95% less Dy in 2025 than in 2024",
        "2026-01-20",
    ),
    "licence": (
        "strategicmetalsinvest.com and rawmaterials.net (2025-06-20): Chinese export licences take 45 working days officially, often longer",
        "2025-08-17",
    ),
    "eu_dy": (
        "gmteight.com (Argus assessment of 6 May 2025): European Dy oxide USD 700-1,000/kg against 250-310 a month earlier; SMM (news.metal.com, 2025-04-18): nearly tripled while Chinese prices held",
        "2025-05-09",
    ),
    "myanmar": (
        "news.metal.com (SMM): supply of medium-heavy rare-earth ore from Myanmar to China very limited",
        "2025-04-18",
    ),
    "iluka": (
        "nrinvesting.com: Iluka's Eneabba refinery on schedule for commissioning in 2027; NdPr, Dy and Tb oxides",
        "2025-10",
    ),
    "neo": (
        "argusmedia.com: Neo's Silmet plant (Estonia), 3,000 t/yr light rare-earth separation, feed from Energy Fuels (US); automotiveworld.com (2025-09-19): Narva magnet plant opened",
        "2023-2025",
    ),
    "irel": (
        "dqindia.com (Reuters): India directs IREL to suspend its 2012 export agreement with Japan; Toyotsu shipped over 1,000 t to Japan in 2024",
        "2025-06-24",
    ),
    "mp": (
        "nasdaq.com: US DoD floor price of USD 110/kg for MP Materials' NdPr, about twice China's rate; 10X magnet output bought by DoD and commercial customers",
        "2025-07-14",
    ),
    "substitution": (
        "domain.md; seeds 001, 002: Dy/Tb-free magnets commercial (Daido Steel), Proterial mass production from 2025 ramping through 2026; Proterial 2,500-3,000 t/yr of magnets",
        "2026-02",
    ),
    "recycling": (
        "domain.md; seed 001: urban mines; Shin-Etsu recycling plant in Viet Nam",
        "2026-01",
    ),
    "deep": (
        "domain.md; seeds 001, 002: Minamitorishima trial lifting January 2026, 350 t/day system February 2027, commercial supply 2028 or later",
        "2026-02",
    ),
    "refining": (
        "domain.md; seed 002: China refines over 99% of heavy rare earths, about 90% of all, mines 60-70%",
        "2026-02",
    ),
    "crma": (
        "EU Critical Raw Materials Act, Regulation (EU) 2024/1252, art. 5: at most 65% of a strategic raw material from one third country at any stage",
        "2024-05-23",
    ),
}

# element: name, group, Q1-2026 demand (t), growth per quarter, China price (JPY m/t)
ELEMENTS: dict[str, tuple[str, str, float, float, float]] = {
    "Nd": ("Neodymium", "light", 900, 0.015, 11.0),
    "Pr": ("Praseodymium", "light", 280, 0.015, 11.5),
    "Dy": ("Dysprosium", "heavy", 60, 0.010, 45.0),
    "Tb": ("Terbium", "heavy", 12, 0.010, 180.0),
    "La": ("Lanthanum", "light", 1000, 0.0, 0.30),
    "Ce": ("Cerium", "light", 1300, 0.0, 0.35),
    "Sm": ("Samarium", "heavy", 90, 0.0, 2.5),
    "Y": ("Yttrium", "heavy", 300, 0.0, 1.5),
}
RESTRICTED = ("Sm", "Dy", "Tb", "Y")  # the seven of China's licensing regime that this case plans

# Downstream value at risk per t of element (JPY m): what stops when a tonne is missing.
VALUE_AT_RISK: dict[str, tuple[float, str]] = {
    "Nd": (
        8_900,
        "magnet -> traction motor -> vehicle: a JPY 4 m hybrid or EV holds about 0.45 kg NdPr "
        "(1.5 kg of magnet, 30% NdPr)",
    ),
    "Pr": (8_900, "as Nd: NdPr is one input of the same magnets"),
    "Dy": (89_000, "the same vehicles hold about 45 g Dy (3% of a high-temperature magnet)"),
    "Tb": (400_000, "about 10 g Tb per vehicle (0.7% of the magnet)"),
    "Sm": (
        8_000,
        "SmCo magnets in aerospace and defence actuators and sensors: about 0.5 kg Sm per JPY 4 m "
        "of equipment",
    ),
    "La": (
        1_500,
        "NiMH batteries of hybrids (about 2 kg La per JPY 3 m car), FCC catalysts, optical glass",
    ),
    "Ce": (1_000, "autocatalysts and the polishing of display and wafer glass"),
    "Y": (
        50,
        "YSZ ceramics and thermal-barrier coatings, oxygen sensors, phosphors: small amounts "
        "per product, mostly replaceable or deferrable",
    ),
}
# The share of that value the economy actually loses (rescheduling, other inputs, substitutes):
# one factor for all elements, calibrated so that the cn_stop_3m scenario costs about what
# Nomura estimates for a three-month stop (JPY 660 bn); see the Notes' "Shortage cost" row.
LOSS_SHARE = 0.60
NOMURA_3M = 660_000.0  # JPY m

PRIVATE_DAYS = 18  # company stock (initial and cover target)
STORAGE_DAYS = 20  # most a company holds (warehouse and working capital)
RELEASE_QUARTERS = 4  # JOGMEC releases a quarter of its stockpile a quarter while a stop lasts
LYNAS_FIRM = 400  # t of NdPr oxide a quarter, take-or-pay
LYNAS_SURGE = 60
NEO = 30
MP = 20
NATIONAL_DAYS = 42  # JOGMEC's national stockpile

# licensed share of China's pre-2025 capacity for the restricted elements (every scenario)
LICENSED = {"Sm": 0.3, "Dy": 0.15, "Tb": 0.35, "Y": 0.3}
NEW_LICENCE = 0.3  # a further licence, 45 working days after applying: share of that capacity
CHINA_CAPACITY = 1.5  # China could ship 150% of Japan's need of each element, before licensing

# ex-China price factors while a stop lasts (heavy: 3x China with the 1.5x contract premium)
STOP_COST = {"heavy": 2.0, "light": 1.3}
EX_CHINA = (
    "Lynas Rare Earths",
    "Lynas Rare Earths (uncommitted)",
    "Dong Pao JV",
    "Solvay La Rochelle",
    "Caremag (Iwatani offtake)",
    "Iluka Eneabba",
    "Neo Performance Materials (Silmet)",
    "MP Materials (Mountain Pass)",
)
JOGMEC = "JOGMEC national stockpile"
CN_LICENSED = "China Rare Earth Group (licensed)"
CN_NEW = "China Rare Earth Group (new licence)"
CN_LIGHT = "China Northern Rare Earth"
VN_TOLLED = "Dong Pao JV (refined in China)"
IREL = "IREL via Toyotsu (India)"

OFFER_COLUMNS = [
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
    "last_period",
    "signing",
    "lead_time",
    "contracted",
]
NDPR = {"Nd": 0.75, "Pr": 0.25}  # one t of NdPr oxide (metal equivalent)


def _price(element: str) -> float:
    return ELEMENTS[element][4]


def _demand(element: str) -> float:
    return ELEMENTS[element][2]


def _offer(
    offer: str,
    supplier: str,
    element: str | None,
    country: str,
    unit_cost: float,
    capacity: float,
    **terms: Any,
) -> dict[str, Any]:
    row = {
        "offer": offer,
        "supplier": supplier,
        "element": element,
        "country": country,
        "unit_cost": round(unit_cost, 3),
        "capacity": round(capacity, 2),
    }
    row.update(terms)
    if "min_take" in terms:
        row["min_take"] = round(terms["min_take"], 2)
    return row


def _offers() -> list[dict[str, Any]]:
    """Every offer of the case (see the Notes for each figure)."""
    rows: list[dict[str, Any]] = []
    for element in ELEMENTS:
        capacity = CHINA_CAPACITY * _demand(element)
        if element in RESTRICTED:
            mine = "MM" if element in ("Dy", "Tb") else "CN"
            rows.append(
                _offer(
                    f"{element}-CN",
                    CN_LICENSED,
                    element,
                    "CN",
                    _price(element),
                    capacity,
                    mine_country=mine,
                    refine_country="CN",
                )
            )
            rows.append(
                _offer(
                    f"{element}-CN-new",
                    CN_NEW,
                    element,
                    "CN",
                    1.1 * _price(element),
                    NEW_LICENCE * capacity,
                    mine_country=mine,
                    refine_country="CN",
                    fixed_cost=10,
                    signing="later",
                    lead_time=1,
                )
            )
        else:
            rows.append(_offer(f"{element}-CN", CN_LIGHT, element, "CN", _price(element), capacity))
    lynas = {"mine_country": "AU", "refine_country": "MY"}
    rows += [
        _offer(
            "NdPr-LYN",
            "Lynas Rare Earths",
            None,
            "MY",
            12.0,
            LYNAS_FIRM,
            min_take=LYNAS_FIRM,
            contracted="yes",
            **lynas,
        ),
        _offer(
            "NdPr-LYN-surge",
            "Lynas Rare Earths (uncommitted)",
            None,
            "MY",
            13.5,
            LYNAS_SURGE,
            fixed_cost=200,
            signing="later",
            lead_time=1,
            **lynas,
        ),
        *[
            _offer(
                f"{element}-LYN-spot",
                "Lynas Rare Earths (uncommitted)",
                element,
                "MY",
                2 * _price(element),
                0.35 / 0.65 * 0.30 * _demand(element),
                fixed_cost=100,
                first_period="2026Q4",
                signing="later",
                lead_time=1,
                **lynas,
            )
            for element in ("Dy", "Tb")
        ],
        _offer("La-LYN", "Lynas Rare Earths", "La", "MY", 0.40, 300, **lynas),
        _offer("Ce-LYN", "Lynas Rare Earths", "Ce", "MY", 0.45, 350, **lynas),
        _offer(
            "Dy-LYN",
            "Lynas Rare Earths",
            "Dy",
            "MY",
            1.5 * _price("Dy"),
            0.30 * _demand("Dy"),
            min_take=0.30 * _demand("Dy"),
            contracted="yes",
            **lynas,
        ),
        _offer(
            "Tb-LYN",
            "Lynas Rare Earths",
            "Tb",
            "MY",
            1.5 * _price("Tb"),
            0.30 * _demand("Tb"),
            min_take=0.30 * _demand("Tb"),
            contracted="yes",
            **lynas,
        ),
        _offer(
            "Sm-LYN",
            "Lynas Rare Earths",
            "Sm",
            "MY",
            1.5 * _price("Sm"),
            15,
            first_period="2026Q2",
            **lynas,
        ),
        _offer(
            "Y-LYN",
            "Lynas Rare Earths",
            "Y",
            "MY",
            4 * _price("Y"),
            40,
            first_period="2026Q4",
            **lynas,
        ),
    ]
    vietnam = {"mine_country": "VN", "refine_country": "VN"}
    rows += [
        _offer("Nd-VN", "Dong Pao JV", "Nd", "VN", 12.5, 80, **vietnam),
        _offer("Pr-VN", "Dong Pao JV", "Pr", "VN", 13.0, 25, **vietnam),
        _offer("La-VN", "Dong Pao JV", "La", "VN", 0.35, 100, **vietnam),
        _offer("Ce-VN", "Dong Pao JV", "Ce", "VN", 0.40, 150, **vietnam),
    ]
    tolled = {"mine_country": "VN", "refine_country": "CN"}
    rows += [
        _offer("Nd-VNCN", VN_TOLLED, "Nd", "VN", 11.5, 200, **tolled),
        _offer("Pr-VNCN", VN_TOLLED, "Pr", "VN", 12.0, 60, **tolled),
        _offer("La-VNCN", VN_TOLLED, "La", "VN", 0.32, 250, **tolled),
        _offer("Ce-VNCN", VN_TOLLED, "Ce", "VN", 0.37, 300, **tolled),
        _offer("Y-VNCN", VN_TOLLED, "Y", "VN", 1.6, 30, **tolled),
    ]
    rows += [
        _offer("Nd-SOL", "Solvay La Rochelle", "Nd", "FR", 14.0, 40),
        _offer("La-SOL", "Solvay La Rochelle", "La", "FR", 0.50, 60),
        _offer("Ce-SOL", "Solvay La Rochelle", "Ce", "FR", 0.55, 80),
        _offer("Sm-SOL", "Solvay La Rochelle", "Sm", "FR", 5.0, 20, fixed_cost=30),
    ]
    caremag = {
        "mine_country": "AU",
        "refine_country": "FR",
        "first_period": "2027Q1",
        "contracted": "yes",
    }
    rows += [
        _offer(
            "Dy-CAR",
            "Caremag (Iwatani offtake)",
            "Dy",
            "FR",
            1.5 * _price("Dy"),
            250 / 4,
            min_take=250 / 4,
            **caremag,
        ),
        _offer(
            "Tb-CAR",
            "Caremag (Iwatani offtake)",
            "Tb",
            "FR",
            1.5 * _price("Tb"),
            45 / 4,
            min_take=45 / 4,
            **caremag,
        ),
    ]
    iluka = {
        "mine_country": "AU",
        "refine_country": "AU",
        "first_period": "2027Q3",
        "signing": "later",
        "lead_time": 2,
    }
    rows += [
        _offer("NdPr-ILU", "Iluka Eneabba", None, "AU", 14.0, 100, fixed_cost=200, **iluka),
        _offer(
            "Dy-ILU", "Iluka Eneabba", "Dy", "AU", 1.5 * _price("Dy"), 6, fixed_cost=300, **iluka
        ),
        _offer(
            "Tb-ILU", "Iluka Eneabba", "Tb", "AU", 1.5 * _price("Tb"), 1.2, fixed_cost=100, **iluka
        ),
    ]
    rows += [
        _offer(
            "NdPr-NEO",
            "Neo Performance Materials (Silmet)",
            None,
            "EE",
            15.0,
            NEO,
            mine_country="US",
            refine_country="EE",
            fixed_cost=150,
            signing="later",
            lead_time=1,
        ),
        _offer(
            "NdPr-MP",
            "MP Materials (Mountain Pass)",
            None,
            "US",
            16.5,
            MP,
            fixed_cost=100,
            signing="later",
            lead_time=1,
        ),
        _offer("Nd-IN", IREL, "Nd", "IN", 12.5, 80),
    ]
    deep = "Minamitorishima deep-sea mud"
    rows += [
        _offer("Dy-MTS", deep, "Dy", "JP", 150.0, 3, fixed_cost=2000, first_period="2028Q1"),
        _offer("Tb-MTS", deep, "Tb", "JP", 500.0, 0.6, first_period="2028Q1"),
        _offer("Y-MTS", deep, "Y", "JP", 20.0, 15, first_period="2028Q1"),
        _offer("Nd-MTS", deep, "Nd", "JP", 16.0, 10, first_period="2028Q1"),
    ]
    for element in ELEMENTS:  # a quarter of the national stockpile a quarter, while a stop lasts
        national = NATIONAL_DAYS / 90 * _demand(element)
        rows.append(
            _offer(
                f"{element}-JOGMEC",
                JOGMEC,
                element,
                "JP",
                _price(element),
                national / RELEASE_QUARTERS,
                first_period=STOP,
                last_period=PERIODS[PERIODS.index(STOP) + RELEASE_QUARTERS - 1],
                contracted="yes",
            )
        )
    return rows


CONTENTS = [
    ("NdPr-LYN", "Nd", NDPR["Nd"]),
    ("NdPr-LYN", "Pr", NDPR["Pr"]),
    ("NdPr-LYN-surge", "Nd", NDPR["Nd"]),
    ("NdPr-LYN-surge", "Pr", NDPR["Pr"]),
    ("NdPr-ILU", "Nd", NDPR["Nd"]),
    ("NdPr-ILU", "Pr", NDPR["Pr"]),
    ("NdPr-NEO", "Nd", NDPR["Nd"]),
    ("NdPr-NEO", "Pr", NDPR["Pr"]),
    ("NdPr-MP", "Nd", NDPR["Nd"]),
    ("NdPr-MP", "Pr", NDPR["Pr"]),
]

# Caremag ramps towards 250 t Dy and 45 t Tb a year (t per quarter)
RAMP = {"2027Q1": 0.15, "2027Q2": 0.25, "2027Q3": 0.35, "2027Q4": 0.45}
RAMP.update({p: 0.55 for p in PERIODS if p.startswith("2028")})

ACTIVITIES = [
    # activity, kind, country, unit cost per t of input, capacity t/quarter, fixed cost, first, last
    ("REC-JP-urban-mine", "recycling", None, 4.0, 250, 300, None, None),
    ("REC-VN-plant", "recycling", "VN", 3.0, 300, 200, None, None),
    ("SUB-HRE-free-stage1", "substitution", None, 1.0, 300, 500, None, None),
    ("SUB-HRE-free-stage2", "substitution", None, 1.2, 400, 800, "2027Q1", None),
]
YIELDS = [
    # recycling: t of element recovered per t of magnet scrap (NdFeB ~30% REE)
    ("REC-JP-urban-mine", "Nd", 0.22),
    ("REC-JP-urban-mine", "Pr", 0.07),
    ("REC-JP-urban-mine", "Dy", 0.025),
    ("REC-JP-urban-mine", "Tb", 0.005),
    ("REC-VN-plant", "Nd", 0.22),
    ("REC-VN-plant", "Pr", 0.07),
    ("REC-VN-plant", "Dy", 0.02),
    ("REC-VN-plant", "Tb", 0.004),
    # substitution: per t of magnets made Dy/Tb-free, Dy and Tb avoided, a little more Nd used
    ("SUB-HRE-free-stage1", "Dy", 0.03),
    ("SUB-HRE-free-stage1", "Tb", 0.006),
    ("SUB-HRE-free-stage1", "Nd", -0.01),
    ("SUB-HRE-free-stage2", "Dy", 0.03),
    ("SUB-HRE-free-stage2", "Tb", 0.006),
    ("SUB-HRE-free-stage2", "Nd", -0.01),
]

COUNTRIES = [
    ("CN", "China", 0.90),
    ("HK", "Hong Kong (trading hub)", 0.80),
    ("MM", "Myanmar", 0.80),
    ("MY", "Malaysia", 0.30),
    ("AU", "Australia", 0.10),
    ("VN", "Viet Nam", 0.50),
    ("FR", "France", 0.10),
    ("EE", "Estonia", 0.15),
    ("IN", "India", 0.35),
    ("US", "United States", 0.15),
    ("JP", "Japan", 0.05),
]

# scenario, probability, last quarter of the stop, elements stopped ("" = all), description
SCENARIOS = [
    ("base", 0.55, None, None, "China's licensing of the restricted elements goes on; no stop"),
    (
        "cn_heavy_12m",
        0.20,
        "2027Q2",
        "heavy",
        "China stops the restricted elements (Sm, Dy, Tb, Y) to all Japanese users for four quarters from 2026Q3",
    ),
    (
        "cn_stop_3m",
        0.15,
        "2026Q3",
        "",
        "China stops every rare-earth export to Japan for one quarter (2026Q3), as in 2010",
    ),
    (
        "cn_stop_12m",
        0.10,
        "2027Q2",
        "",
        "China stops every rare-earth export to Japan for four quarters (2026Q3-2027Q2)",
    ),
]


def _disruptions() -> list[list[Any]]:
    """Per scenario: the standing regime (licensing, bans), then its stop, prices and releases."""
    rows: list[list[Any]] = []
    for scenario, _, last, stopped, _ in SCENARIOS:
        for element in RESTRICTED:  # China's licensing: every scenario, every quarter
            rows.append(
                [
                    scenario,
                    "supplier",
                    CN_LICENSED,
                    element,
                    None,
                    None,
                    LICENSED[element],
                    None,
                    None,
                ]
            )
        rows.append([scenario, "supplier", VN_TOLLED, None, None, None, 0, None, None])
        rows.append([scenario, "supplier", IREL, None, None, None, 0, None, None])
        if last is None:
            rows.append([scenario, "supplier", JOGMEC, None, None, None, 0, None, None])
            continue
        element = stopped or None
        rows.append([scenario, "country", "CN", element, STOP, last, 0, None, 0])
        groups = ("heavy",) if stopped == "heavy" else ("heavy", "light")
        for supplier in EX_CHINA:
            for group in groups:
                rows.append(
                    [
                        scenario,
                        "supplier",
                        supplier,
                        group,
                        STOP,
                        last,
                        None,
                        STOP_COST[group],
                        None,
                    ]
                )
        if stopped == "heavy":
            rows.append([scenario, "supplier", JOGMEC, "light", None, None, 0, None, None])
        if last == STOP:  # a one-quarter stop: nothing released after it
            rows.append([scenario, "supplier", JOGMEC, None, "2026Q4", None, 0, None, None])
    return rows


def _policies() -> list[list[Any]]:
    """China caps per element and basis, the customs-view TOTAL cap, risk and diversity."""
    return [
        ["policy", "element", "period", "value", "basis"],
        ["china_share_max", "TOTAL", None, 0.70, "shipment"],
        ["china_share_max", "Nd", None, 0.60, "refining"],
        ["china_share_max", "Pr", None, 0.60, "refining"],
        ["china_share_max", "Dy", None, 0.80, "refining"],
        ["china_share_max", "Tb", None, 0.80, "refining"],
        ["china_share_max", "Y", None, 0.90, "refining"],
        # no non-Chinese Y before Lynas' arrives in 2026Q4: no cap until then
        *[["china_share_max", "Y", p, 1.0, "refining"] for p in PERIODS[:3]],
        ["china_share_max", "Dy", None, 0.50, "mining"],
        ["risk_max", "TOTAL", None, 0.75, None],
        ["min_offers", "Nd", None, 2, None],
        ["min_offers", "Dy", None, 2, None],
    ]


def _quarter_days(period: str) -> int:
    year, quarter = int(period[:4]), int(period[-1])
    leap = year % 4 == 0
    return DAYS[quarter] + (1 if leap and quarter == 1 else 0)


def _sheet(
    workbook: openpyxl.Workbook,
    name: str,
    rows: list[list[Any]],
    percent_columns: tuple[str, ...] = (),
) -> None:
    sheet = workbook.create_sheet(name)
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    header = rows[0]
    for name_ in percent_columns:
        column = header.index(name_) + 1
        for row in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            row[0].number_format = "0%"
    for column in sheet.columns:
        width = max(len(str(c.value)) if c.value is not None else 0 for c in column)
        sheet.column_dimensions[column[0].column_letter].width = min(max(10, width + 2), 80)
    sheet.freeze_panes = "A2"


def _note(topic: str, figure: str, source: str | None, derived: str = "") -> list[str]:
    """One Notes row: a cited source (key of SOURCES) and its date, or an assumption of ours."""
    if source is None:
        return [topic, figure, "assumption", ASSUMED, derived]
    citation, date = SOURCES[source]
    return [topic, figure, citation, date, derived]


def _notes() -> list[list[str]]:
    """One row per figure of the case: its source and date, or "assumption" and how derived."""
    var = ", ".join(f"{e} {LOSS_SHARE * v:,.0f}" for e, (v, _) in VALUE_AT_RISK.items())
    rows = [
        ["topic", "figure", "source", "date", "how derived"],
        _note(
            "Units",
            "t of metal equivalent per quarter; costs in JPY m",
            "customs",
            "Customs data are in t of metal equivalent; JPY m keeps the costs readable.",
        ),
        _note(
            "Imports",
            "about 1,478 t in January 2026, 1,127 t (76%) from China, 221 t from "
            "Viet Nam, 79 t from France, about 1 t from Malaysia",
            "customs",
        ),
        _note(
            "Demand",
            "Q1 2026 per quarter: Nd 900, Pr 280, Dy 60, Tb 12, La 1,000, Ce 1,300, "
            "Sm 90, Y 300 t (3,942 t)",
            None,
            "About 4,400 t of imports a quarter (customs row); the eight elements taken as "
            "about 90% of it, split by Japanese use (magnets, catalysts and glass, SmCo, "
            "ceramics and phosphors).",
        ),
        _note(
            "Demand growth",
            "Nd, Pr +1.5%, Dy, Tb +1.0% a quarter; others flat",
            None,
            "Magnet demand grows with electrified vehicle and motor output.",
        ),
        _note(
            "China prices",
            "JPY m per t: Nd 11, Pr 11.5, Dy 45, Tb 180, La 0.30, Ce 0.35, Sm 2.5, Y 1.5",
            None,
            "Indicative 2025 Chinese oxide prices at about JPY 150 per USD (Dy about USD 300/kg).",
        ),
        _note(
            "China share today",
            "about 60% of needs (government), 76% of January 2026 imports",
            "meti",
            "Read against the Shares sheet of a solution.",
        ),
        _note(
            "China capacity",
            "150% of Japan's demand of each element before licensing",
            None,
            "China mines 60-70% and refines about 90% of the world's rare earths (refining "
            "row): not a limit for Japan's volumes in normal times.",
        ),
        _note(
            "Refining concentration",
            "China refines over 99% of heavy and about 90% of all rare earths",
            "refining",
        ),
        _note(
            "Licensing regime",
            "licensed Chinese capacity: Dy 15%, Tb 35%, Sm 30%, Y 30% "
            "of 150% of Japan's demand, in every scenario (Disruptions rows)",
            "dy_exports",
            "Chinese Dy exports were a few t a month worldwide in late 2025 (3.5 t in "
            "October, 4.1 t in December), Tb up to 12 t a month with 5.2 t to Japan; Dy "
            "reaches Japan also in alloys and magnets. Sm and Y factors are assumptions.",
        ),
        _note(
            "Licensing in 2025",
            "Japan received 95% less Chinese Dy in 2025 than in 2024",
            "dy_2025",
        ),
        _note(
            "Dual-use ban",
            "seven restricted rare earths; Sm, Dy, Tb and Y are planned here",
            "ban",
            "Gd, Lu and Sc are not planned in this case.",
        ),
        _note(
            "New licence",
            "a further Chinese licence (offers *-CN-new): 30% of the "
            "pre-licensing capacity, 10% dearer, fixed cost JPY 10 m, lead time 1 quarter",
            "licence",
            "45 working days is about 9 weeks: a licence applied for in one "
            "quarter delivers from the next. Volume, premium and cost are assumptions.",
        ),
        _note(
            "Myanmar",
            "Chinese Dy and Tb are mined in Myanmar (mine_country MM), refined in China",
            "myanmar",
            "Heavy rare-earth ore from Myanmar's ionic clays feeds "
            "Chinese separation: on the mining basis Chinese Dy/Tb is not Chinese.",
        ),
        _note(
            "Lynas NdPr",
            "one mixed NdPr oxide (OfferContents: 0.75 Nd, 0.25 Pr); committed "
            "offtake 400 t a quarter, all take-or-pay (firm), JPY 12.0 m per t, contracted",
            "lynas_third",
            "One third of Japan's NdPr (about 1,180 t a quarter) is about 400 "
            "t; the Nd:Pr split of NdPr oxide, the take-or-pay volume and the price (10% "
            "above China) are assumptions.",
        ),
        _note(
            "Lynas NdPr priority",
            "NdPr priority supply to Japan up to 7,200 t a year",
            "jare",
            "Above Japan's committed 1,800 t a year: the rest is sold to others.",
        ),
        _note(
            "Lynas surge",
            "uncommitted NdPr: 60 t a quarter at JPY 13.5 m, fixed cost JPY "
            "200 m, signing later, lead time 1 quarter",
            None,
            "Most non-Chinese NdPr is sold under offtakes: what is left is a spot cargo that "
            "takes a quarter to arrange.",
        ),
        _note(
            "Lynas heavy",
            "Dy 18 t, Tb 3.6 t a quarter (30% of Japan's demand), 1.5x China "
            "price, contracted, delivering from 2026Q1",
            "jare30",
            "JARE (JOGMEC, Sojitz) holds up to 65% of Lynas' Dy/Tb, all taken (take-or-pay); "
            "the price premium is an assumption (Lynas prices heavy rare earths on demand "
            "outside China).",
        ),
        _note(
            "Lynas heavy spot",
            "the other 35% of Lynas' Dy/Tb (Dy 9.7 t, Tb 1.9 t a quarter) from 2026Q4 at 2x "
            "the China price; signing later, lead time 1, fixed cost JPY 100 m",
            "jare",
            "The share JARE does not hold, sold elsewhere unless Japan outbids; date, price "
            "and terms are assumptions.",
        ),
        _note(
            "Lynas heavy separation",
            "first Dy oxide May 2025, Tb June 2025, in Malaysia",
            "lynas_hre",
        ),
        _note(
            "Lynas light and Sm, Y",
            "La 300, Ce 350 t a quarter; Sm 15 t from 2026Q2; Y 40 "
            "t from 2026Q4 at 4x the China price",
            "lynas_sm",
            "Samarium by April 2026 per the expansion plan; volumes, the Y date and prices "
            "are assumptions.",
        ),
        _note(
            "Viet Nam",
            "Dong Pao JV refines Nd 80, Pr 25, La 100, Ce 150 t a quarter in Viet Nam",
            "vietnam",
            "January 2026: 221 t from Viet Nam; the split is an assumption.",
        ),
        _note(
            "Viet Nam ban",
            "Vietnamese ore refined in China (offers *-VNCN: Nd 200, Pr 60, "
            "La 250, Ce 300, Y 30 t) at 0 in every scenario",
            "vietnam",
            "Unprocessed exports are banned from 1 January 2026: the offers stay visible, "
            "their capacity is 0 in every scenario (Disruptions).",
        ),
        _note(
            "France, Solvay",
            "La Rochelle: Nd 40, La 60, Ce 80, Sm 20 t a quarter",
            "customs",
            "France shipped 79 t in January 2026; the split is an assumption.",
        ),
        _note(
            "Caremag",
            "Iwatani term contract, contracted: Dy towards 62.5 t and Tb towards "
            "11.25 t a quarter (250 t and 45 t a year), 15% of that in 2027Q1 rising to 55% in "
            "2028 (OfferPeriods); 1.5x China price",
            "caremag",
            "The ramp (plant starting late 2026) and the price are assumptions.",
        ),
        _note(
            "Iluka Eneabba",
            "from 2027Q3: NdPr 100 t, Dy 6 t, Tb 1.2 t a quarter; signing "
            "later, lead time 2 quarters, fixed costs JPY 200, 300, 100 m",
            "iluka",
            "Commissioning in 2027; the volumes offered to Japan, the lead time (negotiation "
            "and qualification) and costs are assumptions.",
        ),
        _note(
            "Neo (Estonia)",
            "NdPr 30 t a quarter from Silmet, feed mined in the US; JPY 15 m "
            "per t; signing later, lead time 1, fixed cost JPY 150 m",
            "neo",
            "Volume for Japan, price and terms are assumptions.",
        ),
        _note(
            "MP Materials",
            "NdPr 20 t a quarter at JPY 16.5 m per t (USD 110/kg); signing "
            "later, lead time 1, fixed cost JPY 100 m",
            "mp",
            "Priced at its US floor; output largely committed to US buyers, so only a small "
            "volume (assumption).",
        ),
        _note(
            "India",
            "IREL's Nd (80 t a quarter) at 0 in every scenario",
            "irel",
            "The export agreement was suspended in mid-2025; the offer stays visible.",
        ),
        _note(
            "Deep-sea mud",
            "Minamitorishima from 2028Q1: Dy 3, Tb 0.6, Y 15, Nd 10 t a "
            "quarter; fixed cost JPY 2,000 m",
            "deep",
            "Volumes and costs are assumptions.",
        ),
        _note("Stockpile", "about 60 days: 42 national (JOGMEC), 18 private", "stock"),
        _note(
            "Company stock",
            "initial stock and cover target 18 days of demand, at most 20 days held; cover "
            "penalty the default (10% of the shortage cost)",
            "stock",
            "The private 18 days of the 60, as company stock; the 20-day limit (warehouse "
            "and working capital) is an assumption.",
        ),
        _note(
            "National stockpile",
            "JOGMEC holds 42 days of Q1 2026 demand of each element, "
            "released as offers *-JOGMEC: at most a quarter of it a quarter while a stop "
            "lasts (from 2026Q3, four quarters at most), at the China price",
            "stock",
            "The split over elements, the release rule and price are assumptions; outside "
            "a stop the offers are at 0 (Disruptions).",
        ),
        _note(
            "Stockpile targets",
            "60 days standard, up to 180 days high-risk (national)",
            "strategy",
            "Not enforced here: the national stockpile is fixed at 42 days.",
        ),
        _note(
            "Holding cost",
            "2% of the China price a quarter plus JPY 0.01 m per t",
            None,
            "Capital and storage cost.",
        ),
        _note(
            "Shortage cost",
            f"JPY m per t short: {var}",
            None,
            f"Downstream value at risk per t (Value at risk rows) times {LOSS_SHARE:.0%}, the "
            "share of it lost (calibration row).",
        ),
        _note(
            "Calibration",
            f"{LOSS_SHARE:.0%} of the value at risk",
            "nomura",
            "Chosen so that the cn_stop_3m scenario costs about JPY 660 bn more than base "
            "(ScenarioCosts): the model gives JPY 650 bn (tests/test_japan.py checks a factor "
            "of 2). The one-year stop cn_stop_12m then costs JPY 8.9 tn more, 3.4x Nomura's "
            "JPY 2.6 tn: stocks and options absorb a quarter, not a year, and the model does "
            "not let demand adapt.",
        ),
    ]
    rows += [
        _note(f"Value at risk {e}", f"JPY {v:,.0f} m per t", None, why)
        for e, (v, why) in VALUE_AT_RISK.items()
    ]
    rows += [
        _note(
            "Ex-China prices in a stop",
            "x2.0 for heavy (3x the China price with the 1.5x "
            "premium), x1.3 for light, on every non-Chinese commercial offer while a stop "
            "lasts",
            "eu_dy",
            "European Dy ran about 3x Chinese prices in 2025; the light "
            "factor is an assumption (the US floor is about 1.5x China).",
        ),
        _note(
            "Recycling",
            "urban mines in Japan (250 t of scrap a quarter, JPY 4 m per t) and "
            "a plant in Viet Nam (300 t, JPY 3 m); yields Nd 0.22, Pr 0.07, Dy 0.02-0.025, "
            "Tb 0.004-0.005",
            "recycling",
            "Yields follow NdFeB composition (about 30% rare "
            "earths); costs and capacities are assumptions.",
        ),
        _note(
            "Substitution",
            "Dy/Tb-free magnets: 300 t a quarter from 2026Q1, 400 t more from "
            "2027Q1; each t avoids 0.03 t Dy and 0.006 t Tb, needs 0.01 t more Nd",
            "substitution",
            "Contents and costs are assumptions.",
        ),
        _note(
            "Country risk",
            "CN 0.90, HK 0.80, MM 0.80, VN 0.50, IN 0.35, MY 0.30, US 0.15, "
            "EE 0.15, AU 0.10, FR 0.10, JP 0.05",
            None,
            "A 0-1 score of the chance of a politically driven stop.",
        ),
        _note(
            "China caps",
            "per element on the refining basis: Nd, Pr 60%, Dy, Tb 80%, Y 90% from 2026Q4 "
            "(no non-Chinese Y before Lynas'); Dy 50% on the mining basis; all elements pooled "
            "70% on the shipment basis",
            None,
            "Policy assumptions: the pooled cap is the customs view (meti row); per "
            "element caps stop cheap La/Ce from meeting it alone.",
        ),
        _note(
            "Diversification",
            "at least two contracted offers for Nd and Dy; risk-weighted "
            "supply at most 0.75 overall",
            None,
            "Policy rules of a typical planner.",
        ),
        _note(
            "Home codes",
            "JP (deep-sea mud, JOGMEC) is exempt from one-country caps",
            None,
            "Domestic supply is not a dependence.",
        ),
        _note(
            "CRMA cap",
            "country_share_max 65% per element (Sweep sheet, refining basis; "
            "examples/crma_country_cap.py for every basis)",
            "crma",
        ),
        _note(
            "2010 precedent",
            "China halted exports to Japan for about two months",
            "halt2010",
            "The cn_stop_3m scenario.",
        ),
    ]
    rows += [
        _note(
            f"Scenario {s}",
            f"probability {p:.0%}: {why}",
            None,
            "Probabilities are assumptions; every stop starts in 2026Q3.",
        )
        for s, p, _, _, why in SCENARIOS
    ]
    rows.append(
        _note(
            "Risk attitude",
            "80% expected cost + 20% CVaR at 90%",
            None,
            "A planner who weighs the worst 10% of outcomes.",
        )
    )
    return rows


def japan() -> openpyxl.Workbook:
    """Build the Japan 2026 case."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    _sheet(
        workbook,
        "Settings",
        [
            ["key", "value"],
            ["currency", "JPY m"],
            ["unit", "t"],
            ["china_codes", "CN, HK"],
            ["china_basis", "any"],
            ["home_codes", "JP"],
            ["cvar_alpha", 0.9],
            ["cvar_weight", 0.2],
            ["time_limit_s", 120],
            ["mip_gap", 1e-4],
        ],
    )
    _sheet(workbook, "Periods", [["period", "days"], *[[p, _quarter_days(p)] for p in PERIODS]])
    elements: list[list[Any]] = [
        [
            "element",
            "name",
            "group",
            "shortage_cost",
            "holding_cost",
            "initial_stock",
            "storage_capacity",
            "cover_days",
        ]
    ]
    demand: list[list[Any]] = [["element", "period", "quantity"]]
    for element, (name, group, base, growth, price) in ELEMENTS.items():
        elements.append(
            [
                element,
                name,
                group,
                round(LOSS_SHARE * VALUE_AT_RISK[element][0], 1),
                round(0.02 * price + 0.01, 3),
                round(base / 90 * PRIVATE_DAYS, 1),
                round(base / 90 * STORAGE_DAYS, 1),
                PRIVATE_DAYS,
            ]
        )
        for index, period in enumerate(PERIODS):
            demand.append([element, period, round(base * (1 + growth) ** index, 1)])
    _sheet(workbook, "Elements", elements)
    _sheet(workbook, "Demand", demand)
    offers = [OFFER_COLUMNS, *[[row.get(c) for c in OFFER_COLUMNS] for row in _offers()]]
    _sheet(workbook, "Offers", offers)
    _sheet(workbook, "OfferContents", [["offer", "element", "fraction"], *map(list, CONTENTS)])
    periods: list[list[Any]] = [["offer", "period", "capacity"]]
    for offer, full in (("Dy-CAR", 250 / 4), ("Tb-CAR", 45 / 4)):
        periods += [[offer, p, round(share * full, 2)] for p, share in RAMP.items()]
    _sheet(workbook, "OfferPeriods", periods)
    _sheet(workbook, "Countries", [["country", "name", "risk"], *map(list, COUNTRIES)])
    _sheet(
        workbook,
        "Activities",
        [
            [
                "activity",
                "kind",
                "country",
                "unit_cost",
                "capacity",
                "fixed_cost",
                "first_period",
                "last_period",
            ],
            *map(list, ACTIVITIES),
        ],
    )
    _sheet(workbook, "ActivityYields", [["activity", "element", "yield"], *map(list, YIELDS)])
    _sheet(workbook, "Policies", _policies(), percent_columns=("value",))
    _sheet(workbook, "Scenarios", [["scenario", "probability"], *[[s[0], s[1]] for s in SCENARIOS]])
    _sheet(
        workbook,
        "Disruptions",
        [
            [
                "scenario",
                "target_type",
                "target",
                "element",
                "first_period",
                "last_period",
                "capacity_factor",
                "cost_factor",
                "cover_factor",
            ],
            *_disruptions(),
        ],
    )
    _sheet(
        workbook,
        "Sweep",
        [["change", "values"], ["country_share_max[refining]", "1.0:0.65:-0.05"]],
    )
    _sheet(workbook, "Notes", _notes())
    return workbook


TINY_NOTES = [
    (
        "What",
        "Two quarters; Nd demand 100 + 100 t, Dy 10 + 15 t; three offers; China share of Nd "
        "at most 50%.",
        "A case small enough to check by hand.",
    ),
    (
        "Nd",
        "Without Nd-MY the cap forces Nd-CN to 0 and 200 t go short: 40,000. With it (fixed "
        "cost 500): 50 t from each offer each quarter, 2 x (50 x 50 + 50 x 80) = 13,000; total "
        "13,500.",
        "Short tonnes (200) cost more than a CN+MY pair (65 per t).",
    ),
    (
        "Dy",
        "25 t needed, at most 24 t can be bought: 12 t in Q1 (10 used, 2 held: holding 2), "
        "12 t in Q2, 1 t short: 24 x 300 + 2 + 1,000 = 8,202.",
        "Buying less in Q1 means more short at 1,000 per t.",
    ),
    (
        "Optimum",
        "21,702 = fixed 500 + purchases 20,200 + holding 2 + shortage 1,000.",
        "China share (any basis): Nd 50% in both quarters (the cap binds), Dy 100% (no cap).",
    ),
]


def tiny() -> openpyxl.Workbook:
    """Build the hand-checkable tiny case (the reference hand case, with its reasoning)."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    _sheet(workbook, "Periods", [["period", "days"], ["2026Q1", 90], ["2026Q2", 91]])
    _sheet(
        workbook,
        "Elements",
        [
            ["element", "name", "group", "shortage_cost", "holding_cost"],
            ["Nd", "Neodymium", "light", 200, 2],
            ["Dy", "Dysprosium", "heavy", 1000, 1],
        ],
    )
    _sheet(
        workbook,
        "Demand",
        [
            ["element", "period", "quantity"],
            ["Nd", "2026Q1", 100],
            ["Nd", "2026Q2", 100],
            ["Dy", "2026Q1", 10],
            ["Dy", "2026Q2", 15],
        ],
    )
    _sheet(
        workbook,
        "Offers",
        [
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
            ],
            ["Nd-CN", "China Northern", "Nd", "CN", None, None, 50, 100, None],
            ["Nd-MY", "Lynas", "Nd", "MY", "AU", "MY", 80, 60, 500],
            ["Dy-CN", "Ganzhou", "Dy", "CN", None, None, 300, 12, None],
        ],
    )
    _sheet(
        workbook,
        "Countries",
        [
            ["country", "name", "risk"],
            ["CN", "China", 0.9],
            ["MY", "Malaysia", 0.3],
            ["AU", "Australia", 0.1],
        ],
    )
    _sheet(
        workbook,
        "Policies",
        [["policy", "element", "period", "value"], ["china_share_max", "Nd", None, 0.5]],
        percent_columns=("value",),
    )
    _sheet(
        workbook,
        "Notes",
        [["topic", "value", "source or reasoning"], *[list(n) for n in TINY_NOTES]],
    )
    return workbook


def main() -> int:
    """Write both workbooks into inputs/."""
    INPUTS.mkdir(exist_ok=True)
    for name, build in (("japan-2026.xlsx", japan), ("tiny.xlsx", tiny)):
        build().save(INPUTS / name)
        sys.stdout.write(f"wrote {INPUTS / name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
