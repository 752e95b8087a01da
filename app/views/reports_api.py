"""The REST API of reports, their values and the dataValueSets import (/api/v1/...).

Thin: parse, call the domain (app.reports, app.workflow, app.datavalues), answer JSON. Listed
in FAB's OpenAPI document (/api/v1/_openapi, Swagger UI at /swagger/v1).

Authentication is Flask-AppBuilder's: the session cookie or a JWT from /api/v1/security/login
for people, FAB API keys (``Authorization: Bearer sst_…``) for systems. A key acts as the
account it was issued to, with that account's roles and unit scope; a key issued "read" only
reads (app.security.AppSecurityManager.has_access). Rows are scoped by app.scoping exactly as
on the screens; writes follow the screens' rules (app.reports.save_values for values,
app.workflow.transition for the reporting cycle).

    GET  /api/v1/report/                 reports in scope (FAB's rison ``q`` filters and paging)
    GET  /api/v1/report/<id>             one report with its values and the actions open now
    GET  /api/v1/report/<id>/values      its values, cell by cell, mapped to indicators
    PUT  /api/v1/report/<id>/values      save draft values {"values": {cell key: value}}
    POST /api/v1/report/<id>/transition  {"action": "submit", "revision": 3, "reason": …}
    GET  /api/v1/value/                  stored values in scope
    GET  /api/v1/datavaluesets/          values of a unit and period, DHIS2-shaped
    POST /api/v1/datavaluesets/?dryRun=true   import JSON or CSV (app.datavalues)
"""

from __future__ import annotations

from flask import request
from flask_appbuilder.api import BaseApi, safe
from flask_appbuilder.api import expose as expose_api
from flask_appbuilder.security.decorators import protect
from flask_babel import gettext as _
from sqlalchemy import or_, select

from app import workflow
from app.datavalues import (
    ImportRefused,
    import_data_values,
    parse_period,
    period_code,
    values_from_csv,
    values_from_json,
)
from app.errors import DomainError
from app.extensions import db
from app.models import Period, Regime, Report, ReportValue, Unit
from app.models.forms import utcnow
from app.reports import (
    CellIndex,
    ReportConflict,
    report_values,
    save_values,
    spec_of,
)
from app.scoping import current_user, read_criterion, unit_in_scope
from app.views.base import ScopedInterface, ScopedModelRestApi, refusal_403

ACTIONS = ("submit", "approve", "reject", "send", "accept", "return", "reopen",
           "request_correction")


def _plain(value):
    if value is None:
        return None
    from decimal import Decimal

    if isinstance(value, Decimal):
        from app.workflow import _canonical_number

        return _canonical_number(value)
    return str(value)


def report_cells(report: Report) -> list[dict]:
    """Every cell of a report with its value: entry and computed, mapped to the catalogue."""
    spec = spec_of(report.form_version)
    values = report_values(db.session, report)
    rows = {row.key: row for row in spec.rows}
    columns = {c.key: c for sheet in spec.sheets for t in sheet.tables for c in t.columns}
    cells = []
    for cell in CellIndex.of(spec).cells:
        if cell.kind == "fixed":
            continue
        row = rows.get(cell.row_key or "")
        column = columns.get(cell.column_key or "")
        cells.append({
            "key": cell.key, "sheet": cell.sheet, "cell": cell.cell, "kind": cell.kind,
            "type": cell.type,
            "dataElement": row.indicator_code if row is not None else None,
            "column": (column.catalogue_key or column.key) if column is not None else None,
            "breakdown": column.breakdown if column is not None else None,
            "value": _plain(values.get(cell.key)),
        })
    for block in spec.narrative_blocks:
        cells.append({"key": block.key, "kind": "narrative", "type": "text",
                      "value": _plain(values.get(block.key))})
    return cells


def _status_of_refusal(report: Report, action: str, user) -> int:
    """403 when the person may not do this at all (role, unit, assignment); 409 when the
    report's state, its reception window or its values stand in the way now."""
    transition = workflow.TRANSITIONS.get(action)
    if transition is None:
        return 400
    db.session.refresh(report)
    if report.state not in transition.sources:
        return 409
    why = workflow.refusal(db.session, user, report, action)
    if why is None:
        return 409
    if action == "send" and why == workflow.reception(db.session, report).message:
        return 409
    return 403


