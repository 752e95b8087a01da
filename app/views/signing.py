"""Screens of digital signing: the signing page of a report (the leader's signature, then the
agency's; with a USB token or signing provider through the data to sign, or by uploading a PDF
signed with the person's own software), downloads of signed PDFs, the verification page for any
PDF, and the admin lists of roots of trust, registered certificates and stamp images.

Thin: app.signing.engine decides who signs what and verifies; app.scoping confines every list."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.actions import action
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.errors import DomainError
from app.extensions import db
from app.formatting import format_datetime
from app.models import AppUser, Report, ReportAttachment, ReportVersion, TrustAnchor, Unit
from app.models.signing import ReportSignature, SigningCertificate, StampImage
from app.scoping import current_user, is_provincial_admin, read_criterion, unit_in_scope
from app.signing import certificates, engine, keys
from app.signing.verify import verify_pdf
from app.text import nfc
from app.views.base import (
    ScopedInterface,
    ScopedModelView,
    check_csrf,
    readable_report_or_404,
)

MAX_PDF_BYTES = 20 * 1024 * 1024
MAX_CERTIFICATE_BYTES = 64 * 1024
MAX_IMAGE_BYTES = 2 * 1024 * 1024
STATUS_WORDS = {
    None: _l("chưa ký"),
    "issued": _l("đang chờ ký"),
    "prepared": _l("đang chờ chữ ký từ thiết bị ký"),
    "signed": _l("đã ký"),
}


_check_csrf = check_csrf


def _uploaded(name: str, limit: int) -> bytes | None:
    """The bytes of an uploaded file field, None when none was chosen; DomainError when too big."""
    file = request.files.get(name)
    if file is None or not file.filename:
        return None
    data = file.read(limit + 1)
    if len(data) > limit:
        raise DomainError(_("Tệp quá lớn (tối đa %(mb)s MB).", mb=limit // (1024 * 1024) or 1),
                          field=name)
    if not data:
        raise DomainError(_("Tệp tải lên rỗng."), field=name)
    return data


def read_certificate(data: bytes | None, text: str | None) -> bytes:
    """A certificate given as a file (DER or PEM) or as pasted PEM/base64 text, as DER."""
    raw = data if data else (text or "").strip().encode("ascii", "ignore")
    if not raw:
        raise DomainError(_("Hãy chọn tệp chứng thư số (.cer, .crt, .pem) hoặc dán nội dung."),
                          field="certificate_file")
    try:
        if b"-----BEGIN" in raw:
            return x509.load_pem_x509_certificate(raw).public_bytes(Encoding.DER)
        if data is None:
            raw = base64.b64decode(b"".join(raw.split()), validate=True)
        return x509.load_der_x509_certificate(raw).public_bytes(Encoding.DER)
    except (ValueError, binascii.Error) as error:
        raise DomainError(_("Tệp hoặc nội dung đã cho không phải là chứng thư số X.509."),
                          field="certificate_file") from error


def _pdf_response(pdf: bytes, filename: str) -> Response:
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{filename.encode('ascii', 'ignore').decode()}\"; "
        f"filename*=UTF-8''{quote(filename)}"
    )
    return response


def _file_stem(report: Report) -> str:
    return f"{report.form_code}-{report.unit.admin_code or report.unit.internal_code or report.unit_id}-{report.period.label}".replace("/", "-").replace(" ", "_")


def _checks_view(checks) -> list[dict]:
    return [dict(c.as_dict(), ok=c.ok) for c in checks]


class ReportSigningView(BaseView):
    """The signing page of one report."""

    route_base = "/signing"
    default_view = "report"

    @staticmethod
    def _report(report_id: int) -> Report:
        return readable_report_or_404(report_id)

    def _page(self, report: Report, request_for=None, status: int = 200):
        from flask_wtf.csrf import generate_csrf

        user = current_user()
        rows = engine.signatures_of(db.session, report)
        stages = []
        for stage in engine.STAGES:
            row = rows.get(stage)
            refusal = engine.stage_refusal(db.session, user, report, stage)
            stages.append({
                "stage": stage, "title": engine.STAGE_WORDS[stage], "row": row,
                "status": row.status if row else None,
                "status_word": STATUS_WORDS.get(row.status if row else None),
                "may_sign": refusal is None, "refusal": refusal,
                "checks": json.loads(row.verification) if row and row.verification else [],
                "signed_at": format_datetime(row.signed_at) if row and row.signed_at else "",
                "signer": row.signed_by.full_name if row and row.signed_by else "",
            })
        signed_attachments = engine.attachment_signatures_of(db.session, report)
        attachments = []
        for attachment in engine.pdf_attachments(db.session, report):
            row = signed_attachments.get(attachment.id)
            refusal = engine.attachment_refusal(db.session, user, report, attachment)
            attachments.append({
                "attachment": attachment, "row": row,
                "status": row.status if row else None,
                "status_word": STATUS_WORDS.get(row.status if row else None),
                "may_sign": refusal is None, "refusal": refusal,
            })
        versions = db.session.scalars(
            select(ReportVersion).where(ReportVersion.report_id == report.id,
                                        ReportVersion.signature_id.is_not(None))
            .order_by(ReportVersion.number)).all()
        return self.render_template(
            "signing/report.html", report=report, stages=stages, request_for=request_for,
            attachments=attachments, server_keys=keys.configured(current_app.config),
            next_stage=engine.next_stage(db.session, report), versions=versions,
            requires=report.regime.requires_signature, csrf=generate_csrf(),
            approved=engine.approval_event(db.session, report) is not None,
        ), status

    def _attachment(self, report: Report, attachment_id: int):
        attachment = db.session.get(ReportAttachment, attachment_id)
        if attachment is None or attachment.report_id != report.id:
            abort(404)
        return attachment

    def _open_row(self, report: Report) -> ReportSignature:
        """The open signature row the form is about: a PDF attachment's (attachment_id given)
        or the report's next stage."""
        attachment_id = request.form.get("attachment_id", type=int)
        if attachment_id:
            return engine.current_attachment_issue(
                db.session, report, self._attachment(report, attachment_id), current_user())
        stage = engine.next_stage(db.session, report) or engine.LEADER
        return engine.current_issue(db.session, report, stage, current_user())

    def _refused(self, report: Report, error: DomainError):
        db.session.rollback()
        flash(error.message, "danger")
        db.session.refresh(report)
        return self._page(report, status=422)

    @expose("/report/<int:report_id>")
    @has_access
    def report(self, report_id: int):
        return self._page(self._report(report_id))

    @expose("/report/<int:report_id>/prepare", methods=["POST"])
    @has_access
    def prepare(self, report_id: int):
        """The person's certificate in, the data their token or provider signs out."""
        _check_csrf()
        report = self._report(report_id)
        try:
            der = read_certificate(_uploaded("certificate_file", MAX_CERTIFICATE_BYTES),
                                   request.form.get("certificate_text"))
            row = self._open_row(report)
            stage = row.stage
            digest = engine.prepare(db.session, row, der, current_user(),
                                    settings=engine.SigningSettings.from_config(current_app.config))
            db.session.commit()
        except DomainError as error:
            return self._refused(report, error)
        return self._page(report, request_for={
            "signature_id": digest.signature_id, "stage": stage,
            "attachment_id": row.attachment_id,
            "data": base64.b64encode(digest.data_to_sign).decode("ascii"),
            "sha256": digest.data_sha256.hex(),
            "sha256_b64": base64.b64encode(digest.data_sha256).decode("ascii"),
        })

    @expose("/report/<int:report_id>/finish", methods=["POST"])
    @has_access
    def finish(self, report_id: int):
        """The signature value the token or provider returned, embedded and verified."""
        _check_csrf()
        report = self._report(report_id)
        try:
            row = db.session.get(ReportSignature, request.form.get("signature_id", type=int) or 0)
            if row is None or row.report_id != report.id or row.status != "prepared":
                raise DomainError(_("Phiên ký này đã hết hoặc đã được bắt đầu lại; hãy ký lại."))
            text = "".join((request.form.get("signature") or "").split())
            try:
                value = base64.b64decode(text, validate=True) if text else b""
            except (binascii.Error, ValueError) as error:
                raise DomainError(_("Giá trị chữ ký phải là chuỗi base64 do thiết bị ký trả về."),
                                  field="signature") from error
            engine.finish(db.session, row, value, current_user(),
                          settings=engine.SigningSettings.from_config(current_app.config))
            db.session.commit()
        except DomainError as error:
            return self._refused(report, error)
        flash(_("Đã ký: %(stage)s.", stage=engine.STAGE_WORDS[row.stage]), "success")
        return redirect(url_for("ReportSigningView.report", report_id=report.id))

    @expose("/report/<int:report_id>/issued/<stage>")
    @has_access
    def issued(self, report_id: int, stage: str):
        """The PDF the stage signs, for signing with the person's own software."""
        report = self._report(report_id)
        try:
            row = engine.current_issue(db.session, report, stage, current_user())
            db.session.commit()
        except DomainError as error:
            return self._refused(report, error)
        return _pdf_response(row.issued_pdf, f"{_file_stem(report)}-can-ky-{stage}.pdf")

    @expose("/report/<int:report_id>/attachment/<int:attachment_id>/issued")
    @has_access
    def attachment_issued(self, report_id: int, attachment_id: int):
        """A PDF attachment with its empty agency signature field, for the clerk's software."""
        report = self._report(report_id)
        attachment = self._attachment(report, attachment_id)
        try:
            row = engine.current_attachment_issue(db.session, report, attachment,
                                                  current_user())
            db.session.commit()
        except DomainError as error:
            return self._refused(report, error)
        return _pdf_response(row.issued_pdf, f"can-ky-{attachment.filename}")

    @expose("/report/<int:report_id>/upload", methods=["POST"])
    @has_access
    def upload(self, report_id: int):
        """A PDF signed with the person's own software."""
        _check_csrf()
        report = self._report(report_id)
        try:
            data = _uploaded("file", MAX_PDF_BYTES)
            if data is None:
                raise DomainError(_("Hãy chọn tệp PDF đã ký."), field="file")
            row = self._open_row(report)
            stage = row.stage
            engine.accept_upload(db.session, row, data, current_user())
            db.session.commit()
        except DomainError as error:
            return self._refused(report, error)
        flash(_("Đã nhận tệp đã ký: %(stage)s.", stage=engine.STAGE_WORDS[stage]), "success")
        return redirect(url_for("ReportSigningView.report", report_id=report.id))

    @expose("/report/<int:report_id>/server", methods=["POST"])
    @has_access
    def server(self, report_id: int):
        """The agency's signature with a key the province holds (HSM), when configured."""
        _check_csrf()
        report = self._report(report_id)
        try:
            stage = engine.next_stage(db.session, report) or engine.LEADER
            with keys.server_signer(current_app.config, stage, report.unit,
                                    person=current_user()) as held:
                if held is None:
                    raise DomainError(_("Máy chủ không giữ khóa ký cho bước này."))
                signer, method = held
                row = engine.current_issue(db.session, report, stage, current_user())
                engine.sign_on_server(db.session, row, signer, current_user(), method=method,
                                      settings=engine.SigningSettings.from_config(
                                          current_app.config))
            db.session.commit()
        except DomainError as error:
            return self._refused(report, error)
        flash(_("Đã ký: %(stage)s.", stage=engine.STAGE_WORDS[stage]), "success")
        return redirect(url_for("ReportSigningView.report", report_id=report.id))

    @expose("/report/<int:report_id>/pdf/<int:signature_id>")
    @has_access
    def pdf(self, report_id: int, signature_id: int):
        """A signed PDF, byte for byte as it was signed."""
        report = self._report(report_id)
        row = db.session.get(ReportSignature, signature_id)
        if row is None or row.report_id != report.id or row.signed_pdf is None:
            abort(404)
        return _pdf_response(row.signed_pdf, f"{_file_stem(report)}-da-ky-{row.stage}.pdf")

    @expose("/report/<int:report_id>/version/<int:number>/pdf")
    @has_access
    def version_pdf(self, report_id: int, number: int):
        """The signed PDF a version was sent as (what the lead agency received)."""
        report = self._report(report_id)
        version = db.session.scalars(select(ReportVersion).where(
            ReportVersion.report_id == report.id, ReportVersion.number == number)).first()
        row = engine.signed_pdf_of_version(db.session, version)
        if row is None or row.signed_pdf is None:
            abort(404)
        return _pdf_response(row.signed_pdf, f"{_file_stem(report)}-ban-{number}.pdf")


