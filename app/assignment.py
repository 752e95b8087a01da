"""Assigning reports (giao báo cáo), ad-hoc requests (báo cáo đột xuất) and the reception window
(đóng/mở tiếp nhận) — seed 001 Art. 7, 9; DOMAIN.md "The reporting cycle", steps 2 and 4.

* ``assign`` creates, in one action and one transaction, the report of a period and form for
  every target unit (a list, every unit of a type, the reporting units of a subtree, or by
  default the regime's reporting units) with the people assigned to it per role. Set queries
  throughout: one for the targets, one for the reports already there, one for the accounts, one
  for their regime grants, one bulk insert of the reports and one of the assignees.
* ``create_adhoc_request`` makes a one-off period of a regime with its own due date, the request
  (title, instructions, an outline file) and the reports of the units asked.
* ``change_reception`` records the lead agency closing reception early or reopening it;
  ``app.workflow.reception`` reads those changes, ``reception_notices`` tells the units.

Callable without a request: pass the actor and the time. The caller commits. Refusals raise
``DomainError`` subclasses with a Vietnamese message.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field

from flask_appbuilder.security.sqla.models import Role, assoc_user_role
from sqlalchemy import and_, false, func, insert, or_, select, update

from app.errors import DomainError, PermissionDenied
from app.models import (
    AppUser,
    FormVersion,
    Period,
    Regime,
    RegimeRoleGrant,
    Report,
    Unit,
)
from app.models.forms import utcnow
from app.models.regimes import regime_reporting_unit, regime_reporting_unit_type
from app.models.workflow import AdhocRequest, ReceptionChange, ReportAssignee
from app.roles import AGGREGATOR, APPROVER, DATA_ENTRY, PROVINCIAL_ADMIN, SIGNER, UNIT_ADMIN
from app.text import nfc

# Roles a report is assigned for, by default, in each unit (the unit-side steps of the cycle).
ASSIGNEE_ROLES = (DATA_ENTRY, APPROVER, SIGNER)
# Roles set_assignees accepts: an aggregator enters a consolidated report.
SETTABLE_ROLES = (DATA_ENTRY, AGGREGATOR, APPROVER, SIGNER)
ROLE_WORDS = {
    DATA_ENTRY: "nhập liệu",
    AGGREGATOR: "tổng hợp",
    APPROVER: "lãnh đạo duyệt",
    SIGNER: "ký số, gửi báo cáo",
}
# Who may assign reports and manage ad-hoc requests (besides the provincial admin).
ASSIGNING_ROLES = (UNIT_ADMIN, AGGREGATOR)
# Reports still to be sent: a change of the reception window concerns them.
OPEN_STATES = ("draft", "submitted", "approved", "returned")

ADHOC_FREQUENCY = "adhoc"
OUTLINE_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
MAX_OUTLINE_BYTES = 10 * 1024 * 1024
RECEPTION_ACTIONS = {"close": "đóng tiếp nhận", "reopen": "mở lại tiếp nhận"}
_NAMES_SHOWN = 5


class AssignmentRefused(DomainError):
    """An assignment, ad-hoc request or reception change that may not be made, with why."""


def _vietnam_today(now: dt.datetime) -> dt.date:
    from app.workflow import vietnam_time

    return vietnam_time(now).date()


def _names(names) -> str:
    names = list(names)
    shown = ", ".join(f"«{n}»" for n in names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return shown + (f" và {more} đơn vị khác" if more > 0 else "")


def _role_names(user) -> set[str]:
    return {role.name for role in (getattr(user, "roles", None) or [])}


def _is_provincial_admin(user) -> bool:
    return PROVINCIAL_ADMIN in _role_names(user)


# -- who may assign, and to whom ------------------------------------------------------------------


def regime_reporting_criterion(regime_id: int):
    """Units that report under the regime: listed ones and active units of its listed types."""
    return or_(
        Unit.id.in_(
            select(regime_reporting_unit.c.unit_id)
            .where(regime_reporting_unit.c.regime_id == regime_id)
            .scalar_subquery()
        ),
        Unit.unit_type_id.in_(
            select(regime_reporting_unit_type.c.unit_type_id)
            .where(regime_reporting_unit_type.c.regime_id == regime_id)
            .scalar_subquery()
        ),
    )


def is_lead_agency(session, user, regime: Regime) -> bool:
    """An aggregator or unit admin (for this regime) of its lead or receiving unit."""
    from app.workflow import holds_role

    if user is None or getattr(user, "unit_id", None) not in (
        regime.lead_unit_id, regime.receiving_unit_id
    ):
        return False
    return any(holds_role(session, user, role, regime.id) for role in ASSIGNING_ROLES)


def assignable_criterion(session, regime: Regime, actor):
    """The units ``actor`` may assign the regime's reports to, as a WHERE clause on Unit (None:
    any unit). Raises PermissionDenied when the actor may not assign at all.

    The provincial admin (and the system, actor None) reaches every unit; an aggregator or unit
    admin reaches their own subtree, and the lead agency also the regime's reporting units."""
    from app.workflow import holds_role

    if actor is None or _is_provincial_admin(actor):
        return None
    if not any(holds_role(session, actor, role, regime.id) for role in ASSIGNING_ROLES):
        raise PermissionDenied(
            "Giao báo cáo cần vai trò «Quản trị cấp đơn vị» hoặc «Tổng hợp» cho chế độ "
            f"«{regime.name}»."
        )
    unit = getattr(actor, "unit", None)
    within = Unit.path.like(unit.path + "%") if unit is not None and unit.path else false()
    if is_lead_agency(session, actor, regime):
        return or_(within, regime_reporting_criterion(regime.id))
    return within


