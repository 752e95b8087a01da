"""The demo province: units, accounts, catalogue, regimes and periods; idempotent."""

from __future__ import annotations

import datetime as dt
import io

from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from app import roles as R
from app.demo import (
    DEMO_PASSWORD,
    MONTHLY_REGIME,
    THEMATIC_REGIME,
    load_demo,
    load_demo_if_empty,
    print_demo_accounts,
)
from app.models import (
    AppUser,
    Breakdown,
    BreakdownOption,
    Indicator,
    IndicatorGroup,
    Period,
    Regime,
    Unit,
    UnitType,
    UserUnitHistory,
    ValueColumn,
)

COUNTED = [Unit, AppUser, Indicator, IndicatorGroup, Regime, Period, ValueColumn, Breakdown,
           BreakdownOption, UserUnitHistory, UnitType]


def _counts(session):
    return {model.__name__: session.scalar(select(func.count()).select_from(model)) for model in COUNTED}


def _of_type(session, code):
    return session.scalars(select(Unit).join(UnitType).where(UnitType.code == code)).all()


def test_demo_province(session):
    result = load_demo(session)
    session.commit()

    committee = session.scalar(select(Unit).where(Unit.admin_code == "82"))
    assert committee.name == "UBND tỉnh Đồng Tháp"
    communes = [u for code in ("commune", "ward", "special_zone") for u in _of_type(session, code)]
    departments = _of_type(session, "department")
    agencies = _of_type(session, "central_agency")
    assert len(communes) == 102
    assert 18 <= len(departments) <= 22
    assert len(agencies) == 3
    assert {u.name for u in agencies} >= {"Thống kê tỉnh Đồng Tháp", "Bảo hiểm xã hội tỉnh Đồng Tháp"}
    assert session.scalar(select(func.count(Unit.id))) == 1 + 102 + len(departments) + 3
    assert session.scalar(select(func.count(Unit.id)).where(Unit.path.like(committee.path + "%"))) == (
        1 + 102 + len(departments) + 3
    )
    assert result.units_created == 1 + 102 + len(departments) + 3

    for unit in departments + communes:
        roles = {role.name for user in session.scalars(select(AppUser).where(AppUser.unit_id == unit.id))
                 for role in user.roles}
        assert {R.DATA_ENTRY, R.APPROVER, R.SIGNER} <= roles, unit.name

    finance = session.scalar(select(Unit).where(Unit.name == "Sở Tài chính"))
    aggregators = [u for u in session.scalars(select(AppUser).where(AppUser.unit_id == finance.id))
                   if any(r.name == R.AGGREGATOR for r in u.roles)]
    assert len(aggregators) >= 1
    admin = session.scalar(select(AppUser).where(AppUser.username == "admin"))
    assert [r.name for r in admin.roles] == [R.PROVINCIAL_ADMIN]
    assert check_password_hash(admin.password, DEMO_PASSWORD)
    unit_admins = session.scalars(
        select(AppUser).where(AppUser.username.like("%.quantri"))
    ).all()
    assert {u.unit.unit_type.code for u in unit_admins} >= {"department"}
    assert any(u.unit.unit_type.code in ("commune", "ward") for u in unit_admins)
    assert all(u.email.endswith("@dongthap.gov.vn") for u in session.scalars(select(AppUser)))
    dept_entry = session.scalar(select(AppUser).where(AppUser.username == "stc.nhaplieu"))
    assert dept_entry.unit is finance and dept_entry.position == "Chuyên viên"

    regime = session.scalar(select(Regime).where(Regime.code == MONTHLY_REGIME))
    assert regime.frequency == "month" and regime.kind == "provincial_periodic"
    assert regime.lead_unit is finance and regime.receiving_unit is finance
    assert regime.owner_unit is committee
    assert len(regime.reporting_units) == len(departments) + 102
    codes = {i.code for i in regime.indicators}
    assert {"KTXH.I.01.1", "KTXH.I.06.2", "KTXH.II.01", "KTXH.III.04"} <= codes
    assert len(codes) == 27
    rice = session.scalar(select(Indicator).where(Indicator.code == "KTXH.I.01.2"))
    assert (rice.name, rice.unit_of_measure, rice.group.code) == ("Sản lượng lúa", "tấn", "KTXH.I")
    assert session.scalar(select(func.count(ValueColumn.id))) == 6
    sex = session.scalar(select(Breakdown).where(Breakdown.code == "sex"))
    assert [o.name for o in sex.options] == ["Nam", "Nữ"]

    year = dt.date.today().year
    periods = session.scalars(select(Period).where(Period.regime_id == regime.id, Period.year == year,
                                                   Period.frequency == "month")).all()
    assert len(periods) == 12
    thematic = session.scalar(select(Regime).where(Regime.code == THEMATIC_REGIME))
    assert thematic.frequency == "quarter" and len(thematic.periods) == 4


