"""Working days, data cutoff windows and submission deadlines. Pure functions, no Flask.

Rules (DOMAIN.md, "Rules from the national regulations"):

* Working days are Monday to Friday, minus Vietnam's public holidays as the ``holidays`` package
  knows them (Tết, Hùng Kings day, days in lieu; it also knows some make-up Saturdays), minus the
  admin's extra days off, plus the admin's make-up working days (``CalendarDay`` rows).
* Cutoff windows follow Decree 09/2019/NĐ-CP Art. 12: a window closes on the 14th of the period's
  last month and opens the day after the previous window closed (the 15th of the month before the
  period). A regime may close its windows on another day of the month (``cutoff_end_day``, e.g. 25);
  days beyond the month's length are clamped to its last day.
* Deadlines: either N working days after the cutoff end, or a fixed day of a month (counted from
  the period's last month). A deadline on a weekend or a holiday moves to the next working day
  (Civil Code 2015 Art. 148). Decree 09 Art. 8.5 wants at least one working day between the
  cutoff end and the deadline: the earliest deadline is therefore the second working day after
  the cutoff end (the first one lies between). A later rule never moves a deadline earlier.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import holidays

DECREE_09_CUTOFF_END_DAY = 14
DEFAULT_DEADLINE_WORKING_DAYS = 3  # the Regime model's default
MIN_WORKING_DAYS_BETWEEN_CUTOFF_AND_DEADLINE = 1  # Decree 09 Art. 8.5

WORKING_DAYS_AFTER_CUTOFF = "working_days_after_cutoff"
FIXED_DAY = "fixed_day"

# frequency → (number of periods in a year, months spanned by one window)
_FREQUENCY_SHAPE = {
    "month": (12, 1),
    "quarter": (4, 3),
    "half_year": (2, 6),
    "nine_months": (1, 9),
    "year": (1, 12),
}
PERIODIC_FREQUENCIES = tuple(_FREQUENCY_SHAPE)
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


class WorkingCalendar:
    """Vietnam's working days with the admin's yearly exceptions on top."""

    def __init__(
        self,
        extra_days_off: Iterable[dt.date] = (),
        makeup_working_days: Iterable[dt.date] = (),
    ) -> None:
        self.extra_days_off = frozenset(extra_days_off)
        self.makeup_working_days = frozenset(makeup_working_days)
        self._public = holidays.country_holidays("VN")

    def is_public_holiday(self, day: dt.date) -> bool:
        return day in self._public

    def holiday_name(self, day: dt.date) -> str | None:
        return self._public.get(day)

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.makeup_working_days:
            return True
        if day in self.extra_days_off:
            return False
        # The package's own check: weekends, holidays, and its known make-up Saturdays.
        return self._public.is_working_day(day)

    def next_working_day_on_or_after(self, day: dt.date) -> dt.date:
        for _ in range(366):
            if self.is_working_day(day):
                return day
            day += dt.timedelta(days=1)
        raise ValueError("Không tìm thấy ngày làm việc trong vòng một năm.")

    def add_working_days(self, day: dt.date, count: int) -> dt.date:
        """The ``count``-th working day strictly after ``day`` (``day`` itself when count <= 0)."""
        for _ in range(max(count, 0)):
            day = self.next_working_day_on_or_after(day + dt.timedelta(days=1))
        return day

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days strictly after ``start`` and strictly before ``end``."""
        count, day = 0, start + dt.timedelta(days=1)
        while day < end:
            count += self.is_working_day(day)
            day += dt.timedelta(days=1)
        return count


# Office hours of a working day (Vietnam's time): 40 hours a week over five days.
WORKING_HOURS = ((dt.time(8, 0), dt.time(12, 0)), (dt.time(13, 0), dt.time(17, 0)))


def working_hours_between(calendar: WorkingCalendar, start: dt.datetime,
                          end: dt.datetime) -> float:
    """Office hours (WORKING_HOURS of working days) from ``start`` to ``end``, both naive times
    in Vietnam; 0 when ``end`` is not after ``start``."""
    total = 0.0
    day = start.date()
    while day <= end.date():
        if calendar.is_working_day(day):
            for opens, closes in WORKING_HOURS:
                begin = max(start, dt.datetime.combine(day, opens))
                finish = min(end, dt.datetime.combine(day, closes))
                if finish > begin:
                    total += (finish - begin).total_seconds() / 3600
        day += dt.timedelta(days=1)
    return total


def calendar_from_db(session) -> WorkingCalendar:
    """A calendar with the admin's CalendarDay rows (kind "day_off" or "working_day")."""
    from sqlalchemy import select

    from app.models import CalendarDay

    rows = session.execute(select(CalendarDay.day, CalendarDay.kind)).all()
    return WorkingCalendar(
        extra_days_off={day for day, kind in rows if kind == "day_off"},
        makeup_working_days={day for day, kind in rows if kind == "working_day"},
    )


# --- cutoff windows ---------------------------------------------------------------------------


