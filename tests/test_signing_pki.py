"""The test PKI (app/signing/pki.py), the stamp images (app/signing/images.py) and the stand-in
signing tool (app/signing/standin.py) that plays a person's USB token in tests and the demo."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
from asn1crypto import x509 as asn1_x509
from click.testing import CliRunner
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from reportlab.pdfgen.canvas import Canvas

from app.signing import aio, images, pki, standin
from app.signing.verify import KEY_USAGE


def test_certificates_chain_to_the_test_ca_with_the_names_and_usages_asked():
    test_pki = pki.test_pki()
    leader = test_pki.leader.certificate
    leader.verify_directly_issued_by(test_pki.ca.certificate)
    (common_name,) = leader.subject.get_attributes_for_oid(pki.NameOID.COMMON_NAME)
    assert common_name.value == "Nguyễn Văn Lãnh"
    usage = leader.extensions.get_extension_for_class(pki.x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    with pytest.raises(ValueError):
        test_pki.untrusted_leader.certificate.verify_directly_issued_by(test_pki.ca.certificate)
    person = pki.issue_person(test_pki.ca, "Trần Thị B", national_id="001200000001",
                              email="b@example.gov.vn", key_usage_non_repudiation=False)
    usage = person.certificate.extensions.get_extension_for_class(pki.x509.KeyUsage).value
    assert usage.digital_signature and not usage.content_commitment
    assert "CCCD:001200000001" in person.certificate.subject.rfc4514_string()


def test_a_crl_lists_the_revoked_serial_and_pkcs12_round_trips():
    test_pki = pki.test_pki()
    crl = pki.make_crl(test_pki.ca, [test_pki.other_person.certificate])
    assert crl.get_revoked_certificate_by_serial_number(
        test_pki.other_person.certificate.serial_number) is not None
    assert crl.get_revoked_certificate_by_serial_number(
        test_pki.leader.certificate.serial_number) is None
    assert crl.is_signature_valid(test_pki.ca.certificate.public_key())

    data = pki.to_pkcs12(test_pki.leader, "mk", ca=test_pki.ca)
    key, cert, chain = pki.load_pkcs12(data, "mk")
    assert cert == test_pki.leader.certificate and chain == [test_pki.ca.certificate]
    signature = key.sign(b"x", padding.PKCS1v15(), hashes.SHA256())
    cert.public_key().verify(signature, b"x", padding.PKCS1v15(), hashes.SHA256())


def test_images_are_transparent_pngs():
    seal = Image.open(io.BytesIO(images.seal_png("UBND xã Một", size_px=300)))
    assert seal.format == "PNG" and seal.mode == "RGBA" and seal.size == (300, 300)
    assert seal.getpixel((2, 2))[3] == 0  # transparent corner
    reds = [p for p in seal.getdata() if p[3] == 255 and p[0] > 150 and p[1] < 80]
    assert len(reds) > 1000
    one = images.signature_png("Nguyễn Văn Lãnh")
    assert one == images.signature_png("Nguyễn Văn Lãnh") != images.signature_png("Lê Văn Khác")
    assert Image.open(io.BytesIO(one)).size == (600, 240)


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "leader.p12"
    path.write_bytes(pki.to_pkcs12(pki.test_pki().leader, "mk", ca=pki.test_pki().ca))
    return path


def test_sign_digest_gives_a_signature_the_certificate_verifies(key_file):
    public_key = pki.test_pki().leader.certificate.public_key()
    data = b"du lieu can ky"
    runner = CliRunner()
    result = runner.invoke(standin.cli, ["sign-digest", "--p12", str(key_file), "--password",
                                         "mk", base64.b64encode(data).decode()])
    assert result.exit_code == 0, result.output
    public_key.verify(base64.b64decode(result.output.strip()), data, padding.PKCS1v15(),
                      hashes.SHA256())

    digest = hashlib.sha256(data).digest()
    result = runner.invoke(standin.cli, ["sign-digest", "--p12", str(key_file), "--password",
                                         "mk", "--prehashed"], input=base64.b64encode(digest))
    assert result.exit_code == 0, result.output
    public_key.verify(base64.b64decode(result.output.strip()), digest, padding.PKCS1v15(),
                      utils.Prehashed(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public_key.verify(base64.b64decode(result.output.strip()), b"khac", padding.PKCS1v15(),
                          hashes.SHA256())

    wrong = runner.invoke(standin.cli, ["sign-digest", "--p12", str(key_file), "--password",
                                        "sai", base64.b64encode(data).decode()])
    assert wrong.exit_code != 0 and "sai mật khẩu" in wrong.output
    garbage = runner.invoke(standin.cli, ["sign-digest", "--p12", str(key_file), "--password",
                                          "mk", "không-phải-base64!"])
    assert garbage.exit_code != 0 and "base64" in garbage.output


def test_sign_pdf_appends_a_valid_pades_signature(key_file, tmp_path):
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    canvas.drawString(72, 720, "Bao cao thu")
    canvas.save()
    source = tmp_path / "in.pdf"
    source.write_bytes(buffer.getvalue())
    target = tmp_path / "out.pdf"
    result = CliRunner().invoke(standin.cli, [
        "sign-pdf", "--p12", str(key_file), "--password", "mk", "--field", "ChuKyLanhDao",
        str(source), str(target)])
    assert result.exit_code == 0, result.output
    signed = target.read_bytes()
    assert signed.startswith(buffer.getvalue())
    (embedded,) = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    assert embedded.field_name == "ChuKyLanhDao"
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(
        pki.test_pki().ca.certificate_der)])
    status = aio.run(lambda: async_validate_pdf_signature(embedded, context,
                                                          key_usage_settings=KEY_USAGE))
    assert status.intact and status.valid and status.trusted


def test_make_key_writes_a_key_the_tool_can_open(tmp_path):
    target = tmp_path / "new.p12"
    result = CliRunner().invoke(standin.cli, ["make-key", str(target), "--name", "UBND xã Ba",
                                              "--agency", "--password", "mk"])
    assert result.exit_code == 0, result.output
    _key, cert, chain = pki.load_pkcs12(target.read_bytes(), "mk")
    assert "UBND xã Ba" in cert.subject.rfc4514_string() and len(chain) == 1
    assert (tmp_path / "new-ca.pem").exists() and (tmp_path / "new.pem").exists()
