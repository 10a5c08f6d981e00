"""The ``planner`` command: a thin layer over the Python API.

Exit codes (the README's table): 0 plan written (or valid input); 2 invalid
input, nothing written; 3 no plan found (infeasible rules, or the time limit
before any feasible plan); 4 the solution could not be written; 5 a plan
written that is not proven optimal (status ``unproven``); 130 interrupted.
A known error prints one clear message; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console

import planner
from planner.errors import InputError, Issue, OutputError, PlannerError
from planner.headline import headline
from planner.parallel import CONNECT_TIMEOUT, WORKER_TIMEOUT, ClusterError, connect
from planner.version import __version__

# Start-up speed: `planner --help`, `--version` and `validate` must not wait for
# Pyomo, HiGHS, pandas' plotting, FastAPI or uvicorn. The facade (`import planner`)
# loads its names on first use; each command imports the heavy modules it needs
# inside its function (tests/test_layers.py allows that here, and only here).
# Measured in benchmarks/startup.py.

#: HiGHS's largest seed (planner.api.MAX_SEED, which loads the solver; a test keeps them equal).
MAX_SEED = 2_147_483_647
#: Status names the commands compare with (planner.solve.Status's values).
OPTIMAL, TIME_LIMIT, INFEASIBLE, INTERRUPTED = "optimal", "time_limit", "infeasible", "interrupted"
UNPROVEN = "unproven"

EXIT_OK, EXIT_INVALID, EXIT_NO_PLAN, EXIT_OUTPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = (
    0,
    2,
    3,
    4,
    1,
    130,
)
#: a plan written that holds every rule but is not proven optimal (status ``unproven``)
EXIT_UNPROVEN = 5

app = typer.Typer(
    name="planner",
    help="Optimisation-based sourcing planner for rare earths and other critical minerals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's plain help: wrapped at the terminal's width, never cut ("outputs/NAME-sol…"),
    # flags without a "<bool>" placeholder, and no rich panels to import for --help
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"planner {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the planner's version and exit.",
        ),
    ] = False,
) -> None:
    """Optimisation-based sourcing planner for rare earths and other critical minerals."""


out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _seconds(value: float | None) -> float | None:
    """Refuse a time that is not a finite number of seconds > 0 (-1 is not "no limit")."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"must be a finite number of seconds > 0, got {value:g}")
    return value


def _hours(value: float) -> float:
    """Refuse a time that is not a finite number of hours > 0."""
    if not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"must be a finite number of hours > 0, got {value:g}")
    return value


def _gap(value: float | None) -> float | None:
    """Refuse a relative gap that is not a finite number >= 0."""
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise typer.BadParameter(f"must be a finite number >= 0, got {value:g}")
    return value


TimeLimit = Annotated[
    float | None,
    typer.Option(
        "--time-limit",
        callback=_seconds,
        help="Solver time limit in seconds, > 0 (default: the Settings sheet).",
    ),
]


