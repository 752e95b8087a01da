"""The floor of bench/bench_deadline_rush.py: a bare WSGI app that stores the same values the
entry page's save stores (report_value rows upserted, the report's revision bumped) with plain
SQL on one psycopg2 connection per worker, and nothing else: no login, no session, no CSRF, no
validation, no audit. Served by the same gunicorn settings:

    DATABASE_URL=… gunicorn -c deploy/gunicorn.conf.py bench.deadline_floor:app

POST /save/<report_id> with {"changes": {"r5|c3": "12", …}} → {"saved": n, "revision": r}.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal

_connection = None

UPSERT = """
INSERT INTO report_value (report_id, row_key, column_key, breakdown_key, number_value, saved_at)
VALUES (%s, %s, %s, '', %s, now() AT TIME ZONE 'utc')
ON CONFLICT (report_id, row_key, column_key, breakdown_key)
DO UPDATE SET number_value = EXCLUDED.number_value, saved_at = EXCLUDED.saved_at
"""


def connection():
    global _connection
    if _connection is None or _connection.closed:
        import psycopg2

        url = os.environ["DATABASE_URL"].replace("postgresql+psycopg2://", "postgresql://")
        _connection = psycopg2.connect(url)
    return _connection


def number(text: str) -> Decimal:
    return Decimal(text.replace(".", "").replace(",", "."))


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if environ["REQUEST_METHOD"] != "POST" or not path.startswith("/save/"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    report_id = int(path.rsplit("/", 1)[1])
    length = int(environ.get("CONTENT_LENGTH") or 0)
    changes = json.loads(environ["wsgi.input"].read(length) or b"{}").get("changes") or {}
    db = connection()
    with db, db.cursor() as cursor:
        cursor.execute("SELECT revision FROM report WHERE id = %s FOR UPDATE", (report_id,))
        for key, value in changes.items():
            row_key, column_key = key.split("|", 1)
            cursor.execute(UPSERT, (report_id, row_key, column_key, number(value)))
        cursor.execute("UPDATE report SET revision = revision + 1, "
                       "updated_at = now() AT TIME ZONE 'utc' WHERE id = %s RETURNING revision",
                       (report_id,))
        revision = cursor.fetchone()[0]
    body = json.dumps({"saved": len(changes), "revision": revision}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