def _ids(items) -> list[int]:
    return [item if isinstance(item, int) else item.id for item in items]


def target_criterion(session, regime: Regime, *, units=None, unit_type=None, subtree=None,
                     actor=None):
    """The WHERE clause on Unit that picks the targets, confined to what ``actor`` may reach.

    ``units``: exactly these units (any outside the actor's reach is refused by name);
    otherwise ``unit_type``: every active unit of that type, or by default the regime's
    reporting units; ``subtree`` narrows either to the units at or below that unit."""
    reach = assignable_criterion(session, regime, actor)
    if units is not None:
        if unit_type is not None or subtree is not None:
            raise AssignmentRefused(
                "Chọn đơn vị theo một cách: danh sách đơn vị, hoặc loại đơn vị và/hoặc cây "
                "đơn vị."
            )
        ids = sorted(set(_ids(units)))
        if not ids:
            raise AssignmentRefused("Chưa chọn đơn vị nào để giao báo cáo.", field="units")
        found = session.execute(
            select(Unit.id, Unit.name, Unit.active).where(Unit.id.in_(ids))
        ).all()
        if len(found) != len(ids):
            raise AssignmentRefused("Có đơn vị được chọn không tồn tại.", field="units")
        inactive = [row.name for row in found if not row.active]
        if inactive:
            raise AssignmentRefused(f"Đơn vị đã ngừng hoạt động: {_names(inactive)}.",
                                    field="units")
        if reach is not None:
            outside = session.scalars(
                select(Unit.name).where(Unit.id.in_(ids), ~reach).order_by(Unit.path)
            ).all()
            if outside:
                raise PermissionDenied(
                    f"Đơn vị nằm ngoài phạm vi bạn được giao báo cáo: {_names(outside)}."
                )
        return Unit.id.in_(ids)
    criteria = [Unit.active.is_(True)]
    if unit_type is not None:
        type_id = unit_type if isinstance(unit_type, int) else unit_type.id
        criteria.append(Unit.unit_type_id == type_id)
    else:
        criteria.append(regime_reporting_criterion(regime.id))
    if subtree is not None:
        path = subtree.path if isinstance(subtree, Unit) else session.get(Unit, subtree).path
        criteria.append(Unit.path.like(path + "%"))
    if reach is not None:
        criteria.append(reach)
    return and_(*criteria)