class ReportApi(ScopedModelRestApi):
    """Reports in the caller's scope; values and the reporting cycle."""

    resource_name = "report"
    openapi_spec_tag = "Reports"
    datamodel = ScopedInterface(Report)
    include_route_methods = {"get", "get_list", "post", "values", "save", "transition"}
    list_columns = [
        "id", "regime.code", "period_id", "period.label", "unit_id", "unit.name",
        "unit.admin_code", "unit.internal_code", "form_code", "kind", "state", "revision",
        "due_date", "submitted_at", "sent_at", "sent_late", "accepted_at", "updated_at",
    ]
    show_columns = list_columns + ["first_sent_at", "revised", "form_version_id"]
    search_columns = ["state", "form_code", "kind", "period", "unit", "regime"]
    order_columns = ["id", "state", "form_code", "updated_at", "sent_at"]
    base_order = ("id", "asc")
    openapi_spec_methods = {
        "get": {"get": {"summary": "Một báo cáo: thông tin, số liệu và các thao tác được làm"}},
        "get_list": {"get": {"summary": "Các báo cáo trong phạm vi của tài khoản"}},
    }

    def pre_get(self, data):
        report = db.session.get(Report, data.get("id"))
        if report is None:
            return
        user = current_user()
        data["result"]["period_code"] = period_code(report.period)
        data["result"]["values"] = report_cells(report)
        data["result"]["actions"] = [
            t.action for t in workflow.available_actions(db.session, user, report)]
        data["result"]["editable"] = (report.state in workflow.EDITABLE_STATES
                                      and unit_in_scope(report.unit, user))

    def _report(self, pk: int) -> Report | None:
        query = select(Report).where(Report.id == pk)
        criterion = read_criterion(Report, current_user())
        if criterion is not None:
            query = query.where(criterion)
        return db.session.scalars(query).first()

    @expose_api("/", methods=["POST"])
    @protect()
    @safe
    def post(self):
        """Assign a period's report to units (as Báo cáo › Giao báo cáo does).
        ---
        post:
          summary: Giao báo cáo của một kỳ cho các đơn vị (như màn hình Giao báo cáo)
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [period, form_code, units]
                  properties:
                    period: {type: integer, description: id của kỳ báo cáo}
                    form_code: {type: string, description: mã biểu mẫu, ví dụ KTXH-B01}
                    units:
                      type: array
                      items: {type: string}
                      description: mã đơn vị (mã hành chính hoặc mã nội bộ)
          responses:
            201: {description: "the reports created; units that held one already are counted"}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
            403: {description: the account may not assign these reports, with the reason}
            404: {$ref: '#/components/responses/404'}
            422: {description: the choice is wrong (form, inactive unit…), with the reason}
        """
        from app.assignment import assign
        from app.errors import PermissionDenied

        data = request.get_json(silent=True)
        codes = data.get("units") if isinstance(data, dict) else None
        period_id = data.get("period") if isinstance(data, dict) else None
        form_code = data.get("form_code") if isinstance(data, dict) else None
        if (not isinstance(period_id, int) or isinstance(period_id, bool)
                or not isinstance(form_code, str) or not isinstance(codes, list) or not codes
                or not all(isinstance(c, str) and c.strip() for c in codes)):
            return self.response_400(message=_(
                "Cần period (id kỳ), form_code (mã biểu mẫu) và units (danh sách mã đơn vị)."))
        user = current_user()
        query = select(Period).where(Period.id == period_id)
        criterion = read_criterion(Period, user)
        if criterion is not None:
            query = query.where(criterion)
        period = db.session.scalars(query).first()
        if period is None:
            return self.response_404()
        codes = [c.strip() for c in codes]
        units = dict(db.session.execute(select(Unit.admin_code, Unit.id).where(
            Unit.admin_code.in_(codes))).all())
        units.update(db.session.execute(select(Unit.internal_code, Unit.id).where(
            Unit.internal_code.in_(codes))).all())
        unknown = [c for c in codes if c not in units]
        if unknown:
            return self.response(422, message=_("Không có đơn vị mã: %(codes)s.",
                                                codes=", ".join(unknown)), field="units")
        try:
            summary = assign(db.session, period, form_code, units=list(units.values()),
                             actor=user)
            db.session.commit()
        except PermissionDenied as error:
            db.session.rollback()
            return self.response(403, message=error.message)
        except DomainError as error:
            db.session.rollback()
            return self.response(422, message=error.message, field=error.field)
        return self.response(201, message=summary.message(), created=summary.created,
                             already=summary.already)

    @expose_api("/<int:pk>/values", methods=["GET"])
    @protect()
    @safe
    def values(self, pk: int):
        """The values of a report, cell by cell.
        ---
        get:
          summary: Số liệu của một báo cáo, từng ô (ô nhập, ô tính, thuyết minh)
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200:
              description: the cells with their values
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id: {type: integer}
                      revision: {type: integer}
                      state: {type: string}
                      values: {type: array, items: {type: object}}
            401: {$ref: '#/components/responses/401'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
        """
        report = self._report(pk)
        if report is None:
            return self.response_404()
        return self.response(200, id=report.id, revision=report.revision, state=report.state,
                             values=report_cells(report))

    @expose_api("/<int:pk>/values", methods=["PUT"])
    @protect()
    @safe
    def save(self, pk: int):
        """Save draft values of a report (as the entry page does).
        ---
        put:
          summary: Lưu số liệu nháp của báo cáo (như trang nhập liệu)
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [values]
                  properties:
                    values:
                      type: object
                      description: cell key ("r5|c3") → value; an empty string clears it
                      additionalProperties: {nullable: true}
                    base:
                      type: object
                      description: the values the caller last read; a cell changed since by
                        someone else is refused (409) instead of overwritten
                      additionalProperties: {nullable: true}
          responses:
            200: {description: saved; the new revision, cells ignored, warnings}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: the report is locked, or cells were changed by someone else}
        """
        report = self._report(pk)
        if report is None:
            return self.response_404()
        user = current_user()
        if not unit_in_scope(report.unit, user):
            return self.response(403, message=_("Bạn không được sửa số liệu của báo cáo này."))
        payload = request.get_json(silent=True)
        changes = payload.get("values") if isinstance(payload, dict) else None
        base = payload.get("base") if isinstance(payload, dict) else None
        if (not isinstance(changes, dict) or (base is not None and not isinstance(base, dict))
                or any(isinstance(v, (dict, list)) for v in changes.values())
                or any(isinstance(v, (dict, list)) for v in (base or {}).values())):
            return self.response_400(
                message=_("Cần «values»: bảng «mã ô: giá trị» (ví dụ {\"r5|c3\": 120})."))
        if report.state not in workflow.EDITABLE_STATES:
            return self.response(409, message=_(
                "Báo cáo đang ở trạng thái «%(state)s»: số liệu đã khóa, không sửa được.",
                state=workflow.STATE_WORDS.get(report.state, report.state)))
        from app.views.entry import _save_narratives

        spec = spec_of(report.form_version)
        narrative_keys = {b.key for b in spec.narrative_blocks}
        cell_changes = {k: v for k, v in changes.items() if k not in narrative_keys}
        narrative_changes = {k: v for k, v in changes.items() if k in narrative_keys}
        try:
            result = save_values(db.session, report, cell_changes, user=user, base_values=base)
            saved_narratives = _save_narratives(report, narrative_changes, base, user)
            if saved_narratives and not result.saved:
                report.revision = Report.revision + 1
                report.updated_at = utcnow()
                report.updated_by_id = user.id
            db.session.flush()
            db.session.refresh(report, ["revision"])
            revision = report.revision
            db.session.commit()
        except ReportConflict as conflict:
            db.session.rollback()
            return self.response(409, message=_(
                "%(count)s ô đã được người khác sửa trong lúc bạn nhập; hãy tải lại để xem số "
                "mới trước khi lưu đè.", count=len(conflict.keys)), keys=conflict.keys)
        except DomainError as error:
            db.session.rollback()
            return self.response(409, message=error.message)
        return self.response(
            200, saved=result.saved + saved_narratives, revision=revision,
            ignored=result.ignored,
            warnings=[{"sheet": p.sheet, "row": p.row, "column": p.column,
                       "message": str(p)} for p in result.problems])

    @expose_api("/<int:pk>/transition", methods=["POST"])
    @protect()
    @safe
    def transition(self, pk: int):
        """One step of the reporting cycle, by the same rules as the report page.
        ---
        post:
          summary: Chuyển bước báo cáo (trình, duyệt, từ chối, gửi, tiếp nhận, trả lại…)
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [action]
                  properties:
                    action:
                      type: string
                      enum: [submit, approve, reject, send, accept, return, reopen,
                             request_correction]
                    revision:
                      type: integer
                      description: the revision the caller saw; refused (409) if it moved
                    reason: {type: string, description: required to reject, return, reopen}
                    cell_comments:
                      type: object
                      additionalProperties: {type: string}
          responses:
            200: {description: done; the new state and revision}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
            403: {description: the account may not do this (role, unit), with the reason}
            404: {$ref: '#/components/responses/404'}
            409: {description: refused now (state, revision, reception window, errors)}
            422: {description: a reason is missing, or a cell comment names no cell}
        """
        report = self._report(pk)
        if report is None:
            return self.response_404()
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or data.get("action") not in ACTIONS:
            return self.response_400(message=_(
                "Cần «action» là một trong: %(actions)s.", actions=", ".join(ACTIONS)))
        from app.views.entry import CELL_COMMENT_ACTIONS, transition_input

        user = current_user()
        try:
            action, reason, revision, cell_comments = transition_input(
                data, spec_of(report.form_version))
            if action not in CELL_COMMENT_ACTIONS:
                cell_comments = {}
            workflow.transition(db.session, report, action, user, reason=reason,
                                cell_comments=cell_comments, expected_revision=revision)
            db.session.commit()
        except workflow.TransitionConflict as error:
            db.session.rollback()
            return self.response(409, message=error.message)
        except DomainError as error:
            db.session.rollback()
            if error.field in ("reason", "cell_comments", "revision"):
                return self.response(422, message=error.message, field=error.field)
            status = _status_of_refusal(report, data["action"], user)
            return self.response(status, message=error.message)
        return self.response(200, message=workflow.TRANSITIONS[action].done, id=report.id,
                             state=report.state, revision=report.revision)


