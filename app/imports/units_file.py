"""Import the unit catalogue from an .xlsx or .csv file: create new units, update known ones.

A row updates the unit that has its internal code or administrative code (or, with neither,
the unit of the same name under the same parent); any other row creates a unit. The parent is
named by internal code, administrative code or name, and may be a unit created earlier in the
same file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.imports.common import (
    Column,
    ImportFileError,
    ImportResult,
    PlannedRow,
    code_of,
    parse_bool,
    parse_date,
    read_sheet,
    row_is_empty,
    text_of,
    write_all_or_nothing,
)
from app.models import Unit, UnitType
from app.text import fold

COLUMNS = [
    Column("name", "Tên đơn vị", ("Tên", "Đơn vị", "Tên cơ quan, đơn vị"), required=True),
    Column("short_name", "Tên viết tắt", ("Viết tắt", "Tên ngắn")),
    Column("unit_type", "Loại đơn vị", ("Loại", "Mã loại đơn vị", "Cấp đơn vị")),
    Column("admin_code", "Mã hành chính", ("Mã ĐVHC", "Mã đơn vị hành chính", "Mã hành chánh")),
    Column("internal_code", "Mã nội bộ", ("Mã đơn vị", "Mã")),
    Column("parent", "Đơn vị cấp trên", ("Đơn vị chủ quản", "Cấp trên", "Mã đơn vị cấp trên")),
    Column("valid_from", "Hiệu lực từ", ("Hiệu lực từ ngày", "Ngày hiệu lực", "Từ ngày")),
    Column("valid_to", "Hiệu lực đến", ("Hiệu lực đến ngày", "Đến ngày", "Ngày hết hiệu lực")),
    Column("active", "Đang hoạt động", ("Hoạt động", "Trạng thái")),
]
LABELS = {c.key: c.label for c in COLUMNS}
ADMIN_CODE_RE = re.compile(r"^(\d{2}|\d{5})$")


@dataclass
class _Plan:
    row: int
    unit_id: int | None  # None: a new unit
    fields: dict[str, Any]
    parent: tuple[str, Any] | None  # ("existing", id) | ("new", row) | ("root", None) | None = unchanged


def _admin_code(value) -> str | None:
    """A number typed into Excel loses its leading zero: 1 → "01", 1234 → "01234"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        digits = str(int(value))
        return digits.zfill(2) if len(digits) <= 2 else digits.zfill(5)
    return code_of(value)


class _Catalogue:
    """The units and unit types already in the database, indexed for lookups."""

    def __init__(self, session):
        self.units: dict[int, Unit] = {u.id: u for u in session.scalars(select(Unit))}
        self.by_internal = {u.internal_code.lower(): u for u in self.units.values() if u.internal_code}
        self.by_admin = {u.admin_code: u for u in self.units.values() if u.admin_code}
        self.by_name: dict[str, list[Unit]] = {}
        for unit in self.units.values():
            self.by_name.setdefault(fold(unit.name), []).append(unit)
        self.types = list(session.scalars(select(UnitType)))

    def find_type(self, value: str) -> UnitType | None:
        key = fold(value)
        for unit_type in self.types:
            if unit_type.code.lower() == value.strip().lower() or fold(unit_type.name) == key:
                return unit_type
        return None


