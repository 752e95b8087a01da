"""The stand-in signing tool: plays the signing software on a person's computer (a USB token's
tool, or a remote signing provider) in tests and in the demo, with a key in a PKCS#12 file.

    python -m app.signing.standin make-key out.p12 --name "Nguyễn Văn A" --password P
    python -m app.signing.standin sign-digest --p12 key.p12 --password P <base64 data>
    python -m app.signing.standin sign-pdf --p12 key.p12 --password P --field ChuKyCoQuan in.pdf out.pdf

``sign-digest`` signs what the signing page shows as "data to be signed" (the DER of the CMS
signed attributes, or with ``--prehashed`` its SHA-256, as remote providers take it) with RSA
PKCS#1 v1.5 and SHA-256 and prints the signature in base64, to paste back into the page.
``sign-pdf`` signs a downloaded PDF into its signature field, incrementally, as a person's own
PDF software does. No Flask app and no database are needed."""

from __future__ import annotations

import base64
import binascii
import io
import sys
from pathlib import Path

import click
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils
from cryptography.hazmat.primitives.serialization import pkcs12

from app.signing import aio


class StandinError(click.ClickException):
    """An error shown to the person running the tool, in Vietnamese."""


def _load(p12_bytes: bytes, password: str):
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(p12_bytes, password.encode("utf-8"))
    except ValueError as error:
        raise StandinError(f"Không mở được tệp khóa PKCS#12: sai mật khẩu? ({error})") from error
    if key is None or cert is None:
        raise StandinError("Tệp PKCS#12 không chứa khóa bí mật và chứng thư số.")
    return key, cert, list(chain or [])


def sign_digest(p12_bytes: bytes, password: str, data: bytes, prehashed: bool = False) -> bytes:
    """The RSA PKCS#1 v1.5 / SHA-256 signature of ``data`` (or of the SHA-256 digest ``data``
    when ``prehashed``) with the key of the PKCS#12 file."""
    key, _cert, _chain = _load(p12_bytes, password)
    if prehashed and len(data) != 32:
        raise StandinError(f"Giá trị băm SHA-256 phải dài 32 byte, nhận được {len(data)} byte.")
    algorithm = utils.Prehashed(hashes.SHA256()) if prehashed else hashes.SHA256()
    return key.sign(data, padding.PKCS1v15(), algorithm)


def sign_pdf(p12_bytes: bytes, password: str, pdf: bytes, field: str,
             reason: str | None = None) -> bytes:
    """``pdf`` with a PAdES signature added incrementally into the signature field ``field``
    (created invisible when the PDF has none of that name)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    _load(p12_bytes, password)  # the Vietnamese message for a wrong password
    signer = signers.SimpleSigner.load_pkcs12_data(p12_bytes, other_certs=None,
                                                   passphrase=password.encode("utf-8"))
    meta = signers.PdfSignatureMetadata(field_name=field, md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES, reason=reason)
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    except Exception as error:  # noqa: BLE001 - any unreadable input is the person's file
        raise StandinError(f"Không đọc được tệp PDF: {error}") from error
    out = io.BytesIO()
    pdf_signer = signers.PdfSigner(meta, signer)
    aio.run(lambda: pdf_signer.async_sign_pdf(writer, output=out))
    return out.getvalue()


def _read_data(data: str | None) -> bytes:
    text = sys.stdin.read() if data in (None, "-") else data
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise StandinError("Dữ liệu cần ký phải là chuỗi base64 (như trang ký số hiển thị).") \
            from error


@click.group(help="Công cụ ký thay thế (thử nghiệm): đóng vai thiết bị ký số của người dùng.")
def cli() -> None:
    pass


@cli.command("sign-digest", help="Ký dữ liệu cần ký (base64) và in chữ ký (base64).")
@click.option("--p12", "p12_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--password", required=True)
@click.option("--prehashed", is_flag=True, help="Dữ liệu là giá trị băm SHA-256 (32 byte).")
@click.argument("data", required=False)
def sign_digest_command(p12_path: str, password: str, prehashed: bool, data: str | None) -> None:
    value = sign_digest(Path(p12_path).read_bytes(), password, _read_data(data), prehashed)
    click.echo(base64.b64encode(value).decode("ascii"))


@cli.command("sign-pdf", help="Ký tệp PDF vào ô chữ ký, nối thêm vào cuối tệp.")
@click.option("--p12", "p12_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--password", required=True)
@click.option("--field", required=True, help="Tên ô chữ ký, vd. ChuKyLanhDao, ChuKyCoQuan.")
@click.option("--reason", default=None)
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.argument("target", type=click.Path(dir_okay=False))
def sign_pdf_command(p12_path: str, password: str, field: str, reason: str | None, source: str,
                     target: str) -> None:
    signed = sign_pdf(Path(p12_path).read_bytes(), password, Path(source).read_bytes(), field,
                      reason)
    Path(target).write_bytes(signed)
    click.echo(f"Đã ký: {target}")


@cli.command("make-key", help="Tạo khóa và chứng thư số thử nghiệm (tệp PKCS#12).")
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--name", required=True, help="Họ tên người ký, hoặc tên cơ quan với --agency.")
@click.option("--agency", is_flag=True)
@click.option("--password", required=True)
@click.option("--ca-p12", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--ca-password", default=None)
def make_key_command(target: str, name: str, agency: bool, password: str, ca_p12: str | None,
                     ca_password: str | None) -> None:
    from app.signing import pki

    target_path = Path(target)
    if ca_p12:
        key, cert, _chain = _load(Path(ca_p12).read_bytes(), ca_password or password)
        ca = pki.Issued(certificate=cert, private_key=key)
    else:
        ca = pki.make_ca()
        stem = target_path.with_suffix("")
        Path(f"{stem}-ca.p12").write_bytes(pki.to_pkcs12(ca, password))
        Path(f"{stem}-ca.pem").write_bytes(ca.certificate_pem)
    issued = pki.issue_agency(ca, name) if agency else pki.issue_person(ca, name)
    target_path.write_bytes(pki.to_pkcs12(issued, password, ca=ca))
    target_path.with_suffix(".pem").write_bytes(issued.certificate_pem)
    click.echo(f"Đã tạo: {target_path} và {target_path.with_suffix('.pem')}")


if __name__ == "__main__":
    cli()
