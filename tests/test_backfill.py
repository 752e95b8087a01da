"""Outage backfill (seed 001 Art. 11.2): a report sent by other means while the system was down is
entered afterwards with its real sending time and evidence, counted on time if it was."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import func, select

from app.backfill import backfill_send, record_outage
from app.errors import DomainError, PermissionDenied
from app.models import BackfilledSending, ReportEvent, ReportVersion
from app.roles import PROVINCIAL_ADMIN
from app.workflow import transition
from tests import factories
from tests.test_workflow import NOW, cycle_setup

SCAN = b"%PDF-1.4 scan of the signed paper report"


def _approved(session, **kwargs):
    report, people = cycle_setup(session, **kwargs)
    people["admin"] = factories.user(session, "tinh.qtv", report.regime.receiving_unit,
                                     [PROVINCIAL_ADMIN])
    for action, who in (("submit", "entry"), ("approve", "leader")):
        transition(session, report, action, people[who], now=NOW)
    session.commit()
    return report, people


def test_a_report_sent_on_paper_during_an_outage_counts_on_time(session):
    report, people = _approved(session)  # deadline 25/11/2026
    down_from, down_to = NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=2)
    outage = record_outage(session, down_from, down_to, "Mất kết nối trung tâm dữ liệu",
                           people["admin"], now=NOW + dt.timedelta(days=3))
    session.commit()
    sent_at = down_from + dt.timedelta(hours=5)
    entered = NOW + dt.timedelta(days=8)  # after the deadline
    record = backfill_send(session, report, people["clerk"], sent_at, "125/BC-UBND",
                           ("ban-quet.pdf", SCAN), now=entered)
    session.commit()
    assert report.state == "sent" and report.sent_at == sent_at and report.sent_late is False
    version = session.get(ReportVersion, record.version_id)
    assert version.sent_at == sent_at and version.late is False
    assert record.outage_id == outage.id and record.entered_at == entered
    assert record.evidence_sha256 == hashlib.sha256(SCAN).hexdigest()
    event = session.scalars(select(ReportEvent).where(ReportEvent.action == "send")).one()
    assert event.at == sent_at and "Nhập bù" in event.reason and "125/BC-UBND" in event.reason


def test_a_backfill_after_the_deadline_is_late_and_refusals_write_nothing(session):
    report, people = _approved(session)
    down_from = dt.datetime(2026, 11, 26, 2, 0)  # the day after the deadline (Vietnam 09:00)
    record_outage(session, down_from, down_from + dt.timedelta(hours=6), "Nâng cấp hỏng",
                  people["admin"], now=dt.datetime(2026, 11, 27))
    session.commit()
    later = dt.datetime(2026, 11, 28)
    with pytest.raises(DomainError, match="không có gián đoạn nào"):
        backfill_send(session, report, people["clerk"], down_from - dt.timedelta(hours=1),
                      "1/BC", ("scan.pdf", SCAN), now=later)
    with pytest.raises(DomainError, match="số, ký hiệu"):
        backfill_send(session, report, people["clerk"], down_from, " ", ("scan.pdf", SCAN),
                      now=later)
    with pytest.raises(DomainError, match="không phải PDF hoặc ảnh"):
        backfill_send(session, report, people["clerk"], down_from, "1/BC", ("scan.exe", SCAN),
                      now=later)
    with pytest.raises(DomainError):  # the entry person may not send
        backfill_send(session, report, people["entry"], down_from + dt.timedelta(hours=1),
                      "1/BC", ("scan.pdf", SCAN), now=later)
    session.rollback()
    assert report.state == "approved"
    assert session.scalar(select(func.count(BackfilledSending.id))) == 0
    backfill_send(session, report, people["clerk"], down_from + dt.timedelta(hours=1), "1/BC",
                  ("scan.png", SCAN), now=later)
    session.commit()
    assert report.state == "sent" and report.sent_late is True


def test_only_the_provincial_admin_records_a_finished_outage(session):
    report, people = _approved(session)
    with pytest.raises(PermissionDenied):
        record_outage(session, NOW, NOW + dt.timedelta(hours=1), "Mất điện", people["clerk"],
                      now=NOW + dt.timedelta(days=1))
    with pytest.raises(DomainError, match="đã kết thúc"):
        record_outage(session, NOW, NOW + dt.timedelta(hours=1), "Mất điện", people["admin"],
                      now=NOW)
    with pytest.raises(DomainError, match="nguyên nhân"):
        record_outage(session, NOW, NOW + dt.timedelta(hours=1), "", people["admin"],
                      now=NOW + dt.timedelta(days=1))


def test_the_report_page_offers_the_backfill_and_marks_the_sending(client, session):
    import io

    report, people = _approved(session)
    down_from = NOW + dt.timedelta(days=1)
    record_outage(session, down_from, down_from + dt.timedelta(hours=4), "Mất điện",
                  people["admin"], now=NOW + dt.timedelta(days=2))
    session.commit()
    factories.login(client, "xa1.vanthu")
    page = client.get(f"/entry/{report.id}").get_data(as_text=True)
    assert f"/backfill/report/{report.id}" in page
    local = down_from + dt.timedelta(hours=7, minutes=30)  # Vietnam's time of the sending
    form = {"sent_date": local.strftime("%Y-%m-%d"), "sent_time": local.strftime("%H:%M"),
            "document_number": "77/BC-UBND"}
    refused = client.post(f"/backfill/report/{report.id}",
                          data=form | {"evidence": (io.BytesIO(SCAN), "scan.docx")},
                          content_type="multipart/form-data", follow_redirects=True)
    assert "không phải PDF hoặc ảnh" in refused.get_data(as_text=True)
    client.post(f"/backfill/report/{report.id}",
                data=form | {"evidence": (io.BytesIO(SCAN), "scan.pdf")},
                content_type="multipart/form-data", follow_redirects=True)
    session.expire_all()
    record = session.scalars(select(BackfilledSending)).one()
    assert record.sent_at == down_from + dt.timedelta(minutes=30)
    page = client.get(f"/entry/{report.id}").get_data(as_text=True)
    assert "version-backfilled" in page and "77/BC-UBND" in page
    scan = client.get(f"/backfill/evidence/{record.id}")
    assert scan.status_code == 200 and scan.data == SCAN
