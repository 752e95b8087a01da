"""Assignment (giao báo cáo), ad-hoc requests, the reception window and their screens."""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile

import pytest
from sqlalchemy import func, select

from app.assignment import (
    AssignmentRefused,
    adhoc_for_report,
    assign,
    change_reception,
    check_outline,
    create_adhoc_request,
    mark_consolidating_reports,
    preview_assignment,
    reception_notices,
    set_assignees,
)
from app.errors import PermissionDenied
from app.models import (
    AdhocRequest,
    Period,
    Regime,
    RegimeRoleGrant,
    Report,
    ReportAssignee,
    Unit,
)
from app.periods import generate_periods
from app.reports import publish_form_version
from app.roles import (
    AGGREGATOR,
    APPROVER,
    DATA_ENTRY,
    PROVINCIAL_ADMIN,
    SIGNER,
    UNIT_ADMIN,
)
from app.workflow import reception
from tests import factories
from tests.spec_fixtures import small_spec

# 20/11/2026 10:00 in Vietnam: inside the window of "Tháng 11/2026" (cutoff end 14/11, deadline
# 19/11)
NOW = dt.datetime(2026, 11, 20, 3, 0)
FORM = "TEST-B01"
FAST = "x"  # a password hash for accounts that never log in


def _pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.fixture
def world(session):
    """A province: the lead agency (Sở Tài chính), a district-like unit with two communes under
    it, a third commune directly under the province, a ward, and the people of each."""
    province = factories.unit(session, "UBND tỉnh", type_code="province_committee")
    lead = factories.unit(session, "Sở Tài chính", parent=province)
    other_dept = factories.unit(session, "Sở Y tế", parent=province)
    cluster = factories.unit(session, "Cụm xã Bắc", parent=province, type_code="cluster")
    c1 = factories.unit(session, "UBND xã Một", parent=cluster, type_code="commune")
    c2 = factories.unit(session, "UBND xã Hai", parent=cluster, type_code="commune")
    c3 = factories.unit(session, "UBND xã Ba", parent=province, type_code="commune")
    ward = factories.unit(session, "UBND phường Bốn", parent=province, type_code="ward")
    regime = Regime(code="KTXH", name="Báo cáo KTXH tháng", owner_unit=province, lead_unit=lead,
                    receiving_unit=lead, reporting_units=[other_dept])
    session.add(regime)
    session.flush()
    from app.models import UnitType

    regime.reporting_unit_types = [session.scalar(select(UnitType).where(UnitType.code == "commune"))]
    period = Period(regime=regime, frequency="month", year=2026, number=11, label="Tháng 11/2026",
                    cutoff_start=dt.date(2026, 10, 15), cutoff_end=dt.date(2026, 11, 14),
                    deadline=dt.date(2026, 11, 19))
    session.add(period)
    publish_form_version(session, small_spec(FORM), regime=regime)
    people = {}
    for code, unit in (("xa1", c1), ("xa2", c2), ("xa3", c3), ("yt", other_dept)):
        people[f"{code}.nhaplieu"] = factories.user(session, f"{code}.nhaplieu", unit,
                                                    [DATA_ENTRY], password_hash=FAST)
        people[f"{code}.lanhdao"] = factories.user(session, f"{code}.lanhdao", unit, [APPROVER],
                                                   password_hash=FAST)
        if code != "xa3":  # xã Ba has nobody to sign
            people[f"{code}.vanthu"] = factories.user(session, f"{code}.vanthu", unit, [SIGNER],
                                                      password_hash=FAST)
    people["xa1.nhaplieu2"] = factories.user(session, "xa1.nhaplieu2", c1, [DATA_ENTRY],
                                             password_hash=FAST)
    people["xa1.khoa"] = factories.user(session, "xa1.khoa", c1, [DATA_ENTRY], active=False,
                                        password_hash=FAST)
    people["stc.tonghop"] = factories.user(session, "stc.tonghop", lead, [AGGREGATOR])
    people["stc.quantri"] = factories.user(session, "stc.quantri", lead, [UNIT_ADMIN])
    people["xa1.quantri"] = factories.user(session, "xa1.quantri", c1, [UNIT_ADMIN])
    people["cum.quantri"] = factories.user(session, "cum.quantri", cluster, [UNIT_ADMIN],
                                           password_hash=FAST)
    people["tinh"] = factories.user(session, "tinh", province, [PROVINCIAL_ADMIN],
                                    password_hash=FAST)
    # xa2.nhaplieu's entry role is narrowed to another regime: not an entry person here
    other_regime = Regime(code="KHAC", name="Chế độ khác", owner_unit=province, lead_unit=lead,
                          receiving_unit=lead)
    session.add(other_regime)
    session.flush()
    entry_role = people["xa2.nhaplieu"].roles[0]
    session.add(RegimeRoleGrant(user=people["xa2.nhaplieu"], role=entry_role,
                                regime=other_regime))
    session.commit()
    return {"province": province, "lead": lead, "dept": other_dept, "cluster": cluster,
            "c1": c1, "c2": c2, "c3": c3, "ward": ward, "regime": regime, "period": period,
            "other_regime": other_regime, "people": people}


