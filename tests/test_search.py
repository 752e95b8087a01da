"""Tra cứu (app/search.py, app/views/search.py): a report found by a word of its narrative,
by regime, unit, period and state, and an indicator's values; all within the viewer's scope."""

from __future__ import annotations

from app.roles import PROVINCIAL_ADMIN, VIEWER
from app.search import indicator_values, search_reports
from tests import factories
from tests.test_aggregation import _report
from tests.test_consolidation import World
from tests.test_entry_workflow import Person

NARRATIVE = "Sạt lở bờ sông Tiền tại ấp Bình Hòa, 12 hộ phải di dời khẩn cấp."


def _world(session):
    world = World(session)
    first, second = world.unit("UBND xã Tân Phước"), world.unit("UBND xã Mỹ Hiệp")
    _report(world, world.period, first, {"r1|c4": 1200, "r8|c4": NARRATIVE}, "sent")
    _report(world, world.period, second, {"r1|c4": 900, "r8|c4": "Tình hình ổn định."},
            "accepted")
    factories.user(session, "tp.xem", first, [VIEWER])
    factories.user(session, "mh.xem", second, [VIEWER])
    session.commit()
    return world, first, second


def test_a_report_is_found_by_a_word_of_its_narrative_within_scope(session):
    world, first, second = _world(session)
    admin = factories.user(session, "tinh.qt", world.province, [PROVINCIAL_ADMIN],
                           password_hash="-")
    found = search_reports(session, admin, words="sông Tiền")
    assert [f.report.unit_id for f in found] == [first.id]
    assert "sông Tiền" in found[0].excerpt
    assert [f.report.unit_id for f in search_reports(session, admin, words="SẠT LỞ")] == \
        [first.id]  # case does not matter
    assert {f.report.unit_id for f in search_reports(session, admin, state="accepted")} == \
        {second.id}
    assert {f.report.unit_id for f in search_reports(
        session, admin, regime_id=world.regime.id, period_id=world.period.id)} == \
        {first.id, second.id}
    assert search_reports(session, admin, unit_id=second.id, words="sông") == []
    other = session.query(type(first)).filter_by(id=second.id).one()
    viewer = session.query(factories.AppUser).filter_by(username="mh.xem").one()
    assert search_reports(session, viewer, words="sông Tiền") == []  # not in its scope
    assert [f.report.unit_id for f in search_reports(session, viewer, words="ổn định")] == \
        [other.id]
    values = indicator_values(session, admin, world.indicators["DS"].id)
    assert sorted(v for _r, _c, _b, v in values) == [900, 1200]


def test_the_search_page(app_ctx, session):
    _world(session)
    viewer = Person(app_ctx, "tp.xem")
    page = viewer.get("/search/?words=sông+Tiền").get_data(as_text=True)
    assert "UBND xã Tân Phước" in page and "sông Tiền" in page
    page = viewer.get("/search/?words=ổn+định").get_data(as_text=True)
    assert "Không có báo cáo nào khớp" in page
