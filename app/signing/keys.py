"""Keys the server may hold, each off unless configured. Signing with them runs the same
prepare → sign the data → finish path as a person's token (``engine.sign_on_server``).

- **PKCS#11 (HSM)**: a province may keep agency seals in a hardware security module and let the
  clerk add the agency signature from the server. Settings: ``SIGNING_PKCS11_MODULE`` (path of
  the PKCS#11 library), ``SIGNING_PKCS11_TOKEN`` (token label), ``SIGNING_PKCS11_PIN`` and
  ``SIGNING_PKCS11_KEYS`` (unit code → key label, a dict or "code=label,code=label" from the
  environment; the unit code is its internal code or administrative code). Agency stage only.
  When the certificate is not on the token, the confirmed certificate registered to the unit is
  used.
- **PKCS#12 files** (tests and demos only: government keys cannot be exported):
  ``SIGNING_PKCS12_DIR`` holding ``<unit code>.p12`` (agency stage) and ``<username>.p12``
  (leader stage), ``SIGNING_PKCS12_PASSWORD``."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from sqlalchemy import select

SETTINGS = ("SIGNING_PKCS11_MODULE", "SIGNING_PKCS11_TOKEN", "SIGNING_PKCS11_PIN",
            "SIGNING_PKCS11_KEYS", "SIGNING_PKCS12_DIR", "SIGNING_PKCS12_PASSWORD")


def _setting(config, name: str):
    value = config.get(name) if config is not None else None
    return value if value not in (None, "") else os.environ.get(name) or None


def key_labels(config) -> dict[str, str]:
    """SIGNING_PKCS11_KEYS as a dict of unit code → key label."""
    value = _setting(config, "SIGNING_PKCS11_KEYS") or {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    pairs = (part.split("=", 1) for part in str(value).split(",") if "=" in part)
    return {code.strip(): label.strip() for code, label in pairs}


def unit_code(unit) -> str | None:
    return unit.internal_code or unit.admin_code


@contextlib.contextmanager
def server_signer(config, stage: str, unit, *, person=None):
    """Yields ``(signer, method)`` — a pyHanko Signer and "pkcs11" or "pkcs12" — for the stage
    when the server holds a key for it, else ``None``. A PKCS#11 session is closed on exit."""
    module = _setting(config, "SIGNING_PKCS11_MODULE")
    code = unit_code(unit)
    if module and stage == "agency" and code in key_labels(config):
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session

        session = open_pkcs11_session(
            module, token_criteria=TokenCriteria(label=_setting(config, "SIGNING_PKCS11_TOKEN")),
            user_pin=_setting(config, "SIGNING_PKCS11_PIN"))
        try:
            label = key_labels(config)[code]
            registered = _registered_certificate(unit)
            signer = PKCS11Signer(session, key_label=label,
                                  cert_label=None if registered else label,
                                  signing_cert=registered)
            yield signer, "pkcs11"
        finally:
            session.close()
        return
    folder = _setting(config, "SIGNING_PKCS12_DIR")
    if folder:
        name = code if stage == "agency" else getattr(person, "username", None)
        path = Path(folder) / f"{name}.p12" if name else None
        if path is not None and path.exists():
            from pyhanko.sign.signers import SimpleSigner

            password = _setting(config, "SIGNING_PKCS12_PASSWORD") or ""
            signer = SimpleSigner.load_pkcs12(str(path), passphrase=password.encode("utf-8"))
            if signer is not None:
                yield signer, "pkcs12"
                return
    yield None


def _registered_certificate(unit) -> asn1_x509.Certificate | None:
    from app.extensions import db
    from app.models.signing import SigningCertificate

    row = db.session.scalars(select(SigningCertificate).where(
        SigningCertificate.unit_id == unit.id, SigningCertificate.confirmed.is_(True))
        .order_by(SigningCertificate.not_after.desc())).first()
    return asn1_x509.Certificate.load(row.der) if row is not None else None


def configured(config) -> bool:
    """Whether the server holds any signing key (an HSM or PKCS#12 files)."""
    return bool(_setting(config, "SIGNING_PKCS11_MODULE") or _setting(config, "SIGNING_PKCS12_DIR"))


def describe_server_keys(config) -> list[str]:
    """What the server holds, in Vietnamese, without secrets."""
    lines = []
    if _setting(config, "SIGNING_PKCS11_MODULE"):
        codes = ", ".join(sorted(key_labels(config))) or "chưa gán đơn vị nào"
        lines.append(f"HSM (PKCS#11) «{_setting(config, 'SIGNING_PKCS11_TOKEN') or '?'}»: "
                     f"khóa con dấu của đơn vị {codes}.")
    if _setting(config, "SIGNING_PKCS12_DIR"):
        lines.append("Tệp khóa PKCS#12 trên máy chủ (chỉ dùng thử nghiệm, trình diễn).")
    return lines or ["Máy chủ không giữ khóa ký nào: người ký dùng thiết bị ký số của mình."]