def _reports(session, period, form=FORM):
    return {r.unit.name: r for r in session.scalars(
        select(Report).where(Report.period_id == period.id, Report.form_code == form))}


def _assignee_names(session, report, role):
    return sorted(a.user.username for a in session.scalars(
        select(ReportAssignee).where(ReportAssignee.report_id == report.id,
                                     ReportAssignee.role_name == role)))


# -- assignment -----------------------------------------------------------------------------------


def test_default_targets_are_the_regimes_reporting_units_with_default_assignees(session, world):
    summary = assign(session, world["period"], FORM, now=NOW)
    session.commit()
    reports = _reports(session, world["period"])
    # listed unit (Sở Y tế) ∪ active units of the listed type (communes); not the ward
    assert set(reports) == {"Sở Y tế", "UBND xã Một", "UBND xã Hai", "UBND xã Ba"}
    assert summary.created_count == 4 and summary.already == 0 and summary.targets == 4
    xa1 = reports["UBND xã Một"]
    assert xa1.state == "draft" and xa1.kind == "unit" and xa1.form_version.code == FORM
    # active accounts holding the role; the locked account is left out
    assert _assignee_names(session, xa1, DATA_ENTRY) == ["xa1.nhaplieu", "xa1.nhaplieu2"]
    assert _assignee_names(session, xa1, APPROVER) == ["xa1.lanhdao"]
    assert _assignee_names(session, xa1, SIGNER) == ["xa1.vanthu"]
    # a role narrowed to another regime does not count for this one
    assert _assignee_names(session, reports["UBND xã Hai"], DATA_ENTRY) == []
    missing = {role: [u.name for u in units] for role, units in summary.missing.items()}
    assert missing == {DATA_ENTRY: ["UBND xã Hai"], SIGNER: ["UBND xã Ba"]}
    assert summary.units_missing_someone == 2
    assert "Đã giao 4 báo cáo" in summary.message()


def test_assignment_is_idempotent(session, world):
    assign(session, world["period"], FORM, units=[world["c1"]], now=NOW)
    session.commit()
    again = assign(session, world["period"], FORM, now=NOW)
    session.commit()
    assert (again.created_count, again.already, again.targets) == (3, 1, 4)
    third = assign(session, world["period"], FORM, now=NOW)
    assert (third.created_count, third.already) == (0, 4)
    count = session.scalar(select(func.count(Report.id)).where(Report.period_id == world["period"].id))
    assert count == 4
    assignees = session.scalar(select(func.count(ReportAssignee.id)))
    assert assignees == 2 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1  # xã Một 4, Hai 2, Ba 2, Y tế 3


def test_assignment_by_list_type_and_subtree(session, world):
    period = world["period"]
    by_list = assign(session, period, FORM, units=[world["ward"], world["dept"]], now=NOW)
    assert by_list.created_count == 2
    assert set(_reports(session, period)) == {"UBND phường Bốn", "Sở Y tế"}
    # every active unit of a type, whether or not the regime lists it
    by_type = assign(session, period, FORM, unit_type=world["ward"].unit_type, now=NOW)
    assert (by_type.created_count, by_type.already) == (0, 1)
    # the reporting units of a subtree: the two communes of the cluster, not xã Ba
    by_subtree = assign(session, period, FORM, subtree=world["cluster"], now=NOW)
    assert by_subtree.created_count == 2
    assert set(_reports(session, period)) == {"UBND phường Bốn", "Sở Y tế", "UBND xã Một",
                                              "UBND xã Hai"}
    # type and subtree combine
    world["c3"].active = False
    session.flush()
    preview = preview_assignment(session, period, FORM, unit_type=world["c1"].unit_type)
    assert (preview.targets, preview.already, preview.new) == (2, 2, 0)
    assert preview.sample == ["UBND xã Một", "UBND xã Hai"]
    with pytest.raises(AssignmentRefused, match="ngừng hoạt động"):
        assign(session, period, FORM, units=[world["c3"]], now=NOW)
    with pytest.raises(AssignmentRefused, match="Chưa chọn đơn vị"):
        assign(session, period, FORM, units=[], now=NOW)
    with pytest.raises(AssignmentRefused, match="một cách"):
        assign(session, period, FORM, units=[world["c1"]], subtree=world["cluster"], now=NOW)


