"""Notifications: one row per person and notice, shown in the app (the bell) and sent by e-mail
from this same table (the outbox). A notice reaches a person once: (user, dedup key) is unique."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.forms import utcnow

EMAIL_PENDING, EMAIL_SENT, EMAIL_FAILED, EMAIL_MUTED, EMAIL_NONE = (
    "pending", "sent", "failed", "muted", "none")
EMAIL_STATUSES = {
    EMAIL_PENDING: "Chờ gửi",
    EMAIL_SENT: "Đã gửi",
    EMAIL_FAILED: "Gửi lỗi",
    EMAIL_MUTED: "Người nhận tắt thư",
    EMAIL_NONE: "Không có địa chỉ thư",
}


class Notification(Model):
    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("user_id", "dedup_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    link: Mapped[str | None] = mapped_column(String(300))
    dedup_key: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    email_status: Mapped[str] = mapped_column(String(20), nullable=False, default=EMAIL_PENDING,
                                              index=True)
    email_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    email_last_error: Mapped[str | None] = mapped_column(Text)
    email_next_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    email_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    user = relationship("AppUser")

    def __repr__(self) -> str:
        return self.subject
