"""Screens of assignment (Giao báo cáo), ad-hoc requests (Báo cáo đột xuất) and the reception
window (Đóng/mở tiếp nhận). Thin: the rules, the scoping of targets and the refusals live in
app.assignment; every list and every choice offered here is confined with app.scoping."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from app.assignment import (
    ASSIGNEE_ROLES,
    MAX_OUTLINE_BYTES,
    RECEPTION_ACTIONS,
    ROLE_WORDS,
    SETTABLE_ROLES,
    adhoc_requests,
    assign,
    assignable_criterion,
    change_reception,
    create_adhoc_request,
    form_codes_of_regime,
    lead_periods,
    may_read_adhoc,
    outline_mimetype,
    preview_assignment,
    reception_history,
    set_assignees,
)
from app.errors import DomainError
from app.extensions import db
from app.formatting import format_datetime
from app.models import (
    AdhocRequest,
    AppUser,
    FormVersion,
    Period,
    Regime,
    Report,
    ReportAssignee,
    Unit,
    UnitType,
)
from app.models.forms import utcnow
from app.scoping import current_user, is_provincial_admin, read_criterion
from app.text import fold, nfc
from app.views.base import check_csrf
from app.workflow import VIETNAM_OFFSET, day_end_utc, day_start_utc, vietnam_time

MODES = ("default", "list", "type", "subtree")
MODE_LABELS = {
    "default": _l("Các đơn vị báo cáo của chế độ"),
    "list": _l("Chọn từng đơn vị"),
    "type": _l("Mọi đơn vị thuộc một loại"),
    "subtree": _l("Các đơn vị báo cáo trong một nhánh cây đơn vị"),
}
MAX_CHOICES = 5000


def _int_arg(source, name: str) -> int | None:
    value = (source.get(name) or "").strip()
    return int(value) if value.isdigit() else None


_check_csrf = check_csrf


def _csrf() -> str:
    from flask_wtf.csrf import generate_csrf

    return generate_csrf()


def _readable_periods(user, limit: int = 300) -> list[Period]:
    query = select(Period).where(Period.frequency != "adhoc")
    criterion = read_criterion(Period, user)
    if criterion is not None:
        query = query.where(criterion)
    return db.session.scalars(query.order_by(Period.deadline.desc(), Period.id.desc())
                              .limit(limit)).all()


def _period(period_id: int | None, periods: list[Period]) -> Period | None:
    return next((p for p in periods if p.id == period_id), None)


def _reachable_units(regime: Regime | None, user) -> list[Unit]:
    """Units the user may target (for a regime: what app.assignment allows; without one: the
    user's subtree and the reporting units of the regimes their unit leads)."""
    query = select(Unit).where(Unit.active.is_(True))
    if regime is not None:
        try:
            criterion = assignable_criterion(db.session, regime, user)
        except DomainError:
            return []
    elif is_provincial_admin(user):
        criterion = None
    else:
        from app.assignment import regime_reporting_criterion

        unit_id = getattr(user, "unit_id", None)
        led = db.session.scalars(select(Regime.id).where(
            or_(Regime.lead_unit_id == unit_id, Regime.receiving_unit_id == unit_id))).all()
        criterion = or_(read_criterion(Unit, user),
                        *[regime_reporting_criterion(regime_id) for regime_id in led])
    if criterion is not None:
        query = query.where(criterion)
    return db.session.scalars(query.order_by(Unit.path).limit(MAX_CHOICES)).all()


def _targets(source) -> tuple[str, dict]:
    """The chosen way of targeting and the keyword arguments for app.assignment."""
    mode = source.get("mode") if source.get("mode") in MODES else "default"
    if mode == "list":
        # any unit outside the user's reach is refused by name in app.assignment
        ids = sorted({int(v) for v in source.getlist("units") if v.isdigit()})
        units = db.session.scalars(select(Unit).where(Unit.id.in_(ids))).all() if ids else []
        return mode, {"units": units}
    if mode == "type":
        type_id = _int_arg(source, "unit_type")
        unit_type = db.session.get(UnitType, type_id) if type_id else None
        if unit_type is None:
            raise DomainError(_("Chưa chọn loại đơn vị."))
        return mode, {"unit_type": unit_type}
    if mode == "subtree":
        unit_id = _int_arg(source, "subtree")
        unit = db.session.get(Unit, unit_id) if unit_id else None
        if unit is None:
            raise DomainError(_("Chưa chọn nhánh cây đơn vị."))
        return mode, {"subtree": unit}
    return mode, {}


def _target_params(source) -> dict:
    params = {"mode": source.get("mode") or "default"}
    for name in ("unit_type", "subtree"):
        if source.get(name):
            params[name] = source.get(name)
    units = [v for v in source.getlist("units") if v.isdigit()]
    if units:
        params["units"] = units
    return params


class AssignmentView(BaseView):
    """Giao báo cáo: a period, a form, the targets; a preview count, then the assignment."""

    route_base = "/assignment"
    default_view = "index"

    def _context(self, source):
        user = current_user()
        periods = _readable_periods(user)
        period = _period(_int_arg(source, "period"), periods)
        forms = form_codes_of_regime(db.session, period.regime_id) if period else []
        form_code = source.get("form") if source.get("form") in forms else (
            forms[0] if len(forms) == 1 else None)
        return user, periods, period, forms, form_code

    def _render(self, source, **extra):
        user, periods, period, forms, form_code = self._context(source)
        regime = period.regime if period else None
        chosen = {
            "mode": source.get("mode") if source.get("mode") in MODES else "default",
            "units": {int(v) for v in source.getlist("units") if v.isdigit()},
            "unit_type": _int_arg(source, "unit_type"),
            "subtree": _int_arg(source, "subtree"),
        }
        return self.render_template(
            "assignment/assign.html",
            periods=periods, period=period, forms=forms, form_code=form_code,
            units=_reachable_units(regime, user) if regime else [],
            unit_types=db.session.scalars(select(UnitType).order_by(UnitType.name)).all(),
            modes=MODES, mode_labels=MODE_LABELS, chosen=chosen, csrf=_csrf(),
            **extra,
        )

    @expose("/")
    @has_access
    def index(self):
        return self._render(request.args)

    def _preview(self, user, period, form_code):
        preview = None
        try:
            _mode, targets = _targets(request.form)
            preview = preview_assignment(db.session, period, form_code, actor=user, **targets)
        except DomainError as error:
            flash(error.message, "danger")
        return self._render(request.form, preview=preview)

    @expose("/", methods=["POST"])
    @has_access
    def run(self):
        """Assign; or, with ``preview``, show how many units the choice reaches."""
        _check_csrf()
        user, _periods, period, _forms, form_code = self._context(request.form)
        if period is None or form_code is None:
            flash(_("Chọn kỳ báo cáo và biểu mẫu trước."), "warning")
            return redirect(url_for("AssignmentView.index"))
        if request.form.get("preview"):
            return self._preview(user, period, form_code)
        try:
            _mode, targets = _targets(request.form)
            summary = assign(db.session, period, form_code, actor=user, **targets)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return redirect(url_for("AssignmentView.index", period=period.id, form=form_code,
                                    **_target_params(request.form)))
        flash(summary.message(), "success")
        return self.render_template(
            "assignment/summary.html", summary=summary, period=period,
            role_words=ROLE_WORDS, roles=ASSIGNEE_ROLES,
        )


    # -- the people of one report ----------------------------------------------------------
    @expose("/report/<int:report_id>/people", methods=["GET", "POST"])
    @has_access
    def people(self, report_id: int):
        """Who enters, approves and signs one report: by default everyone of the unit holding
        the role; ticking people restricts the step to them."""
        from app.workflow import holds_role

        user = current_user()
        query = select(Report).where(Report.id == report_id)
        criterion = read_criterion(Report, user)
        if criterion is not None:
            query = query.where(criterion)
        report = db.session.scalars(query).first()
        if report is None:
            abort(404)
        back = redirect(url_for("AssignmentView.people", report_id=report.id))
        if request.method == "POST":
            _check_csrf()
            try:
                for role in SETTABLE_ROLES:
                    ids = {int(v) for v in request.form.getlist(f"role:{role}") if v.isdigit()}
                    chosen = (db.session.scalars(select(AppUser).where(AppUser.id.in_(ids))).all()
                              if ids else [])
                    set_assignees(db.session, report, role, chosen, actor=user)
                db.session.commit()
            except DomainError as error:  # PermissionDenied included
                db.session.rollback()
                flash(error.message, "danger")
                return back
            flash(_("Đã lưu người thực hiện của báo cáo."), "success")
            return back
        accounts = db.session.scalars(
            select(AppUser).where(AppUser.unit_id == report.unit_id, AppUser.active.is_(True))
            .order_by(AppUser.last_name, AppUser.first_name)
        ).all()
        assigned = {(a.role_name, a.user_id) for a in db.session.scalars(
            select(ReportAssignee).where(ReportAssignee.report_id == report.id))}
        roles = [
            (role, ROLE_WORDS.get(role, role),
             [(account, (role, account.id) in assigned) for account in accounts
              if holds_role(db.session, account, role, report.regime_id)])
            for role in SETTABLE_ROLES
        ]
        return self.render_template("assignment/people.html", report=report, roles=roles,
                                    csrf=_csrf())


# -- ad-hoc requests --------------------------------------------------------------------------


def _form_choices(user) -> list[tuple[str, str]]:
    """("regime id|form code", "regime — form title") of the published forms of the regimes
    the user may read."""
    query = (
        select(FormVersion.regime_id, FormVersion.code, FormVersion.title, Regime.name)
        .join(Regime, Regime.id == FormVersion.regime_id)
        .where(FormVersion.status == "published")
        .order_by(Regime.name, FormVersion.code, FormVersion.version.desc())
    )
    criterion = read_criterion(Regime, user)
    if criterion is not None:
        query = query.where(criterion)
    seen, choices = set(), []
    for regime_id, code, title, regime_name in db.session.execute(query):
        if (regime_id, code) in seen:
            continue
        seen.add((regime_id, code))
        choices.append((f"{regime_id}|{code}", f"{regime_name} — {code}: {title}"))
    return choices


class AdhocRequestView(BaseView):
    """Báo cáo đột xuất: the requests, a form to make one, and the download of its outline."""

    route_base = "/assignment/adhoc"
    default_view = "list"

    @expose("/")
    @has_access
    def list(self):
        user = current_user()
        today = vietnam_time(utcnow()).date()
        return self.render_template(
            "assignment/adhoc.html",
            requests=adhoc_requests(db.session, user),
            reports=self._report_counts(),
            choices=_form_choices(user),
            units=_reachable_units(None, user),
            unit_types=db.session.scalars(select(UnitType).order_by(UnitType.name)).all(),
            modes=MODES, mode_labels=MODE_LABELS, csrf=_csrf(), today=today,
            default_due=today + dt.timedelta(days=5), max_mb=MAX_OUTLINE_BYTES // (1024 * 1024),
            shown=format_datetime,
        )

    @staticmethod
    def _report_counts() -> dict[int, int]:
        from sqlalchemy import func

        return dict(db.session.execute(
            select(Report.period_id, func.count(Report.id)).where(
                Report.period_id.in_(select(AdhocRequest.period_id).scalar_subquery())
            ).group_by(Report.period_id)
        ).all())

    @expose("/", methods=["POST"])
    @has_access
    def create(self):
        _check_csrf()
        user = current_user()
        back = redirect(url_for("AdhocRequestView.list"))
        choice = request.form.get("form", "")
        regime_id, _sep, form_code = choice.partition("|")
        allowed = {value for value, _label in _form_choices(user)}
        regime = db.session.get(Regime, int(regime_id)) if regime_id.isdigit() else None
        if regime is None or choice not in allowed:
            flash(_("Chưa chọn biểu mẫu."), "danger")
            return back
        try:
            due = dt.date.fromisoformat(request.form.get("due_date", ""))
        except ValueError:
            flash(_("Hạn gửi không hợp lệ: chọn một ngày."), "danger")
            return back
        upload = request.files.get("outline")
        outline = None
        if upload is not None and upload.filename:
            outline = (upload.filename, upload.stream.read(MAX_OUTLINE_BYTES + 1))
        try:
            _mode, targets = _targets(request.form)
            adhoc, summary = create_adhoc_request(
                db.session, regime, form_code, request.form.get("title", ""), due,
                instructions=request.form.get("instructions"), outline=outline, actor=user,
                **targets,
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return back
        flash(_("Đã gửi yêu cầu «%(title)s» tới %(count)s đơn vị, hạn gửi %(due)s.",
                title=adhoc.title, count=summary.created_count,
                due=adhoc.due_date.strftime("%d/%m/%Y")), "success")
        if summary.missing:
            flash(_("%(count)s đơn vị còn thiếu tài khoản cho một vai trò: %(names)s.",
                    count=summary.units_missing_someone,
                    names=", ".join(sorted({u.name for units in summary.missing.values()
                                            for u in units})[:10])), "warning")
        return back

    @expose("/<int:request_id>/outline")
    @has_access
    def outline(self, request_id: int):
        adhoc = db.session.get(AdhocRequest, request_id)
        if adhoc is None or not adhoc.outline_filename:
            abort(404)
        if not may_read_adhoc(db.session, adhoc, current_user()):
            abort(404)
        response = Response(adhoc.outline_content, mimetype=outline_mimetype(adhoc.outline_filename))
        ascii_name = fold(adhoc.outline_filename).replace(" ", "-") or "de-cuong"
        response.headers["Content-Disposition"] = (
            f"attachment; filename=\"{ascii_name}\"; "
            f"filename*=UTF-8''{quote(adhoc.outline_filename)}"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


# -- the reception window ---------------------------------------------------------------------


def _parse_local(text: str) -> dt.datetime | None:
    """"2026-11-22T10:00" (Vietnam time, from a datetime-local input) → naive UTC; a date alone
    means the end of that day."""
    text = nfc(text or "")
    if not text:
        return None
    try:
        if "T" in text or " " in text:
            return dt.datetime.fromisoformat(text.replace(" ", "T")) - VIETNAM_OFFSET
        return day_end_utc(dt.date.fromisoformat(text))
    except ValueError as error:
        raise DomainError(_("Thời hạn không hợp lệ: chọn ngày và giờ.")) from error


class ReceptionView(BaseView):
    """Đóng/mở tiếp nhận: a period's window, its history, a form to close or reopen."""

    route_base = "/assignment/reception"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        user = current_user()
        periods = lead_periods(db.session, user)
        period = _period(_int_arg(request.args, "period"), periods)
        if period is None and periods:
            today = vietnam_time(utcnow()).date()
            due = [p for p in periods if p.cutoff_end <= today]
            period = due[0] if due else periods[-1]
        context = {}
        if period is not None:
            regime = period.regime
            opens = day_start_utc(period.cutoff_end + dt.timedelta(days=regime.reception_opens_days or 0))
            history = reception_history(db.session, period)
            now = utcnow()
            current = next((c for c in history if c.unit_id is None and c.at <= now), None)
            units = db.session.scalars(
                select(Unit).join(Report, Report.unit_id == Unit.id)
                .where(Report.period_id == period.id).group_by(Unit.id).order_by(Unit.path)
            ).all()
            context = dict(opens_at=opens, history=history, current=current, units=units)
        return self.render_template(
            "assignment/reception.html", periods=periods, period=period, csrf=_csrf(),
            actions=RECEPTION_ACTIONS, shown=format_datetime, **context,
        )

    @expose("/", methods=["POST"])
    @has_access
    def change(self):
        _check_csrf()
        user = current_user()
        periods = lead_periods(db.session, user)
        period = _period(_int_arg(request.form, "period"), periods)
        if period is None:
            flash(_("Bạn không đóng, mở tiếp nhận được cho kỳ báo cáo này."), "danger")
            return redirect(url_for("ReceptionView.index"))
        back = redirect(url_for("ReceptionView.index", period=period.id))
        unit_id = _int_arg(request.form, "unit")
        unit = db.session.get(Unit, unit_id) if unit_id else None
        try:
            change = change_reception(
                db.session, period, request.form.get("action", ""), request.form.get("reason", ""),
                user, unit=unit, until=_parse_local(request.form.get("until", "")),
                extends_deadline=request.form.get("extends") == "1",
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return back
        who = unit.name if unit is not None else _("mọi đơn vị")
        flash(_("Đã %(action)s kỳ %(period)s cho %(who)s; các đơn vị được thông báo trên trang "
                "chủ.", action=RECEPTION_ACTIONS[change.action], period=period.label, who=who),
              "success")
        return back


def register_assignment_views(appbuilder) -> None:
    appbuilder.add_view(AssignmentView, "Giao báo cáo", label=_l("Giao báo cáo"),
                        icon="fa-share-square-o", category="Báo cáo")
    appbuilder.add_view(AdhocRequestView, "Báo cáo đột xuất", label=_l("Báo cáo đột xuất"),
                        icon="fa-bolt", category="Báo cáo")
    appbuilder.add_view(ReceptionView, "Đóng/mở tiếp nhận", label=_l("Đóng/mở tiếp nhận"),
                        icon="fa-clock-o", category="Báo cáo")