class SignatureVerificationView(BaseView):
    """Verify the signatures of any PDF, or of a stored signed PDF."""

    route_base = "/verify"
    default_view = "form"

    def _render(self, checks=None, name: str = "", sha256: str = "", status: int = 200):
        from flask_wtf.csrf import generate_csrf

        return self.render_template(
            "signing/verification.html", checks=_checks_view(checks) if checks is not None
            else None, name=name, sha256=sha256, csrf=generate_csrf(),
        ), status

    @expose("/", methods=["GET", "POST"])
    @has_access
    def form(self):
        if request.method == "GET":
            return self._render()
        _check_csrf()
        try:
            data = _uploaded("file", MAX_PDF_BYTES)
            if data is None:
                raise DomainError(_("Hãy chọn tệp PDF cần kiểm tra."), field="file")
        except DomainError as error:
            flash(error.message, "danger")
            return self._render(status=422)
        checks = verify_pdf(db.session, data)
        if not checks:
            flash(_("Tệp PDF này không có chữ ký số nào."), "warning")
        return self._render(checks, nfc(request.files["file"].filename),
                            hashlib.sha256(data).hexdigest())

    @expose("/signature/<int:signature_id>")
    @has_access
    def stored(self, signature_id: int):
        row = db.session.get(ReportSignature, signature_id)
        criterion = read_criterion(Report, current_user())
        if row is None or row.signed_pdf is None:
            abort(404)
        if criterion is not None and db.session.scalar(
                select(Report.id).where(Report.id == row.report_id, criterion)) is None:
            abort(404)
        return self._render(verify_pdf(db.session, row.signed_pdf),
                            f"{_file_stem(row.report)}-{row.stage}.pdf", row.signed_sha256)


