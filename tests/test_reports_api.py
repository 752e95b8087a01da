"""The REST API of reports and values and the dataValueSets import, on SQLite and PostgreSQL:
scoping across two communes for reading and writing, read-only API keys, JWT login, the
reporting cycle refused by role and by state, and the import's dry run, per-value errors,
all-or-nothing per report and re-import."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import current_app, g
from sqlalchemy import func, select

from app.datavalues import import_data_values, parse_period, values_from_csv
from app.models import AuditEntry, Indicator, Period, Regime, ReportValue
from app.reports import get_or_create_report, load_values, publish_form_version, save_values
from app.roles import AGGREGATOR, APPROVER, DATA_ENTRY, SIGNER
from tests import factories
from tests.spec_fixtures import small_spec


def mapped_spec():
    spec = small_spec()
    for row, code in zip(spec.rows, ("DS", "LUA", "GHICHU"), strict=True):
        row.indicator_code = code
    return spec


def api_world(session):
    """Two communes of one province reporting one monthly form whose rows map to the
    catalogue's indicators DS, LUA and GHICHU; a second period for commune one."""
    today = dt.date.today()
    province = factories.unit(session, "UBND tỉnh", type_code="province_committee",
                              admin_code="82")
    lead = factories.unit(session, "Sở Tài chính", parent=province, internal_code="STC")
    one = factories.unit(session, "UBND xã Một", parent=province, type_code="commune",
                         admin_code="28001")
    two = factories.unit(session, "UBND xã Hai", parent=province, type_code="commune",
                         admin_code="28002")
    regime = Regime(code="KTXH", name="Báo cáo KTXH tháng", owner_unit=lead, lead_unit=lead,
                    receiving_unit=province)
    november = Period(regime=regime, frequency="month", year=2026, number=11,
                      label="Tháng 11/2026", cutoff_start=today - dt.timedelta(days=40),
                      cutoff_end=today - dt.timedelta(days=3),
                      deadline=today + dt.timedelta(days=5))
    october = Period(regime=regime, frequency="month", year=2026, number=10,
                     label="Tháng 10/2026", cutoff_start=today - dt.timedelta(days=70),
                     cutoff_end=today - dt.timedelta(days=33),
                     deadline=today + dt.timedelta(days=5))
    session.add_all([regime, november, october])
    session.add_all([Indicator(code="DS", name="Dân số", value_type="integer"),
                     Indicator(code="LUA", name="Diện tích lúa"),
                     Indicator(code="GHICHU", name="Ghi chú", value_type="text")])
    publish_form_version(session, mapped_spec(), regime=regime)
    reports = {
        "one": get_or_create_report(session, november, one, "TEST-B01"),
        "two": get_or_create_report(session, november, two, "TEST-B01"),
        "one_oct": get_or_create_report(session, october, one, "TEST-B01"),
    }
    people = {
        "entry": factories.user(session, "xa1.nhaplieu", one, [DATA_ENTRY]),
        "leader": factories.user(session, "xa1.lanhdao", one, [APPROVER]),
        "clerk": factories.user(session, "xa1.vanthu", one, [SIGNER]),
        "entry2": factories.user(session, "xa2.nhaplieu", two, [DATA_ENTRY]),
        "reviewer": factories.user(session, "stc.tonghop", lead, [AGGREGATOR]),
    }
    save_values(session, reports["two"], {"r5|c3": "500"})
    session.commit()
    return reports, people


def key_of(user, scopes="read,write") -> str:
    return current_app.appbuilder.sm.create_api_key(user, "hệ thống", scopes=scopes)["key"]


def forget_request_user() -> None:
    """In production each request has its own ``g``; the tests' requests share the test's app
    context, so the user a request authenticated (session, API key or JWT) is forgotten."""
    for name in list(g):
        if name in ("_login_user", "user", "_api_key_user", "_api_key_scopes",
                    "_access_refusal", "_permission_pairs") or name.startswith("_jwt"):
            g.pop(name, None)


class Caller:
    """A test client that sends one Authorization header (an API key or a JWT). The requests
    share the test's app context: forget the user of the previous request each time."""

    def __init__(self, app, token: str):
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method):
        def call(url, **kwargs):
            forget_request_user()
            headers = {**self.headers, **kwargs.pop("headers", {})}
            return getattr(self.client, method)(url, headers=headers, **kwargs)
        return call


