"""Notices to people, callable without a request: ``notify`` records one in the notification
table at most once per (person, dedup key) even when two runs race; ``send_outbox`` e-mails the
pending and failed ones through SMTP with a backoff, up to MAIL_MAX_ATTEMPTS tries."""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
import unicodedata
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite

from app.models import AppUser, Notification
from app.models.forms import utcnow
from app.models.notifications import (
    EMAIL_FAILED,
    EMAIL_MUTED,
    EMAIL_NONE,
    EMAIL_PENDING,
    EMAIL_SENT,
)


@dataclass(frozen=True)
class Notice:
    user_id: int
    kind: str
    subject: str
    body: str
    link: str | None
    dedup_key: str


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def notify(session, notices, now: dt.datetime | None = None) -> int:
    """Record the notices not yet recorded; returns how many are new. INSERT … ON CONFLICT DO
    NOTHING on the (user, dedup key) constraint, so concurrent runs cannot duplicate."""
    notices = list(notices)
    if not notices:
        return 0
    now = now or utcnow()
    users = {u.id: u for u in session.scalars(
        select(AppUser).where(AppUser.id.in_({n.user_id for n in notices})))}
    rows = []
    for notice in notices:
        user = users.get(notice.user_id)
        if user is None:
            continue
        status = (EMAIL_MUTED if user.mute_email else
                  EMAIL_NONE if not user.email else EMAIL_PENDING)
        rows.append({
            "user_id": notice.user_id, "kind": notice.kind, "subject": nfc(notice.subject)[:300],
            "body": nfc(notice.body), "link": notice.link, "dedup_key": notice.dedup_key[:200],
            "created_at": now, "email_status": status, "email_attempts": 0,
        })
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Notification)
    result = session.execute(
        insert.values(rows).on_conflict_do_nothing(index_elements=["user_id", "dedup_key"]))
    session.flush()
    return max(result.rowcount or 0, 0)


def unread_count(session, user_id: int) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def mark_read(session, user_id: int, notification_id: int | None = None,
              now: dt.datetime | None = None) -> None:
    """One notice (or all of them) of the person read."""
    from sqlalchemy import update

    query = update(Notification).where(Notification.user_id == user_id,
                                       Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    session.execute(query.values(read_at=now or utcnow()))


# -- e-mail -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    user: str = ""
    password: str = ""
    mail_from: str = "no-reply@localhost"
    timeout: float = 30.0
    max_attempts: int = 5
    public_url: str = "http://127.0.0.1:8080"

    @classmethod
    def from_config(cls, config) -> SmtpSettings:
        return cls(host=config.get("SMTP_HOST", ""), port=int(config.get("SMTP_PORT", 587)),
                   security=config.get("SMTP_SECURITY", "starttls"),
                   user=config.get("SMTP_USER", ""), password=config.get("SMTP_PASSWORD", ""),
                   mail_from=config.get("MAIL_FROM", "no-reply@localhost"),
                   timeout=float(config.get("SMTP_TIMEOUT", 30)),
                   max_attempts=int(config.get("MAIL_MAX_ATTEMPTS", 5)),
                   public_url=config.get("PUBLIC_URL", "http://127.0.0.1:8080"))


def render_message(notification: Notification, settings: SmtpSettings) -> EmailMessage:
    """The notice as an e-mail in plain text and HTML (app/templates/mail/)."""
    from flask import render_template

    link = settings.public_url.rstrip("/") + notification.link if notification.link else None
    user = notification.user
    context = {"notification": notification, "link": link, "user": user}
    message = EmailMessage()
    message["Subject"] = notification.subject
    message["From"] = settings.mail_from
    message["To"] = formataddr((user.full_name, user.email))
    message.set_content(nfc(render_template("mail/notice.txt", **context)))
    message.add_alternative(nfc(render_template("mail/notice.html", **context)), subtype="html")
    return message


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "ssl":
        client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.security == "starttls":
            client.starttls(context=ssl.create_default_context())
    if settings.user:
        client.login(settings.user, settings.password)
    return client


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(minutes=5 * 2 ** max(attempts - 1, 0))


def send_outbox(session, settings: SmtpSettings, now: dt.datetime | None = None,
                limit: int = 200) -> dict[str, int]:
    """E-mail the pending notices and the failed ones whose wait has passed; each row's status,
    attempts and last error are updated and committed one by one."""
    now = now or utcnow()
    counts = {"sent": 0, "failed": 0}
    if not settings.host:
        return counts
    due = session.scalars(
        select(Notification).where(
            Notification.email_status.in_((EMAIL_PENDING, EMAIL_FAILED)),
            Notification.email_attempts < settings.max_attempts,
            or_(Notification.email_next_at.is_(None), Notification.email_next_at <= now),
        ).order_by(Notification.id).limit(limit)
    ).all()
    if not due:
        return counts
    client = None
    try:
        client = _connect(settings)
    except (OSError, smtplib.SMTPException) as error:
        for row in due:
            _failed(row, error, now)
        session.commit()
        counts["failed"] = len(due)
        return counts
    try:
        for row in due:
            try:
                client.send_message(render_message(row, settings))
            except (OSError, smtplib.SMTPException) as error:
                _failed(row, error, now)
                counts["failed"] += 1
            else:
                row.email_status = EMAIL_SENT
                row.email_attempts += 1
                row.email_sent_at = now
                row.email_last_error = None
                counts["sent"] += 1
            session.commit()
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return counts


def _failed(row: Notification, error: Exception, now: dt.datetime) -> None:
    row.email_status = EMAIL_FAILED
    row.email_attempts += 1
    row.email_last_error = str(error)[:2000]
    row.email_next_at = now + backoff(row.email_attempts)