# -- admin lists --------------------------------------------------------------------------------


class TrustAnchorView(ScopedModelView):
    datamodel = ScopedInterface(TrustAnchor)
    list_title = _l("Gốc tin cậy và danh sách thu hồi (CRL)")
    list_columns = ["name", "kind", "subject", "valid_until", "active", "uploaded_at"]
    show_columns = ["name", "kind", "subject", "sha256", "valid_until", "active", "uploaded_by",
                    "uploaded_at"]
    edit_columns = ["name", "active"]
    base_permissions = ["can_list", "can_show", "can_edit"]
    label_columns = {
        "name": _l("Tên"), "kind": _l("Loại (root: gốc tin cậy, crl: danh sách thu hồi)"),
        "subject": _l("Chủ thể"), "sha256": _l("SHA-256"), "valid_until": _l("Hiệu lực đến"),
        "active": _l("Đang dùng"), "uploaded_by": _l("Người tải lên"),
        "uploaded_at": _l("Thời điểm tải lên"),
    }


class SigningCertificateView(ScopedModelView):
    datamodel = ScopedInterface(SigningCertificate)
    list_title = _l("Chứng thư số đã đăng ký")
    list_columns = ["subject", "issuer", "serial", "not_after", "person", "unit", "confirmed"]
    show_columns = ["subject", "issuer", "serial", "sha256", "not_before", "not_after", "person",
                    "unit", "confirmed", "registered_by", "registered_at", "confirmed_by",
                    "confirmed_at"]
    search_columns = ["subject", "serial", "person", "unit", "confirmed"]
    base_permissions = ["can_list", "can_show"]
    label_columns = {
        "subject": _l("Tên trên chứng thư"), "issuer": _l("Tổ chức cấp"), "serial": _l("Số hiệu"),
        "sha256": _l("SHA-256"), "not_before": _l("Hiệu lực từ"), "not_after": _l("Hiệu lực đến"),
        "person": _l("Của người"), "unit": _l("Của đơn vị"), "confirmed": _l("Đã xác nhận"),
        "registered_by": _l("Người đăng ký"), "registered_at": _l("Thời điểm đăng ký"),
        "confirmed_by": _l("Người xác nhận"), "confirmed_at": _l("Thời điểm xác nhận"),
    }

    @action("confirm", _l("Xác nhận"), _l("Xác nhận các chứng thư số đã chọn?"), "fa-check",
            single=False)
    def confirm(self, items):
        if not isinstance(items, list):
            items = [items]
        for item in items:
            certificates.confirm(db.session, item, current_user())
        db.session.commit()
        flash(_("Đã xác nhận %(count)s chứng thư số.", count=len(items)), "success")
        return redirect(self.get_redirect())


