"""The scheduler process (`python run.py scheduler`): APScheduler with its job store in the app's
database, guarded by a database lock so that one process only runs jobs even when several are
started (a PostgreSQL advisory lock held on a dedicated connection; on SQLite a lease row renewed
while held). A process that does not hold the lock waits and tries again.

Every job runs through ``run_job``: it pushes an app context of its own and records the run
(job, start, end, outcome, error text) in ``job_run``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

log = logging.getLogger(__name__)

LOCK_NAME = "scheduler"
# pg_try_advisory_lock key: any 64-bit number of our own ("HTTTBC" in ASCII)
ADVISORY_KEY = 0x485454544243
TIMEZONE = "Asia/Ho_Chi_Minh"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# -- the lock ---------------------------------------------------------------------------------


class AdvisoryLock:
    """PostgreSQL: a session-level advisory lock on a connection kept for the process lifetime;
    it goes with the connection, so a dead process frees it at once."""

    def __init__(self, engine: sa.Engine, holder: str):
        self.engine = engine
        self.holder = holder
        self.connection: sa.Connection | None = None

    def acquire(self) -> bool:
        if self.connection is None:
            self.connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = bool(self.connection.execute(
            sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}).scalar())
        return got

    def renew(self) -> bool:
        """Still held while the connection lives."""
        try:
            self.connection.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.DBAPIError:
            return False

    def release(self) -> None:
        if self.connection is not None:
            try:
                self.connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            finally:
                self.connection.close()
                self.connection = None


class LeaseLock:
    """SQLite (and any other database): a row in ``scheduler_lock`` taken by one atomic UPDATE
    when its lease has run out or is already ours, and renewed before it runs out."""

    def __init__(self, engine: sa.Engine, holder: str, lease_seconds: float = 30.0,
                 clock: Callable[[], dt.datetime] = utcnow):
        self.engine = engine
        self.holder = holder
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.clock = clock

    def _ensure_row(self, connection) -> None:
        exists = connection.execute(
            sa.text("SELECT 1 FROM scheduler_lock WHERE name = :name"), {"name": LOCK_NAME}
        ).first()
        if exists is None:
            try:
                with connection.begin_nested():
                    connection.execute(
                        sa.text("INSERT INTO scheduler_lock (name, holder, expires_at) "
                                "VALUES (:name, NULL, NULL)"), {"name": LOCK_NAME})
            except sa.exc.IntegrityError:
                pass  # another process inserted it first

    def acquire(self) -> bool:
        now = self.clock()
        with self.engine.begin() as connection:
            self._ensure_row(connection)
            taken = connection.execute(
                sa.text(
                    "UPDATE scheduler_lock SET holder = :me, expires_at = :until "
                    "WHERE name = :name AND (holder = :me OR holder IS NULL "
                    "OR expires_at IS NULL OR expires_at < :now)"
                ),
                {"me": self.holder, "until": now + self.lease, "name": LOCK_NAME, "now": now},
            ).rowcount
        return taken == 1

    def renew(self) -> bool:
        now = self.clock()
        with self.engine.begin() as connection:
            kept = connection.execute(
                sa.text("UPDATE scheduler_lock SET expires_at = :until "
                        "WHERE name = :name AND holder = :me AND expires_at >= :now"),
                {"me": self.holder, "until": now + self.lease, "name": LOCK_NAME, "now": now},
            ).rowcount
        return kept == 1

    def release(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE scheduler_lock SET holder = NULL, expires_at = NULL "
                        "WHERE name = :name AND holder = :me"),
                {"me": self.holder, "name": LOCK_NAME})


def make_lock(engine: sa.Engine, holder: str, lease_seconds: float = 30.0):
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, holder)
    return LeaseLock(engine, holder, lease_seconds)


# -- the jobs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    id: str
    name: str
    function: Callable
    trigger: str
    trigger_args: dict


def job_generate_periods(session, now: dt.datetime) -> str:
    """Generate the periods of this year and the next of every active periodic regime and assign
    their reports (idempotent: existing periods are left as they are)."""
    from app.models import Regime
    from app.periods import generate_periods

    today = now.date()
    created = 0
    regimes = session.scalars(
        sa.select(Regime).where(Regime.active.is_(True), Regime.kind != "adhoc")
    ).all()
    for regime in regimes:
        for year in (today.year, today.year + 1):
            created += len(generate_periods(session, regime, year))
    return f"{created} kỳ báo cáo mới"


def job_send_reminders(session, now: dt.datetime) -> str:
    """Today's reminders (Vietnam's date) of the reports not yet sent."""
    from app.reminders import send_reminders
    from app.workflow import vietnam_time

    return f"{send_reminders(session, vietnam_time(now).date())} lời nhắc mới"


def job_reception_edges(session, now: dt.datetime) -> str:
    """Tell the units whose reception opens today, or closed at the end of yesterday."""
    from app.digest import send_reception_edges
    from app.workflow import vietnam_time

    return f"{send_reception_edges(session, vietnam_time(now).date())} thông báo mới"


def job_send_digests(session, now: dt.datetime) -> str:
    """The lead agencies' daily digest of each regime."""
    from app.digest import send_digests
    from app.workflow import vietnam_time

    return f"{send_digests(session, vietnam_time(now).date())} bản tin mới"


