"""Settings. Everything secret or machine-specific comes from the environment or the instance folder."""

import os
import secrets
from pathlib import Path

from flask_appbuilder.const import AUTH_DB

from app.passwords import password_complexity

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("HTTTBC_INSTANCE_DIR", BASE_DIR / "instance"))


def load_secret_key(instance_dir: Path = INSTANCE_DIR) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the instance folder."""
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        return from_env
    instance_dir.mkdir(parents=True, exist_ok=True)
    key_file = instance_dir / "secret_key"
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return key_file.read_text().strip()


def default_database_url(instance_dir: Path = INSTANCE_DIR) -> str:
    instance_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance_dir / 'htttbc.sqlite'}"


def normalise_database_url(url: str) -> str:
    """postgres:// and postgresql:// use psycopg2, the driver this project installs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


SECRET_KEY = load_secret_key()
SQLALCHEMY_DATABASE_URI = normalise_database_url(
    os.environ.get("DATABASE_URL") or default_database_url()
)
SQLALCHEMY_TRACK_MODIFICATIONS = False
SQLITE_BUSY_TIMEOUT_MS = 15000

APP_NAME = "Hệ thống thông tin báo cáo"
APP_THEME = ""
# FAB's layout plus the script that puts the inbox counts on the menu (app/views/inbox.py)
FAB_BASE_TEMPLATE = "inbox/base.html"
FAB_INDEX_VIEW = "app.views.home.HomeView"
FAB_SECURITY_MANAGER_CLASS = "app.security.AppSecurityManager"
FAB_ADD_SECURITY_API = False
# API keys (Authorization: Bearer sst_…) for systems reading the figures: hashed, revocable
FAB_API_KEY_ENABLED = True
FAB_API_SWAGGER_UI = True
FAB_PASSWORD_COMPLEXITY_ENABLED = True
FAB_PASSWORD_COMPLEXITY_VALIDATOR = password_complexity

AUTH_TYPE = AUTH_DB
AUTH_ROLE_ADMIN = "Quản trị cấp tỉnh"
AUTH_ROLE_PUBLIC = "Public"
AUTH_USER_REGISTRATION = False

# Single sign-on through an OpenID Connect provider (the national portal's VNConnect), beside the
# password form (app/sso.py). The button shows when the three are set. An account is matched by
# the national ID (CCCD) claim only; no account is ever created from the provider's answer.
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "")
OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
OIDC_CCCD_CLAIM = os.environ.get("OIDC_CCCD_CLAIM", "cccd")
OIDC_SCOPE = os.environ.get("OIDC_SCOPE", "openid profile")
# the callback address registered at the provider; by default /login/vnconnect/callback here
OIDC_REDIRECT_URI = os.environ.get("OIDC_REDIRECT_URI", "")
OIDC_TIMEOUT = float(os.environ.get("OIDC_TIMEOUT", "10"))

# Brute force (app/login_guard.py), counted in the database so every worker sees the same counts:
# a captcha drawn by the server after a few failures for a username or from an address, then the
# username locked for a while after many failures.
LOGIN_CAPTCHA_AFTER = int(os.environ.get("LOGIN_CAPTCHA_AFTER", "3"))
LOGIN_LOCKOUT_AFTER = int(os.environ.get("LOGIN_LOCKOUT_AFTER", "10"))
LOGIN_LOCKOUT_WINDOW_MINUTES = int(os.environ.get("LOGIN_LOCKOUT_WINDOW_MINUTES", "15"))
LOGIN_LOCKOUT_MINUTES = int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15"))
LOGIN_CAPTCHA_TTL_SECONDS = 300

BABEL_DEFAULT_LOCALE = "vi"
BABEL_DEFAULT_FOLDER = "translations"
LANGUAGES = {
    "vi": {"flag": "vn", "name": "Tiếng Việt"},
    "en": {"flag": "gb", "name": "English"},
}

