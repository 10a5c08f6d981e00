"""The model's size estimated from the scenario tree, before any build (issue 26, point 7).

The estimate is held within a factor of 2 of real builds (rows, columns and
nonzeros of the standard form HiGHS receives); on these cases it runs from
0.94 to 1.4 times the real figures, above them where the builder skips rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import planner
import planner.api
from benchmarks.generate import Size, generate, write
from planner.cli import app
from planner.errors import InputError
from planner.handoff import standard_form
from planner.model import build_model, derive
from planner.model.size import estimate, memory_limit
from tests.conftest import REFERENCE, ROOT

runner = CliRunner()
FACTOR = 2.0
JAPAN = ROOT / "inputs" / "japan-2026.xlsx"
CASES = [
    *sorted(REFERENCE.glob("case-*.xlsx")),
    *sorted((REFERENCE / "v2").glob("*.xlsx")),
    JAPAN,
]


def _generated(tmp_path: Path, v2: bool) -> Path:
    sheets = generate(Size(elements=4, offers=6, periods=6, scenarios=8), seed=3, v2=v2)
    return write(sheets, tmp_path / f"generated-{v2}.xlsx")


def _real(data: planner.model.ModelData) -> tuple[int, int, int]:
    form = standard_form(build_model(data))
    return len(form.rows), len(form.columns), len(form.value)


@pytest.mark.parametrize("path", [*CASES, "generated", "generated-v2"], ids=str)
def test_the_estimate_is_within_a_factor_of_two_of_the_build(
    path: Path | str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if isinstance(path, str):
        path = _generated(tmp_path, path.endswith("v2"))
    japan = path == JAPAN  # loaded once a session (tests/conftest.py)
    data = derive(request.getfixturevalue("japan_case") if japan else planner.load(path))
    size = estimate(data)
    for estimated, real in zip((size.rows, size.columns, size.nonzeros), _real(data), strict=True):
        assert real / FACTOR <= estimated <= real * FACTOR, (estimated, real)
    assert size.nodes == len(data.nodes)


def test_a_model_that_cannot_fit_is_refused_before_it_is_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_build(data: object) -> None:
        raise AssertionError("built")

    monkeypatch.setattr(planner.api, "build_model", no_build)
    target = tmp_path / "plan.xlsx"
    source = ROOT / "inputs" / "japan-2026.xlsx"
    result = runner.invoke(app, ["solve", str(source), "-o", str(target), "--max-model-mb", "210"])
    assert result.exit_code == 2, result.output
    message = result.stderr.replace("\n", " ")
    # the Japan case's scenarios come from its Events: the message names that sheet
    assert "Events: the model is too large to solve here: 404 tree nodes" in message
    assert "rows" in message and "nonzeros" in message
    assert "more than the limit of 210 MB (max_model_mb (--max-model-mb))" in message
    assert not target.exists()


def test_the_limit_comes_from_the_environment_and_is_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = planner.load(ROOT / "inputs" / "tiny.xlsx")
    monkeypatch.setenv("PLANNER_MAX_MODEL_MB", "150")
    assert memory_limit() == (150, "PLANNER_MAX_MODEL_MB")
    with pytest.raises(InputError, match=r"more than the limit of 150 MB \(PLANNER_MAX_MODEL_MB"):
        planner.solve(case)
    monkeypatch.setenv("PLANNER_MAX_MODEL_MB", "lots")
    with pytest.raises(InputError, match="PLANNER_MAX_MODEL_MB must be a number of MB > 0"):
        planner.solve(case)
    monkeypatch.delenv("PLANNER_MAX_MODEL_MB")
    assert planner.solve(case, max_model_mb=1000).status == "optimal"
    with pytest.raises(ValueError, match="max_model_mb must be a finite number > 0"):
        planner.solve(case, max_model_mb=-1)


def test_the_cli_option_is_checked(tmp_path: Path) -> None:
    source = ROOT / "inputs" / "tiny.xlsx"
    result = runner.invoke(app, ["solve", str(source), "--max-model-mb", "0"])
    assert result.exit_code == 2
    assert "must be a finite number of MB > 0" in result.stderr


def test_a_web_jobs_memory_limit_bounds_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """A job process has an address-space limit (--max-memory-mb): 80% of it is the default."""
    monkeypatch.delenv("PLANNER_MAX_MODEL_MB", raising=False)
    monkeypatch.setattr(
        "planner.model.size.resource.getrlimit", lambda kind: (3072 * 2**20, 3072 * 2**20)
    )
    assert memory_limit() == (2457, "80% of this process's memory limit of 3,072 MB")