def test_refusals_of_the_form(session, world):
    with pytest.raises(AssignmentRefused, match="Chưa có biểu mẫu «KHONG-CO»"):
        assign(session, world["period"], "KHONG-CO", now=NOW)
    publish_form_version(session, small_spec("KHAC-B01"), regime=world["other_regime"])
    with pytest.raises(AssignmentRefused, match="không thuộc chế độ báo cáo"):
        assign(session, world["period"], "KHAC-B01", now=NOW)
    with pytest.raises(AssignmentRefused, match="Chưa chọn biểu mẫu"):
        assign(session, world["period"], " ", now=NOW)


def test_who_may_assign_and_to_whom(session, world):
    people, period = world["people"], world["period"]
    # a commune's admin: only inside the commune
    with pytest.raises(PermissionDenied, match="ngoài phạm vi.*UBND xã Hai"):
        assign(session, period, FORM, units=[world["c1"], world["c2"]], actor=people["xa1.quantri"])
    own = assign(session, period, FORM, actor=people["xa1.quantri"], now=NOW)
    assert own.created_count == 1 and set(_reports(session, period)) == {"UBND xã Một"}
    # the cluster's admin: the reporting units below the cluster
    below = assign(session, period, FORM, actor=people["cum.quantri"], now=NOW)
    assert (below.targets, below.created_count) == (2, 1)
    # the lead agency reaches the regime's reporting units outside its own subtree
    lead = assign(session, period, FORM, actor=people["stc.tonghop"], now=NOW)
    assert (lead.targets, lead.created_count) == (4, 2)
    with pytest.raises(PermissionDenied, match="ngoài phạm vi.*UBND phường Bốn"):
        assign(session, period, FORM, units=[world["ward"]], actor=people["stc.quantri"])
    # an entry person may not assign at all
    with pytest.raises(PermissionDenied, match="Quản trị cấp đơn vị"):
        assign(session, period, FORM, actor=people["xa1.nhaplieu"])
    # the provincial admin reaches every unit
    assert assign(session, period, FORM, units=[world["ward"]],
                  actor=people["tinh"]).created_count == 1


def test_set_assignees_and_its_refusals(session, world):
    people = world["people"]
    assign(session, world["period"], FORM, now=NOW)
    report = _reports(session, world["period"])["UBND xã Một"]
    set_assignees(session, report, DATA_ENTRY, [people["xa1.nhaplieu2"]])
    assert _assignee_names(session, report, DATA_ENTRY) == ["xa1.nhaplieu2"]
    with pytest.raises(AssignmentRefused, match="không thuộc đơn vị «UBND xã Một»"):
        set_assignees(session, report, DATA_ENTRY, [people["xa2.lanhdao"]])
    with pytest.raises(AssignmentRefused, match="không có vai trò «Nhập liệu»"):
        set_assignees(session, report, DATA_ENTRY, [people["xa1.lanhdao"]])
    with pytest.raises(AssignmentRefused, match="bị khóa"):
        set_assignees(session, report, DATA_ENTRY, [people["xa1.khoa"]])
    with pytest.raises(AssignmentRefused, match="Không phân công được theo vai trò"):
        set_assignees(session, report, "Quản trị cấp tỉnh", [people["xa1.lanhdao"]])
    with pytest.raises(PermissionDenied):
        set_assignees(session, report, DATA_ENTRY, [], actor=people["xa3.lanhdao"])
    assert _assignee_names(session, report, DATA_ENTRY) == ["xa1.nhaplieu2"]
    set_assignees(session, report, DATA_ENTRY, [], actor=people["xa1.quantri"])
    assert _assignee_names(session, report, DATA_ENTRY) == []


