"""The inbox ("Việc cần làm"): each box holds exactly the reports its person may act on, found
in SQL; the page, its tabs and the menu badge's counts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from app.inbox import BOX_ACTIONS, BOXES, inbox_counts, inbox_reports, inbox_total
from app.models import Period, Regime, RegimeRoleGrant, Report
from app.models.workflow import ReportAssignee
from app.reports import get_or_create_report, publish_form_version, save_values
from app.roles import AGGREGATOR, APPROVER, DATA_ENTRY, SIGNER, VIEWER
from app.workflow import available_actions, transition
from tests import factories
from tests.spec_fixtures import small_spec
from tests.test_entry_workflow import Person
from tests.test_workflow import cycle_setup


def _period(session, regime, number, label):
    """A period whose reception window holds today (the inbox and the pages use the clock)."""
    today = dt.date.today()
    period = Period(regime=regime, frequency="month", year=2026, number=number, label=label,
                    cutoff_start=today - dt.timedelta(days=40),
                    cutoff_end=today - dt.timedelta(days=3),
                    deadline=today + dt.timedelta(days=number))
    session.add(period)
    session.flush()
    return period


def world(session):
    """Reports of several units, periods and regimes in every state; people of every role."""
    a, people = cycle_setup(session)  # a: the commune's draft report of regime KTXH
    regime, commune = a.regime, a.unit
    province = regime.receiving_unit
    other = people["foreign_leader"].unit
    today = dt.date.today()
    a.period.cutoff_end, a.period.deadline = today - dt.timedelta(days=3), today + dt.timedelta(days=9)
    dept = factories.unit(session, "Sở Y tế", parent=province)
    branch = factories.unit(session, "Trung tâm Y tế huyện", parent=dept)
    people.update({
        "entry2": factories.user(session, "xa1.nhaplieu2", commune, [DATA_ENTRY]),
        "leader2": factories.user(session, "xa1.lanhdao2", commune, [APPROVER]),
        "viewer": factories.user(session, "xa1.xem", commune, [VIEWER]),
        "dept_reviewer": factories.user(session, "syt.tonghop", dept, [AGGREGATOR]),
        "foreign_clerk": factories.user(session, "xa2.vanthu", other, [SIGNER]),
    })
    second = Regime(code="YTE", name="Báo cáo y tế", owner_unit=province, lead_unit=province,
                    receiving_unit=province)
    session.add(second)
    session.flush()
    publish_form_version(session, small_spec(code="TEST-B02"), regime=second)
    # leader2 approves only for the second regime
    approver_role = next(r for r in people["leader2"].roles if r.name == APPROVER)
    session.add(RegimeRoleGrant(user_id=people["leader2"].id, role_id=approver_role.id,
                                regime_id=second.id))

    def report(period, unit, state, code="TEST-B01"):
        made = get_or_create_report(session, period, unit, code)
        made.state = state
        return made

    p1 = a.period
    p2, p3, p4, p5 = (_period(session, regime, n, f"Kỳ {n}") for n in (2, 3, 4, 5))
    q1 = _period(session, second, 1, "Y tế kỳ 1")
    r = {
        "A": a,
        "B": report(p1, other, "submitted"),
        "C": report(p1, dept, "draft"),  # the department's own report: it reviews its branch
        "D": report(p1, branch, "sent"),
        "F": report(p2, commune, "draft"),
        "G": report(p2, other, "sent"),
        "H": report(p3, commune, "approved"),
        "I": report(p3, other, "approved"),
        "J": report(p4, commune, "submitted"),
        "L": report(p5, commune, "sent"),
        "M": report(q1, commune, "submitted", code="TEST-B02"),
    }
    # A is assigned to entry2 only; F goes through a real return with a reason
    session.add(ReportAssignee(report_id=a.id, user_id=people["entry2"].id, role_name=DATA_ENTRY))
    save_values(session, r["F"], {"r5|c3": "4"})
    for action, who, reason in (("submit", "entry", None), ("approve", "leader", None),
                                ("send", "clerk", None), ("return", "reviewer", "Sai tổng"),
                                ("submit", "entry", None), ("approve", "leader", None),
                                ("send", "clerk", None), ("accept", "reviewer", None),
                                ("reopen", "reviewer", "Đính chính dòng 5")):
        transition(session, r["F"], action, people[who], reason=reason)
    session.commit()
    return r, people


def _expected(session, user, box):
    """What ``user`` may do, by asking the state machine about every report."""
    if box == "returned":
        return {rep.id for rep in session.scalars(select(Report))
                if rep.state == "returned" and rep.unit_id == user.unit_id}
    if box == "to_sign":
        from app.signing.engine import LEADER, next_stage, stage_refusal

        return {rep.id for rep in session.scalars(select(Report))
                if rep.regime.requires_signature and next_stage(session, rep) == LEADER
                and stage_refusal(session, user, rep, LEADER) is None}
    action = BOX_ACTIONS[box]
    return {rep.id for rep in session.scalars(select(Report))
            if any(t.action == action for t in available_actions(session, user, rep))}


def test_every_box_equals_what_each_person_may_do(session):
    r, people = world(session)
    for name, user in people.items():
        counts = inbox_counts(session, user)
        for box in BOXES:
            found = [item.report.id for item in inbox_reports(session, user, box)]
            assert len(found) == len(set(found)), (name, box)
            assert set(found) == _expected(session, user, box), (name, box)
            assert counts[box] == len(found), (name, box)

    def ids(who, box):
        return {item.report.id for item in inbox_reports(session, people[who], box)}

    named = {v.id: k for k, v in r.items()}

    def names(who, box):
        return {named[i] for i in ids(who, box)}

    # the examples behind the rule, stated plainly
    assert names("entry", "to_enter") == {"F"}  # A is assigned to someone else
    assert names("entry2", "to_enter") == {"A", "F"}
    assert names("leader", "to_approve") == {"J", "M"}
    assert names("leader2", "to_approve") == {"M"}  # narrowed to the second regime
    assert names("clerk", "to_send") == {"H"}
    assert names("foreign_clerk", "to_send") == {"I"}
    assert names("foreign_leader", "to_approve") == {"B"}
    assert names("reviewer", "to_review") == {"G", "L"}  # not D: its department reviews it
    assert names("dept_reviewer", "to_review") == {"D"}
    assert names("foreign_reviewer", "to_review") == set()
    assert names("viewer", "returned") == {"F"} and names("viewer", "to_enter") == set()
    returned = inbox_reports(session, people["entry"], "returned")
    assert [item.reason for item in returned] == ["Đính chính dòng 5"]  # the latest reason
    counts = inbox_counts(session, people["entry2"])
    assert counts == {"to_enter": 2, "to_approve": 0, "to_sign": 0, "to_send": 0,
                      "to_review": 0, "returned": 1}
    assert inbox_total(counts) == 2


def test_boxes_are_ordered_by_deadline_and_follow_the_cycle(session):
    r, people = world(session)
    assert [i.report.id for i in inbox_reports(session, people["leader"], "to_approve")] == [
        r["M"].id, r["J"].id]  # period 1 of the second regime is due before period 4
    transition(session, r["J"], "approve", people["leader"])
    session.commit()
    assert {i.report.id for i in inbox_reports(session, people["leader"], "to_approve")} == {
        r["M"].id}
    assert {i.report.id for i in inbox_reports(session, people["clerk"], "to_send")} == {
        r["H"].id, r["J"].id}


def test_the_send_box_says_when_reception_is_not_open(session):
    r, people = world(session)
    period = r["H"].period
    period.cutoff_end = dt.date.today() + dt.timedelta(days=2)
    period.deadline = dt.date.today() + dt.timedelta(days=10)
    session.commit()
    (item,) = inbox_reports(session, people["clerk"], "to_send")
    assert item.report.id == r["H"].id
    assert item.note.startswith("Chưa đến thời gian gửi báo cáo")


def test_a_person_without_a_unit_has_an_empty_inbox(session):
    user = factories.user(session, "khongdonvi", None, [DATA_ENTRY, AGGREGATOR])
    session.commit()
    assert inbox_counts(session, user) == {box: 0 for box in BOXES}
    with pytest.raises(ValueError):
        inbox_reports(session, user, "nothing")


def test_the_inbox_page_and_the_menu_badge(app_ctx, session):
    r, people = world(session)
    reviewer = Person(app_ctx, "stc.tonghop")
    page = reviewer.get("/inbox/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # the first box with work opens; every tab shows its count
    assert re.search(r'data-box="to_review" aria-current="page"', html)
    assert re.search(r'Chờ tiếp nhận <span class="badge inbox-count" data-box="to_review">2</span>',
                     html)
    assert re.search(r'data-box="to_enter">0</span>', html)
    for key in ("G", "L"):
        row = html.split(f'data-report="{r[key].id}"')[1].split("</tr>")[0]
        assert f'href="/entry/{r[key].id}"' in row
        assert r[key].period.label in row
        assert r[key].period.deadline.strftime("%d/%m/%Y") + " (24:00)" in row
    assert f'data-report="{r["D"].id}"' not in html

    counts = reviewer.get("/inbox/counts")
    assert counts.status_code == 200
    assert counts.get_json() == {"counts": {"to_enter": 0, "to_approve": 0, "to_sign": 0,
                                            "to_send": 0, "to_review": 2, "returned": 0},
                                 "total": 2}
    # every page carries the menu item and the script that puts the count on it
    other_page = reviewer.get("/reports/list/").get_data(as_text=True)
    assert 'href="/inbox/"' in other_page and "Việc cần làm" in other_page
    assert 'id="inbox-badge-script" data-counts-url="/inbox/counts"' in other_page

    entry = Person(app_ctx, "xa1.nhaplieu")
    returned = entry.get("/inbox/?box=returned").get_data(as_text=True)
    row = returned.split(f'data-report="{r["F"].id}"')[1].split("</tr>")[0]
    assert '<td class="inbox-reason">Đính chính dòng 5</td>' in row
    assert entry.get("/inbox/counts").get_json()["total"] == 1
    assert entry.get("/inbox/?box=nothing").status_code == 404

    viewer = Person(app_ctx, "xa1.xem")
    assert viewer.get("/inbox/counts").get_json()["counts"]["returned"] == 1
    assert viewer.get("/inbox/").status_code == 200