def _megabytes(value: float | None) -> float | None:
    """Refuse a memory limit that is not a finite number of MB > 0."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"must be a finite number of MB > 0, got {value:g}")
    return value


MaxModel = Annotated[
    float | None,
    typer.Option(
        "--max-model-mb",
        callback=_megabytes,
        help="Refuse a model whose estimated memory (from the scenario tree, before it is "
        "built) passes this many MB (default: PLANNER_MAX_MODEL_MB, else 80% of this "
        "machine's memory).",
    ),
]
InputPath = Annotated[Path, typer.Argument(help="Input workbook (.xlsx).", show_default=False)]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks of unexpected errors.")]


def _print_warnings(warnings: list, limit: int = 20) -> None:
    for warning in warnings[:limit]:
        err.print(f"warning: {warning}", markup=False)
    if len(warnings) > limit:
        err.print(f"warning: ... and {len(warnings) - limit} more (see the Warnings sheet)")


#: Errors printed one by one; the rest are counted (warnings stop at 20).
MAX_ERRORS = 50


def _report_input_error(error: InputError, limit: int | None = MAX_ERRORS) -> None:
    """Print the problems, at most ``limit`` of them (None: all), and count the rest."""
    issues = error.issues if limit is None else error.issues[:limit]
    heading = str(error).split("\n", 1)[0]
    err.print("\n".join([heading, *(f"  {issue}" for issue in issues)]), markup=False)
    more = len(error.issues) - len(issues)
    if more:
        err.print(
            f"  ... and {more:,} more (planner validate --all-errors lists every one)",
            markup=False,
        )


def _fmt(value: float | None, unit: str = "", percent: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if percent:
        return f"{value:.1%}"
    return f"{value:,.2f}{' ' + unit if unit else ''}"


def _default_output(source: Path) -> Path:
    folder = Path("outputs")
    folder.mkdir(exist_ok=True)
    return folder / f"{source.stem}-solution.xlsx"


@app.command()
def solve(
    workbook: InputPath,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Solution workbook to write (default: the input's name + -solution.xlsx, "
            "in outputs/).",
        ),
    ] = None,
    time_limit: TimeLimit = None,
    mip_gap: Annotated[
        float | None,
        typer.Option(
            "--mip-gap", callback=_gap, help="Relative MIP gap, >= 0 (default: the Settings sheet)."
        ),
    ] = None,
    threads: Annotated[
        int, typer.Option(min=1, help="Solver threads (fixed for reproducibility).")
    ] = 1,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Solver random seed.")] = 0,
    duals: Annotated[bool, typer.Option(help="Price constraints with the LP duals.")] = True,
    max_model_mb: MaxModel = None,
    decompose: Annotated[
        bool | None,
        typer.Option(
            "--decompose/--no-decompose",
            help="Progressive hedging on mpi-sppy (pip install 'planner[mpi]'): scenario "
            "sub-models, a Lagrangian bound and a plan decided down the tree; under 'mpiexec "
            "-n N' the scenarios split between N processes (N a multiple of 3: PH, bound and "
            "xhat spokes on a third each). Default: the Settings key decompose.",
            show_default=False,
        ),
    ] = None,
    ph_iterations: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="With --decompose: progressive hedging's most iterations after iteration 0 "
            "(default: its own cap, planner.decompose.ph.MAX_ITERATIONS; it also stops at the "
            "gap and at its share of the time limit).",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Report each stage.")] = False,
    debug: Debug = False,
) -> None:
    """Validate, build, solve and write the solution workbook."""
    if verbose and not _mpi_rank():  # under mpiexec, rank 0 speaks for all
        from rich.logging import RichHandler

        logging.basicConfig(
            level=logging.INFO, format="%(message)s", handlers=[RichHandler(console=err)]
        )

    def run() -> int:
        from planner.io.atomic import check_target

        case = planner.load(workbook)
        if not _mpi_rank():  # under mpiexec, rank 0 speaks for all
            _print_warnings(case.warnings)
        target = output if output is not None else _default_output(workbook)
        check_target(target, str(workbook))
        options: dict[str, object] = {"threads": threads, "seed": seed, "duals": duals}
        if time_limit is not None:
            options["time_limit_s"] = time_limit
        if mip_gap is not None:
            options["mip_gap"] = mip_gap
        if max_model_mb is not None:
            options["max_model_mb"] = max_model_mb
        if decompose is not None:
            options["decompose"] = decompose
        if ph_iterations is not None:
            options["ph_iterations"] = ph_iterations
        result = planner.solve(case, **options)
        if result.report.extra.get("mpi_rank"):  # under mpiexec, rank 0 writes the plan
            return EXIT_OK
        if not result.has_plan or result.status == INTERRUPTED:
            return _no_plan(result)
        result.write(target)
        out.print(headline(result.summary, result.status, target), markup=False, soft_wrap=True)
        _print_warnings(result.solve_warnings)  # the case's own were printed before the solve
        if result.status == UNPROVEN:
            err.print(f"warning: {result.summary['message']}", markup=False)
            return EXIT_UNPROVEN
        return EXIT_OK

    raise typer.Exit(_guard(run, debug))


def _mpi_rank() -> int:
    """Return the process's rank under an MPI launcher (mpich, Open MPI, Slurm), else 0."""
    for name in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID"):
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def _no_plan(result: object) -> int:
    status = getattr(result, "status", "")
    message = getattr(result, "summary", {}).get("message", "")
    err.print(f"no plan found ({status}): {message}; nothing written", markup=False)
    conflicts = getattr(result, "conflicts", [])
    if conflicts:
        err.print("These rules cannot all hold (relaxing any one of them removes the conflict):")
        for issue in conflicts:
            err.print(f"  {issue}", markup=False)
    if status == INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_NO_PLAN if status in (INFEASIBLE, TIME_LIMIT) else EXIT_INTERNAL


