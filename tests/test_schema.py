"""Alembic owns the schema: an upgrade from empty matches the models exactly."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_ADMIN_URL

ROOT = Path(__file__).resolve().parent.parent


def _flask(args, database_url, tmp_path):
    env = dict(os.environ, DATABASE_URL=database_url, HTTTBC_INSTANCE_DIR=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app:create_app", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture
def empty_postgres():
    name = f"htttbc_schema_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL không kết nối được: {error.orig}", pytrace=False)
        pytest.skip(f"PostgreSQL không kết nối được: {error.orig}")
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_upgrade_from_empty_then_check_finds_no_difference(backend, tmp_path, request):
    if backend == "postgresql":
        url = request.getfixturevalue("empty_postgres")
    else:
        url = f"sqlite:///{tmp_path / 'schema.sqlite'}"
    upgraded = _flask(["db", "upgrade"], url, tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    checked = _flask(["db", "check"], url, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "No new upgrade operations detected" in checked.stdout + checked.stderr
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))
    tables = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert {"unit", "ab_user", "indicator", "regime", "period", "audit_entry"} <= tables


def test_app_does_not_create_tables_before_alembic(tmp_path):
    """Building the app on an empty database leaves it empty: FAB's create_all never runs."""
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    from app.extensions import db

    with app.app_context():
        assert sa.inspect(db.engine).get_table_names() == []
        db.engine.dispose()


def test_sqlite_runs_in_wal_mode_with_busy_timeout(app_ctx):
    from app.extensions import db

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
