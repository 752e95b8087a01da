"""Reminders walked across a deadline, a weekend and Tết with an injected date, recorded once per
person, and e-mailed through a real SMTP server (aiosmtpd) exactly once."""

from __future__ import annotations

import datetime as dt
import email
import socket
import unicodedata
from email import policy

import holidays
import pytest
from sqlalchemy import func, select

from app.calendar import calendar_from_db
from app.models import Notification
from app.notifications import SmtpSettings, send_outbox
from app.reminders import due_reminders, send_reminders
from tests.test_workflow import cycle_setup

# Monday 15/02/2027, just after Tết Đinh Mùi (the lunar new year falls on Saturday 06/02/2027)
DEADLINE = dt.date(2027, 2, 15)


def _setup(session):
    report, people = cycle_setup(session, deadline=DEADLINE)
    report.period.deadline = DEADLINE
    session.commit()
    return report, people


def _expected_days(offsets):
    """An independent walk over Vietnam's calendar (the holidays package): the working day
    ``k`` working days from the deadline."""
    vn = holidays.country_holidays("VN")
    working = [DEADLINE + dt.timedelta(days=d) for d in range(-40, 40)
               if vn.is_working_day(DEADLINE + dt.timedelta(days=d))]
    index = working.index(DEADLINE)
    return {k: working[index + k] for k in offsets}


def test_reminders_walked_across_tet_fall_on_working_days(session):
    report, people = _setup(session)
    expected = _expected_days([-3, -1, 0, 1, 3])
    vn = holidays.country_holidays("VN")
    assert any(day in vn for day in (DEADLINE - dt.timedelta(days=d) for d in range(1, 10)))
    seen = {}
    day = DEADLINE - dt.timedelta(days=30)
    while day <= DEADLINE + dt.timedelta(days=20):
        new = send_reminders(session, day)
        session.commit()
        if new:
            seen[day] = new
        day += dt.timedelta(days=1)
    assert sorted(seen) == sorted(expected.values())
    for day in seen:
        assert day.weekday() < 5 and day not in vn
    notes = session.scalars(select(Notification).order_by(Notification.id)).all()
    by_user = {}
    for note in notes:
        by_user.setdefault(note.user_id, []).append(note.dedup_key)
    entry, leader = people["entry"].id, people["leader"].id
    # the entry person on each of the five days; the leader only after the deadline
    assert len(by_user[entry]) == 5
    assert by_user[leader] == [f"reminder:{report.id}:1", f"reminder:{report.id}:3"]
    assert people["clerk"].id not in by_user
    assert all(unicodedata.is_normalized("NFC", n.body) for n in notes)
    # walking again sends nothing
    for day in expected.values():
        assert send_reminders(session, day) == 0
    session.commit()
    assert session.scalar(select(func.count(Notification.id))) == len(notes)


def test_a_sent_report_gets_no_reminder_and_a_submitted_one_reminds_the_leader(session):
    report, people = _setup(session)
    report.state = "submitted"
    session.commit()
    notices = due_reminders(session, DEADLINE, calendar_from_db(session))
    assert {n.user_id for n in notices} == {people["leader"].id}
    report.state = "sent"
    session.commit()
    assert due_reminders(session, DEADLINE) == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    class Collect:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.rcpt_tos, envelope.content))
            return "250 OK"

    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, handler
    controller.stop()


def test_reminder_emails_reach_a_real_smtp_server_once(session, smtp_server):
    controller, handler = smtp_server
    report, people = _setup(session)
    people["clerk"].mute_email = True
    report.state = "approved"  # the clerk's step: muted, so in-app only
    session.commit()
    assert send_reminders(session, DEADLINE) == 1  # the clerk: muted, in the app only
    session.commit()
    settings = SmtpSettings(host="127.0.0.1", port=controller.port, security="none",
                            mail_from="Hệ thống báo cáo <no-reply@example.gov.vn>")
    report.state = "draft"
    session.commit()
    after = _expected_days([1])[1]
    # late: the entry person and the leader, and the lead agency's summary of the late units
    assert send_reminders(session, after) == 3
    session.commit()
    first = send_outbox(session, settings)
    second = send_outbox(session, settings)
    assert first == {"sent": 3, "failed": 0} and second == {"sent": 0, "failed": 0}
    recipients = sorted(r for rcpts, _ in handler.messages for r in rcpts)
    assert recipients == sorted([people["entry"].email, people["leader"].email,
                                 people["reviewer"].email])
    assert people["clerk"].email not in recipients
    for rcpts, raw in handler.messages:
        message = email.message_from_bytes(raw, policy=policy.default)
        subject = str(message["Subject"])
        if rcpts == [people["reviewer"].email]:
            assert subject.startswith("Đơn vị chưa gửi báo cáo quá hạn: Báo cáo KTXH tháng")
            assert "UBND xã Một" in message.get_body(("plain",)).get_content()
            continue
        assert subject.startswith("Nhắc hạn báo cáo: Báo cáo KTXH tháng")
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert unicodedata.is_normalized("NFC", text) and unicodedata.is_normalized("NFC", subject)
        assert "chưa được gửi" in text and "Kính gửi" in html
        assert f"/entry/{report.id}" in text
    muted = session.scalars(select(Notification).where(
        Notification.user_id == people["clerk"].id)).one()
    assert muted.email_status == "muted" and muted.read_at is None


