"""An RFC 3161 timestamp on every signature when a timestamp server is configured
(SIGNING_TIMESTAMP_URL), against a timestamp server run on loopback by the test."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from app.signing import engine, pki
from app.signing.verify import verify_pdf
from tests.test_signing import leader_signed


def _tsa_certificate():
    ca = pki.test_pki().ca
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TSA thử nghiệm")]))
            .issuer_name(ca.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                           critical=True)
            .sign(ca.private_key, hashes.SHA256()))
    return (asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
            asn1_keys.PrivateKeyInfo.load(key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption())))


@pytest.fixture(scope="module")
def timestamp_server():
    cert, key = _tsa_certificate()
    stamper = DummyTimeStamper(tsa_cert=cert, tsa_key=key)
    requests = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            requests.append(self.headers.get("Content-Type"))
            request = tsp.TimeStampReq.load(body)
            response = asyncio.run(stamper.async_request_tsa_response(request)).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(response)))
            self.end_headers()
            self.wfile.write(response)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", requests
    server.shutdown()


def _sign_leader(session, settings):
    _report, _people, row, checks = leader_signed(session, settings=settings)
    return row, checks


def test_a_configured_timestamp_server_stamps_the_signature(session, timestamp_server):
    url, requests = timestamp_server
    before = len(requests)
    row, checks = _sign_leader(session, engine.SigningSettings(timestamp_url=url))
    assert len(requests) == before + 1 and requests[-1] == "application/timestamp-query"
    assert checks[0].ok, checks[0].problems
    assert checks[0].timestamp_time is not None and checks[0].timestamp_time.endswith("+07:00")
    assert verify_pdf(session, row.signed_pdf)[0].timestamp_time == checks[0].timestamp_time


def test_without_a_timestamp_server_there_is_no_timestamp(session):
    _row, checks = _sign_leader(session, engine.SigningSettings())
    assert checks[0].ok and checks[0].timestamp_time is None
    assert engine.SigningSettings.from_config({"SIGNING_TIMESTAMP_URL": ""}).timestamp_url is None
