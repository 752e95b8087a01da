"""Outages and the reports sent by other means during them (seed 001 Art. 11.2), callable
without a request.

``record_outage``: an admin records that the system was down (from, to, why).
``backfill_send``: a unit enters, once the system is back, a report it sent by other means
(paper, e-mail) during a recorded outage: the report goes through the ordinary "send" transition
as of the real sending time, so it counts on time if it was (the reception window and the
deadline are judged at that time), and the sending is marked as backfilled with the document
number and the scan of the evidence. Nothing is written when anything is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select

from app.assignment import safe_filename
from app.errors import DomainError, PermissionDenied
from app.models import BackfilledSending, Outage, Report
from app.models.forms import utcnow
from app.roles import PROVINCIAL_ADMIN
from app.text import nfc
from app.workflow import transition, vietnam_time

EVIDENCE_TYPES = {".pdf", ".jpg", ".jpeg", ".png", ".tif", ".tiff"}
EVIDENCE_MAX_BYTES = 20 * 1024 * 1024


def _shown(moment: dt.datetime) -> str:
    return vietnam_time(moment).strftime("%H:%M %d/%m/%Y")


def record_outage(session, starts_at: dt.datetime, ends_at: dt.datetime, reason: str, actor,
                  now: dt.datetime | None = None) -> Outage:
    """The system was down from ``starts_at`` to ``ends_at`` (naive UTC, both in the past)."""
    now = now or utcnow()
    if actor is None or PROVINCIAL_ADMIN not in {r.name for r in actor.roles}:
        raise PermissionDenied("Chỉ quản trị cấp tỉnh ghi nhận được thời gian hệ thống gián đoạn.")
    reason = nfc(reason or "").strip()
    if not reason:
        raise DomainError("Cần ghi nguyên nhân gián đoạn.", field="reason")
    if starts_at is None or ends_at is None:
        raise DomainError("Cần thời điểm bắt đầu và kết thúc gián đoạn.", field="starts_at")
    if ends_at <= starts_at:
        raise DomainError("Thời điểm kết thúc gián đoạn phải sau thời điểm bắt đầu.",
                          field="ends_at")
    if ends_at > now:
        raise DomainError("Chỉ ghi nhận gián đoạn đã kết thúc (thời điểm kết thúc đã qua).",
                          field="ends_at")
    outage = Outage(starts_at=starts_at, ends_at=ends_at, reason=reason, recorded_by_id=actor.id,
                    recorded_at=now)
    session.add(outage)
    session.flush()
    return outage


def outage_at(session, moment: dt.datetime) -> Outage | None:
    return session.scalars(
        select(Outage).where(Outage.starts_at <= moment, Outage.ends_at >= moment)
        .order_by(Outage.starts_at).limit(1)
    ).first()


def backfill_send(session, report: Report, actor, sent_at: dt.datetime, document_number: str,
                  evidence: tuple[str, bytes], now: dt.datetime | None = None
                  ) -> BackfilledSending:
    """Send ``report`` as of ``sent_at`` (naive UTC, inside a recorded outage) by ``actor``,
    who must be allowed to send it then; the caller commits."""
    now = now or utcnow()
    document_number = nfc(document_number or "").strip()
    if not document_number:
        raise DomainError("Cần số, ký hiệu văn bản đã gửi bằng cách khác.",
                          field="document_number")
    filename, content = evidence if evidence else ("", b"")
    if not content:
        raise DomainError("Cần tệp bản quét văn bản đã gửi (PDF hoặc ảnh).", field="evidence")
    filename = safe_filename(filename or "ban-quet.pdf")
    if not any(filename.lower().endswith(ext) for ext in EVIDENCE_TYPES):
        raise DomainError(f"Tệp «{filename}» không phải PDF hoặc ảnh (jpg, png, tif).",
                          field="evidence")
    if len(content) > EVIDENCE_MAX_BYTES:
        raise DomainError(f"Tệp «{filename}» lớn hơn 20 MB.", field="evidence")
    if sent_at is None or sent_at > now:
        raise DomainError("Thời điểm gửi thực tế phải ở trong quá khứ.", field="sent_at")
    outage = outage_at(session, sent_at)
    if outage is None:
        raise DomainError(
            f"Lúc {_shown(sent_at)} hệ thống không có gián đoạn nào được ghi nhận: chỉ nhập bù "
            "báo cáo gửi bằng cách khác trong thời gian hệ thống gián đoạn.", field="sent_at")
    reason = (f"Nhập bù: đã gửi bằng cách khác lúc {_shown(sent_at)} (văn bản số "
              f"{document_number}) khi hệ thống gián đoạn; nhập lúc {_shown(now)}.")
    event = transition(session, report, "send", actor, reason=reason, now=sent_at)
    record = BackfilledSending(
        report_id=report.id, version_id=event.version_id, outage_id=outage.id, sent_at=sent_at,
        document_number=document_number, evidence_filename=filename, evidence=content,
        evidence_sha256=hashlib.sha256(content).hexdigest(), entered_by_id=actor.id,
        entered_at=now)
    session.add(record)
    session.flush()
    return record


def backfilled_version_ids(session, report_id: int) -> dict[int, BackfilledSending]:
    return {row.version_id: row for row in session.scalars(
        select(BackfilledSending).where(BackfilledSending.report_id == report_id))}
