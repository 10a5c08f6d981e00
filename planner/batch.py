"""Solve every workbook in a folder, in parallel worker processes.

One broken or failing workbook never stops the others: each is solved in
its own call that turns every outcome into a row of the roll-up (status,
objective, China share, shortfall, time, the error if any). Ctrl-C stops
the batch cleanly and keeps what has finished.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pandas as pd

from planner.errors import InputError, OutputError, PlannerError
from planner.parallel import executor_of

#: Exit codes of one workbook, as ``planner solve`` gives them.
EXIT_CODES = {"written": 0, "invalid": 2, "no plan": 3, "not written": 4, "failed": 1}
ROLL_UP = "batch-summary.xlsx"
COLUMNS = [
    "input",
    "outcome",
    "status",
    "objective",
    "expected_cost",
    "china_share",
    "shortfall",
    "total_change",
    "seconds",
    "output",
    "error",
    "input_sha256",
]


def workbooks(folder: Path) -> list[Path]:
    """List the input workbooks of ``folder``: .xlsx/.xlsm, not Excel's lock files, sorted."""
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and path.suffix.lower() in (".xlsx", ".xlsm")
        and not path.name.startswith(("~$", "."))
    )


def solve_one(path: Path, out_folder: Path, options: dict[str, Any]) -> dict[str, Any]:
    """Solve one workbook into ``out_folder``; return its roll-up row, never raise."""
    import planner
    from planner.roll import total_change

    started = time.perf_counter()
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row["input"] = path.name
    try:
        case = planner.load(path)
        row["input_sha256"] = case.source.sha256  # hashed by the reader as it read the file
        result = planner.solve(case, **options)
        row.update(status=result.status, objective=result.objective)
        if not result.has_plan or result.status == "interrupted":
            row["outcome"] = "no plan"
            conflicts = "; ".join(str(issue) for issue in result.conflicts)
            row["error"] = result.summary.get("message", "") + (
                f": {conflicts}" if conflicts else ""
            )
        else:
            target = out_folder / f"{path.stem}-solution.xlsx"
            result.write(target)
            row.update(
                outcome="written",
                output=target.name,
                **{
                    key: result.summary.get(key)
                    for key in ("expected_cost", "china_share", "shortfall")
                },
                total_change=total_change(result.tables.get("Changes")),  # rolled workbooks
            )
    except InputError as error:
        row.update(
            outcome="invalid",
            error="; ".join(str(i) for i in error.issues),
            input_sha256=_sha256(path),
        )
    except OutputError as error:
        row.update(outcome="not written", error=str(error))
    except PlannerError as error:
        row.update(outcome="failed", error=str(error))
    except Exception as error:  # one workbook's bug must not stop the batch
        row.update(outcome="failed", error=f"internal error: {type(error).__name__}: {error}")
    row["seconds"] = round(time.perf_counter() - started, 3)
    return row


def _sha256(path: Path) -> str | None:
    """Return the SHA-256 of a file the reader refused (None if it cannot be read at all)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def run_batch(
    folder: Path,
    out_folder: Path,
    workers: int | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    executor: Executor | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Solve every workbook of ``folder`` into ``out_folder``; return the roll-up table.

    Parameters
    ----------
    workers
        Worker processes (default: one per core).
    progress
        Called with each finished row, as it finishes.
    executor
        Where to solve instead of local processes: any
        :class:`concurrent.futures.Executor`, e.g. a Dask cluster's
        ``distributed.Client(address).get_executor()`` (or the ``Client``);
        its workers must see ``folder`` and ``out_folder``.
    **options
        Passed to :func:`planner.solve` for every workbook.

    Raises
    ------
    KeyboardInterrupt
        After cancelling what has not started; ``partial_rows`` on the
        exception holds the rows that finished.
    """
    paths = workbooks(folder)
    out_folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    executor = executor_of(executor)
    pool = executor or ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1)
    futures: dict[Future[dict[str, Any]], Path] = {
        pool.submit(solve_one, path, out_folder, options): path for path in paths
    }
    try:
        for future in as_completed(futures):
            rows.append(future.result())
            if progress is not None:
                progress(rows[-1])
    except KeyboardInterrupt as interrupt:
        if executor is None:
            pool.shutdown(wait=False, cancel_futures=True)
        else:
            for future in futures:
                future.cancel()
        interrupt.partial_rows = _table(rows)  # type: ignore[attr-defined]
        raise
    if executor is None:
        pool.shutdown()
    return _table(rows)


def _table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values("input", kind="stable").reset_index(drop=True)


def exit_code(table: pd.DataFrame) -> int:
    """0 when every workbook was solved and written, else the worst outcome's code."""
    return max((EXIT_CODES.get(outcome, 1) for outcome in table["outcome"]), default=0)


def write_roll_up(
    table: pd.DataFrame, out_folder: Path, options: dict[str, Any] | None = None
) -> Path:
    """Write the roll-up workbook (atomically) beside the solutions.

    Each row names its input's SHA-256; an About sheet gives the planner
    version and the solve options (threads and seed fixed: 1 and 0 unless set).
    """
    import xlsxwriter

    from planner.io.writer import Formats, save_atomically, write_table

    def build(path: str) -> None:
        workbook = xlsxwriter.Workbook(
            path,
            {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False},
        )
        formats = Formats(workbook)
        write_table(workbook.add_worksheet("Batch"), table, formats)
        about = pd.DataFrame(
            {
                "key": ["planner_version", "inputs", "solver options"],
                "value": [__version__, str(len(table)), repr(options or {})],
            }
        )
        write_table(workbook.add_worksheet("About"), about, formats)
        workbook.close()

    from planner import __version__

    return save_atomically(build, out_folder / ROLL_UP, ["Batch", "About"])
