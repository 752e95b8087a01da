"""Signing a report: the approving leader's personal signature, then the agency's signature added
by the clerk (văn thư) as a second, incremental signature; PAdES, with pyHanko.

One code path for every way a key is held. A stage is *issued* (the document it signs is fixed:
the rendered report with its two empty signature fields, or the leader-signed PDF), then
*prepared* for a certificate (pyHanko's interrupted signing: the signature placeholder is
written, the byte range digested, the CMS signed attributes fixed), and the "data to be signed"
goes to whoever holds the key:

- the person's USB token or a remote/SIM signing provider (the main path: the key never reaches
  the server; the signature value comes back and is embedded by :func:`finish`);
- a key of the province in an HSM through PKCS#11, or a PKCS#12 file (tests and the demo), both
  through :func:`sign_on_server`, which runs the same prepare → sign the data → finish.

A PDF signed outside (the person downloads the issued PDF and signs it with their own software)
comes back through :func:`accept_upload`: accepted only if it begins with exactly the issued
bytes. Whatever the path, the result is verified (:mod:`app.signing.verify`) before it is kept:
intact, trusted, not revoked or expired, covering the whole document, by a certificate
registered to the leader who approved (first stage) or to the sending unit (second stage).

Domain code: a session, a report and a user; no request. The caller commits."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore
from sqlalchemy import func, or_, select

from app.errors import DomainError
from app.models import Report, ReportAttachment, ReportEvent
from app.models.forms import utcnow
from app.models.signing import ReportSignature, StampImage
from app.signing import aio, certificates, stamps
from app.signing.verify import SignatureCheck, verify_pdf
from app.workflow import APPROVED, canonical_values, refusal

LEADER, AGENCY, ATTACHMENT = "leader", "agency", "attachment"
STAGES = (LEADER, AGENCY)  # of the report itself, in order; each PDF attachment: ATTACHMENT
STAGE_WORDS = {LEADER: "chữ ký của lãnh đạo", AGENCY: "chữ ký số của cơ quan",
               ATTACHMENT: "chữ ký số của cơ quan trên phụ lục"}
FIELD_NAMES = {LEADER: "ChuKyLanhDao", AGENCY: "ChuKyCoQuan", ATTACHMENT: "ChuKyCoQuanPhuLuc"}
DIGEST = "sha256"
# room for the CMS (hex, so twice its size): certificate chain, signature, a timestamp token
_BYTES_RESERVED = 24_000


class SigningRefused(DomainError):
    """A signing step that may not happen, or a signature that is not accepted, with why."""


@dataclass(frozen=True)
class SigningSettings:
    """How this installation signs: an RFC 3161 timestamp server when configured."""

    timestamp_url: str | None = None

    @classmethod
    def from_config(cls, config) -> SigningSettings:
        return cls(timestamp_url=config.get("SIGNING_TIMESTAMP_URL") or None)

    def timestamper(self):
        return HTTPTimeStamper(self.timestamp_url) if self.timestamp_url else None


@dataclass(frozen=True)
class DigestRequest:
    """What the signer's tool signs: the DER of the CMS signed attributes, and its SHA-256 for
    tools and providers that sign a hash."""

    signature_id: int
    data_to_sign: bytes
    data_sha256: bytes


# -- who signs what ---------------------------------------------------------------------------


def signature_titles(position: str | None) -> tuple[str | None, str | None]:
    """The signer's title and, for a deputy ("Phó …"), the head's title the deputy signs for:
    "Phó Chủ tịch" → ("Phó Chủ tịch", "Chủ tịch"), drawn as "KT. CHỦ TỊCH / PHÓ CHỦ TỊCH"."""
    title = (position or "").strip() or None
    if title and title.lower().startswith("phó "):
        head = title[4:].strip()
        return title, head[:1].upper() + head[1:]
    return title, None


def approval_event(session, report: Report) -> ReportEvent | None:
    """The approval the report is now in, when it is approved (signatures belong to it)."""
    if report.state != APPROVED:
        return None
    return session.scalars(
        select(ReportEvent)
        .where(ReportEvent.report_id == report.id, ReportEvent.action == "approve")
        .order_by(ReportEvent.at.desc(), ReportEvent.id.desc())
        .limit(1)
    ).first()


def signatures_of(session, report: Report, event: ReportEvent | None = None) -> dict[str, ReportSignature]:
    """The live (not superseded) signature stage rows of the report's current approval."""
    return {row.stage: row for row in _live_rows(session, report, event, attachments=False)}


