"""The reporting cycle around a report: its events, the versions it was sent as, comments and
reasons, the people assigned to it, changes to a period's reception window, ad-hoc requests and
which unit answers for which indicator of a regime.

Events, sent versions and comments are only ever added: a return or a correction reopens the
report but never rewrites what was sent or accepted (seed 001 Art. 17.3; seed 004 Art. 17.1).
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.forms import utcnow


class ReportEvent(Model):
    """One transition of a report: who moved it from which state to which, when, why, and the
    hash of its values at that moment."""

    __tablename__ = "report_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), nullable=False, index=True
    )
    action: Mapped[str] = mapped_column(String(30), nullable=False)
    from_state: Mapped[str] = mapped_column(String(20), nullable=False)
    to_state: Mapped[str] = mapped_column(String(20), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    values_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("report_version.id"))

    report = relationship("Report", back_populates="events")
    actor = relationship("AppUser", foreign_keys=[actor_id])
    version = relationship("ReportVersion", foreign_keys=[version_id])


class ReportVersion(Model):
    """A report as it was sent: its values (computed cells included) as canonical JSON and
    their hash. Written once at sending; later only its outcome (accepted, returned, replaced by
    a correction) is set."""

    __tablename__ = "report_version"
    __table_args__ = (UniqueConstraint("report_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), nullable=False, index=True
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_version.id"), nullable=False)
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    late: Mapped[bool] = mapped_column(nullable=False, default=False)
    values_json: Mapped[str] = mapped_column(Text, nullable=False, deferred=True)
    values_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    # sent → accepted | returned; accepted → superseded once a correction is accepted
    outcome: Mapped[str] = mapped_column(String(20), nullable=False, default="sent")
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    # the signed PDF sent as this version (its agency signature stage), when it was signed
    signature_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_signature.id", use_alter=True, name="fk_report_version_signature_id")
    )

    report = relationship("Report", back_populates="versions")
    sent_by = relationship("AppUser", foreign_keys=[sent_by_id])


class ReportComment(Model):
    """A reason or a comment in a report's thread; with a cell key it belongs to that cell."""

    __tablename__ = "report_comment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), nullable=False, index=True
    )
    event_id: Mapped[int | None] = mapped_column(ForeignKey("report_event.id"))
    cell_key: Mapped[str | None] = mapped_column(String(250))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    body: Mapped[str] = mapped_column(Text, nullable=False)

    author = relationship("AppUser", foreign_keys=[author_id])


class ReportAssignee(Model):
    """A person assigned to a report for one role (entry, approval, signing). Without rows for a
    role, every account of the unit holding that role (for the regime) may act."""

    __tablename__ = "report_assignee"
    __table_args__ = (UniqueConstraint("report_id", "user_id", "role_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), nullable=False, index=True)
    role_name: Mapped[str] = mapped_column(String(64), nullable=False)

    user = relationship("AppUser", foreign_keys=[user_id])


class ReceptionChange(Model):
    """The lead agency closes reception early or reopens it, for one unit or (unit empty) for
    every unit of a period, with a reason. The latest change that applies wins."""

    __tablename__ = "reception_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), nullable=False, index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    action: Mapped[str] = mapped_column(String(10), nullable=False)  # close | reopen
    # reopen: sending is accepted until this moment (UTC), and counts on time until then when
    # the reopening extends the deadline
    until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    extends_deadline: Mapped[bool] = mapped_column(nullable=False, default=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    period = relationship("Period")
    unit = relationship("Unit")
    actor = relationship("AppUser", foreign_keys=[actor_id])


class AdhocRequest(Model):
    """A one-off report request (báo cáo đột xuất): its own due date, target units,
    instructions and an attached outline. It owns a period of its regime."""

    __tablename__ = "adhoc_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    regime_id: Mapped[int] = mapped_column(ForeignKey("regime.id"), nullable=False, index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), nullable=False, unique=True)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    instructions: Mapped[str | None] = mapped_column(Text)
    due_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    outline_filename: Mapped[str | None] = mapped_column(String(255))
    outline_content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    regime = relationship("Regime")
    period = relationship("Period")


class IndicatorResponsibility(Model):
    """In an indicator regime, the unit (usually a department) that answers for an indicator's
    rows (seed 004 Art. 16.1, 17.9). The lead agency's report takes those rows from that unit's
    accepted report."""

    __tablename__ = "indicator_responsibility"
    __table_args__ = (UniqueConstraint("regime_id", "indicator_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    regime_id: Mapped[int] = mapped_column(ForeignKey("regime.id"), nullable=False, index=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id"), nullable=False)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)

    regime = relationship("Regime")
    indicator = relationship("Indicator")
    unit = relationship("Unit")
