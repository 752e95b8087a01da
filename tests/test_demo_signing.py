"""The demo's digital signatures (app/demo_signing.py): a trusted test CA, certificates of the
showcase communes' leaders and units registered and confirmed, their images, and stand-in keys in
the instance folder that sign a demo report end to end."""

from __future__ import annotations

import random

from sqlalchemy import select

import config
from app.demo import DEMO_PASSWORD, KTXH_FORM_CODE, MONTHLY_REGIME, _demo_values, load_demo
from app.demo_signing import key_folder
from app.models import AppUser, Period, Regime, Report, TrustAnchor, Unit
from app.models.signing import SigningCertificate, StampImage
from app.reports import save_values
from app.signing import engine
from app.signing.standin import sign_digest, sign_pdf
from app.workflow import transition


def test_the_demo_signs_a_showcase_report_with_its_stand_in_keys(session, tmp_path,
                                                                monkeypatch):
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    result = load_demo(session)
    session.commit()
    assert result.signing_units == 2
    keys = key_folder(tmp_path)
    assert {p.name for p in keys.glob("*.p12")} >= {
        "ca.p12", "phuong28261.lanhdao.p12", "28261.p12", "xa28321.lanhdao.p12", "28321.p12"}
    assert session.scalar(select(Regime).where(Regime.code == MONTHLY_REGIME)).requires_signature
    assert session.scalars(select(TrustAnchor)).first() is not None
    leader = session.scalar(select(AppUser).where(AppUser.username == "phuong28261.lanhdao"))
    unit = session.scalar(select(Unit).where(Unit.admin_code == "28261"))
    assert session.scalar(select(SigningCertificate).where(
        SigningCertificate.person_id == leader.id)).confirmed
    assert session.scalar(select(StampImage).where(StampImage.unit_id == unit.id)) is not None

    # loading again makes nothing twice
    again = load_demo(session)
    session.commit()
    assert again.signing_units == 2
    assert len(session.scalars(select(SigningCertificate)).all()) == 4

    # the draft of the period the demo walked: its reception is open whatever today's date
    # (this month's opens only when its cutoff ends, on the 14th)
    report = session.scalars(select(Report).join(Period, Period.id == Report.period_id).where(
        Report.unit_id == unit.id, Report.form_code == KTXH_FORM_CODE,
        Report.state == "draft").order_by(Period.cutoff_end)).first()
    people = {u.username.split(".")[1]: u for u in session.scalars(
        select(AppUser).where(AppUser.username.like("phuong28261.%")))}
    save_values(session, report, _demo_values(random.Random(1), report.period.number),
                user=people["nhaplieu"])
    transition(session, report, "submit", people["nhaplieu"])
    transition(session, report, "approve", people["lanhdao"])
    session.commit()

    row = engine.current_issue(session, report, engine.LEADER, leader)
    request = engine.prepare(session, row, _der(keys / "phuong28261.lanhdao.pem"), leader)
    value = sign_digest((keys / "phuong28261.lanhdao.p12").read_bytes(), DEMO_PASSWORD,
                        request.data_to_sign)
    engine.finish(session, row, value, leader)
    clerk = people["vanthu"]
    row = engine.current_issue(session, report, engine.AGENCY, clerk)
    signed = sign_pdf((keys / "28261.p12").read_bytes(), DEMO_PASSWORD, row.issued_pdf,
                      engine.FIELD_NAMES[engine.AGENCY])
    checks = engine.accept_upload(session, row, signed, clerk)
    assert [c.ok for c in checks] == [True, True]
    transition(session, report, "send", clerk)
    session.commit()
    assert report.state == "sent"


def _der(pem_path) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(pem_path.read_bytes()).public_bytes(Encoding.DER)
