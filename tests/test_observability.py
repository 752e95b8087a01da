"""/health and /metrics, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from app.models import JobRun, SchedulerLock
from app.observability import utcnow
from app.workflow import transition
from tests import factories
from tests.test_workflow import cycle_setup


def job_run(session, seconds_ago: float) -> None:
    at = utcnow() - dt.timedelta(seconds=seconds_ago)
    session.add(JobRun(job_id="send_outbox", holder="test", started_at=at, finished_at=at,
                       outcome="success"))
    session.commit()


def test_health_is_ok_with_a_recent_job_run(client, session):
    job_run(session, 30)
    response = client.get("/health")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ok"
    database = body["checks"]["database"]
    assert database["ok"] and database["revision"] == database["head"]
    assert 25 < body["checks"]["scheduler"]["age_seconds"] < 120
    assert body["checks"]["disk"]["free_mb"] > 0
    if database["dialect"] == "postgresql":
        assert body["checks"]["scheduler"]["lock_held"] is False


def test_health_is_503_when_the_scheduler_never_ran_or_stopped(client, session):
    response = client.get("/health")
    assert response.status_code == 503
    scheduler = response.get_json()["checks"]["scheduler"]
    assert scheduler["ok"] is False and scheduler["message"] == "Bộ lập lịch chưa chạy lần nào"

    job_run(session, 3600)
    response = client.get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error" and body["checks"]["database"]["ok"]
    assert "không hoạt động" in body["checks"]["scheduler"]["message"]


def test_a_renewed_lease_counts_as_a_heartbeat(client, session):
    session.add(SchedulerLock(name="scheduler", holder="may1:42:abc",
                              expires_at=utcnow() + dt.timedelta(seconds=25)))
    session.commit()
    assert client.get("/health").status_code == 200


def test_health_is_503_when_the_disk_is_full_or_the_schema_is_behind(app_ctx, client, session):
    job_run(session, 10)
    app_ctx.config["HEALTH_DISK_MIN_FREE_MB"] = 10**12
    try:
        body = client.get("/health").get_json()
        assert body["checks"]["disk"]["message"] == "Ổ đĩa của thư mục dữ liệu sắp đầy"
        assert body["status"] == "error"
    finally:
        app_ctx.config["HEALTH_DISK_MIN_FREE_MB"] = 500
    from app import observability

    observability.alembic_heads.cache_clear()
    original = observability.alembic_heads
    observability.alembic_heads = lambda: ("ffffffffffff",)
    try:
        response = client.get("/health")
        assert response.status_code == 503
        assert "chưa được nâng cấp" in response.get_json()["checks"]["database"]["message"]
    finally:
        observability.alembic_heads = original


def test_health_needs_no_login_and_the_metrics_are_prometheus_text(client, session):
    report, people = cycle_setup(session)
    transition(session, report, "submit", people["entry"])
    transition(session, report, "approve", people["leader"])
    transition(session, report, "send", people["clerk"])
    session.commit()
    job_run(session, 5)
    client.get("/health")
    client.get("/login/")
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    assert "# TYPE htttbc_http_requests_total counter" in text
    assert 'htttbc_http_requests_total{endpoint="observability.health_view",method="GET",status="200"}' in text
    assert "htttbc_http_request_duration_seconds_bucket{" in text
    assert 'endpoint="AuthDBView.login"' in text
    assert "htttbc_reports_sent_last_hour 1.0" in text
    assert "htttbc_scheduler_heartbeat_age_seconds" in text


def test_metrics_are_refused_through_a_proxy_or_from_afar_unless_the_token_is_given(
        app_ctx, client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.5"}).status_code == 403
    proxied = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                         headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403
    app_ctx.config["METRICS_TOKEN"] = "bi-mat-123"
    try:
        far = {"REMOTE_ADDR": "10.0.0.5"}
        assert client.get("/metrics", environ_base=far).status_code == 403
        assert client.get("/metrics", environ_base=far,
                          headers={"Authorization": "Bearer sai"}).status_code == 403
        assert client.get("/metrics", environ_base=far,
                          headers={"Authorization": "Bearer bi-mat-123"}).status_code == 200
    finally:
        app_ctx.config["METRICS_TOKEN"] = ""


def test_a_logged_in_page_is_counted_under_its_endpoint(client, session):
    province = factories.unit(session, "UBND tỉnh", type_code="province_committee")
    factories.user(session, "qt", province, ["Quản trị cấp tỉnh"])
    session.commit()
    factories.login(client, "qt")
    client.get("/units/tree/")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'endpoint="UnitTreeView.' in text
