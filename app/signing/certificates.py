"""Signing certificates and whom they belong to.

A certificate is registered to a person (their personal signature) or to a unit (the agency's
signature), by an admin, or on first use — then it waits for the unit admin to confirm it. A
leader's signature is accepted only with a certificate registered to the leader who approved the
report (or, on first use, one whose name is the leader's); the agency's only with one of the
sending unit."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata

from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from app.models.forms import utcnow
from app.models.signing import SigningCertificate


def _fold(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "").casefold().strip()


def _name_part(name: x509.Name, oid) -> str | None:
    found = name.get_attributes_for_oid(oid)
    return found[0].value if found else None


def describe(der: bytes) -> dict:
    """What a certificate says about itself, for registering and showing it."""
    cert = x509.load_der_x509_certificate(der)
    return {
        "sha256": hashlib.sha256(der).hexdigest(),
        "common_name": _name_part(cert.subject, NameOID.COMMON_NAME) or cert.subject.rfc4514_string(),
        "organization": _name_part(cert.subject, NameOID.ORGANIZATION_NAME),
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "X"),
        "not_before": cert.not_valid_before_utc.replace(tzinfo=None),
        "not_after": cert.not_valid_after_utc.replace(tzinfo=None),
    }


def registered(session, der: bytes) -> SigningCertificate | None:
    return session.scalars(select(SigningCertificate).where(
        SigningCertificate.sha256 == hashlib.sha256(der).hexdigest())).first()


def register(session, der: bytes, *, person=None, unit=None, by=None, confirmed: bool = False,
             now: dt.datetime | None = None) -> SigningCertificate:
    """Register a certificate to a person or a unit (exactly one). An admin's registration is
    confirmed at once; one made on first use waits for the unit admin."""
    if (person is None) == (unit is None):
        raise ValueError("a certificate belongs to a person or to a unit")
    now = now or utcnow()
    facts = describe(der)
    row = registered(session, der)
    if row is None:
        row = SigningCertificate(
            sha256=facts["sha256"], der=der, subject=facts["common_name"],
            issuer=facts["issuer"], serial=facts["serial"], not_before=facts["not_before"],
            not_after=facts["not_after"], registered_at=now,
        )
        session.add(row)
    row.person_id = person.id if person is not None else None
    row.unit_id = unit.id if unit is not None else None
    row.registered_by_id = by.id if by is not None else None
    row.confirmed = confirmed
    if confirmed:
        row.confirmed_by_id = by.id if by is not None else None
        row.confirmed_at = now
    session.flush()
    return row


def confirm(session, row: SigningCertificate, by, now: dt.datetime | None = None) -> None:
    row.confirmed = True
    row.confirmed_by_id = by.id if by is not None else None
    row.confirmed_at = now or utcnow()
    session.flush()


def stage_problems(session, der: bytes, *, stage: str, person, unit, user=None,
                   now: dt.datetime | None = None) -> list[str]:
    """Why ``der`` may not make the ``stage`` signature ("leader": of ``person``, the leader who
    approved; "agency": of ``unit``), in Vietnamese; empty when it may."""
    facts = describe(der)
    row = registered(session, der)
    name = facts["common_name"]
    if stage == "leader":
        leader_name = person.full_name if person is not None else "?"
        if row is not None:
            if row.person_id != getattr(person, "id", None):
                owner = (row.person.full_name if row.person is not None
                         else row.unit.name if row.unit is not None else "?")
                return [f"Chứng thư số «{name}» được đăng ký cho «{owner}», không phải cho lãnh "
                        f"đạo đã duyệt báo cáo ({leader_name})."]
            return []
        if _fold(name) != _fold(leader_name):
            return [f"Chứng thư số «{name}» chưa được đăng ký và không mang tên lãnh đạo đã "
                    f"duyệt báo cáo ({leader_name})."]
        return []
    if row is not None:
        if row.unit_id != unit.id:
            return [f"Chứng thư số «{name}» không phải chứng thư số của đơn vị gửi báo cáo "
                    f"({unit.name})."]
        return []
    if _fold(unit.name) not in (_fold(name), _fold(facts["organization"])):
        return [f"Chứng thư số «{name}» chưa được đăng ký và không mang tên đơn vị gửi báo cáo "
                f"({unit.name})."]
    return []


def for_stage(session, der: bytes, *, stage: str, person, unit, user,
              now: dt.datetime | None = None) -> SigningCertificate:
    """The registration of a certificate allowed for the stage, registering it on first use
    (waiting for the unit admin's confirmation). Raises SigningRefused otherwise."""
    from app.signing.engine import SigningRefused

    problems = stage_problems(session, der, stage=stage, person=person, unit=unit, user=user,
                              now=now)
    if problems:
        raise SigningRefused(" ".join(problems))
    row = registered(session, der)
    if row is None:
        row = register(session, der, person=person if stage == "leader" else None,
                       unit=None if stage == "leader" else unit, by=user, confirmed=False, now=now)
    return row


def unconfirmed_for(session, ids) -> list[SigningCertificate]:
    ids = [i for i in ids if i is not None]
    if not ids:
        return []
    return list(session.scalars(select(SigningCertificate).where(
        SigningCertificate.id.in_(ids), SigningCertificate.confirmed.is_(False))).all())
