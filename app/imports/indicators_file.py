"""Import the indicator catalogue from an .xlsx or .csv file, creating or updating by code.

Numerator and denominator name other indicators by code, in the database or anywhere in the
same file. A group that does not exist yet is created (by code, or by name when the cell holds a
name) and listed in the result, so the admin sees it before confirming.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from sqlalchemy import select

from app.errors import DomainError
from app.imports.common import (
    Column,
    ImportFileError,
    ImportResult,
    PlannedRow,
    code_of,
    parse_date,
    read_sheet,
    row_is_empty,
    text_of,
    write_all_or_nothing,
)
from app.indicators import validate_indicator
from app.models import Indicator, IndicatorGroup, Unit
from app.models.indicators import AGGREGATIONS_OVER_TIME, AGGREGATIONS_OVER_UNITS, VALUE_TYPES
from app.text import fold

COLUMNS = [
    Column("code", "Mã chỉ tiêu", ("Mã", "Mã số", "Mã CT"), required=True),
    Column("name", "Tên chỉ tiêu", ("Chỉ tiêu", "Tên"), required=True),
    Column("unit_of_measure", "Đơn vị tính", ("ĐVT", "Đơn vị đo")),
    Column("calculation_method", "Phương pháp tính", ("Cách tính", "Công thức", "Khái niệm, phương pháp tính")),
    Column("value_type", "Kiểu giá trị", ("Kiểu dữ liệu", "Loại giá trị")),
    Column("aggregation_over_units", "Tổng hợp theo đơn vị", ("Cách tổng hợp theo đơn vị", "Tổng hợp đơn vị")),
    Column("aggregation_over_time", "Tổng hợp theo thời gian", ("Cách tổng hợp theo thời gian", "Tổng hợp thời gian", "Tổng hợp theo kỳ")),
    Column("numerator", "Tử số", ("Mã tử số", "Chỉ tiêu tử số")),
    Column("denominator", "Mẫu số", ("Mã mẫu số", "Chỉ tiêu mẫu số")),
    Column("group", "Nhóm", ("Nhóm chỉ tiêu", "Lĩnh vực", "Ngành, lĩnh vực")),
    Column("owner_unit", "Đơn vị chịu trách nhiệm", ("Đơn vị thực hiện", "Cơ quan chịu trách nhiệm", "Đơn vị chủ trì", "Cơ quan chủ trì")),
    Column("valid_from", "Hiệu lực từ", ("Hiệu lực từ ngày", "Từ ngày")),
    Column("valid_to", "Hiệu lực đến", ("Hiệu lực đến ngày", "Đến ngày")),
]
LABELS = {c.key: c.label for c in COLUMNS}
FIELD_TO_KEY = {
    "value_type": "value_type",
    "aggregation_over_units": "aggregation_over_units",
    "aggregation_over_time": "aggregation_over_time",
    "numerator": "numerator",
    "denominator": "denominator",
    "valid_to": "valid_to",
    "valid_from": "valid_from",
}


def _choice(value: str, choices: dict[str, str]) -> str | None:
    """The code of a choice written as its code or its Vietnamese label."""
    key = fold(value)
    for code, label in choices.items():
        if key in (code, fold(label)):
            return code
    if key in ("%", "ty le", "phan tram") and "percent" in choices:
        return "percent"
    return None


def _group_code(text: str) -> str:
    code = re.sub(r"[^A-Z0-9]+", "_", fold(text).upper()).strip("_")
    return code[:40] or "NHOM"


def import_indicators(session, path_or_stream, filename: str, dry_run: bool = False, actor_scope_unit: Unit | None = None) -> ImportResult:
    """Check every row and, when nothing is wrong and it is not a dry run, write all.

    With ``actor_scope_unit`` (a unit admin), every indicator must be owned by a unit of that
    subtree, and existing indicators owned elsewhere cannot be changed.
    """
    result = ImportResult(kind="indicators", filename=filename, dry_run=dry_run)
    try:
        sheet = read_sheet(path_or_stream, filename, COLUMNS)
    except ImportFileError as error:
        result.add_error(None, None, None, error.message, sheet=filename)
        return result
    result.sheet = sheet.name
    existing = {i.code.lower(): i for i in session.scalars(select(Indicator))}
    groups = list(session.scalars(select(IndicatorGroup)))
    units = list(session.scalars(select(Unit)))
    scope_path = actor_scope_unit.path if actor_scope_unit is not None else None

    # First pass: the codes defined in the file, so a ratio can name an indicator of a later row.
    file_codes: dict[str, int] = {}
    duplicate_rows: dict[int, int] = {}
    for row in sheet.rows:
        code = code_of(row.get("code"))
        if code:
            if code.lower() in file_codes:
                duplicate_rows[row.number] = file_codes[code.lower()]
            else:
                file_codes[code.lower()] = row.number

    new_groups: dict[str, dict] = {}
    plans = []
    for row in sheet.rows:
        if row_is_empty(row):
            continue
        errors_before = len(result.errors)

        def error(key, message, row=row):
            result.add_error(row.number, row.letter(key), LABELS[key], message)

        code = code_of(row.get("code"))
        name = text_of(row.get("name"))
        if not code:
            error("code", "Thiếu mã chỉ tiêu.")
        elif len(code) > 40:
            error("code", f"Mã chỉ tiêu «{code}» dài quá 40 ký tự.")
        if row.number in duplicate_rows:
            error("code", f"Mã chỉ tiêu «{code}» trùng với dòng {duplicate_rows[row.number]} trong tệp.")
        if not name:
            error("name", "Thiếu tên chỉ tiêu.")
        target = existing.get(code.lower()) if code else None

        values: dict = {}
        for key, choices in (
            ("value_type", VALUE_TYPES),
            ("aggregation_over_units", AGGREGATIONS_OVER_UNITS),
            ("aggregation_over_time", AGGREGATIONS_OVER_TIME),
        ):
            text = text_of(row.get(key))
            if text:
                chosen = _choice(text, choices)
                if chosen is None:
                    allowed = ", ".join(f"{c} ({label})" for c, label in choices.items())
                    error(key, f"Giá trị «{text}» không hợp lệ; dùng một trong: {allowed}.")
                values[key] = chosen

        refs = {}
        for key in ("numerator", "denominator"):
            ref = code_of(row.get(key))
            if not ref:
                refs[key] = None
                continue
            if code and ref.lower() == code.lower():
                error(key, "Chỉ tiêu không thể là tử số hoặc mẫu số của chính nó.")
            elif ref.lower() not in existing and ref.lower() not in file_codes:
                error(key, f"Không tìm thấy chỉ tiêu mã «{ref}» (trong danh mục hoặc trong tệp).")
            refs[key] = ref

        group_ref = None
        group_text = text_of(row.get("group"))
        if group_text:
            match = [g for g in groups if g.code.lower() == group_text.lower()] or [
                g for g in groups if fold(g.name) == fold(group_text)
            ]
            if len(match) == 1:
                group_ref = ("existing", match[0].id)
            elif len(match) > 1:
                error("group", f"Có nhiều nhóm chỉ tiêu tên «{group_text}»: ghi mã nhóm.")
            else:
                looks_like_code = " " not in group_text and len(group_text) <= 40
                key = group_text.lower() if looks_like_code else fold(group_text)
                if key not in new_groups:
                    new_groups[key] = {
                        "code": group_text if looks_like_code else _group_code(group_text),
                        "name": group_text,
                        "row": row.number,
                    }
                group_ref = ("new", key)

        owner = None
        owner_text = code_of(row.get("owner_unit"))
        if owner_text:
            candidates = [u for u in units if u.internal_code and u.internal_code.lower() == owner_text.lower()]
            candidates = candidates or [u for u in units if u.admin_code == owner_text]
            candidates = candidates or [
                u for u in units if fold(owner_text) in (fold(u.name), fold(u.short_name))
            ]
            if len(candidates) == 1:
                owner = candidates[0]
            elif candidates:
                error("owner_unit", f"Có nhiều đơn vị tên «{owner_text}»: ghi mã nội bộ của đơn vị.")
            else:
                error("owner_unit", f"Không tìm thấy đơn vị «{owner_text}» (theo mã nội bộ, mã hành chính hoặc tên).")

        for key in ("valid_from", "valid_to"):
            try:
                values[key] = parse_date(row.values.get(key))
            except ValueError:
                error(key, f"Ngày «{row.values.get(key)}» không hợp lệ (ghi theo dạng dd/mm/yyyy).")
                values[key] = None

        if scope_path is not None:
            effective_owner = owner or (target.owner_unit if target else None)
            if target is not None and (target.owner_unit is None or not target.owner_unit.path.startswith(scope_path)):
                error("code", f"Chỉ tiêu «{target.code}» do đơn vị ngoài phạm vi quản lý của bạn phụ trách; bạn không được sửa.")
            elif effective_owner is None or not effective_owner.path.startswith(scope_path):
                error("owner_unit", "Đơn vị chịu trách nhiệm phải là đơn vị của bạn hoặc đơn vị cấp dưới.")

        # The settings as they will stand, checked against the catalogue's rules.
        is_ratio = bool(refs.get("numerator") or refs.get("denominator")) or bool(
            target is not None and target.is_ratio
        )
        defaults = {
            "value_type": target.value_type if target else ("percent" if is_ratio else "decimal"),
            "aggregation_over_units": target.aggregation_over_units if target else ("none" if is_ratio else "sum"),
            "aggregation_over_time": target.aggregation_over_time if target else ("last" if is_ratio else "sum"),
        }
        for key, default in defaults.items():
            if values.get(key) is None:
                values[key] = default
        if len(result.errors) == errors_before:
            probe = SimpleNamespace(
                id=None,
                value_type=values["value_type"],
                aggregation_over_units=values["aggregation_over_units"],
                aggregation_over_time=values["aggregation_over_time"],
                numerator=object() if refs["numerator"] else None,
                numerator_id=None if refs["numerator"] else (target.numerator_id if target else None),
                denominator=object() if refs["denominator"] else None,
                denominator_id=None if refs["denominator"] else (target.denominator_id if target else None),
                valid_from=values["valid_from"] or (target.valid_from if target else None),
                valid_to=values["valid_to"] or (target.valid_to if target else None),
            )
            try:
                validate_indicator(probe)
            except DomainError as failure:
                key = FIELD_TO_KEY.get(failure.field or "", "code")
                error(key, failure.message)
        if len(result.errors) > errors_before:
            continue
        plans.append(
            {
                "row": row.number,
                "target": target,
                "code": code,
                "name": name,
                "unit_of_measure": text_of(row.get("unit_of_measure")),
                "calculation_method": text_of(row.get("calculation_method")),
                "values": values,
                "refs": refs,
                "group": group_ref,
                "owner": owner,
            }
        )
        result.rows.append(
            PlannedRow(
                row.number,
                "update" if target else "create",
                f"{code} — {name}",
                {
                    "Mã chỉ tiêu": code,
                    "Tên chỉ tiêu": name,
                    "Kiểu giá trị": VALUE_TYPES[values["value_type"]],
                    "Tổng hợp theo đơn vị": AGGREGATIONS_OVER_UNITS[values["aggregation_over_units"]],
                    "Tử số / Mẫu số": " / ".join(r for r in (refs["numerator"], refs["denominator"]) if r),
                    "Nhóm": group_text or "",
                },
            )
        )

    for group in new_groups.values():
        if any(g.code.lower() == group["code"].lower() for g in groups):
            result.add_error(group["row"], sheet.letters.get("group"), LABELS["group"], f"Mã nhóm «{group['code']}» sinh ra từ «{group['name']}» đã có: ghi đúng mã hoặc tên nhóm.")
        else:
            result.notes.append(f"Sẽ tạo nhóm chỉ tiêu mới «{group['name']}» (mã {group['code']}, dòng {group['row']}).")
    if not result.rows and not result.errors:
        result.add_error(None, None, None, "Tệp không có dòng chỉ tiêu nào.")
    if result.errors or dry_run:
        return result
    if write_all_or_nothing(session, result, lambda: _write(session, plans, new_groups, existing)):
        result.notes = [n.replace("Sẽ tạo", "Đã tạo") for n in result.notes]
    return result


def _write(session, plans, new_groups, existing) -> None:
    created_groups = {}
    for key, spec in new_groups.items():
        group = IndicatorGroup(code=spec["code"], name=spec["name"])
        session.add(group)
        created_groups[key] = group
    session.flush()
    by_code = dict(existing)
    for plan in plans:
        indicator = plan["target"]
        if indicator is None:
            indicator = Indicator(code=plan["code"], active=True)
            session.add(indicator)
        indicator.name = plan["name"]
        for key in ("unit_of_measure", "calculation_method"):
            if plan[key] is not None:
                setattr(indicator, key, plan[key])
        for key, value in plan["values"].items():
            if value is not None:
                setattr(indicator, key, value)
        if plan["group"] is not None:
            kind, ref = plan["group"]
            indicator.group_id = ref if kind == "existing" else created_groups[ref].id
        if plan["owner"] is not None:
            indicator.owner_unit_id = plan["owner"].id
        by_code[plan["code"].lower()] = indicator
    session.flush()
    for plan in plans:
        indicator = by_code[plan["code"].lower()]
        for key in ("numerator", "denominator"):
            ref = plan["refs"][key]
            if ref:
                setattr(indicator, key + "_id", by_code[ref.lower()].id)
    session.flush()
    for plan in plans:
        indicator = by_code[plan["code"].lower()]
        try:
            validate_indicator(indicator)
        except DomainError as failure:
            raise DomainError(f"Dòng {plan['row']}: {failure.message}", field=failure.field) from None
