"""Access records (seed 004 Art. 5.2): downloads of reports, exports, signed PDFs and API reads are
recorded with the person, the unit and the address, and searchable by an admin within scope."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from app.access_log import classify
from app.models import AccessRecord
from app.roles import AGGREGATOR, PROVINCIAL_ADMIN, UNIT_ADMIN
from tests import factories
from tests.test_exports import _world
from tests.test_workflow import cycle_setup


def _records(session, action=None):
    session.expire_all()
    query = select(AccessRecord).order_by(AccessRecord.id)
    if action:
        query = query.where(AccessRecord.action == action)
    return session.scalars(query).all()


def test_what_counts_as_taking_data_away():
    assert classify("ReportEntryView.pdf", "/entry/3/pdf", "GET", "application/pdf",
                    None) == "download"
    assert classify("StatusBoardView.export_csv", "/status/export.csv", "GET", "text/csv",
                    "attachment; filename=x.csv") == "export"
    assert classify("ReportSigningView.signed", "/signing/report/3/pdf/2", "GET",
                    "application/pdf", None) == "signed_pdf"
    assert classify("FiguresApi.get", "/api/v1/figures/", "GET", "application/json",
                    None) == "api_read"
    assert classify("ReportEntryView.show", "/entry/3", "GET", "text/html", None) is None
    assert classify("ReportEntryView.save", "/entry/3/save", "POST", "application/json",
                    None) is None


def test_downloads_and_exports_are_recorded_and_seen_within_scope(client, session):
    report, people = cycle_setup(session)
    factories.user(session, "xa1.qtv", report.unit, [UNIT_ADMIN])
    factories.user(session, "xa2.qtv", people["foreign_leader"].unit, [UNIT_ADMIN])
    factories.user(session, "tinh.qtv", report.regime.receiving_unit, [PROVINCIAL_ADMIN])
    session.commit()
    factories.login(client, "xa1.nhaplieu")
    assert client.get(f"/entry/{report.id}/pdf").status_code == 200
    assert client.get(f"/entry/{report.id}").status_code == 200  # a page: not recorded
    (download,) = _records(session, "download")
    assert (download.action, download.user_id, download.unit_id, download.target) == (
        "download", people["entry"].id, report.unit_id, f"/entry/{report.id}/pdf")
    assert download.address == "127.0.0.1" and download.status == 200
    client.get("/logout/")
    factories.login(client, "stc.tonghop")
    exported = client.get("/status/export.csv")
    assert exported.status_code == 200
    assert [r.action for r in _records(session, "export")] == ["export"]
    client.get("/logout/")
    factories.login(client, "xa1.qtv")
    own = client.get("/accessrecordview/list/").get_data(as_text=True)
    assert f"/entry/{report.id}/pdf" in own and "/status/export.csv" not in own
    client.get("/logout/")
    factories.login(client, "xa2.qtv")
    other = client.get("/accessrecordview/list/").get_data(as_text=True)
    assert f"/entry/{report.id}/pdf" not in other
    client.get("/logout/")
    factories.login(client, "tinh.qtv")
    every = client.get("/accessrecordview/list/").get_data(as_text=True)
    assert f"/entry/{report.id}/pdf" in every and "/status/export.csv" in every


def test_api_reads_are_recorded_with_the_key_account(app_ctx, session):
    world, units = _world(session)
    lead = factories.user(session, "khdt.tonghop", world.lead, [AGGREGATOR], password_hash="-")
    world.province.admin_code = "82"
    session.commit()
    issued = current_app.appbuilder.sm.create_api_key(lead, "IOC tỉnh", scopes="read")
    client = app_ctx.test_client()
    query = f"/api/v1/figures/?regime={world.regime.code}&period={world.period.id}&unit=82"
    assert client.get(query, headers={"Authorization": f"Bearer {issued['key']}"}
                      ).status_code == 200
    assert client.get(query, headers={"Authorization": "Bearer sst_wrong"}).status_code == 401
    (read,) = _records(session, "api_read")
    assert read.user_id == lead.id and read.target.startswith("/api/v1/figures/?regime=")


def test_log_ins_are_recorded_with_their_address_and_outcome(client, session):
    report, people = cycle_setup(session)
    factories.login(client, "xa1.nhaplieu", password="sai-mat-khau")
    factories.login(client, "khong.ton.tai", password="sai-mat-khau")
    factories.login(client, "xa1.nhaplieu")
    records = _records(session)
    assert [(r.action, r.username) for r in records] == [
        ("login_failed", "xa1.nhaplieu"), ("login_failed", "khong.ton.tai"),
        ("login", "xa1.nhaplieu")]
    # a failure on an existing account belongs to its unit (its admin sees it); the unknown
    # name to nobody's but the province's
    assert [r.unit_id for r in records] == [report.unit_id, None, report.unit_id]
    assert records[2].user_id == people["entry"].id
    assert all(r.address == "127.0.0.1" for r in records)
