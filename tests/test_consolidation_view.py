"""The consolidation buttons and the drill-down on the report page of a consolidated report."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from app.models import Period, Regime
from app.reports import get_or_create_report, load_values, publish_form_version, save_values
from app.roles import AGGREGATOR, APPROVER, DATA_ENTRY, SIGNER
from app.workflow import transition
from tests import factories
from tests.spec_fixtures import small_spec


def _province_over_two_communes(session):
    today = dt.date.today()
    province = factories.unit(session, "UBND tỉnh", type_code="province_committee")
    communes = [factories.unit(session, f"UBND xã {n}", parent=province, type_code="commune")
                for n in ("Một", "Hai")]
    regime = Regime(code="KTXH", name="Báo cáo KTXH tháng", owner_unit=province,
                    lead_unit=province, receiving_unit=province)
    period = Period(regime=regime, frequency="month", year=today.year, number=today.month,
                    label="Kỳ thử", cutoff_start=today - dt.timedelta(days=40),
                    cutoff_end=today - dt.timedelta(days=1), deadline=today + dt.timedelta(days=5))
    session.add_all([regime, period])
    publish_form_version(session, small_spec(with_formula=True), regime=regime)
    total = get_or_create_report(session, period, province, "TEST-B01")
    total.kind = "consolidated"
    reviewer = factories.user(session, "tinh.tonghop", province, [AGGREGATOR, DATA_ENTRY])
    for number, (commune, value) in enumerate(zip(communes, ("100", "23"), strict=True)):
        report = get_or_create_report(session, period, commune, "TEST-B01")
        people = [factories.user(session, f"x{number}.{role}", commune, [role], password_hash="-")
                  for role in (DATA_ENTRY, APPROVER, SIGNER)]
        save_values(session, report, {"r5|c3": value})
        for action, person in zip(("submit", "approve", "send"), people, strict=True):
            transition(session, report, action, person)
        if number == 0:
            transition(session, report, "accept", reviewer)
    session.commit()
    return total


def test_the_lead_agency_consolidates_and_drills_down_from_the_page(client, session):
    total = _province_over_two_communes(session)
    factories.login(client, "tinh.tonghop")
    page = client.get(f"/entry/{total.id}").get_data(as_text=True)
    assert "Tổng hợp số liệu chính thức" in page

    answer = client.post(f"/entry/{total.id}/consolidate", data={"mode": "official"},
                         follow_redirects=True).get_data(as_text=True)
    assert "Đã tổng hợp từ 1 báo cáo" in answer and "UBND xã Hai" in answer  # not yet accepted
    session.expire_all()
    assert load_values(session, total)["r5|c3"] == Decimal("100")

    client.post(f"/entry/{total.id}/consolidate", data={"mode": "provisional"})
    session.expire_all()
    assert load_values(session, total)["r5|c3"] == Decimal("123")

    drill = client.get(f"/entry/{total.id}/drill?cell=C5&mode=provisional").get_data(as_text=True)
    assert "UBND xã Một" in drill and "UBND xã Hai" in drill and "100" in drill and "23" in drill
    missing = client.get(f"/entry/{total.id}/drill?cell=Z99").get_data(as_text=True)
    assert "không có trong biểu này" in missing


def test_a_unit_report_has_no_consolidation_and_a_refusal_is_shown(client, session):
    total = _province_over_two_communes(session)
    total.kind = "unit"
    session.commit()
    factories.login(client, "tinh.tonghop")
    assert "Tổng hợp số liệu chính thức" not in client.get(f"/entry/{total.id}").get_data(as_text=True)
    answer = client.post(f"/entry/{total.id}/consolidate", data={"mode": "official"},
                         follow_redirects=True).get_data(as_text=True)
    assert "alert-danger" in answer
    session.expire_all()
    assert load_values(session, total).get("r5|c3") is None


def test_a_responsible_unit_sees_the_rows_of_others_read_only(client, session):
    from tests.test_consolidation import World

    world = World(session)
    health = world.unit("Sở Y tế", type_code="department")
    report = world.report(health)
    world.responsible("HN", health)
    world.responsible("TH", health)
    factories.user(session, "syt.nhaplieu", health, [DATA_ENTRY])
    session.commit()
    factories.login(client, "syt.nhaplieu")
    page = client.get(f"/entry/{report.id}").get_data(as_text=True)

    def editable(key: str) -> bool:
        import re

        pattern = r'<(?:input|textarea|select)[^>]*data-key="' + re.escape(key) + r'"[^>]*>'
        tag = re.search(pattern, page)
        assert tag, key
        return "readonly" not in tag.group(0) and "disabled" not in tag.group(0)

    assert editable("r5|c4") and editable("r6|c4")
    assert not editable("r1|c4")
