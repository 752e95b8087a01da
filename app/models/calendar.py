"""Admin-editable calendar exceptions on top of the `holidays` package's Vietnamese holidays."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

CALENDAR_DAY_KINDS = {
    "day_off": "Ngày nghỉ",
    "working_day": "Ngày làm việc bù",
}


class CalendarDay(Model):
    """An extra day off, or a make-up working day, from the Prime Minister's yearly decisions."""

    __tablename__ = "calendar_day"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default="day_off")
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    legal_basis: Mapped[str | None] = mapped_column(String(255))

    def __repr__(self) -> str:
        return f"{self.day:%d/%m/%Y} {self.name}"
