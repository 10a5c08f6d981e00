"""The page in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from planner.cli import app
from tests.conftest import REFERENCE, ROOT
from tests.web.conftest import ARTEFACTS, Server

JAPAN = ROOT / "inputs" / "japan-2026.xlsx"
SOLVED = 120_000  # ms to wait for a result


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(accept_downloads=True)
    opened = context.new_page()
    yield opened
    context.close()


def cli_figures(tmp_path: Path) -> dict[str, str]:
    """The CLI's one-line summary of the Japan example, as the planner reads it."""
    result = CliRunner().invoke(app, ["solve", str(JAPAN), "-o", str(tmp_path / "cli.xlsx")])
    assert result.exit_code == 0, result.output
    found = re.search(
        r"objective ([\d,.]+) .*China share ([\d.]+%); shortfall ([\d,.]+)", result.stdout
    )
    assert found is not None, result.stdout
    return dict(zip(("objective", "china-share", "shortfall"), found.groups(), strict=True))


def test_upload_to_downloaded_plan(page: Any, server: Server, tmp_path: Path) -> None:
    page.goto(server.url)
    assert page.locator("#template-link").get_attribute("href") == "/template.xlsx"
    page.set_input_files("#file", str(JAPAN))
    assert page.locator("#drop-text").inner_text() == "japan-2026.xlsx"
    page.click("#submit")
    page.wait_for_selector("#status", timeout=SOLVED)
    assert page.locator("#status").inner_text() == "optimal"
    for key, value in cli_figures(tmp_path).items():
        assert page.locator(f"#{key}").inner_text() == value
    assert page.locator("#elements tbody tr").count() >= 5
    assert page.locator("#contracts tbody tr").count() == 41
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
