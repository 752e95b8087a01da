"""Every operation of the OpenAPI document (/api/v1/_openapi) fuzzed with Schemathesis through
the WSGI test client, as a data-entry clerk of a commune logged in by JWT: whatever is sent,
the server never answers 5xx. Bounded examples per operation, SQLite only (the code under test
is the same on PostgreSQL; the other tests run there)."""

from __future__ import annotations

import logging
import os
import time
import traceback

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from tests.test_reports_api import api_world, forget_request_user, jwt_of

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "5"))


class ServerTracebacks(logging.Handler):
    """The tracebacks FAB's @safe logs before answering 500, to show with a failure."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record):
        if record.exc_info:
            self.seen.append("".join(traceback.format_exception(*record.exc_info))[-3000:])

    def last(self) -> str:
        return self.seen[-1] if self.seen else ""


def fuzz(operation, headers: dict, first: dict, statuses: dict) -> None:
    """Call one operation with generated requests; raise on a 5xx answer."""
    resource = operation.path.split("/")[3] if operation.path.count("/") > 3 else ""

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def call(case):
        forget_request_user()
        if "pk" in (case.path_parameters or {}) and resource in first:
            case.path_parameters["pk"] = first[resource]
        response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
        statuses.setdefault(operation.label, set()).add(response.status_code)

    call()


@pytest.mark.parametrize("username", ["xa1.nhaplieu", "stc.quantri"])
def test_no_operation_answers_a_server_error(app_ctx, session, username):
    """As a commune's data-entry clerk (reports, values, imports) and as the lead agency's unit
    admin (who also writes the catalogues)."""
    if app_ctx.config["TEST_BACKEND"] != "sqlite":
        pytest.skip("fuzzed once, on SQLite")
    reports, people = api_world(session)
    from app.roles import UNIT_ADMIN
    from tests import factories

    factories.user(session, "stc.quantri", people["reviewer"].unit, [UNIT_ADMIN])
    session.commit()
    from sqlalchemy import select

    from app.models import Indicator, Period, Regime, ReportValue

    # path ids of rows that exist (random ids would only ever meet 404)
    first = {
        "report": reports["one"].id,
        "value": session.scalar(select(ReportValue.id).limit(1)),
        "unit": (people["reviewer"].unit_id if username == "stc.quantri"
                 else reports["one"].unit_id),
        "indicator": session.scalar(select(Indicator.id).limit(1)),
        "regime": session.scalar(select(Regime.id).limit(1)),
        "period": session.scalar(select(Period.id).limit(1)),
    }
    headers = {"Authorization": f"Bearer {jwt_of(app_ctx, username)}"}
    forget_request_user()
    schema = schemathesis.openapi.from_wsgi("/api/v1/_openapi", app_ctx, headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    for expected in ("GET /api/v1/report/", "PUT /api/v1/report/{pk}/values",
                     "POST /api/v1/report/{pk}/transition", "POST /api/v1/datavaluesets/",
                     "GET /api/v1/value/", "GET /api/v1/unit/"):
        assert expected in labels, sorted(labels)

    failures, statuses, took = [], {}, {}
    errors = ServerTracebacks()
    fab_log = logging.getLogger("flask_appbuilder.api")
    fab_log.disabled = False  # Alembic's logging configuration turns existing loggers off
    fab_log.addHandler(errors)
    for operation in operations:
        if operation.path.endswith("/_openapi"):
            continue  # the document itself: fetched above
        started = time.monotonic()

        try:
            fuzz(operation, headers, first, statuses)
        except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 (all tried, then reported)
            failures.append(f"{operation.label}: {str(error)[:1500]}\n{errors.last()}")
        session.rollback()
        took[operation.label] = round(time.monotonic() - started, 2)
    print("slowest:", sorted(took.items(), key=lambda item: -item[1])[:5])
    fab_log.removeHandler(errors)
    assert not failures, "\n\n".join(failures)
    # the calls were authenticated: the clerk's own reports were listed
    assert 200 in statuses["GET /api/v1/report/"]
