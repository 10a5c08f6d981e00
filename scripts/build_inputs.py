"""Build the example input workbooks in ``inputs/`` from the facts in domain.md.

Run ``python scripts/build_inputs.py``. It writes:

* ``inputs/japan-2026.xlsx``: Japan's rare-earth sourcing, 12 quarters from
  2026Q1, with a Notes sheet giving the source or reasoning of every number;
* ``inputs/tiny.xlsx``: two quarters, two elements, three offers, small
  enough to solve by hand (the optimum, 21,702, is worked out in its Notes).

Figures reported in the news (customs data, shares, stockpile days, the cost
of an export stop) are used as reported; prices, capacities offered to
Japan, risk scores and probabilities are our assumptions and say so.
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

# JPY million per tonne (metal equivalent), at about JPY 150 per USD.
SHORTAGE_COST = 195.0

# bulk warehouse space for the cheap light elements (t)
STORAGE = {"La": 1500.0, "Ce": 1950.0}

# element: name, group, Q1-2026 demand (t), growth per quarter, China price (JPY m/t), cover days
ELEMENTS: dict[str, tuple[str, str, float, float, float, float]] = {
    "Nd": ("Neodymium", "light", 900, 0.015, 11.0, 60),
    "Pr": ("Praseodymium", "light", 280, 0.015, 11.5, 60),
    "Dy": ("Dysprosium", "heavy", 60, 0.010, 45.0, 180),
    "Tb": ("Terbium", "heavy", 12, 0.010, 180.0, 180),
    "La": ("Lanthanum", "light", 1000, 0.0, 0.30, 60),
    "Ce": ("Cerium", "light", 1300, 0.0, 0.35, 60),
    "Sm": ("Samarium", "heavy", 90, 0.0, 2.5, 60),
    "Y": ("Yttrium", "heavy", 300, 0.0, 1.5, 60),
}

COUNTRIES = [
    ("CN", "China", 0.90, "Export controls used in 2010 and 2026; >99% of heavy refining"),
    ("HK", "Hong Kong (trading hub)", 0.80, "Counted as China (china_codes)"),
    ("MY", "Malaysia", 0.30, "Lynas processing plant; local licence disputes"),
    ("AU", "Australia", 0.10, "Mount Weld mine; allied producer"),
    ("VN", "Viet Nam", 0.50, "Unprocessed-export ban from 1 Jan 2026; Dong Pao output erratic"),
    ("FR", "France", 0.10, "Solvay La Rochelle; Caremag (JOGMEC/Iwatani)"),
    ("IN", "India", 0.35, "IREL, state-owned; export volumes limited"),
    ("KZ", "Kazakhstan", 0.50, "New deposits, early stage"),
    ("US", "United States", 0.15, "Mountain Pass (MP Materials)"),
    ("JP", "Japan", 0.05, "Domestic (deep-sea mud, recycling)"),
]

# offer id, supplier, element, country, mine, refine, price factor vs China (or absolute with
# a leading "=" in the tuple's 7th field), capacity t/quarter, fixed cost, min take, first, last
OfferRow = tuple[
    str, str, str, str, str | None, str | None, float, float, float, float, str | None, str | None
]


def _offers() -> list[OfferRow]:
    rows: list[OfferRow] = []
    china_capacity = 1.5  # China can ship 150% of Japan's demand of each element
    for element, (_, group, demand, _, price, _) in ELEMENTS.items():
        supplier = "China Northern Rare Earth" if group == "light" else "China Rare Earth Group"
        rows.append(
            (
                f"{element}-CN",
                supplier,
                element,
                "CN",
                None,
                None,
                price,
                round(china_capacity * demand, 1),
                0,
                0,
                None,
                None,
            )
        )
    lynas = "Lynas Rare Earths"
    rows += [
        ("Nd-LYN", lynas, "Nd", "MY", "AU", "MY", 13.0, 380, 200, 100, None, None),
        ("Pr-LYN", lynas, "Pr", "MY", "AU", "MY", 13.5, 120, 0, 30, None, None),
        ("La-LYN", lynas, "La", "MY", "AU", "MY", 0.40, 300, 0, 0, None, None),
        ("Ce-LYN", lynas, "Ce", "MY", "AU", "MY", 0.45, 350, 0, 0, None, None),
        ("Dy-LYN", lynas, "Dy", "MY", "AU", "MY", 90.0, 6, 100, 0, "2026Q3", None),
        ("Tb-LYN", lynas, "Tb", "MY", "AU", "MY", 330.0, 1.0, 0, 0, "2026Q3", None),
        ("Sm-LYN", lynas, "Sm", "MY", "AU", "MY", 4.0, 15, 0, 0, "2026Q3", None),
        ("Y-LYN", lynas, "Y", "MY", "AU", "MY", 12.0, 20, 0, 0, "2026Q4", None),
    ]
    dong_pao = "Dong Pao JV"
    tolled = "Dong Pao JV (refined in China)"
    rows += [
        ("Nd-VN", dong_pao, "Nd", "VN", "VN", "VN", 12.5, 80, 50, 0, None, None),
        ("Pr-VN", dong_pao, "Pr", "VN", "VN", "VN", 13.0, 25, 0, 0, None, None),
        ("La-VN", dong_pao, "La", "VN", "VN", "VN", 0.35, 100, 0, 0, None, None),
        ("Ce-VN", dong_pao, "Ce", "VN", "VN", "VN", 0.40, 150, 0, 0, None, None),
        ("Nd-VNCN", tolled, "Nd", "VN", "VN", "CN", 11.5, 200, 0, 0, None, None),
        ("Pr-VNCN", tolled, "Pr", "VN", "VN", "CN", 12.0, 60, 0, 0, None, None),
        ("La-VNCN", tolled, "La", "VN", "VN", "CN", 0.32, 250, 0, 0, None, None),
        ("Ce-VNCN", tolled, "Ce", "VN", "VN", "CN", 0.37, 300, 0, 0, None, None),
        ("Y-VNCN", tolled, "Y", "VN", "VN", "CN", 1.6, 30, 0, 0, None, None),
    ]
    solvay, caremag = "Solvay La Rochelle", "Caremag (Lacq)"
    rows += [
        ("Nd-SOL", solvay, "Nd", "FR", None, None, 14.0, 40, 0, 0, None, None),
        ("La-SOL", solvay, "La", "FR", None, None, 0.50, 60, 0, 0, None, None),
        ("Ce-SOL", solvay, "Ce", "FR", None, None, 0.55, 80, 0, 0, None, None),
        ("Sm-SOL", solvay, "Sm", "FR", None, None, 5.0, 20, 30, 0, None, None),
        ("Nd-CAR", caremag, "Nd", "FR", "AU", "FR", 14.5, 50, 0, 0, "2027Q1", None),
        ("Pr-CAR", caremag, "Pr", "FR", "AU", "FR", 15.0, 15, 0, 0, "2027Q1", None),
        ("Dy-CAR", caremag, "Dy", "FR", "AU", "FR", 100.0, 10, 500, 2, "2027Q1", None),
        ("Tb-CAR", caremag, "Tb", "FR", "AU", "FR", 360.0, 2.5, 0, 0, "2027Q1", None),
    ]
    irel = "IREL (India)"
    rows += [
        ("Nd-IN", irel, "Nd", "IN", None, None, 12.5, 60, 0, 0, None, None),
        ("Pr-IN", irel, "Pr", "IN", None, None, 13.0, 20, 0, 0, None, None),
        ("La-IN", irel, "La", "IN", None, None, 0.35, 150, 0, 0, None, None),
        ("Ce-IN", irel, "Ce", "IN", None, None, 0.40, 200, 0, 0, None, None),
    ]
    kazakh = "Kazatomprom (Kazakhstan)"
    rows += [
        ("Nd-KZ", kazakh, "Nd", "KZ", None, None, 13.0, 30, 0, 0, "2027Q1", None),
        ("Dy-KZ", kazakh, "Dy", "KZ", None, None, 85.0, 4, 150, 0, "2027Q1", None),
        ("Y-KZ", kazakh, "Y", "KZ", None, None, 8.0, 40, 0, 0, "2027Q1", None),
    ]
    mp = "MP Materials (Mountain Pass)"
    rows += [
        ("Nd-US", mp, "Nd", "US", None, None, 13.5, 100, 100, 0, "2026Q2", None),
        ("Pr-US", mp, "Pr", "US", None, None, 14.0, 30, 0, 0, "2026Q2", None),
    ]
    deep = "Minamitorishima deep-sea mud"
    rows += [
        ("Dy-MTS", deep, "Dy", "JP", None, None, 150.0, 3, 2000, 0, "2028Q1", None),
        ("Tb-MTS", deep, "Tb", "JP", None, None, 500.0, 0.6, 0, 0, "2028Q1", None),
        ("Y-MTS", deep, "Y", "JP", None, None, 20.0, 15, 0, 0, "2028Q1", None),
        ("Nd-MTS", deep, "Nd", "JP", None, None, 16.0, 10, 0, 0, "2028Q1", None),
    ]
    return rows


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

RESTRICTED = ("Sm", "Dy", "Tb", "Y")  # the seven of 6 Jan 2026 that this case plans

SCENARIOS = [
    ("base", 0.55, "Trade continues; the 2026 dual-use ban stays limited to military end users"),
    ("cn_stop_3m", 0.20, "China stops the seven restricted elements for one quarter (2026Q3)"),
    ("cn_stop_12m", 0.10, "China stops them for four quarters (2026Q3-2027Q2)"),
    (
        "vn_ban",
        0.10,
        "Viet Nam enforces its unprocessed-export ban from 2026Q2: ore refined in China stops",
    ),
    ("cn_stop_12m_vn_ban", 0.05, "Both at once"),
]


def _disruptions() -> list[list[Any]]:
    rows: list[list[Any]] = []
    for scenario, last in (
        ("cn_stop_3m", "2026Q3"),
        ("cn_stop_12m", "2027Q2"),
        ("cn_stop_12m_vn_ban", "2027Q2"),
    ):
        rows += [
            [scenario, "country", "CN", element, "2026Q3", last, 0, None] for element in RESTRICTED
        ]
    for scenario in ("vn_ban", "cn_stop_12m_vn_ban"):
        rows.append(
            [scenario, "supplier", "Dong Pao JV (refined in China)", None, "2026Q2", None, 0, None]
        )
        # the rest of Vietnamese supply gets dearer while exporters re-route
        rows.append([scenario, "supplier", "Dong Pao JV", None, "2026Q2", None, 1, 1.2])
    return rows


NOTES = [
    (
        "Units",
        "Quantities in t of metal equivalent per quarter; costs in JPY million (JPY m).",
        "Japanese customs data are reported in t of metal equivalent (domain.md).",
    ),
    (
        "Demand",
        "Q1 2026 demand per quarter: Nd 900, Pr 280, Dy 60, Tb 12, La 1,000, Ce 1,300, "
        "Sm 90, Y 300 t (3,942 t in all).",
        "Assumption: January 2026 imports were about 1,478 t a month (about 4,400 t a quarter, "
        "domain.md); the eight elements planned here are taken as about 90% of it, split by typical "
        "Japanese use (magnets Nd/Pr/Dy/Tb, catalysts and glass La/Ce, Sm magnets, Y phosphors).",
    ),
    (
        "Demand growth",
        "Nd and Pr +1.5%, Dy and Tb +1.0% a quarter; others flat.",
        "Assumption: magnet demand grows with EV and motor output.",
    ),
    (
        "China prices",
        "JPY m per t: Nd 11, Pr 11.5, Dy 45, Tb 180, La 0.30, Ce 0.35, Sm 2.5, Y 1.5.",
        "Assumption: indicative 2025 oxide/metal prices converted at about JPY 150 per USD.",
    ),
    (
        "Other prices",
        "Non-Chinese offers cost 10-100% more (Dy and Tb about twice, Y eight times).",
        "Assumption: non-Chinese heavy rare earths trade at a premium because China refines over 99% "
        "of them (domain.md).",
    ),
    (
        "China capacity",
        "China can ship 150% of Japan's demand of each element.",
        "Assumption: China mines 60-70% and refines about 90% of the world's rare earths (domain.md); "
        "it is not a binding limit in normal times.",
    ),
    (
        "Lynas",
        "Nd 380, Pr 120, La 300, Ce 350 t a quarter; Dy 6, Tb 1, Sm 15 from 2026Q3, Y 20 from "
        "2026Q4. Mined in Australia, refined in Malaysia.",
        "Lynas supplies about one third of Japan's needs, mainly NdPr (domain.md): 500 of ~1,180 t "
        "NdPr. Heavy volumes are assumptions (first Malaysian heavy separation).",
    ),
    (
        "Viet Nam",
        "Dong Pao JV refines some locally (Nd 80, Pr 25, La 100, Ce 150 t) and has ore "
        "refined in China (Nd 200, Pr 60, La 250, Ce 300, Y 30 t).",
        "Vietnam shipped about 221 t a month in January 2026 and 32% of Japan's imports in 2024; "
        "Dong Pao struggles to produce consistently; some ore is refined in China (domain.md). The "
        "split is an assumption.",
    ),
    (
        "France",
        "Solvay La Rochelle (Nd 40, La 60, Ce 80, Sm 20 t); Caremag from 2027Q1 (Nd 50, "
        "Pr 15, Dy 10, Tb 2.5 t; fixed cost JPY 500 m on the Dy offer, minimum 2 t Dy).",
        "France shipped 79 t in January 2026; Caremag is backed by JOGMEC and Iwatani with up to "
        "EUR 110 m (domain.md). Volumes, start date and contract terms are assumptions.",
    ),
    (
        "India, Kazakhstan, US",
        "IREL Nd 60, Pr 20, La 150, Ce 200 t; Kazakhstan from 2027Q1 Nd 30, "
        "Dy 4, Y 40 t; Mountain Pass from 2026Q2 Nd 100, Pr 30 t.",
        "Partners named in domain.md; volumes offered to Japan are assumptions.",
    ),
    (
        "Deep-sea mud",
        "Minamitorishima from 2028Q1: Dy 3, Tb 0.6, Y 15, Nd 10 t a quarter at high "
        "cost; fixed cost JPY 2,000 m.",
        "Trial lifting Jan 2026, 350 t/day system Feb 2027, commercial supply 2028 or later "
        "(domain.md); volumes and costs are assumptions.",
    ),
    (
        "Contract terms",
        "Fixed costs (JPY m) and minimum takes on some term offers (Nd-LYN 100 t, "
        "Pr-LYN 30 t a quarter).",
        "Assumption: term contracts with take-or-pay volumes.",
    ),
    (
        "Shortage cost",
        "JPY 195 m per t of unmet demand; for Tb, 3 x its China price (540).",
        "domain.md: Nomura Research Institute estimates JPY 660 bn for a three-month stop; over about "
        "3 x 1,127 t of lost Chinese supply that is about JPY 195 m per t. Tb costs more than that to "
        "buy (180-500), so leaving it unmet must cost more than buying it: 3 x price, an assumption.",
    ),
    (
        "Cover targets",
        "60 days of demand at the end of every quarter; 180 days for Dy and Tb. "
        "Cover penalty: the default, 10% of the shortage cost; for Dy and Tb their "
        "China price per t per quarter.",
        "Japan holds about 60 days (42 national, 18 private); the 2020 strategy targets 60 days for "
        "standard minerals and up to 180 days for high-risk ones (domain.md). With the default "
        "penalty (19.5) below the Dy and Tb prices, the model would let those stockpiles run down "
        "in the last quarters, where stock has no further use: an assumption of ours.",
    ),
    (
        "Storage",
        "La at most 1,500 t and Ce at most 1,950 t held (about 135 days of demand).",
        "Assumption: bulk warehouse space. Without it the TOTAL China cap, which pools tonnes, "
        "would be met by piling up cheap non-Chinese La (thousands of t) instead of diversifying "
        "the elements that matter: a known weakness of tonnage-pooled caps.",
    ),
    (
        "Initial stock",
        "60 days of Q1 2026 demand of each element.",
        "The current stockpile of about 60 days (domain.md).",
    ),
    (
        "Holding cost",
        "About 2% of the China price per quarter, plus JPY 0.01 m per t.",
        "Assumption: capital and storage cost.",
    ),
    (
        "Recycling",
        "Urban mines in Japan (250 t of magnet scrap a quarter, JPY 4 m per t) and a plant "
        "in Viet Nam (300 t, JPY 3 m per t); yields Nd 0.22, Pr 0.07, Dy 0.02-0.025, "
        "Tb 0.004-0.005 t per t of scrap.",
        "Recycling of end-of-life products and a Vietnamese plant (domain.md); yields follow the "
        "composition of NdFeB magnets (about 30% rare earths); costs are assumptions.",
    ),
    (
        "Substitution",
        "Heavy-rare-earth-free magnets: 300 t of magnets a quarter from 2026Q1, "
        "another 400 t from 2027Q1; each t avoids 0.03 t Dy and 0.006 t Tb and needs "
        "0.01 t more Nd.",
        "Dy/Tb-free magnets are commercial (Daido Steel) and ramp through 2026 (Proterial); Proterial "
        "makes 2,500-3,000 t of magnets a year (domain.md). Contents and costs are assumptions.",
    ),
    (
        "Country risk",
        "CN 0.90, HK 0.80, VN 0.50, KZ 0.50, IN 0.35, MY 0.30, US 0.15, AU 0.10, FR 0.10, JP 0.05.",
        "Assumption: a 0-1 score of the chance of a politically driven stop.",
    ),
    (
        "China caps",
        "China share of all supply at most 60% in 2026 and 50% from 2027; Dy and Tb at "
        "most 90%. Basis: any (shipped, mined or refined in China).",
        "About 60% of Japan's needs come from China today (government figure, domain.md); heavy "
        "rare earths are close to 100% Chinese. The tightening is a policy assumption.",
    ),
    (
        "Diversification",
        "At least two contracted offers for Nd and Dy; risk-weighted supply at most 0.75 overall.",
        "Assumption: policy rules of a typical planner.",
    ),
    (
        "Scenarios",
        "base 55%; China stops Sm, Dy, Tb and Y for 3 months (20%) or 12 months (10%) "
        "from 2026Q3; Viet Nam enforces its unprocessed-export ban from 2026Q2 (10%); "
        "12-month stop and ban together (5%).",
        "6 Jan 2026 ban of dual-use exports to Japanese military users covering seven rare earths "
        "(Sm, Gd, Tb, Dy, Lu, Sc, Y), 2010 two-month halt, Vietnam's ban from 1 Jan 2026 "
        "(domain.md). Probabilities are assumptions.",
    ),
    (
        "Risk attitude",
        "Objective: 80% expected cost + 20% CVaR at 90%.",
        "Assumption: a planner who weighs the worst 10% of outcomes.",
    ),
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
            ["cvar_alpha", 0.9],
            ["cvar_weight", 0.2],
            ["time_limit_s", 120],
            ["mip_gap", 1e-4],
        ],
    )
    _sheet(workbook, "Periods", [["period", "days"], *[[p, _quarter_days(p)] for p in PERIODS]])
    elements = [
        [
            "element",
            "name",
            "group",
            "shortage_cost",
            "holding_cost",
            "initial_stock",
            "storage_capacity",
            "cover_days",
            "cover_penalty",
        ]
    ]
    demand = [["element", "period", "quantity"]]
    for element, (name, group, base, growth, price, cover) in ELEMENTS.items():
        initial = round(base / 90 * 60, 1)
        shortage = max(SHORTAGE_COST, 3 * price)
        storage = STORAGE.get(element)
        penalty = price if element in ("Dy", "Tb") else None
        elements.append(
            [
                element,
                name,
                group,
                shortage,
                round(0.02 * price + 0.01, 3),
                initial,
                storage,
                cover,
                penalty,
            ]
        )
        for index, period in enumerate(PERIODS):
            demand.append([element, period, round(base * (1 + growth) ** index, 1)])
    _sheet(workbook, "Elements", elements)
    _sheet(workbook, "Demand", demand)
    offers = [
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
            "last_period",
        ]
    ]
    offers += [list(row) for row in _offers()]
    _sheet(workbook, "Offers", offers)
    _sheet(
        workbook,
        "Countries",
        [["country", "name", "risk", "why"], *[list(row) for row in COUNTRIES]],
    )
    # the why column is documentation: drop it from the input contract's view
    workbook["Countries"].delete_cols(4)
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
            *[list(row) for row in ACTIVITIES],
        ],
    )
    _sheet(
        workbook, "ActivityYields", [["activity", "element", "yield"], *[list(r) for r in YIELDS]]
    )
    policies: list[list[Any]] = [
        ["policy", "element", "period", "value"],
        ["china_share_max", "TOTAL", None, 0.60],
    ]
    policies += [["china_share_max", "TOTAL", p, 0.50] for p in PERIODS if not p.startswith("2026")]
    policies += [
        ["china_share_max", "Dy", None, 0.90],
        ["china_share_max", "Tb", None, 0.90],
        ["risk_max", "TOTAL", None, 0.75],
        ["min_offers", "Nd", None, 2],
        ["min_offers", "Dy", None, 2],
    ]
    _sheet(workbook, "Policies", policies, percent_columns=("value",))
    _sheet(workbook, "Scenarios", [["scenario", "probability"], *[[s, p] for s, p, _ in SCENARIOS]])
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
            ],
            *_disruptions(),
        ],
    )
    _sheet(
        workbook,
        "Sweep",
        [["change", "values"], ["china_share_max[TOTAL]", "0.70:0.40:-0.05"]],
    )
    notes = [["topic", "value", "source or reasoning"], *[list(n) for n in NOTES]]
    notes += [[f"Scenario {s}", f"probability {p:.0%}", why] for s, p, why in SCENARIOS]
    notes += [
        [
            "Sweep",
            "china_share_max[TOTAL] from 70% to 40%",
            "What each point of China share costs: planner sweep inputs/japan-2026.xlsx -o ... "
            "reads this sheet; planner solve ignores it.",
        ]
    ]
    _sheet(workbook, "Notes", notes)
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