def job_send_outbox(session, now: dt.datetime) -> str:
    """E-mail the pending notices and retry the failed ones whose wait has passed."""
    from flask import current_app

    from app.notifications import SmtpSettings, send_outbox

    settings = SmtpSettings.from_config(current_app.config)
    if not settings.host:
        return "Chưa cấu hình máy chủ thư (SMTP_HOST)"
    counts = send_outbox(session, settings, now)
    return f"{counts['sent']} thư đã gửi, {counts['failed']} thư lỗi"


def job_send_exchange(session, now: dt.datetime) -> str:
    """Send the messages waiting for the upper-level system and retry the failed ones whose
    wait has passed (app/exchange/downstream.py)."""
    from flask import current_app

    from app.exchange.downstream import UpstreamSettings, send_pending

    settings = UpstreamSettings.from_config(current_app.config)
    if not settings.configured:
        return "Chưa cấu hình hệ thống cấp trên (UPSTREAM_URL)"
    counts = send_pending(session, settings, now)
    return (f"{counts['delivered']} thông điệp đã gửi, {counts['pending']} chờ gửi lại, "
            f"{counts['refused']} bị từ chối, {counts['failed']} ngừng thử lại")


def job_base_backup(session, now: dt.datetime) -> str:
    """The nightly backup (PostgreSQL: a base backup beside the continuous WAL archive; SQLite: an
    online copy), keeping the BACKUP_KEEP newest; off until BACKUP_DIR is set."""
    from flask import current_app

    from app.ops.backup import BackupSettings, run_backup

    settings = BackupSettings.from_config(current_app.config)
    if not settings.configured:
        return "Chưa cấu hình thư mục sao lưu (BACKUP_DIR)"
    session.rollback()  # hold no transaction open during the copy
    backup = run_backup(settings, now=now)
    return f"Đã sao lưu {backup.path.name} ({backup.size} byte, {backup.seconds:.0f} giây)"


def job_probe(session, now: dt.datetime) -> str:
    """Does nothing but get recorded: tests and operators use it to see the scheduler work."""
    return "ok"


JOBS: dict[str, JobSpec] = {
    spec.id: spec
    for spec in (
        JobSpec("generate_periods", "Sinh kỳ báo cáo và giao báo cáo", job_generate_periods,
                "cron", {"hour": 1, "minute": 0}),
        JobSpec("send_reminders", "Gửi lời nhắc hạn báo cáo", job_send_reminders,
                "cron", {"hour": 7, "minute": 0}),
        JobSpec("reception_edges", "Thông báo mở, đóng tiếp nhận báo cáo", job_reception_edges,
                "cron", {"hour": 0, "minute": 5}),
        JobSpec("send_digests", "Gửi bản tin tình hình báo cáo hằng ngày", job_send_digests,
                "cron", {"hour": 7, "minute": 30}),
        JobSpec("send_outbox", "Gửi thư và gửi lại thư lỗi", job_send_outbox,
                "interval", {"minutes": 2}),
        JobSpec("send_exchange", "Gửi số liệu lên hệ thống cấp trên và gửi lại khi lỗi",
                job_send_exchange, "interval", {"minutes": 2}),
        JobSpec("base_backup", "Sao lưu cơ sở dữ liệu hằng đêm", job_base_backup,
                "cron", {"hour": 2, "minute": 30}),
    )
}
PROBE = JobSpec("probe", "Kiểm tra bộ lập lịch", job_probe, "date", {})

_APP = None
_HOLDER = None


