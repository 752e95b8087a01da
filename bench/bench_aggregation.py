"""Benchmark of the province's figures and their export, at national scale.

On a throw-away PostgreSQL database: a national root over the 34 provinces and 3,321 communes
and wards of ``vietnam-provinces``, 200 indicators (sum, average, min, max over units), 12
monthly periods, one accepted report per commune and month, one value per indicator: 3,321 × 200
× 12 ≈ 8 million values, loaded with COPY. Then, medians of N runs, each against its floor in
the same run:

- a province roll-up of one period (``app.consolidation.aggregate`` for Hồ Chí Minh City, the
  largest province) against a hand-written GROUP BY over the same tables that gives the same
  figures: the sum, count, least and greatest value of each indicator × column × breakdown,
  from which each indicator's own aggregation (sum, average, min, max) is read (target ≤ 1.2 ×
  this floor and under 1 s); and, shown beside it, against a GROUP BY of the sums alone, which
  is not the roll-up of this catalogue (a third of its indicators take their min or max, a
  sixth their average); the three timed in turns;
- the same for the whole country, one period and year to date (no target; shown);
- the per-unit breakdown export, 3,321 units × 200 indicators, as the figures page downloads
  it (``unit_matrix`` → ``unit_matrix_table`` → ``xlsx_file``, the rows streamed from a
  server-side cursor into a temporary file; checked once against ``aggregate(by_unit=True)``)
  against XlsxWriter writing the same matrix from a list (target ≤ 1.5 × the floor), the two
  timed in turns with the floor's list kept out of the garbage collector (``gc.freeze``); the
  query and the writing are also shown apart, and the export's peak of Python memory
  (tracemalloc) beside the memory the matrix takes when held whole.

    .venv/bin/python bench/bench_aggregation.py [--runs 5] [--months 12] [--indicators 200]
        [--database NAME] [--write-docs]

With ``--database NAME`` the values are loaded into that database and it is kept afterwards; a
later run with the same name finds them there and measures without loading them again (loading
takes minutes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import io
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_forms import _database_url, insert_section, median_time  # noqa: E402
from bench.country import insert_country  # noqa: E402

ROLLUP_TARGET_RATIO = 1.2
ROLLUP_TARGET_S = 1.0
EXPORT_TARGET_RATIO = 1.5
FORM = "BENCH-CT"
AGGREGATIONS = ("sum", "sum", "sum", "average", "min", "max")  # by indicator index

_FLOOR_FROM = """
FROM report_value v
JOIN report r ON r.id = v.report_id
JOIN unit u ON u.id = r.unit_id
WHERE r.period_id = :period AND r.form_code = :form AND r.state = 'accepted'
  AND u.path LIKE :path AND u.id <> :root
