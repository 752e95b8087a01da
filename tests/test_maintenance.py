"""Maintenance notices (seed 001 Art. 20.3): at least 10 working hours ahead unless an emergency,
a banner for everyone, the unit admins told by e-mail."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.calendar import WorkingCalendar, working_hours_between
from app.errors import DomainError
from app.maintenance import announce_maintenance, banner_lines, cancel_maintenance, forget_banner
from app.models import MaintenanceNotice, Notification
from app.roles import DATA_ENTRY, PROVINCIAL_ADMIN, UNIT_ADMIN
from app.workflow import VIETNAM_OFFSET
from tests import factories


def utc(*args) -> dt.datetime:
    """A time given in Vietnam's time, as stored (naive UTC)."""
    return dt.datetime(*args) - VIETNAM_OFFSET


def test_working_hours_count_office_hours_of_working_days_only():
    calendar = WorkingCalendar()
    friday_3pm = dt.datetime(2026, 12, 4, 15, 0)
    assert working_hours_between(calendar, friday_3pm, dt.datetime(2026, 12, 4, 16, 30)) == 1.5
    # Friday 15:00 → Monday 10:00: 2 h on Friday, the weekend nothing, 2 h on Monday
    assert working_hours_between(calendar, friday_3pm, dt.datetime(2026, 12, 7, 10, 0)) == 4
    # lunch (12:00–13:00) and the night do not count
    assert working_hours_between(calendar, dt.datetime(2026, 12, 7, 11, 0),
                                 dt.datetime(2026, 12, 8, 9, 0)) == 1 + 4 + 1
    # Tết Đinh Mùi: 05–11/02/2027 are days off
    assert working_hours_between(calendar, dt.datetime(2027, 2, 5, 8, 0),
                                 dt.datetime(2027, 2, 9, 17, 0)) == 0
    assert working_hours_between(calendar, friday_3pm, friday_3pm - dt.timedelta(hours=1)) == 0


def _people(session):
    province = factories.unit(session, "UBND tỉnh Thử", type_code="province_committee")
    dept = factories.unit(session, "Sở Khoa học và Công nghệ", parent=province)
    commune = factories.unit(session, "UBND xã Một", parent=province, type_code="commune")
    people = {
        "admin": factories.user(session, "tinh.qtv", dept, [PROVINCIAL_ADMIN]),
        "unit_admin": factories.user(session, "xa1.qtv", commune, [UNIT_ADMIN]),
        "entry": factories.user(session, "xa1.nhaplieu", commune, [DATA_ENTRY]),
    }
    session.commit()
    return people


def test_a_start_under_ten_working_hours_ahead_is_refused_unless_an_emergency(session):
    people = _people(session)
    now = utc(2026, 12, 4, 15, 0)  # Friday 15:00: Monday 16:00 is 2 + 7 = 9 working hours away
    with pytest.raises(DomainError, match="ít nhất 10 giờ làm việc.*còn 9.0 giờ làm việc"):
        announce_maintenance(session, utc(2026, 12, 7, 16, 0), "Nâng cấp máy chủ",
                             people["admin"], now=now)
    session.rollback()
    assert session.scalar(select(MaintenanceNotice.id)) is None
    assert session.scalar(select(Notification.id)) is None
    with pytest.raises(DomainError, match="kết thúc phải sau"):
        announce_maintenance(session, utc(2026, 12, 8, 16, 0), "Nâng cấp", people["admin"],
                             ends_at=utc(2026, 12, 8, 15, 0), now=now)
    with pytest.raises(DomainError, match="đã qua"):
        announce_maintenance(session, now - dt.timedelta(hours=1), "Nâng cấp", people["admin"],
                             emergency=True, now=now)
    # Tuesday 09:00 is 2 + 8 + 1 = 11 working hours away
    notice = announce_maintenance(session, utc(2026, 12, 8, 9, 0), "Nâng cấp máy chủ cơ sở dữ liệu",
                                  people["admin"], ends_at=utc(2026, 12, 8, 11, 0), now=now)
    urgent = announce_maintenance(session, now + dt.timedelta(minutes=30), "Vá lỗi bảo mật",
                                  people["admin"], emergency=True, now=now)
    session.commit()
    assert notice.id and urgent.emergency
    told = session.scalars(select(Notification).where(Notification.kind == "maintenance")
                           .order_by(Notification.id)).all()
    # the unit admin and the provincial admin, once per notice; entry staff only see the banner
    assert {(n.user_id, n.dedup_key) for n in told} == {
        (people[who].id, f"maintenance:{n.id}") for who in ("admin", "unit_admin")
        for n in (notice, urgent)}
    first = next(n for n in told if n.dedup_key == f"maintenance:{notice.id}")
    assert "09:00 08/12/2026" in first.subject and "đến 11:00 08/12/2026" in first.body
    assert first.email_status == "pending"


def test_the_banner_shows_to_everyone_until_the_end_or_a_cancellation(client, session):
    people = _people(session)
    notice = announce_maintenance(session, dt.datetime.utcnow() + dt.timedelta(days=3),
                                  "Nâng cấp phiên bản mới", people["admin"], emergency=True)
    session.commit()
    forget_banner()
    login_page = client.get("/login/").get_data(as_text=True)
    assert "maintenance-banner" in login_page and "Nâng cấp phiên bản mới" in login_page
    factories.login(client, "xa1.nhaplieu")
    assert "Nâng cấp phiên bản mới" in client.get("/inbox/").get_data(as_text=True)
    cancel_maintenance(session, notice)
    session.commit()
    assert banner_lines(session) == []
    assert "Nâng cấp phiên bản mới" not in client.get("/inbox/").get_data(as_text=True)


def test_the_admin_screen_announces_and_explains_a_refusal(client, session):
    _people(session)
    factories.login(client, "tinh.qtv")
    assert client.get("/maintenance/").status_code == 200
    soon = dt.datetime.utcnow() + VIETNAM_OFFSET + dt.timedelta(minutes=30)
    form = {"start_date": soon.strftime("%Y-%m-%d"), "start_time": soon.strftime("%H:%M"),
            "message": "Khởi động lại máy chủ"}
    page = client.post("/maintenance/", data=form, follow_redirects=True).get_data(as_text=True)
    assert "ít nhất 10 giờ làm việc" in page and "Khởi động lại máy chủ" in page
    assert session.scalar(select(MaintenanceNotice.id)) is None
    client.post("/maintenance/", data=form | {"emergency": "1"}, follow_redirects=True)
    assert session.scalar(select(MaintenanceNotice.message)) == "Khởi động lại máy chủ"
    client.get("/logout/")
    factories.login(client, "xa1.nhaplieu")
    assert client.get("/maintenance/").status_code in (302, 403)
