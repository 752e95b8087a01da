"""Entry points: `python run.py` (or `python run.py serve`) prepares the database and serves the
app with waitress; later entries run the scheduler process.

Preparing means: upgrade the schema with Alembic, create the seed roles and their permissions,
and load the demo province on first start (an empty database). Every step is idempotent.
"""

from __future__ import annotations

import os
import sys


def prepare(load_demo: bool = True):
    """Bring the database to the current schema and seed data; return a ready app."""
    from flask_migrate import upgrade

    from app import create_app, schema_exists
    from app.extensions import db

    app = create_app()
    with app.app_context():
        was_ready = schema_exists()
        upgrade()
    if not was_ready:
        app = create_app()  # FAB registers its permissions now that the tables exist
    with app.app_context():
        from app.audit import actor_context
        from app.security import sync_roles

        with actor_context("Khởi động hệ thống", source="startup"):
            sync_roles(db.session)
            db.session.commit()
            if load_demo:
                from app.demo import load_demo_if_empty

                created = load_demo_if_empty(db.session)
                db.session.commit()
                from app.demo import print_demo_accounts

                print_demo_accounts(created)
    return app


def serve() -> None:
    from waitress import serve as waitress_serve

    app = prepare(load_demo=os.environ.get("HTTTBC_NO_DEMO") != "1")
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8080"))
    print(f"Hệ thống thông tin báo cáo: http://{host}:{port}", flush=True)
    waitress_serve(app, host=host, port=port, threads=int(os.environ.get("WAITRESS_THREADS", "8")))


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "serve"
    if command == "serve":
        serve()
        return 0
    if command == "prepare":
        prepare()
        return 0
    print(f"Lệnh không hợp lệ: {command}. Dùng: python run.py [serve|prepare]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
