"""The scheduler: one process only runs jobs (PostgreSQL advisory lock, SQLite lease row), every
run is recorded, and admins see the jobs."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import _postgres_database, build_app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_db(request, tmp_path):
    """A database of its own, upgraded to the current schema: its URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'scheduler.sqlite'}"
    else:
        url = _postgres_database(request)
    flask_app = build_app(url)
    from app.extensions import db

    with flask_app.app_context():
        db.session.remove()
        db.engine.dispose()
    return url


def _start(url, tmp_path, name):
    env = dict(
        os.environ, DATABASE_URL=url, HTTTBC_INSTANCE_DIR=str(tmp_path),
        HTTTBC_SCHEDULER_JOBS="probe", HTTTBC_SCHEDULER_POLL="0.2",
        HTTTBC_SCHEDULER_LEASE="5", PYTHONUNBUFFERED="1",
    )
    out = open(tmp_path / f"{name}.out", "w+")
    process = subprocess.Popen([sys.executable, "run.py", "scheduler"], cwd=ROOT, env=env,
                               stdout=out, stderr=subprocess.STDOUT, text=True)
    return process, out


def _wait_until(predicate, timeout=90.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def _text(out) -> str:
    out.flush()
    out.seek(0)
    return out.read()


def test_two_scheduler_processes_run_each_job_exactly_once(fresh_db, tmp_path):
    engine = sa.create_engine(fresh_db)
    first, out1 = _start(fresh_db, tmp_path, "first")
    second, out2 = _start(fresh_db, tmp_path, "second")
    try:
        # both are up: one holds the lock, the other has tried and waits
        assert _wait_until(lambda: "giữ khóa" in _text(out1) + _text(out2)
                           and "chờ khóa" in _text(out1) + _text(out2)), \
            _text(out1) + _text(out2)

        def probe_runs():
            with engine.connect() as connection:
                return connection.execute(sa.text(
                    "SELECT count(*) FROM job_run WHERE job_id = 'probe' "
                    "AND outcome = 'success'")).scalar()

        assert _wait_until(probe_runs) == 1
        # the waiting one has tried again after the probe ran, and still waits
        waiting = out2 if "chờ khóa" in _text(out2) else out1
        tries = _text(waiting).count("chờ khóa")
        assert _wait_until(lambda: _text(waiting).count("chờ khóa") > tries)
        logs = _text(out1) + _text(out2)
        assert logs.count("giữ khóa") == 1, logs
        assert probe_runs() == 1
    finally:
        for process in (first, second):
            process.terminate()
        for process in (first, second):
            process.wait(timeout=60)
        out1.close()
        out2.close()
        engine.dispose()
    with engine.connect() as connection:
        runs = connection.execute(sa.text(
            "SELECT count(*) FROM job_run WHERE job_id = 'probe'")).scalar()
    engine.dispose()
    assert runs == 1


def test_the_waiting_scheduler_takes_over_when_the_holder_stops(fresh_db, tmp_path):
    first, out1 = _start(fresh_db, tmp_path, "first")
    try:
        assert _wait_until(lambda: "giữ khóa" in _text(out1)), _text(out1)
        second, out2 = _start(fresh_db, tmp_path, "second")
        try:
            assert _wait_until(lambda: "chờ khóa" in _text(out2)), _text(out2)
            first.terminate()
            first.wait(timeout=60)
            assert _wait_until(lambda: "giữ khóa" in _text(out2)), _text(out2)
        finally:
            second.terminate()
            second.wait(timeout=60)
            out2.close()
    finally:
        if first.poll() is None:
            first.terminate()
            first.wait(timeout=60)
        out1.close()


def test_lease_lock_is_exclusive_until_it_runs_out(app_ctx):
    from app.extensions import db
    from app.scheduler import LeaseLock

    now = [dt.datetime(2027, 2, 1, 8, 0)]
    engine = db.engine
    first = LeaseLock(engine, "first", lease_seconds=30, clock=lambda: now[0])
    second = LeaseLock(engine, "second", lease_seconds=30, clock=lambda: now[0])
    assert first.acquire()
    assert not second.acquire()
    now[0] += dt.timedelta(seconds=20)
    assert first.renew()
    now[0] += dt.timedelta(seconds=20)
    assert not second.acquire()  # renewed: still held
    now[0] += dt.timedelta(seconds=31)
    assert second.acquire()  # run out: taken over
    assert not first.renew()
    second.release()
    assert first.acquire()


def test_concurrent_lease_acquire_has_one_winner(app_ctx):
    from app.extensions import db
    from app.scheduler import LeaseLock

    engine = db.engine
    winners = []
    barrier = threading.Barrier(4)

    def contend(name):
        lock = LeaseLock(engine, name, lease_seconds=30)
        barrier.wait()
        if lock.acquire():
            winners.append(name)

    threads = [threading.Thread(target=contend, args=(f"p{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(winners) == 1


def test_a_failing_job_is_recorded_with_its_error(app_ctx, monkeypatch):
    from app import scheduler
    from app.extensions import db
    from app.models import JobRun

    def broken(session, now):
        raise RuntimeError("máy chủ thư không trả lời")

    monkeypatch.setitem(scheduler.JOBS, "broken", scheduler.JobSpec(
        "broken", "Hỏng", broken, "interval", {"minutes": 5}))
    monkeypatch.setattr(scheduler, "_APP", app_ctx)
    scheduler.run_job("broken")
    scheduler.run_job("probe")
    runs = {run.job_id: run for run in db.session.scalars(sa.select(JobRun))}
    assert runs["broken"].outcome == "failed"
    assert "máy chủ thư không trả lời" in runs["broken"].error
    assert runs["broken"].finished_at is not None
    assert runs["probe"].outcome == "success"


def test_generate_periods_job_runs_twice_without_duplicates(app_ctx):
    from app import scheduler
    from app.extensions import db
    from app.models import Period
    from tests.test_periods import _regime

    _regime(db.session)
    db.session.commit()
    now = dt.datetime(2026, 12, 6, 1, 0)
    scheduler.job_generate_periods(db.session, now)
    db.session.commit()
    count = db.session.scalar(sa.select(sa.func.count(Period.id)))
    assert count > 0
    scheduler.job_generate_periods(db.session, now)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(Period.id))) == count


def test_admins_see_jobs_runs_and_failures(client, session):
    from app.models import JobRun
    from app.roles import DATA_ENTRY, PROVINCIAL_ADMIN
    from tests import factories

    province = factories.unit(session, "UBND tỉnh Thử nghiệm", type_code="province_committee")
    factories.user(session, "tinh.qt", province, [PROVINCIAL_ADMIN])
    factories.user(session, "xa.nl", province, [DATA_ENTRY])
    start = dt.datetime(2026, 12, 6, 18, 0)
    session.add_all([
        JobRun(job_id="generate_periods", started_at=start, finished_at=start,
               outcome="success", summary="12 kỳ báo cáo mới"),
        JobRun(job_id="generate_periods", started_at=start + dt.timedelta(days=1),
               finished_at=start + dt.timedelta(days=1), outcome="failed",
               error="Lỗi kết nối cơ sở dữ liệu\nTraceback ..."),
    ])
    session.commit()
    factories.login(client, "tinh.qt")
    page = client.get("/scheduler/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Lịch tác vụ" in html
    assert "Sinh kỳ báo cáo và giao báo cáo" in html
    assert "12 kỳ báo cáo mới" in html
    assert "08/12/2026 01:00: Lỗi kết nối cơ sở dữ liệu" in html  # 18:00 UTC is 01:00 in Hà Nội
    client.get("/logout/")
    factories.login(client, "xa.nl")
    refused = client.get("/scheduler/", follow_redirects=False)
    assert refused.status_code in (302, 403)
