"""The v3 hand cases (../shared/reference/v3, copied to tests/data): every optimum, spend and lost
value (formulation.md, "v3 additions"), and each feature's own tests live beside it
(tests/test_v3_*.py)."""

from __future__ import annotations

import json

import pytest

import planner
from tests.conftest import REFERENCE

V3 = REFERENCE / "v3"
CASES = json.loads((V3 / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_objective_spend_and_lost_value_match_the_hand_derived_optimum(name: str) -> None:
    expected = CASES[name]
    result = planner.solve(planner.load(V3 / name), mip_gap=0.0)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(expected["objective"], rel=1e-6)
    summary = result.summary
    assert summary["spend"] == pytest.approx(expected["spend"], rel=1e-6, abs=1e-6)
    assert summary["lost_value"] == pytest.approx(expected["lost_value"], rel=1e-6, abs=1e-6)
    parts = summary["spend"] + summary["lost_value"] + summary["cover_penalty"]
    assert parts == pytest.approx(summary["expected_cost"], rel=1e-9)


def test_every_v3_case_is_in_the_table() -> None:
    assert sorted(CASES) == sorted(path.name for path in V3.glob("*.xlsx"))
