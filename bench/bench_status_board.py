"""Benchmark of the status board: the whole country in one period.

On a throw-away PostgreSQL database: the 34 provinces and 3,321 communes and wards of
``vietnam-provinces`` (bulk inserts, ``Unit.path`` computed here), one regime and period, one
report per commune in mixed states with their events, a few reception changes (reopenings that
extend some units' deadline, a close for everyone). Then the median of N runs of
``app.status_board.status_board`` for the whole country (provincial admin: no scope), compared in
the same run with the floor: one hand-written SQL query returning the same rows.

    .venv/bin/python bench/bench_status_board.py [--runs 15] [--write-docs]

Target (issue "Status board"): board ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_forms import _database_url, insert_section, median_time  # noqa: E402
from bench.country import insert_country  # noqa: E402

TARGET_MS = 300.0
NOW = dt.datetime(2026, 11, 25, 3, 0)  # 25/11/2026 10:00 in Vietnam
DEADLINE = dt.date(2026, 11, 19)


def vn(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment of November 2026 in Vietnam time, stored as naive UTC."""
    return dt.datetime(2026, 11, day, hour, minute) - dt.timedelta(hours=7)


# The life of the reports: (weight, steps as (action, from, to, moment)), chosen by commune
# index; the moments spread around the deadline (19/11, 24:00 Vietnam time).
def _plan(index: int):
    send_day = 15 + index % 9  # 15/11 … 23/11
    sent = vn(send_day, 8 + index % 10, index % 60)
    forward = [("submit", "draft", "submitted", sent - dt.timedelta(hours=2)),
               ("approve", "submitted", "approved", sent - dt.timedelta(hours=1)),
               ("send", "approved", "sent", sent)]
    kind = index % 10
    if kind == 0:
        return []  # never touched
    if kind == 1:
        return forward[:1]  # submitted only
    if kind == 2:
        return forward[:2]  # approved, waiting to be sent
    if kind in (3, 4):
        return forward
    if kind in (5, 6, 7):
        return forward + [("accept", "sent", "accepted", sent + dt.timedelta(days=1))]
    if kind == 8:
        return forward + [("return", "sent", "returned", sent + dt.timedelta(hours=20))]
    # returned, corrected and sent again
    again = sent + dt.timedelta(days=1)
    return forward + [("return", "sent", "returned", sent + dt.timedelta(hours=20))] + [
        ("submit", "returned", "submitted", again),
        ("approve", "submitted", "approved", again + dt.timedelta(minutes=30)),
        ("send", "approved", "sent", again + dt.timedelta(hours=1)),
    ]


