"""The dashboard (app/dashboard.py, app/views/dashboard.py): configured items computed from the
figures engine and compliance, confined to the viewer; Chart.js from the app's static files."""

from __future__ import annotations

import datetime as dt

from app.dashboard import panels
from app.models import DashboardItem
from app.roles import PROVINCIAL_ADMIN, VIEWER
from tests import factories
from tests.test_aggregation import _periods, _report
from tests.test_consolidation import World
from tests.test_entry_workflow import Person


def _world(session):
    world = World(session)
    november, october = _periods(world, 2)
    units = [world.unit("UBND xã Ấp Bắc"), world.unit("UBND xã Đồng Hòa")]
    for period, values in ((october, (100, 200)), (november, (110, 210))):
        for unit, people in zip(units, values, strict=True):
            _report(world, period, unit, {"r1|c4": people}, "accepted")
    people = world.indicators["DS"]
    session.add_all([
        DashboardItem(title="Dân số theo tháng", kind="line", regime=world.regime,
                      indicator=people, unit=world.province, position=1),
        DashboardItem(title="Dân số theo xã", kind="bar", regime=world.regime,
                      indicator=people, unit=world.province, position=2),
        DashboardItem(title="Tuân thủ", kind="compliance", regime=world.regime,
                      unit=world.province, position=3),
        DashboardItem(title="Tuân thủ theo tháng", kind="compliance_month",
                      regime=world.regime, unit=world.province, position=4),
    ])
    factories.user(session, "tinh.qt", world.province, [PROVINCIAL_ADMIN], password_hash="-")
    factories.user(session, "xa.xem", units[0], [VIEWER])
    session.commit()
    return world, units


def test_panels_follow_the_figures_and_the_viewers_scope(session):
    world, units = _world(session)
    admin = session.query(factories.AppUser).filter_by(username="tinh.qt").one()
    line, bar, comply, by_month = panels(session, admin, today=dt.date(2026, 12, 6))
    assert line.labels == ["Tháng 10/2026", "Tháng 11/2026"]
    assert line.series[0]["values"] == [300.0, 320.0]
    assert bar.labels == ["UBND xã Ấp Bắc", "UBND xã Đồng Hòa"]
    assert bar.series[0]["values"] == [110.0, 210.0]
    assert comply.kind == "compliance" and comply.unit_name == "UBND tỉnh"
    assert line.export["series"] == world.indicators["DS"].id
    assert by_month.labels == [f"Tháng {m}" for m in range(1, 13)]
    assert len(by_month.series) == 3 and all(len(s["values"]) == 12 for s in by_month.series)
    # the accepted reports were set up without a sending: due in October and November, missing
    missing = dict(zip(by_month.labels, by_month.series[2]["values"], strict=True))
    assert missing["Tháng 10"] == 2 and missing["Tháng 11"] == 2 and missing["Tháng 9"] == 0

    viewer = session.query(factories.AppUser).filter_by(username="xa.xem").one()
    line, bar, _comply, by_month = panels(session, viewer, today=dt.date(2026, 12, 6))
    assert sum(by_month.series[2]["values"]) == 2  # its own commune's two reports
    assert line.unit_name == "UBND xã Ấp Bắc"  # its own unit, not the province
    assert line.series[0]["values"] in ([None, None], [])  # nothing below a commune
    assert "UBND xã Đồng Hòa" not in bar.labels


def test_the_dashboard_page_draws_with_the_local_chart_library(app_ctx, session):
    _world(session)
    page = Person(app_ctx, "xa.xem").get("/dashboard/").get_data(as_text=True)
    assert "/static/vendor/chartjs/chart.umd.min.js" in page and "cdn" not in page.lower()
    assert page.count('class="dashboard-card"') == 4
    library = app_ctx.test_client().get("/static/vendor/chartjs/chart.umd.min.js")
    assert library.status_code == 200 and b"Chart" in library.data[:5000]
