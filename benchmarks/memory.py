"""Peak resident memory of each stage of one solve, in one process.

    python -m benchmarks.memory --size largest --time-limit 60

A thread samples the process's resident set (``/proc/self/statm``) every
20 ms; each stage reports the highest sample taken while it ran and the
resident set when it ended, with ``ru_maxrss`` (the process's high-water
mark so far) after it. Run one size at a time: the largest needs several GB.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * PAGE_MB


class Sampler:
    """The highest resident set seen since the last :meth:`reset`."""

    def __init__(self, every_s: float = 0.02) -> None:
        self.every_s = every_s
        self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.peak = max(self.peak, _rss_mb())

    def reset(self) -> None:
        """Start a new stage's peak from the resident set now."""
        self.peak = _rss_mb()

    def stop(self) -> None:
        """End the sampling thread."""
        self._stop.set()
        self._thread.join()


def measure(size: str, time_limit: float, mip_gap: float) -> list[dict[str, Any]]:
    """Run every stage of one solve of ``size``; return each stage's memory and seconds."""
    import planner
    from benchmarks.run import _workbook
    from planner.api import _tables
    from planner.model import build_model, derive
    from planner.results import PRICED_FAMILIES
    from planner.solve import HighsSession, SolveOptions

    sampler = Sampler()
    stages: list[dict[str, Any]] = []

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        sampler.reset()
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        now = _rss_mb()
        stages.append(
            {
                "stage": name,
                "seconds": round(seconds, 2),
                "peak_mb": round(max(sampler.peak, now)),
                "end_mb": round(now),
                "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        )
        print(json.dumps(stages[-1]), flush=True)

    with tempfile.TemporaryDirectory() as folder:
        path = _workbook(size, Path(folder))
        with stage("read"):
            case = planner.load(path)
        with stage("build"):
            data = derive(case)
            model = build_model(data)
        with stage("handoff"):
            session = HighsSession(model, SolveOptions(threads=1, seed=0))
        with stage("release rows"):
            session.release_rows(PRICED_FAMILIES)  # as planner.solve does
        with stage("solve"):
            report = session.solve(time_limit, mip_gap)
        print(json.dumps({"status": report.status, "nonzeros": report.nonzeros}), flush=True)
        if report.has_plan:
            with stage("duals"):
                duals = session.duals(PRICED_FAMILIES)
            with stage("extract"):
                _tables(case, data, model, duals)
        with stage("gc"):
            gc.collect()
    sampler.stop()
    return stages


def main() -> None:
    """Measure one size and print its stages as a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--mip-gap", type=float, default=1e-4)
    args = parser.parse_args()
    stages = measure(args.size, args.time_limit, args.mip_gap)
    print("| stage | seconds | peak MB | MB after | high-water MB |")
    print("|---|---:|---:|---:|---:|")
    for row in stages:
        print(
            f"| {row['stage']} | {row['seconds']:.2f} | {row['peak_mb']:,} | "
            f"{row['end_mb']:,} | {row['maxrss_mb']:,} |"
        )


if __name__ == "__main__":
    main()
