"""Reporting periods (kỳ báo cáo) of a regime, generated from its rules and the working calendar."""

from __future__ import annotations

from sqlalchemy import select

from app.calendar import (
    WorkingCalendar,
    calendar_from_db,
    period_count,
    periods_for_year,
)
from app.models import Period, Regime


def specs_for_regime(regime: Regime, year: int, calendar: WorkingCalendar):
    """The PeriodSpecs a regime's rules give for a year (none for one-off reports)."""
    if period_count(regime.frequency) == 0:
        return []
    return periods_for_year(
        regime.frequency,
        year,
        calendar,
        cutoff_end_day=regime.cutoff_end_day,
        deadline_rule=regime.deadline_rule,
        deadline_working_days=regime.deadline_working_days,
        deadline_day=regime.deadline_day,
        deadline_month_offset=regime.deadline_month_offset or 0,
    )


def generate_periods(
    session, regime: Regime, year: int, calendar: WorkingCalendar | None = None
) -> list[Period]:
    """Create the regime's missing periods of ``year``; return the new rows.

    Idempotent: a period that already exists for (regime, frequency, year, number) is left as it
    is, even when the rules or the calendar have changed since (it may have been edited by hand).
    Each new period is assigned at once (``app.assignment.assign``) to the regime's reporting
    units for every published form of the regime, with their default assignees.
    """
    if calendar is None:
        calendar = calendar_from_db(session)
    existing = set()
    if regime.id is not None:
        existing = set(
            session.scalars(
                select(Period.number).where(
                    Period.regime_id == regime.id,
                    Period.frequency == regime.frequency,
                    Period.year == year,
                )
            )
        )
    created = []
    for spec in specs_for_regime(regime, year, calendar):
        if spec.number in existing:
            continue
        period = Period(
            regime=regime,
            frequency=spec.frequency,
            year=spec.year,
            number=spec.number,
            label=spec.label,
            cutoff_start=spec.cutoff_start,
            cutoff_end=spec.cutoff_end,
            deadline=spec.deadline,
        )
        session.add(period)
        created.append(period)
    session.flush()
    if created:
        from app.assignment import assign_published_forms

        for period in created:
            assign_published_forms(session, period)
    return created
