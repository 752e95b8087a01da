"""Data quality flags for the reviewer (app/quality.py): an outlier against the unit's own
history (robust z-score), a large change from the same period last year, and a consolidated
total that no longer equals the sum of its units; shown on the report page to the reviewer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from app.models import Period
from app.quality import flags
from tests.test_aggregation import _report
from tests.test_consolidation import World, province_over_communes


def _period(world, year: int, month: int) -> Period:
    period = Period(regime=world.regime, frequency="month", year=year, number=month,
                    label=f"Tháng {month}/{year}",
                    cutoff_start=dt.date(year, month, 1) - dt.timedelta(days=17),
                    cutoff_end=dt.date(year, month, 14), deadline=dt.date(year, month, 20))
    world.session.add(period)
    return period


def test_outliers_and_changes_from_last_year_are_flagged(session):
    world = World(session)
    unit = world.unit("UBND xã Hòa An")
    history = {(2026, 5): 100, (2026, 6): 104, (2026, 7): 98, (2026, 8): 101,
               (2026, 9): 99, (2026, 10): 103, (2025, 11): 40}
    for (year, month), people in history.items():
        _report(world, _period(world, year, month), unit,
                {"r1|c4": people, "r6|c4": 50}, "accepted")
    current = _report(world, world.period, unit, {"r1|c4": 1000, "r6|c4": 51}, "sent")
    session.commit()
    found = {(f.key, f.kind): f for f in flags(session, current)}
    outlier = found[("r1|c4", "outlier")]
    assert outlier.reference == Decimal("100") and "khác thường" in outlier.message
    change = found[("r1|c4", "year_change")]
    assert change.reference == 40 and "+2400%" in change.message
    assert not [f for f in found if f[0] == "r6|c4"]  # 51 after 50s: nothing to say


def test_a_consolidated_total_typed_over_is_flagged_and_shown_to_its_reviewer(session):
    from app.reports import save_values

    world = province_over_communes(session)
    from app.consolidation import consolidate

    consolidate(session, world.top)
    session.commit()
    assert [f for f in flags(session, world.top) if f.kind == "total"] == []
    save_values(session, world.top, {"r1|c4": "3000"})  # the sum is 3150
    session.commit()
    (total,) = [f for f in flags(session, world.top) if f.kind == "total"]
    assert total.key == "r1|c4" and total.reference == 3150 and total.value == 3000


def test_the_report_page_lists_the_flags(app_ctx, session):
    from app.consolidation import consolidate
    from app.reports import save_values
    from app.roles import PROVINCIAL_ADMIN
    from tests import factories
    from tests.test_entry_workflow import Person

    world = province_over_communes(session)
    consolidate(session, world.top)
    save_values(session, world.top, {"r1|c4": "3000"})
    factories.user(session, "tinh.qt", world.province, [PROVINCIAL_ADMIN])
    session.commit()
    page = Person(app_ctx, "tinh.qt").get(f"/entry/{world.top.id}").get_data(as_text=True)
    assert 'id="entry-quality"' in page and "khác tổng của các đơn vị" in page
    assert 'data-key="r1|c4" data-kind="total"' in page
