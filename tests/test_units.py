"""The unit tree: materialized paths, subtree queries, moves, and the indicator rules."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from app.errors import DomainError
from app.models import Indicator, Unit
from app.scoping import subtree_units
from tests import factories


def _tree(session):
    province = factories.unit(session, "UBND tỉnh", type_code="province_committee")
    district = factories.unit(session, "UBND huyện cũ", parent=province, type_code="district")
    commune = factories.unit(session, "UBND xã Một", parent=district, type_code="commune")
    hamlet = factories.unit(session, "Tổ công tác", parent=commune, type_code="other")
    dept = factories.unit(session, "Sở Nội vụ", parent=province)
    session.commit()
    return province, district, commune, hamlet, dept


def test_paths_follow_the_tree(session):
    province, district, commune, hamlet, dept = _tree(session)
    assert province.path == f"/{province.id}/"
    assert hamlet.path == f"/{province.id}/{district.id}/{commune.id}/{hamlet.id}/"
    assert [province.depth, district.depth, commune.depth, hamlet.depth] == [0, 1, 2, 3]
    assert commune.is_within(district) and not dept.is_within(district)


def test_subtree_is_one_prefix_query(session, app_ctx):
    province, district, commune, hamlet, dept = _tree(session)
    from app.extensions import db

    district_path = district.path
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        names = session.scalars(
            select(Unit.name).where(Unit.id.in_(subtree_units(district_path))).order_by(Unit.path)
        ).all()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert names == ["UBND huyện cũ", "UBND xã Một", "Tổ công tác"]
    assert len(statements) == 1
    assert "LIKE" in statements[0].upper()


def test_moving_a_unit_moves_its_whole_subtree(session):
    province, district, commune, hamlet, dept = _tree(session)
    commune.parent = province  # the district level is gone (2025)
    session.commit()
    session.expire_all()
    assert commune.path == f"/{province.id}/{commune.id}/"
    assert hamlet.path == f"/{province.id}/{commune.id}/{hamlet.id}/"
    assert (commune.depth, hamlet.depth) == (1, 2)
    assert district.path == f"/{province.id}/{district.id}/"


def test_a_unit_cannot_move_under_its_own_subtree(session):
    province, district, commune, hamlet, dept = _tree(session)
    district.parent = hamlet
    with pytest.raises(DomainError):
        session.flush()
    session.rollback()


def test_ratio_indicator_is_recalculated_never_summed(session):
    from app.indicators import validate_indicator

    births = Indicator(code="SINH", name="Số trẻ sinh ra", value_type="integer")
    population = Indicator(code="DS", name="Dân số trung bình", value_type="integer")
    rate = Indicator(
        code="TLS", name="Tỷ suất sinh thô", value_type="percent", numerator=births,
        denominator=population, aggregation_over_units="sum", aggregation_over_time="last",
    )
    with pytest.raises(DomainError) as refused:
        validate_indicator(rate)
    assert "tử số và mẫu số" in refused.value.message
    rate.aggregation_over_units = "none"
    validate_indicator(rate)
    half = Indicator(code="X", name="Thiếu mẫu số", numerator=births, value_type="percent",
                     aggregation_over_units="none", aggregation_over_time="none")
    with pytest.raises(DomainError):
        validate_indicator(half)


def test_unit_list_filters_by_subtree(client, session):
    from app.roles import PROVINCIAL_ADMIN

    province, district, commune, hamlet, dept = _tree(session)
    factories.user(session, "tinh", province, [PROVINCIAL_ADMIN])
    session.commit()
    factories.login(client, "tinh")
    tree = client.get("/units/tree/").get_data(as_text=True)
    assert f'_flt_0_path={district.path}"' in tree
    assert tree.index("Sở Nội vụ") < tree.index("UBND huyện cũ")  # departments come first
    page = client.get(f"/unitview/list/?_flt_0_path={district.path}").get_data(as_text=True)
    assert "UBND xã Một" in page and "Tổ công tác" in page
    assert "Sở Nội vụ" not in page


def test_a_move_is_audited_with_every_descendant(session):
    import json

    from app.models import AuditEntry

    province, district, commune, hamlet, dept = _tree(session)
    commune.parent = province
    session.commit()
    entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    changes = json.loads(entry.changes)
    moved = {c["id"]: c for c in changes if c["table"] == "unit"}
    assert moved[commune.id]["after"]["parent_id"] == province.id
    assert moved[hamlet.id]["before"]["path"].startswith(f"/{province.id}/{district.id}/")
    assert moved[hamlet.id]["after"] == {
        "path": f"/{province.id}/{commune.id}/{hamlet.id}/", "depth": 2,
    }
