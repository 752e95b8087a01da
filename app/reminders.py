"""Reminders of reports not yet sent, computed without a request: ``due_reminders(session,
today)`` returns the notices due on ``today`` (pass any date: the clock is the caller's).

A regime's ``reminder_offsets`` ("-3,-1,0,1,3") are working days from the report's deadline
(calendar_from_db: weekends, Tết and the other holidays, make-up days). A reminder goes to the
people of the report's current step (its assignees for the role when it has some, else the
unit's people holding the role for the regime); after the deadline the unit's leader too, and the
aggregators of the reviewing unit (the lead agency) get one summary of the late units.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.assignment import role_holders
from app.calendar import WorkingCalendar, calendar_from_db
from app.models import Report
from app.models.workflow import ReportAssignee
from app.notifications import Notice, notify
from app.roles import AGGREGATOR, APPROVER, DATA_ENTRY, SIGNER
from app.workflow import APPROVED, DRAFT, RETURNED, SUBMITTED, due_date, reviewing_units_of

STEP_ROLES = {DRAFT: (DATA_ENTRY, AGGREGATOR), RETURNED: (DATA_ENTRY, AGGREGATOR),
              SUBMITTED: (APPROVER,), APPROVED: (SIGNER,)}
STEP_WORDS = {DRAFT: "nhập liệu và trình duyệt", RETURNED: "sửa và trình duyệt lại",
              SUBMITTED: "duyệt", APPROVED: "ký số và gửi"}


def parse_offsets(text: str | None) -> list[int]:
    """"-3,-1,0,1,3" → [-3, -1, 0, 1, 3]; raises ValueError with a readable message."""
    if not text or not text.strip():
        return []
    try:
        return sorted({int(part) for part in text.replace(";", ",").split(",") if part.strip()})
    except ValueError:
        raise ValueError(f"Lịch nhắc không hợp lệ: «{text}». Ví dụ đúng: -3,-1,0,1,3") from None


def shift_working_days(calendar: WorkingCalendar, day: dt.date, offset: int) -> dt.date:
    """The ``offset``-th working day after ``day`` (before it when negative; ``day`` when 0)."""
    if offset >= 0:
        return calendar.add_working_days(day, offset)
    for _ in range(-offset):
        day -= dt.timedelta(days=1)
        while not calendar.is_working_day(day):
            day -= dt.timedelta(days=1)
    return day


def reminder_dates(calendar: WorkingCalendar, deadline: dt.date, offsets) -> dict[int, dt.date]:
    return {offset: shift_working_days(calendar, deadline, offset) for offset in offsets}


def _when(offset: int) -> str:
    if offset < 0:
        return f"còn {-offset} ngày làm việc đến hạn"
    if offset == 0:
        return "hôm nay là hạn gửi"
    return f"đã quá hạn {offset} ngày làm việc"


def due_reminders(session, today: dt.date, calendar: WorkingCalendar | None = None
                  ) -> list[Notice]:
    """The reminder notices due on ``today``: for each report not yet sent whose regime has a
    reminder falling on ``today``. A fixed number of queries, whatever the number of reports."""
    calendar = calendar or calendar_from_db(session)
    reports = session.scalars(
        select(Report).where(Report.state.in_(tuple(STEP_ROLES)))
        .options(selectinload(Report.period), selectinload(Report.regime),
                 selectinload(Report.unit))
    ).all()
    due: list[tuple[Report, int, dt.date]] = []  # (report, offset, deadline)
    for report in reports:
        try:
            offsets = parse_offsets(report.regime.reminder_offsets)
        except ValueError:
            continue
        deadline = due_date(report)
        hits = [o for o, day in reminder_dates(calendar, deadline, offsets).items()
                if day == today]
        if hits:
            due.append((report, hits[-1], deadline))
    if not due:
        return []
    assigned: dict[int, list[tuple[str, int]]] = {}  # report id → [(role, user id)]
    for report_id, role_name, user_id in session.execute(
            select(ReportAssignee.report_id, ReportAssignee.role_name, ReportAssignee.user_id)
            .where(ReportAssignee.report_id.in_([report.id for report, _o, _d in due]))
            .order_by(ReportAssignee.id)):
        assigned.setdefault(report_id, []).append((role_name, user_id))
    step_roles = tuple(dict.fromkeys(role for roles in STEP_ROLES.values() for role in roles))
    holders = _holders_by_regime(session, [(report.regime_id, report.unit_id)
                                           for report, _o, _d in due],
                                 roles=step_roles + (APPROVER,))
    reviewing = reviewing_units_of(session, [report for report, offset, _d in due if offset > 0])
    notices: list[Notice] = []
    late: dict[tuple[int, int, int], list[Report]] = {}  # (period, reviewing unit, offset)
    for report, offset, deadline in due:
        regime, roles = report.regime, STEP_ROLES[report.state]
        unit_holders = holders[regime.id]
        people = [user_id for role, user_id in assigned.get(report.id, []) if role in roles] or [
            user_id for role in roles for user_id in unit_holders.get((report.unit_id, role), [])]
        if offset > 0:
            people += unit_holders.get((report.unit_id, APPROVER), [])
            for unit_id in reviewing[report.id]:
                late.setdefault((report.period_id, unit_id, offset), []).append(report)
        subject = (f"Nhắc hạn báo cáo: {regime.name} — {report.period.label} "
                   f"({_when(offset)})")
        body = (f"Báo cáo «{regime.name}» kỳ {report.period.label} của {report.unit.name} "
                f"chưa được gửi: {_when(offset)} (hạn {deadline:%d/%m/%Y}). "
                f"Việc đang chờ: {STEP_WORDS[report.state]}.")
        for user_id in dict.fromkeys(people):
            notices.append(Notice(user_id, "reminder", subject, body, f"/entry/{report.id}",
                                  f"reminder:{report.id}:{offset}"))
    notices += late_summaries(session, late)
    return notices


def _holders_by_regime(session, regime_units, roles) -> dict[int, dict]:
    """``role_holders`` of each regime's units, from [(regime id, unit id)]: two queries per
    regime, whatever the number of units."""
    units_of: dict[int, set[int]] = {}
    for regime_id, unit_id in regime_units:
        units_of.setdefault(regime_id, set()).add(unit_id)
    return {regime_id: role_holders(session, regime_id, sorted(unit_ids), roles=roles)
            for regime_id, unit_ids in units_of.items()}


def late_summaries(session, late: dict[tuple[int, int, int], list[Report]]) -> list[Notice]:
    """One notice per reviewing unit's aggregator and period listing the units still late."""
    notices: list[Notice] = []
    holders = _holders_by_regime(session, [(reports[0].regime_id, unit_id) for
                                           (_p, unit_id, _o), reports in late.items()],
                                 roles=(AGGREGATOR,))
    for (period_id, unit_id, offset), reports in sorted(late.items()):
        first = reports[0]
        regime, period = first.regime, first.period
        names = sorted({report.unit.name for report in reports})
        subject = (f"Đơn vị chưa gửi báo cáo quá hạn: {regime.name} — {period.label} "
                   f"({len(names)} đơn vị)")
        body = (f"Quá hạn {offset} ngày làm việc (hạn {due_date(first):%d/%m/%Y}), "
                f"{len(names)} đơn vị chưa gửi báo cáo «{regime.name}» kỳ {period.label}: "
                + "; ".join(names) + ".")
        for user_id in holders[regime.id].get((unit_id, AGGREGATOR), []):
            notices.append(Notice(user_id, "late_summary", subject, body, "/status/",
                                  f"late:{period_id}:{unit_id}:{offset}"))
    return notices


def send_reminders(session, today: dt.date) -> int:
    """Record today's reminders (each person gets each one once); their e-mail goes through the
    outbox. Returns how many are new."""
    return notify(session, due_reminders(session, today))
