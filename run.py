"""Entry points: `python run.py` (or `python run.py serve`) prepares the database and serves the
app with waitress, and starts the scheduler beside it as a child process (`python run.py scheduler`,
stopped with the server; HTTTBC_NO_SCHEDULER=1 leaves it out).

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


def start_scheduler_child():
    """`run.py scheduler` as a child process; it exits by itself when this process goes."""
    import subprocess

    env = dict(os.environ, HTTTBC_PARENT_PID=str(os.getpid()))
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "scheduler"], env=env)


def serve() -> None:
    from waitress import serve as waitress_serve

    app = prepare(load_demo=os.environ.get("HTTTBC_NO_DEMO") != "1")
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8080"))
    child = None
    if os.environ.get("HTTTBC_NO_SCHEDULER") != "1":
        child = start_scheduler_child()
    print(f"Hệ thống thông tin báo cáo: http://{host}:{port}", flush=True)
    try:
        waitress_serve(app, host=host, port=port,
                       threads=int(os.environ.get("WAITRESS_THREADS", "8")))
    finally:
        if child is not None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except Exception:
                child.kill()


def scheduler() -> None:
    """The scheduler process: waits for the database lock, then runs the jobs while it holds it.
    SIGTERM or SIGINT stop it; so does the end of the server that started it."""
    import signal
    import threading

    from app import create_app
    from app.scheduler import run_scheduler

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    parent = os.environ.get("HTTTBC_PARENT_PID")
    run_scheduler(
        create_app(), stop,
        poll_seconds=float(os.environ.get("HTTTBC_SCHEDULER_POLL", "5")),
        lease_seconds=float(os.environ.get("HTTTBC_SCHEDULER_LEASE", "30")),
        parent_pid=int(parent) if parent else None,
    )


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "serve"
    if command == "serve":
        serve()
        return 0
    if command == "prepare":
        prepare(load_demo=os.environ.get("HTTTBC_NO_DEMO") != "1")
        return 0
    if command == "scheduler":
        scheduler()
        return 0
    print(f"Lệnh không hợp lệ: {command}. Dùng: python run.py [serve|prepare|scheduler]",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
