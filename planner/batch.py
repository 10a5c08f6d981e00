"""Solve every workbook in a folder, in parallel worker processes.

One broken or failing workbook never stops the others: each is solved in
its own call that turns every outcome into a row of the roll-up (status,
spend, lost value, China share, shortfall, expected cost, objective, time, the
error if any). Ctrl-C stops
the batch cleanly and keeps what has finished.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

import planner
from planner.api import check_options
from planner.errors import InputError, OutputError, PlannerError
from planner.headline import column_names
from planner.io.atomic import check_target
from planner.io.writer import Formats, number_format, save_atomically, write_table
from planner.parallel import WORKER_TIMEOUT, ClusterError, WorkerWatch, executor_of
from planner.roll import total_change
from planner.solve import Status
from planner.version import __version__

#: Exit codes of one workbook, as ``planner solve`` gives them.
EXIT_CODES = {"written": 0, "invalid": 2, "no plan": 3, "not written": 4, "failed": 1}
ROLL_UP = "batch-summary.xlsx"
COLUMNS = [
    "input",
    "outcome",
    "status",
    "spend",
    "lost_value",
    "china_share",
    "shortfall",
    "expected_cost",
    "objective",
    "total_change",
    "currency",
    "unit",
    "seconds",
    "output",
    "error",
    "input_sha256",
]


def workbooks(folder: Path) -> list[Path]:
    """List the input workbooks of ``folder``: .xlsx/.xlsm, not Excel's lock files, sorted.

    Every entry so named is listed, whatever it is: a loop of symbolic links,
    a broken link, a named pipe, a link to a device or a folder gets its
    roll-up row from the reader's refusal (``not a regular file``, ``a loop
    of symbolic links``), never skipped without a word.
    """
    return sorted(
        path
        for path in folder.iterdir()
        if path.suffix.lower() in (".xlsx", ".xlsm") and not path.name.startswith(("~$", "."))
    )


def targets(paths: list[Path], out_folder: Path) -> tuple[dict[Path, Path], Path]:
    """Name each input's solution and the roll-up: distinct, and never an input.

    ``NAME.xlsx`` gives ``NAME-solution.xlsx``; inputs that share a name
    (``b.xlsx`` and ``b.xlsm``) give ``b-xlsx-solution.xlsx`` and
    ``b-xlsm-solution.xlsx``. A name already taken by an input (when the
    output folder holds inputs) or by another output, compared as a
    case-insensitive file system would, gets ``-2``, ``-3``, ...

    Returns
    -------
    tuple
        Input -> its solution workbook, and the roll-up workbook.
    """
    inputs = {_identity(path) for path in paths} - {None}
    taken = {
        entry.name.casefold()
        for entry in (out_folder.iterdir() if out_folder.is_dir() else ())
        if _identity(entry) in inputs
    }
    stems = [path.stem.casefold() for path in paths]

    def claim(stem: str, tail: str) -> Path:
        name, number = f"{stem}{tail}", 1
        while name.casefold() in taken:
            number += 1
            name = f"{stem}{tail[: -len('.xlsx')]}-{number}.xlsx"
        taken.add(name.casefold())
        return out_folder / name

    solutions = {}
    for path in paths:
        shared = stems.count(path.stem.casefold()) > 1
        stem = f"{path.stem}-{path.suffix.lstrip('.').lower()}" if shared else path.stem
        solutions[path] = claim(stem, "-solution.xlsx")
    return solutions, claim(Path(ROLL_UP).stem, ".xlsx")


def _identity(path: Path) -> tuple[int, int] | None:
    """Return the file's device and inode (None if unreadable): equal for links to one file."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