def _live_rows(session, report: Report, event: ReportEvent | None, *, attachments: bool):
    event = event or approval_event(session, report)
    if event is None:
        return []
    on_attachment = (ReportSignature.attachment_id.is_not(None) if attachments
                     else ReportSignature.attachment_id.is_(None))
    return session.scalars(
        select(ReportSignature)
        .where(ReportSignature.report_id == report.id,
               ReportSignature.approve_event_id == event.id, on_attachment,
               ReportSignature.status != "superseded")
        .order_by(ReportSignature.id)
    ).all()


def pdf_attachments(session, report: Report) -> list[ReportAttachment]:
    """The report's attachments that are PDFs: the agency signs each of them too."""
    return list(session.scalars(
        select(ReportAttachment).where(
            ReportAttachment.report_id == report.id,
            or_(ReportAttachment.content_type == "application/pdf",
                func.lower(ReportAttachment.filename).like("%.pdf")))
        .order_by(ReportAttachment.uploaded_at, ReportAttachment.id)
    ).all())


def attachment_signatures_of(session, report: Report) -> dict[int, ReportSignature]:
    """The live signature rows of the report's PDF attachments, by attachment id, for the
    report's current approval."""
    rows = _live_rows(session, report, None, attachments=True)
    return {row.attachment_id: row for row in rows}


def next_stage(session, report: Report) -> str | None:
    """The stage to sign next: the leader's, then the agency's; None when both are signed or the
    report is not approved."""
    if approval_event(session, report) is None:
        return None
    rows = signatures_of(session, report)
    for stage in STAGES:
        row = rows.get(stage)
        if row is None or row.status != "signed":
            return stage
    return None


def stage_refusal(session, user, report: Report, stage: str, now: dt.datetime | None = None) -> str | None:
    """Why ``user`` may not sign ``stage`` of the report now, or None."""
    event = approval_event(session, report)
    if event is None:
        return "Chỉ ký được báo cáo đã được lãnh đạo duyệt."
    if stage not in STAGES:
        return f"Không có bước ký «{stage}»."
    expected = next_stage(session, report)
    if expected is None:
        return "Báo cáo đã có đủ chữ ký của lãnh đạo và của cơ quan."
    if stage != expected:
        return "Cần chữ ký của lãnh đạo trước, rồi mới đến chữ ký số của cơ quan."
    if user is None or getattr(user, "id", None) is None:
        return "Cần đăng nhập."
    if stage == LEADER:
        if user.id != event.actor_id:
            return "Chỉ lãnh đạo đã duyệt báo cáo mới ký được chữ ký của lãnh đạo."
        return None
    return refusal(session, user, report, "send", now)


def attachment_refusal(session, user, report: Report, attachment: ReportAttachment,
                       now: dt.datetime | None = None) -> str | None:
    """Why ``user`` may not add the agency's signature to a PDF attachment now, or None: the
    clerk signs attachments once the leader has signed the report."""
    if approval_event(session, report) is None:
        return "Chỉ ký được báo cáo đã được lãnh đạo duyệt."
    if attachment.report_id != report.id:
        return "Tệp đính kèm không thuộc báo cáo này."
    leader = signatures_of(session, report).get(LEADER)
    if leader is None or leader.status != "signed":
        return "Cần chữ ký của lãnh đạo trên báo cáo trước, rồi mới ký số các phụ lục."
    row = attachment_signatures_of(session, report).get(attachment.id)
    if row is not None and row.status == "signed":
        return f"Phụ lục «{attachment.filename}» đã được ký số."
    if user is None or getattr(user, "id", None) is None:
        return "Cần đăng nhập."
    return refusal(session, user, report, "send", now)


