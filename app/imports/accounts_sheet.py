"""Import an account-request sheet (seed 000, Phụ lục I) and create the accounts it lists.

The sheet has a title block, a header row "STT | Loại tài khoản/vai trò | Họ tên | Đơn vị | Chức
vụ | Email | Điện thoại di động", possibly section rows ("a) Đối với cấp tỉnh") and a footer block
after the table ("III. Cung cấp thông tin cán bộ lập danh sách: …") which is not data.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from flask_appbuilder.security.sqla.models import Role
from sqlalchemy import select

from app.accounts import (
    generate_one_time_password,
    hash_password,
    normalise_phone,
    open_unit_history,
    validate_account_fields,
)
from app.errors import DomainError
from app.event_notices import account_created_notice
from app.imports.common import (
    Column,
    ImportFileError,
    ImportResult,
    PlannedRow,
    is_blank,
    read_sheet,
    text_of,
    write_all_or_nothing,
)
from app.models import AppUser, Unit
from app.notifications import notify
from app.roles import GRANTABLE_BY_UNIT_ADMIN, ROLE_WORDING
from app.scoping import is_provincial_admin, unit_in_scope
from app.security import password_problem
from app.text import fold, nfc

COLUMNS = [
    Column("stt", "STT", ("TT", "Số TT", "Số thứ tự")),
    Column("role", "Loại tài khoản/vai trò", ("Loại tài khoản", "Vai trò", "Loại tài khoản / vai trò", "Quyền"), required=True),
    Column("full_name", "Họ tên", ("Họ và tên", "Họ, tên", "Tên cán bộ"), required=True),
    Column("unit", "Đơn vị", ("Cơ quan, đơn vị", "Đơn vị công tác", "Tên đơn vị", "Cơ quan"), required=True),
    Column("position", "Chức vụ", ("Chức danh", "Chức vụ, chức danh")),
    Column("email", "Email", ("E-mail", "Thư điện tử", "Địa chỉ thư điện tử", "Địa chỉ email"), required=True),
    Column("phone", "Điện thoại di động", ("Điện thoại", "Số điện thoại", "SĐT", "Di động", "Số di động")),
]
LABELS = {c.key: c.label for c in COLUMNS}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FOOTER_RE = re.compile(
    r"^(?:cung cap thong tin|can bo lap|nguoi lap|thu truong|noi nhan|ghi chu|xac nhan cua"
    r"|ky ten|ky, ghi ro)"
)
LEADING_MARK_RE = re.compile(r"^[\s\-–•+*]*(?:(?:[ivx]+|\d+|[a-z])\s*[.)]\s*)?")
UNIT_PREFIXES = ("uy ban nhan dan ", "ubnd ")


@dataclass
class CreatedLogin:
    full_name: str
    unit_name: str
    username: str
    password: str
    roles: list[str] = field(default_factory=list)
    email: str = ""


def _is_footer(cells) -> bool:
    """A row of the block after the table: a heading "III. …", "Người lập", "Thủ trưởng đơn vị"…"""
    texts = [fold(str(c)) for c in cells if isinstance(c, str) and c.strip()]
    if any("@" in t for t in texts):
        return False
    return any(FOOTER_RE.match(LEADING_MARK_RE.sub("", t, count=1)) for t in texts)


def roles_for_wording(wording: str | None) -> list[str] | None:
    """System role names for a role wording of the sheet; None when the wording is unknown.

    Several roles may be written in one cell, separated by ";", "+" or a new line.
    """
    if not wording:
        return None
    found: list[str] = []
    for part in re.split(r"[;+\n]", str(wording)):
        key = fold(re.sub(r"\([^)]*\)", " ", part))
        key = re.sub(r"^(tai khoan|tk)\s+", "", key).strip()
        if not key:
            continue
        for needle, roles in ROLE_WORDING:
            if needle in key:
                found.extend(r for r in roles if r not in found)
                break
        else:
            return None
    return found or None


def split_name(full_name: str) -> tuple[str, str]:
    """("Nguyễn Văn", "An") from "Nguyễn Văn An": họ và đệm, then tên (the last word)."""
    words = nfc(full_name).split()
    if len(words) == 1:
        return "", words[0]
    return " ".join(words[:-1]), words[-1]


def _unit_key(name: str) -> str:
    key = fold(name)
    for prefix in UNIT_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


class _UnitFinder:
    def __init__(self, session):
        units = list(session.scalars(select(Unit).where(Unit.active.is_(True))))
        self.exact: dict[str, list[Unit]] = {}
        self.loose: dict[str, list[Unit]] = {}
        for unit in units:
            for name in {unit.name, unit.short_name} - {None, ""}:
                self.exact.setdefault(fold(name), []).append(unit)
                self.loose.setdefault(_unit_key(name), []).append(unit)
            if unit.internal_code:
                self.exact.setdefault(fold(unit.internal_code), []).append(unit)

    def find(self, text: str) -> tuple[Unit | None, list[Unit]]:
        """(the unit, []) or (None, the candidates when ambiguous)."""
        for index, key in ((self.exact, fold(text)), (self.loose, _unit_key(text))):
            candidates = list({u.id: u for u in index.get(key, [])}.values())
            if len(candidates) == 1:
                return candidates[0], []
            if len(candidates) > 1:
                return None, candidates
        return None, []


def _username_base(email: str | None, full_name: str) -> str:
    if email and "@" in email:
        base = email.split("@", 1)[0].lower()
    else:
        base = fold(full_name).replace(" ", ".")
    base = re.sub(r"[^a-z0-9._-]", "", base).strip("._-")
    return base or "nguoidung"


def import_accounts(session, path_or_stream, filename: str, dry_run: bool = False, actor: AppUser | None = None) -> ImportResult:
    """Check every row; when nothing is wrong and it is not a dry run, create every account.

    ``actor`` is the admin importing (None: the system, e.g. the command line). An actor who is
    not a provincial admin may create accounts only inside their unit's subtree and never grant
    the provincial admin role. ``result.created`` lists CreatedLogin for the new accounts.
    """
    result = ImportResult(kind="accounts", filename=filename, dry_run=dry_run)
    try:
        sheet = read_sheet(path_or_stream, filename, COLUMNS)
    except ImportFileError as error:
        result.add_error(None, None, None, error.message, sheet=filename)
        return result
    result.sheet = sheet.name
    finder = _UnitFinder(session)
    roles_by_name = {r.name: r for r in session.scalars(select(Role))}
    limited = actor is not None and not is_provincial_admin(actor)
    emails_in_db = {
        e.lower() for e in session.scalars(select(AppUser.email)) if e
    }
    usernames_taken = {u.lower() for u in session.scalars(select(AppUser.username)) if u}
    seen_emails: dict[str, int] = {}
    plans = []
    seen_data = False

    raw_by_number = dict(sheet.raw_rows)
    for row in sheet.rows:
        if seen_data and _is_footer(raw_by_number.get(row.number, [])):
            break  # the footer block after the table: who made the list, signatures, notes
        name = text_of(row.get("full_name"))
        email = text_of(row.get("email"))
        unit_text = text_of(row.get("unit"))
        phone_raw = row.values.get("phone")
        if not (name or email or unit_text or not is_blank(phone_raw)):
            continue  # empty, section or footer row
        seen_data = True
        errors_before = len(result.errors)

        def error(key, message, row=row):
            result.add_error(row.number, row.letter(key), LABELS[key], message)

        if not name:
            error("full_name", "Thiếu họ tên.")
        if not email:
            error("email", "Thiếu địa chỉ thư điện tử (email).")
        else:
            email = email.lower().replace(" ", "")
            if not EMAIL_RE.match(email):
                error("email", f"Địa chỉ thư điện tử «{email}» không hợp lệ.")
            elif email in seen_emails:
                error("email", f"Email «{email}» trùng với dòng {seen_emails[email]} trong tệp.")
            elif email in emails_in_db:
                error("email", f"Email «{email}» đã được dùng cho một tài khoản có sẵn trong hệ thống.")
            seen_emails.setdefault(email, row.number)

        wording = text_of(row.get("role"))
        role_names = roles_for_wording(wording)
        if not wording:
            error("role", "Thiếu loại tài khoản/vai trò.")
        elif role_names is None:
            error("role", f"Không hiểu loại tài khoản «{wording}»: ghi một trong Quản trị cấp tỉnh, Quản trị cấp Huyện/Sở, Tổng hợp, Ký số gửi báo cáo, Lãnh đạo duyệt, Nhập liệu, Xem báo cáo.")
        else:
            missing = [r for r in role_names if r not in roles_by_name]
            if missing:
                error("role", "Vai trò chưa có trong hệ thống: " + ", ".join(missing) + " (chạy «flask roles sync»).")
            if limited:
                refused = [r for r in role_names if r not in GRANTABLE_BY_UNIT_ADMIN]
                if refused:
                    error("role", f"Bạn không được cấp vai trò «{', '.join(refused)}»: chỉ quản trị cấp tỉnh được cấp vai trò này.")

        unit = None
        if not unit_text:
            error("unit", "Thiếu đơn vị.")
        else:
            unit, candidates = finder.find(unit_text)
            if unit is None and candidates:
                names = "; ".join(
                    f"{u.name}" + (f" (mã {u.internal_code or u.admin_code})" if (u.internal_code or u.admin_code) else "")
                    for u in candidates[:5]
                )
                error("unit", f"Có nhiều đơn vị khớp với «{unit_text}»: {names}. Ghi tên đầy đủ hoặc mã nội bộ của đơn vị.")
            elif unit is None:
                error("unit", f"Không tìm thấy đơn vị «{unit_text}» trong danh mục đơn vị.")
            elif limited and not unit_in_scope(unit, actor):
                error("unit", f"Đơn vị «{unit.name}» nằm ngoài phạm vi quản lý của bạn.")

        phone = None
        try:
            phone = normalise_phone(phone_raw)
        except DomainError as failure:
            error("phone", failure.message)

        if len(result.errors) > errors_before:
            continue
        username = base = _username_base(email, name)
        suffix = 1
        while username in usernames_taken:
            suffix += 1
            username = f"{base}{suffix}"
        usernames_taken.add(username)
        last_name, first_name = split_name(name)
        plan = {
            "row": row.number,
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "email": email,
            "unit": unit,
            "position": text_of(row.get("position")),
            "phone": phone,
            "roles": role_names,
            "wording": wording,
        }
        plans.append(plan)
        result.rows.append(
            PlannedRow(
                row.number,
                "create",
                name,
                {
                    "Họ tên": name,
                    "Đơn vị": unit.name,
                    "Tên đăng nhập": username,
                    "Email": email,
                    "Điện thoại": phone or "",
                    "Vai trò": ", ".join(role_names),
                },
            )
        )

    if not result.rows and not result.errors:
        result.add_error(None, None, None, "Danh sách không có dòng đề nghị cấp tài khoản nào.")
    if result.errors or dry_run:
        return result
    created: list[CreatedLogin] = []

    def write() -> None:
        for plan in plans:
            password = generate_one_time_password()
            while password_problem(password):
                password = generate_one_time_password()
            user = AppUser(
                first_name=plan["first_name"],
                last_name=plan["last_name"],
                username=plan["username"],
                email=plan["email"],
                unit=plan["unit"],
                position=plan["position"],
                mobile_phone=plan["phone"],
                active=True,
                must_change_password=True,
                roles=[roles_by_name[r] for r in plan["roles"]],
            )
            user.password = hash_password(password)
            validate_account_fields(session, user)
            session.add(user)
            session.flush()
            open_unit_history(session, user, actor=actor, reason="Cấp tài khoản theo danh sách đề nghị")
            notify(session, [account_created_notice(user)])
            created.append(
                CreatedLogin(
                    full_name=user.full_name,
                    unit_name=plan["unit"].name,
                    username=user.username,
                    password=password,
                    roles=list(plan["roles"]),
                    email=user.email,
                )
            )

    if write_all_or_nothing(session, result, write):
        result.created = created
    return result


def logins_workbook(created: list[CreatedLogin]) -> bytes:
    """An .xlsx of the new logins (Họ tên, Đơn vị, Tên đăng nhập, Mật khẩu lần đầu, Vai trò)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Tài khoản mới"
    sheet.append(["Họ tên", "Đơn vị", "Tên đăng nhập", "Mật khẩu lần đầu", "Vai trò"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for login in created:
        # Written as text so a password starting with "=" is never taken for a formula.
        sheet.append([login.full_name, login.unit_name, login.username, login.password, ", ".join(login.roles)])
        sheet.cell(row=sheet.max_row, column=4).data_type = "s"
    for letter, width in zip("ABCDE", (28, 36, 24, 20, 40), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.append([])
    sheet.append(["Người dùng phải đổi mật khẩu ở lần đăng nhập đầu tiên. Giao riêng cho từng người; không gửi cả bảng."])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

