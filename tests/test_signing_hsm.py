"""The agency's signature with a key held by the province in an HSM (PKCS#11), against a real
SoftHSM2 token with the key generated on the token (app/signing/keys.py); and the PKCS#12 files
of tests and demos. Both go through the same prepare → sign → finish path as a person's token."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import serialization

from app.signing import certificates, engine, keys, pki
from app.signing.verify import verify_pdf
from tests.test_signing import leader_signed

TOKEN, SO_PIN, PIN, LABEL = "htttbc-test", "12345678", "5678", "seal-xa1"
LIBRARIES = ("/usr/lib/softhsm/libsofthsm2.so",
             "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def token(tmp_path_factory):
    """A fresh SoftHSM2 token with an RSA key pair generated on it (never extractable). Once per
    process: the PKCS#11 library reads its configuration only when first loaded."""
    library = next((path for path in LIBRARIES if Path(path).exists()), None)
    if shutil.which("softhsm2-util") is None or library is None:
        _unavailable("Không có SoftHSM2 (Debian softhsm2; `make signing-tools` cài)")
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--so-pin",
                        SO_PIN, "--pin", PIN], check=True, capture_output=True)
        import pkcs11
        from pkcs11.util.rsa import encode_rsa_public_key

        lib = pkcs11.lib(library)
        with lib.get_token(token_label=TOKEN).open(user_pin=PIN, rw=True) as session:
            public, private = session.generate_keypair(
                pkcs11.KeyType.RSA, 2048, label=LABEL, store=True,
                private_template={pkcs11.Attribute.SENSITIVE: True,
                                  pkcs11.Attribute.EXTRACTABLE: False})
            info = asn1_keys.PublicKeyInfo({
                "algorithm": {"algorithm": "rsa"},
                "public_key": asn1_keys.RSAPublicKey.load(encode_rsa_public_key(public)),
            })
            extractable = private[pkcs11.Attribute.EXTRACTABLE]
        public_key = serialization.load_der_public_key(info.dump())
        yield {"library": library, "public_key": public_key, "extractable": extractable}
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous


def _leader_signed(session):
    report, people, _row, _checks = leader_signed(session)
    return report, people


def test_the_agency_signs_with_a_key_generated_on_the_hsm(session, token):
    assert token["extractable"] is False  # the private key never leaves the token
    report, people = _leader_signed(session)
    report.unit.internal_code = "XA1"
    certificate = pki.issue_for_public_key(pki.test_pki().ca, token["public_key"], "UBND xã Một")
    certificates.register(session, certificate.public_bytes(serialization.Encoding.DER),
                          unit=report.unit, confirmed=True)
    session.commit()
    config = {"SIGNING_PKCS11_MODULE": token["library"], "SIGNING_PKCS11_TOKEN": TOKEN,
              "SIGNING_PKCS11_PIN": PIN, "SIGNING_PKCS11_KEYS": f"XA1={LABEL}"}
    row = engine.current_issue(session, report, engine.AGENCY, people["clerk"])
    with keys.server_signer(config, engine.AGENCY, report.unit) as held:
        assert held is not None
        signer, method = held
        assert method == "pkcs11"
        checks = engine.sign_on_server(session, row, signer, people["clerk"], method=method)
    session.commit()
    assert [c.ok for c in checks] == [True, True], [c.problems for c in checks]
    assert checks[1].signer == "UBND xã Một" and checks[1].covers_whole_document
    assert row.method == "pkcs11" and row.status == "signed"
    again = verify_pdf(session, row.signed_pdf)
    assert [c.field for c in again] == ["ChuKyLanhDao", "ChuKyCoQuan"]

    # the leader stage is never signed with a server key
    with keys.server_signer(config, engine.LEADER, report.unit) as held:
        assert held is None


def test_pkcs12_keys_on_the_server_are_off_unless_configured(session, tmp_path):
    report, people = _leader_signed(session)
    report.unit.internal_code = "XA1"
    session.commit()
    with keys.server_signer({}, engine.AGENCY, report.unit) as held:
        assert held is None
    (tmp_path / "XA1.p12").write_bytes(pki.to_pkcs12(pki.test_pki().agency, "mk",
                                                     ca=pki.test_pki().ca))
    config = {"SIGNING_PKCS12_DIR": str(tmp_path), "SIGNING_PKCS12_PASSWORD": "mk"}
    row = engine.current_issue(session, report, engine.AGENCY, people["clerk"])
    with keys.server_signer(config, engine.AGENCY, report.unit) as held:
        signer, method = held
        checks = engine.sign_on_server(session, row, signer, people["clerk"], method=method)
    session.commit()
    assert method == "pkcs12" and [c.ok for c in checks] == [True, True]
    assert keys.describe_server_keys(config)[0].startswith("Tệp khóa PKCS#12")