class StampImageView(ScopedModelView):
    datamodel = ScopedInterface(StampImage)
    list_title = _l("Hình chữ ký, con dấu")
    list_columns = show_columns = ["person", "unit", "uploaded_at"]
    base_permissions = ["can_list", "can_show", "can_delete"]
    label_columns = {"person": _l("Chữ ký của"), "unit": _l("Con dấu của"),
                     "uploaded_at": _l("Thời điểm tải lên")}


class SigningAdminView(BaseView):
    """Uploads: a root or CRL (provincial admin), a certificate registered to a person or a unit,
    a signature or seal image (unit admins within their subtree)."""

    route_base = "/signing-admin"
    default_view = "uploads"

    def _choices(self):
        user = current_user()
        units = db.session.scalars(select(Unit).where(Unit.active.is_(True))
                                   .order_by(Unit.path)).all()
        people = db.session.scalars(select(AppUser).where(AppUser.active.is_(True))
                                    .order_by(AppUser.username)).all()
        return ([u for u in units if unit_in_scope(u, user)],
                [p for p in people if p.unit is not None and unit_in_scope(p.unit, user)])

    def _page(self, status: int = 200):
        from flask_wtf.csrf import generate_csrf

        units, people = self._choices()
        return self.render_template("signing/admin.html", units=units, people=people,
                                    csrf=generate_csrf(),
                                    is_admin=is_provincial_admin(current_user())), status

    def _owner(self):
        units, people = self._choices()
        unit_id = request.form.get("unit_id", type=int)
        person_id = request.form.get("person_id", type=int)
        if bool(unit_id) == bool(person_id):
            raise DomainError(_("Chọn một người hoặc một đơn vị (chỉ một)."), field="person_id")
        unit = next((u for u in units if u.id == unit_id), None) if unit_id else None
        person = next((p for p in people if p.id == person_id), None) if person_id else None
        if unit is None and person is None:
            raise DomainError(_("Người hoặc đơn vị đã chọn nằm ngoài phạm vi quản lý của bạn."))
        return person, unit

    @expose("/")
    @has_access
    def uploads(self):
        return self._page()

    @expose("/anchor", methods=["POST"])
    @has_access
    def anchor(self):
        _check_csrf()
        try:
            if not is_provincial_admin(current_user()):
                raise DomainError(_("Chỉ quản trị cấp tỉnh được tải lên gốc tin cậy."))
            data = _uploaded("file", MAX_CERTIFICATE_BYTES * 16)
            if data is None:
                raise DomainError(_("Hãy chọn tệp chứng thư gốc hoặc CRL."), field="file")
            kind, der, subject, until = _anchor_of(data)
            digest = hashlib.sha256(der).hexdigest()
            if db.session.scalar(select(TrustAnchor.id).where(TrustAnchor.sha256 == digest)):
                raise DomainError(_("Tệp này đã được tải lên trước đó."), field="file")
            name = nfc(request.form.get("name") or "").strip() or subject
            db.session.add(TrustAnchor(kind=kind, name=name[:255], der=der, sha256=digest,
                                       subject=subject[:500], valid_until=until,
                                       uploaded_by_id=current_user().id))
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return self._page(status=422)
        flash(_("Đã thêm %(kind)s «%(name)s».", kind=_("gốc tin cậy") if kind == "root"
                else _("danh sách thu hồi"), name=name), "success")
        return redirect(url_for("SigningAdminView.uploads"))

    @expose("/certificate", methods=["POST"])
    @has_access
    def certificate(self):
        _check_csrf()
        try:
            person, unit = self._owner()
            der = read_certificate(_uploaded("certificate_file", MAX_CERTIFICATE_BYTES),
                                   request.form.get("certificate_text"))
            row = certificates.register(db.session, der, person=person, unit=unit,
                                        by=current_user(), confirmed=True)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return self._page(status=422)
        flash(_("Đã đăng ký chứng thư số «%(name)s».", name=row.subject), "success")
        return redirect(url_for("SigningAdminView.uploads"))

    @expose("/image", methods=["POST"])
    @has_access
    def image(self):
        _check_csrf()
        try:
            person, unit = self._owner()
            data = _uploaded("file", MAX_IMAGE_BYTES)
            if data is None or not _is_png(data):
                raise DomainError(_("Hình chữ ký hoặc con dấu phải là tệp PNG (nền trong suốt)."),
                                  field="file")
            owner = {"person_id": person.id} if person else {"unit_id": unit.id}
            row = db.session.scalars(select(StampImage).filter_by(**owner)).first()
            if row is None:
                row = StampImage(**owner, png=data)
                db.session.add(row)
            row.png = data
            row.uploaded_by_id = current_user().id
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return self._page(status=422)
        flash(_("Đã lưu hình."), "success")
        return redirect(url_for("SigningAdminView.uploads"))


