"""Decomposed solves (issue 25): progressive hedging against the extensive form.

For a generated size, each run in a fresh process one after the other:
``planner solve --decompose`` in one process and under ``mpiexec -n N`` for
each N asked (N above the machine's cores is a simulated cluster: mpich
oversubscribes, the ranks share the cores), and the plain extensive-form
solve with the same time limit and gap. Reported: status, the plan's
objective, the bound, the gap, PH's iterations, the wall-clock seconds
from start to the written workbook (the time to the target gap when it is
reached, since the hub stops there) and the Summary's ``solve_seconds``
(from the start of the decomposed solve to its plan: what the time limit
holds; loading and writing the workbook are outside it).

    python -m benchmarks.decompose --size medium --time-limit 120 --gap 0.02
    flock /work/largest.lock python -m benchmarks.decompose --size largest \\
        --time-limit 300 --gap 0.02 --processes 1,2,6

The machine is shared: figures are ratios within one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.generate import Size, generate, write
from benchmarks.run import SIZES

BIN = Path(sys.executable).parent


def _summary(path: Path) -> dict[str, object]:
    table = pd.read_excel(path, sheet_name="Summary", header=None)
    return dict(zip(table[0], table[1], strict=False))


def run_one(case: Path, processes: int | None, time_limit: float, gap: float) -> dict[str, object]:
    """One solve in a fresh process: ``processes`` None is the extensive form."""
    out = Path(tempfile.mkdtemp()) / "out.xlsx"
    command = [str(BIN / "planner"), "solve", str(case), "-o", str(out)]
    command += ["--time-limit", str(time_limit), "--mip-gap", str(gap)]
    if processes is not None:
        command.append("--decompose")
        if processes > 1:
            mpiexec = shutil.which("mpiexec", path=str(BIN)) or "mpiexec"
            command = [mpiexec, "-n", str(processes), *command]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    row: dict[str, object] = {
        "run": "extensive form"
        if processes is None
        else f"PH, {processes} process"
        + ("es" if processes != 1 else "")
        + (f" (> {os.cpu_count()} cores)" if processes > (os.cpu_count() or 1) else ""),
        "exit": done.returncode,
        "wall s": round(seconds, 1),
    }
    if out.exists():
        summary = _summary(out)
        row.update(
            **{"solve s": summary.get("solve_seconds")},  # the time limit's own clock
            status=summary.get("status"),
            objective=summary.get("objective"),
            bound=summary.get("bound"),
            gap=summary.get("mip_gap"),
            iterations=summary.get("ph_iterations", ""),
        )
    else:
        row.update(status="no plan", message=done.stderr.strip().splitlines()[-1:])
    shutil.rmtree(out.parent, ignore_errors=True)
    return row


def _markdown(rows: list[dict[str, object]]) -> str:
    """A markdown table of ``rows`` (their keys in first-seen order)."""
    keys = list(dict.fromkeys(key for row in rows for key in row))

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.1f}"
        return str(value if value is not None else "")

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(row.get(key, "")) for key in keys) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    """Run the sizes and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium", help=f"one of {', '.join(SIZES)}")
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--gap", type=float, default=0.02)
    parser.add_argument("--processes", default="1,2", help="comma-separated MPI process counts")
    parser.add_argument("--no-extensive", action="store_true", help="skip the plain solve")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    shape = SIZES[args.size]
    if shape is None:
        raise SystemExit(f"{args.size}: not a generated size")
    folder = Path(tempfile.mkdtemp())
    case = write(generate(Size(*shape), seed=args.seed), folder / f"{args.size}.xlsx")
    rows = [run_one(case, int(n), args.time_limit, args.gap) for n in args.processes.split(",")]
    if not args.no_extensive:
        rows.append(run_one(case, None, args.time_limit, args.gap))
    print(f"size {args.size} {shape}, time limit {args.time_limit:g} s, gap {args.gap:g}")
    print(_markdown(rows))
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