@app.command()
def validate(
    workbook: InputPath,
    all_errors: Annotated[
        bool,
        typer.Option(
            "--all-errors", help=f"List every problem (by default the first {MAX_ERRORS})."
        ),
    ] = False,
    debug: Debug = False,
) -> None:
    """Validate a workbook without solving it."""

    def run() -> int:
        from planner.events import scenario_probability

        try:
            case = planner.load(workbook)
        except InputError as error:
            if not all_errors:
                raise
            _report_input_error(error, None)
            return EXIT_INVALID
        _print_warnings(case.warnings)
        out.print(
            f"valid: {len(case.periods)} periods, {len(case.elements)} elements, "
            f"{len(case.offers)} offers, {len(case.activities)} activities, "
            f"{len(scenario_probability(case))} scenarios",
            markup=False,
        )
        return EXIT_OK

    raise typer.Exit(_guard(run, debug))


Workers = Annotated[
    int | None, typer.Option(min=1, help="Worker processes (default: one per core).")
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Run on this Dask distributed scheduler (e.g. tcp://10.0.0.5:8786) instead of "
        "local worker processes; the workers must see the same files.",
    ),
]
ConnectTimeout = Annotated[
    float,
    typer.Option(
        "--connect-timeout",
        callback=_seconds,
        help="With --scheduler: seconds for the scheduler to answer as one.",
    ),
]
WorkerTimeout = Annotated[
    float,
    typer.Option(
        "--worker-timeout",
        callback=_seconds,
        help="With --scheduler: give up after this many seconds without a worker "
        "(what finished is written).",
    ),
]


@app.command()
def sweep(
    workbook: InputPath,
    output: Annotated[Path, typer.Option("-o", "--output", help="Sweep workbook to write.")],
    vary: Annotated[
        list[str] | None,
        typer.Option(
            "--vary",
            help='A change and its values, e.g. "china_share_max[Dy]=1.0:0.0:-0.1"; '
            "repeat for a grid. Default: the workbook's Sweep sheet. A policy change sets every "
            "row of that policy, element and basis in every period "
            "(china_share_max[TOTAL]), or one period's row (china_share_max[TOTAL,2027Q1]); "
            "add value for the TOTAL rows counted in value (china_share_max[TOTAL,value]); "
            "a warning names the cells where a row not changed still decides the cap.",
        ),
    ] = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    connect_timeout: ConnectTimeout = CONNECT_TIMEOUT,
    worker_timeout: WorkerTimeout = WORKER_TIMEOUT,
    time_limit: TimeLimit = None,
    max_model_mb: MaxModel = None,
    debug: Debug = False,
) -> None:
    """Solve a workbook for every combination of changed values; write the trade-off.

    Variants run in parallel, one run of neighbouring variants per worker;
    each run builds the model once and changes it in place. Ctrl-C stops and
    writes the variants that finished.
    """

    def run() -> int:
        from planner.changes import ChangeError, variants

        case, changes = _sweep_changes(workbook, output, vary or [])
        options: dict[str, Any] = {}  # a sweep computes no duals
        if time_limit is not None:
            options["time_limit_s"] = time_limit
        if max_model_mb is not None:
            options["max_model_mb"] = max_model_mb
        total = len(variants(changes))
        with _executor(scheduler, connect_timeout) as executor, _bar(total, "variants") as advance:
            try:
                result = planner.sweep(
                    case,
                    changes,
                    workers=workers,
                    executor=executor,
                    progress=advance,
                    worker_timeout=worker_timeout,
                    **options,
                )
            except ChangeError as error:
                raise InputError([Issue("--vary", str(error))], str(workbook)) from None
            except (KeyboardInterrupt, ClusterError) as interrupt:
                return _stopped_sweep(interrupt, total, output)
        for warning in result.warnings:
            err.print(f"warning: {warning}", markup=False)
        result.write(output)
        solved = int(result.table["status"].isin([OPTIMAL, TIME_LIMIT, UNPROVEN]).sum())
        out.print(f"{solved} of {len(result.table)} variants solved -> {output}", markup=False)
        return EXIT_OK

    raise typer.Exit(_guard(run, debug))


