"""A province's communes and wards from the official list of administrative units."""

from __future__ import annotations

import unicodedata

import pytest
from sqlalchemy import func, select

from app.imports.province import ProvinceNotFound, ensure_unit_types, import_province
from app.models import Unit, UnitType
from tests.factories import unit


def _count(session, *criteria) -> int:
    return session.scalar(select(func.count(Unit.id)).where(*criteria))


def test_dong_thap_communes_and_wards(session):
    result = import_province(session, "82")
    session.commit()
    committee = result.committee
    assert committee.name == "UBND tỉnh Đồng Tháp"
    assert committee.admin_code == "82"
    assert committee.unit_type.code == "province_committee"
    assert len(result.units) == 102
    assert result.created == 103 and result.updated == 0 and result.unchanged == 0
    codes = [u.admin_code for u in result.units]
    assert all(len(code) == 5 and code.isdigit() for code in codes)
    assert len(set(codes)) == 102
    assert _count(session, Unit.path.like(committee.path + "%")) == 103
    assert _count(session, Unit.parent_id == committee.id) == 102

    my_tho = session.scalar(select(Unit).where(Unit.admin_code == "28261"))
    assert (my_tho.name, my_tho.short_name, my_tho.unit_type.code) == (
        "UBND phường Mỹ Tho", "Phường Mỹ Tho", "ward",
    )
    assert my_tho.depth == 1 and my_tho.path == f"{committee.path}{my_tho.id}/"
    communes = session.scalars(
        select(Unit).join(UnitType).where(UnitType.code == "commune", Unit.parent_id == committee.id)
    ).all()
    assert communes and all(u.name.startswith("UBND xã ") for u in communes)
    assert all(u.short_name.startswith("Xã ") for u in communes)
    for u in result.units:
        assert u.name == unicodedata.normalize("NFC", u.name)


def test_second_run_adds_nothing(session):
    import_province(session, "82")
    session.commit()
    before = _count(session)
    again = import_province(session, "82")
    session.commit()
    assert (again.created, again.updated, again.unchanged) == (0, 0, 103)
    assert _count(session) == before == 103


def test_renamed_unit_is_updated_not_duplicated(session):
    import_province(session, "82")
    session.commit()
    renamed = session.scalar(select(Unit).where(Unit.admin_code == "28261"))
    renamed.name = "Tên cũ"
    session.commit()
    again = import_province(session, "82")
    assert (again.created, again.updated) == (0, 1)
    assert renamed.name == "UBND phường Mỹ Tho"


def test_under_a_given_parent(session):
    root = unit(session, "UBND tỉnh tự tạo", type_code="province_committee")
    result = import_province(session, "82", parent=root)
    assert result.committee is root
    assert result.created == 102
    assert _count(session, Unit.path.like(root.path + "%")) == 103
    assert _count(session, Unit.admin_code == "82") == 0


def test_city_special_zone_and_central_city_names(session):
    result = import_province(session, "79")
    assert result.committee.name == "UBND thành phố Hồ Chí Minh"
    assert len(result.units) == 168
    zones = [u for u in result.units if u.unit_type.code == "special_zone"]
    assert zones and all(u.name.startswith("UBND đặc khu ") for u in zones)


@pytest.mark.parametrize("code", ["99", "abc", ""])
def test_unknown_code_is_an_error(session, code):
    with pytest.raises(ProvinceNotFound) as raised:
        import_province(session, code)
    assert "mã" in raised.value.message.lower()
    assert _count(session) == 0


def test_ensure_unit_types_is_idempotent(session):
    first = ensure_unit_types(session)
    second = ensure_unit_types(session)
    assert {k: v.id for k, v in first.items()} == {k: v.id for k, v in second.items()}
    assert first["central_agency"].name == "Cơ quan trung ương đóng trên địa bàn"


def test_cli(app_ctx, session):
    runner = app_ctx.test_cli_runner()
    result = runner.invoke(args=["units", "import-province", "82"])
    assert result.exit_code == 0, result.output
    assert "Tạo mới: 103" in result.output
    result = runner.invoke(args=["units", "import-province", "82"])
    assert "Tạo mới: 0; cập nhật: 0; không đổi: 103" in result.output
    result = runner.invoke(args=["units", "import-province", "99"])
    assert result.exit_code == 1
    assert "Không có tỉnh, thành phố mã 99" in result.output
