"""Each person's work in the reporting cycle ("Việc cần làm"), callable without a request.

Five boxes, each the reports a person may act on now, found with one SQL query per box:

- ``to_enter``: draft or returned reports of the person's unit, for those holding «Nhập liệu»
  or «Tổng hợp» (narrowed to some regimes or not) and allowed by the assignee rule;
- ``to_approve``: submitted reports of the unit, for its «Lãnh đạo duyệt»;
- ``to_send``: approved reports of the unit, for its «Ký số, gửi báo cáo» (each with why it
  cannot be sent now when the reception window is closed);
- ``to_review``: sent reports that the person's unit reviews, for its «Tổng hợp»: the broad
  candidate set comes from SQL, then ``workflow.refusal`` confirms each one so the list is
  exactly what the person may accept or return;
- ``returned``: the unit's reports returned for correction, with the reason of the last return
  or reopening;
- ``to_sign``: approved reports of a regime that requires signatures, waiting for the signature
  of the leader who approved them (app.signing.engine decides; the box mirrors it).

The SQL mirrors ``workflow.refusal`` (role held for the regime, unit, assignees); the tests
compare every box with ``workflow.available_actions`` over all reports.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased, selectinload

from app.models import Period, Regime, RegimeRoleGrant, Report, ReportEvent, Unit
from app.models.workflow import ReportAssignee
from app.roles import AGGREGATOR
from app.workflow import (
    APPROVED,
    RETURNED,
    SENT,
    TRANSITIONS,
    due_date,
    reception,
    refusal,
)

BOXES = ("to_enter", "to_approve", "to_sign", "to_send", "to_review", "returned")
# The transition a box's reports wait for (the returned box is information for the unit).
BOX_ACTIONS = {"to_enter": "submit", "to_approve": "approve", "to_send": "send",
               "to_review": "accept"}


@dataclass
class InboxItem:
    report: Report
    box: str
    due: dt.date
    reason: str | None = None  # returned: why the reviewing unit sent it back
    note: str | None = None  # to_send: why it cannot be sent at this moment


def _role_criterion(user, role_names):
    """The report's regime is one the user holds one of ``role_names`` for (a role narrowed to
    some regimes by RegimeRoleGrant rows counts for those only); None when no role is held."""
    held = [role for role in (getattr(user, "roles", None) or []) if role.name in role_names]
    if not held:
        return None
    parts = []
    for role in held:
        narrowed = select(RegimeRoleGrant.regime_id).where(
            RegimeRoleGrant.user_id == user.id, RegimeRoleGrant.role_id == role.id
        )
        parts.append(or_(~narrowed.exists(), Report.regime_id.in_(narrowed)))
    return or_(*parts)


def _assignee_criterion(user, role_names):
    """With people assigned to the report for one of the roles, only they; else everyone."""
    assigned = select(ReportAssignee.id).where(
        ReportAssignee.report_id == Report.id, ReportAssignee.role_name.in_(role_names)
    )
    return or_(~assigned.exists(), assigned.where(ReportAssignee.user_id == user.id).exists())


def _unit_side_query(user, action: str):
    transition = TRANSITIONS[action]
    roles = _role_criterion(user, transition.roles)
    if roles is None:
        return None
    return select(Report).where(
        Report.unit_id == user.unit_id,
        Report.state.in_(transition.sources),
        roles,
        _assignee_criterion(user, transition.roles),
    )


def _review_candidates(user):
    """Sent reports the user's unit may review: broad, confirmed by ``refusal`` afterwards.

    The unit reviews a report when it leads or receives the regime, or when it is an ancestor
    of the reporting unit holding its own report of the same form and period."""
    roles = _role_criterion(user, (AGGREGATOR,))
    unit = getattr(user, "unit", None)
    if roles is None or unit is None or not unit.path:
        return None
    own = aliased(Report)
    below_with_own_report = and_(
        Unit.path.like(unit.path + "%"),
        Report.unit_id != unit.id,
        select(own.id).where(
            own.unit_id == unit.id,
            own.period_id == Report.period_id,
            own.form_code == Report.form_code,
        ).exists(),
    )
    return (
        select(Report)
        .join(Regime, Regime.id == Report.regime_id)
        .join(Unit, Unit.id == Report.unit_id)
        .where(
            Report.state == SENT,
            roles,
            or_(Regime.lead_unit_id == unit.id, Regime.receiving_unit_id == unit.id,
                below_with_own_report),
        )
    )


def _box_query(user, box: str):
    if box not in BOXES:
        raise ValueError(box)
    if getattr(user, "id", None) is None or getattr(user, "unit_id", None) is None:
        return None
    if box == "to_review":
        return _review_candidates(user)
    if box == "returned":
        return select(Report).where(Report.unit_id == user.unit_id, Report.state == RETURNED)
    if box == "to_sign":
        return _to_sign(user)
    return _unit_side_query(user, BOX_ACTIONS[box])


def _to_sign(user):
    """Approved reports of regimes requiring signatures whose latest approval is the user's and
    carries no leader signature yet."""
    from app.models.signing import ReportSignature

    latest_approval = (
        select(ReportEvent.id)
        .where(ReportEvent.report_id == Report.id, ReportEvent.action == "approve")
        .order_by(ReportEvent.id.desc()).limit(1).correlate(Report).scalar_subquery()
    )
    signed = select(ReportSignature.id).where(
        ReportSignature.report_id == Report.id, ReportSignature.stage == "leader",
        ReportSignature.status == "signed", ReportSignature.approve_event_id == latest_approval,
    ).exists()
    return (
        select(Report)
        .join(Regime, Regime.id == Report.regime_id)
        .join(ReportEvent, ReportEvent.id == latest_approval)
        .where(Report.unit_id == user.unit_id, Report.state == APPROVED,
               Regime.requires_signature.is_(True), ReportEvent.actor_id == user.id, ~signed)
    )


def _ordered(query):
    """Soonest deadline first (the report's own due date, else its period's deadline)."""
    deadline = func.coalesce(Report.due_date, Period.deadline)
    return (
        query.join(Period, Period.id == Report.period_id)
        .order_by(deadline, Report.id)
        .options(selectinload(Report.period), selectinload(Report.unit),
                 selectinload(Report.regime))
    )


def inbox_reports(session, user, box: str, now: dt.datetime | None = None) -> list[InboxItem]:
    """The reports in one box of ``user``'s inbox, soonest deadline first."""
    query = _box_query(user, box)
    if query is None:
        return []
    if box == "returned":
        last_reason = (
            select(ReportEvent.reason)
            .where(ReportEvent.report_id == Report.id,
                   ReportEvent.action.in_(("return", "reopen")))
            .order_by(ReportEvent.id.desc())
            .limit(1)
            .correlate(Report)
            .scalar_subquery()
        )
        rows = session.execute(_ordered(query.add_columns(last_reason))).all()
        return [InboxItem(report, box, due_date(report), reason=reason) for report, reason in rows]
    reports = session.scalars(_ordered(query)).unique().all()
    if box == "to_review":
        reports = [r for r in reports if refusal(session, user, r, "accept", now) is None]
    items = [InboxItem(report, box, due_date(report)) for report in reports]
    if box == "to_send":
        for item in items:
            window = reception(session, item.report, now)
            if not window.open:
                item.note = window.message
            elif item.report.regime.requires_signature:
                item.note = _signing_note(session, item.report)
    return items


