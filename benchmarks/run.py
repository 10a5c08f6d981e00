"""Time every stage of the planner against HiGHS alone and an array-built model, per size.

    python -m benchmarks.run                     # every size, the table on stdout
    python -m benchmarks.run --sizes japan,small --markdown benchmarks/results.md
    python -m benchmarks.run --sizes medium-v2   # a generated case with the v2 features
    python -m benchmarks.run --sizes medium-v3,medium-v3-tiers   # v3: every feature, or one
    python -m benchmarks.run --sizes class-hard  # issue 24's class, at its gap 1e-6

Each size runs in a fresh process (its peak memory is taken before the
baseline runs, so it is the planner's own): read the
workbook, build the Pyomo model, hand it to HiGHS, HiGHS's own solve, the
LP with fixed binaries for the duals, extracting the tables (with the plan
check) and writing the solution workbook. The baseline is HiGHS alone on the
same model: its matrices exported once from the planner's HiGHS instance,
passed to a fresh ``Highs`` with ``passModel`` and solved with the same
options. The ratio is the planner's total over that solve. The array
baseline (``benchmarks/baseline.py``: the same spec written straight into
numpy arrays and highspy) reads, builds and solves the same case in a third
fresh process; ``x array`` is the planner's total over its read, build and
solve. Presolved sizes are HiGHS's presolve of each model. ``first plan s``
is the time from the start of the solve to the first plan (the planner's
constructed one, :mod:`planner.first_plan`, or HiGHS's first incumbent; for
HiGHS alone its first improving solution), ``gap`` the gap at the end.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import highspy

INF = highspy.kHighsInf

ROOT = Path(__file__).resolve().parent.parent
SIZES: dict[str, tuple[int, int, int, int] | None] = {
    "japan": None,  # inputs/japan-2026.xlsx
    "small": (8, 10, 12, 5),
    "medium": (12, 20, 16, 20),
    "large": (17, 40, 20, 50),
    "largest": (17, 60, 20, 100),
    # the class of issue 14's held-out cases: 17 elements, ~30 offers each, 12 quarters, 20
    # scenarios; ``class-share`` adds an offer_share_max of 0.4 on every element, as they had;
    # ``class-hard`` is issue 24's class (see HARD)
    "class": (17, 30, 12, 20),
}
#: ``<size>-v2``: the same size generated with the v2 features (benchmarks/generate.py)
V2 = "-v2"
#: ``<size>-v3``: with every v3 feature; ``<size>-v3-<feature>``: with that one alone
#: (benchmarks/generate.py V3_FEATURES), to measure what each costs
V3 = "-v3"
#: ``<size>-share``: the same size with ``offer_share_max`` ``OFFER_SHARE`` on every element
SHARE = "-share"
OFFER_SHARE = 0.4
#: ``<size>-hard``: the same size with issue 24's class (``generate.class_features``: CVaR
#: weight 0.3, OfferPeriods overrides, offer_share_max 0.4 on every element and 0.3 on one),
#: solved at the class's gap ``HARD_GAP`` unless ``--mip-gap`` says otherwise
HARD = "-hard"
HARD_GAP = 1e-6
#: the gap of every other size unless ``--mip-gap`` says otherwise
GAP = 1e-4
STAGES = ("read", "build", "handoff", "solve", "duals", "extract", "write")


@dataclass
class Row:
    """One size's measurements."""

    size: str
    rows: int
    columns: int
    nonzeros: int
    status: str
    objective: float
    seconds: dict[str, float]
    highs_alone: float
    peak_mb: float
    presolved: tuple[int, int, int] = (0, 0, 0)
    array: dict[str, Any] | None = None
    #: seconds from the start of the solve to the first plan (the planner's constructed
    #: one or HiGHS's), and the same for HiGHS alone; None: no plan within the limit
    first_plan: float | None = None
    highs_alone_first_plan: float | None = None
    #: the gap at the end, the planner's and HiGHS alone's
    gap: float | None = None
    highs_alone_gap: float | None = None
    #: the planner's constructed first plan: its construction (closed, open) or why none;
    #: "" when none was tried (a model below the size rule)
    first_plan_how: str = ""

    @property
    def array_total(self) -> float:
        """The array baseline's read, build and solve."""
        return sum(self.array["seconds"].values()) if self.array else float("nan")

    @property
    def total(self) -> float:
        """The planner's total time, workbook in to workbook out."""
        return sum(self.seconds.values())

    @property
    def ratio(self) -> float:
        """Total over HiGHS alone."""
        return self.total / self.highs_alone if self.highs_alone else float("nan")


def _v3_features(size: str) -> tuple[str, list[str]]:
    """Split ``medium-v3-tiers`` into ``medium`` and its v3 features (``-v3``: every one)."""
    from benchmarks.generate import V3_FEATURES

    base, found, feature = size.partition(V3)
    if not found:
        return size, []
    return base, [feature.removeprefix("-")] if feature else list(V3_FEATURES)