def build_country(session) -> dict:
    """Bulk-insert the country; return the ids the measures need."""

    from app.imports.province import ensure_unit_types
    from app.models import (
        AppUser,
        Period,
        ReceptionChange,
        Regime,
        Report,
        ReportEvent,
    )
    from app.models.regimes import regime_reporting_unit
    from app.reports import publish_form_version
    from app.roles import PROVINCIAL_ADMIN
    from tests import factories
    from tests.spec_fixtures import small_spec

    ensure_unit_types(session)
    office = factories.unit(session, "Văn phòng Chính phủ (thử nghiệm)", type_code="central_agency")
    admin = factories.user(session, "quantri", office, [PROVINCIAL_ADMIN])
    session.commit()
    connection = session.connection()
    country = insert_country(session, office.id + 1)
    province_ids, wards = country.province_ids, country.wards

    first_user = session.query(AppUser).count() + 100
    user_rows = [{
        "id": first_user + i, "first_name": f"Văn {i}", "last_name": "Nguyễn",
        "username": f"xa{unit_id}", "email": f"xa{unit_id}@example.gov.vn", "active": True,
        "unit_id": unit_id, "must_change_password": False, "created_on": NOW,
        "changed_on": NOW, "created_by_fk": None, "changed_by_fk": None,
    } for i, unit_id in enumerate(wards)]
    connection.execute(AppUser.__table__.insert(), user_rows)
    connection.exec_driver_sql("SELECT setval(pg_get_serial_sequence('ab_user', 'id'), "
                               "(SELECT max(id) FROM ab_user))")
    reviewer_id = admin.id

    regime = Regime(code="KTXH-TQ", name="Báo cáo kinh tế - xã hội tháng (thử nghiệm)",
                    owner_unit=office, lead_unit=office, receiving_unit=office)
    period = Period(regime=regime, frequency="month", year=2026, number=11,
                    label="Tháng 11/2026", cutoff_start=dt.date(2026, 10, 15),
                    cutoff_end=dt.date(2026, 11, 14), deadline=DEADLINE)
    session.add_all([regime, period])
    form = publish_form_version(session, small_spec("BENCH-B01"), regime=regime)
    session.flush()
    connection.execute(regime_reporting_unit.insert(),
                       [{"regime_id": regime.id, "unit_id": u} for u in wards])

    report_rows, event_rows = [], []
    for i, unit_id in enumerate(wards):
        report_id = i + 1
        steps = _plan(i)
        sends = [at for action, _f, _t, at in steps if action == "send"]
        accepted = [at for action, _f, _t, at in steps if action == "accept"]
        report_rows.append({
            "id": report_id, "regime_id": regime.id, "period_id": period.id, "unit_id": unit_id,
            "form_code": "BENCH-B01", "form_version_id": form.id,
            "state": steps[-1][2] if steps else "draft", "revision": len(steps) + 1,
            "created_at": vn(10, 8), "updated_at": steps[-1][3] if steps else vn(10, 8),
            "kind": "unit", "due_date": dt.date(2026, 11, 30) if i % 97 == 0 else None,
            "submitted_at": next((at for a, _f, _t, at in steps if a == "submit"), None),
            "sent_at": sends[-1] if sends else None,
            "first_sent_at": sends[0] if sends else None,
            "accepted_at": accepted[-1] if accepted else None,
            "sent_late": (sends[-1] > vn(20, 0)) if sends else None, "revised": False,
        })
        for number, (action, source, target, at) in enumerate(steps, start=1):
            event_rows.append({
                "report_id": report_id, "action": action, "from_state": source,
                "to_state": target, "at": at, "values_hash": "0" * 64, "revision": number + 1,
                "actor_id": reviewer_id if action in ("accept", "return") else first_user + i,
            })
    connection.execute(Report.__table__.insert(), report_rows)
    connection.exec_driver_sql("SELECT setval(pg_get_serial_sequence('report', 'id'), "
                               "(SELECT max(id) FROM report))")
    connection.execute(ReportEvent.__table__.insert(), event_rows)
    # reception reopened with an extended deadline for 50 communes, then closed for everyone
    changes = [{
        "period_id": period.id, "unit_id": unit_id, "action": "reopen",
        "until": vn(22, 23, 59), "extends_deadline": True, "reason": "Sự cố đường truyền",
        "actor_id": reviewer_id, "at": vn(20, 8),
    } for unit_id in wards[::66]]
    changes.append({"period_id": period.id, "unit_id": None, "action": "close", "until": None,
                    "extends_deadline": False, "reason": "Kết thúc tiếp nhận",
                    "actor_id": reviewer_id, "at": vn(24, 8)})
    connection.execute(ReceptionChange.__table__.insert(), changes)
    session.commit()
    connection = session.connection()
    connection.exec_driver_sql("ANALYZE")
    hcmc = province_ids[79]
    return {"period_id": period.id, "admin_id": admin.id, "wards": len(wards),
            "events": len(event_rows), "changes": len(changes), "provinces": len(province_ids),
            "hcmc_unit_id": hcmc}


