"""Peak resident memory of every stage of ``planner.solve``, and of HiGHS alone on the same model.

    python -m benchmarks.memory --size largest --time-limit 300
    python -m benchmarks.memory --size medium --time-limit 60 --no-alone

The planner's part runs :class:`planner.api.Resolver` (``keep_model=False``,
what :func:`planner.solve` does) and writes the solution workbook, in this
process; each stage of that flow is timed and sampled by wrapping the
function that does it (:data:`STAGES`): read, validate, derive, build,
hand-off, release of the rows, the first plan's construction, HiGHS's MIP,
loading the plan into the Pyomo variables, the LP with the binaries fixed
(duals), the session's close (HiGHS's memory freed), extract (the plan
check and the tables) and write. A stage inside
another splits it: the time before and after the inner one is reported as
the outer stage again (so ``solve`` rows are what ``HighsSession.solve``
does around the construction and the MIP).

A thread samples the process's resident set (``/proc/self/statm``) every
20 ms; each row gives the highest sample while it ran and the resident set
when it ended, with ``ru_maxrss`` (the process's high-water mark so far).

Then, unless ``--no-alone``, the same model, built and handed to HiGHS again
in a child process, is written to an MPS file, and HiGHS alone reads and
solves it in a fresh process (``highspy`` only, no Python model) with the
planner's options and time limit, sampled the same way; and again given
the planner's constructed first plan as a start (``Highs.setSolution``),
with the time the planner's MIP had (the limit less the construction's
seconds). Run one size at a time: the largest needs several GB.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20
ROOT = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * PAGE_MB


def _maxrss_mb() -> float:
    """The process's high-water mark (``VmHWM``: unlike ``ru_maxrss``, not kept across exec)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


class Stages:
    """Rows of (stage, seconds, peak MB, MB after, high-water MB), one per stretch of a stage.

    :meth:`wrap` makes a function a stage: entering it closes the stretch
    running (the caller's stage, or ``idle``) and opens one of its own;
    leaving it closes that and reopens the caller's.
    """

    def __init__(self) -> None:
        self.sampler = Sampler()
        self.rows: list[dict[str, Any]] = []
        self.stack = ["idle"]
        self.wrapped: list[tuple[Any, str, Callable[..., Any]]] = []
        self.started = time.perf_counter()

    def _close(self) -> None:
        now = _rss_mb()
        seconds = time.perf_counter() - self.started
        peak = max(self.sampler.peak, now)
        name = self.stack[-1]
        if name != "idle" or seconds >= 0.5:  # glue between stages, when it is worth a row
            row = {
                "stage": name,
                "seconds": round(seconds, 2),
                "peak_mb": round(peak),
                "end_mb": round(now),
                "maxrss_mb": round(_maxrss_mb()),
            }
            self.rows.append(row)
            print(json.dumps(row), flush=True)
        self.sampler.reset()
        self.started = time.perf_counter()

    def enter(self, name: str) -> None:
        """Start stage ``name`` (inside the stage running)."""
        self._close()
        self.stack.append(name)

    def leave(self) -> None:
        """End the innermost stage; the one it was inside runs on."""
        self._close()
        self.stack.pop()

    def wrap(self, owner: Any, attribute: str, name: str) -> None:
        """Make ``owner.attribute`` (a function or method) the stage ``name``."""
        function: Callable[..., Any] = getattr(owner, attribute)

        @functools.wraps(function)
        def staged(*args: Any, **kwargs: Any) -> Any:
            self.enter(name)
            try:
                return function(*args, **kwargs)
            finally:
                self.leave()

        self.wrapped.append((owner, attribute, function))
        setattr(owner, attribute, staged)

    def unwrap(self) -> None:
        """Put back every function :meth:`wrap` wrapped."""
        while self.wrapped:
            owner, attribute, function = self.wrapped.pop()
            setattr(owner, attribute, function)

    def stop(self) -> None:
        """End the sampling."""
        self._close()
        self.sampler.stop()


