"""Access records (seed 004 Art. 5.2), callable without a request: ``record_access`` writes one
row of ``access_record`` on a connection of its own (a read leaves no trace in the audit trail
of changes, and a rolled-back request still leaves its record).

``install(app)`` records, after each request: every file a person or system takes away (an
export, a report's PDF or workbook, an attachment, a signed PDF: any response sent as an
attachment or of a file type) and every API read. Log-ins are recorded where they are decided
(``record_login``).
"""

from __future__ import annotations

import datetime as dt

from flask import Flask, has_request_context, request
from sqlalchemy import insert

from app.models import AccessRecord
from app.models.forms import utcnow

FILE_TYPES = ("application/pdf", "application/zip", "text/csv",
              "application/vnd.openxmlformats-officedocument", "application/msword",
              "application/vnd.ms-excel", "image/")
EXPORT_VIEWS = ("FiguresView.", "StatusBoardView.", "ComplianceView.", "DashboardView.")
SIGNED_PDF_VIEWS = ("ReportSigningView.",)


def record_access(engine, action: str, *, user=None, username: str | None = None,
                  address: str | None = None, target: str | None = None,
                  status: int | None = None, user_agent: str | None = None,
                  unit_id: int | None = None, at: dt.datetime | None = None) -> None:
    with engine.begin() as connection:
        connection.execute(insert(AccessRecord).values(
            at=at or utcnow(), action=action, user_id=getattr(user, "id", None),
            username=(username or getattr(user, "username", None) or None),
            unit_id=unit_id or getattr(user, "unit_id", None), address=(address or "")[:64] or None,
            target=(target or "")[:500] or None, status=status,
            user_agent=(user_agent or "")[:300] or None))


def record_login(engine, username: str | None, address: str | None, ok: bool, user=None,
                 how: str = "password") -> None:
    """A log-in decided: ``ok`` with the account, or refused with the name as typed (kept with
    the unit of the account of that name, if there is one, so its unit admin sees it)."""
    unit_id = None
    if not ok and username:
        from sqlalchemy import func, select

        from app.models import AppUser

        with engine.connect() as connection:
            unit_id = connection.scalar(select(AppUser.unit_id).where(
                func.lower(AppUser.username) == username.lower()))
    record_access(engine, "login" if ok else "login_failed", user=user if ok else None,
                  username=username, address=address, target=how, unit_id=unit_id,
                  user_agent=request.user_agent.string if has_request_context() else None)


def classify(endpoint: str | None, path: str, method: str, mimetype: str | None,
             disposition: str | None) -> str | None:
    """What a successful response hands out: api_read, signed_pdf, export, download or None."""
    if method != "GET":
        return None
    if path.startswith("/api/") and not path.startswith("/api/v1/_openapi") and \
            not path.startswith("/api/v1/security/"):
        return "api_read"
    is_file = (disposition or "").startswith("attachment") or any(
        (mimetype or "").startswith(kind) for kind in FILE_TYPES)
    if not is_file:
        return None
    endpoint = endpoint or ""
    if endpoint.startswith(SIGNED_PDF_VIEWS):
        return "signed_pdf"
    if endpoint.startswith(EXPORT_VIEWS):
        return "export"
    return "download"


def install(app: Flask) -> None:
    @app.after_request
    def record_files_and_api_reads(response):
        if response.status_code >= 400 or request.endpoint in (None, "static") or \
                request.path.startswith("/static"):
            return response
        action = classify(request.endpoint, request.path, request.method, response.mimetype,
                          response.headers.get("Content-Disposition"))
        if action is None:
            return response
        from app.extensions import db
        from app.scoping import current_user

        user = current_user()
        record_access(db.engine, action, user=user, address=request.remote_addr,
                      target=request.full_path.rstrip("?"), status=response.status_code,
                      user_agent=request.user_agent.string)
        return response