def form_codes_of_regime(session, regime_id: int) -> list[str]:
    """The codes of the regime's published forms."""
    return session.scalars(
        select(FormVersion.code)
        .where(FormVersion.regime_id == regime_id, FormVersion.status == "published")
        .group_by(FormVersion.code)
        .order_by(FormVersion.code)
    ).all()


def _check_form(session, regime: Regime, form_code: str) -> None:
    regimes = set(session.scalars(
        select(FormVersion.regime_id).where(
            FormVersion.code == form_code, FormVersion.status == "published"
        )
    ))
    if not regimes:
        raise AssignmentRefused(f"Chưa có biểu mẫu «{form_code}» nào được ban hành.",
                                field="form_code")
    if None not in regimes and regime.id not in regimes:
        raise AssignmentRefused(
            f"Biểu mẫu «{form_code}» không thuộc chế độ báo cáo «{regime.name}».",
            field="form_code",
        )


# -- the assignment -----------------------------------------------------------------------------


@dataclass
class UnitRef:
    id: int
    name: str


@dataclass
class AssignmentSummary:
    period: Period
    form_code: str
    targets: int = 0
    created: list[int] = field(default_factory=list)  # ids of the reports created
    already: int = 0  # target units that held the report before
    missing: dict[str, list[UnitRef]] = field(default_factory=dict)  # role → units with nobody
    consolidated: int = 0  # reports marked consolidated by this action

    @property
    def created_count(self) -> int:
        return len(self.created)

    @property
    def units_missing_someone(self) -> int:
        return len({u.id for units in self.missing.values() for u in units})

    def message(self) -> str:
        text = (f"Đã giao {self.created_count} báo cáo «{self.form_code}» kỳ "
                f"{self.period.label}; {self.already} đơn vị đã có báo cáo từ trước.")
        if self.missing:
            text += (f" {self.units_missing_someone} đơn vị còn thiếu tài khoản cho một vai trò "
                     "(xem danh sách).")
        return text


@dataclass
class Preview:
    targets: int
    already: int
    sample: list[str]  # the first names, in tree order

    @property
    def new(self) -> int:
        return self.targets - self.already


def preview_assignment(session, period: Period, form_code: str, *, units=None, unit_type=None,
                       subtree=None, actor=None, sample_size: int = 20) -> Preview:
    """How many units an assignment would reach, how many hold the report already."""
    criterion = target_criterion(session, period.regime, units=units, unit_type=unit_type,
                                 subtree=subtree, actor=actor)
    targets = session.scalar(select(func.count(Unit.id)).where(criterion)) or 0
    already = session.scalar(
        select(func.count(Report.id)).where(
            Report.period_id == period.id, Report.form_code == form_code,
            Report.unit_id.in_(select(Unit.id).where(criterion).scalar_subquery()),
        )
    ) or 0
    sample = session.scalars(
        select(Unit.name).where(criterion).order_by(Unit.path).limit(sample_size)
    ).all()
    return Preview(targets, already, list(sample))


def role_holders(session, regime_id: int, unit_ids_query, roles=ASSIGNEE_ROLES):
    """{(unit id, role name): [user ids]} of the active accounts of the units that hold the role
    for the regime (FAB role, narrowed by RegimeRoleGrant rows when there are any). Two
    queries whatever the number of units."""
    rows = session.execute(
        select(AppUser.id, AppUser.unit_id, Role.id.label("role_id"), Role.name)
        .join(assoc_user_role, assoc_user_role.c.user_id == AppUser.id)
        .join(Role, Role.id == assoc_user_role.c.role_id)
        .where(
            AppUser.unit_id.in_(unit_ids_query),
            AppUser.active.is_(True),
            Role.name.in_(roles),
        )
        .order_by(AppUser.id)
    ).all()
    narrowed: dict[tuple[int, int], set[int]] = defaultdict(set)
    for grant in session.execute(
        select(RegimeRoleGrant.user_id, RegimeRoleGrant.role_id, RegimeRoleGrant.regime_id).where(
            RegimeRoleGrant.user_id.in_(
                select(AppUser.id).where(AppUser.unit_id.in_(unit_ids_query)).scalar_subquery()
            )
        )
    ):
        narrowed[(grant.user_id, grant.role_id)].add(grant.regime_id)
    holders: dict[tuple[int, str], list[int]] = defaultdict(list)
    for row in rows:
        allowed = narrowed.get((row.id, row.role_id))
        if allowed is None or regime_id in allowed:
            holders[(row.unit_id, row.name)].append(row.id)
    return holders


