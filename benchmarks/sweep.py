"""Time a sweep's variants against fresh build-and-solves of the same case.

    python -m benchmarks.sweep                    # Japan, china_share_max[Dy]=1.0:0.0:-0.1
    python -m benchmarks.sweep --vary "capacity[Nd-CN]=0:400:50" --markdown out.md

All in one process, one core (``workers=1``), one after the other:

* **fresh**: ``planner.solve`` of the unchanged case, three times (read not
  included; validate, build, hand-off, solve, duals, tables), the median;
* **sweep**: ``planner.sweep`` of the grid in one run, so its first variant
  builds the model and every later one changes it in place and re-solves
  warm; the time per variant is that of the later ones (their median);
* **fresh per variant**: ``planner.solve`` of each variant's case on its own.

The target (issue 4): a variant costs at most a quarter of a fresh solve.
Every variant's objective is checked against its fresh solve, so a fast
wrong answer cannot pass.

``--workers N`` times a whole sweep instead, as ``planner sweep`` runs it
(N worker processes, each building once), with its CPU seconds, which a
loaded machine inflates less than the wall clock, and how many variants kept
the last plan without a re-solve (issue 24.5: 1,000 Japan variants in under
60 s on 2 cores; without ``--vary`` that sweep, ``capacity[Nd-CN]=2000:2999:1``).
``--check N`` also solves N of the variants afresh, spread over the grid, and
compares their objectives and statuses with the sweep's::

    python -m benchmarks.sweep --workers 2 --check 10
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import planner
from planner.changes import apply_change, parse_vary, variants

ROOT = Path(__file__).resolve().parent.parent
JAPAN = ROOT / "inputs" / "japan-2026.xlsx"
DEFAULT_VARY = "china_share_max[Dy]=1.0:0.0:-0.1"
#: the sweep of issues 14 and 24.5: 1,000 Japan variants on 2 cores
THROUGHPUT_VARY = "capacity[Nd-CN]=2000:2999:1"
TARGET = 0.25


@dataclass
class Timing:
    """What one sweep benchmark measured (seconds)."""

    fresh: float  # median fresh solve of the base case
    first: float  # the sweep's first variant (builds)
    per_variant: float  # median of the later variants (in place)
    fresh_per_variant: float  # median fresh solve of the same variants
    variants: int
    reused: int
    largest_difference: float  # relative objective difference, sweep against fresh
    not_resolved: int = 0  # variants that kept the last plan without a re-solve

    @property
    def ratio(self) -> float:
        """Time per variant over one fresh build-and-solve (the target's measure)."""
        return self.per_variant / self.fresh


def measure(path: Path, vary: str, repeats: int = 3) -> Timing:
    """Run the benchmark (see the module's description)."""
    case = planner.load(path)
    name, values = parse_vary(vary)
    fresh = []
    for _ in range(repeats):
        started = time.perf_counter()
        planner.solve(case, duals=False)
        fresh.append(time.perf_counter() - started)
    times: list[float] = []
    previous = time.perf_counter()

    def tick(done: int) -> None:
        nonlocal previous
        now = time.perf_counter()
        times.append(now - previous)
        previous = now

    previous = time.perf_counter()
    swept = planner.sweep(case, {name: values}, workers=1, progress=tick, duals=False)
    fresh_variants, differences = [], []
    for values_tried, result in zip(variants({name: values}), swept.results, strict=True):
        variant = case.copy()
        apply_change(variant, name, values_tried[name])
        started = time.perf_counter()
        alone = planner.solve(variant, duals=False)
        fresh_variants.append(time.perf_counter() - started)
        if alone.objective is not None and result.objective is not None:
            differences.append(abs(result.objective - alone.objective) / abs(alone.objective))
        elif alone.status != result.status:
            differences.append(float("inf"))
    return Timing(
        fresh=statistics.median(fresh),
        first=times[0],
        per_variant=statistics.median(times[1:]) if len(times) > 1 else float("nan"),
        fresh_per_variant=statistics.median(fresh_variants),
        variants=len(times),
        reused=sum(bool(r.report.extra.get("reused")) for r in swept.results),
        largest_difference=max(differences, default=0.0),
        not_resolved=int(swept.about.get("variants_not_resolved", 0)),
    )


@dataclass
class Throughput:
    """What a whole sweep on worker processes took (seconds)."""

    wall: float  # planner.sweep, start to end (workers start, build, every variant)
    cpu: float  # CPU seconds of this process and its workers
    variants: int
    workers: int
    statuses: dict[str, int]
    objectives: tuple[float, float]  # lowest and highest objective
    not_resolved: int = 0  # variants that kept the last plan without a re-solve
    checked: int = 0  # variants also solved afresh
    #: CPU seconds of a run's start in one process: the case sent, the model built and solved
    #: for its first variant, then changed in place for the next two (every row evaluated
    #: again, then each row's reads noted); what each worker pays once
    start_cpu: float = 0.0
    #: CPU seconds per variant after that start (the same run of 3 + ``STEADY`` variants)
    steady_cpu: float = 0.0
    largest_difference: float = 0.0  # relative objective difference against those

    @property
    def per_variant_per_core(self) -> float:
        """Wall seconds per variant times the workers: one core's time per variant."""
        return self.wall * self.workers / self.variants


def throughput(path: Path, vary: str, workers: int, check: int = 0) -> Throughput:
    """Time ``planner.sweep`` of the whole grid on ``workers`` fresh processes.

    ``check``: then solve that many variants afresh (spread over the grid,
    the last included) and compare them with the sweep's (not timed).
    """
    case = planner.load(path)
    name, values = parse_vary(vary)
    before = _cpu()
    started = time.perf_counter()
    # the sweep's own worker processes, one run of neighbouring variants each, as `planner
    # sweep --workers N` runs it (a local pool passed in gets the same since round 4; a
    # cluster's executor runs of CLUSTER_RUN variants, each building and solving its first)
    swept = planner.sweep(case, {name: values}, workers=workers, duals=False)
    wall = time.perf_counter() - started
    while multiprocessing.active_children():  # reaps the workers: their CPU seconds count
        time.sleep(0.05)
    cpu = _cpu() - before
    table = swept.table
    picked = sorted({round(i * (len(values) - 1) / max(check - 1, 1)) for i in range(check)})
    differences = []
    for at in picked:
        variant = case.copy()
        apply_change(variant, name, values[at])
        alone = planner.solve(variant, duals=False)
        result = swept.results[at]
        if alone.status != result.status or alone.objective is None or result.objective is None:
            differences.append(0.0 if alone.status == result.status else float("inf"))
        else:
            differences.append(abs(result.objective - alone.objective) / abs(alone.objective))
    start_cpu, steady_cpu = _run_start(case, name, values)
    return Throughput(
        start_cpu=start_cpu,
        steady_cpu=steady_cpu,
        wall=wall,
        cpu=cpu,
        variants=len(table),
        workers=workers,
        statuses={str(k): int(v) for k, v in table["status"].value_counts().items()},
        objectives=(float(table["objective"].min()), float(table["objective"].max())),
        not_resolved=int(swept.about.get("variants_not_resolved", 0)),
        checked=len(picked),
        largest_difference=max(differences, default=0.0),
    )


#: Variants timed after a run's start, for the CPU seconds per variant of a long run.
STEADY = 40


def _run_start(case: planner.Case, name: str, values: list[float]) -> tuple[float, float]:
    """CPU seconds of a run's first 3 variants, and per variant of the next ``STEADY``.

    In one process, one run of neighbouring variants from the loosest (as
    each worker runs its share of the grid).
    """
    from planner.sweep import loosest_first, solve_chunk

    grid = [{name: value} for value in values]
    run = [grid[i] for i in loosest_first(grid)][: 3 + STEADY]
    options = {"explain_infeasible": False, "duals": False}
    started = time.process_time()
    solve_chunk(case, run[:3], options, tables=False, checked=True)
    start = time.process_time() - started
    started = time.process_time()
    solve_chunk(case, run, options, tables=False, checked=True)
    steady = (time.process_time() - started - start) / max(len(run) - 3, 1)
    return start, steady


def _cpu() -> float:
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def report_throughput(measured: Throughput, path: Path, vary: str) -> str:
    """Render a whole sweep's timing as Markdown."""
    return "\n".join(
        [
            f"### Sweep on {measured.workers} workers: `{vary}` on `{path.name}`",
            "",
            f"{measured.variants:,} variants ({measured.statuses}) in {measured.wall:.1f} s "
            f"wall, {measured.cpu:.1f} CPU s: {measured.per_variant_per_core:.3f} s per variant "
            f"per core ({measured.cpu / measured.variants:.3f} CPU s per variant); 1,000 "
            f"variants at this rate: {1000 * measured.wall / measured.variants:.0f} s. "
            f"Objectives {measured.objectives[0]:,.2f} to {measured.objectives[1]:,.2f}. "
            f"Re-solves skipped (the last plan provably kept): {measured.not_resolved:,} of "
            f"{measured.variants:,}."
            + (
                f" A run's start (first 3 variants, one process): {measured.start_cpu:.1f} CPU s;"
                f" then {1000 * measured.steady_cpu:.0f} CPU ms per variant."
                if measured.start_cpu
                else ""
            )
            + (
                f" {measured.checked} variants solved afresh: largest objective difference "
                f"{measured.largest_difference:.1e} (relative)."
                if measured.checked
                else ""
            ),
            "",
        ]
    )


def report(timing: Timing, path: Path, vary: str) -> str:
    """Render the measurement as a Markdown section."""
    met = "met" if timing.ratio <= TARGET else "MISSED"
    return "\n".join(
        [
            f"### Sweep: `{vary}` on `{path.name}`",
            "",
            "| measure | seconds |",
            "|---|---:|",
            f"| fresh build-and-solve of the case (median of 3) | {timing.fresh:.3f} |",
            f"| sweep, first variant (builds the model) | {timing.first:.3f} |",
            f"| sweep, per later variant (in place, warm; median) | {timing.per_variant:.3f} |",
            f"| fresh build-and-solve of each variant (median) | {timing.fresh_per_variant:.3f} |",
            "",
            f"{timing.variants} variants, {timing.reused} changed in place, "
            f"{timing.not_resolved} of them not solved again (the last plan provably kept). "
            f"Per variant / fresh "
            f"solve = **{timing.ratio:.2f}** (target <= {TARGET}: {met}); per variant / fresh "
            f"solve of the same variants = {timing.per_variant / timing.fresh_per_variant:.2f}. "
            f"Largest objective difference against the fresh solves: "
            f"{timing.largest_difference:.1e} (relative).",
            "",
        ]
    )


def main() -> None:
    """Command line: run, print, optionally write Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workbook", type=Path, default=JAPAN)
    parser.add_argument("--vary", help=f"default {DEFAULT_VARY}; with --workers, {THROUGHPUT_VARY}")
    parser.add_argument(
        "--check", type=int, default=0, help="with --workers: solve this many variants afresh"
    )
    parser.add_argument("--markdown", type=Path, help="also write the section to this file")
    parser.add_argument(
        "--workers", type=int, help="time the whole sweep on this many worker processes instead"
    )
    arguments = parser.parse_args()
    if arguments.workers:
        vary = arguments.vary or THROUGHPUT_VARY
        measured = throughput(arguments.workbook, vary, arguments.workers, arguments.check)
        text = report_throughput(measured, arguments.workbook, vary)
    else:
        vary = arguments.vary or DEFAULT_VARY
        timing = measure(arguments.workbook, vary)
        text = report(timing, arguments.workbook, vary)
    print(text)
    if arguments.markdown:
        arguments.markdown.write_text(text)


if __name__ == "__main__":
    main()
