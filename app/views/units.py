"""Screens of the unit catalogue: the list, the tree, unit types and successions."""

from __future__ import annotations

from flask import g
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.models import Unit, UnitSuccession, UnitType
from app.scoping import current_user, read_criterion
from app.text import fold
from app.views.base import ScopedInterface, ScopedModelView

UNIT_LABELS = {
    "name": _l("Tên đơn vị"),
    "short_name": _l("Tên viết tắt"),
    "unit_type": _l("Loại đơn vị"),
    "parent": _l("Đơn vị cấp trên"),
    "admin_code": _l("Mã hành chính"),
    "internal_code": _l("Mã nội bộ"),
    "active": _l("Đang hoạt động"),
    "valid_from": _l("Hiệu lực từ"),
    "valid_to": _l("Hiệu lực đến"),
    "address": _l("Địa chỉ"),
    "note": _l("Ghi chú"),
    "path": _l("Đường dẫn cây"),
    "depth": _l("Cấp"),
    "indented_name": _l("Tên đơn vị"),
}


class UnitView(ScopedModelView):
    datamodel = ScopedInterface(Unit)
    list_title = _l("Danh mục đơn vị")
    show_title = _l("Thông tin đơn vị")
    add_title = _l("Thêm đơn vị")
    edit_title = _l("Sửa đơn vị")
    list_columns = ["indented_name", "short_name", "unit_type", "admin_code", "internal_code", "active"]
    order_columns = ["short_name", "admin_code", "internal_code", "active"]
    base_order = ("path", "asc")
    search_columns = [
        "name", "short_name", "unit_type", "parent", "admin_code", "internal_code", "active", "path",
    ]
    add_columns = [
        "name", "short_name", "unit_type", "parent", "admin_code", "internal_code", "active",
        "valid_from", "valid_to", "address", "note",
    ]
    edit_columns = add_columns
    show_columns = add_columns + ["path"]
    label_columns = UNIT_LABELS
    description_columns = {
        "admin_code": _l("Mã theo Quyết định 19/2025/QĐ-TTg: 2 chữ số cho tỉnh, 5 chữ số cho xã, phường"),
        "path": _l("Lọc «Bắt đầu bằng» đường dẫn của một đơn vị để xem cả cây đơn vị trực thuộc"),
    }


class UnitTypeView(ScopedModelView):
    datamodel = ScopedInterface(UnitType)
    list_title = _l("Loại đơn vị")
    list_columns = ["code", "name"]
    add_columns = edit_columns = show_columns = ["code", "name"]
    search_columns = ["code", "name"]
    label_columns = {"code": _l("Mã"), "name": _l("Tên loại đơn vị")}


class UnitSuccessionView(ScopedModelView):
    datamodel = ScopedInterface(UnitSuccession)
    list_title = _l("Sáp nhập, chia tách đơn vị")
    list_columns = ["predecessor", "successor", "kind", "effective_date", "note"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["predecessor", "successor", "kind", "effective_date"]
    label_columns = {
        "predecessor": _l("Đơn vị cũ"),
        "successor": _l("Đơn vị kế thừa"),
        "kind": _l("Hình thức"),
        "effective_date": _l("Ngày hiệu lực"),
        "note": _l("Ghi chú"),
    }


# Siblings in the tree: the committee and departments first, then central agencies, then
# communes and wards, each group alphabetical.
TYPE_ORDER = {
    "province_committee": 0,
    "department": 1,
    "central_agency": 2,
    "district": 3,
    "ward": 4,
    "commune": 4,
    "special_zone": 4,
}


class UnitTreeView(BaseView):
    """The unit tree of the user's subtree, folded by level, with a filter box."""

    route_base = "/units/tree"
    default_view = "tree"

    @expose("/")
    @has_access
    def tree(self):
        query = select(Unit).order_by(Unit.path)
        criterion = read_criterion(Unit, current_user())
        if criterion is not None:
            query = query.where(criterion)
        units = db.session.scalars(query).all()
        unit_types = db.session.scalars(select(UnitType)).all()
        types = {t.id: t.name for t in unit_types}
        children: dict[int | None, list[Unit]] = {}
        ids = {unit.id for unit in units}
        roots = []
        for unit in units:
            if unit.parent_id in ids:
                children.setdefault(unit.parent_id, []).append(unit)
            else:
                roots.append(unit)
        type_codes = {t.id: t.code for t in unit_types}

        def reading_order(unit: Unit):
            rank = TYPE_ORDER.get(type_codes.get(unit.unit_type_id), len(TYPE_ORDER))
            return rank, fold(unit.name)

        roots.sort(key=reading_order)
        for siblings in children.values():
            siblings.sort(key=reading_order)
        return self.render_template(
            "units/tree.html",
            roots=roots,
            children=children,
            types=types,
            total=len(units),
            user=g.user,
        )
