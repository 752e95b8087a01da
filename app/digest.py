"""Notices the scheduler sends each day, callable without a request (pass any date: the clock
is the caller's):

* ``reception_edge_notices``: reception of a report opens today (the period's cutoff end plus
  the regime's ``reception_opens_days``), or closed at 24:00 yesterday (the deadline passed and
  the regime takes no late reports) while the report is still not sent;
* ``digest_notices``: one daily digest per regime to the aggregators of its lead and receiving
  units: reports sent yesterday, waiting for review, accepted, not yet sent and late, for every
  period whose reception is open or was due in the last 30 days. Nothing to say, no digest.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.assignment import role_holders
from app.event_notices import NOT_YET_SENT, unit_people
from app.models import Period, Regime, Report
from app.notifications import Notice, notify
from app.roles import AGGREGATOR
from app.workflow import ACCEPTED, SENT, day_end_utc, day_start_utc, due_date

RECENT_DAYS = 30


def _opens_on(report: Report) -> dt.date:
    return report.period.cutoff_end + dt.timedelta(days=report.regime.reception_opens_days or 0)


def reception_edge_notices(session, today: dt.date) -> list[Notice]:
    """Reports not yet sent whose reception opens today or closed at the end of yesterday."""
    yesterday = today - dt.timedelta(days=1)
    reports = session.scalars(
        select(Report).join(Period, Period.id == Report.period_id)
        .where(Report.state.in_(NOT_YET_SENT),
               func.coalesce(Report.due_date, Period.deadline) >= yesterday)
        .options(selectinload(Report.period), selectinload(Report.regime),
                 selectinload(Report.unit))
    ).all()
    notices: list[Notice] = []
    for report in reports:
        regime, period = report.regime, report.period
        what = f"«{regime.name}» kỳ {period.label} của {report.unit.name}"
        deadline = due_date(report)
        if _opens_on(report) == today:
            kind, key = "reception_opens", f"opens:{report.id}"
            subject = f"Bắt đầu nhận báo cáo: {regime.name} — {period.label}"
            body = (f"Từ hôm nay hệ thống nhận báo cáo {what}; hạn gửi hết ngày "
                    f"{deadline:%d/%m/%Y}.")
        elif deadline == yesterday and not regime.accepts_late:
            kind, key = "reception_closes", f"closes:{report.id}"
            subject = f"Đã hết hạn nhận báo cáo: {regime.name} — {period.label}"
            body = (f"Hạn gửi báo cáo {what} đã hết lúc 24:00 ngày {deadline:%d/%m/%Y} và chế độ "
                    "này không nhận báo cáo muộn; báo cáo chưa được gửi. Liên hệ cơ quan chủ trì "
                    "nếu cần mở lại tiếp nhận.")
        else:
            continue
        for user_id in unit_people(session, regime.id, [report.unit_id]):
            notices.append(Notice(user_id, kind, subject, body, f"/entry/{report.id}", key))
    return notices


def digest_notices(session, today: dt.date) -> list[Notice]:
    """Today's digest of each active regime for the aggregators of its lead and receiving units."""
    yesterday_start, today_start = day_start_utc(today - dt.timedelta(days=1)), day_start_utc(today)
    notices: list[Notice] = []
    regimes = session.scalars(select(Regime).where(Regime.active.is_(True))
                              .order_by(Regime.id)).all()
    for regime in regimes:
        deadline = func.coalesce(Report.due_date, Period.deadline)
        rows = session.execute(
            select(Period.id, Period.label, Report.state, Report.sent_at,
                   deadline.label("due"))
            .join(Period, Period.id == Report.period_id)
            .where(Report.regime_id == regime.id,
                   Period.cutoff_end <= today,
                   deadline >= today - dt.timedelta(days=RECENT_DAYS))
            .order_by(Period.cutoff_end, Period.id)
        ).all()
        if not rows:
            continue
        by_period: dict[int, list] = {}
        for row in rows:
            by_period.setdefault(row.id, []).append(row)
        lines = []
        for of_period in by_period.values():
            states = Counter(row.state for row in of_period)
            unsent = sum(states[s] for s in NOT_YET_SENT)
            late = sum(1 for row in of_period if row.state in NOT_YET_SENT
                       and day_end_utc(row.due) <= today_start)
            sent_yesterday = sum(1 for row in of_period if row.sent_at is not None
                                 and yesterday_start <= row.sent_at < today_start)
            if not (states[SENT] or unsent or sent_yesterday):
                continue
            lines.append(
                f"- Kỳ {of_period[0].label}: {len(of_period)} báo cáo; gửi hôm qua "
                f"{sent_yesterday}; chờ tiếp nhận {states[SENT]}; đã tiếp nhận "
                f"{states[ACCEPTED]}; chưa gửi {unsent}, trong đó quá hạn {late}.")
        if not lines:
            continue
        unit_ids = list(dict.fromkeys((regime.lead_unit_id, regime.receiving_unit_id)))
        holders = role_holders(session, regime.id, unit_ids, roles=(AGGREGATOR,))
        people = dict.fromkeys(uid for unit_id in unit_ids
                               for uid in holders.get((unit_id, AGGREGATOR), []))
        subject = f"Tình hình báo cáo ngày {today:%d/%m/%Y}: {regime.name}"
        body = f"Chế độ báo cáo «{regime.name}», tình hình đến đầu ngày {today:%d/%m/%Y}:\n" + \
            "\n".join(lines)
        for user_id in people:
            notices.append(Notice(user_id, "digest", subject, body, "/status/",
                                  f"digest:{regime.id}:{today.isoformat()}"))
    return notices


def send_reception_edges(session, today: dt.date) -> int:
    return notify(session, reception_edge_notices(session, today))


def send_digests(session, today: dt.date) -> int:
    return notify(session, digest_notices(session, today))