#: (module, class or "", attribute, stage): what :func:`measure` wraps, all ``planner.solve`` runs
STAGES = (
    ("planner.api", "", "validate", "validate"),
    ("planner.api", "", "derive", "derive"),
    ("planner.api", "", "build_model", "build"),
    ("planner.api", "", "check_size", "size check"),
    ("planner.solve", "HighsSession", "__init__", "hand-off"),
    ("planner.solve", "HighsSession", "release_rows", "release rows"),
    ("planner.solve", "HighsSession", "solve", "solve"),
    ("planner.solve", "HighsSession", "_first_plan", "first plan"),
    ("planner.solve", "HighsSession", "_solve_once", "MIP"),
    ("planner.solve", "HighsSession", "_load_values", "load values"),
    ("planner.solve", "HighsSession", "duals", "duals"),
    ("planner.solve", "HighsSession", "_solve_fixed", "fixed LP"),
    ("planner.solve", "HighsSession", "close", "close (HiGHS freed)"),
    ("planner.api", "", "_plan_tables", "extract"),
    ("planner.api", "", "read_plan", "read plan"),
    ("planner.api", "", "write_solution", "write"),
)


def _wrap_all(stages: Stages, captured: dict[str, Any]) -> None:
    """Wrap every stage of :data:`STAGES`; keep the constructed first plan in ``captured``."""
    for module, cls, attribute, name in STAGES:
        owner = importlib.import_module(module)
        stages.wrap(getattr(owner, cls) if cls else owner, attribute, name)
    from planner.solve import HighsSession

    constructing = HighsSession._first_plan

    def keep(self: Any, time_limit: float) -> Any:
        constructed = constructing(self, time_limit)
        captured["first_plan"] = constructed
        return constructed

    stages.wrapped.append((HighsSession, "_first_plan", constructing))
    HighsSession._first_plan = keep  # type: ignore[method-assign]