def _sweep_changes(
    workbook: Path, output: Path, vary: list[str]
) -> tuple[planner.Case, dict[str, list[float]]]:
    """Read the case and the changes to sweep (``--vary``, else its Sweep sheet), all checked."""
    from planner.changes import ChangeError, check_grid, parse_varies, sheet_changes
    from planner.checks import check_changes
    from planner.io.atomic import check_target

    try:
        changes = parse_varies(vary)
        check_grid(changes)  # counted before the grid is built
    except ChangeError as error:
        raise InputError([Issue("--vary", str(error))], str(workbook)) from None
    check_target(output, str(workbook))
    case = planner.load(workbook)
    if changes:  # the Sweep sheet's values were checked by load
        issues = check_changes(case, changes, dict.fromkeys(changes, "--vary"))
        if any(issue.severity == "error" for issue in issues):
            raise InputError(issues, str(workbook))
    else:
        changes = sheet_changes(case)
    if not changes:
        raise InputError(
            [Issue("--vary", "nothing to vary: give --vary or fill the Sweep sheet")],
            str(workbook),
        )
    return case, changes


def _stopped_sweep(interrupt: BaseException, total: int, output: Path) -> int:
    """Write the variants a stopped sweep finished; return its exit code."""
    partial = getattr(interrupt, "partial", None)
    done = 0 if partial is None else len(partial.results)
    if partial is not None and done:
        partial.write(output)
    lost = isinstance(interrupt, ClusterError)
    if lost:
        err.print(f"error: {interrupt}", markup=False)
    err.print(
        f"{'stopped' if lost else 'interrupted'}; {done} of {total} variants finished"
        + (f" and written -> {output}" if done else ""),
        markup=False,
    )
    return EXIT_INVALID if lost else EXIT_INTERRUPTED


@contextlib.contextmanager
def _executor(scheduler: str | None, connect_timeout: float = CONNECT_TIMEOUT) -> Iterator[Any]:
    """Yield a Dask cluster's executor for ``--scheduler``, else None (local processes).

    The scheduler must say it is one within ``connect_timeout`` seconds
    (:func:`planner.parallel.connect`): never a hang on a wrong port.
    """
    if scheduler is None:
        yield None
        return
    with connect(scheduler, connect_timeout) as client:
        yield client.get_executor()


@contextlib.contextmanager
def _bar(total: int, what: str) -> Iterator[Callable[[int], None]]:
    """Show a progress bar on a terminal (quiet otherwise); yield ``update(done)``."""
    from rich.progress import Progress

    with Progress(console=err, disable=not err.is_terminal, transient=True) as progress:
        task = progress.add_task(what, total=total)
        yield lambda done: progress.update(task, completed=done)


