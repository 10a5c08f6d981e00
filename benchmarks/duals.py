"""Time the duals' LP (binaries fixed at the plan) from each start, per benchmark size.

    python -m benchmarks.duals --sizes medium,class,class-hard --time-limit 300

Each size runs in a fresh process: the planner builds the case, hands it to
HiGHS and solves the MIP once (as ``planner.solve`` does, rows released);
then the LP with the binaries fixed is solved from every start of
:data:`planner.solve.DUALS_STARTS`, each after HiGHS's solver state was
cleared, in turn and ``--repeat`` times, except ``"basis"``: HiGHS holds
the MIP's basis only until the next LP (``getBasis`` does not hand it out),
so that start runs once, first, straight after the MIP. Per start: the
seconds of each run, HiGHS's simplex iterations, the LP's objective and the
largest difference of its duals from the first run's (the same LP; a
degenerate one may price a row differently from another basis, which this
shows).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.run import ROOT, _workbook, size_gap


def measure(size: str, time_limit: float, mip_gap: float, repeat: int) -> dict[str, Any]:
    """Solve ``size``'s MIP once, then its duals' LP from every start; the figures."""
    import planner
    from planner.model import build_model, derive
    from planner.results import PRICED_FAMILIES
    from planner.solve import DUALS_STARTS, HighsSession, SolveOptions

    with tempfile.TemporaryDirectory() as folder:
        case = planner.load(_workbook(size, Path(folder)))
    session = HighsSession(build_model(derive(case)), SolveOptions(threads=1, seed=0))
    session.release_rows(PRICED_FAMILIES)
    report = session.solve(time_limit, mip_gap)
    figures: dict[str, Any] = {
        "size": size,
        "status": report.status,
        "mip_seconds": report.extra.get("highs_seconds"),
        "rows": report.rows,
        "columns": report.columns,
        "starts": {},
    }
    if not report.has_plan:
        return figures
    highs = session.highs
    plan = session.start
    reference: dict[Any, float] | None = None
    # the MIP's basis is only there right after the MIP (getBasis() does not hand it out),
    # so "basis" runs once, first; the others each after the solver's state is cleared
    order = ["basis"] + [start for _ in range(repeat) for start in DUALS_STARTS if start != "basis"]
    for start in order:
        if start != "basis":
            highs.clearSolver()
        session.start = plan
        started = time.perf_counter()
        duals = session.duals(PRICED_FAMILIES, start=start)
        seconds = time.perf_counter() - started
        entry = figures["starts"].setdefault(
            start, {"seconds": [], "iterations": [], "objective": [], "largest_difference": 0.0}
        )
        entry["seconds"].append(seconds)
        entry["iterations"].append(session.fixed_iterations)
        entry["objective"].append(session.fixed_objective)
        entry["count"] = len(duals)
        if reference is None:
            reference = duals
        differences = [abs(value - reference[key]) for key, value in duals.items()]
        entry["largest_difference"] = max([entry["largest_difference"], *differences])
    for entry in figures["starts"].values():
        entry["median_seconds"] = statistics.median(entry["seconds"])
    return figures


def table(results: list[dict[str, Any]]) -> str:
    """One Markdown row per size: MIP seconds, then seconds and iterations per start."""
    from planner.solve import DUALS_STARTS

    head = ["size", "rows / columns", "MIP s"]
    for start in DUALS_STARTS:
        head += [f"{start} s", f"{start} iterations"]
    head += ["largest dual difference"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for result in results:
        cells = [
            result["size"],
            f"{result['rows']:,} / {result['columns']:,}",
            f"{result['mip_seconds']:.1f} ({result['status']})",
        ]
        starts = result["starts"]
        for start in DUALS_STARTS:
            entry = starts.get(start)
            if entry is None:
                cells += ["-", "-"]
                continue
            seconds = ", ".join(f"{s:.2f}" for s in entry["seconds"])
            cells += [seconds, f"{entry['iterations'][0]:,}"]
        difference = max((e["largest_difference"] for e in starts.values()), default=0.0)
        cells.append(f"{difference:.1e}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    """Measure every size in a fresh process and print the table (JSON lines to --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="medium,large,class,class-share,class-hard")
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--mip-gap", type=float, default=None)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path, help="append each size's figures to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        gap = size_gap(args.child, args.mip_gap)
        print(json.dumps(measure(args.child, args.time_limit, gap, args.repeat)))
        return
    results = []
    for size in args.sizes.split(","):
        command = [sys.executable, "-m", "benchmarks.duals", "--child", size]
        command += ["--time-limit", str(args.time_limit), "--repeat", str(args.repeat)]
        if args.mip_gap is not None:
            command += ["--mip-gap", str(args.mip_gap)]
        output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        results.append(json.loads(output.stdout.strip().splitlines()[-1]))
        if args.json:
            with args.json.open("a") as sink:
                sink.write(json.dumps(results[-1]) + "\n")
        print(table(results[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    print(table(results))


if __name__ == "__main__":
    main()
