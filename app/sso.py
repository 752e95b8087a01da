"""Single sign-on through an OpenID Connect provider (the national portal's VNConnect).

Authlib's client does the protocol: discovery from ``OIDC_ISSUER``'s
``/.well-known/openid-configuration``, the authorization code flow with PKCE (S256), state and
nonce kept in the session, and the ID token's signature (the provider's JWKS), issuer, audience,
expiry and nonce checked. This module decides who the person is: the account whose national ID
(CCCD) equals the claim ``OIDC_CCCD_CLAIM``. Never the e-mail, and no account is ever created.
"""

from __future__ import annotations

import re

from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import DomainError
from app.models import AppUser

CLIENT_NAME = "vnconnect"
CCCD_RE = re.compile(r"\d{12}")


def sso_configured(config) -> bool:
    return all(config.get(key) for key in ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"))


def init_sso(app: Flask) -> None:
    """Register the provider's client on this app when the three settings are present."""
    if not sso_configured(app.config):
        return
    from authlib.integrations.flask_client import OAuth

    oauth = OAuth(app)
    issuer = app.config["OIDC_ISSUER"].rstrip("/")
    oauth.register(
        CLIENT_NAME,
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=issuer + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": app.config.get("OIDC_SCOPE") or "openid",
            "code_challenge_method": "S256",
            # seconds to wait for the provider (discovery, keys, token)
            "default_timeout": float(app.config.get("OIDC_TIMEOUT", 10)),
        },
    )
    app.extensions["sso_client"] = oauth.create_client(CLIENT_NAME)


def sso_client():
    return current_app.extensions.get("sso_client")


def national_id_from_claims(claims: dict, claim_name: str) -> str:
    value = claims.get(claim_name)
    if value is None:
        raise DomainError(
            _("Cổng dịch vụ công không gửi số CCCD (thông tin %(claim)s); không thể xác định "
              "tài khoản.", claim=claim_name)
        )
    value = str(value).strip()
    if not CCCD_RE.fullmatch(value):
        raise DomainError(_("Số CCCD do Cổng dịch vụ công gửi không hợp lệ."))
    return value


def match_account(session: Session, claims: dict, claim_name: str) -> AppUser:
    """The active account holding the CCCD in the claims, or a DomainError saying why not."""
    national_id = national_id_from_claims(claims, claim_name)
    user = session.scalar(select(AppUser).where(AppUser.national_id == national_id))
    if user is None:
        raise DomainError(
            _("Chưa có tài khoản nào gắn với số CCCD %(masked)s. Đề nghị liên hệ quản trị hệ "
              "thống của đơn vị để được cấp tài khoản và khai báo số CCCD.",
              masked=mask_national_id(national_id))
        )
    if not user.is_active:
        raise DomainError(
            _("Tài khoản gắn với số CCCD này đang ngừng hoạt động. Đề nghị liên hệ quản trị hệ "
              "thống của đơn vị.")
        )
    return user


def mask_national_id(national_id: str) -> str:
    return "•" * (len(national_id) - 4) + national_id[-4:]