def assign(
    session,
    period: Period,
    form_code: str,
    *,
    units=None,
    unit_type=None,
    subtree=None,
    actor=None,
    now: dt.datetime | None = None,
    due_date: dt.date | None = None,
) -> AssignmentSummary:
    """Create the report of ``period`` × ``form_code`` for every target unit that does not hold
    it yet, with its default assignees; flushes, the caller commits (one transaction).

    Idempotent: a unit that already holds the report is skipped and counted. ``due_date`` sets
    the reports' own due date (an ad-hoc request). See ``target_criterion`` for the targets."""
    from app.reports import form_version_for_period, prefill_carry_over

    now = now or utcnow()
    form_code = nfc(form_code or "")
    if not form_code:
        raise AssignmentRefused("Chưa chọn biểu mẫu.", field="form_code")
    regime = period.regime
    criterion = target_criterion(session, regime, units=units, unit_type=unit_type,
                                 subtree=subtree, actor=actor)
    _check_form(session, regime, form_code)
    summary = AssignmentSummary(period=period, form_code=form_code)
    targets = session.execute(
        select(Unit.id, Unit.name).where(criterion).order_by(Unit.path)
    ).all()
    summary.targets = len(targets)
    if not targets:
        return summary
    target_ids = select(Unit.id).where(criterion).scalar_subquery()
    have = set(session.scalars(
        select(Report.unit_id).where(
            Report.period_id == period.id, Report.form_code == form_code,
            Report.unit_id.in_(target_ids),
        )
    ))
    summary.already = len(have)
    holders = role_holders(session, regime.id, target_ids)
    for role in ASSIGNEE_ROLES:
        nobody = [UnitRef(t.id, t.name) for t in targets if not holders.get((t.id, role))]
        if nobody:
            summary.missing[role] = nobody

    new_units = [t.id for t in targets if t.id not in have]
    if new_units:
        version = form_version_for_period(session, period, form_code)
        reports = [
            Report(
                regime_id=period.regime_id, period_id=period.id, unit_id=unit_id,
                form_code=form_code, form_version_id=version.id, state="draft", revision=0,
                kind="unit", due_date=due_date, created_at=now, updated_at=now,
                updated_by_id=getattr(actor, "id", None),
            )
            for unit_id in new_units
        ]
        session.add_all(reports)
        session.flush()
        for report in reports:
            prefill_carry_over(session, report)
        summary.created = [report.id for report in reports]
        rows = [
            {"report_id": report.id, "user_id": user_id, "role_name": role}
            for report in reports
            for role in ASSIGNEE_ROLES
            for user_id in holders.get((report.unit_id, role), ())
        ]
        if rows:
            session.execute(insert(ReportAssignee), rows)
    summary.consolidated = mark_consolidating_reports(session, period, form_code)
    session.flush()
    return summary