class ReportValueApi(ScopedModelRestApi):
    """Stored values of the reports in scope (read only)."""

    resource_name = "value"
    openapi_spec_tag = "Values"
    datamodel = ScopedInterface(ReportValue)
    include_route_methods = {"get", "get_list"}
    list_columns = [
        "id", "report_id", "row_key", "column_key", "breakdown_key", "indicator_id",
        "value_column_key", "number_value", "text_value", "saved_at",
    ]
    show_columns = list_columns
    search_columns = ["report", "row_key", "column_key", "value_column_key"]
    order_columns = ["id", "report_id", "row_key", "saved_at"]
    base_order = ("id", "asc")


class DataValueSetApi(BaseApi):
    """Values in and out by codes, like DHIS2's dataValueSets."""

    resource_name = "datavaluesets"
    openapi_spec_tag = "DataValueSets"
    allow_browser_login = True

    def response_403(self):
        return refusal_403(self)

    @expose_api("/", methods=["GET"])
    @protect()
    @safe
    def get(self):
        """The values of a unit's reports for a period, in the shape the import takes.
        ---
        get:
          summary: Số liệu của một đơn vị trong một kỳ, theo mã (cùng dạng với khi nhập)
          parameters:
          - {in: query, name: orgUnit, required: true, schema: {type: string}}
          - {in: query, name: period, required: true, schema: {type: string},
             description: "id hoặc mã kỳ: 202611, 2026Q4, 2026S1, 2026N9, 2026"}
          - {in: query, name: dataSet, schema: {type: string}, description: mã chế độ}
          responses:
            200:
              description: the values
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      dataValues: {type: array, items: {type: object}}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
        """
        args = request.args
        code = (args.get("orgUnit") or "").strip()
        period = parse_period(args.get("period") or "")
        if not code or period is None:
            return self.response_400(message=_(
                "Cần orgUnit (mã đơn vị) và period (id hoặc mã kỳ như 202611, 2026Q4)."))
        unit = db.session.scalars(select(Unit).where(
            or_(Unit.admin_code == code, Unit.internal_code == code))).first()
        if unit is None:
            return self.response_404()
        query = (select(Report).join(Period, Report.period_id == Period.id)
                 .where(Report.unit_id == unit.id))
        if isinstance(period, int):
            query = query.where(Period.id == period)
        else:
            query = query.where(Period.frequency == period[0], Period.year == period[1],
                                Period.number == period[2])
        if args.get("dataSet"):
            query = query.join(Regime, Report.regime_id == Regime.id).where(
                Regime.code == args["dataSet"])
        criterion = read_criterion(Report, current_user())
        if criterion is not None:
            query = query.where(criterion)
        values = []
        for report in db.session.scalars(query.order_by(Report.id)):
            for cell in report_cells(report):
                if cell["kind"] != "entry" or not cell.get("dataElement") or \
                        cell["value"] is None:
                    continue
                item = {"orgUnit": code, "period": period_code(report.period),
                        "dataSet": report.regime.code, "dataElement": cell["dataElement"],
                        "column": cell["column"], "value": cell["value"],
                        "report": report.id, "state": report.state}
                if cell.get("breakdown"):
                    item["breakdown"] = cell["breakdown"]
                values.append(item)
        return self.response(200, dataValues=values)

    @expose_api("/", methods=["POST"])
    @protect()
    @safe
    def post(self):
        """Import values by codes; all or nothing per report.
        ---
        post:
          summary: Nhập số liệu theo mã (như dataValueSets của DHIS2); trọn vẹn theo từng báo cáo
          parameters:
          - {in: query, name: dryRun, schema: {type: boolean},
             description: chạy thử, không ghi gì}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [dataValues]
                  properties:
                    orgUnit: {type: string, description: mặc định cho mọi giá trị}
                    period: {type: string, description: mặc định cho mọi giá trị}
                    dataSet: {type: string, description: mã chế độ, khi đơn vị có nhiều}
                    dataValues:
                      type: array
                      items:
                        type: object
                        properties:
                          orgUnit: {type: string}
                          period: {type: string}
                          dataElement: {type: string}
                          column: {type: string}
                          breakdown: {type: string}
                          value: {nullable: true}
              text/csv:
                schema: {type: string}
          responses:
            200: {description: "per-value results (imported, updated, ignored, error) and counts"}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
            403: {$ref: '#/components/responses/403'}
            409: {description: no value could be written; the results say why for each}
        """
        dry_run = (request.args.get("dryRun") or "").lower() in ("1", "true", "yes")
        try:
            if request.mimetype in ("text/csv", "application/csv", "text/plain"):
                try:
                    text = request.get_data().decode("utf-8")
                except UnicodeDecodeError:
                    return self.response_400(message=_("Tệp CSV phải mã hóa UTF-8."))
                values, defaults = values_from_csv(text), {}
            else:
                payload = request.get_json(silent=True)
                if payload is None:
                    return self.response_400(message=_(
                        "Gửi JSON (Content-Type: application/json) hoặc CSV (text/csv)."))
                values, defaults = values_from_json(payload)
            summary = import_data_values(db.session, values, current_user(), dry_run=dry_run,
                                         defaults=defaults)
        except ImportRefused as error:
            db.session.rollback()
            return self.response_400(message=error.message)
        if dry_run:
            db.session.rollback()
        status = 409 if summary.status == "ERROR" else 200
        return self.response(status, **summary.as_dict())


def register_reports_api(appbuilder) -> None:
    for api in (ReportApi, ReportValueApi, DataValueSetApi):
        appbuilder.add_api(api)