def run_job(job_id: str) -> None:
    """The callable APScheduler stores (by reference): run one job in an app context of its own
    and record the run."""
    from app.extensions import db
    from app.models import JobRun

    spec = JOBS.get(job_id) or (PROBE if job_id == PROBE.id else None)
    if spec is None:
        log.error("Tác vụ không xác định: %s", job_id)
        return
    flask_app = _APP
    if flask_app is None:
        from app import create_app

        flask_app = create_app()
    with flask_app.app_context():
        session = db.session
        run = JobRun(job_id=job_id, holder=_HOLDER, started_at=utcnow(), outcome="running")
        session.add(run)
        session.commit()
        run_id = run.id
        try:
            from app.audit import actor_context

            with actor_context("Bộ lập lịch", source="scheduler"):
                summary = spec.function(session, utcnow())
                session.commit()
        except Exception as error:  # recorded, then the scheduler goes on
            session.rollback()
            run = session.get(JobRun, run_id)
            run.outcome = "failed"
            run.error = f"{error}\n{traceback.format_exc()}"[:20000]
            run.finished_at = utcnow()
            session.commit()
            log.exception("Tác vụ %s lỗi", job_id)
        else:
            run = session.get(JobRun, run_id)
            run.outcome = "success"
            run.summary = summary
            run.finished_at = utcnow()
            session.commit()
        finally:
            session.remove()


def build_scheduler(engine: sa.Engine, specs: list[JobSpec]):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from app.models.scheduling import JOB_STORE_TABLE

    store = SQLAlchemyJobStore(engine=engine, tablename=JOB_STORE_TABLE, metadata=sa.MetaData())
    scheduler = BackgroundScheduler(
        jobstores={"default": store}, timezone=TIMEZONE,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    for spec in specs:
        scheduler.add_job(run_job, spec.trigger, args=[spec.id], id=spec.id, name=spec.name,
                          replace_existing=True, **spec.trigger_args)
    return scheduler


def enabled_specs() -> list[JobSpec]:
    """Every job; HTTTBC_SCHEDULER_JOBS (comma-separated ids) restricts them, and "probe" among
    them adds the one-shot probe job run at once."""
    wanted = os.environ.get("HTTTBC_SCHEDULER_JOBS")
    if not wanted:
        return list(JOBS.values())
    ids = [item.strip() for item in wanted.split(",") if item.strip()]
    return [PROBE if job_id == PROBE.id else JOBS[job_id] for job_id in ids
            if job_id == PROBE.id or job_id in JOBS]


def run_scheduler(flask_app, stop: threading.Event, *, poll_seconds: float = 5.0,
                  lease_seconds: float = 30.0, parent_pid: int | None = None) -> None:
    """Wait for the lock, then run the jobs while holding it; return when ``stop`` is set (or the
    parent process, if given, has gone)."""
    global _APP, _HOLDER
    from app.extensions import db

    _APP = flask_app
    _HOLDER = holder_id()
    with flask_app.app_context():
        engine = db.engine
    lock = make_lock(engine, _HOLDER, lease_seconds)
    renew_every = min(poll_seconds, lease_seconds / 3)

    def orphaned() -> bool:
        return parent_pid is not None and os.getppid() != parent_pid

    try:
        while not stop.is_set() and not orphaned():
            if not lock.acquire():
                print(f"Bộ lập lịch {_HOLDER}: chờ khóa", flush=True)
                stop.wait(poll_seconds)
                continue
            print(f"Bộ lập lịch {_HOLDER}: giữ khóa, chạy các tác vụ", flush=True)
            specs = enabled_specs()
            if any(spec.id == PROBE.id for spec in specs):
                specs = [s if s.id != PROBE.id else JobSpec(
                    s.id, s.name, s.function, "date",
                    {"run_date": dt.datetime.now(dt.UTC)}) for s in specs]
            scheduler = build_scheduler(engine, specs)
            scheduler.start()
            try:
                while not stop.wait(renew_every) and not orphaned():
                    if not lock.renew():
                        print(f"Bộ lập lịch {_HOLDER}: mất khóa", flush=True)
                        break
            finally:
                scheduler.shutdown(wait=True)
    finally:
        try:
            lock.release()
        except sa.exc.DBAPIError:
            pass


def job_overview(session) -> list[dict]:
    """Each job with its next run (from the job store) and its last run and last failure."""
    from app.models import JobRun
    from app.models.scheduling import apscheduler_jobs

    next_runs = {
        row.id: row.next_run_time for row in session.execute(
            sa.select(apscheduler_jobs.c.id, apscheduler_jobs.c.next_run_time))
    }
    rows = []
    for spec in JOBS.values():
        last = session.scalars(sa.select(JobRun).where(JobRun.job_id == spec.id)
                               .order_by(JobRun.started_at.desc()).limit(1)).first()
        failed = session.scalars(sa.select(JobRun).where(
            JobRun.job_id == spec.id, JobRun.outcome == "failed")
            .order_by(JobRun.started_at.desc()).limit(1)).first()
        stamp = next_runs.get(spec.id)
        rows.append({
            "id": spec.id,
            "name": spec.name,
            "next_run": (dt.datetime.fromtimestamp(stamp, dt.UTC).replace(tzinfo=None)
                         if stamp else None),
            "last": last,
            "last_failure": failed,
        })
    return rows