def mark_consolidating_reports(session, period: Period, form_code: str) -> int:
    """Mark "consolidated" every report of the period and form whose unit has a unit below it
    holding the same report (and back to "unit" one that no longer has); "composed" reports are
    left alone. Returns how many reports changed. One read and at most two updates."""
    rows = session.execute(
        select(Report.id, Report.unit_id, Report.kind, Unit.path)
        .join(Unit, Unit.id == Report.unit_id)
        .where(Report.period_id == period.id, Report.form_code == form_code)
    ).all()
    ancestors: set[int] = set()
    for row in rows:
        ids = [int(part) for part in (row.path or "").strip("/").split("/") if part]
        ancestors.update(i for i in ids if i != row.unit_id)
    to_consolidated = [r.id for r in rows if r.kind == "unit" and r.unit_id in ancestors]
    to_unit = [r.id for r in rows if r.kind == "consolidated" and r.unit_id not in ancestors]
    for ids, kind in ((to_consolidated, "consolidated"), (to_unit, "unit")):
        if ids:
            session.execute(
                update(Report).where(Report.id.in_(ids)).values(kind=kind)
                .execution_options(synchronize_session="fetch")
            )
    return len(to_consolidated) + len(to_unit)


def assignees(session, report: Report) -> dict[str, list[AppUser]]:
    """The people assigned to the report, by role."""
    found: dict[str, list[AppUser]] = defaultdict(list)
    for row in session.scalars(
        select(ReportAssignee).where(ReportAssignee.report_id == report.id)
        .order_by(ReportAssignee.role_name, ReportAssignee.user_id)
    ):
        found[row.role_name].append(row.user)
    return dict(found)


def set_assignees(session, report: Report, role_name: str, users, actor=None) -> list[AppUser]:
    """Replace the people assigned to ``report`` for ``role_name``. Each must be an active
    account of the report's unit holding the role for the regime; an empty list removes the
    assignment (then everyone of the unit holding the role may act)."""
    from app.workflow import holds_role

    if role_name not in SETTABLE_ROLES:
        raise AssignmentRefused(f"Không phân công được theo vai trò «{role_name}».",
                                field="role_name")
    if actor is not None and not _is_provincial_admin(actor):
        unit = getattr(actor, "unit", None)
        in_scope = unit is not None and (report.unit.path or "").startswith(unit.path or "/x/")
        if not in_scope or not any(holds_role(session, actor, r, report.regime_id)
                                   for r in ASSIGNING_ROLES + (APPROVER,)):
            raise PermissionDenied("Bạn không được phân công người cho báo cáo này.")
    users = list(dict.fromkeys(users))
    refused = []
    for user in users:
        if user.unit_id != report.unit_id:
            refused.append(f"{user.full_name} ({user.username}) không thuộc đơn vị "
                           f"«{report.unit.name}»")
        elif not user.active:
            refused.append(f"tài khoản {user.username} đang bị khóa")
        elif not holds_role(session, user, role_name, report.regime_id):
            refused.append(f"{user.full_name} ({user.username}) không có vai trò «{role_name}» "
                           "cho chế độ báo cáo này")
    if refused:
        raise AssignmentRefused("Không phân công được: " + "; ".join(refused) + ".",
                                field="users")
    existing = session.scalars(
        select(ReportAssignee).where(
            ReportAssignee.report_id == report.id, ReportAssignee.role_name == role_name
        )
    ).all()
    keep = {user.id for user in users}
    for row in existing:
        if row.user_id not in keep:
            session.delete(row)
    have = {row.user_id for row in existing}
    for user in users:
        if user.id not in have:
            session.add(ReportAssignee(report_id=report.id, user_id=user.id, role_name=role_name))
    session.flush()
    return users


# -- assigning every published form to new periods -------------------------------------------------


def assign_published_forms(session, period: Period, now: dt.datetime | None = None) -> int:
    """Assign every published form of the period's regime to its reporting units (used when the
    periods of a periodic regime are generated). Returns the number of reports created."""
    created = 0
    for code in form_codes_of_regime(session, period.regime_id):
        created += assign(session, period, code, now=now).created_count
    return created


# -- ad-hoc requests ------------------------------------------------------------------------------


