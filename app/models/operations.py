"""Outages of the system and the reports entered afterwards (seed 001 Art. 11.2): a report that
a unit sent by other means while the system was down is entered with its real sending time and
the evidence (the document number and a scan), and is marked as backfilled."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from app.models.forms import utcnow


class Outage(Model):
    """The system was down from ``starts_at`` to ``ends_at`` (UTC), as an admin recorded it."""

    __tablename__ = "outage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, index=True)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    recorded_by = relationship("AppUser")

    def __repr__(self) -> str:
        return f"{self.starts_at:%d/%m/%Y %H:%M} – {self.ends_at:%d/%m/%Y %H:%M}"


class BackfilledSending(Model):
    """A sending entered after an outage: the version it made, the real sending time, the
    document number and the scan (with its SHA-256), who entered it and when."""

    __tablename__ = "backfilled_sending"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"), nullable=False, index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("report_version.id"), nullable=False,
                                            unique=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outage.id"), nullable=False)
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    document_number: Mapped[str] = mapped_column(String(100), nullable=False)
    evidence_filename: Mapped[str] = mapped_column(String(255), nullable=False)
    evidence: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    evidence_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    entered_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    report = relationship("Report")
    version = relationship("ReportVersion")
    outage = relationship("Outage")
    entered_by = relationship("AppUser")
