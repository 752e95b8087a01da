"""Benchmark of form specs: load a 1,000-row × 12-column template, render its entry page, save
1,000 cells. Compared in the same run against the floor of openpyxl merely loading the file.

    .venv/bin/python bench/bench_forms.py [--rows 1000] [--runs 7] [--postgres] [--write-docs]

Targets (issue "Form specs"): load ≤ 1.5 × the floor; render ≤ 150 ms; save ≤ 150 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generate_template import generate  # noqa: E402

TARGETS = {"load_ratio": 1.5, "render_ms": 150.0, "save_ms": 150.0}


def insert_section(path: Path, lines: list[str]) -> None:
    """Newest first: a new section goes above the earlier ones, below the page's introduction."""
    text = path.read_text()
    first_section = text.find("\n## ")
    head, rest = (text, "") if first_section < 0 else (text[:first_section], text[first_section:])
    path.write_text(head.rstrip("\n") + "\n" + "\n".join(lines) + "\n" + rest)


def median_time(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_load(path: Path, runs: int) -> dict:
    import openpyxl

    from app.specs.loader import load_spec

    floor = median_time(lambda: openpyxl.load_workbook(path), runs)
    load = median_time(lambda: load_spec(path), runs)
    spec = load_spec(path)
    return {"floor_s": floor, "load_s": load, "ratio": load / floor, "spec": spec}


def _database_url(backend: str, workdir: Path) -> tuple[str, callable]:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite'}", lambda: None
    import sqlalchemy as sa

    admin_url = os.environ.get(
        "TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    )
    name = f"htttbc_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return admin_url.rsplit("/", 1)[0] + "/" + name, drop


def measure_entry(spec, template_bytes: bytes, backend: str, runs: int, workdir: Path) -> dict:
    from tests.conftest import build_app

    url, drop = _database_url(backend, workdir)
    try:
        app = build_app(url)
        app.config["SERVER_NAME"] = None
        from app.extensions import db
        from app.models import Period, Regime
        from app.reports import get_or_create_report, publish_form_version, save_values
        from app.roles import DATA_ENTRY
        from tests import factories

        with app.app_context():
            session = db.session
            province = factories.unit(session, "UBND tỉnh", type_code="province_committee")
            regime = Regime(code="BENCH", name="Chế độ thử", owner_unit=province,
                            lead_unit=province, receiving_unit=province)
            period = Period(regime=regime, frequency="month", year=2026, number=11,
                            label="Tháng 11/2026", cutoff_start=dt.date(2026, 10, 15),
                            cutoff_end=dt.date(2026, 11, 14), deadline=dt.date(2026, 11, 19))
            session.add_all([regime, period])
            publish_form_version(session, spec, regime=regime, source_workbook=template_bytes)
            report = get_or_create_report(session, period, province, spec.code)
            factories.user(session, "nhaplieu", province, [DATA_ENTRY])
            session.commit()
            report_id = report.id
            keys = [cell.key for cell in spec.entry_cells][:1000]

            def domain_save(run=[0]):  # noqa: B006 (a counter across calls)
                run[0] += 1
                mine = session.get(type(report), report_id)
                save_values(session, mine, {k: f"{run[0]}.{i},5" for i, k in enumerate(keys)})
                session.commit()

            domain_save_s = median_time(domain_save, runs)

        client = app.test_client()
        factories.login(client, "nhaplieu")
        page = client.get(f"/entry/{report_id}")
        assert page.status_code == 200, page.status_code
        render_s = median_time(lambda: client.get(f"/entry/{report_id}"), runs)
        token = _csrf_token(page.get_data(as_text=True))

        def http_save(run=[1000]):  # noqa: B006
            run[0] += 1
            response = client.post(
                f"/entry/{report_id}/save",
                json={"changes": {k: f"{run[0]}.{i},25" for i, k in enumerate(keys)}},
                headers={"X-CSRFToken": token},
            )
            assert response.status_code == 200, response.get_data(as_text=True)[:300]

        http_save_s = median_time(http_save, runs)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        return {"backend": backend, "cells": len(keys), "render_s": render_s,
                "save_s": http_save_s, "domain_save_s": domain_save_s,
                "page_kb": len(page.data) / 1024}
    finally:
        drop()


def _csrf_token(html: str) -> str:
    import re

    found = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', html
    )
    return found.group(1) if found else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", action="store_true", help="also measure on PostgreSQL")
    parser.add_argument("--write-docs", action="store_true", help="append to docs/performance.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-forms-"))
    os.environ.setdefault("HTTTBC_INSTANCE_DIR", str(workdir))
    path = workdir / "template.xlsx"
    facts = generate(path, rows=args.rows, value_columns=9)
    load = measure_load(path, args.runs)
    spec = load["spec"]
    spec.code = "BENCH-B01"
    print(f"template: {args.rows} rows × 12 columns, {facts['entry_cells']} entry cells generated; "
          f"spec: {len(spec.rows)} rows, {len(spec.entry_cells)} entry cells, "
          f"{len(spec.computed_cells)} computed")
    print(f"load: openpyxl {load['floor_s'] * 1000:.0f} ms, load_spec {load['load_s'] * 1000:.0f} ms,"
          f" ratio {load['ratio']:.2f} (target ≤ {TARGETS['load_ratio']})")
    backends = ["sqlite"] + (["postgresql"] if args.postgres else [])
    results = []
    for backend in backends:
        result = measure_entry(spec, path.read_bytes(), backend, args.runs, workdir)
        results.append(result)
        print(f"{backend}: render {result['render_s'] * 1000:.0f} ms ({result['page_kb']:.0f} KB), "
              f"save {result['cells']} cells {result['save_s'] * 1000:.0f} ms over HTTP, "
              f"{result['domain_save_s'] * 1000:.0f} ms in the domain call "
              f"(targets ≤ {TARGETS['render_ms']:.0f} ms)")
    if args.write_docs:
        write_docs(args, facts, load, results)


