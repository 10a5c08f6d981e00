"""What a job process does: read the upload, solve or sweep, write the plan, result and charts.

Runs in a worker process (see :mod:`planner.web.jobs`); everything the page
shows is computed here and written to ``result.json``, so the server only
reads files. Every outcome is a result: ``done`` (a plan, or a solver
outcome without one), ``invalid`` (the workbook's problems, cell by cell) or
``failed`` (an error the planner could not turn into either, or a workbook
that needs more memory than the job may have). A chart that cannot be drawn
costs only that chart: the plan is delivered with a warning.
"""

from __future__ import annotations

import gc
import json
import math
import os
import re
import resource
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

import planner
from planner.changes import ChangeError, parse_values
from planner.errors import InputError, PlannerError
from planner.events import scenario_probability
from planner.headline import amount, column_names, percent
from planner.model.parameters import BASES, VALUE
from planner.outcome import expected_stock
from planner.results import COST_KEYS, china_against_caps, expected, expected_shares
from planner.roll import total_change
from planner.solve import Status
from planner.web.charts import cost_chart, share_chart, stock_chart
from planner.web.protocol import (
    DONE,
    FAILED,
    INVALID,
    OUT_OF_MEMORY,
    PROGRESS,
    RESULT,
    UPLOAD,
    too_large,
)

SOLUTION = "solution.xlsx"
SWEEP = "sweep.xlsx"
RESERVE = 16 << 20  # memory held back, and given back when memory runs out, to say so
NEAR_LIMIT = 0.75  # a solver error after the process came this close to its limit: memory
MAX_ROWS = 500  # rows of Signings and Changes shown on the page (the workbook has them all)
MAX_LISTED = 100  # problems or warnings shown on the page; all of them in NAME.txt
_clock = time.monotonic  # the sweep's budget reads this clock (a test gives its own)


def run_job(
    folder: str,
    kind: str,
    time_limit: float,
    params: dict[str, Any],
    max_memory_mb: int | None = None,
) -> None:
    """Entry point of a job process.

    Parameters
    ----------
    folder, kind, time_limit, params
        The job's folder (with the upload), "solve" or "sweep", the longest
        solve in seconds, and the sweep's change and values.
    max_memory_mb
        The process's address-space limit (``RLIMIT_AS``); None: no limit.
        Running out ends the job as failed with :func:`too_large`'s message;
        when not even that can be written, the process exits with
        :data:`OUT_OF_MEMORY` and the runner says it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on the server stops the server
    path = Path(folder)
    try:
        if max_memory_mb:
            _limit_memory(max_memory_mb)
        result = _run(path, kind, time_limit, params, max_memory_mb)
        _write_json(path / RESULT, result)
    except MemoryError:
        os._exit(OUT_OF_MEMORY)


def _limit_memory(max_memory_mb: int) -> None:
    """Limit this process's address space to ``max_memory_mb`` (never above a hard limit)."""
    limit = max_memory_mb << 20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _run(
    path: Path, kind: str, time_limit: float, params: dict[str, Any], max_memory_mb: int | None
) -> dict[str, Any]:
    """Return the job's result; running out of memory becomes a failed job that says so."""
    reserve = bytearray(RESERVE)
    try:
        return _attempt(path, kind, time_limit, params, max_memory_mb)
    except MemoryError:
        pass  # leaving the handler drops the traceback, and with it the job's data
    del reserve
    gc.collect()
    return {"job_status": FAILED, "error": too_large(max_memory_mb)}


def _attempt(
    path: Path, kind: str, time_limit: float, params: dict[str, Any], max_memory_mb: int | None
) -> dict[str, Any]:
    started = _clock()
    try:
        _progress(path, "reading the workbook")
        case = planner.load(path / UPLOAD)
        if kind == "sweep":
            return _sweep(case, path, time_limit, params, started)
        return _solve(case, path, time_limit, max_memory_mb)
    except InputError as error:
        shown = str(params.get("filename", "the workbook"))
        stored = (UPLOAD, str(path / UPLOAD))
        issues = [
            {
                "where": shown if issue.where in stored else issue.where,
                "message": issue.message.replace(str(path / UPLOAD), shown),
                "severity": issue.severity,
            }
            for issue in error.issues
        ]
        return {"job_status": INVALID, **_listed(path, "issues", issues)}
    except MemoryError:
        raise
    except PlannerError as error:
        return {"job_status": FAILED, "error": _unplaced(str(error), path, params)}
    except Exception as error:  # reported on the job's page, never lost
        message = f"internal error: {type(error).__name__}: {error}"
        return {"job_status": FAILED, "error": _unplaced(message, path, params)}