def _workbook(size: str, folder: Path) -> Path:
    size_v2, v3 = _v3_features(size)
    v2 = size_v2.endswith(V2)
    base = size_v2.removesuffix(V2)
    hard = base.endswith(HARD)
    base = base.removesuffix(HARD)
    share = base.endswith(SHARE)
    shape = SIZES[base.removesuffix(SHARE)]
    if shape is None:
        return ROOT / "inputs" / "japan-2026.xlsx"
    from benchmarks.generate import Size, class_features, generate, write

    sheets = generate(Size(*shape), seed=0, v2=v2, v3=v3)
    if hard:
        class_features(sheets, seed=0, mip_gap=HARD_GAP)
    if share:
        policies = sheets["Policies"]
        row = ["offer_share_max", None, None, OFFER_SHARE]
        policies.append(row + [None] * (len(policies[0]) - len(row)))
    return write(sheets, folder / f"{size}.xlsx")


def size_gap(size: str, mip_gap: float | None) -> float:
    """The gap ``size`` is solved at: ``mip_gap`` if given, else its class's (``HARD_GAP``)."""
    if mip_gap is not None:
        return mip_gap
    return HARD_GAP if HARD in size else GAP


def _presolved(highs: Any) -> tuple[int, int, int]:
    """Rows, columns and nonzeros after HiGHS's presolve (run last: it upsets later solves)."""
    highs.setOptionValue("time_limit", INF)  # a run that hit its limit leaves none for presolve
    highs.presolve()
    lp = highs.getPresolvedLp()
    return (int(lp.num_row_), int(lp.num_col_), len(lp.a_matrix_.value_))


def _set(highs: Any, time_limit: float, mip_gap: float) -> None:
    from benchmarks import baseline  # imported where measured, like the planner

    baseline.set_options(highs, time_limit, mip_gap)


def measure_array(size: str, time_limit: float, mip_gap: float) -> dict[str, Any]:
    """Read, build and solve ``size`` with the array baseline, in this process."""
    from benchmarks import baseline

    with tempfile.TemporaryDirectory() as folder:
        measured = baseline.solve(_workbook(size, Path(folder)), time_limit, mip_gap)
    measured["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return measured


def measure(size: str, time_limit: float, mip_gap: float) -> dict[str, Any]:
    """Run every stage once on ``size`` in this process; return the measurements."""
    import planner
    from planner.api import Result, _base_summary, _tables, settle_limit
    from planner.model import build_model, derive
    from planner.results import PRICED_FAMILIES
    from planner.solve import HighsSession, SolveOptions, new_highs

    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = _workbook(size, Path(folder))
        started = time.perf_counter()
        case = planner.load(path)
        seconds["read"] = time.perf_counter() - started

        started = time.perf_counter()
        data = derive(case)
        model = build_model(data)
        seconds["build"] = time.perf_counter() - started

        options = SolveOptions(threads=1, seed=0)
        session = HighsSession(model, options)
        started = time.perf_counter()
        session.release_rows(PRICED_FAMILIES)  # as planner.solve does
        seconds["handoff"] = session.handoff_seconds + time.perf_counter() - started
        # the matrices for the baseline, written before the MIP (not timed; RSS is lowest here)
        # since planner.solve closes the session after the duals, as below
        mps = Path(folder) / "model.mps"
        session.highs.writeModel(str(mps))

        report = session.solve(time_limit, mip_gap)
        seconds["solve"] = report.seconds  # the first plan's construction and HiGHS
        first_plan = report.extra.get("first_plan_seconds")
        first_plan_how = str((report.extra.get("first_plan") or {}).get("how", ""))
        gap = report.gap

        started = time.perf_counter()
        # as planner.solve: the LP within what is left of the limit (api.settle_limit), and
        # HiGHS freed before the tables
        limit = settle_limit(time_limit, report.seconds)
        duals = session.duals(PRICED_FAMILIES, time_limit=limit) if report.has_plan else {}
        session.close()
        seconds["duals"] = time.perf_counter() - started

        started = time.perf_counter()
        tables, figures = _tables(case, data, model, duals) if report.has_plan else ({}, {})
        seconds["extract"] = time.perf_counter() - started

        summary = _base_summary(case, data, report, options, time_limit, mip_gap, [])
        summary.update(figures)
        result = Result(report.status, report.objective, summary, tables, report, case)
        started = time.perf_counter()
        if report.has_plan:
            result.write(Path(folder) / "solution.xlsx")
        seconds["write"] = time.perf_counter() - started

        planner_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        del result, tables, duals, session, model
        alone = new_highs()
        alone.readModel(str(mps))
        _set(alone, time_limit, mip_gap)
        alone_first: list[float] = []
        started = time.perf_counter()

        def first(_: Any) -> None:
            if not alone_first:
                alone_first.append(time.perf_counter() - started)

        alone.cbMipImprovingSolution.subscribe(first)
        alone.run()
        highs_alone = time.perf_counter() - started
        alone_gap = float(alone.getInfo().mip_gap)
        presolved = _presolved(alone)

    return {
        "size": size,
        "rows": report.rows,
        "columns": report.columns,
        "nonzeros": report.nonzeros,
        "status": report.status,
        "objective": report.objective or float("nan"),
        "seconds": seconds,
        "highs_alone": highs_alone,
        "peak_mb": planner_peak_mb,
        "presolved": presolved,
        "first_plan": first_plan,
        "highs_alone_first_plan": alone_first[0] if alone_first else None,
        "gap": gap,
        "highs_alone_gap": alone_gap if alone_first else None,
        "first_plan_how": first_plan_how,
    }


def _child(role: str, size: str, time_limit: float, mip_gap: float) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        role,
        size,
        "--time-limit",
        str(time_limit),
        "--mip-gap",
        str(mip_gap),
    ]
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    measured: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return measured


