"""The application factory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask
from flask_appbuilder import AppBuilder
from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from app.extensions import db, migrate

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL and a busy timeout so the web server and a second process can share the file; and
    lower() of Vietnamese letters as PostgreSQL does it (SQLite's own folds ASCII only)."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    dbapi_connection.create_function(
        "lower", 1, lambda text: text.lower() if isinstance(text, str) else text,
        deterministic=True)


def schema_exists() -> bool:
    """True once Alembic has created the schema (its version table and FAB's user table)."""
    tables = set(inspect(db.engine).get_table_names())
    return {"alembic_version", "ab_user"} <= tables


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    flask_app = Flask(__name__, instance_relative_config=False)
    flask_app.config.from_object("config")
    if overrides:
        flask_app.config.update(overrides)
    logging.basicConfig(format="%(asctime)s:%(levelname)s:%(name)s:%(message)s")
    logging.getLogger().setLevel(flask_app.config.get("LOG_LEVEL", logging.INFO))
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # font subsetting of signature stamps

    if flask_app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg2"):
        # Batch UPDATEs too (psycopg2's plain executemany sends one row per round trip).
        options = flask_app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        options.setdefault("executemany_mode", "values_plus_batch")
        options.setdefault("pool_pre_ping", True)

    import app.models  # noqa: F401,I001  (registers every table on the shared metadata)

    db.init_app(flask_app)
    from app.sso import init_sso

    init_sso(flask_app)
    migrate.init_app(flask_app, db, directory=MIGRATIONS_DIR)

    from app import audit

    audit.install()
    from app import retention

    retention.install()
    # registers its AFTER_TRANSITION_HOOKS (consolidations marked revised after a correction)
    # registers its AFTER_TRANSITION_HOOKS (notices of rejections, returns, acceptances)
    from app import (
        consolidation,  # noqa: F401
        event_notices,  # noqa: F401
    )

    # registers its AFTER_TRANSITION_HOOKS (the province's accepted figures queued upward)
    from app.exchange import downstream  # noqa: F401

    # registers its SEND_HOOKS (a regime may require the report signed before it is sent)
    from app.signing import engine  # noqa: F401

    with flask_app.app_context():
        try:
            ready = schema_exists()
        except OperationalError as error:
            # the database is down (e.g. being restored: flask ops restore must still run)
            logging.getLogger(__name__).warning(
                "Chưa kết nối được cơ sở dữ liệu: %s", str(error.orig).strip().splitlines()[0])
            ready = False
        if not ready:
            # Alembic owns the schema: until it has run, FAB must neither create tables
            # nor write permissions.
            flask_app.config["FAB_CREATE_DB"] = False
            flask_app.config["FAB_UPDATE_PERMS"] = False
        appbuilder = AppBuilder(update_perms=flask_app.config.get("FAB_UPDATE_PERMS", True))
        appbuilder.init_app(flask_app, db.session)
        from app.views import register_views

        register_views(appbuilder)

    from app.cli import register_cli

    register_cli(flask_app)
    from app import web_hooks

    web_hooks.install(flask_app)
    from app import access_log

    access_log.install(flask_app)

    from app import observability

    observability.install(flask_app)
    proxies = int(flask_app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        flask_app.wsgi_app = ProxyFix(flask_app.wsgi_app, x_for=proxies, x_proto=proxies,
                                      x_host=proxies)
    return flask_app