def _row_refusal(session, user, row: ReportSignature, now) -> str | None:
    if row.attachment_id is not None:
        return attachment_refusal(session, user, row.report, row.attachment, now)
    return stage_refusal(session, user, row.report, row.stage, now)


# -- issuing the document of a stage -------------------------------------------------------------


def issue(session, report: Report, stage: str, user, *, now: dt.datetime | None = None) -> ReportSignature:
    """Fix the document ``stage`` signs and keep it; an earlier unfinished try is superseded."""
    now = now or utcnow()
    why_not = stage_refusal(session, user, report, stage, now)
    if why_not:
        raise SigningRefused(why_not)
    event = approval_event(session, report)
    rows = signatures_of(session, report, event)
    for row in rows.values():
        if row.stage == stage and row.status != "signed":
            row.status = "superseded"
    _, values_hash = canonical_values(session, report)
    if stage == LEADER:
        document = base_document(session, report, event.actor)
    else:
        document = rows[LEADER].signed_pdf
    row = ReportSignature(
        report_id=report.id, approve_event_id=event.id, stage=stage, status="issued",
        values_hash=values_hash, issued_pdf=document,
        issued_sha256=hashlib.sha256(document).hexdigest(), created_at=now,
        created_by_id=user.id,
    )
    session.add(row)
    session.flush()
    return row


def current_issue(session, report: Report, stage: str, user, *, now=None) -> ReportSignature:
    """The stage's issued row when one is open, else a new one."""
    row = signatures_of(session, report).get(stage)
    if row is not None and row.status in ("issued", "prepared"):
        why_not = stage_refusal(session, user, report, stage, now)
        if why_not:
            raise SigningRefused(why_not)
        return row
    return issue(session, report, stage, user, now=now)


def current_attachment_issue(session, report: Report, attachment: ReportAttachment, user, *,
                             now=None) -> ReportSignature:
    """The open signature row of a PDF attachment, else a new one: the attachment with an empty
    signature field at the top right of its first page (Decree 30/2020 Appendix I)."""
    now = now or utcnow()
    why_not = attachment_refusal(session, user, report, attachment, now)
    if why_not:
        raise SigningRefused(why_not)
    row = attachment_signatures_of(session, report).get(attachment.id)
    if row is not None and row.status in ("issued", "prepared"):
        return row
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(attachment.content))
        page = writer.root["/Pages"]["/Kids"][0].get_object()
        box = [float(v) for v in page["/MediaBox"]]
    except Exception as error:  # noqa: BLE001 - any unreadable attachment is the unit's file
        raise SigningRefused(f"Không đọc được tệp PDF «{attachment.filename}» để ký số: "
                             f"{error}") from error
    fields.append_signature_field(writer, fields.SigFieldSpec(
        FIELD_NAMES[ATTACHMENT], on_page=0,
        box=stamps.attachment_box(box[2] - box[0], box[3] - box[1])))
    out = io.BytesIO()
    writer.write(out)
    document = out.getvalue()
    _, values_hash = canonical_values(session, report)
    row = ReportSignature(
        report_id=report.id, approve_event_id=approval_event(session, report).id,
        stage=ATTACHMENT, attachment_id=attachment.id, status="issued", values_hash=values_hash,
        issued_pdf=document, issued_sha256=hashlib.sha256(document).hexdigest(),
        created_at=now, created_by_id=user.id,
    )
    session.add(row)
    session.flush()
    return row