def run_size(size: str, time_limit: float, mip_gap: float | None, array: bool = True) -> Row:
    """Measure ``size`` in a fresh Python process, and the array baseline in another."""
    mip_gap = size_gap(size, mip_gap)
    measured = _child("--child", size, time_limit, mip_gap)
    measured["presolved"] = tuple(measured["presolved"])
    v1 = not size.endswith(V2) and V3 not in size and size != "japan"  # Japan is v2 now
    if array and v1:  # the array baseline is v1's model
        measured["array"] = _child("--array", size, time_limit, mip_gap)
    return Row(**measured)


def _seconds(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


def table(rows: list[Row]) -> str:
    """The results as Markdown tables: stages, sizes against the array baseline, build growth."""
    head = [
        "size",
        "status",
        *STAGES,
        "total",
        "HiGHS alone",
        "ratio",
        "first plan s",
        "HiGHS alone first plan s",
        "gap",
        "HiGHS alone gap",
        "array total",
        "array solve",
        "x array",
        "peak MB",
        "array peak MB",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        array = row.array or {}
        cells = [
            row.size,
            row.status,
            *(f"{row.seconds[s]:.2f}" for s in STAGES),
            f"{row.total:.2f}",
            f"{row.highs_alone:.2f}",
            f"{row.ratio:.2f}",
            _seconds(row.first_plan) + (f" ({row.first_plan_how})" if row.first_plan_how else ""),
            _seconds(row.highs_alone_first_plan),
            _percent(row.gap),
            _percent(row.highs_alone_gap),
            f"{row.array_total:.2f}" if array else "-",
            f"{array['seconds']['solve']:.2f}" if array else "-",
            f"{row.total / row.array_total:.2f}" if array else "-",
            f"{row.peak_mb:,.0f}",
            f"{array['peak_mb']:,.0f}" if array else "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| size | rows | columns | nonzeros | presolved rows / columns / nonzeros "
        "| array rows | array columns | array nonzeros | array presolved | objective "
        "| array objective |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        array = row.array or {}
        lines.append(
            f"| {row.size} | {row.rows:,} | {row.columns:,} | {row.nonzeros:,} | "
            + " / ".join(f"{n:,}" for n in row.presolved)
            + " | "
            + (
                f"{array['rows']:,} | {array['columns']:,} | {array['nonzeros']:,} | "
                + " / ".join(f"{n:,}" for n in array["presolved"])
                + f" | {row.objective:,.2f} | {array['objective']:,.2f} |"
                if array
                else f"- | - | - | - | {row.objective:,.2f} | - |"
            )
        )
    generated = [r for r in rows if r.size != "japan" and not r.size.endswith(V2)]
    if len(generated) > 1:
        lines += [
            "",
            "| size | nonzeros x | build time x | build us per nonzero |",
            "|---|---|---|---|",
        ]
        first = generated[0]
        for row in generated:
            lines.append(
                f"| {row.size} | {row.nonzeros / first.nonzeros:.1f} | "
                f"{row.seconds['build'] / first.seconds['build']:.1f} | "
                f"{1e6 * row.seconds['build'] / row.nonzeros:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark (or, with --child, one size in this process)."""
    parser = argparse.ArgumentParser(description="Time the planner against HiGHS alone.")
    parser.add_argument("--sizes", default=",".join(SIZES), help="comma-separated sizes")
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument(
        "--mip-gap",
        type=float,
        default=None,
        help=f"relative gap (default: {GAP:g}, {HARD_GAP:g} for the {HARD} sizes)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--no-array", action="store_true", help="skip the array baseline")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--array", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        gap = size_gap(args.child, args.mip_gap)
        print(json.dumps(measure(args.child, args.time_limit, gap)))
        return
    if args.array:
        gap = size_gap(args.array, args.mip_gap)
        print(json.dumps(measure_array(args.array, args.time_limit, gap)))
        return
    rows = []
    for size in args.sizes.split(","):
        rows.append(run_size(size, args.time_limit, args.mip_gap, array=not args.no_array))
        print(
            f"{size}: total {rows[-1].total:.2f} s, HiGHS alone {rows[-1].highs_alone:.2f} s, "
            f"array {rows[-1].array_total:.2f} s, peak {rows[-1].peak_mb:,.0f} MB",
            file=sys.stderr,
        )
        if args.markdown:  # what is measured so far, in case a later size does not finish
            args.markdown.write_text(table(rows) + "\n")
    text = table(rows)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