def _unplaced(message: str, folder: Path, params: dict[str, Any]) -> str:
    """Say ``message`` in the user's words: no server folder, no job id (the folder's name).

    The upload reads as the name it was uploaded with, the solution as "the solution
    workbook" and anything else in the job's folder by its own name.
    """
    shown = str(params.get("filename", "the workbook"))
    for where, said in (
        (folder / UPLOAD, shown),
        (folder / SOLUTION, "the solution workbook"),
        (folder, "the job's folder"),
    ):
        message = message.replace(f"{where}{os.sep}", "").replace(str(where), said)
    return message.replace(folder.name, "the job")


def _solve(
    case: planner.Case, folder: Path, time_limit: float, max_memory_mb: int | None
) -> dict[str, Any]:
    limit = min(float(case.settings.time_limit_s), time_limit)
    _progress(folder, "building the model and solving", time_limit=limit)

    def solving(figures: dict[str, Any]) -> None:
        _progress(folder, "solving", solver=figures, time_limit=limit)

    result = planner.solve(case, time_limit_s=limit, on_progress=solving)
    if result.status == Status.ERROR and max_memory_mb and _peak_mb() > NEAR_LIMIT * max_memory_mb:
        raise MemoryError  # HiGHS reports a failed allocation as a plain error
    out: dict[str, Any] = {
        "job_status": DONE,
        "status": result.status,
        "has_plan": result.has_plan,
        "message": result.summary.get("message", ""),
        "summary": {k: _plain(v) for k, v in result.summary.items()},
        "conflicts": [{"where": i.where, "message": i.message} for i in result.conflicts],
        "warnings": [{"where": i.where, "message": i.message} for i in result.warnings],
    }
    if not result.has_plan:
        out.update(_listed(folder, "warnings", out["warnings"]))
        return out
    _progress(folder, "writing the solution workbook", time_limit=limit)
    result.write(folder / SOLUTION)
    out["solution"] = SOLUTION
    tables = result.tables
    basis = case.settings.china_basis
    probability = scenario_probability(case)
    out["orders"] = _records(tables["Orders"])
    for name in ("Signings", "Changes", "Scenarios"):
        if name in tables and not tables[name].empty:
            out[name.lower()] = _records(tables[name].head(MAX_ROWS))
    out["basis"] = basis
    out["china"] = china_by_period(tables["Shares"], basis)
    shortage = expected(tables["Shortage"], probability, ["element"], "quantity")
    short = dict(zip(shortage["element"], shortage["quantity"], strict=True))
    keys = ["element", "use"]
    by_use = expected(tables["Shortage"], probability, keys, "quantity")
    by_use["value"] = expected(tables["Shortage"], probability, keys, "value")["value"]
    out["shortage_by_use"] = _records(by_use)  # expected per (element, use): B1
    overall = expected_shares(tables["Shares"], probability, basis)
    out["elements"] = [
        {
            "element": row.element,
            "china_share": _plain(row.china_share),
            **_tightest([c for c in out["china"] if c["element"] == row.element]),
            "supply": _plain(row.supply),
            "shortfall": _plain(  # TOTAL: every element's (issue 23.3)
                float(
                    sum(short.values())
                    if row.element == "TOTAL"
                    else short.get(str(row.element), 0.0)
                )
            ),
        }
        for row in overall.itertuples()
    ]
    out["elements"] += _value_rows(tables["Shares"], basis, out["china"])
    capped = [e for e in out["elements"] if e["headroom"] is not None]
    out["tightest"] = (
        {**min(capped, key=lambda e: e["headroom"]), "breaches": sum(e["breaches"] for e in capped)}
        if capped
        else None
    )
    out["costs"] = {key: _plain(result.summary.get(key)) for key in COST_KEYS}
    out["headline"] = {
        "spend": amount(result.summary.get("spend")),
        "lost_value": amount(result.summary.get("lost_value")),
        "shortfall": amount(result.summary.get("shortfall")),
        "china_share": percent(result.summary.get("china_share")),
    }
    contracts = tables["Contracts"]
    out["contracts"] = [
        {k: _plain(v) for k, v in record.items()}
        for record in contracts[contracts["contracted"] == 1][
            ["offer", "supplier", "element", "country", "fixed_cost", "expected_quantity"]
        ].to_dict("records")
    ]
    stock = _expected_stock(tables["Stock"], probability)
    out["stock"] = stock
    changes = tables.get("Changes")  # a rolled workbook's plan against the previous one
    if changes is not None and not changes.empty:
        out["total_change"] = _plain(total_change(changes))
    charts = {
        "shares": lambda: share_chart(out["china"], basis),
        "costs": lambda: cost_chart(out["costs"], case.settings.currency),
        "stock": lambda: stock_chart(stock, case.settings.unit),
    }
    warnings = out["warnings"]
    out["charts"] = [n for n, draw in charts.items() if _draw(folder / f"{n}.svg", draw, warnings)]
    out.update(_listed(folder, "warnings", warnings))
    return out


