"""Search (tra cứu): reports by regime, unit, period, state and the words of their narrative
blocks; values of an indicator across reports. Callable without a request; every query is
confined by the viewer's read scope (app.scoping) and runs as one SQL statement."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.models import Period, Report, ReportValue, Unit
from app.scoping import read_criterion
from app.text import nfc

MAX_RESULTS = 200


@dataclass
class Found:
    report: Report
    excerpt: str | None = None  # the narrative text around the words, when searched by words


def _excerpt(text: str, words: str, width: int = 80) -> str:
    at = text.lower().find(words.lower())
    if at < 0:
        return text[: 2 * width]
    start = max(0, at - width)
    end = min(len(text), at + len(words) + width)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def search_reports(session, user, *, regime_id: int | None = None, unit_id: int | None = None,
                   period_id: int | None = None, state: str | None = None,
                   words: str | None = None, limit: int = MAX_RESULTS) -> list[Found]:
    """Reports the user may read that match every criterion given; ``words`` are looked for
    (case-insensitively, as typed, in NFC) in the report's narrative and text cells."""
    query = select(Report).join(Unit, Unit.id == Report.unit_id).join(
        Period, Period.id == Report.period_id)
    criterion = read_criterion(Report, user)
    if criterion is not None:
        query = query.where(criterion)
    if regime_id:
        query = query.where(Report.regime_id == regime_id)
    if unit_id:
        unit = session.get(Unit, unit_id)
        query = query.where(Unit.path.like((unit.path if unit else "/-/") + "%"))
    if period_id:
        query = query.where(Report.period_id == period_id)
    if state:
        query = query.where(Report.state == state)
    words = nfc(words or "").strip()
    text_of = None
    if words:
        pattern = f"%{words.lower()}%"
        matching = (
            select(ReportValue.report_id, func.min(ReportValue.text_value).label("text"))
            .where(ReportValue.text_value.is_not(None),
                   func.lower(ReportValue.text_value).like(pattern))
            .group_by(ReportValue.report_id)
            .subquery()
        )
        query = query.join(matching, matching.c.report_id == Report.id).add_columns(
            matching.c.text)
        text_of = True
    query = (query.order_by(Period.cutoff_end.desc(), Unit.path).limit(limit)
             .options(selectinload(Report.unit), selectinload(Report.period),
                      selectinload(Report.regime)))
    if text_of:
        return [Found(report, _excerpt(text, words)) for report, text in session.execute(query)]
    return [Found(report) for report in session.scalars(query)]


def indicator_values(session, user, indicator_id: int, *, period_id: int | None = None,
                     limit: int = 2000):
    """The values of one indicator in the reports the user may read: (report, column key,
    breakdown key, value), newest period first."""
    query = (
        select(Report, ReportValue.column_key, ReportValue.breakdown_key,
               ReportValue.number_value, ReportValue.text_value)
        .join(ReportValue, ReportValue.report_id == Report.id)
        .join(Unit, Unit.id == Report.unit_id)
        .join(Period, Period.id == Report.period_id)
        .where(ReportValue.indicator_id == indicator_id)
    )
    criterion = read_criterion(Report, user)
    if criterion is not None:
        query = query.where(criterion)
    if period_id:
        query = query.where(Report.period_id == period_id)
    query = query.order_by(Period.cutoff_end.desc(), Unit.path).limit(limit).options(
        selectinload(Report.unit), selectinload(Report.period))
    return [(report, column, breakdown, number if number is not None else text)
            for report, column, breakdown, number, text in session.execute(query)]