def check_outline(filename: str, data: bytes) -> str | None:
    """Why an outline file is refused, or None when it is a real PDF or DOCX of at most 10 MB."""
    extension = os.path.splitext((filename or "").lower())[1]
    if extension not in OUTLINE_TYPES:
        return "Đề cương chỉ nhận tệp PDF hoặc DOCX."
    if not data:
        return "Tệp đề cương rỗng."
    if len(data) > MAX_OUTLINE_BYTES:
        return f"Tệp đề cương lớn hơn {MAX_OUTLINE_BYTES // (1024 * 1024)} MB."
    if extension == ".pdf":
        return None if data.startswith(b"%PDF-") else (
            "Nội dung tệp không phải PDF dù tên tệp có đuôi .pdf."
        )
    if not data.startswith(b"PK\x03\x04"):
        return "Nội dung tệp không phải DOCX dù tên tệp có đuôi .docx."
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        return "Tệp đề cương hỏng, không mở được."
    if "[Content_Types].xml" not in names or not any(n.startswith("word/") for n in names):
        return "Nội dung tệp không phải DOCX dù tên tệp có đuôi .docx."
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        return "Tệp có macro, không nhận."
    return None


def safe_filename(name: str) -> str:
    import re

    name = nfc(os.path.basename((name or "").replace("\\", "/"))) or ""
    name = re.sub(r"[\x00-\x1f\"<>|*?:/]", "_", name)
    return name[:200] or "de-cuong"


def outline_mimetype(filename: str) -> str:
    return OUTLINE_TYPES.get(os.path.splitext(filename.lower())[1], "application/octet-stream")


def create_adhoc_request(
    session,
    regime: Regime,
    form_code: str,
    title: str,
    due_date: dt.date,
    units=None,
    instructions: str | None = None,
    outline: tuple[str, bytes] | None = None,
    actor=None,
    now: dt.datetime | None = None,
    *,
    unit_type=None,
    subtree=None,
) -> tuple[AdhocRequest, AssignmentSummary]:
    """A one-off request: its own period (frequency "adhoc", cutoff ending today, deadline the
    due date), the request with its instructions and outline, and the reports of the units
    asked (``units``; or ``unit_type`` / ``subtree`` / by default the regime's reporting units),
    each due on ``due_date``. Flushes; the caller commits."""
    now = now or utcnow()
    today = _vietnam_today(now)
    title = nfc(title or "")
    if not title:
        raise AssignmentRefused("Cần nhập tên (trích yếu) của yêu cầu báo cáo.", field="title")
    if due_date is None:
        raise AssignmentRefused("Cần chọn hạn gửi báo cáo.", field="due_date")
    if due_date < today:
        raise AssignmentRefused(
            f"Hạn gửi {due_date.strftime('%d/%m/%Y')} đã qua; chọn từ hôm nay trở đi.",
            field="due_date",
        )
    form_code = nfc(form_code or "")
    if not form_code:
        raise AssignmentRefused("Chưa chọn biểu mẫu.", field="form_code")
    if units is not None and not list(units):
        raise AssignmentRefused("Chưa chọn đơn vị nào được yêu cầu báo cáo.", field="units")
    # who may ask, the form and the targets, before anything is written
    criterion = target_criterion(session, regime, units=units, unit_type=unit_type,
                                 subtree=subtree, actor=actor)
    if not session.scalar(select(func.count(Unit.id)).where(criterion)):
        raise AssignmentRefused("Không có đơn vị nào nhận yêu cầu báo cáo này.", field="units")
    _check_form(session, regime, form_code)
    filename = content = None
    if outline is not None and outline[1]:
        filename = safe_filename(outline[0])
        problem = check_outline(filename, outline[1])
        if problem:
            raise AssignmentRefused(problem, field="outline")
        content = outline[1]
    elif outline is not None and outline[0]:
        raise AssignmentRefused("Tệp đề cương rỗng.", field="outline")

    number = (session.scalar(
        select(func.max(Period.number)).where(
            Period.regime_id == regime.id, Period.frequency == ADHOC_FREQUENCY,
            Period.year == today.year,
        )
    ) or 0) + 1
    label = title if len(title) <= 60 else title[:59].rstrip() + "…"
    period = Period(
        regime=regime, frequency=ADHOC_FREQUENCY, year=today.year, number=number, label=label,
        cutoff_start=today, cutoff_end=today, deadline=due_date,
    )
    session.add(period)
    session.flush()
    request = AdhocRequest(
        regime_id=regime.id, period_id=period.id, title=title,
        instructions=nfc(instructions) or None, due_date=due_date,
        outline_filename=filename, outline_content=content,
        created_by_id=getattr(actor, "id", None), created_at=now,
    )
    session.add(request)
    session.flush()
    summary = assign(session, period, form_code, units=units, unit_type=unit_type,
                     subtree=subtree, actor=actor, now=now, due_date=due_date)
    from app.event_notices import adhoc_request_notices
    from app.notifications import notify

    notify(session, adhoc_request_notices(session, request), now)
    return request, summary