def _listed(folder: Path, name: str, items: list[dict[str, str]]) -> dict[str, Any]:
    """Return the first :data:`MAX_LISTED` of a list for the page, and how many there are.

    A longer list is written whole to ``NAME.txt`` (one ``where: message``
    a line, as the CLI prints them), which the page offers as a download:
    55,000 problems made a 7.8 MB page.
    """
    shown: dict[str, Any] = {name: items[:MAX_LISTED], f"{name}_total": len(items)}
    if len(items) > MAX_LISTED:
        lines = (f"{item['where']}: {item['message']}".replace("\n", " ") + "\n" for item in items)
        (folder / f"{name}.txt").write_text("".join(lines), encoding="utf-8")
        shown[f"{name}_file"] = f"{name}.txt"
    return shown


def _draw(path: Path, draw: Callable[[], str | bytes], warnings: list[dict[str, str]]) -> bool:
    """Write a picture; if it cannot be drawn, say so in ``warnings`` (the plan stands)."""
    try:
        picture = draw()
        path.write_bytes(picture.encode() if isinstance(picture, str) else picture)
    except Exception as error:  # a picture is never worth the plan
        message = f"{type(error).__name__}: {error}"[:300]
        warnings.append({"where": path.name, "message": f"could not be drawn ({message})"})
        return False
    return True


def _peak_mb() -> float:
    """Return the largest address space this process has had, in MB (0 if unknown)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"^VmPeak:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else 0.0


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Return a table's rows as JSON-safe dicts (NaN as None)."""
    return [{str(k): _plain(v) for k, v in row.items()} for row in table.to_dict("records")]


#: How the page names the TOTAL row of Shares counted in value (B2).
TOTAL_BY_VALUE = "TOTAL by value"


def _row_names(shares: pd.DataFrame) -> pd.Series:
    """Each Shares row's name on the page: its element, or ``TOTAL by value`` (B2)."""
    if "measure" not in shares.columns:
        return shares["element"]
    return shares["element"].where(shares["measure"] != VALUE, TOTAL_BY_VALUE)


