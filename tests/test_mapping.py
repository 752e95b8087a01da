"""Mapping a parsed template to the catalogue, period-aware headers and integrity checks."""

from __future__ import annotations

import datetime as dt

from app.models import Indicator, Period, ValueColumn
from app.specs.mapping import (
    apply_header_templates,
    apply_row_mapping,
    create_missing_indicators,
    header_template,
    integrity_problems,
    render_header,
    suggest_column_mapping,
    suggest_row_mapping,
)
from tests.spec_fixtures import small_spec


def test_rows_match_by_code_then_by_name_and_unit(session):
    session.add_all([
        Indicator(code="DS", name="Dân số", unit_of_measure="Người"),
        Indicator(code="LUA", name="Diện tích lúa", unit_of_measure="ha"),
        Indicator(code="LUA-T", name="Diện tích lúa", unit_of_measure="tấn"),
    ])
    session.flush()
    spec = small_spec()
    spec.rows[0].code = "ds"
    matches = {m.row_key: (m.indicator_code, m.how) for m in suggest_row_mapping(session, spec)}
    assert matches["r5"] == ("DS", "code")
    assert matches["r6"] == ("LUA", "name")  # "Diện tích lúa" in ha, not the one in tấn
    assert matches["r7"] == (None, "none")


def test_one_action_creates_the_missing_indicators(session):
    spec = small_spec()
    created = create_missing_indicators(session, spec, ["r5", "r6"])
    assert [i.code for i in created] == ["TEST-B01.1", "TEST-B01.2"]
    assert spec.rows[0].indicator_code == "TEST-B01.1"
    assert created[1].unit_of_measure == "ha"


def test_columns_are_suggested_from_their_headers(session):
    session.add_all([ValueColumn(key="plan_year", name="Kế hoạch năm"),
                     ValueColumn(key="actual_month", name="Thực hiện tháng")])
    session.flush()
    suggestions = suggest_column_mapping(session, small_spec())
    assert suggestions == {"c3": "plan_year", "c4": "actual_month", "c5": None}


def test_headers_naming_a_period_become_templates():
    assert header_template("Thực hiện tháng 10/2026") == "Thực hiện tháng {month}/{year}"
    assert header_template("Lũy kế 11 tháng năm 2026") == "Lũy kế {month} tháng năm {year}"
    assert header_template("Kế hoạch năm 2026") == "Kế hoạch năm {year}"
    assert header_template("Ghi chú") is None
    period = Period(frequency="month", year=2027, number=3, label="Tháng 3/2027",
                    cutoff_start=dt.date(2027, 2, 15), cutoff_end=dt.date(2027, 3, 14),
                    deadline=dt.date(2027, 3, 17))
    assert render_header("Thực hiện tháng {month}/{year}", period) == "Thực hiện tháng 3/2027"
    assert render_header("Lũy kế {month} tháng năm {year}", period) == "Lũy kế 3 tháng năm 2027"
    spec = small_spec()
    spec.sheets[0].tables[0].columns[3].header_path = ["Thực hiện tháng 10/2026"]
    assert apply_header_templates(spec) == 1


def test_integrity_lists_unmapped_rows_duplicates_and_formulas_outside_the_grid():
    spec = small_spec()
    apply_row_mapping(spec, {"r5": "DS", "r6": "DS"})
    spec.cells[-1].formula = "C6+Z99"
    described = [str(p) for p in integrity_problems(spec)]
    assert any("dòng «Ghi chú chung» chưa gắn" in d for d in described)
    assert any("chỉ tiêu DS gắn cho hai dòng (dòng 5 và dòng 6)" in d for d in described)
    try:
        import app.specs.formulas  # noqa: F401
    except ImportError:
        return
    assert any("trỏ ra ngoài biểu mẫu: Biểu 01!Z99" in d for d in described)
    assert not any("E5" in d for d in described)  # C5+D5 stays inside
