"""Signing a report (app/signing/engine.py) and verifying it (app/signing/verify.py): the
leader's signature through the external path (prepare, the stand-in tool signs the data,
embed), the agency's as a second incremental signature, and every refusal the issue lists."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pypdf import PdfReader

from app.models import ReportAttachment, ReportVersion, TrustAnchor
from app.models.signing import ReportSignature, SigningCertificate
from app.render_pdf import ATTACHMENT_NAME
from app.signing import certificates, engine, pki, stamps
from app.signing.engine import AGENCY, LEADER, SigningRefused
from app.signing.standin import sign_digest
from app.signing.verify import verify_pdf
from app.workflow import TransitionRefused, canonical_values, transition
from tests.test_workflow import cycle_setup

PASSWORD = "thu-nghiem"


def _trust(session, *issued) -> None:
    for ca in issued:
        der = ca.certificate_der
        session.add(TrustAnchor(kind="root", name="CA thử nghiệm", der=der,
                                sha256=hashlib.sha256(der).hexdigest()))
    session.flush()


def _approved(session, *, position: str | None = None):
    """The cycle's report approved by a leader named as the test PKI's leader."""
    report, people = cycle_setup(session)
    leader = people["leader"]
    leader.last_name, leader.first_name = "Nguyễn Văn", "Lãnh"
    leader.position = position
    transition(session, report, "submit", people["entry"])
    transition(session, report, "approve", leader)
    _trust(session, pki.test_pki().ca)
    session.commit()
    return report, people


def _sign_external(session, report, stage: str, user, issued) -> list:
    """The main path: prepare, the stand-in tool signs the data with the key, embed."""
    row = engine.current_issue(session, report, stage, user)
    request = engine.prepare(session, row, issued.certificate_der, user)
    p12 = pki.to_pkcs12(issued, PASSWORD)
    value = sign_digest(p12, PASSWORD, request.data_to_sign)
    checks = engine.finish(session, row, value, user)
    session.commit()
    return checks


def leader_signed(session, *, settings=None):
    """An approved report with the leader's signature made through the data to sign."""
    report, people = _approved(session)
    leader = people["leader"]
    row = engine.current_issue(session, report, LEADER, leader)
    request = engine.prepare(session, row, pki.test_pki().leader.certificate_der, leader,
                             settings=settings)
    value = pki.test_pki().leader.private_key.sign(request.data_to_sign, padding.PKCS1v15(),
                                                   hashes.SHA256())
    checks = engine.finish(session, row, value, leader, settings=settings)
    session.commit()
    return report, people, row, checks


def _signed_both(session):
    report, people = _approved(session)
    test_pki = pki.test_pki()
    _sign_external(session, report, LEADER, people["leader"], test_pki.leader)
    _sign_external(session, report, AGENCY, people["clerk"], test_pki.agency)
    rows = engine.signatures_of(session, report)
    return report, people, rows


def test_leader_then_agency_sign_and_both_verify(session):
    report, people, rows = _signed_both(session)
    assert rows[LEADER].status == rows[AGENCY].status == "signed"
    pdf = rows[AGENCY].signed_pdf
    assert pdf.startswith(rows[LEADER].signed_pdf)  # the agency signature is incremental
    assert rows[AGENCY].signed_sha256 == hashlib.sha256(pdf).hexdigest()

    checks = verify_pdf(session, pdf)
    assert [c.field for c in checks] == ["ChuKyLanhDao", "ChuKyCoQuan"]
    assert [c.signer for c in checks] == ["Nguyễn Văn Lãnh", "UBND xã Một"]
    assert all(c.ok and c.intact and c.valid and c.trusted for c in checks), checks
    assert checks[1].covers_whole_document and not checks[0].covers_whole_document
    assert not checks[0].modified_after  # only a signature came after the leader's
    assert checks[0].signing_time.endswith("+07:00")

    # the text reads as the form, with the Vietnamese title and unit name exactly
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Biểu thử" in text and "UBND XÃ MỘT" in text and "Nguyễn Văn Lãnh" in text
    # the canonical values travel inside the signed PDF, and their hash with the report
    reader = PdfReader(io.BytesIO(pdf))
    embedded = reader.attachments[ATTACHMENT_NAME][0]
    values_text, values_hash = canonical_values(session, report)
    assert embedded.decode("utf-8") == values_text
    assert rows[AGENCY].values_hash == values_hash

    # the certificates used were registered to the leader and to the unit on first use
    leader_cert = session.get(SigningCertificate, rows[LEADER].certificate_id)
    agency_cert = session.get(SigningCertificate, rows[AGENCY].certificate_id)
    assert leader_cert.person_id == people["leader"].id and not leader_cert.confirmed
    assert agency_cert.unit_id == report.unit_id