def import_units(session, path_or_stream, filename: str, dry_run: bool = False, actor_scope_unit: Unit | None = None) -> ImportResult:
    """Check every row of the file and, when nothing is wrong and it is not a dry run, write all."""
    result = ImportResult(kind="units", filename=filename, dry_run=dry_run)
    try:
        sheet = read_sheet(path_or_stream, filename, COLUMNS)
    except ImportFileError as error:
        result.add_error(None, None, None, error.message, sheet=filename)
        return result
    result.sheet = sheet.name
    catalogue = _Catalogue(session)
    plans: list[_Plan] = []
    new_by_code: dict[str, int] = {}  # internal/admin code of a row → row number
    new_by_name: dict[str, list[int]] = {}
    seen_internal: dict[str, int] = {}
    seen_admin: dict[str, int] = {}
    matched_units: dict[int, int] = {}
    in_scope_rows: dict[int, bool] = {}
    scope_path = actor_scope_unit.path if actor_scope_unit is not None else None

    def error(row, key, message):
        result.add_error(row.number, row.letter(key), LABELS.get(key, key), message)

    for row in sheet.rows:
        if row_is_empty(row):
            continue
        errors_before = len(result.errors)
        name = text_of(row.get("name"))
        if not name:
            error(row, "name", "Thiếu tên đơn vị.")
        short_name = text_of(row.get("short_name"))
        internal_code = code_of(row.get("internal_code"))
        admin_code = _admin_code(row.values.get("admin_code"))
        if admin_code and not ADMIN_CODE_RE.match(admin_code):
            error(row, "admin_code", f"Mã hành chính «{admin_code}» không đúng dạng: cần 2 chữ số (tỉnh) hoặc 5 chữ số (xã, phường).")
        if internal_code:
            key = internal_code.lower()
            if key in seen_internal:
                error(row, "internal_code", f"Mã nội bộ «{internal_code}» trùng với dòng {seen_internal[key]} trong tệp.")
            seen_internal.setdefault(key, row.number)
        if admin_code:
            if admin_code in seen_admin:
                error(row, "admin_code", f"Mã hành chính «{admin_code}» trùng với dòng {seen_admin[admin_code]} trong tệp.")
            seen_admin.setdefault(admin_code, row.number)

        # The existing unit this row updates.
        target: Unit | None = None
        by_internal = catalogue.by_internal.get(internal_code.lower()) if internal_code else None
        by_admin = catalogue.by_admin.get(admin_code) if admin_code else None
        if by_internal and by_admin and by_internal.id != by_admin.id:
            error(row, "admin_code", f"Mã hành chính «{admin_code}» đã thuộc đơn vị «{by_admin.name}», còn mã nội bộ «{internal_code}» thuộc đơn vị «{by_internal.name}».")
        target = by_internal or by_admin

        unit_type = None
        type_text = text_of(row.get("unit_type"))
        if type_text:
            unit_type = catalogue.find_type(type_text)
            if unit_type is None:
                known = ", ".join(f"{t.code} ({t.name})" for t in catalogue.types) or "chưa có loại nào"
                error(row, "unit_type", f"Loại đơn vị «{type_text}» không có trong danh mục loại đơn vị (có: {known}).")
        elif target is None:
            error(row, "unit_type", "Thiếu loại đơn vị.")

        parent: tuple[str, Any] | None = None
        parent_text = code_of(row.get("parent"))
        if parent_text:
            parent = _resolve_parent(parent_text, catalogue, new_by_code, new_by_name)
            if parent is None:
                error(row, "parent", f"Không tìm thấy đơn vị cấp trên «{parent_text}» (theo mã nội bộ, mã hành chính hoặc tên; đơn vị cấp trên trong cùng tệp phải ở dòng trước).")
            elif parent == ("ambiguous", None):
                error(row, "parent", f"Có nhiều đơn vị tên «{parent_text}»: ghi mã nội bộ hoặc mã hành chính của đơn vị cấp trên.")
                parent = None
        elif target is None:
            parent = ("root", None)

        if target is None and name and (parent is None or parent[0] in ("existing", "root")):
            parent_id = parent[1] if parent else None
            same = [u for u in catalogue.by_name.get(fold(name), []) if u.parent_id == parent_id]
            if len(same) == 1:
                target = same[0]
        if target is not None:
            if target.id in matched_units:
                error(row, "name", f"Dòng này và dòng {matched_units[target.id]} cùng cập nhật đơn vị «{target.name}».")
            matched_units.setdefault(target.id, row.number)
            if parent and parent[0] == "existing" and catalogue.units[parent[1]].path.startswith(target.path):
                error(row, "parent", f"Không thể đặt đơn vị «{target.name}» dưới chính nó hoặc đơn vị cấp dưới của nó.")

        valid_from = valid_to = None
        for key in ("valid_from", "valid_to"):
            try:
                value = parse_date(row.values.get(key))
            except ValueError:
                error(row, key, f"Ngày «{row.values.get(key)}» không hợp lệ (ghi theo dạng dd/mm/yyyy).")
                value = None
            if key == "valid_from":
                valid_from = value
            else:
                valid_to = value
        if valid_from and valid_to and valid_to < valid_from:
            error(row, "valid_to", "Ngày hết hiệu lực phải sau ngày bắt đầu hiệu lực.")
        try:
            active = parse_bool(row.values.get("active"), default=None)
        except ValueError:
            error(row, "active", f"Giá trị «{row.values.get('active')}» không hiểu được: ghi «Có» hoặc «Không».")
            active = None

        # Scope of a unit admin: the unit must end up inside their subtree.
        in_scope = True
        if scope_path is not None:
            if target is not None and not target.path.startswith(scope_path):
                in_scope = False
            if parent is not None:
                kind, ref = parent
                if kind == "existing":
                    in_scope = in_scope and catalogue.units[ref].path.startswith(scope_path)
                elif kind == "new":
                    in_scope = in_scope and in_scope_rows.get(ref, False)
                else:
                    in_scope = False
            if not in_scope:
                error(row, "parent", f"Đơn vị «{name or ''}» nằm ngoài phạm vi quản lý của bạn (đơn vị «{actor_scope_unit.name}» và các đơn vị cấp dưới).")
        in_scope_rows[row.number] = in_scope

        fields = {
            "name": name,
            "short_name": short_name,
            "unit_type_id": unit_type.id if unit_type else None,
            "admin_code": admin_code,
            "internal_code": internal_code,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "active": active,
        }
        if target is None:
            if internal_code:
                new_by_code.setdefault("i:" + internal_code.lower(), row.number)
            if admin_code:
                new_by_code.setdefault("a:" + admin_code, row.number)
            if name:
                new_by_name.setdefault(fold(name), []).append(row.number)
        if len(result.errors) > errors_before:
            continue
        plan = _Plan(row.number, target.id if target else None, fields, parent)
        plans.append(plan)
        parent_label = _parent_label(parent, catalogue, plans) if parent else (target.parent.name if target and target.parent else "")
        shown = {
            "Tên đơn vị": name,
            "Loại đơn vị": unit_type.name if unit_type else (target.unit_type.name if target else ""),
            "Mã hành chính": admin_code or (target.admin_code if target else "") or "",
            "Mã nội bộ": internal_code or (target.internal_code if target else "") or "",
            "Đơn vị cấp trên": parent_label or "",
        }
        result.rows.append(PlannedRow(row.number, "update" if target else "create", name, shown))

    if not result.rows and not result.errors:
        result.add_error(None, None, None, "Tệp không có dòng dữ liệu nào.")
    if result.errors or dry_run:
        return result
    write_all_or_nothing(session, result, lambda: _write(session, plans, catalogue))
    return result