@app.command()
def batch(
    folder: Annotated[Path, typer.Argument(help="Folder of input workbooks.", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the solutions.")],
    workers: Workers = None,
    scheduler: Scheduler = None,
    connect_timeout: ConnectTimeout = CONNECT_TIMEOUT,
    worker_timeout: WorkerTimeout = WORKER_TIMEOUT,
    time_limit: TimeLimit = None,
    max_model_mb: MaxModel = None,
    debug: Debug = False,
) -> None:
    """Solve every workbook in a folder, in parallel; write a roll-up beside the solutions.

    The exit code is 0 when every workbook was solved and written, else the
    worst single outcome's code (2 invalid, 3 no plan, 4 not written, 1 failed).
    """

    def run() -> int:
        from planner.batch import exit_code, run_batch, workbooks, write_roll_up

        if not folder.is_dir():
            raise OutputError(f"{folder}: not a folder of workbooks")
        output.mkdir(parents=True, exist_ok=True)
        options: dict[str, object] = {}
        if time_limit is not None:
            options["time_limit_s"] = time_limit
        if max_model_mb is not None:
            options["max_model_mb"] = max_model_mb
        total = len(workbooks(folder))
        with _executor(scheduler, connect_timeout) as executor, _bar(total, "workbooks") as update:
            rows: list[dict[str, object]] = []

            def advance(row: dict[str, object]) -> None:
                rows.append(row)
                update(len(rows))
                if row["outcome"] != "written":
                    err.print(f"{row['input']}: {row['outcome']}: {row['error']}", markup=False)

            try:
                table = run_batch(
                    folder,
                    output,
                    workers,
                    advance,
                    executor=executor,
                    worker_timeout=worker_timeout,
                    **options,
                )
            except (KeyboardInterrupt, ClusterError) as interrupt:
                finished = getattr(interrupt, "partial_rows", None)
                if finished is not None:
                    write_roll_up(finished, output, options, folder)
                done = 0 if finished is None else len(finished)
                if isinstance(interrupt, ClusterError):
                    err.print(f"error: {interrupt}", markup=False)
                    err.print(f"stopped; {done} of {total} workbooks finished and kept")
                    return EXIT_INVALID
                err.print(f"interrupted; {done} of {total} workbooks finished and kept")
                return EXIT_INTERRUPTED
        roll_up = write_roll_up(table, output, options, folder)
        written = int((table["outcome"] == "written").sum())
        out.print(
            f"{written} of {len(table)} workbooks solved -> {output}; roll-up {roll_up}",
            markup=False,
        )
        return exit_code(table)

    raise typer.Exit(_guard(run, debug))


@app.command()
def roll(
    last_input: Annotated[
        Path, typer.Argument(help="The input workbook last solved.", show_default=False)
    ],
    last_solution: Annotated[
        Path, typer.Argument(help="Its solution workbook.", show_default=False)
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="The next quarter's input workbook to write.")
    ],
    firm: Annotated[
        int, typer.Option("--firm", min=0, help="Periods whose shared orders become firm.")
    ] = 1,
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            help="The scenario that happened, where the first period branches (with Events: "
            "the events seen in it joined by +, or base).",
        ),
    ] = None,
    debug: Debug = False,
) -> None:
    """Roll the plan forward one period: the next input workbook, with commitments.

    Drops the first period and appends one; carries the stock, the contracts
    signed, the next --firm periods' orders (Commitments) and the plan
    (PreviousPlan). Edit it (actual stock, prices), then solve it.
    """

    def run() -> int:
        plan = planner.roll(last_input, last_solution, output, firm=firm, scenario=scenario)
        _print_warnings(plan.warnings)
        out.print(f"rolled: {plan.describe()} -> {output}", markup=False)
        return EXIT_OK

    raise typer.Exit(_guard(run, debug))


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 shares it (then set a token).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Solves running at once.")] = 2,
    queue_limit: Annotated[
        int,
        typer.Option(min=0, help="Jobs that may wait for a solver; more are refused (503)."),
    ] = 20,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where jobs are kept, across restarts (default: a new temporary folder).",
        ),
    ] = None,
    keep_hours: Annotated[
        float, typer.Option(callback=_hours, help="Delete finished jobs after this.")
    ] = 24.0,
    max_upload_mb: Annotated[int, typer.Option(min=1, help="Largest upload accepted.")] = 20,
    time_limit: Annotated[
        float,
        typer.Option(
            "--time-limit", callback=_seconds, help="Longest solve a job may take, seconds."
        ),
    ] = 300.0,
    token: Annotated[
        str | None,
        typer.Option(envvar="PLANNER_TOKEN", help="Require 'Authorization: Bearer TOKEN'."),
    ] = None,
    basic_auth: Annotated[
        str | None,
        typer.Option(envvar="PLANNER_BASIC_AUTH", help="Require HTTP Basic USER:PASSWORD."),
    ] = None,
    max_memory_mb: Annotated[
        int,
        typer.Option(
            min=512, help="Memory (address space) one job may use; more fails the job, MB."
        ),
    ] = 3072,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A host name browsers use to reach the server (repeat; '*': any). "
            "Loopback names and --host are always allowed; others get 400.",
        ),
    ] = None,
    debug: Debug = False,
) -> None:
    """Serve the upload page and the JSON API (OpenAPI at /openapi.json)."""

    def run() -> int:
        import uvicorn

        from planner.web.app import ServerConfig, create_app, log_config, served_hosts

        credentials = None
        if basic_auth is not None:
            user, colon, password = basic_auth.partition(":")
            if not colon or not user or not password:
                raise PlannerError("--basic-auth: give USER:PASSWORD")
            credentials = (user, password)
        if host not in ("127.0.0.1", "localhost", "::1") and not (token or credentials):
            err.print(
                f"warning: serving on {host} without --token or --basic-auth: "
                "anyone who can reach it can use it",
                markup=False,
            )
        config = ServerConfig(
            data_dir=data_dir,
            workers=workers,
            queue_limit=queue_limit,
            keep_seconds=keep_hours * 3600,
            max_upload_bytes=max_upload_mb * 1024 * 1024,
            max_time_limit=time_limit,
            token=token,
            basic_auth=credentials,
            max_memory_mb=max_memory_mb,
            allowed_hosts=served_hosts(host, allowed_host),
        )
        err.print(f"planner serving on http://{host}:{port}/ (Ctrl-C stops)", markup=False)
        if host not in ("127.0.0.1", "localhost", "::1") and "*" not in config.allowed_hosts:
            err.print(
                f"answering to the host names {', '.join(config.allowed_hosts)}; "
                "add --allowed-host NAME for any other name it is reached by",
                markup=False,
            )
        uvicorn.run(
            create_app(config),
            host=host,
            port=port,
            log_level="warning",
            log_config=log_config(),  # a line per request and per job on stderr
            access_log=False,  # the app's own access log cuts job ids (keys) short
        )
        return EXIT_OK

    raise typer.Exit(_guard(run, debug, reports_files=False))  # a server runs until stopped