def adhoc_for_report(session, report: Report) -> AdhocRequest | None:
    """The ad-hoc request a report answers (its instructions and outline), or None."""
    return session.scalar(select(AdhocRequest).where(AdhocRequest.period_id == report.period_id))


def adhoc_requests(session, user) -> list[AdhocRequest]:
    """The requests a person may see: of regimes they may read (app.scoping), newest first."""
    from app.scoping import read_criterion

    query = select(AdhocRequest).order_by(AdhocRequest.created_at.desc(), AdhocRequest.id.desc())
    criterion = read_criterion(Regime, user)
    if criterion is not None:
        query = query.where(AdhocRequest.regime_id.in_(
            select(Regime.id).where(criterion).scalar_subquery()
        ))
    return session.scalars(query).all()


def may_read_adhoc(session, request: AdhocRequest, user) -> bool:
    """May ``user`` read a report of the request (and so its outline)?"""
    from app.scoping import read_criterion

    if user is None:
        return False
    query = select(Report.id).where(Report.period_id == request.period_id)
    criterion = read_criterion(Report, user)
    if criterion is not None:
        query = query.where(criterion)
    return session.scalar(query.limit(1)) is not None


# -- the reception window -------------------------------------------------------------------------


def may_change_reception(session, user, regime: Regime) -> bool:
    return user is not None and (_is_provincial_admin(user) or is_lead_agency(session, user,
                                                                               regime))


def change_reception(
    session,
    period: Period,
    action: str,
    reason: str,
    actor,
    unit: Unit | None = None,
    until: dt.datetime | None = None,
    extends_deadline: bool = False,
    now: dt.datetime | None = None,
) -> ReceptionChange:
    """The lead agency closes reception early (``close``) or reopens it (``reopen``, optionally
    until a time (UTC), optionally extending the deadline so that sending until then counts on
    time), for one unit or (unit None) every unit of the period. A reason is required; the
    latest change that applies wins (app.workflow.reception)."""
    now = now or utcnow()
    regime = period.regime
    if action not in RECEPTION_ACTIONS:
        raise AssignmentRefused(f"Không có thao tác «{action}» với việc tiếp nhận.",
                                field="action")
    reason = nfc(reason or "")
    if not reason:
        raise AssignmentRefused(
            f"Cần ghi lý do khi {RECEPTION_ACTIONS[action]}: đơn vị sẽ được thông báo.",
            field="reason",
        )
    if actor is None or getattr(actor, "id", None) is None:
        raise PermissionDenied("Cần đăng nhập.")
    if not may_change_reception(session, actor, regime):
        raise PermissionDenied(
            "Chỉ cơ quan chủ trì hoặc cơ quan tiếp nhận của chế độ báo cáo (người tổng hợp hoặc "
            "quản trị đơn vị) mới đóng, mở tiếp nhận được."
        )
    if action == "close" and (until is not None or extends_deadline):
        raise AssignmentRefused("Đóng tiếp nhận không kèm thời hạn hay gia hạn.", field="until")
    if until is not None and until <= now:
        raise AssignmentRefused("Thời hạn mở lại phải ở sau thời điểm hiện tại.", field="until")
    if extends_deadline and until is None:
        raise AssignmentRefused("Gia hạn cần có thời hạn mở lại tiếp nhận.", field="until")
    if unit is not None:
        holds = session.scalar(
            select(Report.id).where(Report.period_id == period.id, Report.unit_id == unit.id)
            .limit(1)
        )
        if holds is None:
            raise AssignmentRefused(
                f"Đơn vị «{unit.name}» không có báo cáo nào trong kỳ {period.label}.",
                field="unit",
            )
    change = ReceptionChange(
        period_id=period.id, unit_id=unit.id if unit is not None else None, action=action,
        until=until, extends_deadline=bool(extends_deadline), reason=reason, actor_id=actor.id,
        at=now,
    )
    session.add(change)
    session.flush()
    from app.event_notices import reception_change_notices
    from app.notifications import notify

    notify(session, reception_change_notices(session, change), now)
    return change