def _resolve_parent(text, catalogue, new_by_code, new_by_name):
    lowered = text.lower()
    if lowered in catalogue.by_internal:
        return ("existing", catalogue.by_internal[lowered].id)
    if text in catalogue.by_admin:
        return ("existing", catalogue.by_admin[text].id)
    if "i:" + lowered in new_by_code:
        return ("new", new_by_code["i:" + lowered])
    if "a:" + text in new_by_code:
        return ("new", new_by_code["a:" + text])
    if re.fullmatch(r"\d{1,2}", text) and text.zfill(2) in catalogue.by_admin:
        return ("existing", catalogue.by_admin[text.zfill(2)].id)
    key = fold(text)
    existing = catalogue.by_name.get(key, [])
    new_rows = new_by_name.get(key, [])
    if len(existing) + len(new_rows) > 1:
        return ("ambiguous", None)
    if existing:
        return ("existing", existing[0].id)
    if new_rows:
        return ("new", new_rows[0])
    return None


def _parent_label(parent, catalogue, plans) -> str:
    kind, ref = parent
    if kind == "existing":
        return catalogue.units[ref].name
    if kind == "new":
        for plan in plans:
            if plan.row == ref:
                return plan.fields["name"] + " (dòng " + str(ref) + ")"
    return ""


def _write(session, plans: list[_Plan], catalogue: _Catalogue) -> None:
    created: dict[int, Unit] = {}
    for plan in plans:
        if plan.unit_id is None:
            unit = Unit()
            session.add(unit)
            fields = dict(plan.fields)
            if fields["active"] is None:
                fields["active"] = True
        else:
            unit = catalogue.units[plan.unit_id]
            fields = {k: v for k, v in plan.fields.items() if v is not None}
        for key, value in fields.items():
            setattr(unit, key, value)
        if plan.parent is not None:
            kind, ref = plan.parent
            if kind == "existing":
                unit.parent_id = ref
                unit.parent = catalogue.units[ref]
            elif kind == "new":
                unit.parent = created[ref]
                unit.parent_id = created[ref].id
            else:
                unit.parent = None
                unit.parent_id = None
        session.flush()  # one unit at a time: its path is built from its parent's
        created[plan.row] = unit
