"""Consolidated and composed reports (app/consolidation.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import event

from app.consolidation import (
    OFFICIAL_LABEL,
    PROVISIONAL_LABEL,
    ConsolidationRefused,
    compose,
    consolidate,
    drill_down,
    editable_row_keys,
)
from app.models import Indicator, IndicatorResponsibility, Period, Regime
from app.reports import (
    get_or_create_report,
    load_values,
    publish_form_version,
    report_values,
    save_values,
)
from app.roles import AGGREGATOR, APPROVER, DATA_ENTRY, SIGNER
from app.specs.model import CellSpec, ColumnSpec, FormSpec, RowSpec, SheetSpec, TableSpec
from app.workflow import transition
from tests import factories

NOW = dt.datetime(2026, 11, 20, 3, 0)  # inside the reception window of "Tháng 11/2026"
SHEET = "Biểu 01"
FORM = "KTXH-01"

# row key, label, indicator code, aggregation over units, cell type, decimals
ROWS = [
    ("r1", "Dân số", "DS", "sum", "integer", None),
    ("r2", "Thu nhập bình quân", "TN", "average", "decimal", 2),
    ("r3", "Nhiệt độ thấp nhất", "NDT", "min", "decimal", None),
    ("r4", "Nhiệt độ cao nhất", "NDC", "max", "decimal", None),
    ("r5", "Số hộ nghèo", "HN", "sum", "integer", None),
    ("r6", "Tổng số hộ", "TH", "sum", "integer", None),
    ("r7", "Tỷ lệ hộ nghèo", "TL", "none", "percent", 4),
    ("r8", "Ghi chú", None, None, "text", None),
    ("r9", "Điểm xếp hạng", "XH", "none", "decimal", None),
]


def indicator_spec() -> FormSpec:
    """Rows mapped to indicators, values in column D; row 1 also has a plan (C), a computed
    total (E = C + D) and a column carried over from the same period last year (F)."""
    columns = [
        ColumnSpec(sheet=SHEET, table=0, col=1, letter="A", role="stt", key="stt"),
        ColumnSpec(sheet=SHEET, table=0, col=2, letter="B", role="label", key="label"),
        ColumnSpec(sheet=SHEET, table=0, col=3, letter="C", role="value", key="c3",
                   header_path=["Kế hoạch"]),
        ColumnSpec(sheet=SHEET, table=0, col=4, letter="D", role="value", key="c4",
                   header_path=["Thực hiện"]),
        ColumnSpec(sheet=SHEET, table=0, col=5, letter="E", role="value", key="c5",
                   header_path=["Cộng"]),
        ColumnSpec(sheet=SHEET, table=0, col=6, letter="F", role="value", key="c6",
                   header_path=["Cùng kỳ năm trước"], carry_over="same_period_last_year"),
    ]
    table = TableSpec(sheet=SHEET, index=0, shape="indicator", header_first_row=3,
                      header_last_row=3, number_row=4, first_row=5, last_row=4 + len(ROWS),
                      columns=columns)
    rows, cells = [], []
    for number, (key, label, code, _agg, cell_type, decimals) in enumerate(ROWS, start=5):
        rows.append(RowSpec(sheet=SHEET, table=0, row=number, kind="indicator", key=key,
                            label=label, number=str(number - 4), indicator_code=code))
        cells.append(CellSpec(sheet=SHEET, cell=f"D{number}", kind="entry", type=cell_type,
                              row_key=key, column_key="c4", decimals=decimals))
    cells += [
        CellSpec(sheet=SHEET, cell="C5", kind="entry", type="integer", row_key="r1",
                 column_key="c3"),
        CellSpec(sheet=SHEET, cell="E5", kind="computed", row_key="r1", column_key="c5",
                 formula="C5+D5"),
        CellSpec(sheet=SHEET, cell="F5", kind="entry", type="integer", row_key="r1",
                 column_key="c6"),
    ]
    return FormSpec(code=FORM, title="Chỉ tiêu kinh tế - xã hội",
                    sheets=[SheetSpec(name=SHEET, tables=[table])], rows=rows, cells=cells)


class World:
    """A regime, a period, the indicators, and a province over its communes."""

    def __init__(self, session):
        self.session = session
        self.province = factories.unit(session, "UBND tỉnh", type_code="province_committee")
        self.lead = factories.unit(session, "Sở Kế hoạch và Đầu tư", parent=self.province)
        self.regime = Regime(code="KTXH", name="Chỉ tiêu KTXH tháng", owner_unit=self.lead,
                             lead_unit=self.lead, receiving_unit=self.lead)
        self.period = Period(regime=self.regime, frequency="month", year=2026, number=11,
                             label="Tháng 11/2026", cutoff_start=dt.date(2026, 10, 15),
                             cutoff_end=dt.date(2026, 11, 14), deadline=dt.date(2026, 11, 25))
        session.add_all([self.regime, self.period])
        self.indicators = {}
        for _key, label, code, aggregation, cell_type, _d in ROWS:
            if code:
                self.indicators[code] = Indicator(
                    code=code, name=label, aggregation_over_units=aggregation,
                    value_type="percent" if cell_type == "percent" else "decimal")
        self.indicators["TL"].numerator = self.indicators["HN"]
        self.indicators["TL"].denominator = self.indicators["TH"]
        session.add_all(self.indicators.values())
        publish_form_version(session, indicator_spec(), regime=self.regime)
        session.flush()

    def unit(self, name, parent=None, type_code="commune"):
        return factories.unit(self.session, name, parent=parent or self.province,
                              type_code=type_code)

    def report(self, unit, values=None, state="draft", kind="unit"):
        report = get_or_create_report(self.session, self.period, unit, FORM)
        report.kind = kind
        if values:
            result = save_values(self.session, report, values)
            assert not result.ignored, result.ignored
        report.state = state  # data set-up: the workflow itself is tested below and elsewhere
        self.session.flush()
        return report

    def responsible(self, code, unit):
        self.session.add(IndicatorResponsibility(regime=self.regime,
                                                 indicator=self.indicators[code], unit=unit))
        self.session.flush()


COMMUNES = {
    "UBND xã An Bình": {"r1|c3": 1000, "r1|c4": 900, "r2|c4": "5,5", "r3|c4": 10, "r4|c4": 30,
                        "r5|c4": 10, "r6|c4": 200, "r7|c4": "5%", "r8|c4": "Ổn định",
                        "r9|c4": 7, "r1|c6": 850},
    "UBND xã Bình Hòa": {"r1|c3": 2000, "r1|c4": 1800, "r2|c4": "6,5", "r3|c4": 12,
                         "r4|c4": 35, "r5|c4": 30, "r6|c4": 300, "r7|c4": "10%", "r9|c4": 9},
    "UBND xã Cẩm Sơn": {"r1|c3": 500, "r1|c4": 450, "r2|c4": "7,25", "r3|c4": 8,
                        "r4|c4": 28, "r5|c4": 5, "r6|c4": 100, "r7|c4": "5%"},
}


def province_over_communes(session, states=("accepted", "accepted", "accepted"), communes=None):
    world = World(session)
    communes = communes or COMMUNES
    world.children = {}
    for (name, values), state in zip(communes.items(), states, strict=True):
        world.children[name] = world.report(world.unit(name), values, state)
    world.top = world.report(world.province, kind="consolidated")
    session.commit()
    return world


def number(value) -> Decimal:
    from app.numbers import parse_number

    return parse_number(value)


def expected(communes, key, how):
    values = [number(v[key]) for v in communes.values() if key in v]
    if how == "sum":
        return sum(values)
    if how == "average":
        return (sum(values) / len(values)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return {"min": min, "max": max}[how](values)


def test_consolidated_values_are_the_sums_averages_minima_and_maxima_of_the_communes(session):
    world = province_over_communes(session)
    save_values(session, world.top, {"r1|c6": 4321, "r8|c4": "Tỉnh tự ghi"})  # typed by a person

    summary = consolidate(session, world.top)
    session.commit()

    assert summary.children_counted == 3 and summary.not_counted == []
    assert summary.provisional is False and summary.label == OFFICIAL_LABEL
    values = load_values(session, world.top)
    assert values["r1|c3"] == expected(COMMUNES, "r1|c3", "sum") == 3500
    assert values["r1|c4"] == expected(COMMUNES, "r1|c4", "sum") == 3150
    assert values["r2|c4"] == expected(COMMUNES, "r2|c4", "average") == Decimal("6.42")
    assert values["r3|c4"] == expected(COMMUNES, "r3|c4", "min") == 8
    assert values["r4|c4"] == expected(COMMUNES, "r4|c4", "max") == 35
    assert values["r5|c4"] == 45 and values["r6|c4"] == 600
    # a ratio: sum(numerator) / sum(denominator) = 45 / 600, not the average of 5%, 10%, 5%
    assert values["r7|c4"] == Decimal("45") / Decimal("600") == Decimal("0.075")
    assert values["r7|c4"] != sum(number(v["r7|c4"]) for v in COMMUNES.values()) / 3
    # text and "none" indicators are not aggregated; the carried-over column keeps what was typed
    assert values["r8|c4"] == "Tỉnh tự ghi" and "r9|c4" not in values
    assert values["r1|c6"] == 4321
    assert set(summary.skipped) == {"r1|c6", "r8|c4", "r9|c4"}
    # computed cells are derived from the consolidated entry values on read
    assert report_values(session, world.top)["r1|c5"] == 3500 + 3150
    # the consolidation is a save like any other: revision and who saved it
    assert world.top.revision == summary.revision and summary.saved == 8

    again = consolidate(session, world.top)
    assert again.saved == 0 and again.revision == summary.revision


def test_only_accepted_children_count_and_sent_ones_only_when_provisional(session):
    world = province_over_communes(session, states=("accepted", "sent", "draft"))

    official = consolidate(session, world.top)
    session.commit()
    assert [c.unit_name for c in official.counted] == ["UBND xã An Bình"]
    assert official.not_counted == [("UBND xã Bình Hòa", "đã gửi, chờ tiếp nhận"),
                                    ("UBND xã Cẩm Sơn", "đang nhập")]
    assert official.missing == ["UBND xã Bình Hòa", "UBND xã Cẩm Sơn"]
    assert "Chưa tính" in official.message and "chính thức" in official.message
    assert load_values(session, world.top)["r1|c4"] == 900

    provisional = consolidate(session, world.top, provisional=True)
    session.commit()
    assert provisional.provisional is True and provisional.label == PROVISIONAL_LABEL
    assert "tạm tính" in provisional.message
    assert {c.unit_name for c in provisional.counted} == {"UBND xã An Bình", "UBND xã Bình Hòa"}
    assert provisional.missing == ["UBND xã Cẩm Sơn"]
    assert load_values(session, world.top)["r1|c4"] == 900 + 1800

    # back to official: the sent report's share disappears again, and a cell no counted child
    # fills any more becomes blank
    world.children["UBND xã An Bình"].state = "returned"
    session.commit()
    consolidate(session, world.top)
    session.commit()
    values = load_values(session, world.top)
    assert values.get("r1|c4") is None and values.get("r5|c4") is None


def test_a_district_holding_its_own_report_is_used_instead_of_its_communes(session):
    world = World(session)
    direct = world.unit("UBND xã An Bình")
    district = world.unit("UBND huyện Lai Vung", type_code="district")
    below = [world.unit(f"UBND xã {n}", parent=district) for n in ("Tân Dương", "Hòa Long")]
    world.report(direct, {"r1|c4": 100, "r5|c4": 1, "r6|c4": 10}, "accepted")
    district_report = world.report(district, {"r1|c4": 5000, "r5|c4": 50, "r6|c4": 400},
                                   "accepted", kind="consolidated")
    world.report(below[0], {"r1|c4": 1, "r5|c4": 3, "r6|c4": 20}, "accepted")
    world.report(below[1], {"r1|c4": 2, "r5|c4": 5, "r6|c4": 20}, "accepted")
    top = world.report(world.province, kind="consolidated")
    session.commit()

    summary = consolidate(session, top)
    assert [c.unit_name for c in summary.counted] == ["UBND huyện Lai Vung", "UBND xã An Bình"]
    values = load_values(session, top)
    assert values["r1|c4"] == 5100 and values["r5|c4"] == 51 and values["r6|c4"] == 410

    # the district's own report is consolidated from its communes only
    district_report.state = "draft"
    session.flush()
    summary = consolidate(session, district_report)
    session.commit()
    assert summary.children_counted == 2
    values = load_values(session, district_report)
    assert values["r1|c4"] == 3 and values["r7|c4"] == Decimal("0.2")  # 8 / 40


def test_drill_down_opens_a_total_into_its_units(session):
    world = province_over_communes(session, states=("accepted", "sent", "accepted"))
    consolidate(session, world.top)
    session.commit()

    rows = drill_down(session, world.top, "r1|c4")
    assert [(r.unit_name, r.state, r.value, r.counted) for r in rows] == [
        ("UBND xã An Bình", "accepted", Decimal("900"), True),
        ("UBND xã Bình Hòa", "sent", Decimal("1800"), False),
        ("UBND xã Cẩm Sơn", "accepted", Decimal("450"), True),
    ]
    assert sum(r.value for r in rows if r.counted) == load_values(session, world.top)["r1|c4"]
    assert rows[1].state_word == "đã gửi, chờ tiếp nhận"
    # a cell one child left blank
    rows = drill_down(session, world.top, "r9|c4")
    assert [r.value for r in rows] == [Decimal("7"), Decimal("9"), None]
    assert [r.counted for r in drill_down(session, world.top, "r1|c4", provisional=True)] == [
        True, True, True]


def test_consolidation_is_refused_once_the_report_is_sent_or_for_a_unit_report(session):
    world = province_over_communes(session)
    world.top.state = "sent"
    session.commit()
    with pytest.raises(ConsolidationRefused, match="đã gửi, chờ tiếp nhận.*tính lại"):
        consolidate(session, world.top)
    session.rollback()
    with pytest.raises(ConsolidationRefused, match="báo cáo của đơn vị"):
        consolidate(session, world.children["UBND xã An Bình"])


def test_the_aggregation_is_one_statement_whatever_the_number_of_children(session, app):
    from app.extensions import db

    world = World(session)
    tops = []
    for province_name, count in (("Tỉnh Một", 3), ("Tỉnh Hai", 9)):
        top_unit = factories.unit(session, province_name, type_code="province_committee")
        for n in range(count):
            world.report(world.unit(f"Xã {n + 1} của {province_name}", parent=top_unit),
                         {"r1|c4": n + 1, "r2|c4": n, "r5|c4": 1, "r6|c4": 10}, "accepted")
        tops.append(world.report(top_unit, kind="consolidated"))
    session.commit()

    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    counts = []
    for top in tops:
        top.unit, top.form_version  # noqa: B018  (loaded before counting)
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            summary = consolidate(session, top)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        grouped = [s for s in statements if "GROUP BY" in s and "report_value" in s]
        assert len(grouped) == 1, grouped
        counts.append(len(statements))
        session.commit()
        assert summary.children_counted in (3, 9)
    assert counts[0] == counts[1], counts  # no statement per child
    assert load_values(session, tops[1])["r1|c4"] == sum(range(1, 10))
    assert load_values(session, tops[1])["r2|c4"] == Decimal("4.00")


# -- responsible units and composition --------------------------------------------------------


def test_a_responsible_unit_can_fill_only_its_own_rows(session):
    world = World(session)
    health = world.unit("Sở Y tế", type_code="department")
    commune = world.unit("UBND xã An Bình")
    health_report = world.report(health)
    commune_report = world.report(commune)
    assert editable_row_keys(session, health_report) is None  # no responsibilities yet

    world.responsible("HN", health)
    world.responsible("TH", health)
    assert editable_row_keys(session, health_report) == {"r5", "r6"}
    assert editable_row_keys(session, commune_report) is None

    result = save_values(session, health_report,
                         {"r5|c4": 40, "r6|c4": 800, "r1|c4": 99, "r8|c4": "không"})
    session.commit()
    assert sorted(result.ignored) == ["r1|c4", "r8|c4"] and result.saved == 2
    assert load_values(session, health_report) == {"r5|c4": 40, "r6|c4": 800}
    assert save_values(session, commune_report, {"r1|c4": 99, "r5|c4": 3}).ignored == []


def test_compose_takes_each_row_from_its_responsible_units_accepted_report(session):
    world = World(session)
    health = world.unit("Sở Y tế", type_code="department")
    police = world.unit("Công an tỉnh", type_code="department")
    world.responsible("HN", health)
    world.responsible("TH", health)
    world.responsible("DS", police)
    world.report(health, {"r5|c4": 40, "r6|c4": 800}, "accepted")
    world.report(police, {"r1|c4": 123456, "r1|c3": 120000}, "sent")
    lead = world.report(world.lead, kind="composed")
    assert editable_row_keys(session, lead) >= {"r2", "r8"}
    lead_typed = save_values(session, lead, {"r2|c4": "6,1", "r5|c4": 1})
    assert lead_typed.ignored == ["r5|c4"]  # a composed row: the lead agency does not type it
    session.commit()

    summary = compose(session, lead)
    session.commit()
    values = load_values(session, lead)
    assert values["r5|c4"] == 40 and values["r6|c4"] == 800  # copied, not summed
    assert "r1|c4" not in values  # the police report is not accepted yet
    assert values["r2|c4"] == Decimal("6.1")  # a row nobody answers for: the lead's own figure
    assert [c.unit_name for c in summary.counted] == ["Sở Y tế"]
    assert summary.not_counted == [("Công an tỉnh", "đã gửi, chờ tiếp nhận")]
    assert [(r.unit_name, r.value) for r in drill_down(session, lead, "r6|c4")] == [
        ("Sở Y tế", Decimal("800"))]

    provisional = compose(session, lead, provisional=True)
    session.commit()
    assert provisional.provisional and "tạm tính" in provisional.message
    assert load_values(session, lead)["r1|c3"] == 120000
    # the ratio row is a computed-from-parts row nobody answers for: left to the lead agency
    assert "r7|c4" not in provisional.values

    with pytest.raises(ConsolidationRefused, match="không phải báo cáo ghép"):
        compose(session, world.report(world.unit("UBND xã An Bình")))


def test_composition_and_consolidation_on_one_report(session):
    """The province's report: the rows of Sở Y tế's indicators composed from its report, the
    other rows summed from the communes; Sở Y tế is not summed as a child."""
    world = World(session)
    health = world.unit("Sở Y tế", type_code="department")
    world.responsible("HN", health)
    world.responsible("TH", health)
    world.report(health, {"r5|c4": 40, "r6|c4": 800}, "accepted")
    for name, values in COMMUNES.items():
        world.report(world.unit(name), values, "accepted")
    top = world.report(world.province, kind="composed")
    session.commit()

    composed = compose(session, top)
    consolidated = consolidate(session, top)
    session.commit()

    values = load_values(session, top)
    assert values["r5|c4"] == 40 and values["r6|c4"] == 800  # composition wins on its rows
    assert values["r1|c4"] == 3150 and values["r3|c4"] == 8  # the rest summed from communes
    assert values["r7|c4"] == Decimal("0.075")  # the communes' own households: 45 / 600
    assert "Sở Y tế" not in [c.unit_name for c in consolidated.counted]
    assert consolidated.children_counted == 3 and composed.children_counted == 1
    assert {"r5|c4", "r6|c4"} <= set(consolidated.skipped)
    assert [r.unit_name for r in drill_down(session, top, "r5|c4")] == ["Sở Y tế"]
    assert len(drill_down(session, top, "r1|c4")) == 3


# -- corrections ----------------------------------------------------------------------------------


def _people(session, world, commune):
    return {
        "entry": factories.user(session, "xa.nhaplieu", commune, [DATA_ENTRY]),
        "leader": factories.user(session, "xa.lanhdao", commune, [APPROVER]),
        "clerk": factories.user(session, "xa.vanthu", commune, [SIGNER]),
        "province": factories.user(session, "tinh.tonghop", world.province, [AGGREGATOR]),
        "province_leader": factories.user(session, "tinh.lanhdao", world.province, [APPROVER]),
        "province_clerk": factories.user(session, "tinh.vanthu", world.province, [SIGNER]),
        "lead": factories.user(session, "skhdt.tonghop", world.lead, [AGGREGATOR]),
    }


def _cycle(session, report, people, entry, leader, clerk, reviewer):
    for action, who in (("submit", entry), ("approve", leader), ("send", clerk),
                        ("accept", reviewer)):
        transition(session, report, action, people[who], now=NOW)


def test_a_reopened_child_marks_its_consolidation_revised_and_it_is_consolidated_again(session):
    world = World(session)
    commune = world.unit("UBND xã An Bình")
    other = world.unit("UBND xã Bình Hòa")
    child = world.report(commune, {"r1|c4": 900})
    world.report(other, {"r1|c4": 1800}, "accepted")
    top = world.report(world.province, kind="consolidated")
    people = _people(session, world, commune)
    session.commit()
    _cycle(session, child, people, "entry", "leader", "clerk", "province")
    session.commit()

    consolidate(session, top, user=people["province"])
    assert load_values(session, top)["r1|c4"] == 2700
    # the consolidated report runs its own cycle, up to the lead agency
    _cycle(session, top, people, "province", "province_leader", "province_clerk", "lead")
    session.commit()
    assert top.state == "accepted" and top.revised is False

    transition(session, child, "reopen", people["province"], reason="Đính chính dân số", now=NOW)
    session.commit()
    session.refresh(top)
    assert top.revised is True
    save_values(session, child, {"r1|c4": 950})
    _cycle(session, child, people, "entry", "leader", "clerk", "province")
    session.commit()

    # the province's report was accepted: it is reopened through the workflow, not bypassed
    with pytest.raises(ConsolidationRefused, match="đã được tiếp nhận"):
        consolidate(session, top)
    session.rollback()
    transition(session, top, "reopen", people["lead"], reason="Xã đính chính", now=NOW)
    summary = consolidate(session, top, user=people["province"])
    session.commit()
    assert summary.saved == 1 and load_values(session, top)["r1|c4"] == 2750


def test_accepting_a_corrected_report_marks_composed_reports_revised(session):
    world = World(session)
    health = world.unit("Sở Y tế", type_code="department")
    world.responsible("HN", health)
    health_report = world.report(health, {"r5|c4": 40})
    lead_report = world.report(world.lead, kind="composed")
    people = {
        "entry": factories.user(session, "syt.nhaplieu", health, [DATA_ENTRY]),
        "leader": factories.user(session, "syt.lanhdao", health, [APPROVER]),
        "clerk": factories.user(session, "syt.vanthu", health, [SIGNER]),
        # no report above Sở Y tế: the regime's lead agency receives it
        "lead": factories.user(session, "skhdt.tonghop", world.lead, [AGGREGATOR]),
    }
    session.commit()
    _cycle(session, health_report, people, "entry", "leader", "clerk", "lead")
    compose(session, lead_report)
    session.commit()
    assert lead_report.revised is False

    health_report.revised = True  # an earlier correction: the next acceptance marks again
    _set_state(session, health_report, "sent")
    transition(session, health_report, "accept", people["lead"], now=NOW)
    session.commit()
    session.refresh(lead_report)
    assert lead_report.revised is True


def _set_state(session, report, state):
    report.state = state
    session.commit()


def test_a_first_acceptance_marks_nothing(session):
    world = province_over_communes(session, states=("accepted", "accepted", "sent"))
    consolidate(session, world.top)
    people = {"province": factories.user(session, "tinh.tonghop", world.province, [AGGREGATOR])}
    session.commit()
    transition(session, world.children["UBND xã Cẩm Sơn"], "accept", people["province"], now=NOW)
    session.commit()
    session.refresh(world.top)
    assert world.top.revised is False