def base_document(session, report: Report, leader) -> bytes:
    """The report rendered for signing, with the leader's title (KT. for a deputy) and name, and
    two empty signature fields: the leader's over the signature space, and the agency's where
    its seal overlaps the left third of the leader's signature (Decree 30/2020 Appendix I)."""
    from app.render_pdf import render_report_pdf

    title, on_behalf_of = signature_titles(getattr(leader, "position", None))
    rendered = render_report_pdf(session, report, signer_title=title, on_behalf_of=on_behalf_of,
                                 signer_name=leader.full_name if leader else None)
    writer = IncrementalPdfFileWriter(io.BytesIO(rendered.pdf))
    page, x1, y1, x2, y2 = rendered.signature_box or (0, 350, 80, 560, 160)
    leader_box = (round(x1), round(y1), round(x2), round(y2))
    fields.append_signature_field(writer, fields.SigFieldSpec(
        FIELD_NAMES[LEADER], on_page=page, box=leader_box))
    fields.append_signature_field(writer, fields.SigFieldSpec(
        FIELD_NAMES[AGENCY], on_page=page, box=stamps.seal_box(leader_box)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# -- preparing, signing, finishing ----------------------------------------------------------------


def _asn1_certificate(der: bytes) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(der)


def _signer_for(certificate_der: bytes, chain_der: list[bytes], signature_value=None):
    cert = _asn1_certificate(certificate_der)
    registry = SimpleCertificateStore.from_certs(
        [cert, *(_asn1_certificate(c) for c in chain_der)])
    return signers.ExternalSigner(signing_cert=cert, cert_registry=registry,
                                  signature_value=signature_value or 512)


def _stamp_style(session, report: Report, stage: str, row: ReportSignature):
    if stage == ATTACHMENT:
        return stamps.attachment_style()
    if stage == LEADER:
        event = session.get(ReportEvent, row.approve_event_id)
        image = session.scalars(
            select(StampImage).where(StampImage.person_id == event.actor_id)).first()
        return stamps.leader_style(image.png if image else None,
                                   event.actor.full_name if event.actor else "")
    image = session.scalars(select(StampImage).where(StampImage.unit_id == report.unit_id)).first()
    return stamps.agency_style(image.png if image else None)


def prepare(session, row: ReportSignature, certificate_der: bytes, user, *,
            chain_der: list[bytes] | None = None, now: dt.datetime | None = None,
            settings: SigningSettings | None = None) -> DigestRequest:
    """Write the signature placeholder for ``certificate_der`` into the stage's document and
    return the data its holder signs. The state is kept on the row, so the signature value may
    come back in a later request."""
    now = now or utcnow()
    report = row.report
    if row.status not in ("issued", "prepared"):
        raise SigningRefused("Bước ký này đã xong hoặc đã được bắt đầu lại; hãy tải lại trang.")
    why_not = _row_refusal(session, user, row, now)
    if why_not:
        raise SigningRefused(why_not)
    certificate = certificates.for_stage(session, certificate_der, stage=_owner_stage(row),
                                         person=_leader(session, row), unit=report.unit,
                                         user=user, now=now)
    signer = _signer_for(certificate_der, chain_der or [])
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAMES[row.stage], md_algorithm=DIGEST,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=("Lãnh đạo ký duyệt báo cáo" if row.stage == LEADER
                else "Cơ quan ký số phụ lục báo cáo" if row.stage == ATTACHMENT
                else "Cơ quan ký số, gửi báo cáo"),
        location=report.unit.name,
    )
    pdf_signer = signers.PdfSigner(meta, signer=signer,
                                   stamp_style=_stamp_style(session, report, row.stage, row))
    writer = IncrementalPdfFileWriter(io.BytesIO(row.issued_pdf))
    text_params = stamps.text_params(report.unit.name, now)

    async def _prepare():
        prepared, _tbs, output = await pdf_signer.async_digest_doc_for_signing(
            writer, existing_fields_only=True, bytes_reserved=_BYTES_RESERVED,
            appearance_text_params=text_params)
        signed_attrs = await signer.signed_attrs(prepared.document_digest, DIGEST,
                                                 use_pades=True)
        return prepared, output, signed_attrs

    prepared, output, signed_attrs = aio.run(_prepare)
    row.prepared_pdf = output.getvalue()
    row.reserved_start = prepared.reserved_region_start
    row.reserved_end = prepared.reserved_region_end
    row.document_digest = prepared.document_digest
    row.signed_attrs = signed_attrs.dump()
    row.certificate_id = certificate.id
    row.status = "prepared"
    session.flush()
    return DigestRequest(row.id, row.signed_attrs, hashlib.sha256(row.signed_attrs).digest())


def finish(session, row: ReportSignature, signature_value: bytes, user, *,
           chain_der: list[bytes] | None = None, method: str = "digest",
           now: dt.datetime | None = None,
           settings: SigningSettings | None = None) -> list[SignatureCheck]:
    """Embed the signature value the holder's tool returned, verify the result and keep it."""
    now = now or utcnow()
    settings = settings or SigningSettings()
    if row.status != "prepared" or row.prepared_pdf is None:
        raise SigningRefused("Chưa có dữ liệu chờ ký cho bước này; hãy bắt đầu ký lại.")
    if not signature_value:
        raise SigningRefused("Chưa nhận được giá trị chữ ký.", field="signature")
    signer = _signer_for(row.certificate.der, chain_der or [], signature_value=signature_value)
    signed_attrs = cms.CMSAttributes.load(row.signed_attrs)

    async def _cms():
        return await signer.async_sign_prescribed_attributes(
            DIGEST, signed_attrs=signed_attrs, timestamper=settings.timestamper())

    signature_cms = aio.run(_cms)
    output = io.BytesIO(row.prepared_pdf)
    PreparedByteRangeDigest(row.document_digest, row.reserved_start,
                            row.reserved_end).fill_with_cms(output, signature_cms)
    return _accept(session, row, output.getvalue(), user, method=method, now=now)


def accept_upload(session, row: ReportSignature, uploaded: bytes, user, *,
                  now: dt.datetime | None = None) -> list[SignatureCheck]:
    """A PDF the signer signed with their own software: accepted only if it is the issued PDF,
    byte for byte, with the signature appended."""
    now = now or utcnow()
    if row.status not in ("issued", "prepared"):
        raise SigningRefused("Bước ký này đã xong hoặc đã được bắt đầu lại; hãy tải lại trang.")
    why_not = _row_refusal(session, user, row, now)
    if why_not:
        raise SigningRefused(why_not)
    if not uploaded.startswith(b"%PDF"):
        raise SigningRefused("Tệp tải lên không phải là PDF.", field="file")
    if len(uploaded) <= len(row.issued_pdf) or not uploaded.startswith(row.issued_pdf):
        raise SigningRefused(
            "Tệp PDF tải lên không giữ nguyên tệp đã cấp để ký: chỉ được ký thêm vào cuối tệp, "
            "không được sửa nội dung. Hãy tải lại tệp cần ký và ký lại.", field="file")
    return _accept(session, row, uploaded, user, method="upload", now=now)


def sign_on_server(session, row: ReportSignature, signer, user, *, method: str,
                   now: dt.datetime | None = None,
                   settings: SigningSettings | None = None) -> list[SignatureCheck]:
    """Sign with a key the province holds (PKCS#11 HSM) or a PKCS#12 file (tests, demo): the
    same prepare → sign the data → finish as a person's token."""
    chain = [c.dump() for c in (signer.cert_registry or [])
             if c.dump() != signer.signing_cert.dump()]
    request = prepare(session, row, signer.signing_cert.dump(), user, chain_der=chain, now=now,
                      settings=settings)

    async def _sign():
        return await signer.async_sign_raw(request.data_to_sign, DIGEST)

    value = aio.run(_sign)
    return finish(session, row, value, user, chain_der=chain, method=method, now=now,
                  settings=settings)


def _owner_stage(row: ReportSignature) -> str:
    """Whose certificate the stage needs: the leader's, or the unit's (agency, attachments)."""
    return LEADER if row.stage == LEADER else AGENCY


def _signature_count(pdf: bytes) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return len(PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures)


def _leader(session, row: ReportSignature):
    return session.get(ReportEvent, row.approve_event_id).actor


def _accept(session, row: ReportSignature, pdf: bytes, user, *, method: str,
            now: dt.datetime) -> list[SignatureCheck]:
    report = row.report
    checks = verify_pdf(session, pdf, now=now)
    expected = _signature_count(row.issued_pdf) + 1
    problems = []
    if len(checks) != expected:
        problems.append(f"Tệp cần đúng {expected} chữ ký nhưng có {len(checks)}.")
    # an attachment may carry signatures of others made before; the report's own must all hold
    judged = checks[-1:] if row.stage == ATTACHMENT else checks
    for check in judged:
        problems += [f"{check.field}: {p}" for p in check.problems]
    if checks:
        last = checks[-1]
        if last.field != FIELD_NAMES[row.stage]:
            problems.append(f"Chữ ký mới phải nằm ở ô «{FIELD_NAMES[row.stage]}», "
                            f"không phải «{last.field}».")
        problems += certificates.stage_problems(
            session, last.certificate_der, stage=_owner_stage(row),
            person=_leader(session, row), unit=report.unit, user=user, now=now)
    if problems:
        raise SigningRefused("Chữ ký không được chấp nhận: " + " ".join(problems))
    row.signed_pdf = pdf
    row.signed_sha256 = hashlib.sha256(pdf).hexdigest()
    row.signed_at = now
    row.signed_by_id = user.id
    row.method = method
    row.status = "signed"
    row.certificate_id = certificates.for_stage(
        session, checks[-1].certificate_der, stage=_owner_stage(row),
        person=_leader(session, row), unit=report.unit, user=user, now=now).id
    row.verification = json.dumps([c.as_dict() for c in checks], ensure_ascii=False)
    row.prepared_pdf = None
    session.flush()
    return checks


# -- the send gate --------------------------------------------------------------------------------


def require_signatures_on_send(session, report: Report, version, user) -> None:
    """workflow.SEND_HOOKS: where the regime asks for it, a report is sent only as the PDF its
    leader and its agency signed for this approval, with the values being sent; the version
    records which signed PDF it was."""
    from app.workflow import TransitionRefused

    rows = signatures_of(session, report)
    agency = rows.get(AGENCY)
    if agency is None or agency.status != "signed":
        if report.regime.requires_signature:
            missing = STAGE_WORDS[LEADER] if rows.get(LEADER) is None or \
                rows[LEADER].status != "signed" else STAGE_WORDS[AGENCY]
            raise TransitionRefused(
                f"Chế độ báo cáo này yêu cầu ký số trước khi gửi: còn thiếu {missing}.")
        return
    if agency.values_hash != version.values_hash:
        raise TransitionRefused("Số liệu đã khác với bản đã ký; cần ký lại trước khi gửi.")
    signed_attachments = attachment_signatures_of(session, report)
    if report.regime.requires_signature:
        for attachment in pdf_attachments(session, report):
            done = signed_attachments.get(attachment.id)
            if done is None or done.status != "signed":
                raise TransitionRefused(
                    f"Phụ lục «{attachment.filename}» chưa được ký số của cơ quan.")
    pending = certificates.unconfirmed_for(
        session, [r.certificate_id for r in [*rows.values(), *signed_attachments.values()]])
    if pending and report.regime.requires_signature:
        raise TransitionRefused(
            "Chứng thư số " + ", ".join(f"«{c.subject}»" for c in pending)
            + " mới được đăng ký khi ký lần đầu và đang chờ quản trị đơn vị xác nhận.")
    version.signature_id = agency.id


def signed_pdf_of_version(session, version) -> ReportSignature | None:
    if version is None or version.signature_id is None:
        return None
    return session.get(ReportSignature, version.signature_id)


def install() -> None:
    from app.workflow import SEND_HOOKS

    if require_signatures_on_send not in SEND_HOOKS:
        SEND_HOOKS.append(require_signatures_on_send)


install()
