"""Notices of events in the reporting cycle (an AFTER_TRANSITION_HOOKS hook, registered when
this module is imported; app.create_app imports it): a report rejected by the leader or returned
by the lead agency (with the reason), and a report accepted."""

from __future__ import annotations

from sqlalchemy import select

from app.assignment import role_holders
from app.models.workflow import ReportAssignee
from app.notifications import Notice, notify
from app.roles import AGGREGATOR, APPROVER, DATA_ENTRY, SIGNER
from app.workflow import AFTER_TRANSITION_HOOKS

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
