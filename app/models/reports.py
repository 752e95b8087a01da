"""Reports (regime × period × unit, pinned to a form version) and their values.

A value is keyed like DHIS2's data value: inside its report by the form's row key, column key and
breakdown, and linked to the catalogue's indicator and value column when the form maps them.
Every save records who saved it and when; ``revision`` guards against lost updates.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_appbuilder.models.sqla import Model
from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.forms import FormVersion, utcnow
from app.models.regimes import Period, Regime
from app.models.units import Unit


class Report(Model):
    __tablename__ = "report"
    __table_args__ = (UniqueConstraint("period_id", "unit_id", "form_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    regime_id: Mapped[int] = mapped_column(ForeignKey("regime.id"), nullable=False, index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), nullable=False, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    form_code: Mapped[str] = mapped_column(String(60), nullable=False)
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_version.id"), nullable=False)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default="draft")
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    # unit: the unit's own report; consolidated: computed from the reports of the units below;
    # composed: the lead agency's report made of the rows each responsible unit sent
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default="unit")
    # the due date when it differs from the period's deadline (an ad-hoc request, an extension)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
    first_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sent_late: Mapped[bool | None] = mapped_column()
    # set once an accepted report is reopened for correction; what was computed from it is
    # marked revised
    revised: Mapped[bool] = mapped_column(nullable=False, default=False)

    regime: Mapped[Regime] = relationship("Regime")
    period: Mapped[Period] = relationship("Period")
    unit: Mapped[Unit] = relationship("Unit")
    form_version: Mapped[FormVersion] = relationship("FormVersion")
    events = relationship(
        "ReportEvent", back_populates="report", order_by="ReportEvent.id", lazy="select"
    )
    versions = relationship(
        "ReportVersion", back_populates="report", order_by="ReportVersion.number", lazy="select"
    )

    def __repr__(self) -> str:
        return f"{self.form_code} — {self.unit.name if self.unit else ''} — {self.period.label if self.period else ''}"


class ReportValue(Model):
    __tablename__ = "report_value"
    __table_args__ = (UniqueConstraint("report_id", "row_key", "column_key", "breakdown_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), nullable=False, index=True
    )
    row_key: Mapped[str] = mapped_column(String(120), nullable=False)
    column_key: Mapped[str] = mapped_column(String(120), nullable=False)
    breakdown_key: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    indicator_id: Mapped[int | None] = mapped_column(ForeignKey("indicator.id"), index=True)
    value_column_key: Mapped[str | None] = mapped_column(String(60))
    number_value: Mapped[Decimal | None] = mapped_column(Numeric(28, 8))
    text_value: Mapped[str | None] = mapped_column(Text)
    saved_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    saved_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    report: Mapped[Report] = relationship("Report")


class ReportAttachment(Model):
    __tablename__ = "report_attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), nullable=False, index=True
    )
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(120), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, deferred=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    report: Mapped[Report] = relationship("Report")