def test_a_refused_connection_is_retried_later_up_to_the_limit(session):
    report, people = _setup(session)
    send_reminders(session, DEADLINE)
    session.commit()
    settings = SmtpSettings(host="127.0.0.1", port=_free_port(), security="none",
                            max_attempts=2, timeout=2)
    now = dt.datetime(2027, 2, 15, 2, 0)
    assert send_outbox(session, settings, now)["failed"] == 1
    assert send_outbox(session, settings, now)["failed"] == 0  # waiting for the backoff
    assert send_outbox(session, settings, now + dt.timedelta(hours=1))["failed"] == 1
    assert send_outbox(session, settings, now + dt.timedelta(days=1))["failed"] == 0  # gave up
    row = session.scalars(select(Notification)).one()
    assert row.email_status == "failed" and row.email_attempts == 2 and row.email_last_error


def test_the_scheduler_jobs_record_reminders_once(session, app_ctx, monkeypatch):
    from app import scheduler

    _setup(session)
    monkeypatch.setattr(scheduler, "_APP", app_ctx)
    # 07:00 on the deadline day in Vietnam is 00:00 UTC
    monkeypatch.setattr(scheduler, "utcnow", lambda: dt.datetime(2027, 2, 15, 0, 0))
    scheduler.run_job("send_reminders")
    scheduler.run_job("send_reminders")
    scheduler.run_job("send_outbox")  # no SMTP_HOST configured: nothing sent, recorded
    from app.models import JobRun

    runs = session.scalars(select(JobRun).order_by(JobRun.id)).all()
    assert [r.outcome for r in runs] == ["success"] * 3
    assert runs[0].summary == "1 lời nhắc mới" and runs[1].summary == "0 lời nhắc mới"
    assert session.scalar(select(func.count(Notification.id))) == 1


def test_the_notifications_page_marks_read_and_mutes_email(client, session):
    from app.models import AppUser
    from tests import factories

    _setup(session)
    send_reminders(session, DEADLINE)
    session.commit()
    factories.login(client, "xa1.nhaplieu")
    assert client.get("/notifications/count").get_json() == {"unread": 1}
    page = client.get("/notifications/").get_data(as_text=True)
    assert "Nhắc hạn báo cáo" in page and "notification-bell-script" in page
    client.post("/notifications/read-all")
    assert client.get("/notifications/count").get_json() == {"unread": 0}
    client.post("/notifications/email", data={"mute": "1"})
    session.expire_all()
    assert session.scalars(select(AppUser).filter_by(username="xa1.nhaplieu")).one().mute_email


def test_rejection_return_and_acceptance_notify_the_unit_with_the_reason(session):
    from app.workflow import transition
    from tests.test_workflow import NOW

    report, people = cycle_setup(session)
    transition(session, report, "submit", people["entry"], now=NOW)
    transition(session, report, "reject", people["leader"], reason="Thiếu số liệu dòng 6", now=NOW)
    session.commit()
    note = session.scalars(select(Notification).where(Notification.kind == "reject")).one()
    assert note.user_id == people["entry"].id and "Thiếu số liệu dòng 6" in note.body
    for action, who in (("submit", "entry"), ("approve", "leader"), ("send", "clerk")):
        transition(session, report, action, people[who], now=NOW)
    transition(session, report, "return", people["reviewer"], reason="Sai đơn vị tính", now=NOW)
    session.commit()
    returned = session.scalars(select(Notification).where(Notification.kind == "return")).all()
    assert {n.user_id for n in returned} == {people["entry"].id, people["leader"].id}
    assert all("Sai đơn vị tính" in n.body for n in returned)
    for action, who in (("submit", "entry"), ("approve", "leader"), ("send", "clerk"),
                        ("accept", "reviewer")):
        transition(session, report, action, people[who], now=NOW)
    session.commit()
    accepted = session.scalars(select(Notification).where(Notification.kind == "accept")).all()
    assert {n.user_id for n in accepted} == {people["entry"].id, people["leader"].id,
                                             people["clerk"].id}
