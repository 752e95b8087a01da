"""Verifying the signatures of a PDF with pyHanko against the roots of trust and revocation lists
the provincial admin uploaded: who signed, with which certificate, when, whether the signed bytes
are intact, the certificate trusted, unexpired and not revoked, and whether anything but further
signatures was added after each signature. (Poppler's ``pdfsig`` calls a file edited after
signing valid with a small note, so this is the gate.)"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import asdict, dataclass, field

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select

from app.models.forms import utcnow
from app.models.signing import TrustAnchor
from app.signing import aio

# Many tokens' certificates carry digitalSignature only, others nonRepudiation: either will do.
KEY_USAGE = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"},
                                match_all_key_usages=False)
# after a signature, only more signatures (and their validation data) may be added
_ALLOWED_AFTER = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES,
                  ModificationLevel.FORM_FILLING)
_ALLOWED_AFTER_LAST = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)


@dataclass
class SignatureCheck:
    """One signature of a PDF as verification found it."""

    field: str
    signer: str
    certificate_sha256: str
    issuer: str
    serial: str
    signing_time: str | None  # ISO 8601 as the signer reported it
    timestamp_time: str | None  # ISO 8601 from a trusted RFC 3161 timestamp, when present
    intact: bool
    valid: bool
    trusted: bool
    revoked: bool
    expired: bool
    covers_whole_document: bool
    modified_after: bool
    problems: list[str] = field(default_factory=list)
    certificate_der: bytes = b""

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("certificate_der")
        return data


def validation_context(session, now: dt.datetime | None = None) -> ValidationContext:
    """Trust only the roots the province uploaded; revocation from its uploaded CRLs (the
    server fetches nothing)."""
    anchors = session.scalars(select(TrustAnchor).where(TrustAnchor.active.is_(True))).all()
    roots = [asn1_x509.Certificate.load(a.der) for a in anchors if a.kind == "root"]
    crls = [asn1_crl.CertificateList.load(a.der) for a in anchors if a.kind == "crl"]
    moment = (now or utcnow()).replace(tzinfo=dt.UTC)
    return ValidationContext(trust_roots=roots, crls=crls, allow_fetching=False,
                             revocation_mode="soft-fail", moment=moment)


def _revoked_by_uploaded_crl(session, cert: asn1_x509.Certificate) -> bool:
    """Whether a CRL the admin uploaded, issued by the certificate's issuer and signed by it
    (when the issuer is a trusted root), lists the certificate. pyHanko consults CRLs only for
    certificates that declare where theirs is; an uploaded CRL counts for every certificate."""
    from cryptography import x509

    anchors = session.scalars(select(TrustAnchor).where(TrustAnchor.active.is_(True))).all()
    roots = {}
    for anchor in anchors:
        if anchor.kind == "root":
            root = x509.load_der_x509_certificate(anchor.der)
            roots[root.subject.public_bytes()] = root
    issuer = cert.issuer.dump()
    for anchor in anchors:
        if anchor.kind != "crl":
            continue
        revocations = x509.load_der_x509_crl(anchor.der)
        if revocations.issuer.public_bytes() != issuer:
            continue
        root = roots.get(issuer)
        if root is not None and not revocations.is_signature_valid(root.public_key()):
            continue
        if revocations.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            return True
    return False


def _iso(moment) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.timezone(dt.timedelta(hours=7))).replace(microsecond=0).isoformat()


def _common_name(cert: asn1_x509.Certificate) -> str:
    return cert.subject.native.get("common_name") or cert.subject.human_friendly


def verify_pdf(session, pdf: bytes, *, now: dt.datetime | None = None) -> list[SignatureCheck]:
    """Every signature of ``pdf``, in signing order, with the problems found (in Vietnamese).
    A file that is not a readable PDF gives one check with the problem."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = list(reader.embedded_signatures)
    except Exception as error:  # noqa: BLE001 - any unreadable file is reported, not raised
        return [SignatureCheck(
            field="", signer="", certificate_sha256="", issuer="", serial="", signing_time=None,
            timestamp_time=None, intact=False, valid=False, trusted=False, revoked=False,
            expired=False, covers_whole_document=False, modified_after=False,
            problems=[f"Không đọc được tệp PDF: {error}"])]
    checks = []
    for index, embedded in enumerate(signatures):
        last = index == len(signatures) - 1
        checks.append(_check(session, embedded, last, now))
    return checks


def _check(session, embedded, last: bool, now) -> SignatureCheck:
    context = validation_context(session, now)
    status = aio.run(lambda: async_validate_pdf_signature(
        embedded, signer_validation_context=context, key_usage_settings=KEY_USAGE))
    cert = status.signing_cert
    indication = status.trust_problem_indic
    revoked = bool(status.revoked) or indication in (
        AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE
    ) or _revoked_by_uploaded_crl(session, cert)
    expired = indication in (AdESIndeterminate.EXPIRED,
                             AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
                             AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED)
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    level = status.modification_level
    allowed = _ALLOWED_AFTER_LAST if last else _ALLOWED_AFTER
    modified = not whole and (level not in allowed or status.docmdp_ok is False)
    problems = []
    if not status.intact:
        problems.append("Tệp đã bị thay đổi sau khi ký: dữ liệu được ký không còn nguyên vẹn.")
    elif not status.valid:
        problems.append("Giá trị chữ ký không khớp với chứng thư số (chữ ký không hợp lệ).")
    if revoked:
        problems.append("Chứng thư số đã bị thu hồi.")
    elif expired:
        problems.append(f"Chứng thư số đã hết hạn (hiệu lực đến "
                        f"{_iso(cert['tbs_certificate']['validity']['not_after'].native)}).")
    elif indication == AdESIndeterminate.NOT_YET_VALID:
        problems.append("Chứng thư số chưa đến thời gian có hiệu lực.")
    elif not status.trusted:
        problems.append(f"Chứng thư số không do tổ chức chứng thực được tỉnh tin cậy cấp "
                        f"(nơi cấp: {cert.issuer.human_friendly}).")
    if modified:
        problems.append("Tệp đã bị sửa sau chữ ký này (có thay đổi ngoài việc ký thêm).")
    elif last and not whole:
        problems.append("Chữ ký cuối cùng không bao trùm toàn bộ tệp.")
    timestamp = status.timestamp_validity
    der = cert.dump()
    return SignatureCheck(
        field=embedded.field_name, signer=_common_name(cert),
        certificate_sha256=hashlib.sha256(der).hexdigest(), issuer=cert.issuer.human_friendly,
        serial=format(cert.serial_number, "X"), signing_time=_iso(status.signer_reported_dt),
        timestamp_time=_iso(timestamp.timestamp) if timestamp is not None else None,
        intact=bool(status.intact), valid=bool(status.valid), trusted=bool(status.trusted),
        revoked=revoked, expired=expired, covers_whole_document=whole, modified_after=modified,
        problems=problems, certificate_der=der,
    )
