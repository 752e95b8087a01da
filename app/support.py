"""Support requests and incidents (seed 001 Art. 20.1), callable without a request.

Any user files a request or an incident from the page they are on (with a screenshot or a file);
the operating unit (the provincial admins) answers. The time to the first answer is counted in
working hours (app.calendar.working_hours_between): the limit is ANSWER_LIMIT_HOURS, and a
request still unanswered after NEAR_LIMIT_HOURS is highlighted. A complex request gets an
announced completion time that its users see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from app.accounts import active_holders_of
from app.assignment import safe_filename
from app.calendar import WorkingCalendar, calendar_from_db, working_hours_between
from app.errors import DomainError, PermissionDenied
from app.models import SupportMessage, SupportRequest
from app.models.forms import utcnow
from app.models.support import SUPPORT_KINDS
from app.notifications import Notice, notify
from app.roles import PROVINCIAL_ADMIN
from app.text import nfc
from app.workflow import vietnam_time

ANSWER_LIMIT_HOURS = 2.0
NEAR_LIMIT_HOURS = 1.5
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024


def is_operator(user) -> bool:
    return user is not None and PROVINCIAL_ADMIN in {r.name for r in (user.roles or [])}


def file_request(session, user, kind: str, title: str, body: str, *,
                 page_url: str | None = None, attachment: tuple[str, bytes] | None = None,
                 now: dt.datetime | None = None) -> SupportRequest:
    """A request or incident from ``user``; the operators are told. Flushes; the caller
    commits."""
    now = now or utcnow()
    if kind not in SUPPORT_KINDS:
        raise DomainError(f"Loại yêu cầu «{kind}» không có; chọn một trong: "
                          + ", ".join(SUPPORT_KINDS.values()) + ".", field="kind")
    title, body = nfc(title or "").strip(), nfc(body or "").strip()
    if not title:
        raise DomainError("Cần tiêu đề ngắn cho yêu cầu.", field="title")
    if not body:
        raise DomainError("Cần mô tả việc cần hỗ trợ hoặc sự cố gặp phải.", field="body")
    filename = content = None
    if attachment and attachment[1]:
        filename, content = safe_filename(attachment[0] or "tep-dinh-kem"), attachment[1]
        if len(content) > ATTACHMENT_MAX_BYTES:
            raise DomainError(f"Tệp «{filename}» lớn hơn 10 MB.", field="attachment")
    request = SupportRequest(
        kind=kind, title=title[:200], body=body, page_url=(page_url or None) and page_url[:500],
        attachment_filename=filename, attachment=content, created_by_id=user.id,
        unit_id=user.unit_id, created_at=now, status="open")
    session.add(request)
    session.flush()
    what = SUPPORT_KINDS[kind]
    notify(session, [Notice(uid, "support_new", f"{what} mới: {request.title}",
                            f"{user.full_name} ({user.unit.name if user.unit else ''}): {body}",
                            f"/support/{request.id}", f"support:{request.id}:new")
                     for uid in active_holders_of(session, (PROVINCIAL_ADMIN,))], now)
    return request


def reply(session, request: SupportRequest, user, body: str, *,
          expected_completion_at: dt.datetime | None = None, resolve: bool = False,
          now: dt.datetime | None = None) -> SupportMessage:
    """An answer or follow-up in the thread. The operator's first answer stops the clock; the
    operator may announce a completion time (complex requests) or mark the request done. The
    person who filed it is told of the operator's answers."""
    now = now or utcnow()
    operator = is_operator(user)
    if not operator and user.id != request.created_by_id:
        raise PermissionDenied("Chỉ người gửi yêu cầu và đơn vị vận hành trả lời được yêu cầu này.")
    if (expected_completion_at is not None or resolve) and not operator:
        raise PermissionDenied("Chỉ đơn vị vận hành hẹn thời gian hoặc đóng yêu cầu.")
    body = nfc(body or "").strip()
    if not body:
        raise DomainError("Cần nội dung trả lời.", field="body")
    if expected_completion_at is not None and expected_completion_at <= now:
        raise DomainError("Thời gian hoàn thành dự kiến phải ở sau thời điểm hiện tại.",
                          field="expected_completion_at")
    message = SupportMessage(request_id=request.id, author_id=user.id, from_operator=operator,
                             body=body, at=now)
    session.add(message)
    if operator:
        request.first_answer_at = request.first_answer_at or now
        if resolve:
            request.status, request.resolved_at = "resolved", now
        elif expected_completion_at is not None:
            request.status, request.expected_completion_at = "in_progress", expected_completion_at
        elif request.status == "open":
            request.status = "answered"
    session.flush()
    if operator:
        extra = ""
        if request.expected_completion_at and request.status == "in_progress":
            extra = (" Dự kiến hoàn thành: "
                     f"{vietnam_time(request.expected_completion_at):%H:%M %d/%m/%Y}.")
        notify(session, [Notice(request.created_by_id, "support_answer",
                                f"Trả lời yêu cầu hỗ trợ: {request.title}", body + extra,
                                f"/support/{request.id}", f"support:{request.id}:{message.id}")],
               now)
    return message


@dataclass(frozen=True)
class AnswerClock:
    hours: float       # working hours to the first answer, or so far
    answered: bool
    state: str         # ok | near | over

    @property
    def label(self) -> str:
        return {"ok": "trong hạn", "near": "sắp quá 2 giờ làm việc",
                "over": "quá 2 giờ làm việc"}[self.state]


def answer_clock(request: SupportRequest, calendar: WorkingCalendar,
                 now: dt.datetime | None = None) -> AnswerClock:
    """Working hours from filing to the first answer (or to ``now`` while unanswered)."""
    now = now or utcnow()
    end = request.first_answer_at or now
    hours = working_hours_between(calendar, vietnam_time(request.created_at), vietnam_time(end))
    if hours >= ANSWER_LIMIT_HOURS:
        state = "over"
    elif hours >= NEAR_LIMIT_HOURS and request.first_answer_at is None:
        state = "near"
    else:
        state = "ok"
    return AnswerClock(round(hours, 2), request.first_answer_at is not None, state)


def requests_for(session, user, now: dt.datetime | None = None, limit: int = 300
                 ) -> list[tuple[SupportRequest, AnswerClock]]:
    """The operator sees every request (unanswered first, oldest first); anyone else their own."""
    query = select(SupportRequest)
    if not is_operator(user):
        query = query.where(SupportRequest.created_by_id == user.id)
    rows = session.scalars(query.order_by(SupportRequest.created_at.desc()).limit(limit)).all()
    calendar = calendar_from_db(session)
    clocked = [(row, answer_clock(row, calendar, now)) for row in rows]
    unanswered = sorted((pair for pair in clocked if not pair[1].answered),
                        key=lambda pair: pair[0].created_at)
    return unanswered + [pair for pair in clocked if pair[1].answered]


def readable_request(session, request_id: int, user) -> SupportRequest | None:
    request = session.get(SupportRequest, request_id)
    if request is None or not (is_operator(user) or request.created_by_id == user.id):
        return None
    return request