def test_second_load_adds_nothing(session):
    load_demo(session)
    session.commit()
    before = _counts(session)
    again = load_demo(session)
    session.commit()
    assert again.nothing_new
    assert _counts(session) == before
    assert load_demo_if_empty(session) is None
    out = io.StringIO()
    print_demo_accounts(again, file=out)
    assert out.getvalue().count("\n") == 1
    out = io.StringIO()
    print_demo_accounts(None, file=out)
    assert out.getvalue() == ""


def test_load_if_empty_and_printed_table(session):
    result = load_demo_if_empty(session)
    session.commit()
    assert result is not None and len(result.accounts) > 350
    out = io.StringIO()
    print_demo_accounts(result, file=out)
    text = out.getvalue()
    assert DEMO_PASSWORD in text
    assert "admin" in text and "stc.tonghop1" in text
    full = io.StringIO()
    print_demo_accounts(result, full=True, file=full)
    assert full.getvalue().count("\n") > len(result.accounts)


def test_demo_cli(app_ctx, session):
    runner = app_ctx.test_cli_runner()
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert DEMO_PASSWORD in result.output
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "Đơn vị mới: 0; tài khoản mới: 0" in result.output


def test_demo_reports_are_assigned_and_walked_through_the_cycle(session):
    from app.demo import KTXH_FORM_CODE, _walk_period
    from app.models import AdhocRequest, Report, ReportAssignee, ReportComment, ReportEvent
    from app.models.forms import utcnow
    from app.workflow import day_end_utc

    load_demo(session)
    session.commit()
    regime = session.scalar(select(Regime).where(Regime.code == MONTHLY_REGIME))
    today = dt.date.today()
    this_month = session.scalar(select(Period).where(
        Period.regime_id == regime.id, Period.year == today.year, Period.number == today.month,
        Period.frequency == "month"))
    reports = session.scalars(select(Report).where(Report.period_id == this_month.id)).all()
    assert len(reports) == len(regime.reporting_units)
    # every report has its entry person, leader and clerk assigned
    roles = session.execute(
        select(ReportAssignee.role_name, func.count(ReportAssignee.id))
        .where(ReportAssignee.report_id.in_([r.id for r in reports]))
        .group_by(ReportAssignee.role_name)
    ).all()
    assert dict(roles) == {R.DATA_ENTRY: len(reports), R.APPROVER: len(reports),
                           R.SIGNER: len(reports)}

    # the ad-hoc request, its outline and its reports due on its date
    adhoc = session.scalar(select(AdhocRequest))
    assert adhoc.outline_filename.endswith(".docx") and adhoc.outline_content.startswith(b"PK")
    adhoc_reports = session.scalars(select(Report).where(Report.period_id == adhoc.period_id)).all()
    assert len(adhoc_reports) == 6 and {r.due_date for r in adhoc_reports} == {adhoc.due_date}

    now = utcnow()
    walked = _walk_period(session, regime, now)
    if walked is None:  # the first days of January: no period of the year is open yet
        return
    states = dict(session.execute(
        select(Report.state, func.count(Report.id))
        .where(Report.period_id == walked.id, Report.form_code == KTXH_FORM_CODE)
        .group_by(Report.state)
    ).all())
    assert states["accepted"] >= 10
    assert states["returned"] == 1 and states["submitted"] == 1 and states["approved"] == 1
    assert states["sent"] >= 1 and states["draft"] > 50
    returned = session.scalar(select(Report).where(Report.period_id == walked.id,
                                                   Report.state == "returned"))
    comments = session.scalars(select(ReportComment).where(ReportComment.report_id == returned.id)).all()
    assert any(c.cell_key for c in comments) and any(c.cell_key is None for c in comments)

    events = session.scalars(
        select(ReportEvent).join(Report, Report.id == ReportEvent.report_id)
        .where(Report.period_id == walked.id).order_by(ReportEvent.id)
    ).all()
    assert {e.action for e in events} == {"submit", "approve", "send", "accept", "return"}
    by_report = {}
    for event in events:
        by_report.setdefault(event.report_id, []).append(event.at)
    assert all(times == sorted(times) and times[-1] <= now for times in by_report.values())
    sent = session.scalars(select(Report).where(Report.period_id == walked.id,
                                                Report.sent_at.is_not(None))).all()
    deadline = day_end_utc(walked.deadline)
    assert sum(1 for r in sent if not r.sent_late) >= 10
    assert all(r.sent_late == (r.sent_at > deadline) for r in sent)
    if deadline < now - dt.timedelta(hours=1):
        assert 1 <= sum(1 for r in sent if r.sent_late) <= 3

    # loading again walks nothing more
    count = len(events)
    load_demo(session)
    session.commit()
    assert session.scalar(select(func.count(ReportEvent.id)).join(Report).where(
        Report.period_id == walked.id)) == count
