"""The reporting cycle as one state machine (seed 001 Art. 7, 9, 10, 16; seed 004 Art. 14-17).

    draft ──submit──▶ submitted ──approve──▶ approved ──send──▶ sent ──accept──▶ accepted
      ▲                  │                                      │                  │
      └─────reject───────┘             returned ◀────return─────┘                  │
                                          │  ▲──────────────reopen (correction)────┘
                                          └──submit──▶ submitted …

Every transition is checked here and nowhere else: the actor's role and unit, the report's
state, the reception window (for sending) and, when the caller says which revision it saw, that
nobody moved or changed the report in the meantime. A refused transition raises
``TransitionRefused`` with a Vietnamese message that says why. Every transition writes a
``ReportEvent`` with the hash of the values at that moment; sending writes a ``ReportVersion``
that is never overwritten. Callable without a request: pass the user and the time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, or_, select, update

from app.errors import DomainError
from app.models import (
    RegimeRoleGrant,
    Report,
    ReportComment,
    ReportEvent,
    ReportVersion,
    Unit,
)
from app.models.forms import utcnow
from app.roles import AGGREGATOR, APPROVER, DATA_ENTRY, SIGNER

DRAFT, SUBMITTED, APPROVED, SENT, ACCEPTED, RETURNED = (
    "draft", "submitted", "approved", "sent", "accepted", "returned",
)
STATES = (DRAFT, SUBMITTED, APPROVED, SENT, ACCEPTED, RETURNED)
EDITABLE_STATES = (DRAFT, RETURNED)
STATE_WORDS = {
    DRAFT: "đang nhập",
    SUBMITTED: "chờ lãnh đạo duyệt",
    APPROVED: "đã duyệt, chờ ký gửi",
    SENT: "đã gửi, chờ tiếp nhận",
    ACCEPTED: "đã được tiếp nhận",
    RETURNED: "bị trả lại để sửa",
}

UNIT_SIDE, REVIEWER_SIDE = "unit", "reviewer"


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str
    side: str  # who acts: the reporting unit's people, or the reviewing (lead) agency
    roles: tuple[str, ...]
    needs_reason: bool
    label: str  # the button
    done: str  # the message after it


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("submit", (DRAFT, RETURNED), SUBMITTED, UNIT_SIDE, (DATA_ENTRY, AGGREGATOR),
                   False, "Trình lãnh đạo duyệt", "Đã trình lãnh đạo duyệt."),
        Transition("approve", (SUBMITTED,), APPROVED, UNIT_SIDE, (APPROVER,),
                   False, "Duyệt", "Đã duyệt báo cáo."),
        Transition("reject", (SUBMITTED,), DRAFT, UNIT_SIDE, (APPROVER,),
                   True, "Từ chối, trả về người nhập", "Đã trả báo cáo về người nhập."),
        Transition("send", (APPROVED,), SENT, UNIT_SIDE, (SIGNER,),
                   False, "Ký số và gửi", "Đã gửi báo cáo."),
        Transition("accept", (SENT,), ACCEPTED, REVIEWER_SIDE, (AGGREGATOR,),
                   False, "Tiếp nhận", "Đã tiếp nhận báo cáo."),
        Transition("return", (SENT,), RETURNED, REVIEWER_SIDE, (AGGREGATOR,),
                   True, "Trả lại để sửa", "Đã trả lại báo cáo cho đơn vị."),
        Transition("reopen", (ACCEPTED,), RETURNED, REVIEWER_SIDE, (AGGREGATOR,),
                   True, "Mở lại để đính chính", "Đã mở lại báo cáo để đính chính."),
        Transition("request_correction", (ACCEPTED,), ACCEPTED, UNIT_SIDE, (APPROVER, SIGNER),
                   True, "Đề nghị đính chính", "Đã gửi đề nghị đính chính tới cơ quan chủ trì."),
    )
}


class TransitionRefused(DomainError):
    """A transition that may not happen now, with the reason."""


class TransitionConflict(TransitionRefused):
    """The report changed since the person loaded it (optimistic locking)."""


# -- hooks --------------------------------------------------------------------------------------
# Called inside the transaction of a send, after the version is written and before the event:
# hook(session, report, version, user). The signing feature plugs in here; a hook that raises
# TransitionRefused stops the send and nothing is written.
SEND_HOOKS: list[Callable] = []
# Called after any transition: hook(session, report, event). Consolidations mark themselves
# revised here when a report they were computed from is reopened.
AFTER_TRANSITION_HOOKS: list[Callable] = []


# -- time -----------------------------------------------------------------------------------------
VIETNAM_OFFSET = dt.timedelta(hours=7)  # Asia/Ho_Chi_Minh has no daylight saving time


def day_start_utc(day: dt.date) -> dt.datetime:
    """00:00 of a day in Vietnam, as a naive UTC datetime (how times are stored)."""
    return dt.datetime.combine(day, dt.time()) - VIETNAM_OFFSET


def day_end_utc(day: dt.date) -> dt.datetime:
    """24:00 of a day in Vietnam (a deadline day ends then), as a naive UTC datetime."""
    return day_start_utc(day + dt.timedelta(days=1))


def vietnam_time(moment: dt.datetime) -> dt.datetime:
    return moment + VIETNAM_OFFSET


# -- reception window -------------------------------------------------------------------------


@dataclass
class Reception:
    open: bool
    late: bool
    opens_at: dt.datetime
    deadline_at: dt.datetime
    message: str = ""  # why it is closed


def due_date(report: Report) -> dt.date:
    return report.due_date or report.period.deadline


def reception(session, report: Report, now: dt.datetime | None = None) -> Reception:
    """Whether the report can be sent at ``now`` (UTC) and whether it would count late.

    Sending opens ``reception_opens_days`` after the period's cutoff end and is due by 24:00 of
    the deadline day (Vietnam time); after that it is accepted and marked late, unless the regime
    refuses late reports. The lead agency's latest close/reopen for this unit or for everyone
    overrides both."""
    from app.models import ReceptionChange

    now = now or utcnow()
    period, regime = report.period, report.regime
    opens_at = day_start_utc(period.cutoff_end + dt.timedelta(days=regime.reception_opens_days or 0))
    deadline_at = day_end_utc(due_date(report))
    change = session.scalars(
        select(ReceptionChange)
        .where(
            ReceptionChange.period_id == report.period_id,
            or_(ReceptionChange.unit_id == report.unit_id, ReceptionChange.unit_id.is_(None)),
            ReceptionChange.at <= now,
        )
        .order_by(ReceptionChange.at.desc(), ReceptionChange.id.desc())
        .limit(1)
    ).first()
    if change is not None and change.action == "close":
        return Reception(False, now > deadline_at, opens_at, deadline_at,
                         f"Cơ quan chủ trì đã đóng tiếp nhận lúc {_shown(change.at)}: "
                         f"{change.reason}")
    if change is not None and change.action == "reopen":
        if change.extends_deadline and change.until is not None:
            deadline_at = max(deadline_at, change.until)
        if change.until is not None and now > change.until:
            return Reception(False, True, opens_at, deadline_at,
                             f"Thời gian mở lại tiếp nhận đã hết lúc {_shown(change.until)}.")
        return Reception(True, now > deadline_at, opens_at, deadline_at)
    if now < opens_at:
        return Reception(False, False, opens_at, deadline_at,
                         f"Chưa đến thời gian gửi báo cáo: nhận từ {_shown(opens_at)}.")
    late = now > deadline_at
    if late and not regime.accepts_late:
        return Reception(False, True, opens_at, deadline_at,
                         f"Đã quá hạn gửi ({_shown(deadline_at)}) và chế độ này không nhận "
                         "báo cáo muộn.")
    return Reception(True, late, opens_at, deadline_at)


def _shown(moment: dt.datetime) -> str:
    return vietnam_time(moment).strftime("%H:%M %d/%m/%Y")


# -- who may act ------------------------------------------------------------------------------


def role_names(user) -> set[str]:
    return {role.name for role in (getattr(user, "roles", None) or [])}


def holds_role(session, user, role_name: str, regime_id: int) -> bool:
    """The user holds the role, and (when the role is narrowed to some regimes) for this one."""
    roles = {role.name: role for role in (getattr(user, "roles", None) or [])}
    role = roles.get(role_name)
    if role is None:
        return False
    narrowed = session.scalars(
        select(RegimeRoleGrant.regime_id).where(
            RegimeRoleGrant.user_id == user.id, RegimeRoleGrant.role_id == role.id
        )
    ).all()
    return not narrowed or regime_id in narrowed


def reviewing_unit_ids(session, report: Report) -> set[int]:
    """Units whose aggregators review the report: the nearest unit above it that has its own
    report of the same form and period (a department over its branches, a consolidation), else
    the regime's lead and receiving units."""
    return reviewing_units_of(session, [report])[report.id]