def test_assigned_people_are_the_ones_who_may_act(session, world):
    from app.workflow import refusal

    people = world["people"]
    assign(session, world["period"], FORM, units=[world["c1"]], now=NOW)
    report = _reports(session, world["period"])["UBND xã Một"]
    set_assignees(session, report, DATA_ENTRY, [people["xa1.nhaplieu2"]])
    assert "không được phân công" in refusal(session, people["xa1.nhaplieu"], report, "submit", NOW)


def test_a_unit_above_units_holding_the_report_is_consolidated(session, world):
    period = world["period"]
    assign(session, period, FORM, units=[world["c1"], world["cluster"]], now=NOW)
    reports = _reports(session, period)
    assert reports["Cụm xã Bắc"].kind == "consolidated"
    assert reports["UBND xã Một"].kind == "unit"
    # the function alone: nothing to change the second time
    assert mark_consolidating_reports(session, period, FORM) == 0
    # the application never deletes a report (app.retention): remove it beneath the ORM
    report_table = reports["UBND xã Một"].__table__
    session.connection().execute(
        report_table.delete().where(report_table.c.id == reports["UBND xã Một"].id))
    session.expunge(reports["UBND xã Một"])
    assert mark_consolidating_reports(session, period, FORM) == 1
    session.refresh(reports["Cụm xã Bắc"])
    assert reports["Cụm xã Bắc"].kind == "unit"


def test_three_thousand_communes_in_one_action(session, world):
    from app.models import UnitType

    commune = session.scalar(select(UnitType).where(UnitType.code == "commune"))
    units = [Unit(name=f"UBND xã Thử {i:04d}", parent=world["province"], unit_type=commune)
             for i in range(3000)]
    session.add_all(units)
    session.flush()
    session.commit()
    started = time.perf_counter()
    summary = assign(session, world["period"], FORM, now=NOW)
    session.commit()
    elapsed = time.perf_counter() - started
    assert summary.created_count == 3004
    assert len(summary.missing[DATA_ENTRY]) == 3001
    assert elapsed < 20, elapsed
    print(f"\n3,004 reports assigned in {elapsed:.2f} s")


# -- periods generated ----------------------------------------------------------------------------


def test_generated_periods_are_assigned(session, world):
    regime = world["regime"]
    regime.frequency = "quarter"
    session.flush()
    created = generate_periods(session, regime, 2027)
    session.commit()
    assert len(created) == 4
    for period in created:
        reports = _reports(session, period)
        assert set(reports) == {"Sở Y tế", "UBND xã Một", "UBND xã Hai", "UBND xã Ba"}
    first = _reports(session, created[0])["UBND xã Một"]
    assert _assignee_names(session, first, APPROVER) == ["xa1.lanhdao"]
    # a regime without a published form gets its periods and no report
    assert generate_periods(session, world["other_regime"], 2027)
    assert session.scalar(select(func.count(Report.id)).where(
        Report.regime_id == world["other_regime"].id)) == 0


def test_the_cli_says_how_many_reports_were_assigned(app_ctx, session, world):
    runner = app_ctx.test_cli_runner()
    result = runner.invoke(args=["periods", "generate", "--regime", "KTXH", "--year", "2027"])
    assert result.exit_code == 0, result.output
    assert "Đã giao 48 báo cáo" in result.output
    assert "Đã tạo 12 kỳ" in result.output.splitlines()[-1]


# -- ad-hoc requests ------------------------------------------------------------------------------


