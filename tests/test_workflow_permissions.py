"""Every transition × every seed role × the reporting unit, a foreign unit and the reviewing
units: only the expected pairs may act; every other one is refused with a reason and writes
nothing. The expected table is written out here, independently of app.workflow.TRANSITIONS."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import ReportComment, ReportEvent, Unit
from app.roles import (
    AGGREGATOR,
    APPROVER,
    DATA_ENTRY,
    PROVINCIAL_ADMIN,
    SEED_ROLES,
    SIGNER,
    UNIT_ADMIN,
    VIEWER,
)
from app.workflow import TransitionRefused, transition
from tests import factories
from tests.test_workflow import NOW, cycle_setup

# where the acting person works: the reporting commune, another commune, the lead agency
# (Sở Tài chính) and the receiving unit (UBND tỉnh)
PLACES = ("own", "foreign", "lead", "receiving")
SOURCE_STATE = {
    "submit": "draft", "approve": "submitted", "reject": "submitted", "send": "approved",
    "accept": "sent", "return": "sent", "reopen": "accepted", "request_correction": "accepted",
}
ALLOWED = {
    "submit": {(DATA_ENTRY, "own"), (AGGREGATOR, "own")},
    "approve": {(APPROVER, "own")},
    "reject": {(APPROVER, "own")},
    "send": {(SIGNER, "own")},
    "accept": {(AGGREGATOR, "lead"), (AGGREGATOR, "receiving")},
    "return": {(AGGREGATOR, "lead"), (AGGREGATOR, "receiving")},
    "reopen": {(AGGREGATOR, "lead"), (AGGREGATOR, "receiving")},
    "request_correction": {(APPROVER, "own"), (SIGNER, "own")},
}
assert {UNIT_ADMIN, VIEWER, PROVINCIAL_ADMIN} <= set(SEED_ROLES)


def _events(session, report) -> int:
    return session.scalar(
        select(func.count()).select_from(ReportEvent).where(ReportEvent.report_id == report.id)
    )


@pytest.mark.parametrize("action", list(SOURCE_STATE))
def test_each_role_and_place_may_do_exactly_what_the_table_says(session, action):
    report, _ = cycle_setup(session)
    units = {
        "own": report.unit,
        "foreign": session.scalar(select(Unit).where(Unit.name == "UBND xã Hai")),
        "lead": report.regime.lead_unit,
        "receiving": report.regime.receiving_unit,
    }
    people = {}
    for number, role in enumerate(SEED_ROLES):
        for place in PLACES:
            people[(role, place)] = factories.user(
                session, f"u{number}.{place}", units[place], [role], password_hash="-")
    session.commit()

    outcomes = {}
    for (role, place), person in people.items():
        report.state = SOURCE_STATE[action]
        session.commit()
        before = _events(session, report)
        try:
            transition(session, report, action, person, reason="Lý do kiểm tra", now=NOW)
        except TransitionRefused as refused:
            assert refused.message, (role, place)
            session.rollback()
            assert _events(session, report) == before, (role, place)
            outcomes[(role, place)] = False
        else:
            assert _events(session, report) == before + 1
            session.rollback()  # undo: the next person starts from the same state
            outcomes[(role, place)] = True
    allowed = {pair for pair, done in outcomes.items() if done}
    assert allowed == ALLOWED[action]
    assert session.scalar(select(func.count()).select_from(ReportComment)) == 0


def test_a_person_narrowed_to_another_regime_cannot_act(session):
    from app.models import Regime, RegimeRoleGrant

    report, people = cycle_setup(session)
    other = Regime(code="KHAC", name="Chế độ khác", owner_unit=report.unit,
                   lead_unit=report.unit, receiving_unit=report.unit)
    session.add(other)
    session.flush()
    entry = people["entry"]
    role = next(r for r in entry.roles if r.name == DATA_ENTRY)
    session.add(RegimeRoleGrant(user_id=entry.id, role_id=role.id, regime_id=other.id))
    session.commit()
    with pytest.raises(TransitionRefused, match="cần vai trò"):
        transition(session, report, "submit", entry, now=NOW)


def test_when_people_are_assigned_only_they_may_act_for_that_role(session):
    from app.models import ReportAssignee

    report, people = cycle_setup(session)
    colleague = factories.user(session, "xa1.nhaplieu2", report.unit, [DATA_ENTRY])
    session.add(ReportAssignee(report_id=report.id, user_id=colleague.id, role_name=DATA_ENTRY))
    session.commit()
    with pytest.raises(TransitionRefused, match="không được phân công"):
        transition(session, report, "submit", people["entry"], now=NOW)
    transition(session, report, "submit", colleague, now=NOW)
    assert report.state == "submitted"
