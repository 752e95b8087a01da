"""Form spec versions: the published description of a form, pinned by periods and reports."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.units import Unit

FORM_STATUSES = {"draft": "Bản nháp", "published": "Đã ban hành", "retired": "Ngừng dùng"}

# The spec versions a period uses: pinned when the period opens, kept for older periods.
period_form_version = Table(
    "period_form_version",
    Model.metadata,
    Column("period_id", ForeignKey("period.id", ondelete="CASCADE"), primary_key=True),
    Column("form_version_id", ForeignKey("form_version.id"), primary_key=True),
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class FormVersion(Model):
    """One version of a form (biểu mẫu): the spec as JSON, its hash and the source workbook."""

    __tablename__ = "form_version"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(60), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    regime_id: Mapped[int | None] = mapped_column(ForeignKey("regime.id"), index=True)
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="draft")
    # Large: loaded only when used (the parsed spec is cached per version and content hash).
    spec_json: Mapped[str] = mapped_column(Text, nullable=False, deferred=True)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    source_filename: Mapped[str | None] = mapped_column(String(255))
    source_workbook: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    builtin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    regime = relationship("Regime")
    owner_unit: Mapped[Unit | None] = relationship("Unit")

    def spec(self):
        from app.specs.model import FormSpec

        return FormSpec.from_json(self.spec_json)

    def __repr__(self) -> str:
        return f"{self.code} v{self.version} — {self.title}"