def write_docs(args, facts, load, results) -> None:
    path = ROOT / "docs" / "performance.md"
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        path.write_text("# Performance\n\nResults of the benchmarks in `bench/`, newest first "
                        "within each section. Machine: 2 cores, 24 GiB.\n")
    lines = [
        "",
        f"## Form specs — {dt.date.today():%d/%m/%Y} (`bench/bench_forms.py --rows {args.rows}"
        f" --runs {args.runs}{' --postgres' if args.postgres else ''}`)",
        "",
        f"Python {platform.python_version()}; template {args.rows} rows × 12 columns "
        f"({facts['entry_cells']} entry cells); medians of {args.runs} runs.",
        "",
        "| measure | result | target | met |",
        "|---|---|---|---|",
        f"| openpyxl loads the file (floor) | {load['floor_s'] * 1000:.0f} ms | | |",
        f"| load_spec | {load['load_s'] * 1000:.0f} ms = {load['ratio']:.2f} × floor "
        f"| ≤ 1.5 × floor | {'yes' if load['ratio'] <= TARGETS['load_ratio'] else 'no'} |",
    ]
    for result in results:
        lines += [
            f"| render entry page, {result['backend']} | {result['render_s'] * 1000:.0f} ms "
            f"({result['page_kb']:.0f} KB) | ≤ 150 ms "
            f"| {'yes' if result['render_s'] * 1000 <= TARGETS['render_ms'] else 'no'} |",
            f"| save {result['cells']} cells over HTTP, {result['backend']} "
            f"| {result['save_s'] * 1000:.0f} ms | ≤ 150 ms "
            f"| {'yes' if result['save_s'] * 1000 <= TARGETS['save_ms'] else 'no'} |",
            f"| save {result['cells']} cells, domain call only, {result['backend']} "
            f"| {result['domain_save_s'] * 1000:.0f} ms | | |",
        ]
    insert_section(path, lines)


if __name__ == "__main__":
    main()
