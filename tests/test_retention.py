"""Retention: reports and their records are never deleted by the application, a unit or regime with
reports is deactivated instead and stays readable, and a year's archive holds every report's
sent values, signed PDFs and evidence with an index and checksums."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import zipfile

import pytest
from sqlalchemy import delete, select

from app.backfill import backfill_send, record_outage
from app.models import Regime, Report, ReportEvent, ReportVersion, Unit
from app.retention import RetentionRefused, write_year_archive
from app.roles import DATA_ENTRY, PROVINCIAL_ADMIN, SIGNER
from app.workflow import transition
from tests import factories
from tests.test_workflow import NOW, cycle_setup


def _sent(session):
    report, people = cycle_setup(session)
    for action, who in (("submit", "entry"), ("approve", "leader"), ("send", "clerk")):
        transition(session, report, action, people[who], now=NOW)
    session.commit()
    return report, people


def test_reports_and_their_records_are_never_deleted(session):
    report, people = _sent(session)
    for row in (report, session.scalars(select(ReportEvent)).first(),
                session.scalars(select(ReportVersion)).first()):
        session.delete(row)
        with pytest.raises(RetentionRefused, match="không xóa"):
            session.flush()
        session.rollback()
    with pytest.raises(RetentionRefused):
        session.execute(delete(Report).where(Report.id == report.id))
    session.rollback()
    for row in (report.unit, report.regime):
        session.delete(row)
        with pytest.raises(RetentionRefused, match="ngừng hoạt động"):
            session.flush()
        session.rollback()
    assert session.get(Report, report.id) is not None
    # a unit without reports may still be deleted
    spare = factories.unit(session, "Tổ công tác tạm", parent=report.unit.parent)
    session.commit()
    session.delete(spare)
    session.commit()
    assert session.get(Unit, spare.id) is None


def test_a_deactivated_unit_and_regime_keep_their_reports_readable(client, session):
    report, people = _sent(session)
    factories.user(session, "tinh.qtv", report.regime.receiving_unit, [PROVINCIAL_ADMIN])
    report.unit.active = False
    session.get(Regime, report.regime_id).active = False
    session.commit()
    factories.login(client, "tinh.qtv")
    page = client.get(f"/entry/{report.id}")
    assert page.status_code == 200 and "UBND xã Một" in page.get_data(as_text=True)
    refused = client.post(f"/unitview/delete/{report.unit_id}", follow_redirects=True)
    assert "ngừng hoạt động" in refused.get_data(as_text=True)
    assert session.get(Unit, report.unit_id) is not None


def test_the_archive_of_a_year_holds_every_sending_with_an_index(session):
    report, people = _sent(session)
    other, _ = _other_backfilled(session, report, people)
    out = io.BytesIO()
    counts = write_year_archive(session, 2026, out)
    assert counts == {"reports": 2, "versions": 2, "signed_pdfs": 0, "evidence": 1}
    archive = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    manifest = json.loads(archive.read("manifest.json"))
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    index = archive.read("index.csv").decode("utf-8")
    assert index.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(index[1:])))
    assert {row["unit_name"] for row in rows} == {"UBND xã Một", "UBND xã Hai"}
    first = next(row for row in rows if row["unit_name"] == "UBND xã Một")
    version = session.scalars(select(ReportVersion).where(
        ReportVersion.report_id == report.id)).one()
    values_file = first["files"].split()[0]
    assert hashlib.sha256(archive.read(values_file)).hexdigest() == version.values_hash
    assert first["values_sha256"] == version.values_hash
    backfilled = next(row for row in rows if row["unit_name"] == "UBND xã Hai")
    assert backfilled["backfilled_document"] == "9/BC" and "evidence-scan.pdf" in \
        backfilled["files"]
    assert write_year_archive(session, 2025, io.BytesIO())["reports"] == 0


def _other_backfilled(session, report, people):
    from app.reports import get_or_create_report, save_values

    other_unit = people["foreign_leader"].unit
    other = get_or_create_report(session, report.period, other_unit, report.form_code)
    save_values(session, other, {"r5|c3": "2"})
    entry = factories.user(session, "xa2.nhaplieu", other_unit, [DATA_ENTRY])
    clerk = factories.user(session, "xa2.vanthu", other_unit, [SIGNER])
    admin = factories.user(session, "tinh.qtv2", report.regime.receiving_unit, [PROVINCIAL_ADMIN])
    session.commit()
    transition(session, other, "submit", entry, now=NOW)
    transition(session, other, "approve", people["foreign_leader"], now=NOW)
    down = NOW + dt.timedelta(hours=1)
    record_outage(session, down, down + dt.timedelta(hours=2), "Mất điện", admin,
                  now=NOW + dt.timedelta(days=1))
    backfill_send(session, other, clerk, down + dt.timedelta(minutes=10), "9/BC",
                  ("scan.pdf", b"%PDF scan"), now=NOW + dt.timedelta(days=1))
    session.commit()
    return other, clerk
