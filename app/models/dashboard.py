"""The dashboard's items, configured by admins: which indicator of which regime, for which unit
subtree, drawn how (line over periods, bar by unit, table, compliance by unit or by month)."""

from __future__ import annotations

from flask_appbuilder.models.sqla import Model
from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

DASHBOARD_KINDS = {
    "line": "Đường theo kỳ",
    "bar": "Cột theo đơn vị",
    "table": "Bảng theo đơn vị",
    "compliance": "Tuân thủ: đúng hạn / muộn / chưa gửi theo đơn vị",
    "compliance_month": "Tuân thủ: đúng hạn / muộn / chưa gửi theo tháng",
}


class DashboardItem(Model):
    __tablename__ = "dashboard_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default="line")
    regime_id: Mapped[int] = mapped_column(ForeignKey("regime.id"), nullable=False)
    indicator_id: Mapped[int | None] = mapped_column(ForeignKey("indicator.id"))
    # the unit whose subtree is shown; a viewer who may not see it sees their own unit's
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    column_key: Mapped[str | None] = mapped_column(String(120))
    periods: Mapped[int] = mapped_column(Integer, nullable=False, default=12)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)

    regime = relationship("Regime")
    indicator = relationship("Indicator")
    unit = relationship("Unit")

    def __repr__(self) -> str:
        return self.title
