"""Health and metrics for operators: ``GET /health`` (no login) and ``GET /metrics`` (Prometheus
text format).

/health answers 200 when the database answers and its schema is at the newest Alembic revision,
the scheduler has shown a sign of life recently (a job run started or finished, or, on SQLite,
its lease renewed) and the instance folder's disk has room; 503 otherwise, with the reason.

/metrics: requests and their latency by endpoint and status (counted by every process; with
several gunicorn workers set PROMETHEUS_MULTIPROC_DIR to an empty folder before start, see
deploy/gunicorn.conf.py), reports sent in the last hour (computed from ``report_event`` at each
scrape) and the scheduler's heartbeat age. With METRICS_TOKEN set it wants
``Authorization: Bearer <token>``; without it, only a direct loopback request (no proxy header)
is answered, so the page is not reachable through nginx.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import os
import shutil
import time
from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

# the interval jobs (send_outbox, send_exchange) run every 2 minutes: more than 2.5 intervals
# without any sign means the scheduler is down or stuck
DEFAULT_SCHEDULER_STALE_SECONDS = 300
DEFAULT_DISK_MIN_FREE_MB = 500
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

blueprint = Blueprint("observability", __name__)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# -- health checks (plain functions of a session) ------------------------------------------------


@functools.lru_cache(maxsize=1)
def alembic_heads() -> tuple[str, ...]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from app import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    return tuple(sorted(ScriptDirectory.from_config(config).get_heads()))


def check_database(session) -> dict:
    try:
        session.execute(sa.text("SELECT 1")).scalar()
        revisions = sorted(session.execute(
            sa.text("SELECT version_num FROM alembic_version")).scalars())
    except sa.exc.SQLAlchemyError as error:
        session.rollback()
        return {"ok": False, "message": "Không truy vấn được cơ sở dữ liệu",
                "error": str(getattr(error, "orig", error)).strip()[:300]}
    heads = list(alembic_heads())
    ok = revisions == heads
    result = {"ok": ok, "dialect": session.get_bind().dialect.name,
              "revision": ",".join(revisions) or None, "head": ",".join(heads)}
    if not ok:
        result["message"] = "Lược đồ cơ sở dữ liệu chưa được nâng cấp tới phiên bản mới nhất"
    return result


def _advisory_lock_held(session) -> bool:
    from app.scheduler import ADVISORY_KEY

    return bool(session.execute(sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND objsubid = 1 AND classid::bigint = :hi AND objid::bigint = :lo"),
        {"hi": ADVISORY_KEY >> 32, "lo": ADVISORY_KEY & 0xFFFFFFFF}).scalar())


def scheduler_heartbeat(session) -> tuple[dt.datetime | None, bool | None]:
    """The newest sign of life of the scheduler (naive UTC) and, on PostgreSQL, whether its
    advisory lock is held right now (None elsewhere)."""
    from app.models import JobRun
    from app.models.scheduling import SchedulerLock
    from app.scheduler import LOCK_NAME

    signs = list(session.execute(
        sa.select(sa.func.max(JobRun.started_at), sa.func.max(JobRun.finished_at))).one())
    lease = session.get(SchedulerLock, LOCK_NAME)
    if lease is not None and lease.holder and lease.expires_at is not None:
        seconds = float(os.environ.get("HTTTBC_SCHEDULER_LEASE", "30"))
        signs.append(lease.expires_at - dt.timedelta(seconds=seconds))  # its last renewal
    seen = max((s for s in signs if s is not None), default=None)
    held = _advisory_lock_held(session) if session.get_bind().dialect.name == "postgresql" \
        else None
    return seen, held


def check_scheduler(session, now: dt.datetime, stale_seconds: float) -> dict:
    try:
        seen, held = scheduler_heartbeat(session)
    except sa.exc.SQLAlchemyError as error:
        session.rollback()
        return {"ok": False, "message": "Không đọc được nhật ký bộ lập lịch",
                "error": str(getattr(error, "orig", error)).strip()[:300]}
    result: dict = {"threshold_seconds": stale_seconds,
                    "last_seen": seen.isoformat(timespec="seconds") + "Z" if seen else None,
                    "age_seconds": round((now - seen).total_seconds(), 1) if seen else None}
    if held is not None:
        result["lock_held"] = held
    if seen is None:
        result.update(ok=False, message="Bộ lập lịch chưa chạy lần nào")
    elif result["age_seconds"] > stale_seconds:
        result.update(ok=False, message="Bộ lập lịch không hoạt động quá ngưỡng cho phép")
    else:
        result["ok"] = True
    return result


def check_disk(path: Path, min_free_mb: float) -> dict:
    """Free space of the disk holding ``path`` (its nearest existing folder, before the app has
    written anything there)."""
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    try:
        usage = shutil.disk_usage(existing)
    except OSError as error:
        return {"ok": False, "path": str(path), "message": "Không đọc được dung lượng đĩa",
                "error": str(error)}
    free_mb = usage.free / (1024 * 1024)
    result = {"ok": free_mb >= min_free_mb, "path": str(path), "free_mb": round(free_mb),
              "total_mb": round(usage.total / (1024 * 1024)), "min_free_mb": min_free_mb}
    if not result["ok"]:
        result["message"] = "Ổ đĩa của thư mục dữ liệu sắp đầy"
    return result


def health(session, config, now: dt.datetime | None = None) -> dict:
    from config import INSTANCE_DIR

    now = now or utcnow()
    checks = {
        "database": check_database(session),
        "scheduler": check_scheduler(session, now, float(config.get(
            "HEALTH_SCHEDULER_STALE_SECONDS", DEFAULT_SCHEDULER_STALE_SECONDS))),
        "disk": check_disk(Path(config.get("HEALTH_DISK_PATH") or INSTANCE_DIR), float(
            config.get("HEALTH_DISK_MIN_FREE_MB", DEFAULT_DISK_MIN_FREE_MB))),
    }
    ok = all(check["ok"] for check in checks.values())
    return {"status": "ok" if ok else "error", "time": now.isoformat(timespec="seconds") + "Z",
            "checks": checks}


# -- metrics ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _instruments():
    """Created once per process (prometheus_client reads PROMETHEUS_MULTIPROC_DIR when a metric
    is created, so the environment is read at the first request, not at import)."""
    from prometheus_client import Counter, Histogram

    requests_total = Counter(
        "htttbc_http_requests_total", "HTTP requests answered, by endpoint, method and status",
        ["endpoint", "method", "status"])
    latency = Histogram(
        "htttbc_http_request_duration_seconds", "Time to answer an HTTP request",
        ["endpoint", "method", "status"], buckets=LATENCY_BUCKETS)
    return requests_total, latency


def reports_sent_since(session, since: dt.datetime) -> int:
    from app.models import ReportEvent

    return int(session.scalar(sa.select(sa.func.count(ReportEvent.id)).where(
        ReportEvent.action == "send", ReportEvent.at >= since)) or 0)


class DatabaseCollector:
    """Figures read from the database at scrape time (the same for every worker)."""

    def __init__(self, session):
        self.session = session

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        now = utcnow()
        sent = GaugeMetricFamily("htttbc_reports_sent_last_hour",
                                 "Reports sent (action 'send') during the last hour")
        sent.add_metric([], reports_sent_since(self.session, now - dt.timedelta(hours=1)))
        yield sent
        seen, _held = scheduler_heartbeat(self.session)
        age = GaugeMetricFamily("htttbc_scheduler_heartbeat_age_seconds",
                                "Seconds since the scheduler's last sign of life")
        age.add_metric([], (now - seen).total_seconds() if seen else float("nan"))
        yield age


def metrics_text(session) -> bytes:
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

    _instruments()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        requests_registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(requests_registry)
    else:
        requests_registry = REGISTRY
    database_registry = CollectorRegistry()
    database_registry.register(DatabaseCollector(session))
    return generate_latest(requests_registry) + generate_latest(database_registry)


LOOPBACK = {"127.0.0.1", "::1", "localhost"}
PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def metrics_allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    direct = not any(request.headers.get(name) for name in PROXY_HEADERS)
    return direct and (request.remote_addr or "") in LOOPBACK


# -- the routes and the request hooks -----------------------------------------------------------


@blueprint.route("/health")
def health_view():
    from app.extensions import db

    try:
        body = health(db.session, current_app.config)
    finally:
        db.session.remove()
    response = jsonify(body)
    response.status_code = 200 if body["status"] == "ok" else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route("/metrics")
def metrics_view():
    from prometheus_client import CONTENT_TYPE_LATEST

    from app.extensions import db

    if not metrics_allowed():
        return Response("Không được phép xem số đo hệ thống.\n", status=403,
                        mimetype="text/plain")
    try:
        body = metrics_text(db.session)
    finally:
        db.session.remove()
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST,
                                   "Cache-Control": "no-store"})


def install(app: Flask) -> None:
    app.register_blueprint(blueprint)

    @app.before_request
    def _start_timer():
        g._request_started = time.perf_counter()

    @app.after_request
    def _count_request(response):
        started = g.pop("_request_started", None)
        if started is not None:
            endpoint = request.endpoint or "unmatched"  # route names, never raw paths
            labels = (endpoint, request.method, str(response.status_code))
            requests_total, latency = _instruments()
            requests_total.labels(*labels).inc()
            latency.labels(*labels).observe(time.perf_counter() - started)
        return response
