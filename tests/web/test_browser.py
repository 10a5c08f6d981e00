"""The page in a real browser (Debian's Chromium driven by Playwright).

The result page under test is the reduced Japan case's (tests/conftest.py: three of its
events, every kind of input, the same elements, caps and quarters), uploaded as
japan-2026.xlsx: these tests are about the page, what it shows of a plan and how; the
whole case's plan is tested in Python (tests/test_japan.py, tests/test_examples.py).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

import planner
from planner.headline import headline
from tests.conftest import REFERENCE, ROOT
from tests.web.conftest import ARTEFACTS, Server

SOLVED = 120_000  # ms to wait for a result
NUMBER = re.compile(r"-?[\d,]+(\.\d+)?( ?%| pts?)?")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(accept_downloads=True)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="module")
def japan(
    browser: Any,
    server: Server,
    japan_small_workbook: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The reduced Japan case uploaded through the page and solved: its job page's address."""
    upload = tmp_path_factory.mktemp("browser") / "japan-2026.xlsx"
    shutil.copyfile(japan_small_workbook, upload)
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url)
    assert page.locator("#template-link").get_attribute("href") == "/template.xlsx"
    page.set_input_files("#file", str(upload))
    assert page.locator("#drop-text").inner_text() == "japan-2026.xlsx"
    page.click("#submit")
    page.wait_for_selector("#status", timeout=SOLVED)
    address: str = page.url
    context.close()
    yield address


@pytest.fixture
def expected(japan_small_result: planner.Result) -> planner.Result:
    """The uploaded workbook solved in Python (once a session): what the page must show."""
    return japan_small_result


def cli_figures(result: planner.Result) -> dict[str, str]:
    """The figures of the line `planner solve` prints for ``result`` (planner.headline)."""
    line = headline(result.summary, result.status, "japan-2026-solution.xlsx")
    found = re.search(
        r"spend ([\d,.]+) .*, lost value ([\d,.]+) .*\(shortfall ([\d,.]+) .*\); "
        r"China share ([\d.]+%)",
        line,
    )
    assert found is not None, line
    names = ("spend", "lost-value", "shortfall", "china-share")
    return dict(zip(names, found.groups(), strict=True))


def test_upload_to_downloaded_plan(
    page: Any, japan: str, tmp_path: Path, expected: planner.Result
) -> None:
    page.goto(japan)
    assert page.locator("#status").inner_text() == "optimal"
    for key, value in cli_figures(expected).items():
        assert page.locator(f"#{key}").inner_text() == value
    assert page.locator("#elements tbody tr").count() >= 5
    contracts = expected.tables["Contracts"]
    assert page.locator("#contracts tbody tr").count() == int(contracts["contracted"].sum())
    for chart in page.locator("img.chart").all():  # every chart loaded and drawn
        assert page.evaluate(
            "(img) => img.complete && img.naturalWidth > 0", chart.element_handle()
        )
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "result-page.png"), full_page=True)
    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename == "japan-2026-solution.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    workbook = openpyxl.load_workbook(saved)
    summary = {row[0]: row[1] for row in workbook["Summary"].iter_rows(values_only=True)}
    assert f"{summary['objective']:,.2f}" == page.locator("#objective").inner_text()


def test_a_broken_workbook_shows_its_cells(
    page: Any,
    server: Server,
    hand_sheets: dict[str, list[list[Any]]],
    make_workbook: Callable[..., Path],
) -> None:
    hand_sheets["Offers"][1][7] = -5
    page.goto(server.url)
    page.set_input_files("#file", str(make_workbook(hand_sheets, name="mine.xlsx")))
    page.click("#submit")
    page.wait_for_selector("#issues", timeout=SOLVED)
    assert page.locator("#issues thead th").all_inner_texts() == ["Where", "Problem", "Severity"]
    cells = page.locator("#issues td.where").all_inner_texts()
    assert "Offers!H2" in cells
    assert "upload it again" in page.locator("#job-status").inner_text()


def test_a_sweep_from_the_page(page: Any, server: Server) -> None:
    page.goto(server.url)
    assert not page.locator("#sweep-fields").is_visible()
    page.set_input_files("#file", str(REFERENCE / "case-00-hand.xlsx"))
    page.check("#kind-sweep")
    page.fill("#change", "china_share_max[Nd]")
    page.fill("#values", "1.0:0.3:-0.35")
    assert page.locator("#submit").inner_text() == "Upload and sweep"
    page.click("#submit")
    page.wait_for_selector("#sweep", timeout=SOLVED)
    assert page.locator("#sweep tbody tr").count() == 3
    headers = page.locator("#sweep thead th").all_inner_texts()
    aligned = (
        page.locator("#sweep tbody tr")
        .first.locator("td")
        .evaluate_all("(all) => all.map(c => getComputedStyle(c).textAlign)")
    )
    by_column = dict(zip(headers, aligned, strict=True))
    assert by_column["status"] == "left"  # text left, numbers right
    assert by_column["china_share_max[Nd]"] == by_column["China share"] == "right"
    assert headers[2:6] == ["spend (USD)", "lost value (USD)", "China share", "shortfall (t)"]
    page.wait_for_function("document.getElementById('trade-off').naturalWidth > 0")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "sweep-page.png"), full_page=True)


def test_a_workbook_dropped_on_the_page(page: Any, server: Server) -> None:
    page.goto(server.url)
    content = list((ROOT / "inputs" / "tiny.xlsx").read_bytes())
    page.evaluate(
        """(content) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(content)], "tiny.xlsx"));
            const drop = document.getElementById("drop");
            drop.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true}));
            drop.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
        }""",
        content,
    )
    assert page.locator("#drop-text").inner_text() == "tiny.xlsx"
    page.click("#submit")
    page.wait_for_selector("#objective", timeout=SOLVED)
    assert page.locator("#objective").inner_text() == "21,702.00"