def jwt_of(app, username: str) -> str:
    forget_request_user()
    answer = app.test_client().post("/api/v1/security/login", json={
        "username": username, "password": factories.PASSWORD, "provider": "db"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()["access_token"]


# -- reports: scoping, read-only keys, the cycle ------------------------------------------------


def test_reports_are_scoped_for_reading_and_writing_across_two_communes(app_ctx, session):
    reports, people = api_world(session)
    one = Caller(app_ctx, key_of(people["entry"]))
    listed = one.get("/api/v1/report/")
    assert listed.status_code == 200, listed.get_data(as_text=True)
    ids = {row["id"] for row in listed.get_json()["result"]}
    assert ids == {reports["one"].id, reports["one_oct"].id}
    drafts = one.get("/api/v1/report/?q=(filters:!((col:state,opr:eq,value:draft)))")
    assert {row["id"] for row in drafts.get_json()["result"]} == ids
    assert one.get(f"/api/v1/report/{reports['two'].id}").status_code == 404
    assert one.get(f"/api/v1/report/{reports['two'].id}/values").status_code == 404
    refused = one.put(f"/api/v1/report/{reports['two'].id}/values",
                      json={"values": {"r5|c3": "1"}})
    assert refused.status_code == 404
    values = one.get("/api/v1/value/").get_json()["result"]
    assert {v["report_id"] for v in values} <= {reports["one"].id, reports["one_oct"].id}

    shown = one.get(f"/api/v1/report/{reports['one'].id}").get_json()["result"]
    assert shown["state"] == "draft" and shown["editable"] is True
    assert "submit" in shown["actions"]
    assert {"key": "r5|c3", "dataElement": "DS", "column": "plan_year"}.items() <= \
        next(c for c in shown["values"] if c["key"] == "r5|c3").items()

    saved = one.put(f"/api/v1/report/{reports['one'].id}/values",
                    json={"values": {"r5|c3": 120, "r5|c4": "3"}})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert saved.get_json()["saved"] == 2
    session.expire_all()
    assert load_values(session, reports["one"])["r5|c3"] == Decimal("120")
    cells = one.get(f"/api/v1/report/{reports['one'].id}/values").get_json()["values"]
    assert next(c for c in cells if c["key"] == "r5|c5")["value"] == "123"  # computed

    # the other commune's dataValueSets are out of reach too
    answer = one.get("/api/v1/datavaluesets/?orgUnit=28002&period=202611")
    assert answer.status_code == 200 and answer.get_json()["dataValues"] == []

    # the lead agency's aggregator reads both communes' reports but writes neither
    lead = Caller(app_ctx, key_of(people["reviewer"]))
    assert {row["id"] for row in lead.get("/api/v1/report/").get_json()["result"]} == \
        {r.id for r in reports.values()}
    assert lead.put(f"/api/v1/report/{reports['two'].id}/values",
                    json={"values": {"r5|c3": "1"}}).status_code == 403


def test_a_read_only_key_reads_but_never_writes(app_ctx, session):
    reports, people = api_world(session)
    reader = Caller(app_ctx, key_of(people["entry"], scopes="read"))
    assert reader.get(f"/api/v1/report/{reports['one'].id}").status_code == 200
    for call in (
        lambda: reader.put(f"/api/v1/report/{reports['one'].id}/values",
                           json={"values": {"r5|c3": "1"}}),
        lambda: reader.post(f"/api/v1/report/{reports['one'].id}/transition",
                            json={"action": "submit"}),
        lambda: reader.post("/api/v1/datavaluesets/", json={"dataValues": [
            {"orgUnit": "28001", "period": "202611", "dataElement": "DS",
             "column": "plan_year", "value": 1}]}),
    ):
        answer = call()
        assert answer.status_code == 403
        assert "chỉ được đọc" in answer.get_json()["message"]
    session.expire_all()
    assert load_values(session, reports["one"]) == {}
    assert reports["one"].state == "draft"


def test_the_lead_agency_assigns_a_report_and_a_clerk_may_not(app_ctx, session):
    from app.models import Report

    reports, people = api_world(session)
    three = factories.unit(session, "UBND xã Ba", parent=reports["one"].unit.parent,
                           type_code="commune", admin_code="28003")
    reports["one"].regime.reporting_units.extend([reports["one"].unit, three])
    session.commit()
    body = {"period": reports["one"].period_id, "form_code": "TEST-B01",
            "units": ["28003", "28001"]}
    clerk = Caller(app_ctx, key_of(people["entry"]))
    refused = clerk.post("/api/v1/report/", json=body)
    assert refused.status_code == 403 and "Giao báo cáo" in refused.get_json()["message"]
    lead = Caller(app_ctx, key_of(people["reviewer"]))
    done = lead.post("/api/v1/report/", json=body)
    assert done.status_code == 201, done.get_data(as_text=True)
    assert done.get_json()["already"] == 1 and len(done.get_json()["created"]) == 1
    created = session.get(Report, done.get_json()["created"][0])
    assert created.unit_id == three.id and created.state == "draft"
    unknown = lead.post("/api/v1/report/", json=dict(body, units=["99999"]))
    assert unknown.status_code == 422 and "99999" in unknown.get_json()["message"]


def test_a_unit_admin_issues_a_read_and_write_key(app_ctx, session):
    from app.roles import UNIT_ADMIN
    from tests.test_entry_workflow import Person

    reports, people = api_world(session)
    factories.user(session, "xa1.quantri", reports["one"].unit, [UNIT_ADMIN])
    session.commit()
    admin = Person(app_ctx, "xa1.quantri")
    page = admin.post("/api-keys/issue", data={"account_id": str(people["entry"].id),
                                               "name": "Phần mềm thống kê", "days": "30",
                                               "scope": "read,write"}).get_data(as_text=True)
    assert "Đọc và ghi" in page
    (key,) = current_app.appbuilder.sm.find_api_keys_for_user(people["entry"].id)
    assert key.scopes == "read,write"


def test_transitions_follow_the_screens_rules_with_reasons(app_ctx, session):
    reports, people = api_world(session)
    report = reports["one"]
    entry = Caller(app_ctx, jwt_of(app_ctx, "xa1.nhaplieu"))  # a person, by JWT
    leader = Caller(app_ctx, jwt_of(app_ctx, "xa1.lanhdao"))
    url = f"/api/v1/report/{report.id}/transition"

    too_early = leader.post(url, json={"action": "approve"})
    assert too_early.status_code == 409
    assert "đang nhập" in too_early.get_json()["message"]

    assert entry.put(f"/api/v1/report/{report.id}/values",
                     json={"values": {"r5|c3": "100"}}).status_code == 200
    stale = entry.post(url, json={"action": "submit", "revision": 0})
    assert stale.status_code == 409 and "tải lại" in stale.get_json()["message"]
    done = entry.post(url, json={"action": "submit"})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["state"] == "submitted"

    by_role = entry.post(url, json={"action": "approve"})  # data entry may not approve
    assert by_role.status_code == 403
    assert "Lãnh đạo duyệt" in by_role.get_json()["message"]
    no_reason = leader.post(url, json={"action": "reject"})
    assert no_reason.status_code == 422 and no_reason.get_json()["field"] == "reason"
    other = Caller(app_ctx, key_of(people["entry2"]))
    assert other.post(url, json={"action": "approve"}).status_code == 404  # out of scope
    approved = leader.post(url, json={"action": "approve"})
    assert approved.status_code == 200, approved.get_data(as_text=True)
    assert approved.get_json()["state"] == "approved"
    locked = entry.put(f"/api/v1/report/{report.id}/values", json={"values": {"r5|c3": "1"}})
    assert locked.status_code == 409 and "khóa" in locked.get_json()["message"]
    assert entry.post(url, json={"action": "fly"}).status_code == 400


# -- dataValueSets -------------------------------------------------------------------------------


def _values(*items):
    return [{"orgUnit": u, "period": p, "dataElement": d, "column": c, "value": v}
            for u, p, d, c, v in items]


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_a_dry_run_writes_nothing_and_says_what_would_happen(app_ctx, session):
    reports, people = api_world(session)
    caller = Caller(app_ctx, jwt_of(app_ctx, "xa1.nhaplieu"))  # a key's use is recorded
    before = (_count(session, ReportValue), _count(session, AuditEntry), reports["one"].revision)
    answer = caller.post("/api/v1/datavaluesets/?dryRun=true", json={"dataValues": _values(
        ("28001", "202611", "DS", "plan_year", 120),
        ("28001", "202611", "LUA", "c4", "12.5"),
    )})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["dryRun"] is True and body["importCount"]["imported"] == 2
    assert body["reports"][0]["status"] == "would_write"
    session.expire_all()
    assert (_count(session, ReportValue), _count(session, AuditEntry),
            reports["one"].revision) == before


def test_one_bad_value_refuses_its_report_only_and_names_the_value(app_ctx, session):
    reports, people = api_world(session)
    caller = Caller(app_ctx, key_of(people["entry"]))
    answer = caller.post("/api/v1/datavaluesets/", json={"dataValues": _values(
        ("28001", "202611", "DS", "plan_year", 120),
        ("28001", "202611", "DS", "actual_month", "mười"),   # not a number: November refused
        ("28001", "202610", "DS", "plan_year", 110),          # October proceeds
        ("28002", "202611", "DS", "plan_year", 1),            # another commune: out of scope
        ("28001", "202611", "KHONGCO", "plan_year", 1),       # no such indicator
    )})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["status"] == "WARNING"
    results = body["results"]
    assert results[1]["status"] == "error" and results[1]["field"] == "value"
    assert "Giá trị thứ 2" in results[1]["message"] and "mười" in results[1]["message"]
    assert results[0]["status"] == "ignored" and "giá trị thứ 2" in results[0]["message"]
    assert results[2]["status"] == "imported"
    assert results[3]["field"] == "orgUnit" and "phạm vi" in results[3]["message"]
    assert results[4]["field"] == "dataElement" and "KHONGCO" in results[4]["message"]
    assert body["importCount"] == {"imported": 1, "updated": 0, "ignored": 1, "errors": 3}
    outcomes = {r["period"]: r["status"] for r in body["reports"]}
    assert outcomes == {"202611": "refused", "202610": "written"}
    session.expire_all()
    assert load_values(session, reports["one"]) == {}
    assert load_values(session, reports["one_oct"]) == {"r5|c3": Decimal("110")}
    assert load_values(session, reports["two"]) == {"r5|c3": Decimal("500")}


def test_import_then_reimport_reports_updated_and_ignored(app_ctx, session):
    reports, people = api_world(session)
    caller = Caller(app_ctx, key_of(people["entry"]))
    first = _values(("28001", "202611", "DS", "plan_year", 120),
                    ("28001", "202611", "LUA", "plan_year", "12.5"),
                    ("28001", "202611", "GHICHU", "c3", "Đủ số liệu"))
    body = caller.post("/api/v1/datavaluesets/", json={"dataValues": first}).get_json()
    assert [r["status"] for r in body["results"]] == ["imported"] * 3
    assert body["reports"][0]["status"] == "written"
    again = caller.post("/api/v1/datavaluesets/", json={"dataValues": first}).get_json()
    assert [r["status"] for r in again["results"]] == ["ignored"] * 3
    assert again["reports"][0]["status"] == "unchanged"
    changed = first[:2] + [dict(first[2], value="Thiếu một xã")]
    changed[0] = dict(changed[0], value="121")
    third = caller.post("/api/v1/datavaluesets/", json={"dataValues": changed}).get_json()
    assert [r["status"] for r in third["results"]] == ["updated", "ignored", "updated"]
    session.expire_all()
    values = load_values(session, reports["one"])
    assert values["r5|c3"] == Decimal("121") and values["r6|c3"] == Decimal("12.5")
    assert values["r7|c3"] == "Thiếu một xã"
    # what was written reads back in the same shape
    exported = caller.get("/api/v1/datavaluesets/?orgUnit=28001&period=202611").get_json()
    assert {(v["dataElement"], v["column"], v["value"]) for v in exported["dataValues"]} == {
        ("DS", "plan_year", "121"), ("LUA", "plan_year", "12.5"),
        ("GHICHU", "plan_year", "Thiếu một xã")}


def test_csv_import_names_the_line_and_a_sent_report_stays_frozen(app_ctx, session):
    reports, people = api_world(session)
    caller = Caller(app_ctx, key_of(people["entry"]))
    text = ("orgUnit;period;dataElement;column;value\n"
            "28001;202611;DS;plan_year;1.234\n"
            "28001;202611;LUA;nope;3\n")
    answer = caller.post("/api/v1/datavaluesets/?dryRun=1", data=text.encode(),
                         content_type="text/csv")
    assert answer.status_code == 409  # nothing at all can be written
    results = answer.get_json()["results"]
    assert results[1]["line"] == 3 and "Dòng 3" in results[1]["message"]
    assert results[1]["field"] == "column"
    missing = caller.post("/api/v1/datavaluesets/", data=b"orgUnit,period\n1,2\n",
                          content_type="text/csv")
    assert missing.status_code == 400 and "dataElement" in missing.get_json()["message"]

    # the domain function, without a request: a sent report refuses imports
    report = reports["two"]
    report.state = "sent"
    session.commit()
    summary = import_data_values(session, _values(("28002", "202611", "DS", "plan_year", 7)),
                                 people["entry2"])
    assert summary.results[0].status == "error" and "khóa" in summary.results[0].message
    assert load_values(session, report)["r5|c3"] == Decimal("500")


def test_period_codes_and_csv_reading():
    assert parse_period("202611") == ("month", 2026, 11)
    assert parse_period("2026q4") == ("quarter", 2026, 4)
    assert parse_period("2026S2") == ("half_year", 2026, 2)
    assert parse_period("2026N9") == ("nine_months", 2026, 1)
    assert parse_period("2026") == ("year", 2026, 1)
    assert parse_period(17) == 17 and parse_period("17") == 17
    assert parse_period("202613") is None and parse_period(True) is None
    rows = values_from_csv("\ufefforgUnit,period,dataElement,column,value\n1,2,3,4,5\n")
    assert rows == [{"orgUnit": "1", "period": "2", "dataElement": "3", "column": "4",
                     "value": "5", "_line": 2}]
