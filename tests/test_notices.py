"""Notices beyond the reminders: the late-unit summary to the lead agency, reception opening and
closing at the window's edges, the lead agencies' daily digest, reception closed or reopened by
the lead agency, a new ad-hoc request, and an account created."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.assignment import change_reception, create_adhoc_request
from app.digest import digest_notices, reception_edge_notices, send_digests
from app.models import AppUser, Notification
from app.reminders import due_reminders
from app.workflow import transition
from tests import factories
from tests.test_workflow import NOW, cycle_setup

DEADLINE = dt.date(2026, 11, 25)  # a Wednesday


def _notes(session, kind):
    return session.scalars(select(Notification).where(Notification.kind == kind)
                           .order_by(Notification.id)).all()


def test_after_the_deadline_the_lead_agency_gets_one_summary_of_the_late_units(session):
    report, people = cycle_setup(session, deadline=DEADLINE)
    day_after = dt.date(2026, 11, 26)
    notices = due_reminders(session, day_after)
    summaries = [n for n in notices if n.kind == "late_summary"]
    assert [n.user_id for n in summaries] == [people["reviewer"].id]
    assert "UBND xã Một" in summaries[0].body and "1 đơn vị" in summaries[0].subject
    assert summaries[0].dedup_key == f"late:{report.period_id}:{people['reviewer'].unit_id}:1"
    # before the deadline: reminders to the unit, no summary
    assert not [n for n in due_reminders(session, DEADLINE) if n.kind == "late_summary"]
    # sent reports are not late
    report.state = "sent"
    session.commit()
    assert due_reminders(session, day_after) == []


def test_reception_opens_and_closes_at_the_window_edges(session):
    report, people = cycle_setup(session, accepts_late=False, deadline=DEADLINE)
    opening = report.period.cutoff_end  # reception_opens_days 0
    opens = reception_edge_notices(session, opening)
    assert {n.user_id for n in opens} == {people["entry"].id, people["leader"].id,
                                          people["clerk"].id}
    assert all(n.kind == "reception_opens" and "25/11/2026" in n.body for n in opens)
    assert reception_edge_notices(session, opening + dt.timedelta(days=1)) == []
    closes = reception_edge_notices(session, DEADLINE + dt.timedelta(days=1))
    assert {n.kind for n in closes} == {"reception_closes"}
    assert "không nhận báo cáo muộn" in closes[0].body
    # a regime that takes late reports does not close; a sent report is told nothing
    report.regime.accepts_late = True
    session.commit()
    assert reception_edge_notices(session, DEADLINE + dt.timedelta(days=1)) == []
    report.state = "sent"
    session.commit()
    assert reception_edge_notices(session, opening) == []


def test_the_daily_digest_goes_to_the_lead_agency_once_a_day(session):
    report, people = cycle_setup(session, deadline=DEADLINE)
    for action, who in (("submit", "entry"), ("approve", "leader"), ("send", "clerk")):
        transition(session, report, action, people[who], now=NOW)
    session.commit()
    sent_day = (NOW + dt.timedelta(hours=7)).date()
    notices = digest_notices(session, sent_day + dt.timedelta(days=1))
    assert [n.user_id for n in notices] == [people["reviewer"].id]
    assert "gửi hôm qua 1; chờ tiếp nhận 1; đã tiếp nhận 0; chưa gửi 0" in notices[0].body
    assert send_digests(session, sent_day + dt.timedelta(days=1)) == 1
    assert send_digests(session, sent_day + dt.timedelta(days=1)) == 0
    transition(session, report, "accept", people["reviewer"], now=NOW)
    session.commit()
    # everything accepted: nothing to say
    assert digest_notices(session, sent_day + dt.timedelta(days=2)) == []


def test_closing_and_reopening_reception_tell_the_units_that_have_not_sent(session):
    report, people = cycle_setup(session, deadline=DEADLINE)
    admin = factories.user(session, "stc.quantri", report.regime.lead_unit, ["Tổng hợp"])
    session.commit()
    change_reception(session, report.period, "close", "Chốt số liệu sớm để họp UBND tỉnh",
                     admin, now=NOW)
    session.commit()
    closed = _notes(session, "reception_close")
    assert {n.user_id for n in closed} == {people["entry"].id, people["leader"].id,
                                           people["clerk"].id}
    assert "Chốt số liệu sớm để họp UBND tỉnh" in closed[0].body
    change_reception(session, report.period, "reopen", "Xã bị mất điện", admin,
                     unit=report.unit, until=NOW + dt.timedelta(days=2), extends_deadline=True,
                     now=NOW + dt.timedelta(hours=1))
    session.commit()
    reopened = _notes(session, "reception_reopen")
    assert len(reopened) == 3 and "vẫn tính là đúng hạn" in reopened[0].body
    assert "10:00 22/11/2026" in reopened[0].body  # until, in Vietnam's time
    assert people["foreign_leader"].id not in {n.user_id for n in closed + reopened}


def test_a_new_adhoc_request_tells_the_units_asked(session):
    report, people = cycle_setup(session, deadline=DEADLINE)
    reviewer = people["reviewer"]
    report.regime.reporting_units.append(report.unit)
    session.commit()
    request, summary = create_adhoc_request(
        session, report.regime, "TEST-B01", "Báo cáo nhanh thiệt hại do bão", dt.date(2026, 11, 27),
        units=[report.unit], instructions="Gửi trước 16 giờ", actor=reviewer, now=NOW)
    session.commit()
    notes = _notes(session, "adhoc_request")
    assert {n.user_id for n in notes} == {people["entry"].id, people["leader"].id,
                                          people["clerk"].id}
    assert "Báo cáo nhanh thiệt hại do bão" in notes[0].subject
    assert "27/11/2026" in notes[0].body and "Gửi trước 16 giờ" in notes[0].body


def test_an_account_made_on_the_screen_is_welcomed_without_its_password(client, session):
    report, people = cycle_setup(session, deadline=DEADLINE)
    factories.user(session, "tinh.qtv", report.regime.receiving_unit, ["Quản trị cấp tỉnh"])
    session.commit()
    factories.login(client, "tinh.qtv")
    entry_role = people["entry"].roles[0]
    client.post("/users/add", data={
        "first_name": "Ba", "last_name": "Trần Văn", "username": "tvba",
        "email": "tvba@example.gov.vn", "unit": str(report.unit_id),
        "roles": [str(entry_role.id)], "active": "y",
        "password": "Mat-khau-2026", "conf_password": "Mat-khau-2026",
    }, follow_redirects=True)
    created = session.scalar(select(AppUser).where(AppUser.username == "tvba"))
    assert created is not None
    (note,) = _notes(session, "account_created")
    assert note.user_id == created.id and "«tvba»" in note.body
    assert "Mat-khau-2026" not in note.body and note.email_status == "pending"


def test_the_reminder_run_asks_the_database_the_same_number_of_times_for_many_late_units(
        session):
    """Reminders and the late-unit summary are read in a fixed number of queries: ten more
    late communes (one of them reviewed by its district, which has its own report) add
    notices, not queries."""
    from sqlalchemy import event

    from app.reports import get_or_create_report
    from app.roles import AGGREGATOR, DATA_ENTRY

    report, people = cycle_setup(session, deadline=DEADLINE)
    day_after = dt.date(2026, 11, 26)
    province = report.unit.parent

    def counted_run():
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", listener)
        try:
            notices = due_reminders(session, day_after)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return notices, len(statements)

    session.expire_all()
    few, few_queries = counted_run()
    district = factories.unit(session, "UBND huyện Ba", parent=province, type_code="district")
    factories.user(session, "huyen3.tonghop", district, [AGGREGATOR])
    get_or_create_report(session, report.period, district, report.form_code)
    for number in range(10):
        commune = factories.unit(session, f"UBND xã Mới {number}", type_code="commune",
                                 parent=district if number == 0 else province)
        factories.user(session, f"xamoi{number}.nhaplieu", commune, [DATA_ENTRY])
        get_or_create_report(session, report.period, commune, report.form_code)
    session.commit()
    session.expire_all()
    many, many_queries = counted_run()
    assert many_queries == few_queries
    reminders = [n for n in many if n.kind == "reminder"]
    assert len(reminders) > len([n for n in few if n.kind == "reminder"])
    summaries = {n.user_id: n for n in many if n.kind == "late_summary"}
    reviewer = people["reviewer"].id
    assert "(11 đơn vị)" in summaries[reviewer].subject  # the district's own report is late too
    district_reviewer = session.scalar(select(AppUser.id).where(
        AppUser.username == "huyen3.tonghop"))
    assert "UBND xã Mới 0" in summaries[district_reviewer].body
    assert "UBND xã Mới 0" not in summaries[reviewer].body
