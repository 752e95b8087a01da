"""Exchange with the upper-level reporting system (QCVN 125:2021/BTTTT, app/exchange/).

``ExchangeMessage`` is both the outbox of the messages sent upward (state, attempts, next
attempt, last error, the receipt) and the log of what arrived (a catalogue synced down, the
report data and report status a lower level sent up). ``ExchangeFigure`` holds the figures that
lower-level systems sent up, one row per unit, regime, period, indicator, column and breakdown.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_appbuilder.models.sqla import Model
from sqlalchemy import DateTime, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.forms import utcnow

OUTBOUND, INBOUND = "out", "in"
DIRECTIONS = {OUTBOUND: "Gửi lên cấp trên", INBOUND: "Nhận về"}

PENDING, DELIVERED, REFUSED, FAILED, RECEIVED, APPLIED = (
    "pending", "delivered", "refused", "failed", "received", "applied")
MESSAGE_STATES = {
    PENDING: "Chờ gửi",
    DELIVERED: "Đã gửi, có biên nhận",
    REFUSED: "Cấp trên từ chối",
    FAILED: "Gửi lỗi, đã ngừng thử lại",
    RECEIVED: "Đã nhận",
    APPLIED: "Đã cập nhật",
}


class ExchangeMessage(Model):
    __tablename__ = "exchange_message"
    __table_args__ = (UniqueConstraint("direction", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(3), nullable=False)
    message_id: Mapped[str] = mapped_column(String(64), nullable=False)
    message_type: Mapped[str] = mapped_column(String(30), nullable=False)
    # the other side: the upstream address, or the code of the unit that sent it up
    peer: Mapped[str | None] = mapped_column(String(300))
    unit_code: Mapped[str | None] = mapped_column(String(40))
    regime_code: Mapped[str | None] = mapped_column(String(60))
    period_label: Mapped[str | None] = mapped_column(String(60))
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    # SHA-256 of the message type, the sender and the body: the same content sent twice
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default=PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    receipt: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)  # what a sync or a reception changed
    report_id: Mapped[int | None] = mapped_column(ForeignKey("report.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    report = relationship("Report")

    @property
    def state_word(self) -> str:
        return MESSAGE_STATES.get(self.state, self.state)

    @property
    def direction_word(self) -> str:
        return DIRECTIONS.get(self.direction, self.direction)

    def __repr__(self) -> str:
        return f"{self.message_type} {self.message_id}"


class ExchangeFigure(Model):
    """A figure a lower-level system sent up (the latest accepted content of its period)."""

    __tablename__ = "exchange_figure"
    __table_args__ = (UniqueConstraint(
        "unit_code", "regime_code", "period_frequency", "period_year", "period_number",
        "indicator_code", "column_key", "breakdown_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("exchange_message.id"), nullable=False,
                                            index=True)
    unit_code: Mapped[str] = mapped_column(String(40), nullable=False)
    regime_code: Mapped[str] = mapped_column(String(60), nullable=False)
    form_code: Mapped[str] = mapped_column(String(60), nullable=False)
    period_frequency: Mapped[str] = mapped_column(String(20), nullable=False)
    period_year: Mapped[int] = mapped_column(Integer, nullable=False)
    period_number: Mapped[int] = mapped_column(Integer, nullable=False)
    period_label: Mapped[str] = mapped_column(String(60), nullable=False)
    indicator_code: Mapped[str] = mapped_column(String(40), nullable=False)
    column_key: Mapped[str] = mapped_column(String(120), nullable=False)
    breakdown_key: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    value: Mapped[Decimal | None] = mapped_column(Numeric(28, 8))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    message = relationship("ExchangeMessage")
