"""The indicator catalogue (chỉ tiêu) and the catalogue of value columns and breakdowns."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.units import Unit

VALUE_TYPES = {
    "integer": "Số nguyên",
    "decimal": "Số thập phân",
    "percent": "Tỷ lệ (%)",
    "text": "Văn bản",
    "date": "Ngày",
    "choice": "Lựa chọn",
}
AGGREGATIONS_OVER_UNITS = {
    "sum": "Cộng",
    "average": "Trung bình",
    "min": "Nhỏ nhất",
    "max": "Lớn nhất",
    "none": "Không tổng hợp",
}
AGGREGATIONS_OVER_TIME = {
    "sum": "Cộng dồn",
    "average": "Trung bình",
    "last": "Giá trị kỳ cuối",
    "none": "Không tổng hợp",
}


class IndicatorGroup(Model):
    """Sector or group of indicators (ngành, lĩnh vực)."""

    __tablename__ = "indicator_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)

    def __repr__(self) -> str:
        return self.name


class Indicator(Model):
    __tablename__ = "indicator"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(500), nullable=False)
    unit_of_measure: Mapped[str | None] = mapped_column(String(60))
    calculation_method: Mapped[str | None] = mapped_column(Text)
    value_type: Mapped[str] = mapped_column(String(20), nullable=False, default="decimal")
    aggregation_over_units: Mapped[str] = mapped_column(String(20), nullable=False, default="sum")
    aggregation_over_time: Mapped[str] = mapped_column(String(20), nullable=False, default="sum")
    numerator_id: Mapped[int | None] = mapped_column(ForeignKey("indicator.id"))
    denominator_id: Mapped[int | None] = mapped_column(ForeignKey("indicator.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("indicator_group.id"), index=True)
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)

    numerator: Mapped[Indicator | None] = relationship(
        "Indicator", foreign_keys=[numerator_id], remote_side=[id]
    )
    denominator: Mapped[Indicator | None] = relationship(
        "Indicator", foreign_keys=[denominator_id], remote_side=[id]
    )
    group: Mapped[IndicatorGroup | None] = relationship("IndicatorGroup")
    owner_unit: Mapped[Unit | None] = relationship("Unit")

    @property
    def is_ratio(self) -> bool:
        return self.numerator_id is not None or self.denominator_id is not None

    def __repr__(self) -> str:
        return f"{self.code} — {self.name}"


class ValueColumn(Model):
    """A kind of value column shared by forms: annual plan, actual of the month, estimate…"""

    __tablename__ = "value_column"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    def __repr__(self) -> str:
        return self.name


class Breakdown(Model):
    """A disaggregation such as sex or urban/rural (DHIS2's category)."""

    __tablename__ = "breakdown"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)

    options: Mapped[list[BreakdownOption]] = relationship(
        "BreakdownOption", back_populates="breakdown", order_by="BreakdownOption.sort_order"
    )

    def __repr__(self) -> str:
        return self.name


class BreakdownOption(Model):
    __tablename__ = "breakdown_option"
    __table_args__ = (UniqueConstraint("breakdown_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    breakdown_id: Mapped[int] = mapped_column(ForeignKey("breakdown.id"), nullable=False)
    code: Mapped[str] = mapped_column(String(40), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    sort_order: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    breakdown: Mapped[Breakdown] = relationship("Breakdown", back_populates="options")

    def __repr__(self) -> str:
        return f"{self.breakdown.name}: {self.name}" if self.breakdown else self.name
