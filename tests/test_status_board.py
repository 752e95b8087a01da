"""The status board (app/status_board.py) and its screens (app/views/status.py).

A period of ten communes whose reports are walked through app.workflow.transition at chosen
moments; the board and the compliance table must equal what the test counts itself, in plain
Python, from the facts it set.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
from dataclasses import dataclass

import openpyxl
import pytest

from app.models import Period, ReceptionChange, Regime
from app.models.forms import utcnow
from app.reports import get_or_create_report, publish_form_version, save_values
from app.roles import AGGREGATOR, APPROVER, DATA_ENTRY, PROVINCIAL_ADMIN, SIGNER, VIEWER
from app.status_board import (
    LATE,
    MISSING,
    NOT_DUE,
    ON_TIME,
    RETURNED,
    STATUS_ORDER,
    board_periods,
    compliance,
    compliance_by_month,
    default_period,
    status_board,
)
from app.workflow import transition
from tests import factories
from tests.spec_fixtures import small_spec

FORM = "TEST-B01"


def vn(day: int, month: int, hour: int, minute: int = 0, year: int = 2026) -> dt.datetime:
    """A moment given in Vietnam time, as stored (naive UTC)."""
    return dt.datetime(year, month, day, hour, minute) - dt.timedelta(hours=7)


NOW = vn(25, 11, 10)  # 25/11/2026 10:00 in Vietnam
NOVEMBER_DEADLINE = dt.date(2026, 11, 19)


@dataclass
class Fact:
    """What the test did to one report: the steps (action, moment) and its own due date."""

    unit: str
    code: str
    steps: list[tuple[str, dt.datetime]]
    due: dt.date | None = None
    under_district: bool = False


SEND = ("submit", "approve", "send")


def sent(at: dt.datetime) -> list[tuple[str, dt.datetime]]:
    return [(action, at) for action in SEND]


NOVEMBER = [
    Fact("UBND xã An Bình", "30001", sent(vn(18, 11, 9)) + [("accept", vn(19, 11, 8))],
         under_district=True),
    Fact("UBND xã Bình Hòa", "30002", sent(vn(19, 11, 23, 59)), under_district=True),
    Fact("UBND phường Cao Lãnh", "30003", sent(vn(21, 11, 10)), under_district=True),
    Fact("UBND xã Đông Hải", "30004", []),
    Fact("UBND xã Gia Thuận", "30005", [("submit", vn(18, 11, 9))]),
    Fact("UBND phường Hòa Thuận", "30006", sent(vn(17, 11, 9)) + [("return", vn(18, 11, 9))]),
    Fact("UBND xã Long Hưng", "30007",
         sent(vn(20, 11, 9)) + [("return", vn(21, 11, 9))] + sent(vn(22, 11, 9))),
    # reception reopened for this unit on 20/11 with the deadline extended to 22/11 23:59
    Fact("UBND xã Mỹ Hiệp", "30008", sent(vn(21, 11, 15))),
    Fact("UBND xã Phú Cường", "30009", [("submit", vn(24, 11, 9))], due=dt.date(2026, 11, 30)),
    # sent at 24:00 sharp of the deadline day: still on time
    Fact("UBND phường Tân An", "30010", sent(vn(20, 11, 0))),
]
# (unit code or None for every unit, action, at, until, extends_deadline)
CHANGES = [
    ("30008", "reopen", vn(20, 11, 8), vn(22, 11, 23, 59), True),
    (None, "close", vn(24, 11, 8), None, False),  # after every sending: changes no verdict
]
# A second period of the same regime (October) and one of 2025, for compliance.
OCTOBER = [
    Fact("UBND xã An Bình", "30001", sent(vn(18, 10, 9))),
    Fact("UBND xã Bình Hòa", "30002", sent(vn(23, 10, 9))),
    Fact("UBND phường Cao Lãnh", "30003", []),
    Fact("UBND xã Đông Hải", "30004", [("submit", vn(25, 10, 9))]),
]
DECEMBER_2025 = [Fact("UBND xã An Bình", "30001", []), Fact("UBND xã Đông Hải", "30004", [])]


# -- the independent count ------------------------------------------------------------------


def day_end(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day) + dt.timedelta(days=1) - dt.timedelta(hours=7)


def first_send(fact: Fact) -> dt.datetime | None:
    return next((at for action, at in fact.steps if action == "send"), None)


def deadline_at(fact: Fact, period_deadline: dt.date, moment: dt.datetime, changes) -> dt.datetime:
    deadline = day_end(fact.due or period_deadline)
    applying = [c for c in changes if c[0] in (None, fact.code) and c[2] <= moment]
    if applying:
        code, action, at, until, extends = max(applying, key=lambda c: c[2])
        if action == "reopen" and extends and until is not None:
            deadline = max(deadline, until)
    return deadline


def expected_status(fact: Fact, period_deadline: dt.date, changes=()) -> str:
    state_after = {"submit": "submitted", "approve": "approved", "send": "sent",
                   "accept": "accepted", "return": "returned"}
    state = state_after[fact.steps[-1][0]] if fact.steps else "draft"
    first = first_send(fact)
    if state == "returned":
        return RETURNED
    if first is not None:
        return ON_TIME if first <= deadline_at(fact, period_deadline, first, changes) else LATE
    return MISSING if NOW > deadline_at(fact, period_deadline, NOW, changes) else NOT_DUE


# -- the world --------------------------------------------------------------------------------


def _period(regime, number, year, cutoff_end, deadline, label):
    return Period(regime=regime, frequency="month", year=year, number=number, label=label,
                  cutoff_start=cutoff_end - dt.timedelta(days=30), cutoff_end=cutoff_end,
                  deadline=deadline)


def build_world(session):
    province = factories.unit(session, "UBND tỉnh Đồng Tháp", type_code="province_committee",
                              admin_code="82")
    lead = factories.unit(session, "Sở Tài chính", parent=province)
    district = factories.unit(session, "UBND huyện Cao Lãnh (cũ)", parent=province,
                              type_code="district")
    units, people = {}, {}
    for fact in NOVEMBER:
        parent = district if fact.under_district else province
        unit = factories.unit(session, fact.unit, parent=parent, type_code="commune",
                              admin_code=fact.code)
        units[fact.code] = unit
        people[fact.code] = factories.user(
            session, f"u{fact.code}", unit, [DATA_ENTRY, APPROVER, SIGNER],
            first_name=f"Văn {fact.code[-2:]}", last_name="Trần")
    reviewer = factories.user(session, "stc.tonghop", lead, [AGGREGATOR],
                              first_name="Thị Hoa", last_name="Lê")
    regime = Regime(code="KTXH", name="Báo cáo KTXH tháng", owner_unit=lead, lead_unit=lead,
                    receiving_unit=lead, reporting_units=list(units.values()))
    other_regime = Regime(code="CD", name="Báo cáo chuyên đề", owner_unit=lead, lead_unit=lead,
                          receiving_unit=lead)
    november = _period(regime, 11, 2026, dt.date(2026, 11, 14), NOVEMBER_DEADLINE, "Tháng 11/2026")
    october = _period(regime, 10, 2026, dt.date(2026, 10, 14), dt.date(2026, 10, 19), "Tháng 10/2026")
    december_2025 = _period(regime, 12, 2025, dt.date(2025, 12, 14), dt.date(2025, 12, 19),
                            "Tháng 12/2025")
    thematic = Period(regime=other_regime, frequency="one_off", year=2026, number=1,
                      label="Chuyên đề 2026", cutoff_start=dt.date(2026, 9, 1),
                      cutoff_end=dt.date(2026, 9, 30), deadline=dt.date(2026, 10, 5))
    session.add_all([regime, other_regime, november, october, december_2025, thematic])
    publish_form_version(session, small_spec(FORM), regime=regime)

    def walk(period, facts):
        reports = {}
        for fact in facts:
            report = get_or_create_report(session, period, units[fact.code], FORM)
            report.due_date = fact.due
            save_values(session, report, {"r5|c3": "1"})
            reports[fact.code] = report
        return reports

    reports = walk(november, NOVEMBER)
    walk(october, OCTOBER)
    walk(december_2025, DECEMBER_2025)
    thematic_report = get_or_create_report(session, thematic, units["30003"], FORM)
    session.commit()

    steps = []  # every step of every period, played in time order with the changes
    for period, facts in ((november, NOVEMBER), (october, OCTOBER)):
        for fact in facts:
            report = get_or_create_report(session, period, units[fact.code], FORM)
            for action, at in fact.steps:
                steps.append((at, "step", report, action, fact.code))
    for code, action, at, until, extends in CHANGES:
        steps.append((at, "change", code, action, (until, extends)))
    steps.sort(key=lambda s: s[0])
    for at, kind, *rest in steps:
        if kind == "change":
            code, action, (until, extends) = rest
            session.add(ReceptionChange(
                period=november, unit=units[code] if code else None, action=action, until=until,
                extends_deadline=extends, reason="Sự cố đường truyền", actor_id=reviewer.id,
                at=at))
            session.flush()
        else:
            report, action, code = rest
            who = reviewer if action in ("accept", "return") else people[code]
            transition(session, report, action, who, now=at,
                       reason="Cần bổ sung" if action == "return" else None)
    session.commit()
    admin = factories.user(session, "quantri", province, [PROVINCIAL_ADMIN])
    viewer = factories.user(session, "xa.xem", units["30003"], [VIEWER])
    session.commit()
    return {
        "province": province, "district": district, "lead": lead, "units": units,
        "people": people, "reviewer": reviewer, "admin": admin, "viewer": viewer,
        "regime": regime, "other_regime": other_regime, "november": november,
        "october": october, "december_2025": december_2025, "thematic": thematic,
        "reports": reports, "thematic_report": thematic_report,
    }


@pytest.fixture
def world(session):
    return build_world(session)


# -- the board ----------------------------------------------------------------------------------


def test_the_board_equals_the_count_from_the_facts(session, world):
    board = status_board(session, world["november"], world["reviewer"], now=NOW)
    by_code = {row.unit_code: row for row in board.rows}
    assert set(by_code) == {f.code for f in NOVEMBER}
    for fact in NOVEMBER:
        row = by_code[fact.code]
        assert row.status == expected_status(fact, NOVEMBER_DEADLINE, CHANGES), fact.unit
        assert row.first_sent_at == first_send(fact)
        sends = [at for action, at in fact.steps if action == "send"]
        assert row.sent_at == (sends[-1] if sends else None)
        assert row.deadline_at == deadline_at(fact, NOVEMBER_DEADLINE, NOW, CHANGES)
        if fact.steps:
            action, at = fact.steps[-1]
            assert (row.last_action, row.last_at) == (action, at)
            who = "Lê Thị Hoa" if action in ("accept", "return") else f"Trần Văn {fact.code[-2:]}"
            assert row.last_actor == who
        else:
            assert (row.last_action, row.last_actor, row.last_at) == (None, None, None)
    counted = {s: 0 for s in STATUS_ORDER}
    for fact in NOVEMBER:
        counted[expected_status(fact, NOVEMBER_DEADLINE, CHANGES)] += 1
    assert board.summary == counted and board.total == len(NOVEMBER)
    # the cases the facts were chosen for, spelled out
    assert by_code["30008"].status == ON_TIME  # extended deadline, judged when first sent
    assert by_code["30010"].status == ON_TIME  # 24:00 sharp
    assert by_code["30002"].status == ON_TIME  # 23:59 on the day
    assert by_code["30007"].status == LATE and by_code["30007"].state == "sent"
    assert by_code["30009"].status == NOT_DUE  # its own due date 30/11
    assert by_code["30006"].status == RETURNED
    assert by_code["30004"].status == by_code["30005"].status == MISSING
    assert counted == {MISSING: 2, RETURNED: 1, LATE: 2, NOT_DUE: 1, ON_TIME: 4}


def test_the_extension_counts_only_while_it_is_the_latest_change(session, world):
    # Before the close of 24/11 the reopening still extends Mỹ Hiệp's deadline; after, not.
    row = lambda now: next(r for r in status_board(  # noqa: E731
        session, world["november"], world["reviewer"], now=now).rows if r.unit_code == "30008")
    assert row(vn(23, 11, 9)).deadline_at == vn(22, 11, 23, 59)
    assert row(NOW).deadline_at == day_end(NOVEMBER_DEADLINE)
    # before the deadline nobody unsent is missing yet
    early = status_board(session, world["november"], world["reviewer"], now=vn(19, 11, 12))
    assert early.summary[MISSING] == 0 and early.summary[NOT_DUE] > 0


def test_filters_by_state_status_subtree_and_name(session, world):
    def codes(**filters):
        board = status_board(session, world["november"], world["reviewer"], now=NOW, **filters)
        return {row.unit_code for row in board.rows}, board

    expected = {f.code: expected_status(f, NOVEMBER_DEADLINE, CHANGES) for f in NOVEMBER}
    found, board = codes(status=LATE)
    assert found == {c for c, s in expected.items() if s == LATE}
    assert board.summary[ON_TIME] == 4  # the counts ignore the status filter
    found, _ = codes(state="sent")
    assert found == {"30002", "30003", "30007", "30008", "30010"}
    found, _ = codes(subtree_path=world["district"].path)
    assert found == {f.code for f in NOVEMBER if f.under_district}
    found, _ = codes(text="Hòa")
    assert found == {"30002", "30006"}
    found, _ = codes(text=unicodedata.normalize("NFD", "Hòa"))  # typed another way
    assert found == {"30002", "30006"}
    found, _ = codes(text="100%")  # wildcards are text
    assert found == set()
    found, _ = codes(form_code="KHÁC")
    assert found == set()
    found, board = codes(state="sent", status=ON_TIME, subtree_path=world["district"].path)
    assert found == {"30002"} and board.summary == {ON_TIME: 1, LATE: 1, MISSING: 0,
                                                     NOT_DUE: 0, RETURNED: 0}


def test_sorting(session, world):
    def rows(sort, descending=False):
        return status_board(session, world["november"], world["reviewer"], now=NOW, sort=sort,
                            descending=descending).rows

    by_status = rows("status")
    ranks = [STATUS_ORDER.index(r.status) for r in by_status]
    assert ranks == sorted(ranks)
    for status in STATUS_ORDER:  # within a status, by unit name
        names = [r.unit_name for r in by_status if r.status == status]
        assert names == sorted(names)
    by_sent = rows("sent")
    sent_times = [r.first_sent_at for r in by_sent if r.first_sent_at]
    assert sent_times == sorted(sent_times)
    assert all(r.first_sent_at is None for r in by_sent[len(sent_times):])  # unsent last
    latest_first = [r.first_sent_at for r in rows("sent", descending=True) if r.first_sent_at]
    assert latest_first == sorted(sent_times, reverse=True)
    names = [r.unit_name for r in rows("unit", descending=True)]
    assert names == sorted(names, reverse=True)
    states = [r.state for r in rows("state")]
    order = ["draft", "submitted", "approved", "sent", "accepted", "returned"]
    assert [order.index(s) for s in states] == sorted(order.index(s) for s in states)


def test_scoping_a_commune_sees_only_its_own_row(session, world):
    board = status_board(session, world["november"], world["viewer"], now=NOW)
    assert [row.unit_code for row in board.rows] == ["30003"]
    assert board.total == 1
    everything = status_board(session, world["november"], world["admin"], now=NOW)
    assert len(everything.rows) == len(NOVEMBER)
    assert status_board(session, world["november"], None, now=NOW).rows == []
    assert len(status_board(session, world["november"], None, now=NOW, scoped=False).rows) == 10
    assert [p.id for p in board_periods(session, world["viewer"])] == [
        world["november"].id, world["october"].id, world["thematic"].id]


def test_the_default_period_is_the_latest_one_due(session, world):
    periods = board_periods(session, world["reviewer"], world["regime"].id)
    assert default_period(periods, dt.date(2026, 11, 25)) == world["november"]
    assert default_period(periods, dt.date(2026, 11, 14)) == world["november"]  # due soon
    assert default_period(periods, dt.date(2026, 11, 1)) == world["october"]
    assert default_period(periods, dt.date(2025, 1, 1)) == world["december_2025"]
    assert default_period([], dt.date(2026, 1, 1)) is None


# -- compliance ---------------------------------------------------------------------------------


def expected_compliance(world, regime_id=None, by_month=False, now=NOW):
    """Per unit code (or month of the deadline): [assigned, on time, late, missing] for 2026,
    from the facts."""
    counts: dict[str, list[int]] = {}
    plans = [(NOVEMBER, NOVEMBER_DEADLINE, CHANGES, world["regime"].id),
             (OCTOBER, dt.date(2026, 10, 19), (), world["regime"].id),
             (DECEMBER_2025, dt.date(2025, 12, 19), (), world["regime"].id),
             ([Fact("", "30003", [])], dt.date(2026, 10, 5), (), world["other_regime"].id)]
    for facts, deadline, changes, regime in plans:
        if regime_id is not None and regime != regime_id:
            continue
        for fact in facts:
            if (fact.due or deadline).year != 2026:
                continue
            key = (fact.due or deadline).month if by_month else fact.code
            row = counts.setdefault(key, [0, 0, 0, 0])
            row[0] += 1
            first = first_send(fact)
            if first is not None:
                late = first > deadline_at(fact, deadline, first, changes)
                row[2 if late else 1] += 1
            elif now > deadline_at(fact, deadline, now, changes):
                row[3] += 1
    return counts


def test_compliance_equals_the_count_from_the_facts(session, world):
    for regime_id in (None, world["regime"].id, world["other_regime"].id):
        rows = compliance(session, 2026, world["reviewer"], regime_id=regime_id, now=NOW)
        found = {r.unit_code: [r.assigned, r.on_time, r.late, r.missing] for r in rows}
        assert found == expected_compliance(world, regime_id)
    rows = {r.unit_code: r for r in compliance(session, 2026, world["reviewer"], now=NOW)}
    assert [rows["30003"].assigned, rows["30003"].late, rows["30003"].missing] == [3, 1, 2]
    assert rows["30009"].not_due == 1 and rows["30009"].on_time_rate is None
    assert rows["30001"].on_time_rate == 1.0
    # 2025: only the December period
    old = {r.unit_code: (r.assigned, r.missing) for r in
           compliance(session, 2025, world["reviewer"], now=NOW)}
    assert old == {"30001": (1, 1), "30004": (1, 1)}


def test_compliance_by_month_equals_the_count_from_the_facts(session, world):
    for regime_id in (None, world["regime"].id, world["other_regime"].id):
        months = compliance_by_month(session, 2026, world["reviewer"], regime_id=regime_id,
                                     now=NOW)
        assert [m.month for m in months] == list(range(1, 13))
        found = {m.month: [m.assigned, m.on_time, m.late, m.missing] for m in months
                 if m.assigned}
        assert found == expected_compliance(world, regime_id, by_month=True)
        assert all(m.on_time == m.late == m.missing == 0 for m in months if not m.assigned)
    mine = compliance_by_month(session, 2026, world["viewer"], now=NOW)
    assert sum(m.assigned for m in mine) == 3  # the viewer's own commune only


def test_compliance_is_scoped_and_filtered_by_subtree(session, world):
    mine = compliance(session, 2026, world["viewer"], now=NOW)
    assert [r.unit_code for r in mine] == ["30003"]
    district = compliance(session, 2026, world["admin"], now=NOW,
                          subtree_path=world["district"].path)
    assert {r.unit_code for r in district} == {"30001", "30002", "30003"}


# -- the screens --------------------------------------------------------------------------------


def test_the_board_page_renders_in_vietnamese(client, session, world):
    factories.login(client, "stc.tonghop")
    page = client.get(f"/status/?period={world['november'].id}&now=ignored")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in ("Theo dõi báo cáo", "Đúng hạn", "Muộn", "Chưa gửi (quá hạn)", "Bị trả lại",
                 "UBND xã Mỹ Hiệp", "Tháng 11/2026", "Xuất Excel"):
        assert text in html, text
    assert "label-success" in html and "label-danger" in html
    filtered = client.get(f"/status/?period={world['november'].id}&status=returned")
    html = filtered.get_data(as_text=True)
    assert "UBND phường Hòa Thuận" in html and "UBND xã Mỹ Hiệp" not in html


def test_the_board_page_without_a_period_picks_one(client, session, world):
    factories.login(client, "stc.tonghop")
    page = client.get("/status/")
    assert page.status_code == 200
    assert "Tháng" in page.get_data(as_text=True)


def test_a_commune_user_sees_only_its_row_on_the_page(client, session, world):
    factories.login(client, "xa.xem")
    html = client.get(f"/status/?period={world['november'].id}").get_data(as_text=True)
    assert "UBND phường Cao Lãnh" in html and "UBND xã Mỹ Hiệp" not in html


def test_data_entry_may_not_open_the_board(client, session, world):
    factories.login(client, "u30001")  # entry, approver and signer: the approver may read
    assert client.get(f"/status/?period={world['november'].id}").status_code == 200
    entry_only = factories.user(session, "chi.nhaplieu", world["units"]["30004"], [DATA_ENTRY])
    session.commit()
    assert entry_only is not None
    client.get("/logout/")
    factories.login(client, "chi.nhaplieu")
    response = client.get(f"/status/?period={world['november'].id}")
    assert response.status_code in (302, 403)


def test_the_export_has_exactly_the_filtered_rows(client, session, world):
    factories.login(client, "stc.tonghop")
    query = f"period={world['november'].id}&sort=sent&state=sent"
    response = client.get(f"/status/export.xlsx?{query}")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    header, data = rows[0], rows[1:]
    assert header[:5] == ("STT", "Đơn vị", "Mã đơn vị", "Mã biểu", "Trạng thái")
    board = status_board(session, world["november"], world["reviewer"], sort="sent",
                         state="sent")
    assert [r[1] for r in data] == [row.unit_name for row in board.rows]
    assert len(data) == 5
    column = {name: index for index, name in enumerate(header)}
    for line, row in zip(data, board.rows, strict=True):
        assert line[column["Gửi lần đầu"]] == row.first_sent_at + dt.timedelta(hours=7)
        assert line[column["Gửi lần cuối"]] == row.sent_at + dt.timedelta(hours=7)
        assert line[column["Hạn gửi"]] == row.deadline_at + dt.timedelta(hours=7)
    status_words = {line[column["Tình trạng hạn"]] for line in data}
    assert status_words == {"Đúng hạn", "Muộn"}
    cell = sheet.cell(row=2, column=column["Gửi lần đầu"] + 1)
    assert cell.number_format == "dd/mm/yyyy hh:mm" and cell.is_date


def test_the_compliance_page_and_export(client, session, world):
    factories.login(client, "stc.tonghop")
    page = client.get("/compliance/?year=2026")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in ("Mức độ tuân thủ", "UBND phường Cao Lãnh", "Đúng hạn", "Chưa gửi (quá hạn)"):
        assert text in html, text
    response = client.get(f"/compliance/export.xlsx?year=2026&regime={world['regime'].id}")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    expected = expected_compliance(world, world["regime"].id, now=utcnow())  # the page's clock
    found = {r[2]: list(r[3:7]) for r in rows[1:]}
    assert found == expected


def test_the_board_exports_to_csv_and_json_with_the_same_rows(client, session, world):
    import csv
    import json

    factories.login(client, "stc.tonghop")
    query = f"period={world['november'].id}&sort=sent&state=sent"
    board = status_board(session, world["november"], world["reviewer"], sort="sent",
                         state="sent")
    response = client.get(f"/status/export.csv?{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    header, data = rows[2], rows[3:]
    assert header[:5] == ["STT", "Đơn vị", "Mã đơn vị", "Mã biểu", "Trạng thái"]
    assert [r[1] for r in data] == [row.unit_name for row in board.rows]
    sent = header.index("Gửi lần đầu")
    assert data[0][sent] == (board.rows[0].first_sent_at + dt.timedelta(hours=7)).strftime(
        "%Y-%m-%dT%H:%M:%S+07:00")
    document = json.loads(client.get(f"/status/export.json?{query}").data)
    assert [r[1] for r in document["rows"]] == [row.unit_name for row in board.rows]
