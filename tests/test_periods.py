"""Period rows of a regime: generated from its rules and the database calendar, idempotently."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from app.models import CalendarDay, Period, Regime
from app.periods import generate_periods
from tests.factories import unit

D = dt.date


def _regime(session, **fields) -> Regime:
    committee = unit(session, "UBND tỉnh Thử nghiệm", type_code="province_committee")
    finance = unit(session, "Sở Tài chính", parent=committee)
    values = dict(
        code="KTXH-THU", name="Báo cáo kinh tế - xã hội tháng", frequency="month",
        owner_unit=committee, lead_unit=finance, receiving_unit=finance,
        deadline_rule="working_days_after_cutoff", deadline_working_days=3,
    )
    values.update(fields)
    regime = Regime(**values)
    session.add(regime)
    session.flush()
    return regime


def test_generate_monthly_periods(session):
    regime = _regime(session)
    created = generate_periods(session, regime, 2027)
    assert len(created) == 12
    first = created[0]
    assert (first.label, first.cutoff_start, first.cutoff_end) == (
        "Tháng 1/2027", D(2026, 12, 15), D(2027, 1, 14),
    )
    assert first.deadline == D(2027, 1, 19)
    session.commit()
    stored = session.scalars(select(Period).where(Period.regime_id == regime.id)).all()
    assert len(stored) == 12
    assert [p.number for p in regime.periods] == list(range(1, 13))


def test_generation_is_idempotent(session):
    regime = _regime(session, frequency="quarter")
    assert len(generate_periods(session, regime, 2027)) == 4
    session.commit()
    # An edited period is left alone, a deleted one is recreated.
    periods = sorted(regime.periods, key=lambda p: p.number)
    periods[0].deadline = D(2027, 3, 31)
    session.delete(periods[3])
    session.commit()
    again = generate_periods(session, regime, 2027)
    assert [p.number for p in again] == [4]
    assert generate_periods(session, regime, 2027) == []
    session.commit()
    count = session.scalar(select(func.count(Period.id)).where(Period.regime_id == regime.id))
    assert count == 4
    first = session.scalar(select(Period).where(Period.regime_id == regime.id, Period.number == 1))
    assert first.deadline == D(2027, 3, 31)


def test_uses_the_database_calendar_and_regime_rules(session):
    session.add(CalendarDay(day=D(2027, 1, 15), kind="day_off", name="Nghỉ bù"))
    regime = _regime(session, cutoff_end_day=25, deadline_rule="fixed_day", deadline_day=5,
                     deadline_month_offset=1)
    created = generate_periods(session, regime, 2027)
    january = created[0]
    assert (january.cutoff_start, january.cutoff_end) == (D(2026, 12, 26), D(2027, 1, 25))
    assert january.deadline == D(2027, 2, 11)  # 5/2/2027 lies in the Tết break

    other = _regime_second(session, regime)
    assert generate_periods(session, other, 2026)[9].deadline == D(2026, 10, 20)


def _regime_second(session, like: Regime) -> Regime:
    session.add(CalendarDay(day=D(2026, 10, 16), kind="day_off", name="Nghỉ thêm"))
    regime = Regime(code="KTXH-2", name="Chế độ thứ hai", frequency="month",
                    owner_unit=like.owner_unit, lead_unit=like.lead_unit,
                    receiving_unit=like.receiving_unit, deadline_working_days=3)
    session.add(regime)
    session.flush()
    return regime


def test_makeup_working_day_from_database(session):
    session.add(CalendarDay(day=D(2026, 11, 21), kind="working_day", name="Làm bù"))
    regime = _regime(session, deadline_rule="fixed_day", deadline_day=21)
    assert generate_periods(session, regime, 2026)[10].deadline == D(2026, 11, 21)


def test_one_off_regime_has_no_yearly_periods(session):
    regime = _regime(session, frequency="one_off")
    assert generate_periods(session, regime, 2027) == []


def test_cli_preview_and_generate(app_ctx, session):
    runner = app_ctx.test_cli_runner()
    result = runner.invoke(args=["periods", "preview", "--frequency", "quarter", "--year", "2027"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split("\t") == ["Quý I/2027", "2026-12-15", "2027-03-14", "2027-03-17"]
    assert len(lines) == 4

    result = runner.invoke(args=["periods", "preview", "--year", "2027", "--cutoff-end-day", "25",
                                 "--deadline-days", "5"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split("\t")[1:3] == ["2026-12-26", "2027-01-25"]

    regime = _regime(session)
    session.commit()
    result = runner.invoke(args=["periods", "generate", "--regime", regime.code, "--year", "2027"])
    assert result.exit_code == 0, result.output
    assert "12" in result.output.splitlines()[-1]
    result = runner.invoke(args=["periods", "generate", "--regime", regime.code, "--year", "2027"])
    assert "Đã tạo 0" in result.output

    result = runner.invoke(args=["periods", "generate", "--regime", "KHONG-CO", "--year", "2027"])
    assert result.exit_code == 1
    assert "Không tìm thấy" in result.output