def _signing_note(session, report: Report) -> str | None:
    """What the report still needs before the clerk can send it, when its regime requires
    signatures."""
    from app.signing.engine import AGENCY, LEADER, STAGE_WORDS, next_stage

    stage = next_stage(session, report)
    if stage == LEADER:
        return f"Chờ {STAGE_WORDS[LEADER]}."
    if stage == AGENCY:
        return f"Cần {STAGE_WORDS[AGENCY]} trước khi gửi."
    return None


def inbox_counts(session, user, now: dt.datetime | None = None) -> dict[str, int]:
    """How many reports each box holds: one COUNT per box, except the reviewing box whose
    candidates are confirmed one by one with ``workflow.refusal``."""
    counts = {}
    for box in BOXES:
        if box == "to_review":
            counts[box] = len(inbox_reports(session, user, box, now))
            continue
        query = _box_query(user, box)
        if query is None:
            counts[box] = 0
            continue
        counts[box] = session.scalar(
            select(func.count()).select_from(query.with_only_columns(Report.id).subquery())
        ) or 0
    return counts


def inbox_total(counts: dict[str, int]) -> int:
    """The work waiting for the person (the returned box repeats reports already in to_enter,
    so it is not added)."""
    return sum(count for box, count in counts.items() if box != "returned")