FLOOR_SQL = """
WITH changes AS (
    SELECT id, period_id, unit_id, at,
           CASE WHEN action = 'reopen' AND extends_deadline AND until IS NOT NULL
                THEN until END AS ext,
           lead(at) OVER (PARTITION BY unit_id ORDER BY at, id) AS next_at
      FROM reception_change WHERE period_id = :period
), last_event AS (
    SELECT DISTINCT ON (e.report_id) e.report_id, e.action, e.actor_id, e.at
      FROM report_event e JOIN report r ON r.id = e.report_id
     WHERE r.period_id = :period
     ORDER BY e.report_id, e.at DESC, e.id DESC
), timed AS (
    SELECT r.id, r.unit_id, u.name, coalesce(u.admin_code, u.internal_code) AS code, u.path,
           r.form_code, r.state, r.first_sent_at, r.sent_at, r.accepted_at,
           le.action, a.last_name, a.first_name, le.at,
           coalesce(r.due_date, p.deadline) + interval '17 hours' AS base,
           CASE WHEN fo.id IS NOT NULL AND (fa.id IS NULL OR (fo.at, fo.id) > (fa.at, fa.id))
                THEN fo.ext ELSE fa.ext END AS ext_first,
           CASE WHEN no.id IS NOT NULL AND (na.id IS NULL OR (no.at, no.id) > (na.at, na.id))
                THEN no.ext ELSE na.ext END AS ext_now
      FROM report r
      JOIN unit u ON u.id = r.unit_id
      JOIN period p ON p.id = r.period_id
      LEFT JOIN last_event le ON le.report_id = r.id
      LEFT JOIN ab_user a ON a.id = le.actor_id
      LEFT JOIN changes fo ON fo.period_id = r.period_id AND fo.unit_id = r.unit_id AND fo.at <= r.first_sent_at
                          AND (fo.next_at IS NULL OR fo.next_at > r.first_sent_at)
      LEFT JOIN changes fa ON fa.period_id = r.period_id AND fa.unit_id IS NULL AND fa.at <= r.first_sent_at
                          AND (fa.next_at IS NULL OR fa.next_at > r.first_sent_at)
      LEFT JOIN changes no ON no.period_id = r.period_id AND no.unit_id = r.unit_id AND no.at <= :now
                          AND (no.next_at IS NULL OR no.next_at > :now)
      LEFT JOIN changes na ON na.period_id = r.period_id AND na.unit_id IS NULL AND na.at <= :now
                          AND (na.next_at IS NULL OR na.next_at > :now)
     WHERE r.period_id = :period
)
SELECT id, unit_id, name, code, path, form_code, state,
       CASE WHEN state = 'returned' THEN 'returned'
            WHEN first_sent_at IS NOT NULL
                 AND first_sent_at <= greatest(base, ext_first) THEN 'on_time'
            WHEN first_sent_at IS NOT NULL THEN 'late'
            WHEN :now > greatest(base, ext_now) THEN 'missing'
            ELSE 'not_due' END AS status,
       greatest(base, ext_now) AS deadline_at,
       first_sent_at, sent_at, accepted_at, action, last_name, first_name, at
  FROM timed
 ORDER BY name, id
"""


