"""Schemathesis against the OpenAPI document of a live server (bounded)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.web.conftest import Server

EXAMPLES = 15  # per operation: bounded, derandomized


def test_the_api_keeps_its_document(server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")  # calls go to its host
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/jobs", "/api/jobs/{job_id}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate()

        try:
            check()
        except Exception as error:
            pytest.fail(f"{operation.method.upper()} {operation.path}: {error}")
