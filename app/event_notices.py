"""Notices of events, callable without a request: a report rejected by the leader or returned by
the lead agency (with the reason) and a report accepted (an AFTER_TRANSITION_HOOKS hook,
registered when this module is imported; app.create_app imports it); reception closed or
reopened by the lead agency; a new ad-hoc request; an account created."""

from __future__ import annotations

from sqlalchemy import select

from app.assignment import role_holders
from app.models import Report
from app.models.workflow import ReportAssignee
from app.notifications import Notice, notify
from app.roles import AGGREGATOR, APPROVER, DATA_ENTRY, SIGNER
from app.workflow import AFTER_TRANSITION_HOOKS, APPROVED, DRAFT, RETURNED, SUBMITTED, vietnam_time

ENTRY_ROLES = (DATA_ENTRY, AGGREGATOR)


def _people(session, report, roles) -> list[int]:
    """The report's assignees for the roles, else the unit's holders of them for the regime."""
    assigned = list(session.scalars(
        select(ReportAssignee.user_id).where(ReportAssignee.report_id == report.id,
                                             ReportAssignee.role_name.in_(roles))))
    if assigned:
        return assigned
    holders = role_holders(session, report.regime_id, [report.unit_id], roles=roles)
    return [uid for role in roles for uid in holders.get((report.unit_id, role), [])]


def notices_for_event(session, report, event) -> list[Notice]:
    what = f"«{report.regime.name}» kỳ {report.period.label} của {report.unit.name}"
    reason = f" Lý do: {event.reason}" if event.reason else ""
    if event.action == "reject":
        people = _people(session, report, ENTRY_ROLES)
        subject = f"Báo cáo bị lãnh đạo từ chối: {report.regime.name} — {report.period.label}"
        body = f"Báo cáo {what} đã bị lãnh đạo từ chối duyệt, cần sửa và trình lại.{reason}"
    elif event.action == "return":
        people = _people(session, report, ENTRY_ROLES) + _people(session, report, (APPROVER,))
        subject = f"Báo cáo bị trả lại: {report.regime.name} — {report.period.label}"
        body = f"Cơ quan chủ trì đã trả lại báo cáo {what} để sửa.{reason}"
    elif event.action == "accept":
        people = (_people(session, report, ENTRY_ROLES) + _people(session, report, (APPROVER,))
                  + _people(session, report, (SIGNER,)))
        subject = f"Báo cáo đã được tiếp nhận: {report.regime.name} — {report.period.label}"
        body = f"Cơ quan chủ trì đã tiếp nhận báo cáo {what}."
    else:
        return []
    return [Notice(uid, event.action, subject, body, f"/entry/{report.id}",
                   f"event:{event.id}") for uid in dict.fromkeys(people)]


def _after_transition(session, report, event) -> None:
    notify(session, notices_for_event(session, report, event))


AFTER_TRANSITION_HOOKS.append(_after_transition)


# -- reception, ad-hoc requests, accounts ---------------------------------------------------------

NOT_YET_SENT = (DRAFT, RETURNED, SUBMITTED, APPROVED)
UNIT_ROLES = (DATA_ENTRY, AGGREGATOR, APPROVER, SIGNER)


def unit_people(session, regime_id: int, unit_ids) -> list[int]:
    """The people of the units who work on the regime's reports (entry, leader, signer)."""
    unit_ids = list(dict.fromkeys(unit_ids))
    if not unit_ids:
        return []
    holders = role_holders(session, regime_id, unit_ids, roles=UNIT_ROLES)
    return list(dict.fromkeys(uid for unit_id in unit_ids for role in UNIT_ROLES
                              for uid in holders.get((unit_id, role), [])))


def reception_change_notices(session, change) -> list[Notice]:
    """The lead agency closed or reopened reception: the people of each unit (the change's one,
    or every unit) that still has a report of the period to send."""
    period = change.period
    regime = period.regime
    query = select(Report.unit_id).where(Report.period_id == period.id,
                                         Report.state.in_(NOT_YET_SENT))
    if change.unit_id is not None:
        query = query.where(Report.unit_id == change.unit_id)
    what = f"«{regime.name}» kỳ {period.label}"
    if change.action == "close":
        subject = f"Đã đóng tiếp nhận báo cáo: {regime.name} — {period.label}"
        body = f"Cơ quan chủ trì đã đóng tiếp nhận báo cáo {what}. Lý do: {change.reason}"
    else:
        until = (f" đến {vietnam_time(change.until):%H:%M %d/%m/%Y}"
                 if change.until is not None else "")
        extended = (" Gửi trong thời gian này vẫn tính là đúng hạn."
                    if change.extends_deadline else "")
        subject = f"Đã mở lại tiếp nhận báo cáo: {regime.name} — {period.label}"
        body = (f"Cơ quan chủ trì đã mở lại tiếp nhận báo cáo {what}{until}.{extended} "
                f"Lý do: {change.reason}")
    people = unit_people(session, regime.id, session.scalars(query))
    return [Notice(uid, f"reception_{change.action}", subject, body, "/inbox/",
                   f"reception:{change.id}") for uid in people]


def adhoc_request_notices(session, request) -> list[Notice]:
    """A new ad-hoc request: the people of every unit asked."""
    period, regime = request.period, request.regime
    unit_ids = session.scalars(select(Report.unit_id).where(Report.period_id == period.id))
    subject = f"Yêu cầu báo cáo đột xuất: {request.title}"
    body = (f"Có yêu cầu báo cáo đột xuất «{request.title}» ({regime.name}), hạn gửi "
            f"{request.due_date:%d/%m/%Y}.")
    if request.instructions:
        body += f" Hướng dẫn: {request.instructions}"
    return [Notice(uid, "adhoc_request", subject, body, "/inbox/", f"adhoc:{request.id}")
            for uid in unit_people(session, regime.id, unit_ids)]


def account_created_notice(user) -> Notice:
    """Welcome to a new account: the user name and the unit, never the password (that is handed
    over separately and must be changed at the first log-in)."""
    unit = user.unit.name if user.unit is not None else ""
    return Notice(
        user.id, "account_created", "Tài khoản của bạn trên Hệ thống thông tin báo cáo",
        f"Tài khoản «{user.username}» của {user.full_name} ({unit}) đã được tạo. Mật khẩu được "
        "giao riêng; hãy đổi mật khẩu ở lần đăng nhập đầu tiên.", "/", f"account:{user.id}")