def measure(
    size: str,
    time_limit: float,
    mip_gap: float,
    folder: Path,
    mps: bool,
    first_plan: bool | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run ``planner.solve``'s flow on ``size`` stage by stage; write the model as MPS if ``mps``.

    Returns the rows and what HiGHS alone needs: the MPS path, the start
    (an ``.npy`` of the constructed plan, if any) and the MIP's time.
    """
    import numpy as np

    import planner
    from benchmarks.run import _workbook
    from planner.api import Resolver

    stages = Stages()
    captured: dict[str, Any] = {}
    _wrap_all(stages, captured)
    try:
        path = _workbook(size, folder)
        stages.enter("read")
        case = planner.load(path)
        stages.leave()
        resolver = Resolver(
            keep_model=False, time_limit_s=time_limit, mip_gap=mip_gap, first_plan=first_plan
        )
        result = resolver.solve(case)
        print(json.dumps({"status": result.status, "objective": result.objective}), flush=True)
        if result.report.has_plan:
            result.write(folder / "solution.xlsx")
        stages.enter("gc")
        gc.collect()
        stages.leave()
    finally:
        stages.stop()
        stages.unwrap()
    rows = stages.rows
    rows.append(
        {
            "stage": "planner solve",
            "seconds": round(sum(row["seconds"] for row in rows), 2),
            "peak_mb": max(row["peak_mb"] for row in rows),
            "end_mb": rows[-1]["end_mb"],
            "maxrss_mb": round(_maxrss_mb()),
        }
    )
    alone: dict[str, Any] = {}
    if mps:  # the session freed its HiGHS (planner.solve does): the model, built again
        alone["mps"] = str(folder / "model.mps")
        command = [sys.executable, "-m", "benchmarks.memory", "--mps", alone["mps"]]
        subprocess.run([*command, "--size", size], cwd=ROOT, check=True)
        constructed = captured.get("first_plan")
        if constructed is not None and constructed.values is not None:
            alone["start"] = str(folder / "start.npy")
            np.save(alone["start"], constructed.values)
            alone["start_seconds"] = constructed.seconds
    return rows, alone


def write_mps(size: str, path: str) -> None:
    """Build ``size``, hand it to HiGHS as the planner does and write HiGHS's model to ``path``."""
    import planner
    from benchmarks.run import _workbook
    from planner.handoff import HighsModel
    from planner.model import build_model, derive

    with tempfile.TemporaryDirectory() as folder:
        case = planner.load(_workbook(size, Path(folder)))
    HighsModel(build_model(derive(case))).highs.writeModel(path)


def highs_alone(
    mps: str, time_limit: float, mip_gap: float, start: str | None = None
) -> dict[str, Any]:
    """Read ``mps`` and solve it with HiGHS alone, set as the planner sets it; its memory."""
    import highspy
    import numpy as np

    sampler = Sampler()
    began = time.perf_counter()
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.readModel(mps)
    read_mb, read_seconds = sampler.peak, time.perf_counter() - began
    highs.setOptionValue("threads", 1)
    highs.setOptionValue("random_seed", 0)
    highs.setOptionValue("mip_abs_gap", 0.0)
    highs.setOptionValue("mip_rel_gap", mip_gap)
    highs.setOptionValue("time_limit", time_limit)
    if start is not None:
        solution = highspy.HighsSolution()
        solution.col_value = np.load(start)
        highs.setSolution(solution)
    sampler.reset()
    began = time.perf_counter()
    highs.run()
    seconds = time.perf_counter() - began
    sampler.stop()
    info = highs.getInfo()
    return {
        "start": start is not None,
        "read_seconds": round(read_seconds, 2),
        "read_peak_mb": round(read_mb),
        "seconds": round(seconds, 2),
        "peak_mb": round(max(sampler.peak, read_mb)),
        "maxrss_mb": round(_maxrss_mb()),
        "status": highs.modelStatusToString(highs.getModelStatus()),
        "objective": float(info.objective_function_value),
        "gap": float(info.mip_gap),
    }


def _alone_child(mps: str, time_limit: float, mip_gap: float, start: str | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.memory", "--alone", mps]
    command += ["--time-limit", str(time_limit), "--mip-gap", str(mip_gap)]
    if start is not None:
        command += ["--start", start]
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    measured: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    print(json.dumps(measured), flush=True)
    return measured


def main() -> None:
    """Measure one size, then HiGHS alone on its model; print the stages as a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--mip-gap", type=float, default=1e-4)
    parser.add_argument("--no-alone", action="store_true", help="skip HiGHS alone")
    parser.add_argument(
        "--first-plan", choices=("auto", "yes", "no"), default="auto", help="construct one"
    )
    parser.add_argument("--alone", help=argparse.SUPPRESS)  # a child: HiGHS alone on this MPS
    parser.add_argument("--start", help=argparse.SUPPRESS)
    parser.add_argument("--mps", help=argparse.SUPPRESS)  # a child: write the model here
    args = parser.parse_args()
    if args.mps:
        write_mps(args.size, args.mps)
        return
    if args.alone:
        print(json.dumps(highs_alone(args.alone, args.time_limit, args.mip_gap, args.start)))
        return
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        first_plan = {"auto": None, "yes": True, "no": False}[args.first_plan]
        rows, alone = measure(
            args.size, args.time_limit, args.mip_gap, folder, not args.no_alone, first_plan
        )
        runs = []
        if alone:
            runs.append(_alone_child(alone["mps"], args.time_limit, args.mip_gap, None))
            if "start" in alone:
                limit = max(args.time_limit - alone["start_seconds"], 1e-3)
                runs.append(_alone_child(alone["mps"], limit, args.mip_gap, alone["start"]))
    print("| stage | seconds | peak MB | MB after | high-water MB |")
    print("|---|---:|---:|---:|---:|")
    highest = 0
    for row in rows:
        if row["seconds"] < 0.05 and row["peak_mb"] <= highest and row is not rows[-1]:
            continue  # a stretch of nothing: in the JSON lines above
        highest = max(highest, row["peak_mb"])
        print(
            f"| {row['stage']} | {row['seconds']:.2f} | {row['peak_mb']:,} | "
            f"{row['end_mb']:,} | {row['maxrss_mb']:,} |"
        )
    planner_peak = rows[-1]["maxrss_mb"]  # high-water marks: a sample can miss a spike
    for run in runs:
        label = "HiGHS alone" + (", given the first plan" if run["start"] else "")
        print(
            f"| {label} (read {run['read_seconds']:.2f} s, {run['read_peak_mb']:,} MB) | "
            f"{run['seconds']:.2f} | {run['peak_mb']:,} | - | {run['maxrss_mb']:,} |"
        )
        print(f"planner / {label} (high-water marks): {planner_peak / run['maxrss_mb']:.2f}x")


if __name__ == "__main__":
    main()
