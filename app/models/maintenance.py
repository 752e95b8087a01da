"""Maintenance notices (seed 001 Art. 20.3): the operating unit announces a planned stop of the
system at least 10 working hours ahead, or at once when it is an emergency."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.forms import utcnow


class MaintenanceNotice(Model):
    __tablename__ = "maintenance_notice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # UTC, like every stored time
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, index=True)
    ends_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    emergency: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    created_by = relationship("AppUser")

    def __repr__(self) -> str:
        return self.message[:60]