def _shift_month(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _clamped(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, min(day, _stdlib_calendar.monthrange(year, month)[1]))


def period_count(frequency: str) -> int:
    """How many periods of this frequency a year has (0 for one-off reports)."""
    return _FREQUENCY_SHAPE.get(frequency, (0, 0))[0]


def last_month(frequency: str, number: int) -> int:
    """The calendar month in which the period's cutoff window closes."""
    count, span = _shape(frequency)
    if not 1 <= number <= count:
        raise ValueError(f"Kỳ số {number} không hợp lệ cho tần suất {frequency}.")
    if frequency == "month":
        return number
    if frequency == "quarter":
        return 3 * number
    if frequency == "half_year":
        return 6 * number
    return span  # nine_months: 9, year: 12


def _shape(frequency: str) -> tuple[int, int]:
    try:
        return _FREQUENCY_SHAPE[frequency]
    except KeyError:
        raise ValueError(
            f"Tần suất {frequency!r} không có kỳ định kỳ (báo cáo một lần không sinh kỳ theo năm)."
        ) from None


def cutoff_window(
    frequency: str, year: int, number: int, cutoff_end_day: int | None = None
) -> tuple[dt.date, dt.date]:
    """(first day, last day) of the data cutoff window, both inclusive."""
    end_day = cutoff_end_day or DECREE_09_CUTOFF_END_DAY
    if not 1 <= end_day <= 31:
        raise ValueError("Ngày chốt số liệu phải từ 1 đến 31.")
    _, span = _shape(frequency)
    month = last_month(frequency, number)
    end = _clamped(year, month, end_day)
    prev_year, prev_month = _shift_month(year, month, -span)
    start = _clamped(prev_year, prev_month, end_day) + dt.timedelta(days=1)
    return start, end


def period_label(frequency: str, year: int, number: int) -> str:
    if frequency == "month":
        return f"Tháng {number}/{year}"
    if frequency == "quarter":
        return f"Quý {ROMAN[number]}/{year}"
    if frequency == "half_year":
        return f"6 tháng {'đầu' if number == 1 else 'cuối'} năm {year}"
    if frequency == "nine_months":
        return f"9 tháng năm {year}"
    if frequency == "year":
        return f"Năm {year}"
    return f"Kỳ {number}/{year}"


# --- deadlines --------------------------------------------------------------------------------


def earliest_deadline(cutoff_end: dt.date, calendar: WorkingCalendar) -> dt.date:
    """Decree 09 Art. 8.5: one full working day between the cutoff end and the deadline."""
    return calendar.add_working_days(cutoff_end, MIN_WORKING_DAYS_BETWEEN_CUTOFF_AND_DEADLINE + 1)


def deadline_for(
    frequency: str,
    year: int,
    number: int,
    cutoff_end: dt.date,
    calendar: WorkingCalendar,
    deadline_rule: str = WORKING_DAYS_AFTER_CUTOFF,
    deadline_working_days: int | None = DEFAULT_DEADLINE_WORKING_DAYS,
    deadline_day: int | None = None,
    deadline_month_offset: int = 0,
) -> dt.date:
    """The submission deadline of a period, already moved onto a working day.

    ``fixed_day``: day ``deadline_day`` of the month ``deadline_month_offset`` months after the
    period's last month (clamped to the month's length), moved to the next working day when it
    falls on a rest day (Civil Code Art. 148). Either rule is then pushed, if needed, to the
    earliest deadline Decree 09 Art. 8.5 allows (see ``earliest_deadline``).
    """
    if deadline_rule == FIXED_DAY:
        if not deadline_day:
            raise ValueError("Quy tắc ngày cố định cần ngày trong tháng (deadline_day).")
        month = last_month(frequency, number)
        target_year, target_month = _shift_month(year, month, deadline_month_offset or 0)
        due = calendar.next_working_day_on_or_after(_clamped(target_year, target_month, deadline_day))
    elif deadline_rule == WORKING_DAYS_AFTER_CUTOFF:
        days = DEFAULT_DEADLINE_WORKING_DAYS if deadline_working_days is None else deadline_working_days
        due = calendar.add_working_days(cutoff_end, days)
    else:
        raise ValueError(f"Quy tắc thời hạn không hợp lệ: {deadline_rule!r}.")
    return max(due, earliest_deadline(cutoff_end, calendar))


@dataclass(frozen=True)
class PeriodSpec:
    frequency: str
    year: int
    number: int
    label: str
    cutoff_start: dt.date
    cutoff_end: dt.date
    deadline: dt.date


def period_spec(
    frequency: str,
    year: int,
    number: int,
    calendar: WorkingCalendar,
    cutoff_end_day: int | None = None,
    deadline_rule: str = WORKING_DAYS_AFTER_CUTOFF,
    deadline_working_days: int | None = DEFAULT_DEADLINE_WORKING_DAYS,
    deadline_day: int | None = None,
    deadline_month_offset: int = 0,
) -> PeriodSpec:
    start, end = cutoff_window(frequency, year, number, cutoff_end_day)
    deadline = deadline_for(
        frequency, year, number, end, calendar, deadline_rule,
        deadline_working_days, deadline_day, deadline_month_offset,
    )
    return PeriodSpec(frequency, year, number, period_label(frequency, year, number), start, end, deadline)


def periods_for_year(
    frequency: str,
    year: int,
    calendar: WorkingCalendar,
    cutoff_end_day: int | None = None,
    deadline_rule: str = WORKING_DAYS_AFTER_CUTOFF,
    deadline_working_days: int | None = DEFAULT_DEADLINE_WORKING_DAYS,
    deadline_day: int | None = None,
    deadline_month_offset: int = 0,
) -> list[PeriodSpec]:
    """Every period of ``year`` for a frequency; one-off reports have none."""
    return [
        period_spec(
            frequency, year, number, calendar, cutoff_end_day, deadline_rule,
            deadline_working_days, deadline_day, deadline_month_offset,
        )
        for number in range(1, period_count(frequency) + 1)
    ]
