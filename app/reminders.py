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
from app.workflow import APPROVED, DRAFT, RETURNED, SUBMITTED, due_date, reviewing_unit_ids

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
    reminder falling on ``today``."""
    calendar = calendar or calendar_from_db(session)
    reports = session.scalars(
        select(Report).where(Report.state.in_(tuple(STEP_ROLES)))
        .options(selectinload(Report.period), selectinload(Report.regime),
                 selectinload(Report.unit))
    ).all()
    notices: list[Notice] = []
    late: dict[tuple[int, int, int], list[Report]] = {}  # (period, reviewing unit, offset)
    for report in reports:
        regime = report.regime
        try:
            offsets = parse_offsets(regime.reminder_offsets)
        except ValueError:
            continue
        deadline = due_date(report)
        hits = [o for o, day in reminder_dates(calendar, deadline, offsets).items()
                if day == today]
        if not hits:
            continue
        offset = hits[-1]
        roles = STEP_ROLES[report.state]
        assigned = [row.user_id for row in session.scalars(
            select(ReportAssignee).where(ReportAssignee.report_id == report.id,
                                         ReportAssignee.role_name.in_(roles)))]
        holders = role_holders(session, regime.id, [report.unit_id],
                               roles=roles + (APPROVER,))
        people = assigned or [uid for role in roles
                              for uid in holders.get((report.unit_id, role), [])]
        if offset > 0:
            people += holders.get((report.unit_id, APPROVER), [])
            for unit_id in reviewing_unit_ids(session, report):
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


def late_summaries(session, late: dict[tuple[int, int, int], list[Report]]) -> list[Notice]:
    """One notice per reviewing unit's aggregator and period listing the units still late."""
    notices: list[Notice] = []
    for (period_id, unit_id, offset), reports in sorted(late.items()):
        first = reports[0]
        regime, period = first.regime, first.period
        holders = role_holders(session, regime.id, [unit_id], roles=(AGGREGATOR,))
        names = sorted({report.unit.name for report in reports})
        subject = (f"Đơn vị chưa gửi báo cáo quá hạn: {regime.name} — {period.label} "
                   f"({len(names)} đơn vị)")
        body = (f"Quá hạn {offset} ngày làm việc (hạn {due_date(first):%d/%m/%Y}), "
                f"{len(names)} đơn vị chưa gửi báo cáo «{regime.name}» kỳ {period.label}: "
                + "; ".join(names) + ".")
        for user_id in holders.get((unit_id, AGGREGATOR), []):
            notices.append(Notice(user_id, "late_summary", subject, body, "/status/",
                                  f"late:{period_id}:{unit_id}:{offset}"))
    return notices


def send_reminders(session, today: dt.date) -> int:
    """Record today's reminders (each person gets each one once); their e-mail goes through the
    outbox. Returns how many are new."""
    return notify(session, due_reminders(session, today))