def reviewing_units_of(session, reports) -> dict[int, set[int]]:
    """``reviewing_unit_ids`` of many reports, by report id, in one query."""
    above = {report.id: [int(part) for part in (report.unit.path or "").strip("/").split("/")
                         if part and int(part) != report.unit_id] for report in reports}
    ancestor_ids = {unit_id for ids in above.values() for unit_id in ids}
    holding: dict[tuple[int, str], dict[int, int]] = {}  # (period, form) → {unit: depth}
    if ancestor_ids:
        for unit_id, depth, period_id, form_code in session.execute(
                select(Report.unit_id, Unit.depth, Report.period_id, Report.form_code)
                .join(Unit, Unit.id == Report.unit_id)
                .where(Report.unit_id.in_(sorted(ancestor_ids)),
                       Report.period_id.in_(sorted({r.period_id for r in reports})))):
            holding.setdefault((period_id, form_code), {})[unit_id] = depth
    reviewing = {}
    for report in reports:
        held = holding.get((report.period_id, report.form_code), {})
        nearest = max((unit_id for unit_id in above[report.id] if unit_id in held),
                      key=held.get, default=None)
        reviewing[report.id] = ({nearest} if nearest is not None else
                                {report.regime.lead_unit_id, report.regime.receiving_unit_id})
    return reviewing