def test_an_adhoc_request_makes_its_period_and_reports(session, world):
    people = world["people"]
    request, summary = create_adhoc_request(
        session, world["regime"], FORM, "Báo cáo nhanh tình hình thiệt hại do mưa lũ tháng 11",
        dt.date(2026, 11, 27), units=[world["c1"], world["c2"]],
        instructions="Báo cáo số hộ bị ảnh hưởng.", outline=("de-cuong.pdf", _pdf()),
        actor=people["stc.tonghop"], now=NOW,
    )
    session.commit()
    period = request.period
    assert (period.frequency, period.year, period.number) == ("adhoc", 2026, 1)
    assert period.cutoff_end == dt.date(2026, 11, 20) and period.deadline == dt.date(2026, 11, 27)
    assert period.label == "Báo cáo nhanh tình hình thiệt hại do mưa lũ tháng 11"
    reports = _reports(session, period)
    assert set(reports) == {"UBND xã Một", "UBND xã Hai"} and summary.created_count == 2
    assert all(r.due_date == dt.date(2026, 11, 27) for r in reports.values())
    found = adhoc_for_report(session, reports["UBND xã Một"])
    assert found.id == request.id and found.outline_filename == "de-cuong.pdf"
    assert found.outline_content == _pdf() and found.instructions == "Báo cáo số hộ bị ảnh hưởng."
    assert adhoc_for_report(session, Report(period_id=world["period"].id)) is None
    # sending opens today and is due on the request's date
    window = reception(session, reports["UBND xã Một"], NOW)
    assert window.open and not window.late
    # a second request of the year gets the next number; a long title is shortened for the label
    second, _ = create_adhoc_request(
        session, world["regime"], FORM, "Báo cáo " + "rất " * 30 + "dài", dt.date(2026, 12, 1),
        units=None, outline=("de-cuong.docx", _docx()), actor=people["tinh"], now=NOW,
    )
    assert second.period.number == 2 and len(second.period.label) <= 60
    assert len(_reports(session, second.period)) == 4


