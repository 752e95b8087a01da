"""The signing screens (app/views/signing.py): the leader signs through the data-to-sign path,
the clerk through downloading, signing and uploading the PDF; the signed PDF downloads
unchanged; the verification page; scoping; the admin uploads."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from sqlalchemy import select

from app.models import Regime, TrustAnchor
from app.models.signing import SigningCertificate, StampImage
from app.signing import engine, pki
from app.signing.images import seal_png
from app.signing.standin import sign_pdf
from app.workflow import transition
from tests import factories
from tests.test_entry_workflow import Person, cycle_today


def _approved(session):
    report, people = cycle_today(session)
    leader = people["leader"]
    leader.last_name, leader.first_name = "Nguyễn Văn", "Lãnh"
    transition(session, report, "submit", people["entry"])
    transition(session, report, "approve", leader)
    der = pki.test_pki().ca.certificate_der
    session.add(TrustAnchor(kind="root", name="CA", der=der,
                            sha256=hashlib.sha256(der).hexdigest()))
    session.commit()
    return report, people


def _textarea(body: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', body)
    assert found, body[:3000]
    return html.unescape(found.group(1)).strip()


def _stage_status(body: str, stage: str) -> str:
    found = re.search(rf'class="sign-stage" data-stage="{stage}" data-status="([a-z]+)"', body)
    assert found, body[:3000]
    return found.group(1)


def test_leader_and_clerk_sign_on_the_signing_page(app_ctx, session):
    report, people = _approved(session)
    test_pki = pki.test_pki()
    url = f"/signing/report/{report.id}"

    leader = Person(app_ctx, "xa1.lanhdao")
    page = leader.get(url)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'id="sign-prepare-form"' in body and _stage_status(body, "leader") == "none"
    prepared = leader.post(f"{url}/prepare", data={
        "certificate_text": test_pki.leader.certificate_pem.decode()})
    assert prepared.status_code == 200, prepared.get_data(as_text=True)[:2000]
    body = prepared.get_data(as_text=True)
    data = base64.b64decode(_textarea(body, "data-to-sign"))
    signature_id = re.search(r'name="signature_id" value="(\d+)"', body).group(1)
    assert _textarea(body, "data-sha256") == hashlib.sha256(data).hexdigest()

    bad = leader.post(f"{url}/finish", data={"signature_id": signature_id,
                                              "signature": "không phải base64!"})
    assert bad.status_code == 422 and "base64" in bad.get_data(as_text=True)
    value = test_pki.leader.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    done = leader.post(f"{url}/finish", data={"signature_id": signature_id,
                                               "signature": base64.b64encode(value).decode()},
                       follow_redirects=True)
    body = done.get_data(as_text=True)
    assert _stage_status(body, "leader") == "signed", body[:3000]

    # the clerk: download the issued PDF, sign it with their own software, upload it
    clerk = Person(app_ctx, "xa1.vanthu")
    issued = clerk.get(f"{url}/issued/agency")
    assert issued.status_code == 200 and issued.mimetype == "application/pdf"
    signed = sign_pdf(pki.to_pkcs12(test_pki.agency, "mk"), "mk", issued.data, "ChuKyCoQuan")
    tampered = signed.replace(b"ChuKyCoQuan", b"ChuKyCoQuaN", 1)
    refused = clerk.post(f"{url}/upload", data={"file": (io.BytesIO(tampered), "ky.pdf")},
                         content_type="multipart/form-data")
    assert refused.status_code == 422
    uploaded = clerk.post(f"{url}/upload", data={"file": (io.BytesIO(signed), "ky.pdf")},
                          content_type="multipart/form-data", follow_redirects=True)
    body = uploaded.get_data(as_text=True)
    assert _stage_status(body, "agency") == "signed", body[:3000]

    rows = engine.signatures_of(session, report)
    download = clerk.get(f"{url}/pdf/{rows['agency'].id}")
    assert download.data == signed
    assert hashlib.sha256(download.data).hexdigest() == rows["agency"].signed_sha256

    checked = clerk.get(f"/verify/signature/{rows['agency'].id}").get_data(as_text=True)
    assert "Tất cả chữ ký hợp lệ" in checked and checked.count('class="verify-row"') == 2
    for column in ("verify-revoked", "verify-expired", "verify-modified"):
        assert checked.count(f'class="{column}">không<') == 2, column

    changed = bytearray(signed)
    index = changed.index(b"stream", 2000) + 40
    changed[index] = (changed[index] + 1) % 256
    result = clerk.post("/verify/", data={"file": (io.BytesIO(bytes(changed)), "x.pdf")},
                        content_type="multipart/form-data").get_data(as_text=True)
    assert "Có chữ ký không hợp lệ" in result and 'class="text-danger"' in result

    # sent: the lead agency downloads the signed PDF of the version
    for row in session.scalars(select(SigningCertificate)):
        row.confirmed = True
    session.commit()
    sent = clerk.post(f"/entry/{report.id}/transition",
                      data={"action": "send", "revision": str(report.revision)})
    assert sent.status_code in (200, 302)
    reviewer = Person(app_ctx, "stc.tonghop")
    received = reviewer.get(f"{url}/version/1/pdf")
    assert received.status_code == 200 and received.data == signed


def test_who_sees_what(app_ctx, session):
    report, people = _approved(session)
    url = f"/signing/report/{report.id}"
    outsider = Person(app_ctx, "xa2.lanhdao")
    assert outsider.get(url).status_code == 404
    entry = Person(app_ctx, "xa1.nhaplieu")
    body = entry.get(url).get_data(as_text=True)
    assert 'id="sign-prepare-form"' not in body
    assert "Chỉ lãnh đạo đã duyệt báo cáo" in body
    refused = entry.post(f"{url}/prepare", data={
        "certificate_text": pki.test_pki().leader.certificate_pem.decode()})
    assert refused.status_code == 422
    assert "Chỉ lãnh đạo đã duyệt báo cáo" in refused.get_data(as_text=True)
    leader = Person(app_ctx, "xa1.lanhdao")
    not_a_certificate = leader.post(f"{url}/prepare", data={"certificate_text": "xin chào"})
    assert not_a_certificate.status_code == 422
    assert "không phải là chứng thư số" in not_a_certificate.get_data(as_text=True)


def test_admin_uploads_roots_certificates_and_images(app_ctx, session):
    report, people = _approved(session)
    factories.user(session, "tinh.qtv", report.regime.receiving_unit,
                   ["Quản trị cấp tỉnh"])
    session.commit()
    admin = Person(app_ctx, "tinh.qtv")
    root = pki.make_ca("CA tỉnh thử")
    ok = admin.post("/signing-admin/anchor", data={
        "name": "CA tỉnh", "file": (io.BytesIO(root.certificate_pem), "ca.pem")},
        content_type="multipart/form-data")
    assert ok.status_code == 302
    assert session.scalar(select(TrustAnchor).where(TrustAnchor.name == "CA tỉnh")) is not None
    again = admin.post("/signing-admin/anchor", data={
        "file": (io.BytesIO(root.certificate_pem), "ca.pem")}, content_type="multipart/form-data")
    assert again.status_code == 422 and "đã được tải lên" in again.get_data(as_text=True)
    text = admin.post("/signing-admin/anchor", data={
        "file": (io.BytesIO(b"hello"), "ca.txt")}, content_type="multipart/form-data")
    assert text.status_code == 422 and "không phải chứng thư" in text.get_data(as_text=True)

    unit = report.unit
    registered = admin.post("/signing-admin/certificate", data={
        "unit_id": str(unit.id),
        "certificate_file": (io.BytesIO(pki.test_pki().agency.certificate_der), "xa.cer")},
        content_type="multipart/form-data")
    assert registered.status_code == 302
    row = session.scalar(select(SigningCertificate).where(SigningCertificate.unit_id == unit.id))
    assert row.confirmed and row.subject == "UBND xã Một"

    image = admin.post("/signing-admin/image", data={
        "unit_id": str(unit.id), "file": (io.BytesIO(seal_png("UBND xã Một", size_px=120)),
                                          "dau.png")}, content_type="multipart/form-data")
    assert image.status_code == 302
    assert session.scalar(select(StampImage).where(StampImage.unit_id == unit.id)) is not None
    not_png = admin.post("/signing-admin/image", data={
        "unit_id": str(unit.id), "file": (io.BytesIO(b"GIF89a"), "dau.gif")},
        content_type="multipart/form-data")
    assert not_png.status_code == 422 and "PNG" in not_png.get_data(as_text=True)


def test_the_regime_form_sets_and_clears_the_signature_requirement(app_ctx, session):
    report, people = _approved(session)
    factories.user(session, "tinh.qtv", report.regime.receiving_unit, ["Quản trị cấp tỉnh"])
    session.commit()
    admin = Person(app_ctx, "tinh.qtv")
    regime = report.regime
    form = admin.get(f"/regimeview/edit/{regime.id}").get_data(as_text=True)
    assert 'name="requires_signature"' in form and "Yêu cầu ký số trước khi gửi" in form
    fields = {
        "code": regime.code, "name": regime.name, "kind": regime.kind,
        "frequency": regime.frequency, "report_kind": regime.report_kind,
        "deadline_rule": regime.deadline_rule, "deadline_working_days": "3",
        "deadline_month_offset": "0", "owner_unit": str(regime.owner_unit_id),
        "lead_unit": str(regime.lead_unit_id), "receiving_unit": str(regime.receiving_unit_id),
        "active": "y",
    }
    admin.post(f"/regimeview/edit/{regime.id}", data=fields | {"requires_signature": "y"})
    session.expire_all()
    assert session.get(Regime, regime.id).requires_signature is True
    admin.post(f"/regimeview/edit/{regime.id}", data=fields)  # the box unticked
    session.expire_all()
    assert session.get(Regime, regime.id).requires_signature is False


def test_the_clerk_signs_a_pdf_attachment_on_the_signing_page(app_ctx, session):
    from app.models import ReportAttachment
    from tests.test_signing import _attach_pdf, _sign_external

    report, people = _approved(session)
    attachment = _attach_pdf(session, report, "danh-sach.pdf")
    _sign_external(session, report, engine.LEADER, people["leader"], pki.test_pki().leader)
    url = f"/signing/report/{report.id}"
    clerk = Person(app_ctx, "xa1.vanthu")
    body = clerk.get(url).get_data(as_text=True)
    assert "danh-sach.pdf" in body and f'id="attachment-{attachment.id}-upload-form"' in body
    issued = clerk.get(f"{url}/attachment/{attachment.id}/issued")
    assert issued.status_code == 200 and issued.data.startswith(attachment.content)
    signed = sign_pdf(pki.to_pkcs12(pki.test_pki().agency, "mk"), "mk", issued.data,
                      "ChuKyCoQuanPhuLuc")
    done = clerk.post(f"{url}/upload", data={"attachment_id": str(attachment.id),
                                              "file": (io.BytesIO(signed), "ky.pdf")},
                      content_type="multipart/form-data", follow_redirects=True)
    body = done.get_data(as_text=True)
    assert re.search(rf'data-attachment="{attachment.id}" data-status="signed"', body), \
        body[:3000]
    row = engine.attachment_signatures_of(session, report)[attachment.id]
    assert clerk.get(f"{url}/pdf/{row.id}").data == signed
    assert session.get(ReportAttachment, attachment.id).content == attachment.content


def test_a_unit_admin_confirms_a_certificate_registered_on_first_use(app_ctx, session):
    from app.roles import UNIT_ADMIN
    from app.signing import certificates

    report, people = _approved(session)
    factories.user(session, "xa1.quantri", report.unit, [UNIT_ADMIN])
    factories.user(session, "xa2.quantri", people["foreign_leader"].unit, [UNIT_ADMIN])
    row = certificates.register(session, pki.test_pki().leader.certificate_der,
                                person=people["leader"], by=people["leader"])
    session.commit()
    assert not row.confirmed
    outsider = Person(app_ctx, "xa2.quantri")
    assert "Nguyễn Văn Lãnh" not in outsider.get("/signingcertificateview/list/").get_data(
        as_text=True)
    admin = Person(app_ctx, "xa1.quantri")
    listed = admin.get("/signingcertificateview/list/").get_data(as_text=True)
    assert "Nguyễn Văn Lãnh" in listed
    admin.post("/signingcertificateview/action_post",
               data={"action": "confirm", "rowid": [str(row.id)]})
    session.expire_all()
    confirmed = session.get(SigningCertificate, row.id)
    assert confirmed.confirmed and confirmed.confirmed_by.username == "xa1.quantri"
