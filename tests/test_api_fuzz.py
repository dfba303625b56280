"""A schema-driven fuzz run over the OpenAPI, on both databases: no request, however malformed, may produce a 500.

Schemathesis generates requests from every operation's schema (valid and invalid ones) and sends
them through the ASGI app, with all its checks: no server error, every status and content type
documented, answers that match their schemas, invalid requests refused. A request its schema
allows may still be refused with 400 for what a JSON schema cannot say (a cron expression's
fields, a task that is not registered, a sort field, text with a NUL character): the reason is in
the answer.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

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


CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409", "5xx"]}}}
)


def test_no_request_causes_a_server_error_or_an_undocumented_answer(database: Database) -> None:
    with WorkflowInstanceForTests(fuzzed, "fuzzed"):
        app = OrchestratorCore(database=database)
        schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, config=CONFIG)
        streams = {"/api/events"}  # endless by design
        operations = [op for op in (r.ok() for r in schema.get_all_operations()) if op.path not in streams]
        assert len(operations) > 15
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def fuzz(case: Any) -> None:
                case.call_and_validate()

            fuzz()