def _is_png(data: bytes) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(io.BytesIO(data)).format == "PNG"
    except (UnidentifiedImageError, OSError):
        return False


def _anchor_of(data: bytes):
    """(kind, DER, subject, valid until) of an uploaded root certificate or CRL."""
    pem = b"-----BEGIN" in data
    try:
        cert = (x509.load_pem_x509_certificate(data) if pem
                else x509.load_der_x509_certificate(data))
        return ("root", cert.public_bytes(Encoding.DER), cert.subject.rfc4514_string(),
                cert.not_valid_after_utc.replace(tzinfo=None))
    except ValueError:
        pass
    try:
        crl = x509.load_pem_x509_crl(data) if pem else x509.load_der_x509_crl(data)
        until = crl.next_update_utc.replace(tzinfo=None) if crl.next_update_utc else None
        return "crl", crl.public_bytes(Encoding.DER), crl.issuer.rfc4514_string(), until
    except ValueError as error:
        raise DomainError(_("Tệp không phải chứng thư số gốc hay danh sách thu hồi (CRL) "
                            "dạng PEM hoặc DER."), field="file") from error


def register_signing_views(appbuilder) -> None:
    signing = _l("Ký số")
    appbuilder.add_view_no_menu(ReportSigningView)
    appbuilder.add_view(SignatureVerificationView, "Kiểm tra chữ ký số",
                        label=_l("Kiểm tra chữ ký số"), icon="fa-check-square-o",
                        category="Ký số", category_label=signing, category_icon="fa-certificate")
    appbuilder.add_view(SigningCertificateView, "Chứng thư số đã đăng ký",
                        label=_l("Chứng thư số đã đăng ký"), icon="fa-id-card-o",
                        category="Ký số")
    appbuilder.add_view(StampImageView, "Hình chữ ký, con dấu", label=_l("Hình chữ ký, con dấu"),
                        icon="fa-picture-o", category="Ký số")
    appbuilder.add_view(SigningAdminView, "Tải lên chứng thư, hình", label=_l(
        "Tải lên chứng thư, hình"), icon="fa-upload", category="Ký số")
    appbuilder.add_view(TrustAnchorView, "Gốc tin cậy", label=_l("Gốc tin cậy"),
                        icon="fa-shield", category="Ký số")