def refusal(session, user, report: Report, action: str, now: dt.datetime | None = None) -> str | None:
    """Why ``user`` may not do ``action`` on ``report`` now, or None when they may."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        return f"Không có thao tác «{action}»."
    if user is None or getattr(user, "id", None) is None:
        return "Cần đăng nhập."
    if report.state not in transition.sources:
        return (f"Báo cáo đang ở trạng thái «{STATE_WORDS.get(report.state, report.state)}», "
                f"không thể «{transition.label.lower()}».")
    if not any(holds_role(session, user, role, report.regime_id) for role in transition.roles):
        return (f"Thao tác «{transition.label.lower()}» cần vai trò "
                f"{' hoặc '.join('«' + r + '»' for r in transition.roles)}.")
    if transition.side == UNIT_SIDE:
        if user.unit_id != report.unit_id:
            return "Chỉ người của đơn vị báo cáo mới làm được thao tác này."
        if not _is_assignee(session, user, report, transition.roles):
            return "Bạn không được phân công cho báo cáo này ở bước này."
    else:
        if user.unit_id not in reviewing_unit_ids(session, report):
            return "Chỉ cơ quan tiếp nhận báo cáo mới làm được thao tác này."
    if action == "send":
        window = reception(session, report, now)
        if not window.open:
            return window.message
    return None


def _is_assignee(session, user, report: Report, roles: tuple[str, ...]) -> bool:
    """With people assigned to the report for one of the roles, only they may act; without any,
    everyone of the unit holding the role may."""
    from app.models import ReportAssignee

    assigned = session.scalars(
        select(ReportAssignee.user_id).where(
            ReportAssignee.report_id == report.id, ReportAssignee.role_name.in_(roles)
        )
    ).all()
    return not assigned or user.id in assigned


def available_actions(session, user, report: Report, now: dt.datetime | None = None) -> list[Transition]:
    """The transitions the user may do now (for the buttons of the report page)."""
    return [t for a, t in TRANSITIONS.items() if refusal(session, user, report, a, now) is None]


# -- canonical values -------------------------------------------------------------------------


def _canonical_number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def canonical_values(session, report: Report) -> tuple[str, str]:
    """The report's values (entry, computed and narrative) as canonical JSON — keys sorted,
    numbers as plain decimal strings without exponent or trailing zeros, blanks left out — and
    its SHA-256."""
    from app.reports import report_values

    values = report_values(session, report)
    plain = {}
    for key, value in values.items():
        if value is None or (isinstance(value, str) and value == ""):
            continue
        plain[key] = _canonical_number(value) if isinstance(value, Decimal) else str(value)
    text = json.dumps(plain, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- doing it ---------------------------------------------------------------------------------


def transition(
    session,
    report: Report,
    action: str,
    user,
    *,
    reason: str | None = None,
    cell_comments: dict[str, str] | None = None,
    expected_revision: int | None = None,
    now: dt.datetime | None = None,
) -> ReportEvent:
    """Do ``action`` on the report as ``user``; the caller commits.

    ``expected_revision`` is the report revision the person saw: if the report was saved or
    moved since, the transition is refused (TransitionConflict) instead of acting on values they
    have not seen. ``cell_comments`` (cell key → text) go with a return or a reopening."""
    from app.reports import lock_report, validate_values, values_for_validation

    now = now or utcnow()
    transition_ = TRANSITIONS.get(action)
    if transition_ is None:
        raise TransitionRefused(f"Không có thao tác «{action}».")
    reason = (reason or "").strip() or None
    if transition_.needs_reason and not reason:
        raise TransitionRefused(f"Cần ghi lý do khi «{transition_.label.lower()}».", field="reason")

    lock_report(session, report)
    session.refresh(report)  # the state and revision as they are now, under the lock
    if expected_revision is not None and report.revision != expected_revision:
        raise TransitionConflict(
            "Báo cáo vừa được người khác lưu hoặc chuyển bước "
            f"(hiện đang {STATE_WORDS.get(report.state, report.state)}); "
            "hãy tải lại trang để xem bản mới nhất."
        )
    why_not = refusal(session, user, report, action, now)
    if why_not:
        raise TransitionRefused(why_not)
    if action == "submit":
        errors = [p for p in validate_values(*values_for_validation(session, report))
                  if p.severity == "error"]
        if errors:
            first = errors[0]
            raise TransitionRefused(
                f"Báo cáo còn {len(errors)} lỗi, chưa trình được. Lỗi đầu tiên: "
                f"sheet «{first.sheet}», dòng {first.row}, cột {first.column}: {first.message}."
            )

    from_state = report.state
    values_text, values_hash = canonical_values(session, report)
    version = None
    if action == "submit":
        report.submitted_at = now
    elif action == "send":
        window = reception(session, report, now)
        version = _write_version(session, report, user, now, window.late,
                                 values_text, values_hash)
        report.sent_at = now
        report.first_sent_at = report.first_sent_at or now
        report.sent_late = window.late
        for hook in SEND_HOOKS:
            hook(session, report, version, user)
    elif action in ("accept", "return"):
        version = _latest_version(session, report)
        if version is not None:
            if action == "accept":
                _supersede_accepted(session, report, version, now)
            version.outcome = "accepted" if action == "accept" else "returned"
            version.decided_at = now
            version.decided_by_id = user.id
        if action == "accept":
            report.accepted_at = now
    elif action == "reopen":
        report.revised = True
        version = _latest_version(session, report)

    report.state = transition_.target
    report.revision = Report.revision + 1  # in SQL: two transitions can't both start from one
    report.updated_at = now
    report.updated_by_id = user.id
    session.flush()
    session.refresh(report, ["revision"])
    event = ReportEvent(
        report_id=report.id, action=action, from_state=from_state, to_state=report.state,
        actor_id=user.id, at=now, reason=reason, values_hash=values_hash,
        revision=report.revision, version_id=version.id if version is not None else None,
    )
    session.add(event)
    session.flush()
    if reason:
        session.add(ReportComment(report_id=report.id, event_id=event.id, author_id=user.id,
                                  at=now, body=reason))
    for cell_key, text in (cell_comments or {}).items():
        if text and text.strip():
            session.add(ReportComment(report_id=report.id, event_id=event.id, cell_key=cell_key,
                                      author_id=user.id, at=now, body=text.strip()))
    session.flush()
    for hook in AFTER_TRANSITION_HOOKS:
        hook(session, report, event)
    return event


def _write_version(session, report: Report, user, now: dt.datetime, late: bool,
                   text: str, digest: str) -> ReportVersion:
    number = (session.scalar(
        select(func.max(ReportVersion.number)).where(ReportVersion.report_id == report.id)
    ) or 0) + 1
    version = ReportVersion(
        report_id=report.id, number=number, form_version_id=report.form_version_id,
        sent_at=now, sent_by_id=user.id, late=late, values_json=text, values_hash=digest,
        outcome="sent",
    )
    session.add(version)
    session.flush()
    return version


def _latest_version(session, report: Report) -> ReportVersion | None:
    return session.scalars(
        select(ReportVersion)
        .where(ReportVersion.report_id == report.id)
        .order_by(ReportVersion.number.desc())
        .limit(1)
    ).first()


def _supersede_accepted(session, report: Report, newer: ReportVersion, now: dt.datetime) -> None:
    """A correction accepted: the version accepted before stays readable, marked superseded."""
    session.execute(
        update(ReportVersion)
        .where(
            ReportVersion.report_id == report.id,
            ReportVersion.outcome == "accepted",
            ReportVersion.id != newer.id,
        )
        .values(outcome="superseded")
    )


def add_comment(session, report: Report, user, body: str, cell_key: str | None = None) -> ReportComment:
    """A comment in the report's thread (optionally on a cell), outside any transition."""
    body = (body or "").strip()
    if not body:
        raise DomainError("Nội dung ý kiến đang trống.", field="body")
    comment = ReportComment(report_id=report.id, cell_key=cell_key, author_id=user.id,
                            at=utcnow(), body=body)
    session.add(comment)
    session.flush()
    return comment


def thread(session, report: Report) -> list[ReportComment]:
    """Every reason and comment of the report, oldest first."""
    return session.scalars(
        select(ReportComment).where(ReportComment.report_id == report.id)
        .order_by(ReportComment.at, ReportComment.id)
    ).all()


def version_values(version: ReportVersion) -> dict[str, str]:
    """A sent version's values as they were sent (canonical strings)."""
    return json.loads(version.values_json)
