"""Deadline rush: many people saving and moving the same reports at once lose no value and
neither skip nor double a transition (optimistic locking on the report's revision, row locks on
PostgreSQL, the write lock on SQLite)."""

from __future__ import annotations

import threading
from decimal import Decimal

from sqlalchemy import func, select

from app.models import Report, ReportEvent, ReportVersion
from app.reports import ReportConflict, load_values, save_values
from app.workflow import TransitionRefused, transition
from tests.test_workflow import NOW, cycle_setup

THREADS = 6


def _run_together(app, jobs):
    """Start every job in its own thread with its own app context and session, released at
    the same moment; return the exceptions they raised."""
    from app.extensions import db

    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def worker(job):
        with app.app_context():
            try:
                barrier.wait()
                job(db.session)
            except BaseException as error:  # noqa: BLE001 (collected and checked by the test)
                db.session.rollback()
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return errors


def test_concurrent_approvals_move_the_report_once(app_ctx, session):
    report, people = cycle_setup(session)
    transition(session, report, "submit", people["entry"], now=NOW)
    session.commit()
    report_id, leader_id = report.id, people["leader"].id

    def approve(db_session):
        from app.models import AppUser

        mine = db_session.get(Report, report_id)
        transition(db_session, mine, "approve", db_session.get(AppUser, leader_id), now=NOW)
        db_session.commit()

    errors = _run_together(app_ctx, [approve] * THREADS)
    assert len(errors) == THREADS - 1
    assert all(isinstance(e, TransitionRefused) for e in errors), errors
    assert all("đã duyệt" in e.message for e in errors)
    session.expire_all()
    approvals = session.scalar(select(func.count()).select_from(ReportEvent).where(
        ReportEvent.report_id == report_id, ReportEvent.action == "approve"))
    assert approvals == 1 and session.get(Report, report_id).state == "approved"


def test_accept_and_return_racing_only_one_wins(app_ctx, session):
    report, people = cycle_setup(session)
    for action, who in (("submit", "entry"), ("approve", "leader"), ("send", "clerk")):
        transition(session, report, action, people[who], now=NOW)
    session.commit()
    report_id, reviewer_id = report.id, people["reviewer"].id

    def decide(action):
        def job(db_session):
            from app.models import AppUser

            mine = db_session.get(Report, report_id)
            transition(db_session, mine, action, db_session.get(AppUser, reviewer_id),
                       reason="Sai số liệu", now=NOW)
            db_session.commit()
        return job

    errors = _run_together(app_ctx, [decide("accept"), decide("return")] * (THREADS // 2))
    assert len(errors) == THREADS - 1 and all(isinstance(e, TransitionRefused) for e in errors)
    session.expire_all()
    events = session.scalars(select(ReportEvent).where(
        ReportEvent.report_id == report_id, ReportEvent.action.in_(("accept", "return")))).all()
    assert len(events) == 1
    state = session.get(Report, report_id).state
    assert state == ("accepted" if events[0].action == "accept" else "returned")
    version = session.scalars(select(ReportVersion).where(ReportVersion.report_id == report_id)).one()
    assert version.outcome == ("accepted" if state == "accepted" else "returned")


def test_saves_racing_a_send_either_land_before_it_or_are_refused(app_ctx, session):
    """Entry staff keep typing while the clerk sends: every save that succeeded is in the sent
    version or the report is still editable; nothing is written to a frozen report."""
    report, people = cycle_setup(session)
    transition(session, report, "submit", people["entry"], now=NOW)
    transition(session, report, "approve", people["leader"], now=NOW)
    session.commit()
    report_id, clerk_id = report.id, people["clerk"].id
    # approved reports are frozen too: reopen editing by saving before approval is not possible,
    # so race saves against the send of a report returned for correction instead
    report.state = "returned"
    session.commit()
    saved: list[tuple[str, str]] = []
    lock = threading.Lock()

    def typist(row):
        def job(db_session):
            for number in range(1, 6):
                mine = db_session.get(Report, report_id)
                try:
                    save_values(db_session, mine, {f"r{row}|c3": str(number)})
                    db_session.commit()
                except Exception:  # noqa: BLE001 (refused once the report is frozen)
                    db_session.rollback()
                    return
                with lock:
                    saved.append((f"r{row}|c3", str(number)))
        return job

    def submit_approve_send(db_session):
        from app.models import AppUser

        for action, who in (("submit", "entry"), ("approve", "leader"), ("send", "clerk")):
            mine = db_session.get(Report, report_id)
            user = db_session.get(AppUser, people[who].id if who != "clerk" else clerk_id)
            transition(db_session, mine, action, user, now=NOW)
            db_session.commit()

    errors = _run_together(app_ctx, [typist(5), typist(6), submit_approve_send])
    assert errors == []
    session.expire_all()
    final = session.get(Report, report_id)
    assert final.state == "sent"
    values = load_values(session, final)
    # the last successful save of each cell is what the report (and its sent version) holds
    for key in ("r5|c3", "r6|c3"):
        mine = [value for k, value in saved if k == key]
        if mine:
            assert values[key] == Decimal(mine[-1])
    version = session.scalars(select(ReportVersion).where(ReportVersion.report_id == report_id)).one()
    import json

    sent_values = json.loads(version.values_json)
    for key in ("r5|c3", "r6|c3"):
        if key in values and values[key] is not None:
            assert sent_values[key] == str(values[key].normalize())


def test_many_concurrent_saves_and_base_conflicts_lose_no_value(app_ctx, session):
    """Several people fill different rows of one report at once, each with the values they saw
    as base: every value ends up stored, the revision counts every save exactly once."""
    report, _ = cycle_setup(session)
    report_id = report.id
    start_revision = report.revision
    keys = [f"r{row}|{column}" for row in (5, 6) for column in ("c3", "c4")]
    per_worker = 5

    def typist(key):
        def job(db_session):
            for number in range(1, per_worker + 1):
                mine = db_session.get(Report, report_id)
                seen = load_values(db_session, mine).get(key)
                try:
                    save_values(db_session, mine, {key: str(number + 10)},
                                base_values={key: "" if seen is None else str(seen)})
                    db_session.commit()
                except ReportConflict:  # nobody else writes this cell: must not happen
                    db_session.rollback()
                    raise
        return job

    errors = _run_together(app_ctx, [typist(key) for key in keys])
    assert errors == []
    session.expire_all()
    final = session.get(Report, report_id)
    values = load_values(session, final)
    assert all(values[key] == Decimal(per_worker + 10) for key in keys)
    assert final.revision == start_revision + len(keys) * per_worker
