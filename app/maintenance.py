"""Maintenance notices, callable without a request (seed 001 Art. 20.3: the operating unit tells
the users before it stops the system).

``announce_maintenance`` records a notice: its start must be at least MIN_NOTICE_HOURS working
hours ahead (app.calendar.working_hours_between) unless it is marked as an emergency, and the
unit admins get it by e-mail and in the bell. ``banner_notices`` are the ones every page shows:
announced, not cancelled, not yet over.
"""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import or_, select

from app.accounts import active_holders_of
from app.calendar import calendar_from_db, working_hours_between
from app.errors import DomainError
from app.models import MaintenanceNotice
from app.models.forms import utcnow
from app.notifications import Notice, notify
from app.roles import PROVINCIAL_ADMIN, UNIT_ADMIN
from app.text import nfc
from app.workflow import vietnam_time

MIN_NOTICE_HOURS = 10


def _shown(moment: dt.datetime) -> str:
    return vietnam_time(moment).strftime("%H:%M %d/%m/%Y")


def announce_maintenance(session, starts_at: dt.datetime, message: str, actor, *,
                         ends_at: dt.datetime | None = None, emergency: bool = False,
                         now: dt.datetime | None = None) -> MaintenanceNotice:
    """Record a maintenance notice (times naive UTC) and tell the unit admins. Refused, with
    nothing written, when the start is past, the end before the start, the message empty, or
    the start less than MIN_NOTICE_HOURS working hours ahead without ``emergency``."""
    now = now or utcnow()
    message = nfc(message or "").strip()
    if not message:
        raise DomainError("Cần nội dung thông báo bảo trì (việc gì, ảnh hưởng ra sao).",
                          field="message")
    if starts_at is None:
        raise DomainError("Cần thời điểm bắt đầu bảo trì.", field="starts_at")
    if starts_at <= now:
        raise DomainError(f"Thời điểm bắt đầu {_shown(starts_at)} đã qua.", field="starts_at")
    if ends_at is not None and ends_at <= starts_at:
        raise DomainError("Thời điểm kết thúc phải sau thời điểm bắt đầu.", field="ends_at")
    ahead = working_hours_between(calendar_from_db(session), vietnam_time(now),
                                  vietnam_time(starts_at))
    if ahead < MIN_NOTICE_HOURS and not emergency:
        raise DomainError(
            f"Bảo trì phải được thông báo trước ít nhất {MIN_NOTICE_HOURS} giờ làm việc "
            f"(khoản 3 Điều 20 Quy chế quản lý, vận hành, sử dụng Hệ thống báo cáo); từ nay đến {_shown(starts_at)} chỉ "
            f"còn {ahead:.1f} giờ làm việc. Chọn thời điểm muộn hơn, hoặc đánh dấu «Khẩn cấp» "
            "nếu phải dừng hệ thống ngay.", field="starts_at")
    notice = MaintenanceNotice(starts_at=starts_at, ends_at=ends_at, message=message,
                               emergency=bool(emergency), created_by_id=getattr(actor, "id", None),
                               created_at=now)
    session.add(notice)
    session.flush()
    notify(session, maintenance_notices_to_admins(session, notice), now)
    forget_banner()
    return notice


def cancel_maintenance(session, notice: MaintenanceNotice, now: dt.datetime | None = None) -> None:
    notice.cancelled_at = now or utcnow()
    session.flush()
    forget_banner()


def describe(notice: MaintenanceNotice) -> str:
    until = f" đến {_shown(notice.ends_at)}" if notice.ends_at else ""
    urgent = "Bảo trì khẩn cấp" if notice.emergency else "Bảo trì hệ thống"
    return f"{urgent} từ {_shown(notice.starts_at)}{until}: {notice.message}"


def maintenance_notices_to_admins(session, notice: MaintenanceNotice) -> list[Notice]:
    """Every active unit admin and provincial admin gets the notice (in the bell and by mail)."""
    admins = active_holders_of(session, (UNIT_ADMIN, PROVINCIAL_ADMIN))
    subject = ("Thông báo bảo trì khẩn cấp hệ thống" if notice.emergency
               else "Thông báo bảo trì hệ thống") + f" lúc {_shown(notice.starts_at)}"
    return [Notice(user_id, "maintenance", subject, describe(notice), "/",
                   f"maintenance:{notice.id}") for user_id in admins]


# -- the banner: read on every page, so kept for a few seconds per process ------------------------

BANNER_SECONDS = 30.0
_banner_cache: dict[str, object] = {}


def forget_banner() -> None:
    _banner_cache.clear()


def banner_notices(session, now: dt.datetime | None = None) -> list[MaintenanceNotice]:
    """Announced, not cancelled and not over at ``now``, soonest first."""
    now = now or utcnow()
    return session.scalars(
        select(MaintenanceNotice).where(
            MaintenanceNotice.cancelled_at.is_(None),
            or_(MaintenanceNotice.ends_at.is_(None), MaintenanceNotice.ends_at > now),
            # a notice without an end is shown for a day after its start
            or_(MaintenanceNotice.ends_at.isnot(None),
                MaintenanceNotice.starts_at > now - dt.timedelta(days=1)),
        ).order_by(MaintenanceNotice.starts_at)
    ).all()


def banner_lines(session) -> list[str]:
    """The banner's lines, read from the database at most every BANNER_SECONDS per process."""
    cached = _banner_cache.get("lines")
    if cached is not None and time.monotonic() - _banner_cache["at"] < BANNER_SECONDS:
        return cached
    lines = [describe(notice) for notice in banner_notices(session)]
    _banner_cache.update(lines=lines, at=time.monotonic())
    return lines
