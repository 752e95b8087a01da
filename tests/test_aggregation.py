"""The province's figures (app.consolidation.aggregate): a unit subtree over one or several
periods, by indicator × column × breakdown, checked against an independent computation on
random trees, values, states and aggregation types; ratios; year to date; official and
provisional."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.consolidation import (
    OFFICIAL_LABEL,
    PROVISIONAL_LABEL,
    aggregate,
    periods_within,
    span_periods,
    year_to_date,
)
from app.models import Period
from app.reports import get_or_create_report, save_values
from tests import factories
from tests.test_consolidation import FORM, World

# indicator code → row key of the test form (tests/test_consolidation.py ROWS), value column c4
ROW_OF = {"DS": "r1", "TN": "r2", "NDT": "r3", "NDC": "r4"}
OVER_TIME = {"DS": "sum", "TN": "average", "NDT": "last", "NDC": "none"}
_names = itertools.count(1)


def _periods(world, count: int) -> list[Period]:
    periods = [world.period]
    for month in range(10, 10 - (count - 1), -1):
        found = world.session.query(Period).filter_by(regime_id=world.regime.id,
                                                      number=month).first()
        if found is None:
            found = Period(regime=world.regime, frequency="month", year=2026, number=month,
                           label=f"Tháng {month}/2026",
                           cutoff_start=dt.date(2026, month - 1, 15),
                           cutoff_end=dt.date(2026, month, 14),
                           deadline=dt.date(2026, month, 25))
            world.session.add(found)
        periods.append(found)
    world.session.flush()
    return periods


def _report(world, period, unit, values: dict, state: str):
    report = get_or_create_report(world.session, period, unit, FORM)
    if values:
        save_values(world.session, report, values)
    report.state = state  # data set-up; the workflow is tested elsewhere
    return report


def _independent(tree, filed, root, periods, states, indicators):
    """What the figures must be, computed without SQL: per period, the nearest units below
    the root holding a report; their values aggregated over units, then over time."""
    parent = {child: up for up, children in tree.items() for child in children}

    def ancestors(unit):
        while unit in parent and parent[unit] != root:
            unit = parent[unit]
            yield unit

    below = set()
    frontier = [root]
    while frontier:
        unit = frontier.pop()
        for child in tree.get(unit, []):
            below.add(child)
            frontier.append(child)
    expected = {}
    for code, over_units in indicators.items():
        by_period = []
        for index, period in enumerate(periods):
            holders = {u for u in below if (u, period) in filed}
            counted = [u for u in holders
                       if not any(a in holders for a in ancestors(u))
                       and filed[(u, period)][0] in states]
            values = [filed[(u, period)][1][code] for u in counted
                      if filed[(u, period)][1].get(code) is not None]
            if not values:
                continue
            if over_units == "sum":
                figure = sum(values)
            elif over_units == "average":
                figure = sum(values) / len(values)
            elif over_units == "min":
                figure = min(values)
            else:
                figure = max(values)
            by_period.append((index, figure))
        if not by_period:
            continue
        how = OVER_TIME[code]
        if how == "sum":
            expected[code] = sum(v for _i, v in by_period)
        elif how == "average":
            expected[code] = sum(v for _i, v in by_period) / len(by_period)
        elif how == "last":
            expected[code] = min(by_period)[1]  # index 0 is the latest period
        elif len(by_period) == 1:
            expected[code] = by_period[0][1]
    return expected


@pytest.fixture
def world(session):
    """One regime and form for all the examples of a test (each example has its own tree)."""
    made = World(session)
    for code, how in OVER_TIME.items():
        made.indicators[code].aggregation_over_time = how
    return made


values_of_a_report = st.fixed_dictionaries(
    {code: st.one_of(st.none(), st.integers(min_value=-50, max_value=5000))
     for code in ROW_OF})


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(
    shape=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=3),
    own_reports=st.lists(st.booleans(), min_size=3, max_size=3),
    period_count=st.integers(min_value=1, max_value=3),
    data=st.data(),
    provisional=st.booleans(),
)
def test_aggregates_equal_an_independent_computation(session, world, shape, own_reports,
                                                     period_count, data, provisional):
    periods = _periods(world, period_count)
    run = next(_names)
    root = factories.unit(session, f"Tỉnh thử {run}", type_code="province_committee")
    tree, districts = {root: []}, []
    for index, communes in enumerate(shape):
        district = world.unit(f"Huyện {run}.{index}", parent=root, type_code="district")
        tree[root].append(district)
        districts.append(district)
        tree[district] = [world.unit(f"Xã {run}.{index}.{n}", parent=district)
                          for n in range(communes)]
    filed = {}
    for period in periods:
        for index, district in enumerate(districts):
            reporters = list(tree[district])
            if own_reports[index] or not reporters:
                reporters.append(district)
            for unit in reporters:
                values = data.draw(values_of_a_report)
                state = data.draw(st.sampled_from(["accepted", "sent", "draft"]))
                _report(world, period, unit, {f"{ROW_OF[c]}|c4": v for c, v in values.items()
                                              if v is not None}, state)
                filed[(unit, period)] = (state, values)
    session.flush()

    states = ("accepted", "sent") if provisional else ("accepted",)
    result = aggregate(session, regime=world.regime, form_code=FORM,
                       period_ids=[p.id for p in periods], root_unit=root,
                       provisional=provisional)
    assert result.label == (PROVISIONAL_LABEL if provisional else OFFICIAL_LABEL)
    over_units = {code: world.indicators[code].aggregation_over_units for code in ROW_OF}
    expected = _independent(tree, filed, root, periods, states, over_units)
    got = {code: result.value(world.indicators[code].id, "c4") for code in ROW_OF}
    for code in ROW_OF:
        want = expected.get(code)
        if want is None:
            assert got[code] is None, (code, got[code])
        else:
            assert got[code] is not None, (code, want)
            assert abs(got[code] - Decimal(str(want))) <= Decimal("1e-6") * max(
                1, abs(Decimal(str(want)))), (code, got[code], want)


def test_ratios_are_recalculated_and_coarser_periods_come_from_finer_ones(session):
    world = World(session)
    world.indicators["HN"].aggregation_over_time = "sum"
    world.indicators["TH"].aggregation_over_time = "last"
    november, october = _periods(world, 2)
    root = world.province
    for period, poor, households in ((november, (10, 30), (200, 300)),
                                     (october, (20, 40), (200, 300))):
        for index in range(2):
            unit = (world.session.query(type(root)).filter_by(name=f"Xã {index}").first()
                    or world.unit(f"Xã {index}"))
            _report(world, period, unit, {"r5|c4": poor[index], "r6|c4": households[index],
                                          "r7|c4": "99%"}, "accepted")
    session.commit()
    ratio = world.indicators["TL"]
    one = aggregate(session, regime=world.regime, form_code=FORM, period_ids=[november.id],
                    root_unit=root)
    assert one.value(ratio.id, "c4") == Decimal("40") / Decimal("500")  # not avg of 5% and 10%
    both = aggregate(session, regime=world.regime, form_code=FORM,
                     period_ids=year_to_date(session, november), root_unit=root)
    assert set(year_to_date(session, november)) == {november.id, october.id}
    assert both.value(world.indicators["HN"].id, "c4") == Decimal("100")  # 40 + 60
    assert both.value(world.indicators["TH"].id, "c4") == Decimal("500")  # the latest month
    assert both.value(ratio.id, "c4") == Decimal("0.2")  # 100 / 500
    quarter = periods_within(session, world.regime.id, "month", dt.date(2026, 9, 15),
                             dt.date(2026, 11, 14))
    assert set(quarter) == {november.id, october.id}


def test_a_quarter_and_a_half_year_come_from_their_months(session):
    world = World(session)
    world.indicators["NDT"].aggregation_over_time = "last"
    world.indicators["NDC"].aggregation_over_time = "none"
    november, *earlier = _periods(world, 5)  # November, October … July
    unit = world.unit("Xã Quý")
    people = {11: 110, 10: 100, 9: 90, 8: 80, 7: 70}
    for period in (november, *earlier):
        _report(world, period, unit, {"r1|c4": people[period.number],
                                      "r3|c4": people[period.number] + 1,
                                      "r4|c4": people[period.number] + 2}, "accepted")
    session.commit()
    by_number = {p.number: p.id for p in (november, *earlier)}
    assert set(span_periods(session, november, "quarter")) == {by_number[10], by_number[11]}
    assert set(span_periods(session, earlier[1], "quarter")) == {by_number[7], by_number[8],
                                                                 by_number[9]}
    assert set(span_periods(session, november, "half_year")) == set(by_number.values())
    assert span_periods(session, november, "period") == [november.id]

    def figures(span):
        return aggregate(session, regime=world.regime, form_code=FORM,
                         period_ids=span_periods(session, november, span),
                         root_unit=world.province)

    quarter, half = figures("quarter"), figures("half_year")
    ds, ndt, ndc = (world.indicators[code].id for code in ("DS", "NDT", "NDC"))
    assert quarter.value(ds, "c4") == 210 and half.value(ds, "c4") == 450  # sums of months
    assert quarter.value(ndt, "c4") == 111 and half.value(ndt, "c4") == 111  # the latest month
    assert quarter.value(ndc, "c4") is None  # "none" over time: no figure for a quarter
    assert figures("period").value(ndc, "c4") == 112
    # a quarterly period is its own quarter
    quarterly = Period(regime=world.regime, frequency="quarter", year=2026, number=4,
                       label="Quý IV/2026", cutoff_start=dt.date(2026, 9, 15),
                       cutoff_end=dt.date(2026, 12, 14), deadline=dt.date(2026, 12, 20))
    session.add(quarterly)
    session.flush()
    assert span_periods(session, quarterly, "quarter") == [quarterly.id]


def test_the_breakdown_by_unit_gives_each_units_own_figures(session):
    world = World(session)
    units = [world.unit(f"Xã {n}") for n in range(3)]
    for unit, (people, poor, households) in zip(units, ((100, 10, 200), (300, 30, 300),
                                                        (50, None, 100)), strict=True):
        values = {"r1|c4": people, "r6|c4": households}
        if poor is not None:
            values["r5|c4"] = poor
        _report(world, world.period, unit, values, "accepted")
    session.commit()
    result = aggregate(session, regime=world.regime, form_code=FORM,
                       period_ids=[world.period.id], root_unit=world.province, by_unit=True)
    people, ratio = world.indicators["DS"].id, world.indicators["TL"].id
    assert [result.value(people, "c4", unit_id=u.id) for u in units] == [100, 300, 50]
    assert result.value(ratio, "c4", unit_id=units[0].id) == Decimal("0.05")
    assert result.value(ratio, "c4", unit_id=units[2].id) is None  # no numerator there
    assert result.value(people, "c4") is None  # no province total in a breakdown


@pytest.mark.parametrize("provisional", [False, True])
def test_the_unit_matrix_lays_out_the_breakdown_by_unit(session, provisional):
    """app.consolidation.unit_matrix (the breakdown sheet, without a figure object per cell)
    gives each unit's figures of ``aggregate(by_unit=True)``: nearest reporting units, their
    own aggregation, ratios, "none" left out; one period straight from the reports (as arrays
    on PostgreSQL, as rows on both), several periods through ``aggregate``."""
    from app.consolidation import unit_matrix

    world = World(session)
    world.indicators["DS"].aggregation_over_time = "sum"
    november, october = _periods(world, 2)
    district = world.unit("Huyện Ma Trận", type_code="district")
    communes = [world.unit(f"Xã Ma Trận {n}", parent=district) for n in range(3)]
    others = [world.unit(f"Xã Khác {n}") for n in range(3)]
    states = ["accepted", "sent", "draft"]
    for number, period in enumerate((november, october)):
        _report(world, period, district, {"r1|c4": 7 + number, "r6|c4": 70}, "accepted")
        for index, unit in enumerate(communes + others):
            values = {"r1|c4": 100 * index + number, "r2|c4": f"{index},5",
                      "r3|c4": index - 3, "r4|c4": index + 3, "r6|c4": 10 + index,
                      "r9|c4": 9, "r1|c3": 5}
            if index % 2 == 0:
                values["r5|c4"] = index + 1
            _report(world, period, unit, values, states[index % 3])
    session.commit()
    codes = {i.id: i.code for i in world.indicators.values()}

    def expected(period_ids):
        figures = aggregate(session, regime=world.regime, form_code=FORM, period_ids=period_ids,
                            root_unit=world.province, provisional=provisional, by_unit=True)
        names = {u.id: u.name for u in [district, *communes, *others]}
        table = {}
        for (unit_id, indicator_id, column, breakdown), cell in figures.cells.items():
            if column == "c4" and breakdown == "":
                table.setdefault(names[unit_id], {})[codes[indicator_id]] = cell.value
        return table

    def laid_out(matrix, rows=None):
        header = [code for _id, code, _name in matrix.indicators]
        assert header == sorted(header)
        assert "XH" not in header  # "none" is not aggregated
        return {row[1]: {code: value for code, value in zip(header, row[2:], strict=True)
                         if value is not None} for row in rows or matrix.rows}

    arrays = [None, False] + ([True] if session.get_bind().dialect.name == "postgresql" else [])
    for period_ids in ([november.id], [november.id, october.id]):
        want = expected(period_ids)
        assert want and "Xã Ma Trận 0" not in want  # the district stands for its communes
        for choice in arrays:
            matrix = unit_matrix(session, regime=world.regime, form_code=FORM,
                                 period_ids=period_ids, root_unit=world.province,
                                 column_key="c4", provisional=provisional, arrays=choice)
            assert matrix.label == (PROVISIONAL_LABEL if provisional else OFFICIAL_LABEL)
            rows = list(matrix.rows)
            got = laid_out(matrix, rows)
            assert got == want, (period_ids, choice)
            # the columns are found before the rows: each holds a figure of some unit, but a
            # ratio's, which is blank where no unit has both its parts
            assert all(any(row[2 + n] is not None for row in rows)
                       for n, (_id, code, _name) in enumerate(matrix.indicators) if code != "TL")
            assert [row[1] for row in rows] == sorted(
                got, key=lambda name: next(u.path for u in [district, *communes, *others]
                                           if u.name == name))
    one = laid_out(unit_matrix(session, regime=world.regime, form_code=FORM,
                               period_ids=[november.id], root_unit=world.province,
                               column_key="c4", provisional=provisional))
    assert "TL" not in one["Xã Khác 0"]  # households but no poor households: no ratio
    if provisional:  # 5 poor households of 14 (sent, not yet accepted)
        assert one["Xã Khác 1"]["TL"] == Decimal("0.35714286")
    assert "XH" not in one["Xã Khác 0"]  # "none" is not aggregated
    assert one["Huyện Ma Trận"]["DS"] == 7


def test_one_periods_figures_stay_right_when_the_subtree_or_the_catalogue_changed(session):
    """One period's roll-up takes the subtree's depth and whether min or max are needed from
    the last roll-up of the same root and checks them in the same statement: a new level of
    units below the root, or an indicator that now takes its max, gives the right figures at
    once."""
    from app.models import Indicator

    world = World(session)
    for indicator in session.query(Indicator).filter(
            Indicator.aggregation_over_units.in_(["min", "max"])):
        indicator.aggregation_over_units = "sum"
    _report(world, world.period, world.unit("Xã Một"), {"r1|c4": 100}, "accepted")
    session.flush()
    people = world.indicators["DS"]

    def figure():
        return aggregate(session, regime=world.regime, form_code=FORM,
                         period_ids=[world.period.id], root_unit=world.province
                         ).value(people.id, "c4")

    assert figure() == 100
    district = world.unit("Huyện Hai", type_code="district")
    _report(world, world.period, world.unit("Xã Ba", parent=district), {"r1|c4": 7},
            "accepted")
    _report(world, world.period, district, {"r1|c4": 30}, "accepted")  # stands for its branch
    session.flush()
    assert figure() == 130
    people.aggregation_over_units = "max"
    session.flush()
    assert figure() == 100
    people.aggregation_over_units = "min"
    session.flush()
    assert figure() == 30


def test_two_form_columns_mapped_to_one_value_column_make_one_figure(session):
    """A form may map two of its columns to one value column of the catalogue: their values
    are one figure (summed, or the least or greatest of both), for one period and for
    several."""
    from app.models import ReportValue

    world = World(session)
    first, second = _periods(world, 2)
    people = world.indicators["DS"]
    one_commune, other_commune = world.unit("Xã Một"), world.unit("Xã Hai")
    for period, extra in ((first, 5), (second, 3)):
        _report(world, period, one_commune, {"r1|c4": 100, "r1|c3": extra}, "accepted")
        _report(world, period, other_commune, {"r1|c4": 7}, "accepted")
    session.flush()
    session.query(ReportValue).filter_by(indicator_id=people.id).update(
        {"value_column_key": "c4"})  # as a form mapping its column c3 to the catalogue's c4
    session.flush()

    def figures(periods):
        return aggregate(session, regime=world.regime, form_code=FORM,
                         period_ids=[p.id for p in periods], root_unit=world.province)

    one = figures([first])
    assert one.value(people.id, "c4") == 112
    assert one.value(people.id, "c3") is None
    assert one.cells[(None, people.id, "c4", "")].reports == 3
    people.aggregation_over_time = "sum"
    assert figures([first, second]).value(people.id, "c4") == 112 + 110
    people.aggregation_over_units = "min"
    session.flush()
    assert figures([first]).value(people.id, "c4") == 5
    people.aggregation_over_units = "max"
    session.flush()
    assert figures([first]).value(people.id, "c4") == 100
    by_unit = aggregate(session, regime=world.regime, form_code=FORM, period_ids=[first.id],
                        root_unit=world.province, by_unit=True)
    assert by_unit.value(people.id, "c4", unit_id=one_commune.id) == 100