@pytest.mark.parametrize(
    ("outline", "message"),
    [
        (("de-cuong.xlsx", b"PK\x03\x04"), "chỉ nhận tệp PDF hoặc DOCX"),
        (("de-cuong.pdf", b"not a pdf"), "không phải PDF"),
        (("de-cuong.docx", b"PK\x03\x04broken"), "hỏng"),
        (("de-cuong.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024)), "lớn hơn 10 MB"),
        (("de-cuong.pdf", b""), "rỗng"),
    ],
)
def test_an_adhoc_request_refuses_a_bad_outline_and_writes_nothing(session, world, outline,
                                                                     message):
    with pytest.raises(AssignmentRefused, match=message):
        create_adhoc_request(session, world["regime"], FORM, "Báo cáo nhanh", dt.date(2026, 11, 27),
                             units=[world["c1"]], outline=outline, actor=world["people"]["tinh"],
                             now=NOW)
    session.rollback()
    assert session.scalar(select(func.count(AdhocRequest.id))) == 0
    assert session.scalar(select(func.count(Period.id)).where(Period.frequency == "adhoc")) == 0


def test_adhoc_refusals(session, world):
    people, regime = world["people"], world["regime"]
    with pytest.raises(AssignmentRefused, match="đã qua"):
        create_adhoc_request(session, regime, FORM, "X", dt.date(2026, 11, 1), units=[world["c1"]],
                             actor=people["tinh"], now=NOW)
    with pytest.raises(AssignmentRefused, match="tên"):
        create_adhoc_request(session, regime, FORM, "  ", dt.date(2026, 11, 27),
                             units=[world["c1"]], actor=people["tinh"], now=NOW)
    with pytest.raises(PermissionDenied):
        create_adhoc_request(session, regime, FORM, "X", dt.date(2026, 11, 27),
                             units=[world["c2"]], actor=people["xa1.quantri"], now=NOW)
    assert check_outline("a.docx", _docx()) is None and check_outline("a.pdf", _pdf()) is None


# -- reception window -----------------------------------------------------------------------------


def test_closing_and_reopening_for_one_unit_or_all(session, world):
    people, period = world["people"], world["period"]
    assign(session, period, FORM, now=NOW)
    session.commit()
    reports = _reports(session, period)
    xa1, xa2 = reports["UBND xã Một"], reports["UBND xã Hai"]
    before = NOW - dt.timedelta(days=2)  # 18/11, before the deadline
    assert reception(session, xa1, before).open
    change_reception(session, period, "close", "Đã chốt số liệu sớm để họp UBND tỉnh",
                     people["stc.tonghop"], now=before)
    assert not reception(session, xa1, before).open
    assert "Đã chốt số liệu sớm" in reception(session, xa2, before).message
    # reopened for xã Một only, until 22/11 10:00 (Vietnam), extending the deadline
    until = dt.datetime(2026, 11, 22, 3, 0)
    change_reception(session, period, "reopen", "Xã bị mất điện", people["stc.quantri"],
                     unit=world["c1"], until=until, extends_deadline=True,
                     now=before + dt.timedelta(hours=1))
    window = reception(session, xa1, NOW)
    assert window.open and not window.late  # 20/11 counts on time
    assert not reception(session, xa2, NOW).open
    assert not reception(session, xa1, until + dt.timedelta(minutes=1)).open
    # reopened for everyone after the deadline, without extension: open and late
    change_reception(session, period, "reopen", "Mở lại cho các đơn vị chưa gửi",
                     people["tinh"], now=NOW + dt.timedelta(hours=1))
    later = NOW + dt.timedelta(hours=2)
    assert reception(session, xa2, later).open and reception(session, xa2, later).late


def test_reception_refusals(session, world):
    people, period = world["people"], world["period"]
    assign(session, period, FORM, units=[world["c1"]], now=NOW)
    with pytest.raises(AssignmentRefused, match="Cần ghi lý do"):
        change_reception(session, period, "close", "  ", people["stc.tonghop"], now=NOW)
    with pytest.raises(PermissionDenied, match="cơ quan chủ trì"):
        change_reception(session, period, "close", "x", people["xa1.quantri"], now=NOW)
    with pytest.raises(PermissionDenied, match="cơ quan chủ trì"):
        change_reception(session, period, "close", "x", people["yt.lanhdao"], now=NOW)
    with pytest.raises(AssignmentRefused, match="sau thời điểm hiện tại"):
        change_reception(session, period, "reopen", "x", people["stc.tonghop"],
                         until=NOW - dt.timedelta(hours=1), now=NOW)
    with pytest.raises(AssignmentRefused, match="Gia hạn cần"):
        change_reception(session, period, "reopen", "x", people["stc.tonghop"],
                         extends_deadline=True, now=NOW)
    with pytest.raises(AssignmentRefused, match="không có báo cáo nào"):
        change_reception(session, period, "close", "x", people["stc.tonghop"], unit=world["c2"],
                         now=NOW)
    with pytest.raises(AssignmentRefused, match="Không có thao tác"):
        change_reception(session, period, "pause", "x", people["stc.tonghop"], now=NOW)


def test_notices_tell_the_units_concerned(session, world):
    people, period = world["people"], world["period"]
    assign(session, period, FORM, now=NOW)
    assert reception_notices(session, world["c1"], NOW) == []
    change_reception(session, period, "close", "Chốt sớm", people["stc.tonghop"], now=NOW)
    until = NOW + dt.timedelta(days=1)
    change_reception(session, period, "reopen", "Gia hạn cho xã Một", people["stc.tonghop"],
                     unit=world["c1"], until=until, extends_deadline=True,
                     now=NOW + dt.timedelta(minutes=5))
    later = NOW + dt.timedelta(minutes=10)
    (xa1,) = reception_notices(session, world["c1"], later)
    assert (xa1.period_label, xa1.action, xa1.until, xa1.reason, xa1.for_this_unit) == (
        "Tháng 11/2026", "reopen", until, "Gia hạn cho xã Một", True)
    (xa2,) = reception_notices(session, world["c2"], later)
    assert (xa2.action, xa2.reason, xa2.for_this_unit) == ("close", "Chốt sớm", False)
    # a unit without a report of the period hears nothing; nor one whose report is sent
    assert reception_notices(session, world["ward"], later) == []
    _reports(session, period)["UBND xã Hai"].state = "sent"
    session.flush()
    assert reception_notices(session, world["c2"], later) == []
    # a reopening whose time is over is no longer shown
    assert reception_notices(session, world["c1"], until + dt.timedelta(hours=1)) == []


# -- screens --------------------------------------------------------------------------------------


def test_the_assignment_screen_previews_and_assigns_for_the_lead_agency(client, session, world):
    period = world["period"]
    factories.login(client, "stc.quantri")
    page = client.get("/assignment/")
    assert page.status_code == 200 and "Giao báo cáo" in page.text
    page = client.get(f"/assignment/?period={period.id}")
    assert FORM in page.text and "UBND xã Hai" in page.text  # a reporting unit outside STC
    page = client.post("/assignment/", data={"period": period.id, "form": FORM,
                                             "mode": "default", "preview": "1"})
    assert "Sẽ giao cho 4 đơn vị: 4 báo cáo mới, 0 đơn vị đã có báo cáo." in page.text
    assert _reports(session, period) == {}  # a preview assigns nothing
    page = client.post("/assignment/", data={"period": period.id, "form": FORM, "mode": "type",
                                             "unit_type": world["c1"].unit_type_id})
    assert page.status_code == 200
    assert 'id="created">3<' in page.text and "UBND xã Hai" in page.text  # missing an entry person
    assert set(_reports(session, period)) == {"UBND xã Một", "UBND xã Hai", "UBND xã Ba"}
    # a type reaches only what the lead agency may assign: the ward is not a reporting unit
    page = client.post("/assignment/", data={"period": period.id, "form": FORM, "mode": "type",
                                             "unit_type": world["ward"].unit_type_id})
    assert 'id="created">0<' in page.text


def test_a_commune_admin_cannot_assign_outside_their_subtree(client, session, world):
    period = world["period"]
    factories.login(client, "xa1.quantri")
    page = client.get(f"/assignment/?period={period.id}")
    assert page.status_code == 200
    assert "UBND xã Một" in page.text and "UBND xã Hai" not in page.text
    page = client.post("/assignment/", data={"period": period.id, "form": FORM, "mode": "list",
                                             "units": [world["c1"].id, world["c2"].id]},
                       follow_redirects=True)
    assert "ngoài phạm vi bạn được giao báo cáo" in page.text and "UBND xã Hai" in page.text
    assert _reports(session, period) == {}
    page = client.post("/assignment/", data={"period": period.id, "form": FORM, "mode": "subtree",
                                             "subtree": world["province"].id})
    assert 'id="created">1<' in page.text  # the province subtree narrowed to the commune
    assert set(_reports(session, period)) == {"UBND xã Một"}


def test_entry_people_do_not_reach_the_screens(client, session, world):
    factories.user(session, "xa1.nhaplieu.dn", world["c1"], [DATA_ENTRY])
    session.commit()
    factories.login(client, "xa1.nhaplieu.dn")
    for url in ("/assignment/", "/assignment/reception/", "/assignment/adhoc/"):
        assert client.get(url).status_code == 403, url
    assert client.post("/assignment/", data={"period": world["period"].id, "form": FORM}
                       ).status_code == 403
    assert _reports(session, world["period"]) == {}


def test_the_adhoc_screen_creates_a_request_and_serves_its_outline(client, session, world):
    factories.login(client, "stc.tonghop")
    page = client.get("/assignment/adhoc/")
    assert page.status_code == 200 and "Gửi yêu cầu báo cáo đột xuất" in page.text
    data = {
        "title": "Báo cáo nhanh thiệt hại mưa lũ", "form": f"{world['regime'].id}|{FORM}",
        "due_date": (dt.date.today() + dt.timedelta(days=3)).isoformat(),
        "instructions": "Số hộ bị ảnh hưởng", "mode": "list",
        "units": [world["c1"].id, world["c2"].id],
        "outline": (io.BytesIO(_pdf()), "Đề cương.pdf"),
    }
    page = client.post("/assignment/adhoc/", data=data, content_type="multipart/form-data",
                       follow_redirects=True)
    assert "Đã gửi yêu cầu «Báo cáo nhanh thiệt hại mưa lũ» tới 2 đơn vị" in page.text
    adhoc = session.scalar(select(AdhocRequest))
    assert adhoc.outline_filename == "Đề cương.pdf"
    assert len(_reports(session, adhoc.period)) == 2
    outline = client.get(f"/assignment/adhoc/{adhoc.id}/outline")
    assert outline.status_code == 200 and outline.data == _pdf()
    assert outline.mimetype == "application/pdf"
    # a bad outline is refused with the reason, nothing written
    data["outline"] = (io.BytesIO(b"MZ not a pdf"), "de-cuong.pdf")
    data["title"] = "Yêu cầu thứ hai"
    page = client.post("/assignment/adhoc/", data=data, content_type="multipart/form-data",
                       follow_redirects=True)
    assert "không phải PDF" in page.text
    assert session.scalar(select(func.count(AdhocRequest.id))) == 1
    # people of a unit asked may download the outline; those of a unit not asked may not
    client.get("/logout/")
    factories.user(session, "xa1.doc", world["c1"], [DATA_ENTRY])
    factories.user(session, "xa3.doc", world["c3"], [DATA_ENTRY])
    session.commit()
    factories.login(client, "xa1.doc")
    assert client.get(f"/assignment/adhoc/{adhoc.id}/outline").status_code == 200
    client.get("/logout/")
    factories.login(client, "xa3.doc")
    assert client.get(f"/assignment/adhoc/{adhoc.id}/outline").status_code == 404


def test_the_reception_screen_and_the_home_notice(client, session, world):
    period = world["period"]
    assign(session, period, FORM, now=NOW)
    factories.user(session, "xa1.home", world["c1"], [DATA_ENTRY])
    session.commit()
    factories.login(client, "stc.quantri")
    page = client.get(f"/assignment/reception/?period={period.id}")
    assert page.status_code == 200 and "Thời gian tiếp nhận hiện tại" in page.text
    assert "Chưa có thay đổi nào." in page.text
    page = client.post("/assignment/reception/", data={"period": period.id, "action": "reopen",
                                                       "reason": " ", "unit": ""},
                       follow_redirects=True)
    assert "Cần ghi lý do" in page.text
    until = (dt.datetime.now() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    page = client.post("/assignment/reception/", data={
        "period": period.id, "action": "reopen", "reason": "Xã mất điện hai ngày",
        "unit": world["c1"].id, "until": until, "extends": "1"}, follow_redirects=True)
    assert "Đã mở lại tiếp nhận kỳ Tháng 11/2026 cho UBND xã Một" in page.text
    assert "Xã mất điện hai ngày" in page.text  # in the history
    report = _reports(session, period)["UBND xã Một"]
    window = reception(session, report)
    assert window.open and not window.late
    # the others keep the normal window (late from 20/11/2026, and this regime accepts late)
    other = reception(session, _reports(session, period)["UBND xã Hai"])
    assert other.late == (dt.datetime.now(dt.UTC).replace(tzinfo=None) > other.deadline_at)
    client.get("/logout/")
    factories.login(client, "xa1.home")
    home = client.get("/", follow_redirects=True)
    assert "đã mở lại tiếp nhận báo cáo kỳ Tháng 11/2026" in home.text
    assert "Xã mất điện hai ngày" in home.text
    # a commune's admin is not the lead agency: no period offered, a post refused
    client.get("/logout/")
    factories.login(client, "xa1.quantri")
    assert "Bạn chưa chủ trì" in client.get("/assignment/reception/").text
    page = client.post("/assignment/reception/", data={"period": period.id, "action": "close",
                                                       "reason": "x"}, follow_redirects=True)
    assert "không đóng, mở tiếp nhận được" in page.text


def test_the_unit_leader_chooses_who_enters_a_report_on_its_page(client, session):
    from app.models import ReportAssignee
    from app.workflow import TransitionRefused, transition
    from tests.test_workflow import NOW, cycle_setup

    report, people = cycle_setup(session)
    colleague = factories.user(session, "xa1.nhaplieu2", report.unit, [DATA_ENTRY])
    session.commit()
    factories.login(client, "xa1.lanhdao")
    assert "Người thực hiện báo cáo" in client.get(f"/entry/{report.id}").get_data(as_text=True)
    page = client.get(f"/assignment/report/{report.id}/people").get_data(as_text=True)
    assert "xa1.nhaplieu2" in page and "xa1.vanthu" in page

    client.post(f"/assignment/report/{report.id}/people",
                data={f"role:{DATA_ENTRY}": [str(colleague.id)]})
    session.expire_all()
    assert [(a.user_id, a.role_name) for a in session.query(ReportAssignee).filter_by(
        report_id=report.id)] == [(colleague.id, DATA_ENTRY)]
    with pytest.raises(TransitionRefused, match="không được phân công"):
        transition(session, session.get(type(report), report.id), "submit", people["entry"], now=NOW)
    session.rollback()

    # someone of another unit is refused, and nothing changes
    answer = client.post(f"/assignment/report/{report.id}/people",
                         data={f"role:{DATA_ENTRY}": [str(people["foreign_leader"].id)]},
                         follow_redirects=True).get_data(as_text=True)
    assert "không thuộc đơn vị" in answer
    session.expire_all()
    assert session.query(ReportAssignee).filter_by(report_id=report.id).count() == 1

    # an entry clerk may not choose
    from tests.test_entry_workflow import Person

    clerk = Person(client.application, "xa1.nhaplieu")
    assert clerk.get(f"/assignment/report/{report.id}/people").status_code in (302, 403)