def measure(url: str, runs: int) -> dict:
    from sqlalchemy import text

    from tests.conftest import build_app

    app = build_app(url)
    app.config["SERVER_NAME"] = None
    from app.extensions import db
    from app.models import AppUser, Unit
    from app.status_board import status_board

    with app.app_context():
        session = db.session
        started = time.perf_counter()
        facts = build_country(session)
        facts["build_s"] = time.perf_counter() - started
        admin = session.get(AppUser, facts["admin_id"])
        period_id = facts["period_id"]

        def board():
            return status_board(session, period_id, admin, now=NOW)

        def floor():
            return session.execute(text(FLOOR_SQL), {"period": period_id, "now": NOW}).all()

        result = board()
        floor_rows = floor()
        # the same rows, in the same order, with the same statuses and deadlines
        mine = [(r.report_id, r.status, r.deadline_at, r.last_action) for r in result.rows]
        theirs = [(r.id, r.status, r.deadline_at, r.action) for r in floor_rows]
        assert mine == theirs, "the board and the floor disagree"
        assert len(mine) == facts["wards"]
        facts["summary"] = result.summary
        board()
        floor()  # warm both
        facts["board_s"] = median_time(board, runs)
        facts["floor_s"] = median_time(floor, runs)
        hcmc = session.get(Unit, facts["hcmc_unit_id"])
        facts["province_rows"] = len(status_board(session, period_id, admin, now=NOW,
                                                  subtree_path=hcmc.path).rows)
        facts["province_s"] = median_time(
            lambda: status_board(session, period_id, admin, now=NOW, subtree_path=hcmc.path),
            runs)
        facts["late_s"] = median_time(
            lambda: status_board(session, period_id, admin, now=NOW, status="late",
                                 sort="status"), runs)
        from app.status_board import compliance

        facts["compliance_s"] = median_time(
            lambda: compliance(session, 2026, admin, now=NOW), runs)
        session.remove()
        db.engine.dispose()
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--write-docs", action="store_true", help="add to docs/performance.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-status-"))
    os.environ.setdefault("HTTTBC_INSTANCE_DIR", str(workdir))
    url, drop = _database_url("postgresql", workdir)
    try:
        facts = measure(url, args.runs)
    finally:
        drop()
    ms = {k: facts[k] * 1000 for k in ("board_s", "floor_s", "province_s", "late_s",
                                       "compliance_s")}
    print(f"country: {facts['provinces']} provinces, {facts['wards']} communes and wards, "
          f"{facts['wards']} reports, {facts['events']} events, {facts['changes']} reception "
          f"changes (built in {facts['build_s']:.1f} s)")
    print("statuses: " + ", ".join(f"{k} {v}" for k, v in facts["summary"].items()))
    print(f"board, whole country: {ms['board_s']:.0f} ms (target ≤ {TARGET_MS:.0f} ms); "
          f"floor (one hand-written SQL query): {ms['floor_s']:.0f} ms; "
          f"ratio {facts['board_s'] / facts['floor_s']:.2f}")
    print(f"board, one province ({facts['province_rows']} rows): {ms['province_s']:.0f} ms; "
          f"late only, sorted by status: {ms['late_s']:.0f} ms; "
          f"compliance 2026, whole country: {ms['compliance_s']:.0f} ms")
    if args.write_docs:
        write_docs(args, facts, ms)


def write_docs(args, facts, ms) -> None:
    path = ROOT / "docs" / "performance.md"
    met = "yes" if ms["board_s"] <= TARGET_MS else "no"
    lines = [
        "",
        f"## Status board — {dt.date.today():%d/%m/%Y} (`bench/bench_status_board.py "
        f"--runs {args.runs}`)",
        "",
        f"Python {platform.python_version()}, PostgreSQL; {facts['provinces']} provinces and "
        f"{facts['wards']} communes and wards of `vietnam-provinces`, one period, one report "
        f"per commune in mixed states, {facts['events']} events, {facts['changes']} reception "
        f"changes; medians of {args.runs} runs.",
        "",
        "| measure | result | target | met |",
        "|---|---|---|---|",
        f"| floor: one hand-written SQL query, same rows | {ms['floor_s']:.0f} ms | | |",
        f"| `status_board`, whole country ({facts['wards']} rows) | {ms['board_s']:.0f} ms = "
        f"{facts['board_s'] / facts['floor_s']:.2f} × floor | ≤ {TARGET_MS:.0f} ms | {met} |",
        f"| `status_board`, one province ({facts['province_rows']} rows) "
        f"| {ms['province_s']:.0f} ms | | |",
        f"| `status_board`, late only, sorted by status | {ms['late_s']:.0f} ms | | |",
        f"| `compliance`, year, whole country | {ms['compliance_s']:.0f} ms | | |",
    ]
    insert_section(path, lines)


if __name__ == "__main__":
    main()
