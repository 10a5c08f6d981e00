"""What a job process does: read the upload, solve or sweep, write the plan, result and charts.

Runs in a worker process (see :mod:`planner.web.jobs`); everything the page
shows is computed here and written to ``result.json``, so the server only
reads files. Every outcome is a result: ``done`` (a plan, or a solver
outcome without one), ``invalid`` (the workbook's problems, cell by cell) or
``failed`` (an error the planner could not turn into either).
"""

from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path
from typing import Any

import planner
from planner.errors import InputError, PlannerError
from planner.results import COST_KEYS, expected, expected_shares
from planner.roll import total_change
from planner.web.charts import cost_chart, share_chart, stock_chart
from planner.web.jobs import DONE, FAILED, INVALID, PROGRESS, RESULT, UPLOAD

SOLUTION = "solution.xlsx"
SWEEP = "sweep.xlsx"
#: Rows of the Changes table shown on the page (the workbook has them all).
MAX_CHANGES = 500


def run_job(folder: str, kind: str, time_limit: float, params: dict[str, Any]) -> None:
    """Entry point of a job process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on the server stops the server
    path = Path(folder)
    try:
        _progress(path, "reading the workbook")
        case = planner.load(path / UPLOAD)
        if kind == "sweep":
            result = _sweep(case, path, time_limit, params)
        else:
            result = _solve(case, path, time_limit)
    except InputError as error:
        shown = str(params.get("filename", "the workbook"))
        stored = (UPLOAD, str(path / UPLOAD))
        result = {
            "job_status": INVALID,
            "issues": [
                {
                    "where": shown if issue.where in stored else issue.where,
                    "message": issue.message.replace(str(path / UPLOAD), shown),
                    "severity": issue.severity,
                }
                for issue in error.issues
            ],
        }
    except PlannerError as error:
        result = {"job_status": FAILED, "error": str(error)}
    except Exception as error:  # reported on the job's page, never lost
        result = {"job_status": FAILED, "error": f"internal error: {type(error).__name__}: {error}"}
    _write_json(path / RESULT, result)


def _solve(case: planner.Case, folder: Path, time_limit: float) -> dict[str, Any]:
    limit = min(float(case.settings.time_limit_s), time_limit)
    _progress(folder, "building the model and solving")

    def solving(figures: dict[str, Any]) -> None:
        _progress(folder, "solving", solver=figures)

    result = planner.solve(case, time_limit_s=limit, on_progress=solving)
    out: dict[str, Any] = {
        "job_status": DONE,
        "status": result.status,
        "has_plan": result.has_plan,
        "message": result.summary.get("message", ""),
        "summary": {k: _plain(v) for k, v in result.summary.items()},
        "conflicts": [{"where": i.where, "message": i.message} for i in result.conflicts],
        "warnings": [{"where": i.where, "message": i.message} for i in case.warnings],
    }
    if not result.has_plan:
        return out
    _progress(folder, "writing the solution workbook")
    result.write(folder / SOLUTION)
    out["solution"] = SOLUTION
    tables = result.tables
    shares = expected_shares(
        tables["Shares"], case.scenarios["probability"], case.settings.china_basis
    )
    probability = case.scenarios["probability"]
    shortage = expected(tables["Shortage"], probability, ["element"], "quantity")
    short = dict(zip(shortage["element"], shortage["quantity"], strict=True))
    rows = tables["Shares"]
    share = rows[f"china_share_{case.settings.china_basis}"]
    over = set(rows.loc[share > rows["china_cap"] + 1e-6, "element"])  # any period, any scenario
    out["elements"] = [
        {
            "element": row.element,
            "china_share": _plain(row.china_share),
            "china_cap": _plain(row.china_cap),
            "over_cap": row.element in over,
            "supply": _plain(row.supply),
            "shortfall": _plain(float(short.get(str(row.element), 0.0))),
        }
        for row in shares.itertuples()
    ]
    out["costs"] = {key: _plain(result.summary.get(key)) for key in COST_KEYS}
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
        out["changes"] = [
            {k: _plain(v) for k, v in record.items()}
            for record in changes[["offer", "period", "previous", "planned", "change"]]
            .head(MAX_CHANGES)
            .to_dict("records")
        ]
        out["total_change"] = _plain(total_change(changes))
    (folder / "shares.svg").write_text(share_chart(out["elements"]))
    (folder / "costs.svg").write_text(cost_chart(out["costs"], case.settings.currency))
    (folder / "stock.svg").write_text(stock_chart(stock, case.settings.unit))
    out["charts"] = ["shares", "costs", "stock"]
    return out


def _expected_stock(stock: Any, probability: Any) -> list[dict[str, Any]]:
    """Return the expected stock and cover target per element and period."""
    keys = ["element", "period"]
    grouped = expected(stock, probability, keys, "stock").merge(
        expected(stock, probability, keys, "target"), on=keys
    )
    return [
        {"element": e, "period": p, "stock": _plain(s), "target": _plain(t)}
        for e, p, s, t in zip(
            grouped["element"], grouped["period"], grouped["stock"], grouped["target"], strict=True
        )
    ]


def _sweep(
    case: planner.Case, folder: Path, time_limit: float, params: dict[str, Any]
) -> dict[str, Any]:
    from planner.sweep import ChangeError, parse_values

    name = str(params.get("change", ""))
    try:
        values = parse_values(str(params.get("values", "")))
        if not values:
            raise ChangeError("no values to try")
        limit = min(float(case.settings.time_limit_s), time_limit / max(len(values), 1))
        _progress(folder, "solving the variants", 0, len(values))
        result = planner.sweep(
            case,
            {name: values},
            workers=1,
            progress=lambda done: _progress(folder, "solving the variants", done, len(values)),
            time_limit_s=limit,
            duals=False,
        )
    except ChangeError as error:
        raise InputError([planner.Issue("sweep", str(error))], "") from None
    result.write(folder / SWEEP)
    table = result.table
    if {"china_share", "expected_cost"} <= set(table.columns):
        (folder / "trade-off.png").write_bytes(result.picture())  # drawn once, for both
    columns = [
        c
        for c in (
            name,
            "status",
            "objective",
            "expected_cost",
            "china_share",
            "shortfall",
            "efficient",
        )
        if c in table.columns
    ]
    return {
        "job_status": DONE,
        "status": "sweep",
        "change": name,
        "rows": [{k: _plain(v) for k, v in r.items()} for r in table[columns].to_dict("records")],
        "columns": columns,
        "solution": SWEEP,
        "picture": "trade-off.png" if (folder / "trade-off.png").exists() else None,
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
) -> None:
    """Tell the job page what the job is doing (``progress.json``).

    ``solver``: HiGHS's figures while it solves (seconds, best plan so far, bound, gap).
    """
    _write_json(folder / PROGRESS, {"stage": stage, "done": done, "total": total, "solver": solver})


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_suffix(".partial")
    temporary.write_text(json.dumps(data, default=str))
    os.replace(temporary, path)
