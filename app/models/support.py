"""Support requests and incidents (seed 001 Art. 20.1): filed by any user from any page, answered
by the operating unit within 2 working hours; a complex one gets an announced completion time."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from app.models.forms import utcnow

SUPPORT_KINDS = {"request": "Yêu cầu hỗ trợ", "incident": "Báo sự cố"}
SUPPORT_STATUSES = {"open": "Chờ trả lời", "answered": "Đã trả lời",
                    "in_progress": "Đang xử lý", "resolved": "Đã xong"}


class SupportRequest(Model):
    __tablename__ = "support_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default="request")
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    page_url: Mapped[str | None] = mapped_column(String(500))
    attachment_filename: Mapped[str | None] = mapped_column(String(255))
    attachment: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), nullable=False,
                                               index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open", index=True)
    first_answer_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # announced for a complex request: when it is expected to be done (shown to the users)
    expected_completion_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    created_by = relationship("AppUser", foreign_keys=[created_by_id])
    unit = relationship("Unit")
    messages = relationship("SupportMessage", back_populates="request",
                            order_by="SupportMessage.id")


class SupportMessage(Model):
    """One answer or follow-up in a request's thread."""

    __tablename__ = "support_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("support_request.id"), nullable=False,
                                            index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    from_operator: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    request = relationship("SupportRequest", back_populates="messages")
    author = relationship("AppUser")