@app.command()
def template(
    output: Annotated[Path, typer.Argument(help="Where to write the empty workbook (.xlsx).")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the file if it exists (default: refuse).")
    ] = False,
    debug: Debug = False,
) -> None:
    """Write an empty, documented input workbook."""

    def run() -> int:
        from planner.io.template import write_template

        write_template(output, overwrite=force)
        out.print(f"template written -> {output}", markup=False)
        return EXIT_OK

    raise typer.Exit(_guard(run, debug))


def _guard(run: Callable[[], int], debug: bool, reports_files: bool = True) -> int:
    """Run a command; map the planner's errors to exit codes and one clear message.

    With ``reports_files``, a file once renamed into place is reported as
    written: an interrupt from then on waits until the command has said so.
    """
    from planner.io.atomic import outcome_reported

    code: int | None = None
    try:
        with outcome_reported() if reports_files else contextlib.nullcontext():
            code = int(run())
        return code
    except KeyboardInterrupt:
        if code is not None:
            return code  # the interrupt came after the outcome was written and reported
        err.print("interrupted; nothing written")
        return EXIT_INTERRUPTED
    except InputError as error:
        if not _mpi_rank():  # under mpiexec every rank finds the same: rank 0 says it
            _report_input_error(error)
        return EXIT_INVALID
    except OutputError as error:
        err.print(f"error: {error}", markup=False)
        return EXIT_OUTPUT
    except ClusterError as error:  # an option to change: --scheduler, --connect-timeout...
        err.print(f"error: {error}", markup=False)
        return EXIT_INVALID
    except PlannerError as error:
        err.print(f"error: {error}", markup=False)
        return EXIT_INTERNAL
    except Exception as error:
        if debug:
            raise
        err.print(
            f"internal error: {type(error).__name__}: {error} (run with --debug for details)",
            markup=False,
        )
        return EXIT_INTERNAL


def _terminate(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into the same clean stop as Ctrl-C (temporary files removed).

    Python ignores an exception raised inside a finaliser (``__del__``, run
    by the garbage collector at any moment), so a signal that lands in one
    is raised again a moment later instead.
    """
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            signal.signal(signal.SIGALRM, _terminate)
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            return
        frame = frame.f_back
    raise KeyboardInterrupt


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _terminate)
    app(prog_name="planner")


if __name__ == "__main__":
    main()
