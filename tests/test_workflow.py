"""The reporting cycle's state machine (app/workflow.py), called without a request."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.models import Period, Regime, ReportComment, ReportEvent, ReportVersion
from app.reports import get_or_create_report, load_values, publish_form_version, save_values
from app.roles import AGGREGATOR, APPROVER, DATA_ENTRY, SIGNER
from app.workflow import (
    TransitionConflict,
    TransitionRefused,
    available_actions,
    canonical_values,
    day_end_utc,
    reception,
    thread,
    transition,
    version_values,
)
from tests import factories
from tests.spec_fixtures import small_spec

# 20/11/2026 10:00 in Vietnam: inside the window of "Tháng 11/2026" (cutoff end 14/11,
# deadline 19/11 would make it late, so the deadline below is 25/11)
NOW = dt.datetime(2026, 11, 20, 3, 0)


def cycle_setup(session, *, accepts_late=True, deadline=dt.date(2026, 11, 25)):
    province = factories.unit(session, "UBND tỉnh", type_code="province_committee")
    lead = factories.unit(session, "Sở Tài chính", parent=province)
    commune = factories.unit(session, "UBND xã Một", parent=province, type_code="commune")
    other = factories.unit(session, "UBND xã Hai", parent=province, type_code="commune")
    regime = Regime(code="KTXH", name="Báo cáo KTXH tháng", owner_unit=lead, lead_unit=lead,
                    receiving_unit=province, accepts_late=accepts_late)
    period = Period(regime=regime, frequency="month", year=2026, number=11, label="Tháng 11/2026",
                    cutoff_start=dt.date(2026, 10, 15), cutoff_end=dt.date(2026, 11, 14),
                    deadline=deadline)
    session.add_all([regime, period])
    publish_form_version(session, small_spec(with_formula=True), regime=regime)
    report = get_or_create_report(session, period, commune, "TEST-B01")
    people = {
        "entry": factories.user(session, "xa1.nhaplieu", commune, [DATA_ENTRY]),
        "leader": factories.user(session, "xa1.lanhdao", commune, [APPROVER]),
        "clerk": factories.user(session, "xa1.vanthu", commune, [SIGNER]),
        "reviewer": factories.user(session, "stc.tonghop", lead, [AGGREGATOR]),
        "foreign_leader": factories.user(session, "xa2.lanhdao", other, [APPROVER]),
        "foreign_reviewer": factories.user(session, "xa2.tonghop", other, [AGGREGATOR]),
    }
    save_values(session, report, {"r5|c3": "1"})  # the one required cell
    session.commit()
    return report, people


def events_of(session, report):
    return session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id)
    ).all()


def test_one_report_through_every_transition_with_a_rejection_and_a_return(session):
    report, people = cycle_setup(session)
    save_values(session, report, {"r5|c3": "100", "r5|c4": "23"})
    session.commit()

    transition(session, report, "submit", people["entry"], now=NOW)
    transition(session, report, "reject", people["leader"], reason="Thiếu số liệu dòng 6", now=NOW)
    assert report.state == "draft"
    save_values(session, report, {"r6|c3": "7"})
    transition(session, report, "submit", people["entry"], now=NOW)
    transition(session, report, "approve", people["leader"], now=NOW)
    sent = transition(session, report, "send", people["clerk"], now=NOW)
    assert report.state == "sent" and report.sent_at == NOW and report.sent_late is False
    session.commit()
    with pytest.raises(Exception, match="khóa"):
        save_values(session, report, {"r5|c3": "1"})  # values freeze when sent
    session.rollback()

    transition(session, report, "return", people["reviewer"], reason="Tổng chưa khớp",
               cell_comments={"r5|c3": "Kiểm tra lại số này"}, now=NOW)
    assert report.state == "returned"
    save_values(session, report, {"r5|c3": "110"})
    transition(session, report, "submit", people["entry"], now=NOW)
    transition(session, report, "approve", people["leader"], now=NOW)
    transition(session, report, "send", people["clerk"], now=NOW)
    transition(session, report, "accept", people["reviewer"], now=NOW)
    session.commit()

    assert report.state == "accepted" and report.accepted_at == NOW
    actions = [(e.action, e.from_state, e.to_state) for e in events_of(session, report)]
    assert actions == [
        ("submit", "draft", "submitted"), ("reject", "submitted", "draft"),
        ("submit", "draft", "submitted"), ("approve", "submitted", "approved"),
        ("send", "approved", "sent"), ("return", "sent", "returned"),
        ("submit", "returned", "submitted"), ("approve", "submitted", "approved"),
        ("send", "approved", "sent"), ("accept", "sent", "accepted"),
    ]
    # the first sent version stays readable, with the values as they were sent
    versions = session.scalars(select(ReportVersion).where(ReportVersion.report_id == report.id)
                               .order_by(ReportVersion.number)).all()
    assert [(v.number, v.outcome) for v in versions] == [(1, "returned"), (2, "accepted")]
    assert version_values(versions[0])["r5|c3"] == "100"
    assert version_values(versions[1])["r5|c3"] == "110"
    assert version_values(versions[1])["r5|c5"] == "133"  # computed cells are in the version
    assert sent.version_id == versions[0].id and sent.values_hash == versions[0].values_hash
    # every event carries the hash of the values at that moment
    assert events_of(session, report)[-1].values_hash == canonical_values(session, report)[1]
    # reasons and the cell comment are in the thread
    bodies = [(c.cell_key, c.body) for c in thread(session, report)]
    assert (None, "Thiếu số liệu dòng 6") in bodies and ("r5|c3", "Kiểm tra lại số này") in bodies


def test_a_correction_after_acceptance_keeps_the_accepted_version(session):
    report, people = cycle_setup(session)
    save_values(session, report, {"r5|c3": "100"})
    for action, who in (("submit", "entry"), ("approve", "leader"), ("send", "clerk"),
                        ("accept", "reviewer")):
        transition(session, report, action, people[who], now=NOW)
    transition(session, report, "request_correction", people["leader"],
               reason="Số dòng 5 nhập nhầm", now=NOW)
    assert report.state == "accepted"
    transition(session, report, "reopen", people["reviewer"], reason="Đơn vị đề nghị", now=NOW)
    assert report.state == "returned" and report.revised is True
    save_values(session, report, {"r5|c3": "90"})
    for action, who in (("submit", "entry"), ("approve", "leader"), ("send", "clerk"),
                        ("accept", "reviewer")):
        transition(session, report, action, people[who], now=NOW)
    session.commit()
    versions = session.scalars(select(ReportVersion).where(ReportVersion.report_id == report.id)
                               .order_by(ReportVersion.number)).all()
    assert [v.outcome for v in versions] == ["superseded", "accepted"]
    assert json.loads(versions[0].values_json)["r5|c3"] == "100"
    assert load_values(session, report)["r5|c3"] == Decimal("90")


@pytest.mark.parametrize(
    ("action", "who", "state", "message"),
    [
        ("approve", "entry", "submitted", "cần vai trò «Lãnh đạo duyệt»"),
        ("approve", "foreign_leader", "submitted", "Chỉ người của đơn vị báo cáo"),
        ("send", "leader", "approved", "cần vai trò «Ký số, gửi báo cáo»"),
        ("accept", "foreign_reviewer", "sent", "Chỉ cơ quan tiếp nhận"),
        ("accept", "reviewer", "draft", "đang ở trạng thái «đang nhập»"),
        ("submit", "entry", "sent", "đang ở trạng thái «đã gửi, chờ tiếp nhận»"),
    ],
)
def test_a_refused_transition_says_why_and_writes_nothing(session, action, who, state, message):
    report, people = cycle_setup(session)
    report.state = state
    session.commit()
    with pytest.raises(TransitionRefused, match=message):
        transition(session, report, action, people[who], reason="x", now=NOW)
    session.rollback()
    assert events_of(session, report) == []


def test_a_reason_is_required_to_reject_or_return(session):
    report, people = cycle_setup(session)
    transition(session, report, "submit", people["entry"], now=NOW)
    with pytest.raises(TransitionRefused, match="Cần ghi lý do"):
        transition(session, report, "reject", people["leader"], reason="  ", now=NOW)


def test_submitting_with_errors_is_refused_with_the_first_cell(session):
    report, people = cycle_setup(session)
    save_values(session, report, {"r5|c3": "khoảng 12"})
    session.commit()
    with pytest.raises(TransitionRefused, match="dòng 5"):
        transition(session, report, "submit", people["entry"], now=NOW)


def test_a_stale_revision_is_refused_instead_of_acting_on_unseen_values(session):
    report, people = cycle_setup(session)
    seen = report.revision
    save_values(session, report, {"r5|c3": "5"})  # someone saves meanwhile
    session.commit()
    with pytest.raises(TransitionConflict, match="tải lại"):
        transition(session, report, "submit", people["entry"], expected_revision=seen, now=NOW)


def test_the_deadline_day_ends_at_midnight_in_vietnam(session):
    report, _ = cycle_setup(session, deadline=dt.date(2026, 11, 19))
    on_time = dt.datetime(2026, 11, 19, 23, 30) - dt.timedelta(hours=7)
    late = dt.datetime(2026, 11, 20, 0, 10) - dt.timedelta(hours=7)
    assert day_end_utc(dt.date(2026, 11, 19)) == dt.datetime(2026, 11, 19, 17, 0)
    assert reception(session, report, on_time).late is False
    assert reception(session, report, late).late is True
    assert reception(session, report, late).open is True  # late is accepted and marked


def test_sending_before_the_window_or_late_when_refused_is_blocked(session):
    report, people = cycle_setup(session, accepts_late=False, deadline=dt.date(2026, 11, 19))
    for action, who in (("submit", "entry"), ("approve", "leader")):
        transition(session, report, action, people[who], now=NOW)
    too_early = dt.datetime(2026, 11, 10, 3, 0)
    with pytest.raises(TransitionRefused, match="Chưa đến thời gian gửi"):
        transition(session, report, "send", people["clerk"], now=too_early)
    with pytest.raises(TransitionRefused, match="không nhận báo cáo muộn"):
        transition(session, report, "send", people["clerk"], now=NOW)


def test_the_buttons_offered_are_the_transitions_allowed(session):
    report, people = cycle_setup(session)
    assert [t.action for t in available_actions(session, people["entry"], report, NOW)] == ["submit"]
    assert available_actions(session, people["leader"], report, NOW) == []
    transition(session, report, "submit", people["entry"], now=NOW)
    assert {t.action for t in available_actions(session, people["leader"], report, NOW)} == {
        "approve", "reject"}


def test_reasons_are_kept_as_comments_of_the_event(session):
    report, people = cycle_setup(session)
    transition(session, report, "submit", people["entry"], now=NOW)
    event = transition(session, report, "reject", people["leader"], reason="Sai đơn vị tính", now=NOW)
    session.commit()
    comment = session.scalars(select(ReportComment).where(ReportComment.event_id == event.id)).one()
    assert comment.body == "Sai đơn vị tính" and comment.author_id == people["leader"].id