def solve_one(
    path: Path, target: Path, options: dict[str, Any], inputs: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Solve one workbook into ``target``; return its roll-up row, never raise.

    ``inputs`` are the batch's other inputs: the solution is never written over one.
    """
    started = time.perf_counter()
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row["input"] = path.name
    try:
        case = planner.load(path)
        row["input_sha256"] = case.source.sha256  # hashed by the reader as it read the file
        result = planner.solve(case, **options)
        row.update(status=result.status, objective=result.objective)
        if not result.has_plan or result.status == Status.INTERRUPTED:
            row["outcome"] = "no plan"
            conflicts = "; ".join(str(issue) for issue in result.conflicts)
            row["error"] = result.summary.get("message", "") + (
                f": {conflicts}" if conflicts else ""
            )
        else:
            check_target(target, inputs)
            result.write(target)
            row.update(
                outcome="written",
                output=target.name,
                **{
                    key: result.summary.get(key)
                    for key in (
                        "spend",
                        "lost_value",
                        "expected_cost",
                        "china_share",
                        "shortfall",
                        "currency",
                        "unit",
                    )
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
    """Return the SHA-256 of a file the reader refused (None if it is no regular file).

    A named pipe would block the read, and a link to ``/dev/zero`` never end it.
    """
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (OSError, RuntimeError):
        return None


def run_batch(
    folder: Path,
    out_folder: Path,
    workers: int | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    executor: Executor | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
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
    worker_timeout
        On a Dask cluster: give up when it has had no worker for this many
        seconds (it lost them all, or never had one).
    **options
        Passed to :func:`planner.solve` for every workbook.

    Raises
    ------
    ValueError
        For an option out of range (see :func:`planner.api.check_options`).
    KeyboardInterrupt
        After cancelling what has not started; ``partial_rows`` on the
        exception holds the rows that finished.
    ClusterError
        A Dask cluster without workers for ``worker_timeout`` seconds;
        ``partial_rows`` as for Ctrl-C.
    """
    check_options(options)  # a bad option fails here once, not once per workbook
    paths = workbooks(folder)
    out_folder.mkdir(parents=True, exist_ok=True)
    solutions, _ = targets(paths, out_folder)
    inputs = tuple(str(path) for path in paths)
    rows: list[dict[str, Any]] = []
    executor = executor_of(executor)
    pool = executor or ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1)
    futures: dict[Future[dict[str, Any]], Path] = {
        pool.submit(solve_one, path, solutions[path], options, inputs): path for path in paths
    }
    watch = WorkerWatch(executor, worker_timeout)
    pending = set(futures)
    try:
        while pending:
            finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: futures[f]):
                rows.append(future.result())
                if progress is not None:
                    progress(rows[-1])
            if pending:
                watch.check()
    except (KeyboardInterrupt, ClusterError) as interrupt:
        if executor is None:
            pool.shutdown(wait=False, cancel_futures=True)
        else:
            for future in futures:
                future.cancel()
        interrupt.partial_rows = _table(rows)  # type: ignore[union-attr]
        raise
    if executor is None:
        pool.shutdown()
    return _table(rows)


def _table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values("input", kind="stable").reset_index(drop=True)


def _shown(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str | None]]:
    """Return the roll-up as its sheet shows it, and each column's number format.

    The money and quantity columns carry their unit in their name when every
    solved workbook has the same currency and unit (``spend (JPY m)``);
    otherwise they say to read each row's ``currency`` and ``unit`` columns.
    """
    columns = [str(c) for c in table.columns]
    formats = [number_format(c) for c in columns]

    def shared(column: str) -> str:
        values = {str(v) for v in table[column].dropna()} if column in table else set()
        return values.pop() if len(values) == 1 else f"in each row's {column}"

    return table.rename(columns=column_names(columns, shared("currency"), shared("unit"))), formats


def exit_code(table: pd.DataFrame) -> int:
    """0 when every workbook was solved and written, else the worst outcome's code."""
    return max((EXIT_CODES.get(outcome, 1) for outcome in table["outcome"]), default=0)


def write_roll_up(
    table: pd.DataFrame,
    out_folder: Path,
    options: dict[str, Any] | None = None,
    folder: Path | None = None,
) -> Path:
    """Write the roll-up workbook (atomically) beside the solutions.

    Each row names its input's SHA-256; an About sheet gives the planner
    version and the solve options (threads and seed fixed: 1 and 0 unless set).
    It is ``batch-summary.xlsx`` unless an input of ``folder`` (the batch's
    inputs) or a solution holds that name (see :func:`targets`).
    """
    paths = workbooks(folder) if folder is not None and folder.is_dir() else []
    _, roll_up = targets(paths, out_folder)

    def build(path: str) -> None:
        workbook = xlsxwriter.Workbook(
            path,
            {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False},
        )
        formats = Formats(workbook)
        shown, numbers = _shown(table)
        write_table(workbook.add_worksheet("Batch"), shown, formats, column_formats=numbers)
        about = pd.DataFrame(
            {
                "key": ["planner_version", "inputs", "solver options"],
                "value": [__version__, str(len(table)), repr(options or {})],
            }
        )
        write_table(workbook.add_worksheet("About"), about, formats)
        workbook.close()

    check_target(roll_up, [str(path) for path in paths])
    return save_atomically(build, roll_up, ["Batch", "About"])
