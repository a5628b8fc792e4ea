"""Property-based fuzzing of every operation in the app's own OpenAPI schema: no input may cause a 5xx,
and every answer is one the schema documents (status code, content type and body).

503 is the one server-side status the API documents on purpose (queue full, no model); with a model
loaded and one request at a time it must not happen either, so every 5xx fails. Both valid (positive)
and schema-violating (negative) requests are generated, a bounded number per operation: a few in the
fast suite, over a thousand cases in all in the slow one.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from service.app import create_app
from service.settings import Settings
from tests.service.conftest import ADMIN_KEY

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def fuzz(settings: Settings, mode: schemathesis.GenerationMode, examples: int) -> int:
    """Run ``examples`` generated cases per operation in ``mode``; returns how many cases ran."""
    app = create_app(settings)
    ran = 0
    with TestClient(app):  # the lifespan opens the store and loads the model for the whole run
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        results = list(schema.get_all_operations())
        operations = [result.ok() for result in results if isinstance(result, Ok)]
        assert len(operations) == len(results), "the app's OpenAPI schema has invalid operations"
        assert len(operations) >= 9
        skipped: list[str] = []
        for operation in operations:

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def call(case: Any) -> None:
                nonlocal ran
                ran += 1
                # The admin key passes every scope check, so requests reach the handlers, not only auth.
                case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_KEY}"}, checks=CHECKS)

            try:
                call()
            except Unsatisfiable:
                # An operation without inputs (e.g. /healthz) has no schema-violating request.
                assert mode == schemathesis.GenerationMode.NEGATIVE
                skipped.append(operation.label)
        assert len(skipped) <= 4, skipped
    return ran


def test_a_few_cases_per_operation(settings: Settings) -> None:
    assert fuzz(settings, schemathesis.GenerationMode.POSITIVE, examples=2) >= 20


@pytest.mark.slow
def test_no_input_causes_a_server_error_or_an_undocumented_answer(settings: Settings) -> None:
    ran = sum(fuzz(settings, mode, examples=25) for mode in schemathesis.GenerationMode)
    assert ran >= 1000, ran
