"""Support requests (seed 001 Art. 20.1): filed from any page with a file, answered by the operating
unit, the time to the first answer in working hours, highlighted near the 2-hour limit, an
announced completion time for a complex one."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import select

from app.calendar import WorkingCalendar
from app.errors import DomainError, PermissionDenied
from app.models import Notification, SupportRequest
from app.roles import DATA_ENTRY, PROVINCIAL_ADMIN
from app.support import answer_clock, file_request, reply, requests_for
from app.workflow import VIETNAM_OFFSET
from tests import factories


def utc(*args) -> dt.datetime:
    return dt.datetime(*args) - VIETNAM_OFFSET


def _people(session):
    province = factories.unit(session, "UBND tỉnh Thử", type_code="province_committee")
    dept = factories.unit(session, "Sở Khoa học và Công nghệ", parent=province)
    commune = factories.unit(session, "UBND xã Một", parent=province, type_code="commune")
    people = {
        "operator": factories.user(session, "skhcn.vanhanh", dept, [PROVINCIAL_ADMIN]),
        "clerk": factories.user(session, "xa1.nhaplieu", commune, [DATA_ENTRY]),
        "other": factories.user(session, "xa1.khac", commune, [DATA_ENTRY]),
    }
    session.commit()
    return people


def test_the_answer_clock_counts_working_hours_and_flags_the_limit(session):
    people = _people(session)
    calendar = WorkingCalendar()
    # filed Friday 16:00: Friday 1 h, the weekend nothing, Monday from 08:00
    item = file_request(session, people["clerk"], "incident", "Không lưu được biểu",
                        "Bấm Lưu báo lỗi", now=utc(2026, 12, 4, 16, 0))
    session.commit()
    assert answer_clock(item, calendar, utc(2026, 12, 4, 16, 50)).state == "ok"
    near = answer_clock(item, calendar, utc(2026, 12, 7, 8, 30))
    assert (near.hours, near.state, near.answered) == (1.5, "near", False)
    assert answer_clock(item, calendar, utc(2026, 12, 7, 9, 5)).state == "over"
    # the operators were told
    told = session.scalars(select(Notification).where(Notification.kind == "support_new")).all()
    assert [n.user_id for n in told] == [people["operator"].id]
    reply(session, item, people["operator"], "Đã kiểm tra, lỗi do trình duyệt cũ.",
          now=utc(2026, 12, 7, 8, 45))
    session.commit()
    answered = answer_clock(item, calendar, utc(2026, 12, 9, 10, 0))
    assert (answered.hours, answered.state, answered.answered) == (1.75, "ok", True)
    assert item.status == "answered"
    answer = session.scalars(select(Notification).where(
        Notification.kind == "support_answer")).one()
    assert answer.user_id == people["clerk"].id and "trình duyệt cũ" in answer.body


def test_a_complex_request_gets_a_completion_time_and_only_the_operator_closes_it(session):
    people = _people(session)
    now = utc(2026, 12, 7, 9, 0)
    item = file_request(session, people["clerk"], "request", "Thêm chỉ tiêu", "Cần thêm dòng",
                        now=now)
    with pytest.raises(PermissionDenied):
        reply(session, item, people["other"], "Tôi cũng cần", now=now)
    with pytest.raises(PermissionDenied):
        reply(session, item, people["clerk"], "Xong", resolve=True, now=now)
    with pytest.raises(DomainError, match="sau thời điểm hiện tại"):
        reply(session, item, people["operator"], "Hẹn", expected_completion_at=now, now=now)
    reply(session, item, people["operator"], "Cần sửa biểu mẫu, hẹn chiều mai.",
          expected_completion_at=utc(2026, 12, 8, 16, 0), now=now + dt.timedelta(minutes=20))
    assert item.status == "in_progress" and item.expected_completion_at == utc(2026, 12, 8, 16, 0)
    reply(session, item, people["clerk"], "Cảm ơn", now=now + dt.timedelta(hours=1))
    reply(session, item, people["operator"], "Đã thêm.", resolve=True,
          now=now + dt.timedelta(days=1))
    session.commit()
    assert item.status == "resolved" and len(item.messages) == 3
    with pytest.raises(DomainError, match="tiêu đề"):
        file_request(session, people["clerk"], "request", " ", "x", now=now)
    with pytest.raises(DomainError, match="Loại yêu cầu"):
        file_request(session, people["clerk"], "bug", "x", "x", now=now)


def test_a_request_is_filed_from_a_page_with_a_screenshot_and_seen_by_its_people_only(
        client, session):
    people = _people(session)
    factories.login(client, "xa1.nhaplieu")
    form = client.get("/support/new?page=/entry/12").get_data(as_text=True)
    assert 'value="/entry/12"' in form
    client.post("/support/new", data={
        "kind": "incident", "title": "Trang nhập liệu trắng", "body": "Mở báo cáo tháng 11",
        "page": "/entry/12", "attachment": (io.BytesIO(b"\x89PNG fake"), "man-hinh.png")},
        content_type="multipart/form-data", follow_redirects=True)
    item = session.scalars(select(SupportRequest)).one()
    assert (item.page_url, item.attachment_filename, item.kind) == (
        "/entry/12", "man-hinh.png", "incident")
    assert client.get(f"/support/{item.id}/attachment").data == b"\x89PNG fake"
    client.get("/logout/")
    factories.login(client, "xa1.khac")
    assert client.get(f"/support/{item.id}").status_code == 404
    client.get("/logout/")
    factories.login(client, "skhcn.vanhanh")
    listing = client.get("/support/").get_data(as_text=True)
    assert "Trang nhập liệu trắng" in listing and f'data-request="{item.id}"' in listing
    client.post(f"/support/{item.id}", data={"body": "Đã xử lý"}, follow_redirects=True)
    session.expire_all()
    assert item.first_answer_at is not None
    assert [row.id for row, _ in requests_for(session, people["clerk"])] == [item.id]
