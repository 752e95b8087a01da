"""The audit trail: one hash-chained entry per committed transaction, never updated or deleted."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class AuditEntry(Model):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    source: Mapped[str] = mapped_column(String(40), nullable=False)
    changes: Mapped[str] = mapped_column(Text, nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
