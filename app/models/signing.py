"""Digital signatures of reports: the roots of trust the province accepts, the certificates
registered to people and units, the images their visible signatures show, and each signature
stage of a report (the leader's personal signature, then the agency's).

A signed PDF is stored byte for byte as it was signed, with its SHA-256; nothing rewrites it.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.forms import utcnow


class TrustAnchor(Model):
    """A root certificate the province trusts for signatures, or a revocation list (CRL) of one
    of its authorities, uploaded by the provincial admin (government networks are closed: the
    server does not fetch them)."""

    __tablename__ = "trust_anchor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), nullable=False, default="root")  # root | crl
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    der: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    subject: Mapped[str | None] = mapped_column(String(500))
    valid_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    uploaded_by = relationship("AppUser", foreign_keys=[uploaded_by_id])

    def __repr__(self) -> str:
        return self.name


class SigningCertificate(Model):
    """A signing certificate registered to a person (personal signature) or to a unit (the
    agency's signature). Registered by an admin (confirmed at once) or on first use (waiting
    for the unit admin to confirm)."""

    __tablename__ = "signing_certificate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    der: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, deferred=True)
    subject: Mapped[str] = mapped_column(String(500), nullable=False)
    issuer: Mapped[str] = mapped_column(String(500), nullable=False)
    serial: Mapped[str] = mapped_column(String(80), nullable=False)
    not_before: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    not_after: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    confirmed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    person = relationship("AppUser", foreign_keys=[person_id])
    unit = relationship("Unit", foreign_keys=[unit_id])
    registered_by = relationship("AppUser", foreign_keys=[registered_by_id])
    confirmed_by = relationship("AppUser", foreign_keys=[confirmed_by_id])

    def __repr__(self) -> str:
        return self.subject


class StampImage(Model):
    """The image a visible signature shows: a person's handwritten signature, or a unit's red
    seal (PNG with a transparent background, Decree 30/2020 Appendix I)."""

    __tablename__ = "stamp_image"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), unique=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), unique=True)
    png: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, deferred=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    person = relationship("AppUser", foreign_keys=[person_id])
    unit = relationship("Unit", foreign_keys=[unit_id])


class ReportSignature(Model):
    """One signature stage of a report after one approval: ``leader`` (the approving leader's
    personal signature), ``agency`` (the agency's, added by the clerk), or ``attachment`` (the
    agency's signature on one of the report's PDF attachments).

    ``issued_pdf`` is the document this stage signs (the rendered report with its empty
    signature fields, or the leader-signed PDF); a PDF signed elsewhere is accepted only if it
    begins with exactly these bytes. While a digest is out with the signer, ``prepared_pdf``
    and the byte range and signed attributes keep pyHanko's interrupted signing state;
    ``signed_pdf`` is the result, stored unchanged."""

    __tablename__ = "report_signature"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"), nullable=False, index=True)
    approve_event_id: Mapped[int] = mapped_column(ForeignKey("report_event.id"), nullable=False)
    stage: Mapped[str] = mapped_column(String(10), nullable=False)  # leader | agency | attachment
    # stage "attachment": the agency's signature on a PDF attached to the report
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("report_attachment.id"))
    # issued → prepared (a digest is out) → signed; superseded when started again
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="issued")
    values_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    issued_pdf: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, deferred=True)
    issued_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    prepared_pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    reserved_start: Mapped[int | None] = mapped_column(Integer)
    reserved_end: Mapped[int | None] = mapped_column(Integer)
    document_digest: Mapped[bytes | None] = mapped_column(LargeBinary)
    signed_attrs: Mapped[bytes | None] = mapped_column(LargeBinary)
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("signing_certificate.id"))
    method: Mapped[str | None] = mapped_column(String(10))  # digest | upload | pkcs11 | pkcs12
    signed_pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    signed_sha256: Mapped[str | None] = mapped_column(String(64))
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    verification: Mapped[str | None] = mapped_column(Text)  # JSON: what verification found
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))

    report = relationship("Report")
    attachment = relationship("ReportAttachment")
    certificate = relationship("SigningCertificate", foreign_keys=[certificate_id])
    signed_by = relationship("AppUser", foreign_keys=[signed_by_id])
    created_by = relationship("AppUser", foreign_keys=[created_by_id])
