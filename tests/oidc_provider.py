"""A small but real OpenID Connect provider for the tests, served on a free loopback port.

It speaks the protocol the way VNConnect does for a confidential client: discovery, JWKS, an
authorization endpoint (approving the configured person without asking), a token endpoint
checking the client's secret, the code's redirect URI and PKCE (S256), issuing an RS256-signed ID
token carrying the nonce and the person's claims (``cccd`` among them), and a userinfo endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OIDCProvider:
    def __init__(self, client_id: str = "htttbc", client_secret: str = "bi-mat-thu-nghiem"):
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": "vnconnect-test", "use": "sig", "alg": "RS256"}, private=True
        )
        # a key the provider does not publish: tokens signed with it must be refused
        self.foreign_key = RSAKey.generate_key(
            2048, parameters={"kid": "vnconnect-test", "use": "sig", "alg": "RS256"}, private=True
        )
        self.sign_with_foreign_key = False
        # claims given by the userinfo endpoint only, not in the ID token
        self.userinfo_only: set[str] = set()
        # the person who "logs in" at the provider next
        self.person: dict = {}
        self.codes: dict[str, dict] = {}
        self.authorize_requests: list[dict] = []
        self.redeemed: list[str] = []
        self.issuer = ""
        self._server = None
        self._thread = None
        self.app = self._build()

    # ---------------------------------------------------------------- serving

    def start(self) -> OIDCProvider:
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)

    # ---------------------------------------------------------------- endpoints

    def _build(self) -> Flask:
        app = Flask("test_oidc_provider")

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify(
                issuer=self.issuer,
                authorization_endpoint=self.issuer + "/authorize",
                token_endpoint=self.issuer + "/token",
                userinfo_endpoint=self.issuer + "/userinfo",
                jwks_uri=self.issuer + "/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
                token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
                scopes_supported=["openid", "profile"],
            )

        @app.get("/jwks")
        def jwks():
            return jsonify(keys=[self.key.as_dict(private=False)])

        @app.get("/authorize")
        def authorize():
            args = request.args.to_dict()
            self.authorize_requests.append(args)
            if args.get("client_id") != self.client_id or args.get("response_type") != "code":
                return jsonify(error="unauthorized_client"), 400
            if "openid" not in args.get("scope", "").split():
                return jsonify(error="invalid_scope"), 400
            if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
                return jsonify(error="invalid_request", error_description="PKCE required"), 400
            code = secrets.token_urlsafe(24)
            self.codes[code] = {
                "redirect_uri": args["redirect_uri"],
                "code_challenge": args["code_challenge"],
                "nonce": args.get("nonce"),
                "person": dict(self.person),
            }
            query = {"code": code}
            if "state" in args:
                query["state"] = args["state"]
            return redirect(args["redirect_uri"] + "?" + urlencode(query))

        @app.post("/token")
        def token():
            form = request.form
            auth = request.authorization
            client_id, secret = (
                (auth.username, auth.password) if auth else (form.get("client_id"), form.get("client_secret"))
            )
            if client_id != self.client_id or secret != self.client_secret:
                return jsonify(error="invalid_client"), 401
            if form.get("grant_type") != "authorization_code":
                return jsonify(error="unsupported_grant_type"), 400
            grant = self.codes.pop(form.get("code", ""), None)  # a code is used once
            if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                return jsonify(error="invalid_grant"), 400
            if _s256(form.get("code_verifier", "")) != grant["code_challenge"]:
                return jsonify(error="invalid_grant", error_description="PKCE"), 400
            self.redeemed.append(form["code"])
            now = int(time.time())
            person = grant["person"]
            claims = {
                "iss": self.issuer,
                "aud": self.client_id,
                "iat": now,
                "exp": now + 300,
                "nonce": grant["nonce"],
                **{name: value for name, value in person.items()
                   if name not in self.userinfo_only},
            }
            key = self.foreign_key if self.sign_with_foreign_key else self.key
            id_token = jwt.encode({"alg": "RS256", "kid": "vnconnect-test"}, claims, key)
            access_token = secrets.token_urlsafe(24)
            self.codes["access:" + access_token] = person
            return jsonify(
                access_token=access_token, token_type="Bearer", expires_in=300,
                id_token=id_token, scope="openid profile",
            )

        @app.get("/userinfo")
        def userinfo():
            header = request.headers.get("Authorization", "")
            person = self.codes.get("access:" + header.removeprefix("Bearer "))
            if person is None:
                return jsonify(error="invalid_token"), 401
            return jsonify(person)

        return app
