"""Reporting regimes (chế độ báo cáo, Decree 09 Art. 7) and their periods (kỳ báo cáo)."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.indicators import Indicator
from app.models.units import Unit, UnitType

REGIME_KINDS = {
    "government": "Chế độ báo cáo của Chính phủ, bộ ngành",
    "provincial_periodic": "Báo cáo định kỳ của tỉnh",
    "thematic": "Báo cáo chuyên đề",
    "ad_hoc": "Báo cáo đột xuất",
}
FREQUENCIES = {
    "month": "Tháng",
    "quarter": "Quý",
    "half_year": "6 tháng",
    "nine_months": "9 tháng",
    "year": "Năm",
    "one_off": "Một lần",
}
REPORT_KINDS = {
    "numeric": "Báo cáo số liệu",
    "narrative": "Báo cáo thuyết minh",
    "linked": "Báo cáo liên kết (số liệu và thuyết minh)",
}
DEADLINE_RULES = {
    "working_days_after_cutoff": "Số ngày làm việc sau ngày chốt số liệu",
    "fixed_day": "Ngày cố định trong tháng",
}

regime_reporting_unit = Table(
    "regime_reporting_unit",
    Model.metadata,
    Column("regime_id", ForeignKey("regime.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("unit.id", ondelete="CASCADE"), primary_key=True),
)
regime_reporting_unit_type = Table(
    "regime_reporting_unit_type",
    Model.metadata,
    Column("regime_id", ForeignKey("regime.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_type_id", ForeignKey("unit_type.id", ondelete="CASCADE"), primary_key=True),
)
regime_indicator = Table(
    "regime_indicator",
    Model.metadata,
    Column("regime_id", ForeignKey("regime.id", ondelete="CASCADE"), primary_key=True),
    Column("indicator_id", ForeignKey("indicator.id", ondelete="CASCADE"), primary_key=True),
)


DEFAULT_REMINDER_OFFSETS = "-3,-1,0,1,3"


class Regime(Model):
    __tablename__ = "regime"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(500), nullable=False)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(30), nullable=False, default="provincial_periodic")
    frequency: Mapped[str] = mapped_column(String(20), nullable=False, default="month")
    report_kind: Mapped[str] = mapped_column(String(20), nullable=False, default="numeric")
    # Cutoff window: None = Decree 09 Art. 12 (the 15th of the month before to the 14th);
    # otherwise the day of the month on which the window closes (e.g. 25 for a statistics regime).
    cutoff_end_day: Mapped[int | None] = mapped_column(Integer)
    deadline_rule: Mapped[str] = mapped_column(
        String(30), nullable=False, default="working_days_after_cutoff"
    )
    deadline_working_days: Mapped[int | None] = mapped_column(Integer, default=3)
    deadline_day: Mapped[int | None] = mapped_column(Integer)
    deadline_month_offset: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    lead_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False)
    receiving_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)
    # Reception window: sending opens this many days after the period's cutoff end (negative:
    # before it) and is due by the deadline; late sending is accepted (and marked late) unless
    # this is off.
    reception_opens_days: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    accepts_late: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # reminders of a report not yet sent, in working days from its deadline (negative: before)
    reminder_offsets: Mapped[str] = mapped_column(
        String(100), nullable=False, default=DEFAULT_REMINDER_OFFSETS,
        server_default=DEFAULT_REMINDER_OFFSETS)
    # sending needs the report signed by its leader and its agency (seed 001 Art. 12)
    requires_signature: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    owner_unit: Mapped[Unit] = relationship("Unit", foreign_keys=[owner_unit_id])
    lead_unit: Mapped[Unit] = relationship("Unit", foreign_keys=[lead_unit_id])
    receiving_unit: Mapped[Unit] = relationship("Unit", foreign_keys=[receiving_unit_id])
    reporting_units: Mapped[list[Unit]] = relationship("Unit", secondary=regime_reporting_unit)
    reporting_unit_types: Mapped[list[UnitType]] = relationship(
        "UnitType", secondary=regime_reporting_unit_type
    )
    indicators: Mapped[list[Indicator]] = relationship("Indicator", secondary=regime_indicator)
    periods: Mapped[list[Period]] = relationship(
        "Period", back_populates="regime", order_by="Period.cutoff_start"
    )

    def __repr__(self) -> str:
        return self.name


class Period(Model):
    """One reporting period of a regime, with its cutoff window and submission deadline."""

    __tablename__ = "period"
    __table_args__ = (UniqueConstraint("regime_id", "frequency", "year", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    regime_id: Mapped[int] = mapped_column(ForeignKey("regime.id"), nullable=False, index=True)
    frequency: Mapped[str] = mapped_column(String(20), nullable=False)
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    label: Mapped[str] = mapped_column(String(60), nullable=False)
    cutoff_start: Mapped[dt.date] = mapped_column(Date, nullable=False)
    cutoff_end: Mapped[dt.date] = mapped_column(Date, nullable=False)
    deadline: Mapped[dt.date] = mapped_column(Date, nullable=False)

    regime: Mapped[Regime] = relationship("Regime", back_populates="periods")
    form_versions = relationship("FormVersion", secondary="period_form_version")

    def __repr__(self) -> str:
        return f"{self.label} — {self.regime.code if self.regime else ''}"
