"""Digital signatures in the demo province: a test certification authority the province
trusts, certificates registered to the leaders and the units of the showcase communes, their
signature and seal images, and their keys as PKCS#12 files in the instance folder for the
stand-in signing tool (``python -m app.signing.standin``), which plays the USB token.

Everything is generated on first start; no key is ever committed. These keys are for the demo
only: real keys stay on the person's token or with a signing provider."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select

DEMO_CA_NAME = "CA thử nghiệm HTTTBC - tỉnh Đồng Tháp"
KEY_FOLDER = "demo-signing"


def key_folder(instance_dir: Path) -> Path:
    return Path(instance_dir) / KEY_FOLDER


def load_demo_signing(session, instance_dir: Path, unit_codes, password: str) -> int:
    """Set up signing for the communes with these admin codes: their leader's (``*.lanhdao``)
    personal certificate and the unit's agency certificate, registered and confirmed, with images,
    kept as ``<username>.p12`` / ``<admin code>.p12`` (and ``.pem``) in the key folder. Keys
    already in the folder are reused, nothing is registered twice. Returns how many units are
    ready to sign."""
    from app.models import AppUser, TrustAnchor, Unit
    from app.models.signing import StampImage
    from app.signing import certificates, images, pki

    folder = key_folder(instance_dir)
    folder.mkdir(parents=True, exist_ok=True)
    ca_file = folder / "ca.p12"
    if ca_file.exists():
        key, cert, _chain = pki.load_pkcs12(ca_file.read_bytes(), password)
        ca = pki.Issued(certificate=cert, private_key=key)
    else:
        ca = pki.make_ca(DEMO_CA_NAME)
        ca_file.write_bytes(pki.to_pkcs12(ca, password, friendly_name=DEMO_CA_NAME))
        (folder / "ca.pem").write_bytes(ca.certificate_pem)
    ca_der = ca.certificate_der
    ca_sha = hashlib.sha256(ca_der).hexdigest()
    if session.scalars(select(TrustAnchor).where(TrustAnchor.sha256 == ca_sha)).first() is None:
        session.add(TrustAnchor(kind="root", name=DEMO_CA_NAME, der=ca_der, sha256=ca_sha,
                                subject=ca.certificate.subject.rfc4514_string(),
                                valid_until=ca.certificate.not_valid_after_utc.replace(tzinfo=None)))

    ready = 0
    units = session.scalars(select(Unit).where(Unit.admin_code.in_(list(unit_codes)))).all()
    for unit in units:
        leader = session.scalars(select(AppUser).where(
            AppUser.unit_id == unit.id, AppUser.username.like("%.lanhdao"))).first()
        if leader is not None:
            cert_der = _key_file(folder, leader.username, ca, password, functools.partial(
                pki.issue_person, ca, leader.full_name, organization=unit.name,
                email=leader.email))
            if certificates.registered(session, cert_der) is None:
                certificates.register(session, cert_der, person=leader, confirmed=True)
            _image(session, StampImage, functools.partial(images.signature_png, leader.full_name),
                   person_id=leader.id)
        cert_der = _key_file(folder, unit.admin_code, ca, password, functools.partial(
            pki.issue_agency, ca, unit.name, unit_code=unit.admin_code))
        if certificates.registered(session, cert_der) is None:
            certificates.register(session, cert_der, unit=unit, confirmed=True)
        _image(session, StampImage, functools.partial(images.seal_png, unit.name),
               unit_id=unit.id)
        ready += 1
    session.flush()
    return ready


def _key_file(folder: Path, name: str, ca, password: str, issue) -> bytes:
    """The certificate (DER) of ``<name>.p12`` in the key folder, made with ``issue()`` and
    written (with its ``.pem``) when the file is not there yet."""
    from app.signing import pki

    path = folder / f"{name}.p12"
    if path.exists():
        _key, cert, _chain = pki.load_pkcs12(path.read_bytes(), password)
        return cert.public_bytes(Encoding.DER)
    issued = issue()
    path.write_bytes(pki.to_pkcs12(issued, password, ca=ca))
    (folder / f"{name}.pem").write_bytes(issued.certificate.public_bytes(Encoding.PEM))
    return issued.certificate_der


def _image(session, model, png, **owner) -> None:
    if session.scalars(select(model).filter_by(**owner)).first() is None:
        session.add(model(png=png(), **owner))