TIMEZONE = "Asia/Ho_Chi_Minh"
WTF_CSRF_ENABLED = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# E-mail (the notification outbox, app/notifications.py): no SMTP_HOST, no e-mail is sent and
# notices stay in the app (their e-mail waits in the outbox until a server is configured).
SMTP_HOST = os.environ.get("SMTP_HOST", "")
SMTP_PORT = int(os.environ.get("SMTP_PORT", "587"))
SMTP_SECURITY = os.environ.get("SMTP_SECURITY", "starttls")  # starttls | ssl | none
SMTP_USER = os.environ.get("SMTP_USER", "")
SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
MAIL_FROM = os.environ.get("MAIL_FROM", "Hệ thống thông tin báo cáo <no-reply@localhost>")
SMTP_TIMEOUT = float(os.environ.get("SMTP_TIMEOUT", "30"))
# the e-mail of one notice is tried this many times, waiting 5 min, 10, 20… in between
MAIL_MAX_ATTEMPTS = int(os.environ.get("MAIL_MAX_ATTEMPTS", "5"))
# the address links in e-mails start with
PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:8080")

# Exchange with the upper-level reporting system (QCVN 125:2021/BTTTT, app/exchange/): its
# address and the API key it issued to this province (no UPSTREAM_URL: nothing is pulled nor
# queued). The same software serves as the upper level: its /api/v1/exchange/ endpoints.
UPSTREAM_URL = os.environ.get("UPSTREAM_URL", "")
UPSTREAM_TOKEN = os.environ.get("UPSTREAM_TOKEN", "")
UPSTREAM_TIMEOUT = float(os.environ.get("UPSTREAM_TIMEOUT", "30"))
# a message to the upper level is tried this many times, waiting 5 min, 10, 20… in between
EXCHANGE_MAX_ATTEMPTS = int(os.environ.get("EXCHANGE_MAX_ATTEMPTS", "8"))
# the unit new regimes synced down belong to (its admin or internal code); default: the root
EXCHANGE_LOCAL_UNIT = os.environ.get("EXCHANGE_LOCAL_UNIT", "")

# Backup and restore (app/ops/backup.py, flask ops …, docs/operations.md). BACKUP_DIR holds the
# base backups (PostgreSQL) or the SQLite copies; the nightly backup job runs only when it is set
# (flask ops backup alone defaults to instance/backups). BACKUP_WAL_DIR is where the server's
# archive_command copies the WAL (default BACKUP_DIR/wal). PG_BIN_DIR: the PostgreSQL programs
# (default the newest /usr/lib/postgresql/*/bin, else PATH); PG_SERVER_USER: the account the
# server runs as, given the restored files when the restore runs as root.
# BACKUP_DATABASE_URL: the same database through a role allowed to take base backups
# (REPLICATION), when the app's own role is not.
BACKUP_DIR = os.environ.get("BACKUP_DIR", "")
BACKUP_DATABASE_URL = os.environ.get("BACKUP_DATABASE_URL", "")
BACKUP_WAL_DIR = os.environ.get("BACKUP_WAL_DIR", "")
BACKUP_KEEP = int(os.environ.get("BACKUP_KEEP", "7"))
PG_BIN_DIR = os.environ.get("PG_BIN_DIR", "")
PG_SERVER_USER = os.environ.get("PG_SERVER_USER", "postgres")

# Operations (app/observability.py, docs/deployment.md). /health: the scheduler counts as down
# after this many seconds without a job run (its interval jobs run every 2 minutes), the disk of
# the instance folder as full under this many MB free. /metrics: with METRICS_TOKEN, a request
# needs "Authorization: Bearer <token>"; without it, only direct loopback requests are answered.
HEALTH_SCHEDULER_STALE_SECONDS = float(os.environ.get("HEALTH_SCHEDULER_STALE_SECONDS", "300"))
HEALTH_DISK_MIN_FREE_MB = float(os.environ.get("HEALTH_DISK_MIN_FREE_MB", "500"))
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# Behind a reverse proxy (nginx): how many proxies set X-Forwarded-For/-Proto in front of the app,
# so that the client's address (login rate limit, audit) and https are seen. 0: none.
TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))

# FAB's per-address rate limit on the login form (Flask-Limiter), beside the lockout counted in
# the database: on with AUTH_RATE_LIMITED=1 or a shared storage. With several gunicorn workers the
# counters must be shared: RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0 (each worker would
# otherwise count alone with the default memory://).
AUTH_RATE_LIMITED = (os.environ.get("AUTH_RATE_LIMITED", "0") == "1"
                     or bool(os.environ.get("RATELIMIT_STORAGE_URI")))
RATELIMIT_ENABLED = AUTH_RATE_LIMITED
AUTH_RATE_LIMIT = os.environ.get("AUTH_RATE_LIMIT", "10 per 20 second")
RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