def _value_rows(
    shares: pd.DataFrame, basis: str, china: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Return the page's row of the TOTAL by value (B2): its expected share, against its caps.

    Supply and shortfall are left blank: the row's supply is money, not units.
    """
    rows = shares[_row_names(shares) == TOTAL_BY_VALUE]
    if rows.empty:
        return []
    weight = rows["probability"] * rows["supply"]
    total = float(weight.sum())
    share = (
        float((rows[f"china_share_{basis}"].fillna(0.0) * weight).sum()) / total
        if total > 0
        else None
    )
    return [
        {
            "element": TOTAL_BY_VALUE,
            "china_share": _plain(share),
            **_tightest([c for c in china if c["element"] == TOTAL_BY_VALUE]),
            "supply": None,
            "shortfall": None,
        }
    ]


def _cap_bases(shares: pd.DataFrame, basis: str) -> dict[str, str]:
    """Return, per basis some China cap is on, the Shares column of its caps."""
    columns = {basis: "china_cap"}
    columns.update({b: f"china_cap_{b}" for b in BASES if f"china_cap_{b}" in shares.columns})
    return {b: c for b, c in columns.items() if c in shares.columns and shares[c].notna().any()}


def china_by_period(shares: pd.DataFrame, basis: str) -> list[dict[str, Any]]:
    """Return the China share against the cap that applies, per element, basis and period.

    For every element and TOTAL, one row per period on each basis that
    caps it (:func:`planner.results.china_against_caps`: expected share, cap,
    highest node share, headroom, ``breach`` only where a node is over its
    cap); an element no cap applies to gets its expected share on ``basis``
    with no cap. The TOTAL row counted in value (B2) is its own, named
    ``TOTAL by value``. Computed here from the Shares table: the results layer
    compares only ``basis``, the page every basis a cap is on.
    """
    caps = _cap_bases(shares, basis)
    names = _row_names(shares)
    rows: list[dict[str, Any]] = []
    for element in dict.fromkeys(names):
        mine = shares[names == element]
        capped = [b for b, column in caps.items() if mine[column].notna().any()]
        for on in capped or [basis]:
            share = f"china_share_{on}"
            weight = mine["probability"] * mine["supply"]
            frame = mine.assign(_china=mine[share].fillna(0.0) * weight, _supply=weight)
            grouped = frame.groupby("period", sort=False).agg(
                china=("_china", "sum"), supply=("_supply", "sum"), highest=(share, "max")
            )
            against = (
                china_against_caps(mine.assign(china_cap=mine[caps[on]]), on).set_index("period")
                if on in capped
                else pd.DataFrame(columns=["china_cap", "headroom", "breach"])
            )
            for period, row in grouped.iterrows():
                cap = against.loc[period] if period in against.index else None
                rows.append(
                    {
                        "element": element,
                        "basis": on,
                        "period": period,
                        "china_share": _plain(row["china"] / row["supply"])
                        if row["supply"] > 0
                        else None,
                        "highest": _plain(row["highest"]),
                        "china_cap": None if cap is None else _plain(cap["china_cap"]),
                        "headroom": None if cap is None else _plain(cap["headroom"]),
                        "breach": False if cap is None else bool(cap["breach"]),
                    }
                )
    return rows


def _tightest(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Return an element's least headroom to a China cap: where, cap, share and breaches."""
    capped = [r for r in rows if r["headroom"] is not None]
    if not capped:
        return {
            "china_cap": None,
            "headroom": None,
            "tightest_period": None,
            "tightest_basis": None,
            "highest": None,
            "breaches": 0,
            "over_cap": False,
        }
    tightest = min(capped, key=lambda r: r["headroom"])
    breaches = sum(r["breach"] for r in capped)
    return {
        "china_cap": tightest["china_cap"],
        "headroom": tightest["headroom"],
        "tightest_period": tightest["period"],
        "tightest_basis": tightest["basis"],
        "highest": tightest["highest"],
        "breaches": breaches,
        "over_cap": breaches > 0,
    }


def _expected_stock(stock: pd.DataFrame, probability: pd.Series) -> list[dict[str, Any]]:
    """Return the expected stock and cover target per element and period."""
    grouped = expected_stock(stock, probability, by=("element", "period"))
    return [
        {"element": e, "period": p, "stock": _plain(s), "target": _plain(t)}
        for e, p, s, t in zip(
            grouped["element"], grouped["period"], grouped["stock"], grouped["target"], strict=True
        )
    ]


class SweepBudget:
    """The job's time limit, spent variant by variant: when to warn, when to stop.

    From the variants solved so far (their average time) it estimates the
    whole sweep; a sweep that cannot finish within the limit is said to be
    so while it runs (:meth:`note`), and it stops (:meth:`spent`) before the
    next variant would pass the limit, so that what finished is delivered
    rather than killed by the watchdog with everything else.
    """

    def __init__(self, time_limit: float, total: int, started: float) -> None:
        self.time_limit = time_limit
        self.total = total
        self.started = started  # when the job began (reading the workbook counts)
        self.solving = _clock()  # when the variants began

    def per_variant(self, done: int) -> float:
        """Return the average seconds a variant has taken so far."""
        return (_clock() - self.solving) / max(done, 1)

    def fits(self, done: int) -> int:
        """Return how many variants in all fit within the limit, at the pace so far."""
        left = self.time_limit - (_clock() - self.started)
        return done + max(0, int(left // max(self.per_variant(done), 1e-9)))

    def note(self, done: int) -> str | None:
        """Say, once a variant has finished, that the sweep cannot finish within the limit."""
        if not done or done >= self.total or self.fits(done) >= self.total:
            return None
        per = self.per_variant(done)
        need = (_clock() - self.started) + per * (self.total - done)
        return (
            f"at about {per:,.2f} s a variant, the {self.total:,} variants need about "
            f"{need:,.0f} s, more than this server's limit of {self.time_limit:,.0f} s: the "
            f"sweep stops after about {self.fits(done):,} and delivers those"
        )

    def spent(self, done: int) -> bool:
        """Tell whether another variant would pass the limit (stop now, keep what finished)."""
        return done < self.total and self.fits(done) <= done


def _sweep(
    case: planner.Case, folder: Path, time_limit: float, params: dict[str, Any], started: float
) -> dict[str, Any]:

    name = str(params.get("change", ""))
    try:
        values = parse_values(str(params.get("values", "")))
        if not values:
            raise ChangeError("no values to try")
        limit = min(float(case.settings.time_limit_s), time_limit / max(len(values), 1))
        _progress(folder, "solving the variants", 0, len(values))
        budget = SweepBudget(time_limit, len(values), started)

        def progress(done: int) -> None:
            note = budget.note(done)
            _progress(folder, "solving the variants", done, len(values), note=note)
            if budget.spent(done):
                raise KeyboardInterrupt  # the sweep stops, keeping the variants that finished

        stopped = None
        try:
            result = planner.sweep(
                case,
                {name: values},
                workers=1,
                progress=progress,
                time_limit_s=limit,
                duals=False,
            )
        except KeyboardInterrupt as interrupt:
            partial = getattr(interrupt, "partial", None)
            if partial is None or not partial.results:
                raise
            result = partial
            stopped = (
                f"stopped at the time limit of {time_limit:,.0f} s: {len(result.results):,} of "
                f"{len(values):,} variants solved, and delivered here and in the workbook"
            )
    except ChangeError as error:
        raise InputError([planner.Issue("sweep", str(error))], "") from None
    result.write(folder / SWEEP)
    table = result.table
    warnings: list[dict[str, str]] = []
    if {"china_share", "expected_cost"} <= set(table.columns):
        _draw(folder / "trade-off.png", result.picture, warnings)  # drawn once, for both
    columns = [
        c
        for c in (
            name,
            "status",
            "spend",
            "lost_value",
            "china_share",
            "shortfall",
            "expected_cost",
            "objective",
            "efficient",
            "note",
        )
        if c in table.columns
    ]
    headers = column_names(columns, case.settings.currency, case.settings.unit)
    return {
        "job_status": DONE,
        "status": "sweep",
        "change": name,
        "rows": [{k: _plain(v) for k, v in r.items()} for r in table[columns].to_dict("records")],
        "columns": columns,
        "headers": {c: headers.get(c, c) for c in columns},
        "solution": SWEEP,
        "picture": "trade-off.png" if (folder / "trade-off.png").exists() else None,
        "variants": len(values),
        "stopped": stopped,
        **_listed(folder, "warnings", warnings),
    }


def _plain(value: Any) -> Any:
    """Return a JSON-safe scalar (NaN and infinities become None)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _progress(
    folder: Path,
    stage: str,
    done: int | None = None,
    total: int | None = None,
    solver: dict[str, Any] | None = None,
    note: str | None = None,
    time_limit: float | None = None,
) -> None:
    """Tell the job page what the job is doing (``progress.json``).

    ``solver``: HiGHS's figures while it solves (seconds, best plan so far, bound, gap);
    ``note``: what the page should know up front (a sweep that cannot finish in time).
    ``time_limit``: the longest the solve may take, the workbook's limit within the server's.
    """
    progress: dict[str, Any] = {"stage": stage, "done": done, "total": total, "solver": solver}
    if note:
        progress["note"] = note
    if time_limit is not None:
        progress["time_limit"] = time_limit
    _write_json(folder / PROGRESS, progress)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_suffix(".partial")
    temporary.write_text(json.dumps(data, default=str))
    os.replace(temporary, path)
