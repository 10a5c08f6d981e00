"""The job page's content, rendered in process (no browser, no server): orders, caps, queue."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from planner.web.app import ServerConfig, _percent, create_app
from planner.web.charts import share_chart
from planner.web.jobs import DONE, RESULT, RUNNING, UPLOAD, Job, JobRunner
from planner.web.worker import run_job
from tests.conftest import REFERENCE

V2 = REFERENCE / "v2"


def fetch(runner: JobRunner, tmp_path: Path, path: str) -> str:
    """Return the page at ``path`` of an app around ``runner`` (never started)."""
    app = create_app(ServerConfig(data_dir=tmp_path, runner=runner))

    async def get() -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return (await client.get(path)).text

    with ThreadPoolExecutor(1) as thread:  # its own event loop: Playwright may hold this one
        return thread.submit(asyncio.run, get()).result()


def queue(runner: JobRunner, name: str = "q.xlsx") -> Job:
    job_id, folder = runner.new_folder()
    return runner.submit(Job(job_id, "solve", name, folder, 60))


def solved(runner: JobRunner, workbook: Path, sigint: None) -> Job:
    """A job that ran ``workbook`` through the worker, as the runner would have it."""
    job = queue(runner, workbook.name)
    shutil.copy(workbook, job.folder / UPLOAD)
    run_job(str(job.folder), "solve", 60, {"filename": workbook.name})
    job.outcome = json.loads((job.folder / RESULT).read_text())
    job.status, job.started, job.finished = DONE, time.time(), time.time()
    return job


def cells(page: str, table: str) -> list[list[str]]:
    """Return the body rows of ``table`` in ``page`` as lists of cell texts."""
    body = page.split(f'<table id="{table}"', 1)[1].split("</table>", 1)[0].split("<tbody>")[1]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    texts = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    cleaned = [[re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in row] for row in texts]
    return [row for row in cleaned if row]  # a block's heading row has no data cells


def test_a_queued_job_says_what_it_waits_for(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path / "jobs", workers=2)  # never started: states as set here
    first = queue(runner)
    page = fetch(runner, tmp_path, f"/jobs/{first.id}")
    assert "Starting a solver" in page and "Waiting for a free solver" not in page
    for job in (first, queue(runner)):
        job.status = RUNNING  # both solvers busy
    waiting = queue(runner)
    last = queue(runner)
    page = fetch(runner, tmp_path, f"/jobs/{last.id}")
    assert "Queued behind 3 jobs (2 solving, 1 waiting before it)" in page
    assert "one of the 2 solvers is free" in page
    assert "Queued behind 2 jobs (2 solving, 0 waiting" in fetch(
        runner, tmp_path, f"/jobs/{waiting.id}"
    )


def test_later_signings_and_changes_are_on_the_page(tmp_path: Path, sigint: None) -> None:
    runner = JobRunner(tmp_path / "jobs")
    later = solved(runner, V2 / "v2-a3-later-signing.xlsx", sigint)
    page = fetch(runner, tmp_path, f"/jobs/{later.id}")
    assert page.index('id="orders"') < page.index('id="signings"') < page.index('id="elements"')
    orders = cells(page, "orders")
    assert [row[0] for row in orders] == ["buy", "sign now", "sign later"]
    assert orders[2][1] == "DY-AU" and orders[2][10] == "cn_stop (20.0%)"
    assert cells(page, "signings") == [["DY-AU", "Dy", "P2", "cn_stop", "20.0%", "P3", "10,000.00"]]
    assert 'id="changes"' not in page
    changed = solved(runner, V2 / "v2-a5-change-cost.xlsx", sigint)
    page = fetch(runner, tmp_path, f"/jobs/{changed.id}")
    rows = cells(page, "changes")
    assert rows[0] == ["A", "Nd", "P1", "100.00", "0.00", "-100.00"]
    assert ["B", "Nd", "–", "–", "–", "newly signed"] in rows
    orders = cells(page, "orders")
    assert ["option", "A"] in [row[:2] for row in orders]  # contracted, unused: an option
    assert [row[0] for row in orders] == [
        "buy",
        "option",
        "sign now",
        "sign now",
        *["buy later"] * 2,
    ]
    headings = re.findall(r'<tr class="block"><th[^>]*>([^<]+)</th>', page)
    assert headings == ["Now", "Already decided for later quarters"]
    uses = {row[0]: row[-1] for row in cells(page, "contracts")}
    assert uses["A"] == "option: nothing bought in the plan" and uses["C"] == "bought from"


def test_the_scenarios_events_made_are_on_the_page(tmp_path: Path, sigint: None) -> None:
    runner = JobRunner(tmp_path / "jobs")
    job = solved(runner, REFERENCE / "v3" / "v3-b4-events.xlsx", sigint)
    page = fetch(runner, tmp_path, f"/jobs/{job.id}")
    assert cells(page, "scenarios") == [
        ["base", "40.0%", "none"],
        ["B", "10.0%", "B"],
        ["A", "40.0%", "A"],
        ["A+B", "10.0%", "A+B"],
    ]
    plain = solved(runner, V2 / "v2-a3-later-signing.xlsx", sigint)
    assert 'id="scenarios"' not in fetch(runner, tmp_path, f"/jobs/{plain.id}")


def test_a_cap_on_another_basis_is_compared_on_its_basis(tmp_path: Path, sigint: None) -> None:
    runner = JobRunner(tmp_path / "jobs")
    job = solved(runner, V2 / "v2-a6-basis-caps.xlsx", sigint)
    result: dict[str, Any] = job.outcome  # type: ignore[assignment]
    assert result["basis"] == "any"
    nd = {(r["basis"], r["period"]): r for r in result["china"] if r["element"] == "Nd"}
    assert {basis for basis, _ in nd} == {"mining", "refining"}  # the bases its caps are on
    assert not any(r["breach"] for r in nd.values())
    page = fetch(runner, tmp_path, f"/jobs/{job.id}")
    row = next(r for r in cells(page, "elements") if r[0] == "Nd")
    assert row[3] == "P1 (mining basis)" and row[4] == "30.0%"


def test_the_total_by_value_has_its_own_row_against_its_cap(tmp_path: Path, sigint: None) -> None:
    """(B2) The China table shows the TOTAL counted in value beside the TOTAL in tonnes."""
    runner = JobRunner(tmp_path / "jobs")
    job = solved(runner, REFERENCE / "v3" / "v3-b2-value-cap.xlsx", sigint)
    result: dict[str, Any] = job.outcome  # type: ignore[assignment]
    by_value = [r for r in result["china"] if r["element"] == "TOTAL by value"]
    assert [(r["basis"], r["china_cap"]) for r in by_value] == [("shipment", 0.5)]
    assert by_value[0]["china_share"] == pytest.approx(0.5)
    total = [r for r in result["china"] if r["element"] == "TOTAL"]
    assert [r["china_share"] for r in total] == [pytest.approx(0.6 / 101)]  # tonnes, no cap
    page = fetch(runner, tmp_path, f"/jobs/{job.id}")
    rows = {r[0]: r for r in cells(page, "elements")}
    assert rows["TOTAL by value"][1:5] == ["50.0%", "0.0 pts", "P1 (shipment basis)", "50.0%"]
    assert rows["TOTAL by value"][-2:] == ["–", "–"]  # its supply is money, not tonnes
    assert rows["TOTAL"][2] == "–"


def test_the_share_chart_marks_a_breach_only_where_there_is_one() -> None:
    def rows(element: str, breach: bool) -> list[dict[str, Any]]:
        return [
            {
                "element": element,
                "basis": "any",
                "period": period,
                "china_share": 0.5,
                "highest": 0.7 if breach and period == "P2" else 0.5,
                "china_cap": 0.6,
                "headroom": -0.1 if breach and period == "P2" else 0.1,
                "breach": breach and period == "P2",
            }
            for period in ("P1", "P2", "P3")
        ]

    svg = share_chart([*rows("Nd", False), *rows("Dy", True), *rows("TOTAL", False)], "any")
    assert re.findall(r'id="(breach-\d+)"', svg) == ["breach-1"]  # Dy's chart alone
    assert "over the cap" in svg
    calm = share_chart([*rows("Nd", False), *rows("TOTAL", False)], "any")
    assert "breach-" not in calm and "over the cap" not in calm


@pytest.mark.parametrize(("value", "shown"), [(-1.1e-16, "0.0%"), (0.538, "53.8%"), (None, "–")])
def test_a_rounding_error_is_no_negative_share(value: float | None, shown: str) -> None:
    assert _percent(value) == shown


def test_the_log_names_a_job_on_one_line(tmp_path: Path) -> None:
    job = Job("AbCdEfGh" + "x" * 24, "sweep", "q3\n2027\x1b[31m.xlsx", tmp_path, 60)
    assert job.label() == "job AbCdEfGh sweep 'q3?2027?[31m.xlsx'"


def test_a_long_changes_table_is_cut_on_the_page_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sigint: None
) -> None:
    from planner.web import worker

    monkeypatch.setattr(worker, "MAX_ROWS", 2)
    job = solved(JobRunner(tmp_path / "jobs"), V2 / "v2-a5-change-cost.xlsx", sigint)
    assert len(job.outcome["changes"]) == 2  # type: ignore[index]


def test_shortage_by_use_is_on_the_page(tmp_path: Path, sigint: None) -> None:
    runner = JobRunner(tmp_path / "jobs")
    job = solved(runner, REFERENCE / "v3" / "v3-b1b3-tiers-budget.xlsx", sigint)
    page = fetch(runner, tmp_path, f"/jobs/{job.id}")
    assert page.index('id="elements"') < page.index('id="shortage-by-use"')
    assert cells(page, "shortage-by-use") == [
        ["Nd", "consumer-electronics", "20.00", "3,000.00"],
        ["Dy", "industrial-motors", "10.00", "5,000.00"],
    ]
    plain = solved(runner, REFERENCE / "v3" / "v3-b3-working-capital.xlsx", sigint)  # none short
    assert 'id="shortage-by-use"' not in fetch(runner, tmp_path, f"/jobs/{plain.id}")


def test_the_headline_cards_lead_with_spend_and_lost_value(tmp_path: Path, sigint: None) -> None:
    """B5, issue 23.1: spend and lost value apart, as the CLI prints them; no cost headline."""
    from planner.headline import amount

    runner = JobRunner(tmp_path / "jobs")
    job = solved(runner, REFERENCE / "case-00-hand.xlsx", sigint)
    summary = job.outcome["summary"]  # type: ignore[index]
    page = fetch(runner, tmp_path, f"/jobs/{job.id}")
    cards = page.split('<section class="figures">', 1)[1].split("</section>", 1)[0]
    labels = re.findall(r'<span class="label">([^<]+)</span>', cards)
    assert labels[1:3] == ["Spend, expected (USD)", "Lost value, expected (USD)"]
    assert not any("cost" in label.lower() for label in labels)
    shown = dict(re.findall(r'<span id="([a-z-]+)" class="value">([^<]+)</span>', cards))
    assert shown["spend"] == amount(summary["spend"]) == "20,702"
    assert shown["lost-value"] == amount(summary["lost_value"]) == "1,000"
    assert 'id="shortfall">1</span> t' in cards
    totals = page.split('id="cost-totals"', 1)[1].split("</p>", 1)[0]
    assert 'id="expected-cost">21,702.00<' in totals and 'id="objective">21,702.00<' in totals


def test_the_total_row_shows_the_whole_shortfall(tmp_path: Path, sigint: None) -> None:
    """Issue 23.3: the China table's TOTAL row has every element's shortfall, not 0."""
    runner = JobRunner(tmp_path / "jobs")
    job = solved(runner, REFERENCE / "case-00-hand.xlsx", sigint)
    elements = job.outcome["elements"]  # type: ignore[index]
    total = next(e for e in elements if e["element"] == "TOTAL")
    each = sum(e["shortfall"] for e in elements if e["element"] != "TOTAL")
    assert total["shortfall"] == pytest.approx(each) == pytest.approx(1.0)
    page = fetch(runner, tmp_path, f"/jobs/{job.id}")
    row = next(r for r in cells(page, "elements") if r[0] == "TOTAL")
    assert row[-1] == "1.00"


def test_the_running_page_gives_the_workbook_s_time_limit(tmp_path: Path) -> None:
    """Issue 23.11: "at most 120 s" when the workbook says 120 s and the server allows 300 s."""
    from planner.web.worker import _progress

    runner = JobRunner(tmp_path / "jobs")
    job_id, folder = runner.new_folder()
    job = runner.submit(Job(job_id, "solve", "q.xlsx", folder, 300))
    job.status, job.started = RUNNING, time.time()
    _progress(folder, "solving", time_limit=120.0)
    page = fetch(runner, tmp_path, f"/jobs/{job.id}")
    assert "of at most 120 s" in page and "300" not in page
