"""The reporting cycle on the report page: transitions, cell comments, the thread, reception
and deadline, sent versions — walked through the screens by the people who do each step."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import json
import re

import pytest
from sqlalchemy import select

from app.models import ReportComment, ReportEvent
from app.reports import save_values
from app.roles import APPROVER, VIEWER
from app.workflow import TRANSITIONS
from tests import factories
from tests.test_workflow import cycle_setup

TIME = r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}"


def cycle_today(session):
    """cycle_setup with the period moved so that today is inside its reception window (the
    HTTP calls use the real clock)."""
    report, people = cycle_setup(session)
    today = dt.date.today()
    period = report.period
    period.cutoff_start = today - dt.timedelta(days=40)
    period.cutoff_end = today - dt.timedelta(days=3)
    period.deadline = today + dt.timedelta(days=5)
    province = report.regime.receiving_unit
    people["viewer"] = factories.user(session, "xa1.xem", report.unit, [VIEWER])
    people["province_leader"] = factories.user(session, "tinh.lanhdao", province, [APPROVER])
    session.commit()
    return report, people


class Person:
    """A test client logged in as one person. The tests hold an app context that the requests
    share, and Flask-Login keeps the user of a request in ``g``: forget it before each request
    so that each client is its own person."""

    def __init__(self, app, username):
        self.client = app.test_client()
        self._forget()
        factories.login(self.client, username)

    @staticmethod
    def _forget():
        from flask import g

        g.pop("_login_user", None)
        g.pop("user", None)

    def get(self, *args, **kwargs):
        self._forget()
        return self.client.get(*args, **kwargs)

    def post(self, *args, **kwargs):
        self._forget()
        return self.client.post(*args, **kwargs)


def as_(app, username) -> Person:
    return Person(app, username)


def page_of(client, report) -> str:
    response = client.get(f"/entry/{report.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def revision_on(page: str) -> int:
    """The revision a transition form carries (or, with no form, the one the page shows)."""
    found = re.search(r'name="revision" value="(\d+)"', page) or re.search(
        r'id="entry-revision">(\d+)<', page)
    return int(found.group(1))


def config_of(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="entry-config">(.*?)</script>', page, re.S)
    return json.loads(html_lib.unescape(found.group(1)))


def act(client, report, action, *, page=None, follow=True, **fields):
    page = page if page is not None else page_of(client, report)
    data = {"action": action, "revision": str(revision_on(page)), **fields}
    return client.post(f"/entry/{report.id}/transition", data=data, follow_redirects=follow)


def events_of(session, report):
    session.expire_all()
    return session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id)
    ).all()


def test_the_button_words_and_messages_are_the_workflows(app_ctx):
    from app.views.entry import ACTION_DONE, ACTION_LABELS

    with app_ctx.test_request_context():
        for action, transition in TRANSITIONS.items():
            assert str(ACTION_LABELS[action]) == transition.label
            assert str(ACTION_DONE[action]) == transition.done


def test_a_report_walked_through_the_screens(app_ctx, session):
    report, people = cycle_today(session)
    entry, leader = as_(app_ctx, "xa1.nhaplieu"), as_(app_ctx, "xa1.lanhdao")
    clerk, reviewer = as_(app_ctx, "xa1.vanthu"), as_(app_ctx, "stc.tonghop")

    page = page_of(entry, report)
    deadline = report.period.deadline.strftime("%d/%m/%Y")
    assert f"Hạn gửi {deadline} (24:00)" in page
    assert "Đang trong thời gian nhận báo cáo." in page
    assert "Trình lãnh đạo duyệt" in page and ">Duyệt<" not in page
    # the leader sees no button while the report is still being entered
    assert "entry-transition-form" not in page_of(leader, report)

    assert entry.post(f"/entry/{report.id}/save", json={"changes": {"r5|c3": "100"}}).status_code == 200
    done = act(entry, report, "submit")
    assert "Đã trình lãnh đạo duyệt." in done.get_data(as_text=True)

    page = page_of(leader, report)
    assert ">Duyệt</button>" in page and 'data-action="reject"' in page
    no_reason = act(leader, report, "reject", page=page, reason="  ")
    assert no_reason.status_code == 422
    assert "Cần ghi lý do" in no_reason.get_data(as_text=True)
    rejected = act(leader, report, "reject", reason="Thiếu số liệu dòng 6").get_data(as_text=True)
    assert "Đã trả báo cáo về người nhập." in rejected

    entry.post(f"/entry/{report.id}/save", json={"changes": {"r6|c3": "7"}})
    act(entry, report, "submit")
    assert "Đã duyệt báo cáo." in act(leader, report, "approve").get_data(as_text=True)

    page = page_of(clerk, report)
    assert "Ký số và gửi" in page
    assert "Đã gửi báo cáo." in act(clerk, report, "send", page=page).get_data(as_text=True)

    page = page_of(reviewer, report)
    assert ">Tiếp nhận</button>" in page
    assert re.search(r'data-action="return"[^>]*>', page)
    assert 'data-cell-comments="1"' in page and config_of(page)["commenting"] is True
    returned = reviewer.post(f"/entry/{report.id}/transition", data={
        "action": "return", "revision": str(revision_on(page)), "reason": "Tổng chưa khớp",
        "cell_key": ["r5|c3", "r5|c5"], "cell_text": ["Kiểm tra lại số này", "Tổng sai"],
    }, follow_redirects=True).get_data(as_text=True)
    assert "Đã trả lại báo cáo cho đơn vị." in returned

    # the unit sees the commented cells: in a list above the grid and in the page's config
    page = page_of(entry, report)
    listed = page.split('id="cell-comments"')[1].split("</div>")[0]
    assert "sheet «Biểu 01», ô C5</a>: Kiểm tra lại số này" in listed
    assert "sheet «Biểu 01», ô E5</a>: Tổng sai" in listed
    assert page.index('id="cell-comments"') < page.index('class="entry-table"')
    marked = {c["key"]: c for c in config_of(page)["cellComments"]}
    assert marked["r5|c3"]["text"] == "Kiểm tra lại số này" and marked["r5|c3"]["cell"] == "C5"
    assert marked["r5|c3"]["author"] == "Nguyễn stc.tonghop"
    # the thread: every reason and comment with its author, time and step
    thread = page.split('id="thread"')[1]
    assert re.search(r"<strong>Nguyễn xa1\.lanhdao</strong> · " + TIME
                     + r" · Từ chối, trả về người nhập</div>\s*<p class=\"thread-body\">Thiếu số liệu dòng 6",
                     thread)
    assert re.search(r"Nguyễn stc\.tonghop</strong> · " + TIME + r" · Trả lại để sửa · "
                     r"sheet «Biểu 01», ô C5</div>\s*<p class=\"thread-body\">Kiểm tra lại số này", thread)
    # the versions: one sent, now returned
    versions = page.split('id="versions"')[1]
    assert re.search(r"<td>1</td>\s*<td>" + TIME + r"</td>\s*<td>Nguyễn xa1\.vanthu</td>\s*"
                     r"<td>đúng hạn</td>\s*<td>bị trả lại</td>", versions)
    assert "gửi muộn" not in page.split('id="entry-cycle"')[1].split("</div>")[0]

    # the unit corrects and sends again; the reviewer accepts
    entry.post(f"/entry/{report.id}/save", json={"changes": {"r5|c3": "110"}})
    for client, action in ((entry, "submit"), (leader, "approve"), (clerk, "send"),
                           (reviewer, "accept")):
        response = act(client, report, action)
        assert response.status_code == 200
        assert str(TRANSITIONS[action].done) in response.get_data(as_text=True)

    page = page_of(entry, report)
    assert 'id="cell-comments"' not in page  # sent again: the comments are history now
    assert config_of(page)["cellComments"] == []
    assert re.search(r"<td>2</td>\s*<td>" + TIME + r"</td>\s*<td>[^<]*</td>\s*<td>đúng hạn</td>"
                     r"\s*<td>đã tiếp nhận</td>", page)
    # the first version still shows what was sent then, read-only
    first = entry.get(f"/entry/{report.id}/version/1")
    assert first.status_code == 200
    first = first.get_data(as_text=True)
    assert "Bản gửi lần 1" in first and "bị trả lại" in first
    assert re.search(r'<input[^>]*data-key="r5\|c3"[^>]*value="100"[^>]*readonly', first)
    assert ">100</output>" in first  # the computed total as sent (C5 + D5)
    second = entry.get(f"/entry/{report.id}/version/2").get_data(as_text=True)
    assert re.search(r'data-key="r5\|c3"[^>]*value="110"', second)
    assert entry.get(f"/entry/{report.id}/version/3").status_code == 404

    actions = [e.action for e in events_of(session, report)]
    assert actions == ["submit", "reject", "submit", "approve", "send", "return", "submit",
                       "approve", "send", "accept"]


def test_version_numbers_read_in_vietnamese_format(app_ctx, session):
    report, people = cycle_today(session)
    save_values(session, report, {"r5|c3": "1234567", "r6|c3": "1234,5"})
    session.commit()
    for action, who in (("submit", "entry"), ("approve", "leader"), ("send", "clerk")):
        from app.workflow import transition

        transition(session, report, action, people[who])
    session.commit()
    page = as_(app_ctx, "xa1.xem").get(f"/entry/{report.id}/version/1").get_data(as_text=True)
    assert re.search(r'data-key="r5\|c3"[^>]*value="1\.234\.567"', page)
    assert re.search(r'data-key="r6\|c3"[^>]*value="1\.234,5"', page)


def test_a_stale_revision_is_answered_with_the_conflict_and_keeps_the_reason(app_ctx, session):
    from app.workflow import transition

    report, people = cycle_today(session)
    entry, leader = as_(app_ctx, "xa1.nhaplieu"), as_(app_ctx, "xa1.lanhdao")
    seen = page_of(entry, report)
    save_values(session, report, {"r5|c3": "5"})  # someone saves meanwhile
    session.commit()
    response = act(entry, report, "submit", page=seen)
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "vừa được người khác lưu hoặc chuyển bước" in text
    assert revision_on(text) == revision_on(seen) + 1  # the page now offers the latest
    assert events_of(session, report) == []

    act(entry, report, "submit")
    seen = page_of(leader, report)
    # meanwhile another leader rejects and the staff resubmit: same state, newer revision
    session.expire_all()
    transition(session, report, "reject", people["leader"], reason="Bổ sung")
    transition(session, report, "submit", people["entry"])
    session.commit()
    stale = act(leader, report, "reject", page=seen, reason="Dòng 6 còn trống, đề nghị bổ sung")
    assert stale.status_code == 409
    body = stale.get_data(as_text=True)
    assert "vừa được người khác lưu hoặc chuyển bước" in body
    # what the leader typed is back in the open form, for the latest revision
    form = body.split('data-action="reject" open>')[1].split("</form>")[0]
    assert "Dòng 6 còn trống, đề nghị bổ sung</textarea>" in form
    assert revision_on(form) == revision_on(seen) + 2
    json_conflict = leader.post(f"/entry/{report.id}/transition", json={
        "action": "reject", "revision": revision_on(seen), "reason": "x"})
    assert json_conflict.status_code == 409
    assert "tải lại trang" in json_conflict.get_json()["message"]
    assert [e.action for e in events_of(session, report)] == ["submit", "reject", "submit"]


@pytest.mark.parametrize(
    ("who", "state", "action", "message"),
    [
        ("xa1.xem", "submitted", "approve", "cần vai trò «Lãnh đạo duyệt»"),
        ("xa1.nhaplieu", "submitted", "approve", "cần vai trò «Lãnh đạo duyệt»"),
        ("tinh.lanhdao", "submitted", "approve", "Chỉ người của đơn vị báo cáo"),
        ("xa1.lanhdao", "draft", "accept", "đang ở trạng thái «đang nhập»"),
        ("xa1.vanthu", "approved", "dance", "Không có thao tác «dance»"),
    ],
)
def test_a_refused_action_is_answered_with_the_refusal_and_writes_nothing(
    app_ctx, session, who, state, action, message
):
    report, _people = cycle_today(session)
    report.state = state
    session.commit()
    client = as_(app_ctx, who)
    page = page_of(client, report)  # everyone here may read the report
    assert f'name="action" value="{action}"' not in page  # no button for it
    response = act(client, report, action, page=page, reason="lý do đã ghi")
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert message in text
    # no form for that action on the page: what was typed is shown to copy
    kept = text.split('class="alert alert-warning pending-reason"')[1].split("</div>")[0]
    assert "lý do đã ghi</textarea>" in kept
    answer = client.post(f"/entry/{report.id}/transition",
                         json={"action": action, "reason": "lý do"})
    assert answer.status_code == 422 and message in answer.get_json()["message"]
    assert events_of(session, report) == []
    assert session.scalars(select(ReportComment)).all() == []


def test_a_foreign_units_people_do_not_reach_the_report(app_ctx, session):
    report, _people = cycle_today(session)
    report.state = "sent"
    session.commit()
    client = as_(app_ctx, "xa2.tonghop")
    response = client.post(f"/entry/{report.id}/transition",
                           data={"action": "accept", "revision": str(report.revision)})
    assert response.status_code == 404
    assert client.get(f"/entry/{report.id}/version/1").status_code == 404
    assert client.post(f"/entry/{report.id}/comment", data={"body": "x"}).status_code == 404
    assert events_of(session, report) == []


def test_bad_cell_comments_and_revisions_are_refused_with_what_is_wrong(app_ctx, session):
    report, _people = cycle_today(session)
    report.state = "sent"
    session.commit()
    reviewer = as_(app_ctx, "stc.tonghop")
    response = reviewer.post(f"/entry/{report.id}/transition", data={
        "action": "return", "reason": "Sai", "cell_key": ["r5|c3", "r99|c3"],
        "cell_text": ["Xem lại số dân", "?"], "revision": str(report.revision)})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Ô «r99|c3» không có trong biểu này." in text
    form = text.split('data-action="return" open>')[1].split("</form>")[0]
    assert "Sai</textarea>" in form  # the reason and the cell comments typed are kept
    assert "sheet «Biểu 01», ô C5: Xem lại số dân" in form
    assert 'name="cell_key" value="r5|c3"' in form
    assert 'name="cell_text" value="Xem lại số dân"' in form
    bad = reviewer.post(f"/entry/{report.id}/transition",
                        json={"action": "return", "reason": "Sai", "revision": "abc"})
    assert bad.status_code == 422 and "Lần lưu «abc» không hợp lệ." in bad.get_json()["message"]
    assert events_of(session, report) == []


def test_the_thread_takes_comments_from_anyone_who_reads_the_report(app_ctx, session):
    report, _people = cycle_today(session)
    viewer = as_(app_ctx, "xa1.xem")
    empty = viewer.post(f"/entry/{report.id}/comment", data={"body": "   "},
                        follow_redirects=True).get_data(as_text=True)
    assert "Nội dung ý kiến đang trống." in empty
    done = viewer.post(f"/entry/{report.id}/comment", data={"body": "Số dân lấy theo điều tra"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Đã ghi ý kiến." in done
    thread = page_of(as_(app_ctx, "stc.tonghop"), report).split('id="thread"')[1]
    assert re.search(r"<strong>Nguyễn xa1\.xem</strong> · " + TIME
                     + r" · Ý kiến</div>\s*<p class=\"thread-body\">Số dân lấy theo điều tra", thread)


def test_reception_closed_and_late_sending_are_shown(app_ctx, session):
    report, people = cycle_today(session)
    period = report.period
    period.deadline = dt.date.today() - dt.timedelta(days=1)
    report.state = "approved"
    session.commit()
    clerk = as_(app_ctx, "xa1.vanthu")
    page = page_of(clerk, report)
    assert "gửi lúc này sẽ tính là gửi muộn" in page
    act(clerk, report, "send", page=page)
    page = page_of(clerk, report)
    cycle = page.split('id="entry-cycle"')[1].split("</div>")[0]
    assert "Đã gửi lúc" in cycle and "gửi muộn" in cycle
    assert re.search(r"<td><span class=\"text-danger\">gửi muộn</span></td>\s*<td>chờ tiếp nhận",
                     page)

    # not open yet: the page says from when
    report2, _ = cycle_setup_again(session, report)
    page = page_of(clerk, report2)
    assert "Chưa gửi được lúc này: Chưa đến thời gian gửi báo cáo" in page
    assert "Ký số và gửi" not in page


def cycle_setup_again(session, report):
    """A second report of the same unit in a period whose reception opens in the future."""
    from app.models import Period
    from app.reports import get_or_create_report

    today = dt.date.today()
    period = Period(regime=report.regime, frequency="month", year=today.year + 1, number=1,
                    label="Kỳ sau", cutoff_start=today + dt.timedelta(days=1),
                    cutoff_end=today + dt.timedelta(days=20),
                    deadline=today + dt.timedelta(days=25))
    session.add(period)
    later = get_or_create_report(session, period, report.unit, report.form_code)
    later.state = "approved"
    session.commit()
    return later, period
