"""Working days, Decree 09 cutoff windows and deadlines (pure, no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from app.calendar import (
    WorkingCalendar,
    cutoff_window,
    period_label,
    period_spec,
    periods_for_year,
)

D = dt.date
PLAIN = WorkingCalendar()


def test_month_window_follows_decree_09():
    spec = period_spec("month", 2026, 11, PLAIN)
    assert (spec.cutoff_start, spec.cutoff_end) == (D(2026, 10, 15), D(2026, 11, 14))
    assert spec.label == "Tháng 11/2026"


def test_first_month_window_starts_in_previous_year():
    assert cutoff_window("month", 2027, 1) == (D(2026, 12, 15), D(2027, 1, 14))


def test_quarter_one_window_spans_the_new_year():
    spec = period_spec("quarter", 2027, 1, PLAIN)
    assert (spec.cutoff_start, spec.cutoff_end) == (D(2026, 12, 15), D(2027, 3, 14))
    assert spec.label == "Quý I/2027"
    assert cutoff_window("quarter", 2027, 4) == (D(2027, 9, 15), D(2027, 12, 14))


def test_half_year_nine_months_and_year_windows():
    assert cutoff_window("half_year", 2027, 1) == (D(2026, 12, 15), D(2027, 6, 14))
    assert cutoff_window("half_year", 2027, 2) == (D(2027, 6, 15), D(2027, 12, 14))
    assert cutoff_window("nine_months", 2027, 1) == (D(2026, 12, 15), D(2027, 9, 14))
    assert cutoff_window("year", 2027, 1) == (D(2026, 12, 15), D(2027, 12, 14))


def test_labels():
    assert period_label("half_year", 2027, 1) == "6 tháng đầu năm 2027"
    assert period_label("half_year", 2027, 2) == "6 tháng cuối năm 2027"
    assert period_label("nine_months", 2027, 1) == "9 tháng năm 2027"
    assert period_label("year", 2027, 1) == "Năm 2027"
    assert period_label("quarter", 2027, 4) == "Quý IV/2027"


def test_periods_for_year_counts_and_contiguity():
    counts = {"month": 12, "quarter": 4, "half_year": 2, "nine_months": 1, "year": 1, "one_off": 0}
    for frequency, count in counts.items():
        specs = periods_for_year(frequency, 2027, PLAIN)
        assert len(specs) == count
        assert [s.number for s in specs] == list(range(1, count + 1))
    months = periods_for_year("month", 2027, PLAIN)
    for before, after in zip(months, months[1:], strict=False):
        assert after.cutoff_start == before.cutoff_end + dt.timedelta(days=1)


def test_cutoff_end_day_override_25():
    specs = periods_for_year("month", 2027, PLAIN, cutoff_end_day=25)
    assert (specs[0].cutoff_start, specs[0].cutoff_end) == (D(2026, 12, 26), D(2027, 1, 25))
    assert (specs[1].cutoff_start, specs[1].cutoff_end) == (D(2027, 1, 26), D(2027, 2, 25))
    assert cutoff_window("quarter", 2027, 1, 25) == (D(2026, 12, 26), D(2027, 3, 25))


def test_cutoff_end_day_clamped_to_month_length():
    assert cutoff_window("month", 2027, 2, 31) == (D(2027, 2, 1), D(2027, 2, 28))
    assert cutoff_window("month", 2027, 3, 31) == (D(2027, 3, 1), D(2027, 3, 31))


def test_tet_2027_is_not_working():
    for day in range(4, 11):
        assert not PLAIN.is_working_day(D(2027, 2, day))
    assert PLAIN.is_working_day(D(2027, 2, 11))
    assert PLAIN.next_working_day_on_or_after(D(2027, 2, 5)) == D(2027, 2, 11)


def test_fixed_day_deadline_inside_tet_moves_past_the_break():
    spec = period_spec(
        "month", 2027, 1, PLAIN, deadline_rule="fixed_day", deadline_day=5, deadline_month_offset=1
    )
    assert spec.deadline == D(2027, 2, 11)


def test_working_days_deadline_crossing_tet():
    # The window closes on Wednesday 3/2/2027; 4-10/2 is the Tết break.
    spec = period_spec("month", 2027, 2, PLAIN, cutoff_end_day=3, deadline_working_days=3)
    assert spec.cutoff_end == D(2027, 2, 3)
    assert spec.deadline == D(2027, 2, 15)  # Thu 11, Fri 12, Mon 15


def test_weekend_deadline_moves_to_monday():
    assert D(2026, 11, 21).weekday() == 5
    spec = period_spec("month", 2026, 11, PLAIN, deadline_rule="fixed_day", deadline_day=21)
    assert spec.deadline == D(2026, 11, 23)


def test_makeup_working_saturday_counts_as_working():
    saturday = D(2026, 11, 21)
    calendar = WorkingCalendar(makeup_working_days={saturday})
    assert calendar.is_working_day(saturday)
    spec = period_spec("month", 2026, 11, calendar, deadline_rule="fixed_day", deadline_day=21)
    assert spec.deadline == saturday
    # The Saturday also counts when adding working days (cutoff ends Saturday 14/11/2026).
    assert calendar.add_working_days(D(2026, 11, 19), 2) == saturday


def test_package_knows_its_own_makeup_saturday():
    assert PLAIN.is_working_day(D(2026, 8, 22))  # worked in exchange for 31/8/2026


def test_admin_extra_day_off_is_skipped():
    assert period_spec("month", 2026, 10, PLAIN).deadline == D(2026, 10, 19)
    calendar = WorkingCalendar(extra_days_off={D(2026, 10, 16)})
    assert not calendar.is_working_day(D(2026, 10, 16))
    assert period_spec("month", 2026, 10, calendar).deadline == D(2026, 10, 20)


def test_add_working_days_is_strictly_after():
    assert PLAIN.add_working_days(D(2026, 10, 14), 1) == D(2026, 10, 15)
    assert PLAIN.add_working_days(D(2026, 10, 16), 1) == D(2026, 10, 19)
    assert PLAIN.add_working_days(D(2026, 10, 16), 0) == D(2026, 10, 16)


def test_decree_09_one_working_day_between_cutoff_and_deadline():
    # A fixed day 15 right after a cutoff on Wednesday 14/10/2026 is pushed to Friday 16/10.
    spec = period_spec("month", 2026, 10, PLAIN, deadline_rule="fixed_day", deadline_day=15)
    assert spec.deadline == D(2026, 10, 16)
    assert PLAIN.working_days_between(spec.cutoff_end, spec.deadline) >= 1
    # So is a rule of one working day.
    assert period_spec("month", 2026, 10, PLAIN, deadline_working_days=1).deadline == D(2026, 10, 16)
    for spec in periods_for_year("month", 2027, PLAIN, deadline_working_days=0):
        assert PLAIN.working_days_between(spec.cutoff_end, spec.deadline) >= 1


def test_invalid_inputs():
    with pytest.raises(ValueError):
        cutoff_window("month", 2027, 13)
    with pytest.raises(ValueError):
        cutoff_window("one_off", 2027, 1)
    with pytest.raises(ValueError):
        period_spec("month", 2027, 1, PLAIN, deadline_rule="fixed_day")