def test_the_seal_overlaps_the_left_third_of_the_leader_signature(session):
    report, people, rows = _signed_both(session)
    reader = PdfReader(io.BytesIO(rows[AGENCY].signed_pdf))
    rects = {}
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            widget = annotation.get_object()
            if widget.get("/FT") == "/Sig" or widget.get("/Parent") is not None:
                name = widget.get("/T") or widget["/Parent"].get_object().get("/T")
                rects[str(name)] = [float(v) for v in widget["/Rect"]]
    leader, seal = rects["ChuKyLanhDao"], rects["ChuKyCoQuan"]
    # the signature image is drawn centred in the leader's field, at its aspect ratio
    width, height = leader[2] - leader[0], leader[3] - leader[1]
    image_width = min(width - 10, (height - 10) * stamps.SIGNATURE_ASPECT)
    image_left = leader[0] + (width - image_width) / 2
    assert abs(seal[2] - (image_left + image_width / 3)) <= 1  # ends a third into the image
    assert seal[0] < image_left  # and covers all of that left third
    assert seal[1] <= leader[1] and seal[3] >= leader[3]  # over the whole height


def test_the_agency_time_on_attachments_is_iso_8601_in_vietnam_time():
    params = stamps.text_params("UBND xã Một", dt.datetime(2026, 11, 24, 1, 2, 3))
    assert params == {"agency": "UBND xã Một", "vntime": "2026-11-24T08:02:03+07:00"}


def test_a_deputy_signs_on_behalf_of_the_head(session):
    report, people = _approved(session, position="Phó Chủ tịch UBND xã")
    assert engine.signature_titles("Phó Chủ tịch UBND xã") == ("Phó Chủ tịch UBND xã",
                                                                "Chủ tịch UBND xã")
    row = engine.current_issue(session, report, LEADER, people["leader"])
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(row.issued_pdf)).pages)
    assert "KT. CHỦ TỊCH UBND XÃ" in text and "PHÓ CHỦ TỊCH UBND XÃ" in text


def test_a_changed_byte_is_detected(session):
    _report, _people, rows = _signed_both(session)
    pdf = bytearray(rows[AGENCY].signed_pdf)
    # a byte inside the signed range of both signatures (the page content, not the header)
    index = pdf.index(b"stream", 2000) + 40
    pdf[index] = (pdf[index] + 1) % 256
    checks = verify_pdf(session, bytes(pdf))
    assert checks and not all(c.ok for c in checks)
    assert any("thay đổi sau khi ký" in p or "Không đọc được" in p
               for c in checks for p in c.problems)


