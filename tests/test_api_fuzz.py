"""A schema-driven fuzz run over the OpenAPI: no request, however malformed, may produce a 500.

Schemathesis generates requests from every operation's schema (valid and invalid ones) and sends
them through the ASGI app; the check is that the server answers with a deliberate status and JSON.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.forms import SubmitFormPage
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.workflow import StepList, done, init, inputstep, workflow


@inputstep("Ask")
def ask() -> type[SubmitFormPage]:
    class AskPage(SubmitFormPage):
        count: int

    return AskPage


@workflow("Fuzzed")
def fuzzed() -> StepList:
    return init >> ask >> done


def _check(case: Any) -> None:
    response = case.call()
    deliberate = response.status_code < 500 or response.status_code in (503, 510)
    assert deliberate, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    if response.status_code != 204:
        content_type = response.headers.get("content-type", [""])
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type.startswith("application/json"), response.text[:200]


def test_no_request_causes_a_server_error(sqlite_db: Database) -> None:
    with WorkflowInstanceForTests(fuzzed, "fuzzed"):
        schema = schemathesis.openapi.from_asgi("/api/openapi.json", OrchestratorCore(database=sqlite_db))
        streams = {"/api/events"}  # endless by design
        operations = [op for op in (r.ok() for r in schema.get_all_operations()) if op.path not in streams]
        assert len(operations) > 15
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def fuzz(case: Any) -> None:
                _check(case)

            fuzz()
