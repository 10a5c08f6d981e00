"""How long the ``planner`` command takes to start: --help, --version, validate (issue 23.8).

Each command runs as a fresh process (the console script of this
environment), ``--repeat`` times; the table gives the fastest and the median
wall-clock seconds. The targets: ``--help`` and ``--version`` under 0.5 s,
``validate`` of the Japan case under 2 s. Run it on a quiet machine::

    .venv/bin/python -m benchmarks.startup --repeat 7

Nothing here runs in the test suite (tests/test_layers.py checks what the
CLI imports, not how long it takes).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "planner --help": ["--help"],
    "planner --version": ["--version"],
    "planner validate inputs/japan-2026.xlsx": ["validate", "inputs/japan-2026.xlsx"],
}


def planner_command() -> list[str]:
    """Return the console script beside this Python (else ``python -m planner.cli``)."""
    script = Path(sys.executable).with_name("planner")
    if script.exists():
        return [str(script)]
    found = shutil.which("planner")
    return [found] if found else [sys.executable, "-m", "planner.cli"]


def measure(arguments: list[str], repeat: int) -> list[float]:
    """Return the wall-clock seconds of ``repeat`` fresh runs of ``planner ARGUMENTS``."""
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([*planner_command(), *arguments], cwd=ROOT, check=True, capture_output=True)
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    """Print a Markdown table of start-up times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    print("| command | fastest, s | median, s |")
    print("|---|---:|---:|")
    for name, arguments in COMMANDS.items():
        seconds = measure(arguments, repeat)
        print(f"| `{name}` | {min(seconds):.2f} | {statistics.median(seconds):.2f} |")


if __name__ == "__main__":
    main()