def reception_history(session, period: Period) -> list[ReceptionChange]:
    """Every change of the period's reception window, newest first."""
    return session.scalars(
        select(ReceptionChange).where(ReceptionChange.period_id == period.id)
        .order_by(ReceptionChange.at.desc(), ReceptionChange.id.desc())
    ).all()


@dataclass
class ReceptionNotice:
    period_id: int
    period_label: str
    regime_name: str
    action: str  # close | reopen
    action_words: str
    until: dt.datetime | None
    extends_deadline: bool
    reason: str
    at: dt.datetime
    for_this_unit: bool  # False: for every unit of the period


def reception_notices(session, unit: Unit | None, now: dt.datetime | None = None
                      ) -> list[ReceptionNotice]:
    """The changes in force that affect the unit's reports still to be sent: per period, the
    latest close or reopening for this unit or for all (a reopening whose time is over is no
    longer shown). Newest first."""
    if unit is None:
        return []
    now = now or utcnow()
    open_periods = select(Report.period_id).where(
        Report.unit_id == unit.id, Report.state.in_(OPEN_STATES)
    ).scalar_subquery()
    changes = session.execute(
        select(ReceptionChange, Period.label, Regime.name)
        .join(Period, Period.id == ReceptionChange.period_id)
        .join(Regime, Regime.id == Period.regime_id)
        .where(
            ReceptionChange.period_id.in_(open_periods),
            or_(ReceptionChange.unit_id == unit.id, ReceptionChange.unit_id.is_(None)),
            ReceptionChange.at <= now,
        )
        .order_by(ReceptionChange.at.desc(), ReceptionChange.id.desc())
    ).all()
    notices, seen = [], set()
    for change, label, regime_name in changes:
        if change.period_id in seen:
            continue
        seen.add(change.period_id)
        if change.action == "reopen" and change.until is not None and change.until < now:
            continue
        notices.append(ReceptionNotice(
            period_id=change.period_id, period_label=label, regime_name=regime_name,
            action=change.action, action_words=RECEPTION_ACTIONS[change.action],
            until=change.until, extends_deadline=change.extends_deadline, reason=change.reason,
            at=change.at, for_this_unit=change.unit_id is not None,
        ))
    return notices


def lead_periods(session, user, limit: int = 200) -> list[Period]:
    """Periods whose reception ``user`` may change (the provincial admin: every period), latest
    deadline first."""
    query = select(Period).join(Regime, Regime.id == Period.regime_id)
    if not _is_provincial_admin(user):
        unit_id = getattr(user, "unit_id", None)
        if unit_id is None:
            return []
        query = query.where(or_(Regime.lead_unit_id == unit_id,
                                Regime.receiving_unit_id == unit_id))
    periods = session.scalars(query.order_by(Period.deadline.desc(), Period.id.desc())
                              .limit(limit)).all()
    return [p for p in periods if may_change_reception(session, user, p.regime)]

