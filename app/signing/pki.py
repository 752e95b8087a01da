"""A test and demo PKI made with ``cryptography``: a root, person and agency certificates, a CRL,
PKCS#12 files. Nothing here is a real key; everything is generated at run time."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, pkcs12
from cryptography.x509.oid import NameOID

TEST_ORGANIZATION = "Hệ thống thông tin báo cáo (thử nghiệm)"


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(Encoding.DER)

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(Encoding.PEM)


def _now(now: dt.datetime | None) -> dt.datetime:
    now = now or dt.datetime.now(dt.UTC)
    return now if now.tzinfo else now.replace(tzinfo=dt.UTC)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _builder(subject: x509.Name, issuer: x509.Name, public_key, now, days):
    start = _now(now)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(start - dt.timedelta(days=1))
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def _usage(non_repudiation: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=non_repudiation,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=False, crl_sign=False, encipher_only=False,
                         decipher_only=False)


def make_ca(common_name: str = "CA thử nghiệm HTTTBC", *, now=None, days: int = 3650) -> Issued:
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANIZATION),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")])
    cert = (_builder(name, name, key.public_key(), now, days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return Issued(cert, key)


def _end_entity(ca: Issued, subject: x509.Name, public_key, *, now, days, non_repudiation,
                email=None) -> x509.Certificate:
    builder = (_builder(subject, ca.certificate.subject, public_key, now, days)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(_usage(non_repudiation), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca.private_key.public_key()), critical=False))
    if email:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]),
                                        critical=False)
    return builder.sign(ca.private_key, hashes.SHA256())


def issue_person(ca: Issued, full_name: str, *, national_id: str | None = None,
                 email: str | None = None, organization: str | None = None, now=None,
                 days: int = 730, key_usage_non_repudiation: bool = True) -> Issued:
    key = _key()
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, full_name)]
    if national_id:
        parts.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, f"CCCD:{national_id}"))
    if organization:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    parts.append(x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"))
    cert = _end_entity(ca, x509.Name(parts), key.public_key(), now=now, days=days,
                       non_repudiation=key_usage_non_repudiation, email=email)
    return Issued(cert, key)


def issue_agency(ca: Issued, unit_name: str, *, unit_code: str | None = None, now=None,
                 days: int = 730) -> Issued:
    key = _key()
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, unit_name),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, unit_name)]
    if unit_code:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit_code))
    parts.append(x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"))
    cert = _end_entity(ca, x509.Name(parts), key.public_key(), now=now, days=days,
                       non_repudiation=True)
    return Issued(cert, key)


def issue_for_public_key(ca: Issued, public_key, common_name: str, *, now=None,
                         days: int = 730) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                         x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")])
    return _end_entity(ca, subject, public_key, now=now, days=days, non_repudiation=True)


def make_crl(ca: Issued, revoked: list[x509.Certificate], *, now=None,
             days: int = 30) -> x509.CertificateRevocationList:
    start = _now(now)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.certificate.subject)
               .last_update(start - dt.timedelta(hours=1))
               .next_update(start + dt.timedelta(days=days)))
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
            .revocation_date(start - dt.timedelta(minutes=30)).build())
    return builder.sign(ca.private_key, hashes.SHA256())


def to_pkcs12(issued: Issued, password: str, *, ca: Issued | None = None,
              friendly_name: str | None = None) -> bytes:
    name = (friendly_name or "htttbc").encode("utf-8")
    return pkcs12.serialize_key_and_certificates(
        name, issued.private_key, issued.certificate,
        [ca.certificate] if ca is not None else None,
        BestAvailableEncryption(password.encode("utf-8")))


def load_pkcs12(data: bytes, password: str):
    key, cert, chain = pkcs12.load_key_and_certificates(data, password.encode("utf-8"))
    return key, cert, list(chain or [])


@dataclass(frozen=True)
class TestPki:
    ca: Issued
    leader: Issued
    deputy: Issued
    other_person: Issued
    agency: Issued
    other_agency: Issued
    untrusted_ca: Issued
    untrusted_leader: Issued


@functools.cache
def test_pki() -> TestPki:
    ca = make_ca()
    untrusted = make_ca("CA không được tin cậy")
    return TestPki(
        ca=ca,
        leader=issue_person(ca, "Nguyễn Văn Lãnh"),
        deputy=issue_person(ca, "Trần Thị Phó"),
        other_person=issue_person(ca, "Lê Văn Khác"),
        agency=issue_agency(ca, "UBND xã Một"),
        other_agency=issue_agency(ca, "UBND xã Hai"),
        untrusted_ca=untrusted,
        untrusted_leader=issue_person(untrusted, "Nguyễn Văn Lãnh"),
    )
