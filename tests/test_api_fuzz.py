"""Every operation of the OpenAPI document (/api/v1/_openapi) fuzzed with Schemathesis through
the WSGI test client, as a data-entry clerk of a commune logged in by JWT: whatever is sent,
the server never answers 5xx. Bounded examples per operation, SQLite only (the code under test
is the same on PostgreSQL; the other tests run there)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from tests.test_reports_api import api_world, forget_request_user, jwt_of

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "8"))


def test_no_operation_answers_a_server_error(app_ctx, session):
    if app_ctx.config["TEST_BACKEND"] != "sqlite":
        pytest.skip("fuzzed once, on SQLite")
    api_world(session)
    headers = {"Authorization": f"Bearer {jwt_of(app_ctx, 'xa1.nhaplieu')}"}
    forget_request_user()
    schema = schemathesis.openapi.from_wsgi("/api/v1/_openapi", app_ctx, headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    for expected in ("GET /api/v1/report/", "PUT /api/v1/report/{pk}/values",
                     "POST /api/v1/report/{pk}/transition", "POST /api/v1/datavaluesets/",
                     "GET /api/v1/value/", "GET /api/v1/unit/"):
        assert expected in labels, sorted(labels)

    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def call(case):
            forget_request_user()
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            call()
        except Exception as error:  # noqa: BLE001 (every operation is tried, then reported)
            failures.append(f"{operation.label}: {str(error)[:1500]}")
        session.rollback()
    assert not failures, "\n\n".join(failures)