def test_an_incremental_edit_after_signing_is_detected(session):
    _report, _people, rows = _signed_both(session)
    writer = IncrementalPdfFileWriter(io.BytesIO(rows[AGENCY].signed_pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    from pyhanko.pdf_utils import generic

    stream = generic.StreamObject(stream_data=b"BT /F1 12 Tf 50 50 Td (SUA SO LIEU) Tj ET")
    contents = page["/Contents"]
    array = generic.ArrayObject(list(contents) if isinstance(contents, generic.ArrayObject)
                                else [page.raw_get("/Contents")])
    array.append(writer.add_object(stream))
    page["/Contents"] = array
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    checks = verify_pdf(session, out.getvalue())
    assert len(checks) == 2
    assert all(c.intact for c in checks)  # the signed bytes are untouched…
    assert all(c.modified_after for c in checks)  # …but the document changed after them
    assert all(any("bị sửa sau chữ ký" in p for p in c.problems) for c in checks)


def test_an_untrusted_root_is_refused(session):
    report, people = _approved(session)
    test_pki = pki.test_pki()
    with pytest.raises(SigningRefused, match="không do tổ chức chứng thực được tỉnh tin cậy"):
        _sign_external(session, report, LEADER, people["leader"], test_pki.untrusted_leader)
    session.rollback()
    assert engine.next_stage(session, report) == LEADER


def test_a_leader_signature_with_another_persons_certificate_is_refused(session):
    report, people = _approved(session)
    test_pki = pki.test_pki()
    with pytest.raises(SigningRefused, match="không mang tên lãnh đạo đã duyệt"):
        _sign_external(session, report, LEADER, people["leader"], test_pki.other_person)
    session.rollback()
    # registered to someone else: refused even when the name would match
    certificates.register(session, test_pki.leader.certificate_der, person=people["entry"],
                          confirmed=True)
    session.commit()
    with pytest.raises(SigningRefused, match="được đăng ký cho"):
        _sign_external(session, report, LEADER, people["leader"], test_pki.leader)


def test_an_agency_signature_with_another_units_certificate_is_refused(session):
    report, people = _approved(session)
    test_pki = pki.test_pki()
    _sign_external(session, report, LEADER, people["leader"], test_pki.leader)
    with pytest.raises(SigningRefused, match="đơn vị gửi báo cáo"):
        _sign_external(session, report, AGENCY, people["clerk"], test_pki.other_agency)


def test_an_expired_or_revoked_certificate_is_refused(session):
    report, people = _approved(session)
    test_pki = pki.test_pki()
    expired = pki.issue_person(test_pki.ca, "Nguyễn Văn Lãnh",
                               now=dt.datetime.now(dt.UTC) - dt.timedelta(days=400),
                               days=30)
    with pytest.raises(SigningRefused, match="hết hạn"):
        _sign_external(session, report, LEADER, people["leader"], expired)
    session.rollback()

    revoked = pki.issue_person(test_pki.ca, "Nguyễn Văn Lãnh")
    crl = pki.make_crl(test_pki.ca, [revoked.certificate])
    from cryptography.hazmat.primitives.serialization import Encoding

    crl_der = crl.public_bytes(Encoding.DER)
    session.add(TrustAnchor(kind="crl", name="CRL", der=crl_der,
                            sha256=hashlib.sha256(crl_der).hexdigest()))
    session.commit()
    with pytest.raises(SigningRefused, match="thu hồi"):
        _sign_external(session, report, LEADER, people["leader"], revoked)


def test_order_and_who_signs(session):
    report, people = _approved(session)
    with pytest.raises(SigningRefused, match="lãnh đạo trước"):
        engine.issue(session, report, AGENCY, people["clerk"])
    with pytest.raises(SigningRefused, match="lãnh đạo đã duyệt"):
        engine.issue(session, report, LEADER, people["foreign_leader"])
    with pytest.raises(SigningRefused, match="lãnh đạo đã duyệt"):
        engine.issue(session, report, LEADER, people["clerk"])


def test_an_uploaded_pdf_must_keep_the_issued_bytes(session):
    report, people = _approved(session)
    test_pki = pki.test_pki()
    _sign_external(session, report, LEADER, people["leader"], test_pki.leader)
    row = engine.current_issue(session, report, AGENCY, people["clerk"])
    session.commit()
    from app.signing.standin import sign_pdf

    p12 = pki.to_pkcs12(test_pki.agency, PASSWORD)
    signed = sign_pdf(p12, PASSWORD, row.issued_pdf, engine.FIELD_NAMES[AGENCY])

    # the same signature over a re-written (not byte-identical) copy is refused
    rewritten = row.issued_pdf.replace(b"/Producer", b"/Producer ", 1)
    other = sign_pdf(p12, PASSWORD, rewritten, engine.FIELD_NAMES[AGENCY])
    with pytest.raises(SigningRefused, match="không giữ nguyên tệp đã cấp"):
        engine.accept_upload(session, row, other, people["clerk"])
    with pytest.raises(SigningRefused, match="không phải là PDF"):
        engine.accept_upload(session, row, b"not a pdf", people["clerk"])

    checks = engine.accept_upload(session, row, signed, people["clerk"])
    session.commit()
    assert [c.ok for c in checks] == [True, True]
    assert row.status == "signed" and row.method == "upload" and row.signed_pdf == signed


def test_sending_requires_both_signatures_where_the_regime_says_so(session):
    report, people = _approved(session)
    report.regime.requires_signature = True
    session.commit()
    with pytest.raises(TransitionRefused, match="chữ ký của lãnh đạo"):
        transition(session, report, "send", people["clerk"])
    session.rollback()
    test_pki = pki.test_pki()
    _sign_external(session, report, LEADER, people["leader"], test_pki.leader)
    with pytest.raises(TransitionRefused, match="chữ ký số của cơ quan"):
        transition(session, report, "send", people["clerk"])
    session.rollback()
    _sign_external(session, report, AGENCY, people["clerk"], test_pki.agency)
    # first-use registrations wait for the unit admin
    with pytest.raises(TransitionRefused, match="chờ quản trị đơn vị xác nhận"):
        transition(session, report, "send", people["clerk"])
    session.rollback()
    for row in session.query(SigningCertificate):
        certificates.confirm(session, row, people["reviewer"])
    session.commit()
    transition(session, report, "send", people["clerk"])
    session.commit()
    version = session.query(ReportVersion).filter_by(report_id=report.id).one()
    signed = session.get(ReportSignature, version.signature_id)
    assert signed.stage == AGENCY and signed.values_hash == version.values_hash

    # returned and approved again: the old signatures belong to the old approval
    transition(session, report, "return", people["reviewer"], reason="Sửa dòng 5")
    transition(session, report, "submit", people["entry"])
    transition(session, report, "approve", people["leader"])
    session.commit()
    assert engine.next_stage(session, report) == LEADER
    with pytest.raises(TransitionRefused, match="chữ ký của lãnh đạo"):
        transition(session, report, "send", people["clerk"])


def test_pdfsig_lists_both_signatures(session, tmp_path):
    if shutil.which("pdfsig") is None:
        message = "Không có pdfsig (poppler-utils; `make signing-tools` cài)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    _report, _people, rows = _signed_both(session)
    path = tmp_path / "signed.pdf"
    path.write_bytes(rows[AGENCY].signed_pdf)
    listed = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False)
    out = listed.stdout
    assert "Signature #1" in out and "Signature #2" in out, out + listed.stderr
    assert "ChuKyLanhDao" in out and "ChuKyCoQuan" in out
    assert "Nguyễn Văn Lãnh" in out and "UBND xã Một" in out


def test_the_data_to_sign_can_be_signed_as_a_hash(session):
    """Remote and SIM signing providers sign a SHA-256 hash rather than the data."""
    report, people = _approved(session)
    issued = pki.test_pki().leader
    row = engine.current_issue(session, report, LEADER, people["leader"])
    request = engine.prepare(session, row, issued.certificate_der, people["leader"])
    assert request.data_sha256 == hashlib.sha256(request.data_to_sign).digest()
    p12 = pki.to_pkcs12(issued, PASSWORD)
    value = sign_digest(p12, PASSWORD, request.data_sha256, prehashed=True)
    issued.certificate.public_key().verify(value, request.data_to_sign, padding.PKCS1v15(),
                                           hashes.SHA256())
    checks = engine.finish(session, row, value, people["leader"])
    assert checks[0].ok


def _attach_pdf(session, report, name="phu-luc-1.pdf") -> ReportAttachment:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    canvas.drawString(72, 720, "Phu luc: danh sach cong trinh")
    canvas.showPage()
    canvas.drawString(72, 720, "Trang 2")
    canvas.save()
    data = buffer.getvalue()
    attachment = ReportAttachment(report_id=report.id, filename=name,
                                  content_type="application/pdf", size=len(data),
                                  sha256=hashlib.sha256(data).hexdigest(), content=data)
    session.add(attachment)
    session.commit()
    return attachment


def test_pdf_attachments_get_the_agency_signature_at_the_top_right_of_page_one(session):
    report, people = _approved(session)
    report.regime.requires_signature = True
    attachment = _attach_pdf(session, report)
    test_pki = pki.test_pki()
    clerk = people["clerk"]
    with pytest.raises(SigningRefused, match="chữ ký của lãnh đạo trên báo cáo trước"):
        engine.current_attachment_issue(session, report, attachment, clerk)
    _sign_external(session, report, LEADER, people["leader"], test_pki.leader)
    _sign_external(session, report, AGENCY, clerk, test_pki.agency)
    for row in session.query(SigningCertificate):
        certificates.confirm(session, row, people["reviewer"])
    session.commit()
    with pytest.raises(TransitionRefused, match="Phụ lục «phu-luc-1.pdf» chưa được ký số"):
        transition(session, report, "send", clerk)
    session.rollback()

    with pytest.raises(SigningRefused, match="cần vai trò «Ký số, gửi báo cáo»"):
        engine.current_attachment_issue(session, report, attachment, people["entry"])
    row = engine.current_attachment_issue(session, report, attachment, clerk)
    assert row.issued_pdf.startswith(attachment.content)  # the unit's file, unchanged
    request = engine.prepare(session, row, test_pki.agency.certificate_der, clerk)
    value = sign_digest(pki.to_pkcs12(test_pki.agency, PASSWORD), PASSWORD, request.data_to_sign)
    checks = engine.finish(session, row, value, clerk)
    session.commit()
    assert [c.field for c in checks] == ["ChuKyCoQuanPhuLuc"] and checks[0].ok
    assert checks[0].signer == "UBND xã Một"

    reader = PdfReader(io.BytesIO(row.signed_pdf))
    first = reader.pages[0]
    width, height = float(first.mediabox.width), float(first.mediabox.height)
    (widget,) = [a.get_object() for a in first.get("/Annots") or []]
    x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
    assert x2 > width * 0.8 and x1 > width / 2  # the right side…
    assert y2 > height * 0.9  # …at the top of the first page
    assert not reader.pages[1].get("/Annots")

    transition(session, report, "send", clerk)
    session.commit()
    assert report.state == "sent"
    assert engine.attachment_signatures_of(session, report) == {}  # no approval any more


def test_signing_works_while_an_event_loop_runs_in_the_thread(session):
    """pyHanko's own synchronous helpers fail there (a test process driving a browser has a
    loop running); signing and verifying must not."""
    import asyncio

    async def inside_a_loop():
        return _signed_both(session)

    try:
        asyncio.get_running_loop()
        loop_running = True  # already so after the browser tests in the same process
    except RuntimeError:
        loop_running = False
    if loop_running:
        _report, _people, rows = _signed_both(session)
    else:
        _report, _people, rows = asyncio.run(inside_a_loop())
    assert rows[AGENCY].status == "signed"


def test_the_inbox_shows_who_must_sign_next(session):
    from app.inbox import inbox_reports

    report, people = _approved(session)
    report.regime.requires_signature = True
    session.commit()
    assert [i.report.id for i in inbox_reports(session, people["leader"], "to_sign")] == \
        [report.id]
    (waiting,) = inbox_reports(session, people["clerk"], "to_send")
    assert waiting.note == "Chờ chữ ký của lãnh đạo."
    _sign_external(session, report, LEADER, people["leader"], pki.test_pki().leader)
    assert inbox_reports(session, people["leader"], "to_sign") == []
    (waiting,) = inbox_reports(session, people["clerk"], "to_send")
    assert waiting.note == "Cần chữ ký số của cơ quan trước khi gửi."
    _sign_external(session, report, AGENCY, people["clerk"], pki.test_pki().agency)
    (ready,) = inbox_reports(session, people["clerk"], "to_send")
    assert ready.note is None
