"""Test fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is reached at 127.0.0.1:5432 as user postgres (override with TEST_POSTGRES_URL). In CI
(CI set in the environment) an unreachable PostgreSQL fails the run; elsewhere its tests are
skipped with the reason shown.
"""

from __future__ import annotations

import functools
import os
import uuid

import pytest
import sqlalchemy as sa

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
KEEP_TABLES = {
    "alembic_version",
    "ab_permission",
    "ab_view_menu",
    "ab_permission_view",
    "ab_role",
    "ab_permission_view_role",
}


def _postgres_database(request):
    """Create a throw-away PostgreSQL database; return its URL."""
    name = f"htttbc_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        message = f"PostgreSQL không kết nối được tại {POSTGRES_ADMIN_URL}: {error.orig}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)

    def drop():
        with admin.connect() as connection:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    request.addfinalizer(drop)
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def build_app(database_url: str, **settings):
    """Upgrade an empty database with Alembic, then build the app on it with the seed roles
    (settings: more configuration for the app, e.g. an identity provider's)."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.security import sync_roles

    overrides = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "localhost",
        **settings,
    }
    bootstrap = create_app(overrides)
    with bootstrap.app_context():
        upgrade()
        db.engine.dispose()
    app = create_app(overrides)
    with app.app_context():
        sync_roles(db.session)
        db.session.commit()
    return app


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def app(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    else:
        url = _postgres_database(request)
    flask_app = build_app(url)
    flask_app.config["TEST_BACKEND"] = request.param
    yield flask_app
    from app.extensions import db

    with flask_app.app_context():
        db.session.remove()
        db.engine.dispose()


def _clean_database(app) -> None:
    """Empty every table but the roles and permissions, and start every id again at 1.

    Only the tables that hold rows are emptied, by DELETE: a test touches a few of the seventy
    tables, and on PostgreSQL a TRUNCATE of all of them costs most of a second, every test.
    """
    from app.extensions import db
    from app.reports import _COMPUTED_BY_REVISION

    # computed values are cached per (report id, revision): ids and revisions start again
    # after a wipe, which never happens to a real database (reports are never deleted)
    _COMPUTED_BY_REVISION.clear()
    with app.app_context():
        db.session.remove()
        tables = [t for t in db.metadata.sorted_tables if t.name not in KEEP_TABLES]
        with db.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                _clean_postgresql(connection, tables)
            else:
                _clean_sqlite(connection, tables)


@functools.lru_cache(maxsize=4)
def _used_tables_and_sequences(names: tuple[str, ...]):
    """One query: which of the tables ``names`` hold rows, and which sequences were used."""
    holding = " UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in names)
    return sa.text(f"SELECT name FROM ({holding}) AS holding(name) UNION ALL "
                   "SELECT schemaname || '.' || sequencename FROM pg_sequences "
                   "WHERE last_value IS NOT NULL")


def _clean_postgresql(connection, tables) -> None:
    names = {t.name for t in tables}
    used = connection.execute(
        _used_tables_and_sequences(tuple(t.name for t in tables))).scalars().all()
    filled = [t for t in reversed(tables) if t.name in used]
    sequences = [name for name in used if name not in names
                 and name.split(".", 1)[1].rsplit("_id_seq", 1)[0] not in KEEP_TABLES]
    if not filled and not sequences:
        connection.rollback()
        return
    # no foreign-key or immutability triggers while emptying (as TRUNCATE, which fires none)
    connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
    for table in filled:
        connection.exec_driver_sql(f'DELETE FROM "{table.name}"')
    for sequence in sequences:
        connection.execute(sa.text("SELECT setval(:name, 1, false)"), {"name": sequence})
    connection.commit()


def _clean_sqlite(connection, tables) -> None:
    # the pragma takes effect only outside a transaction: off, empty and commit, then on again
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    for table in reversed(tables):
        connection.execute(table.delete())
    # no table is AUTOINCREMENT: an emptied table's ids start again at 1
    connection.commit()
    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    connection.commit()


@pytest.fixture
def app_ctx(app):
    """An app context on a database emptied of everything but roles and permissions."""
    _clean_database(app)
    with app.app_context():
        yield app
    _clean_database(app)


@pytest.fixture
def session(app_ctx):
    from app.extensions import db

    return db.session


@pytest.fixture
def client(app_ctx):
    return app_ctx.test_client()