GROUP BY v.indicator_id, v.column_key, v.breakdown_key
"""
# the floor: by hand, what the figures of every indicator are read from
FLOOR_SQL = """
SELECT v.indicator_id, v.column_key, v.breakdown_key, SUM(v.number_value),
       COUNT(v.number_value), MIN(v.number_value), MAX(v.number_value)""" + _FLOOR_FROM
# shown beside it: the sums alone (right for the indicators that sum over units only)
SUMS_ONLY_SQL = """
SELECT v.indicator_id, v.column_key, v.breakdown_key, SUM(v.number_value)""" + _FLOOR_FROM


def build_country(session, months: int, indicators: int) -> dict:
    """Bulk-load the country, its indicators, periods, reports and values."""

    from app.imports.province import ensure_unit_types
    from app.models import Indicator, Period, Regime, Report
    from app.reports import publish_form_version
    from tests import factories
    from tests.spec_fixtures import small_spec

    ensure_unit_types(session)
    nation = factories.unit(session, "Toàn quốc (thử nghiệm)", type_code="central_agency")
    session.commit()
    connection = session.connection()
    country = insert_country(session, nation.id + 1, root=nation)
    province_ids, wards, province_of = country.province_ids, country.wards, country.province_of

    regime = Regime(code="KTXH-TQ", name="Chỉ tiêu kinh tế - xã hội tháng (thử nghiệm)",
                    owner_unit=nation, lead_unit=nation, receiving_unit=nation)
    session.add(regime)
    periods = []
    for month in range(12, 12 - months, -1):
        start = dt.date(2026, month - 1, 15) if month > 1 else dt.date(2025, 12, 15)
        periods.append(Period(regime=regime, frequency="month", year=2026, number=month,
                              label=f"Tháng {month}/2026", cutoff_start=start,
                              cutoff_end=dt.date(2026, month, 14),
                              deadline=dt.date(2026, month, 20)))
    session.add_all(periods)
    indicator_rows = [Indicator(code=f"CT{n:03d}", name=f"Chỉ tiêu thử nghiệm {n}",
                                aggregation_over_units=AGGREGATIONS[n % len(AGGREGATIONS)],
                                aggregation_over_time="sum" if n % 7 else "last")
                      for n in range(indicators)]
    session.add_all(indicator_rows)
    form = publish_form_version(session, small_spec(FORM), regime=regime)
    session.flush()
    indicator_ids = [i.id for i in indicator_rows]

    report_rows, report_id = [], 0
    for period in periods:
        for unit_id in wards:
            report_id += 1
            report_rows.append({
                "id": report_id, "regime_id": regime.id, "period_id": period.id,
                "unit_id": unit_id, "form_code": FORM, "form_version_id": form.id,
                "state": "accepted", "revision": 5, "kind": "unit",
                "created_at": dt.datetime(2026, 1, 1), "updated_at": dt.datetime(2026, 1, 1),
            })
    connection.execute(Report.__table__.insert(), report_rows)
    connection.exec_driver_sql("SELECT setval(pg_get_serial_sequence('report', 'id'), "
                               "(SELECT max(id) FROM report))")

    rng = random.Random(2026)
    raw = connection.connection.dbapi_connection
    cursor = raw.cursor()
    columns = ("report_id", "row_key", "column_key", "breakdown_key", "indicator_id",
               "number_value", "saved_at")
    batch = io.StringIO()
    values = 0
    for report in report_rows:
        for index, indicator_id in enumerate(indicator_ids):
            batch.write(f"{report['id']}\tr{index}\tc4\t\t{indicator_id}\t"
                        f"{rng.randint(0, 100000)}\t2026-01-01 00:00:00\n")
            values += 1
        if values % 200_000 < len(indicator_ids):
            batch.seek(0)
            cursor.copy_from(batch, "report_value", columns=columns)
            batch = io.StringIO()
    batch.seek(0)
    cursor.copy_from(batch, "report_value", columns=columns)
    session.commit()
    session.execute(__import__("sqlalchemy").text("ANALYZE"))
    session.commit()
    hcmc_id = province_ids[79]
    return {"nation_id": nation.id, "regime_id": regime.id, "period_ids": [p.id for p in periods],
            "hcmc_id": hcmc_id, "wards": len(wards),
            "provinces": len(province_ids), "values": values, "indicators": indicators,
            "months": months, "hcmc_wards": sum(1 for p in province_of.values()
                                                if p == hcmc_id)}


def paired_medians(*actions, runs: int) -> tuple[float, ...]:
    """Medians of ``runs`` timings of each action, taken in turns (the order rotating), so that
    a busy spell of a shared machine weighs on all alike."""
    times: list[list[float]] = [[] for _ in actions]
    for run in range(runs):
        for step in range(len(actions)):
            index = (run + step) % len(actions)
            started = time.perf_counter()
            actions[index]()
            times[index].append(time.perf_counter() - started)
    return tuple(statistics.median(timed) for timed in times)


def loaded_country(session, months: int, indicators: int) -> dict | None:
    """The facts of a country loaded by an earlier run into this database, or None."""
    from sqlalchemy import func, select

    from app.models import Indicator, Period, Regime, Unit

    regime = session.scalar(select(Regime).where(Regime.code == "KTXH-TQ"))
    if regime is None:
        return None
    nation = regime.owner_unit
    period_ids = list(session.scalars(select(Period.id).where(Period.regime_id == regime.id)
                                      .order_by(Period.number.desc())))
    loaded = session.scalar(select(func.count()).select_from(Indicator)
                            .where(Indicator.code.like("CT%")))
    if (len(period_ids), loaded) != (months, indicators):
        raise SystemExit(f"the database holds {len(period_ids)} months × {loaded} indicators, "
                         f"not {months} × {indicators}: use another --database")
    hcmc_id = session.scalar(select(Unit.id).where(Unit.parent_id == nation.id,
                                                   Unit.admin_code == "79"))
    count = lambda *where: session.scalar(select(func.count()).select_from(Unit).where(*where))  # noqa: E731
    values = session.execute(__import__("sqlalchemy").text(
        "SELECT count(*) FROM report_value")).scalar()
    return {"nation_id": nation.id, "regime_id": regime.id, "period_ids": period_ids,
            "hcmc_id": hcmc_id, "wards": count(Unit.depth == nation.depth + 2,
                                               Unit.path.like(nation.path + "%")),
            "provinces": count(Unit.parent_id == nation.id), "values": values,
            "indicators": indicators, "months": months,
            "hcmc_wards": count(Unit.parent_id == hcmc_id), "build_s": None}


def keep_database(name: str) -> str:
    """The URL of the kept database ``name``, created when missing."""
    import sqlalchemy as sa

    admin_url = os.environ.get(
        "TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    )
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                 {"name": name}):
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def measure(url: str, runs: int, months: int, indicators: int) -> dict:
    import xlsxwriter
    from sqlalchemy import text

    from tests.conftest import build_app

    app = build_app(url)
    from app.consolidation import aggregate, unit_matrix
    from app.exports import Table, unit_matrix_table, xlsx_bytes, xlsx_file
    from app.extensions import db
    from app.models import Regime, Unit

    with app.app_context():
        session = db.session
        facts = loaded_country(session, months, indicators)
        session.commit()
        if facts is None:
            started = time.perf_counter()
            facts = build_country(session, months, indicators)
            facts["build_s"] = time.perf_counter() - started
        regime = session.get(Regime, facts["regime_id"])
        hcmc, nation = session.get(Unit, facts["hcmc_id"]), session.get(Unit, facts["nation_id"])
        latest = facts["period_ids"][0]

        def rollup(root=hcmc, periods=(latest,), by_unit=False):
            return aggregate(session, regime=regime, form_code=FORM, period_ids=list(periods),
                             root_unit=root, by_unit=by_unit)

        floor_parameters = {"period": latest, "form": FORM, "path": hcmc.path + "%",
                            "root": hcmc.id}

        def floor():
            return session.execute(text(FLOOR_SQL), floor_parameters).all()

        def sums_only():
            return session.execute(text(SUMS_ONLY_SQL), floor_parameters).all()

        mine, theirs = rollup(), floor()
        assert len(mine.cells) == len(theirs) == indicators, (len(mine.cells), len(theirs))
        from app.models import Indicator

        kinds = dict(session.query(Indicator.id, Indicator.aggregation_over_units))
        for indicator_id, column, breakdown, total, count, low, high in theirs:
            expected = {"sum": total, "average": total / count if count else None,
                        "min": low, "max": high}[kinds[indicator_id]]
            mine_value = mine.value(indicator_id, column, breakdown)
            assert mine_value == expected, (indicator_id, mine_value, expected)
        sums = {(i, c, b): v for i, c, b, v in sums_only()}
        for indicator_id, column, breakdown, *_rest in theirs:
            if kinds[indicator_id] == "sum":
                assert sums[(indicator_id, column, breakdown)] == mine.value(
                    indicator_id, column, breakdown)
        rollup(), floor(), sums_only()
        facts["rollup_s"], facts["floor_s"], facts["sums_only_s"] = paired_medians(
            rollup, floor, sums_only, runs=runs)
        facts["country_s"] = median_time(lambda: rollup(root=nation), runs)
        facts["ytd_s"] = median_time(lambda: rollup(root=nation, periods=facts["period_ids"]),
                                     max(1, runs // 2))

        def query_breakdown():
            return unit_matrix(session, regime=regime, form_code=FORM, period_ids=[latest],
                               root_unit=nation, column_key="c4")

        breakdown = query_breakdown()
        matrix = unit_matrix_table(breakdown, "Chi tiết theo đơn vị")
        header, rows = matrix.header, list(matrix.rows)
        facts["matrix"] = (len(rows), len(header) - 2)
        # the same figures as the breakdown by unit of aggregate, one figure object per cell
        by_unit = rollup(root=nation, by_unit=True)
        codes = {unit.id: unit.admin_code for unit in session.query(Unit)}
        laid_out = {(codes[key[0]], key[1]): cell.value for key, cell in by_unit.cells.items()}
        order = [indicator_id for indicator_id, _code, _name in breakdown.indicators]
        assert sum(v is not None for row in rows for v in row[2:]) == len(laid_out)
        for row in rows:
            for indicator_id, value in zip(order, row[2:], strict=True):
                assert laid_out.get((row[0], indicator_id)) == value, (row[0], indicator_id)
        del by_unit, laid_out, rows, matrix, codes
        session.expunge_all()
        gc.collect()

        def export():
            xlsx_file(unit_matrix_table(query_breakdown(), "Chi tiết theo đơn vị")).close()

        def write_only():
            return xlsx_bytes(Table("Chi tiết theo đơn vị", breakdown.label, header, iter(rows),
                                    numbers_from=2))

        def xlsxwriter_floor():
            out = io.BytesIO()
            book = xlsxwriter.Workbook(out, {"constant_memory": True})
            sheet = book.add_worksheet()
            sheet.write_row(0, 0, header)
            for index, row in enumerate(rows, start=1):
                sheet.write_string(index, 0, row[0])
                sheet.write_string(index, 1, row[1])
                for column, value in enumerate(row[2:], start=2):
                    if value is not None:
                        sheet.write_number(index, column, float(value))
            book.close()
            return out.getvalue()

        def peak_bytes(action) -> int:
            tracemalloc.start()
            try:
                kept = action()
                return tracemalloc.get_traced_memory()[1]
            finally:
                del kept
                tracemalloc.stop()

        facts["export_peak"] = peak_bytes(export)
        facts["matrix_bytes"] = peak_bytes(lambda: list(query_breakdown().rows))
        rows = list(query_breakdown().rows)  # the floor writes the matrix from a list
        # kept out of the garbage collector's walks: a worker exporting holds no matrix, and
        # 664,200 live figures would make every collection during the export walk them
        gc.freeze()
        export_runs = max(3, runs // 2)
        export(), xlsxwriter_floor()
        facts["export_s"], facts["xlsxwriter_s"] = paired_medians(export, xlsxwriter_floor,
                                                                  runs=export_runs)
        facts["breakdown_query_s"] = median_time(lambda: list(query_breakdown().rows),
                                                 export_runs)
        facts["write_s"] = median_time(write_only, export_runs)
        gc.unfreeze()
        session.remove()
        db.engine.dispose()
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--indicators", type=int, default=200)
    parser.add_argument("--database", help="load into this database and keep it; reuse the "
                        "values it already holds")
    parser.add_argument("--write-docs", action="store_true", help="add to docs/performance.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-aggregation-"))
    os.environ.setdefault("HTTTBC_INSTANCE_DIR", str(workdir))
    if args.database:
        url, drop = keep_database(args.database), lambda: None
    else:
        url, drop = _database_url("postgresql", workdir)
    try:
        facts = measure(url, args.runs, args.months, args.indicators)
    finally:
        drop()
    ratio = facts["rollup_s"] / facts["floor_s"]
    export_ratio = facts["export_s"] / facts["xlsxwriter_s"]
    built = ("loaded by an earlier run" if facts["build_s"] is None
             else f"built in {facts['build_s']:.0f} s")
    print(f"country: {facts['provinces']} provinces, {facts['wards']} communes, "
          f"{facts['indicators']} indicators, {facts['months']} months, {facts['values']:,} "
          f"values ({built})")
    print(f"province roll-up, one period (HCMC, {facts['hcmc_wards']} communes): "
          f"{facts['rollup_s'] * 1000:.0f} ms; floor {facts['floor_s'] * 1000:.0f} ms; "
          f"ratio {ratio:.2f} (target ≤ {ROLLUP_TARGET_RATIO} and < {ROLLUP_TARGET_S:.0f} s); "
          f"the sums alone {facts['sums_only_s'] * 1000:.0f} ms, ratio "
          f"{facts['rollup_s'] / facts['sums_only_s']:.2f}")
    print(f"country roll-up: one period {facts['country_s'] * 1000:.0f} ms; year to date "
          f"{facts['ytd_s'] * 1000:.0f} ms")
    print(f"breakdown export {facts['matrix'][0]} units × {facts['matrix'][1]} indicators: "
          f"{facts['export_s']:.2f} s (query {facts['breakdown_query_s']:.2f} s, writing "
          f"{facts['write_s']:.2f} s); XlsxWriter floor {facts['xlsxwriter_s']:.2f} s; ratio "
          f"{export_ratio:.2f} (target ≤ {EXPORT_TARGET_RATIO}); Python memory at its peak "
          f"{facts['export_peak'] / 2**20:.1f} MiB, the matrix held whole "
          f"{facts['matrix_bytes'] / 2**20:.1f} MiB")
    if args.write_docs:
        write_docs(args, facts, ratio, export_ratio)


def write_docs(args, facts, ratio, export_ratio) -> None:
    path = ROOT / "docs" / "performance.md"
    rollup_met = ("yes" if ratio <= ROLLUP_TARGET_RATIO and facts["rollup_s"] < ROLLUP_TARGET_S
                  else "no")
    export_met = "yes" if export_ratio <= EXPORT_TARGET_RATIO else "no"
    lines = [
        "",
        f"## Province figures and their export — {dt.date.today():%d/%m/%Y} "
        f"(`bench/bench_aggregation.py --runs {args.runs} --months {args.months} "
        f"--indicators {args.indicators}`)",
        "",
        f"Python {platform.python_version()}, PostgreSQL; {facts['provinces']} provinces and "
        f"{facts['wards']} communes of `vietnam-provinces` under a national root, "
        f"{facts['indicators']} indicators, {facts['months']} monthly periods, "
        f"{facts['values']:,} values loaded with COPY "
        + ("by an earlier run into the same database (`--database`)"
           if facts["build_s"] is None else f"in {facts['build_s']:.0f} s")
        + "; medians.",
        "",
        "| measure | result | floor | ratio | target | met |",
        "|---|---|---|---|---|---|",
        f"| `aggregate`, one province ({facts['hcmc_wards']} communes), one period "
        f"| {facts['rollup_s'] * 1000:.0f} ms | hand-written GROUP BY, same figures (sum, "
        f"count, min, max) {facts['floor_s'] * 1000:.0f} ms | {ratio:.2f} "
        f"| ≤ {ROLLUP_TARGET_RATIO} × and < {ROLLUP_TARGET_S:.0f} s | {rollup_met} |",
        f"| the same roll-up | {facts['rollup_s'] * 1000:.0f} ms | hand-written GROUP BY of "
        f"the sums alone (not this catalogue's figures) {facts['sums_only_s'] * 1000:.0f} ms "
        f"| {facts['rollup_s'] / facts['sums_only_s']:.2f} | shown | |",
        f"| `aggregate`, whole country, one period | {facts['country_s'] * 1000:.0f} ms "
        f"| | | | |",
        f"| `aggregate`, whole country, year to date | {facts['ytd_s'] * 1000:.0f} ms "
        f"| | | | |",
        f"| breakdown export, {facts['matrix'][0]} units × {facts['matrix'][1]} indicators "
        f"(.xlsx) | {facts['export_s']:.2f} s (query {facts['breakdown_query_s']:.2f} s, "
        f"writing {facts['write_s']:.2f} s) | XlsxWriter, same matrix "
        f"{facts['xlsxwriter_s']:.2f} s | {export_ratio:.2f} | ≤ {EXPORT_TARGET_RATIO} × "
        f"| {export_met} |",
        f"| the same export, Python memory at its peak (tracemalloc) "
        f"| {facts['export_peak'] / 2**20:.1f} MiB | the matrix held whole "
        f"{facts['matrix_bytes'] / 2**20:.1f} MiB "
        f"| {facts['export_peak'] / facts['matrix_bytes']:.2f} | streamed, not held | "
        f"{'yes' if facts['export_peak'] < facts['matrix_bytes'] / 4 else 'no'} |",
    ]
    insert_section(path, lines)


if __name__ == "__main__":
    main()