def test_the_japan_plan_says_what_to_order_now_and_shows_no_breach(
    page: Any, server: Server, japan: str, expected: planner.Result
) -> None:
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.goto(japan)
    page.wait_for_load_state("networkidle")
    assert failed == []  # the favicon, the charts, the style sheet: nothing 404s
    tables = page.locator("main table").evaluate_all("(all) => all.map(t => t.id)")
    assert tables[0] == "orders"  # what to do now comes before every other result
    actions = page.locator("#orders tbody tr td:first-child").all_inner_texts()
    orders = expected.tables["Orders"]
    assert actions == orders["action"].tolist()
    buys = int((orders["action"] == "buy").sum())
    assert actions.count("buy") == int(page.locator("#orders-now").inner_text()) == buys > 0
    periods = page.locator("#orders tbody tr.buy td:nth-child(6)").all_inner_texts()
    assert set(periods) == set(orders.loc[orders["action"] == "buy", "period"])
    assert "2026Q1" in periods  # the first quarter's node every scenario shares
    svg = page.request.get(server.url + page.locator("#shares-chart").get_attribute("src")).text()
    assert (
        len(re.findall(r'<g id="share-\d+">', svg)) >= 9
    )  # eight elements, TOTAL; a panel a basis
    assert 'id="breach-' not in svg and "over the cap" not in svg
    total = page.locator("#elements tbody tr", has_text="TOTAL")
    cells = total.locator("td").all_inner_texts()
    assert cells[0] == "TOTAL" and cells[6] == "0"  # no period over its cap
    assert not cells[2].startswith("-")  # headroom, not a breach
    assert page.locator("#elements tr.over").count() == 0
    assert "no period over its cap" in page.locator("#china-headroom").inner_text()


def test_the_page_s_rough_edges_are_gone(page: Any, server: Server, japan: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(japan)
    icon = page.locator("link[rel=icon]").get_attribute("href")
    for address in (icon, "/favicon.ico"):
        answer = page.request.get(server.url + address)
        assert answer.status == 200 and answer.headers["content-type"] == "image/svg+xml"
    misaligned = page.evaluate(
        """(pattern) => [...document.querySelectorAll("main td")]
            .map(cell => [cell.innerText.trim(), getComputedStyle(cell).textAlign])
            .filter(([text, align]) => text && text !== "–" &&
                (new RegExp("^(" + pattern + ")$").test(text) ? align !== "right"
                 : /[A-Za-z]/.test(text) && align !== "left"))""",
        NUMBER.pattern,
    )
    assert misaligned == []  # numbers right, text left, in every table
    headers = page.locator("#orders thead th").evaluate_all(
        "(all) => all.map(h => [h.innerText.split(' ')[0], getComputedStyle(h).textAlign])"
    )
    assert ["Supplier", "left"] in headers and ["Quantity", "right"] in headers
    content = page.evaluate(
        "() => { const m = getComputedStyle(document.querySelector('main'));"
        " return document.querySelector('main').clientWidth"
        " - parseFloat(m.paddingLeft) - parseFloat(m.paddingRight); }"
    )
    widths = page.locator("img.chart").evaluate_all(
        "(all) => all.map(i => i.getBoundingClientRect().width)"
    )
    assert len(widths) == 3 and all(abs(w - content) < 2 for w in widths), (widths, content)
    stock = page.request.get(server.url + page.locator("#stock-chart").get_attribute("src")).text()
    lowest = re.findall(r'<g id="stock-y-\d+">.*?<g id="ytick_\d+">.*?<!-- (.*?) -->', stock, re.S)
    assert len(lowest) == 8 and all(float(v) == 0 for v in lowest)  # every stock axis from 0
    job = japan.rsplit("/", 1)[1]
    console = server.console()
    for stage in ("queued", "running", "done (optimal) in"):
        assert f"job {job[:8]} solve 'japan-2026.xlsx' {stage}" in console, console[-2000:]
    assert f'"GET /jobs/{job[:8]}..." 200' in console
    assert job not in console  # the id is the key to the job: only its prefix is logged


@pytest.mark.parametrize("width", [1280, 1920])
def test_the_orders_fit_the_page_and_the_headline_is_spend_and_lost_value(
    page: Any, japan: str, width: int
) -> None:
    """Issues 23.1 and 23.5: every Orders column visible without scrolling; spend leads."""
    page.set_viewport_size({"width": width, "height": 1000})
    page.goto(japan)
    sizes = page.locator("#orders").evaluate(
        "(t) => [t.scrollWidth, t.clientWidth, t.getBoundingClientRect().right,"
        " document.querySelector('main').getBoundingClientRect().right]"
    )
    scroll, client, right, main_right = sizes
    assert scroll <= client + 1, sizes  # no sideways scrolling inside the table
    assert right <= main_right + 1, sizes  # and the table within the page's column
    for column in ("Scenarios", "Note"):
        header = page.locator("#orders thead th", has_text=column)
        box = header.bounding_box()
        assert box is not None and box["x"] + box["width"] <= main_right + 1, column
    labels = page.locator(".figures .label").all_inner_texts()
    assert labels[1].startswith("Spend") and labels[2].startswith("Lost value")
    assert not any("cost" in label.lower() for label in labels)
    blocks = page.locator("#orders tr.block th").all_inner_texts()
    assert blocks == ["Now", "Already decided for later quarters", "If the situation comes about"]
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"result-page-{width}.png"), full_page=True)
