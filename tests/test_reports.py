"""Reports and their values: pinned versions, saving, conflicts, concurrency, validation."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.errors import DomainError
from app.models import Period, Regime, Report, ReportValue
from app.reports import (
    ReportConflict,
    get_or_create_report,
    load_values,
    publish_form_version,
    save_values,
    validate_values,
)
from tests import factories
from tests.spec_fixtures import small_spec

HAS_FORMULAS = True
try:
    import app.specs.formulas  # noqa: F401
except ImportError:  # the evaluator lands with its own module
    HAS_FORMULAS = False


def _setup(session, with_formula=False):
    province = factories.unit(session, "UBND tỉnh", type_code="province_committee")
    commune = factories.unit(session, "UBND xã Một", parent=province, type_code="commune")
    regime = Regime(code="KTXH", name="Báo cáo KTXH tháng", owner_unit=province,
                    lead_unit=province, receiving_unit=province)
    session.add(regime)
    periods = []
    for month in (10, 11):
        period = Period(regime=regime, frequency="month", year=2026, number=month,
                        label=f"Tháng {month}/2026", cutoff_start=dt.date(2026, month - 1, 15),
                        cutoff_end=dt.date(2026, month, 14), deadline=dt.date(2026, month, 19))
        session.add(period)
        periods.append(period)
    publish_form_version(session, small_spec(with_formula=with_formula), regime=regime)
    session.commit()
    return commune, periods


def test_save_and_load_vietnamese_numbers_and_text(session):
    commune, (october, _) = _setup(session)
    report = get_or_create_report(session, october, commune, "TEST-B01")
    result = save_values(session, report, {
        "r5|c3": "1.234", "r6|c3": "12,5", "r7|c3": "Đã rà soát", "r5|c5": "999999",
    })
    session.commit()
    assert result.saved == 3 and result.ignored == ["r5|c5"]  # a client total is never trusted
    values = load_values(session, report)
    assert values["r5|c3"] == Decimal("1234") and values["r6|c3"] == Decimal("12.5")
    assert values["r7|c3"] == "Đã rà soát"
    assert report.revision == 1


def test_a_draft_keeps_whatever_was_typed_and_validation_names_the_cell(session):
    commune, (october, _) = _setup(session)
    report = get_or_create_report(session, october, commune, "TEST-B01")
    result = save_values(session, report, {"r5|c4": "khoảng 12", "r6|c4": "-3"})
    session.commit()
    assert load_values(session, report)["r5|c4"] == "khoảng 12"
    assert [p.message for p in result.problems] == ["«khoảng 12» không phải là số"]
    problems = validate_values(report.form_version.spec(), load_values(session, report))
    described = {(p.sheet, p.row, p.column): p.message for p in problems}
    assert described[("Biểu 01", 5, "C")] == "chưa nhập (bắt buộc)"
    assert described[("Biểu 01", 5, "D")] == "«khoảng 12» không phải là số"


@pytest.mark.skipif(not HAS_FORMULAS, reason="cần bộ tính công thức app.specs.formulas")
def test_computed_cells_are_recomputed_on_the_server(session):
    commune, (october, _) = _setup(session, with_formula=True)
    report = get_or_create_report(session, october, commune, "TEST-B01")
    save_values(session, report, {"r5|c3": "100", "r5|c4": "23", "r6|c3": "1,25", "r6|c4": "1,2"})
    session.commit()
    from app.reports import values_with_computed

    stored = load_values(session, report)
    assert "r5|c5" not in stored  # derived, never stored
    values = values_with_computed(report.form_version.spec(), stored)
    assert values["r5|c5"] == Decimal("123")
    assert values["r6|c5"] == Decimal("2.5")  # ROUND(2.45, 1) half away from zero


def test_a_cell_changed_by_someone_else_is_a_conflict_not_an_overwrite(session):
    commune, (october, _) = _setup(session)
    report = get_or_create_report(session, october, commune, "TEST-B01")
    save_values(session, report, {"r5|c3": "10"})
    session.commit()
    seen_by_a = load_values(session, report)
    save_values(session, report, {"r5|c3": "20"}, base_values=seen_by_a)  # B saves first
    session.commit()
    with pytest.raises(ReportConflict) as conflict:
        save_values(session, report, {"r5|c3": "30"}, base_values=seen_by_a)
    assert conflict.value.keys == ["r5|c3"]
    save_values(session, report, {"r6|c3": "7"}, base_values=seen_by_a)  # an untouched cell
    session.commit()
    values = load_values(session, report)
    assert values["r5|c3"] == Decimal("20") and values["r6|c3"] == Decimal("7")


def test_concurrent_saves_of_different_cells_lose_nothing(app_ctx, session):
    commune, (october, _) = _setup(session)
    report = get_or_create_report(session, october, commune, "TEST-B01")
    session.commit()
    report_id = report.id
    errors = []

    def typist(keys):
        from app.extensions import db

        with app_ctx.app_context():
            try:
                for key, value in keys:
                    mine = db.session.get(Report, report_id)
                    save_values(db.session, mine, {key: value}, base_values={})
                    db.session.commit()
            except Exception as error:  # noqa: BLE001 (reported below)
                errors.append(error)
            finally:
                db.session.remove()

    first = threading.Thread(target=typist, args=([("r5|c3", str(i)) for i in range(1, 16)],))
    second = threading.Thread(target=typist, args=([("r6|c3", f"{i},5") for i in range(1, 16)],))
    first.start(), second.start()
    first.join(), second.join()
    assert errors == []
    session.expire_all()
    values = load_values(session, session.get(Report, report_id))
    assert values["r5|c3"] == Decimal("15") and values["r6|c3"] == Decimal("15.5")
    assert session.get(Report, report_id).revision == 30


def test_a_period_keeps_the_version_it_was_opened_with(session):
    commune, (october, november) = _setup(session)
    old = get_or_create_report(session, october, commune, "TEST-B01")
    changed = small_spec()
    changed.rows[0].label = "Dân số trung bình"
    second = publish_form_version(session, changed)
    session.commit()
    assert second.version == 2
    assert get_or_create_report(session, october, commune, "TEST-B01").form_version.version == 1
    assert old.form_version.version == 1
    assert get_or_create_report(session, november, commune, "TEST-B01").form_version.version == 2
    assert publish_form_version(session, changed).id == second.id  # unchanged: no new version


def test_values_link_to_the_catalogue(session):
    from app.models import Indicator

    session.add(Indicator(code="DS", name="Dân số", value_type="integer"))
    spec = small_spec(code="TEST-B02", with_formula=False)
    spec.rows[0].indicator_code = "DS"
    commune, (october, _) = _setup(session)
    publish_form_version(session, spec)
    report = get_or_create_report(session, october, commune, "TEST-B02")
    save_values(session, report, {"r5|c3": "5"})
    session.commit()
    row = session.scalars(select(ReportValue).where(ReportValue.report_id == report.id)).one()
    indicator = session.scalars(select(Indicator).where(Indicator.code == "DS")).one()
    assert row.indicator_id == indicator.id and row.value_column_key == "plan_year"


def test_a_sent_report_is_frozen(session):
    commune, (october, _) = _setup(session)
    report = get_or_create_report(session, october, commune, "TEST-B01")
    report.state = "sent"
    with pytest.raises(DomainError):
        save_values(session, report, {"r5|c3": "1"})


def test_a_column_is_carried_over_from_the_previous_period(session):
    spec = small_spec(code="TEST-B03", with_formula=False)
    columns = spec.sheets[0].tables[0].columns
    columns[2].carry_over = "previous_period:c4"  # plan column shows last month's actual
    columns[2].carry_over_editable = False
    commune, (october, november) = _setup(session)
    publish_form_version(session, spec)
    first = get_or_create_report(session, october, commune, "TEST-B03")
    save_values(session, first, {"r5|c4": "40", "r6|c4": "2,5"})
    session.commit()
    second = get_or_create_report(session, november, commune, "TEST-B03")
    session.commit()
    values = load_values(session, second)
    assert values["r5|c3"] == Decimal("40") and values["r6|c3"] == Decimal("2.5")
    result = save_values(session, second, {"r5|c3": "41", "r5|c4": "45"})
    assert result.ignored == ["r5|c3"]  # shown read-only, as the spec says
    session.commit()
    assert load_values(session, second)["r5|c3"] == Decimal("40")


def test_rules_across_cells_name_their_cell():
    from app.specs.model import Rule

    spec = small_spec()
    spec.rules = [
        Rule(expression="D5<=C5", message="Thực hiện tháng không vượt kế hoạch năm"),
        Rule(expression="E5=C5+D5", message="Tổng phải bằng kế hoạch cộng thực hiện"),
    ]
    problems = validate_values(spec, {"r5|c3": Decimal("10"), "r5|c4": Decimal("12")})
    described = {(p.sheet, p.row, p.column): p.message for p in problems}
    assert described[("Biểu 01", 5, "D")] == "Thực hiện tháng không vượt kế hoạch năm"
    assert "Tổng phải bằng kế hoạch cộng thực hiện" not in described.values()  # E5 is computed
    assert validate_values(spec, {"r5|c3": Decimal("12"), "r5|c4": Decimal("10")}) == []


def test_a_save_is_one_audit_entry_with_every_cell(session):
    import json

    from app.models import AuditEntry

    commune, (october, _) = _setup(session)
    report = get_or_create_report(session, october, commune, "TEST-B01")
    session.commit()
    save_values(session, report, {"r5|c3": "1", "r6|c3": "2"})
    session.commit()
    save_values(session, report, {"r5|c3": "3", "r6|c4": "4"})
    session.commit()
    entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    changes = [c for c in json.loads(entry.changes) if c["table"] == "report_value"]
    ops = sorted((c["op"], Decimal((c["after"] or {}).get("number_value"))) for c in changes)
    assert ops == [("insert", Decimal("4")), ("update", Decimal("3"))]
    updated = next(c for c in changes if c["op"] == "update")
    assert Decimal(updated["before"]["number_value"]) == Decimal("1")


def test_after_a_save_only_dependent_formulas_are_evaluated_and_agree_with_a_full_run(
    tmp_path, monkeypatch
):
    import random

    from app.reports import _evaluate
    from app.specs import formulas
    from app.specs.loader import load_spec
    from bench.generate_template import generate

    generate(tmp_path / "t.xlsx", rows=150, value_columns=9)
    spec = load_spec(tmp_path / "t.xlsx")
    evaluated = []
    real_evaluate = formulas.evaluate
    monkeypatch.setattr(formulas, "evaluate", lambda *a: evaluated.append(a) or real_evaluate(*a))
    rng = random.Random(82)
    numeric = [c.key for c in spec.entry_cells if c.type in ("number", "integer", "decimal")]
    values = {key: Decimal(rng.randint(0, 10_000)) for key in numeric}
    previous = _evaluate(spec, values)
    for _ in range(5):
        changed = rng.sample(numeric, 7)
        for key in changed:
            values[key] = Decimal(rng.randint(-50, 50_000)) / 10
        evaluated.clear()
        previous = _evaluate(spec, values, previous=previous, changed_keys=changed)
        assert 0 < len(evaluated) <= 7  # each changed cell feeds one "Tổng số" formula
        assert previous[0] == _evaluate(spec, values)[0]


def test_the_page_after_a_save_shows_the_totals_of_the_saved_values(session):
    from app.reports import report_values

    commune, (october, _) = _setup(session, with_formula=True)
    report = get_or_create_report(session, october, commune, "TEST-B01")
    session.commit()
    assert report_values(session, report)["r5|c5"] == Decimal("0")  # primes the cache
    save_values(session, report, {"r5|c3": "100", "r5|c4": "23"})
    session.rollback()  # a save that never commits leaves nothing behind
    save_values(session, report, {"r5|c3": "7", "r5|c4": "5"})
    session.commit()
    assert report_values(session, report)["r5|c5"] == Decimal("12")
