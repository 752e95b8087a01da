"""The status board of a period (theo dõi báo cáo) and the units' yearly compliance.

The board lists every report of a period with its unit, state, last action (the latest
``ReportEvent``: action, actor, time), first and last sending and a status:

- ``returned``: currently returned for correction;
- ``on_time`` / ``late``: first sent by / after the deadline;
- ``missing``: never sent and the deadline has passed;
- ``not_due``: never sent, deadline not yet passed.

The deadline is the report's ``due_date`` or else the period's deadline, ending at 24:00 Vietnam
time, extended as ``app.workflow.reception`` extends it: when the latest reception change that
applies to the unit (its own or one for everyone) at the moment judged is a reopening that
extends the deadline, the deadline becomes the later of the two. A sending is judged at the
moment of the first sending (the rule in force then), an unsent report at ``now``.

All of it is computed in SQL: the board is one query (the last event comes from a window
function; the reception change in force from a CTE of the few changes, each with the moment the
next one replaces it, joined set-based), the compliance table one GROUP BY. Callable without a request: pass the user (or None for everything) and now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import (
    DateTime,
    Integer,
    and_,
    case,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from app.models import AppUser, Period, ReceptionChange, Regime, Report, ReportEvent, Unit
from app.models.forms import utcnow
from app.scoping import read_criterion
from app.text import nfc
from app.workflow import STATES, VIETNAM_OFFSET

ON_TIME, LATE, MISSING, NOT_DUE, RETURNED = "on_time", "late", "missing", "not_due", "returned"
STATUSES = (ON_TIME, LATE, MISSING, NOT_DUE, RETURNED)
# Plain words, for use outside a request; the screens use translated labels.
STATUS_WORDS = {
    ON_TIME: "Đúng hạn",
    LATE: "Muộn",
    MISSING: "Chưa gửi (quá hạn)",
    NOT_DUE: "Chưa đến hạn",
    RETURNED: "Bị trả lại",
}
# Sorting by status puts what needs attention first.
STATUS_ORDER = (MISSING, RETURNED, LATE, NOT_DUE, ON_TIME)
SORTS = ("unit", "state", "sent", "last_sent", "status", "last_action")


# -- the deadline in SQL ------------------------------------------------------------------------

_DAY_END_HOURS = int((dt.timedelta(days=1) - VIETNAM_OFFSET).total_seconds() // 3600)  # 17


class day_end_utc_sql(FunctionElement):  # noqa: N801 (reads like a SQL function)
    """SQL for ``app.workflow.day_end_utc``: 24:00 Vietnam time of a date, as naive UTC."""

    type = DateTime()
    name = "day_end_utc"
    inherit_cache = True


@compiles(day_end_utc_sql)
def _day_end_default(element, compiler, **kw):
    day = compiler.process(element.clauses, **kw)
    return f"(CAST({day} AS TIMESTAMP) + INTERVAL '{_DAY_END_HOURS} hours')"


@compiles(day_end_utc_sql, "sqlite")
def _day_end_sqlite(element, compiler, **kw):
    # SQLAlchemy stores SQLite datetimes as "YYYY-MM-DD HH:MM:SS.ffffff": match it so that
    # text comparison with stored times is exact.
    day = compiler.process(element.clauses, **kw)
    return f"(datetime({day}, '+{_DAY_END_HOURS} hours') || '.000000')"


def due_date_sql(report=Report, period=Period):
    """The report's own due date, else its period's deadline (``app.workflow.due_date``)."""
    return func.coalesce(report.due_date, period.deadline)


def _changes_cte(period_id: int | None = None):
    """The reception changes, each with the moment the next change of the same scope (that
    unit, or everyone) replaces it: the change in force at T is the one with at <= T < next.
    A handful of rows per period; joining them is set-based, where a "latest change" subquery
    per report costs a sort per row."""
    rc = ReceptionChange
    extends = case(
        (and_(rc.action == "reopen", rc.extends_deadline.is_(True), rc.until.is_not(None)),
         rc.until),
        else_=None,
    )
    query = select(
        rc.id, rc.period_id, rc.unit_id, rc.at, extends.label("ext"),
        func.lead(rc.at)
        .over(partition_by=(rc.period_id, rc.unit_id), order_by=(rc.at, rc.id))
        .label("next_at"),
    )
    if period_id is not None:
        query = query.where(rc.period_id == period_id)
    return query.cte("changes")


def _join_extension(query, changes, moment, name: str):
    """Outer-join the change in force at ``moment`` for the report's unit and the one for
    everyone; return the query and until when the later of the two extends the deadline (NULL
    when it does not): the rule of ``app.workflow.reception``."""
    own, everyone = changes.alias(f"{name}_own"), changes.alias(f"{name}_all")

    def in_force(change):
        return and_(change.c.period_id == Report.period_id, change.c.at <= moment,
                    or_(change.c.next_at.is_(None), change.c.next_at > moment))

    query = query.outerjoin(own, and_(own.c.unit_id == Report.unit_id, in_force(own)))
    query = query.outerjoin(everyone, and_(everyone.c.unit_id.is_(None), in_force(everyone)))
    own_wins = and_(
        own.c.id.is_not(None),
        or_(everyone.c.id.is_(None), own.c.at > everyone.c.at,
            and_(own.c.at == everyone.c.at, own.c.id > everyone.c.id)),
    )
    return query, case((own_wins, own.c.ext), else_=everyone.c.ext)


def _later(base, extension):
    return case((and_(extension.is_not(None), extension > base), extension), else_=base)


def _with_timing(query, now: dt.datetime, period_id: int | None = None):
    """Add to a query over Report (joined to Period) the base deadline, the extension in force
    at the first sending and the one in force now."""
    changes = _changes_cte(period_id)
    query, at_first = _join_extension(query, changes, Report.first_sent_at, "first")
    query, at_now = _join_extension(query, changes, literal(now, DateTime()), "now")
    return query.add_columns(
        day_end_utc_sql(due_date_sql()).label("base_deadline"),
        at_first.label("ext_at_first"),
        at_now.label("ext_now"),
    )


def _status_sql(inner, now: dt.datetime):
    """The status of each row of ``inner`` (which has state, first_sent_at and the timing
    columns)."""
    now_param = literal(now, DateTime())
    deadline_first = _later(inner.c.base_deadline, inner.c.ext_at_first)
    deadline_now = _later(inner.c.base_deadline, inner.c.ext_now)
    return case(
        (inner.c.state == RETURNED, literal(RETURNED)),
        (and_(inner.c.first_sent_at.is_not(None), inner.c.first_sent_at <= deadline_first),
         literal(ON_TIME)),
        (inner.c.first_sent_at.is_not(None), literal(LATE)),
        (now_param > deadline_now, literal(MISSING)),
        else_=literal(NOT_DUE),
    ), deadline_now


def _rank(values: tuple[str, ...], column):
    return case({value: index for index, value in enumerate(values)}, value=column,
                else_=len(values))


# -- the board ----------------------------------------------------------------------------------


@dataclass
class BoardRow:
    report_id: int
    unit_id: int
    unit_name: str
    unit_code: str | None
    unit_path: str
    form_code: str
    state: str
    status: str
    deadline_at: dt.datetime
    first_sent_at: dt.datetime | None
    sent_at: dt.datetime | None
    accepted_at: dt.datetime | None
    last_action: str | None
    last_actor: str | None
    last_at: dt.datetime | None


@dataclass
class Board:
    period_id: int
    now: dt.datetime
    rows: list[BoardRow]
    # counts per status over the rows that match every filter but the status one
    summary: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.summary.values())


def _full_name(last_name, first_name) -> str | None:
    if last_name is None and first_name is None:
        return None
    return f"{last_name or ''} {first_name or ''}".strip()


def board_query(
    period_id: int,
    criterion,
    *,
    now: dt.datetime,
    form_code: str | None = None,
    state: str | None = None,
    subtree_path: str | None = None,
    text: str | None = None,
    sort: str = "unit",
    descending: bool = False,
):
    """The SELECT of the board (without the status filter): one statement. ``criterion`` is
    the scope (``read_criterion(Report, user)``; None reads everything)."""
    in_period = Report.period_id == period_id
    ranked = (
        select(
            ReportEvent.report_id,
            ReportEvent.action,
            ReportEvent.actor_id,
            ReportEvent.at,
            func.row_number()
            .over(partition_by=ReportEvent.report_id,
                  order_by=(ReportEvent.at.desc(), ReportEvent.id.desc()))
            .label("rn"),
        )
        .join(Report, Report.id == ReportEvent.report_id)
        .where(in_period)
        .subquery("ranked")
    )
    conditions = [in_period]
    if criterion is not None:
        conditions.append(criterion)
    if form_code:
        conditions.append(Report.form_code == form_code)
    if state:
        conditions.append(Report.state == state)
    if subtree_path:
        conditions.append(Unit.path.like(subtree_path + "%"))
    if text and nfc(text):
        needle = nfc(text)
        conditions.append(or_(Unit.name.icontains(needle, autoescape=True),
                              Unit.admin_code.icontains(needle, autoescape=True)))
    actor = aliased(AppUser)
    inner = (
        select(
            Report.id.label("report_id"),
            Report.unit_id,
            Unit.name.label("unit_name"),
            func.coalesce(Unit.admin_code, Unit.internal_code).label("unit_code"),
            Unit.path.label("unit_path"),
            Report.form_code,
            Report.state,
            Report.first_sent_at,
            Report.sent_at,
            Report.accepted_at,
            ranked.c.action.label("last_action"),
            ranked.c.at.label("last_at"),
            actor.last_name.label("actor_last_name"),
            actor.first_name.label("actor_first_name"),
        )
        .join(Unit, Unit.id == Report.unit_id)
        .join(Period, Period.id == Report.period_id)
        .outerjoin(ranked, and_(ranked.c.report_id == Report.id, ranked.c.rn == 1))
        .outerjoin(actor, actor.id == ranked.c.actor_id)
    )
    inner = _with_timing(inner, now, period_id).where(*conditions).subquery("board")
    status, deadline_now = _status_sql(inner, now)
    status = status.label("status")
    keys = {
        "unit": [inner.c.unit_name],
        "state": [_rank(STATES, inner.c.state)],
        "sent": [inner.c.first_sent_at],
        "last_sent": [inner.c.sent_at],
        "status": [_rank(STATUS_ORDER, status)],
        "last_action": [inner.c.last_at],
    }.get(sort, [inner.c.unit_name])
    order = [(k.desc() if descending else k.asc()).nulls_last() for k in keys]
    order += [inner.c.unit_name, inner.c.report_id]
    return select(
        inner.c.report_id, inner.c.unit_id, inner.c.unit_name, inner.c.unit_code,
        inner.c.unit_path, inner.c.form_code, inner.c.state, status,
        deadline_now.label("deadline_at"), inner.c.first_sent_at, inner.c.sent_at,
        inner.c.accepted_at, inner.c.last_action, inner.c.actor_last_name,
        inner.c.actor_first_name, inner.c.last_at,
    ).order_by(*order)


def status_board(
    session,
    period: Period | int,
    user=None,
    *,
    now: dt.datetime | None = None,
    form_code: str | None = None,
    state: str | None = None,
    status: str | None = None,
    subtree_path: str | None = None,
    text: str | None = None,
    sort: str = "unit",
    descending: bool = False,
    scoped: bool = True,
) -> Board:
    """Every report of the period that ``user`` may read, filtered and sorted, with the counts
    per status. ``scoped=False`` reads everything (jobs, benchmarks); otherwise a ``user`` of
    None reads nothing."""
    now = now or utcnow()
    period_id = period if isinstance(period, int) else period.id
    query = board_query(
        period_id, read_criterion(Report, user) if scoped else None, now=now,
        form_code=form_code, state=state, subtree_path=subtree_path, text=text, sort=sort,
        descending=descending,
    )
    summary = dict.fromkeys(STATUSES, 0)
    rows = []
    for (report_id, unit_id, unit_name, unit_code, unit_path, form, report_state,
         report_status, deadline_at, first_sent_at, sent_at, accepted_at, last_action,
         actor_last_name, actor_first_name, last_at) in session.execute(query).all():
        summary[report_status] += 1
        if status and report_status != status:
            continue
        rows.append(BoardRow(
            report_id, unit_id, unit_name, unit_code, unit_path, form, report_state,
            report_status, deadline_at, first_sent_at, sent_at, accepted_at, last_action,
            _full_name(actor_last_name, actor_first_name), last_at,
        ))
    return Board(period_id=period_id, now=now, rows=rows, summary=summary)


# -- choosing a period --------------------------------------------------------------------------


def board_regimes(session, user) -> list[Regime]:
    """Regimes with at least one report the user may read."""
    query = select(Report.regime_id).distinct()
    criterion = read_criterion(Report, user)
    if criterion is not None:
        query = query.where(criterion)
    return session.scalars(
        select(Regime).where(Regime.id.in_(query.scalar_subquery())).order_by(Regime.name)
    ).all()


def board_periods(session, user, regime_id: int | None = None) -> list[Period]:
    """Periods with at least one report the user may read, latest deadline first."""
    query = select(Report.period_id).distinct()
    criterion = read_criterion(Report, user)
    if criterion is not None:
        query = query.where(criterion)
    if regime_id is not None:
        query = query.where(Report.regime_id == regime_id)
    return session.scalars(
        select(Period).where(Period.id.in_(query.scalar_subquery()))
        .order_by(Period.deadline.desc(), Period.id.desc())
    ).all()


def default_period(periods: list[Period], today: dt.date, near_days: int = 7) -> Period | None:
    """The latest period whose deadline has passed or is within ``near_days``; else the one due
    soonest."""
    horizon = today + dt.timedelta(days=near_days)
    passed = [p for p in periods if p.deadline <= horizon]
    if passed:
        return max(passed, key=lambda p: (p.deadline, p.id))
    return min(periods, key=lambda p: (p.deadline, p.id)) if periods else None


# -- compliance ---------------------------------------------------------------------------------


@dataclass
class ComplianceRow:
    unit_id: int
    unit_name: str
    unit_code: str | None
    assigned: int
    on_time: int
    late: int
    missing: int

    @property
    def not_due(self) -> int:
        return self.assigned - self.on_time - self.late - self.missing

    @property
    def on_time_rate(self) -> float | None:
        """On time among the reports already due (sent, or missing)."""
        due = self.on_time + self.late + self.missing
        return None if due == 0 else self.on_time / due


def _compliance_counts(session, year: int, user, group_by: str, *,
                       regime_id: int | None = None, subtree_path: str | None = None,
                       now: dt.datetime | None = None, scoped: bool = True):
    """One GROUP BY over the reports whose deadline falls in ``year``, by unit or by the month
    of the deadline: assigned, on time, late (judged at the first sending), missing."""
    now = now or utcnow()
    due = due_date_sql()
    conditions = [due >= dt.date(year, 1, 1), due < dt.date(year + 1, 1, 1)]
    if regime_id is not None:
        conditions.append(Report.regime_id == regime_id)
    if scoped:
        criterion = read_criterion(Report, user)
        if criterion is not None:
            conditions.append(criterion)
    if subtree_path:
        conditions.append(Report.unit_id.in_(
            select(Unit.id).where(Unit.path.like(subtree_path + "%")).scalar_subquery()))
    group = Report.unit_id if group_by == "unit" else func.extract("month", due).cast(Integer)
    inner = select(group.label("group_key"), Report.state, Report.first_sent_at).join(
        Period, Period.id == Report.period_id)
    inner = _with_timing(inner, now).where(*conditions).subquery("timed")
    _status, deadline_now = _status_sql(inner, now)
    deadline_first = _later(inner.c.base_deadline, inner.c.ext_at_first)
    sent = inner.c.first_sent_at.is_not(None)

    def count(condition):
        return func.sum(case((condition, 1), else_=0)).cast(Integer)

    return (
        select(
            inner.c.group_key,
            func.count().label("assigned"),
            count(and_(sent, inner.c.first_sent_at <= deadline_first)).label("on_time"),
            count(and_(sent, inner.c.first_sent_at > deadline_first)).label("late"),
            count(and_(~sent, literal(now, DateTime()) > deadline_now)).label("missing"),
        )
        .group_by(inner.c.group_key)
        .subquery("counts")
    )


def compliance(
    session,
    year: int,
    user=None,
    *,
    regime_id: int | None = None,
    subtree_path: str | None = None,
    now: dt.datetime | None = None,
    scoped: bool = True,
) -> list[ComplianceRow]:
    """Per unit, the reports whose deadline (own due date or the period's) falls in ``year``:
    how many were assigned, sent on time, sent late (judged at the first sending) and missing
    (never sent, deadline passed). One GROUP BY (seed 004 Art. 17.4)."""
    per_unit = _compliance_counts(session, year, user, "unit", regime_id=regime_id,
                                  subtree_path=subtree_path, now=now, scoped=scoped)
    rows = session.execute(
        select(per_unit, Unit.name, func.coalesce(Unit.admin_code, Unit.internal_code))
        .join(Unit, Unit.id == per_unit.c.group_key)
        .order_by(Unit.name, Unit.id)
    )
    return [
        ComplianceRow(unit_id=r[0], assigned=r[1], on_time=r[2], late=r[3], missing=r[4],
                      unit_name=r[5], unit_code=r[6])
        for r in rows
    ]


@dataclass
class ComplianceMonth:
    month: int  # of the deadline
    assigned: int = 0
    on_time: int = 0
    late: int = 0
    missing: int = 0


def compliance_by_month(session, year: int, user=None, **filters) -> list[ComplianceMonth]:
    """The same counts as ``compliance`` (and its filters: regime_id, subtree_path, now,
    scoped) for every month of ``year``, by the month of each report's deadline: the twelve
    months in order, months without reports as zeros."""
    per_month = _compliance_counts(session, year, user, "month", **filters)
    found = {r[0]: ComplianceMonth(*r) for r in session.execute(select(per_month))}
    return [found.get(month, ComplianceMonth(month)) for month in range(1, 13)]
