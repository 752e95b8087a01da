"""Deadline rush: many people saving and sending at once, over HTTP, against gunicorn with
several workers on PostgreSQL (deploy/gunicorn.conf.py), on loopback only and bounded in time
and in requests.

Data (built here on a throw-away database): a province with N communes, each with this month's
report of a small form (5 entry cells) in draft, inside its reception window, and its three
people (nhập liệu, lãnh đạo, văn thư). Then three phases with the same number of client threads:

1. rush: each thread takes the next commune and walks its report the way people do: the entry
   person logs in, opens the report, saves values S times through the page's save call (JSON,
   X-CSRFToken, base values) and submits; the leader logs in, opens it and approves; the clerk
   logs in, opens it and sends.
2. saves: each thread is one entry person of a commune kept aside, saving again and again.
3. floor: the same saves through a bare WSGI app (bench/deadline_floor.py) under the same gunicorn
   settings: plain SQL upserts of the same rows, no login, session, validation or audit.

After phases 1-2 and again after 3, every value acknowledged with 200 is looked up in SQL (no lost
value), and every acknowledged send has its report in state "sent" with its event.

    .venv/bin/python bench/bench_deadline_rush.py [--communes 150] [--threads 16] [--workers 4]
        [--saves 6] [--seconds 60] [--max-requests 20000] [--write-docs]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import queue
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_forms import _database_url, insert_section  # noqa: E402

PASSWORD = "Thu-nghiem-2026"
KEYS_INT = ["r5|c3", "r5|c4"]
KEYS_DEC = ["r6|c3", "r6|c4"]


# -- data ---------------------------------------------------------------------------------------


def build_province(url: str, communes: int) -> dict:
    """The province, its communes, reports and people; returns the ids the clients need."""
    from werkzeug.security import generate_password_hash

    from app.extensions import db
    from app.models import Period, Regime
    from app.reports import get_or_create_report, publish_form_version
    from app.roles import AGGREGATOR, APPROVER, DATA_ENTRY, SIGNER
    from app.workflow import vietnam_time
    from tests import factories
    from tests.conftest import build_app
    from tests.spec_fixtures import small_spec

    app = build_app(url)
    app.config["SERVER_NAME"] = None
    password_hash = generate_password_hash(PASSWORD)  # once: the same password for everyone
    with app.app_context():
        session = db.session
        today = vietnam_time(dt.datetime.now(dt.UTC).replace(tzinfo=None)).date()
        province = factories.unit(session, "UBND tỉnh (thử tải)", type_code="province_committee")
        lead = factories.unit(session, "Sở Tài chính", parent=province)
        regime = Regime(code="KTXH-TAI", name="Báo cáo kinh tế - xã hội tháng (thử tải)",
                        owner_unit=lead, lead_unit=lead, receiving_unit=province,
                        accepts_late=True)
        period = Period(regime=regime, frequency="month", year=today.year, number=today.month,
                        label=f"Tháng {today.month}/{today.year}",
                        cutoff_start=today - dt.timedelta(days=40),
                        cutoff_end=today - dt.timedelta(days=3),
                        deadline=today + dt.timedelta(days=5))
        session.add_all([regime, period])
        publish_form_version(session, small_spec("TAI-B01"), regime=regime)
        factories.user(session, "stc.tonghop", lead, [AGGREGATOR], password_hash=password_hash)
        teams = []
        for number in range(1, communes + 1):
            commune = factories.unit(session, f"UBND xã Thử {number}", parent=province,
                                     type_code="commune")
            report = get_or_create_report(session, period, commune, "TAI-B01")
            people = {}
            for role_key, role in (("nhaplieu", DATA_ENTRY), ("lanhdao", APPROVER),
                                   ("vanthu", SIGNER)):
                name = f"xa{number}.{role_key}"
                factories.user(session, name, commune, [role], password_hash=password_hash)
                people[role_key] = name
            teams.append({"report_id": report.id, **people})
        session.commit()
        db.engine.dispose()
    return {"teams": teams}


# -- servers --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn with deploy/gunicorn.conf.py on a free loopback port; stopped by stop()."""

    def __init__(self, url: str, workers: int, workdir: Path, app_module: str | None = None):
        import requests

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench-" + "k" * 40,
                   HTTTBC_INSTANCE_DIR=str(workdir / "instance"), HTTTBC_NO_DEMO="1",
                   GUNICORN_BIND=f"127.0.0.1:{self.port}", GUNICORN_WORKERS=str(workers),
                   GUNICORN_ACCESS_LOG="/dev/null",
                   PROMETHEUS_MULTIPROC_DIR=str(workdir / f"prometheus-{self.port}"))
        command = [str(Path(sys.executable).parent / "gunicorn"), "-c",
                   str(ROOT / "deploy" / "gunicorn.conf.py")]
        if app_module:
            command.append(app_module)
        self.log = open(workdir / f"gunicorn-{self.port}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        probe = "/login/" if app_module is None else "/"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + probe, timeout=10).status_code in (200, 404):
                    break
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped; see {self.log.name}")
            time.sleep(0.5)
        else:
            self.stop()
            raise RuntimeError(f"gunicorn did not answer in 120 s; see {self.log.name}")
        # every worker warm: a few requests spread over them
        for _ in range(workers * 3):
            requests.get(self.base + probe, timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


# -- clients --------------------------------------------------------------------------------------


class Budget:
    """Stops every client at the time limit or after the request limit."""

    def __init__(self, seconds: float, max_requests: int):
        self.until = time.monotonic() + seconds
        self.left = max_requests
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0 or time.monotonic() >= self.until:
                return False
            self.left -= 1
            return True


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.error_samples: list[str] = []
        self.acked: dict[tuple[int, str], str] = {}  # the last value acknowledged per cell
        self.sent: set[int] = set()
        self.started = time.monotonic()
        self.finished = self.started

    def ok(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latency[kind].append(seconds)

    def error(self, kind: str, detail: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            if len(self.error_samples) < 10:
                self.error_samples.append(f"{kind}: {detail[:300]}")


class OutOfBudget(Exception):
    pass


class Person:
    """One browser: a requests.Session that logs in and keeps the page's CSRF token."""

    def __init__(self, base: str, budget: Budget, recorder: Recorder):
        import requests

        self.session = requests.Session()
        self.base, self.budget, self.recorder = base, budget, recorder
        self.csrf = ""

    def call(self, kind: str, method: str, path: str, expect: int = 200, **kwargs):
        if not self.budget.take():
            raise OutOfBudget
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, timeout=60,
                                            allow_redirects=False, **kwargs)
        except Exception as error:  # noqa: BLE001  (counted as an error of this kind)
            self.recorder.error(kind, repr(error))
            return None
        elapsed = time.perf_counter() - started
        if response.status_code != expect:
            self.recorder.error(kind, f"{response.status_code} {response.text[:200]}")
            return None
        self.recorder.ok(kind, elapsed)
        return response

    def login(self, username: str) -> bool:
        page = self.call("login", "GET", "/login/")
        if page is None:
            return False
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text) or \
            re.search(r'id="csrf_token" name="csrf_token"[^>]*value="([^"]+)"', page.text) or \
            re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        data = {"username": username, "password": PASSWORD,
                "csrf_token": token.group(1) if token else ""}
        return self.call("login", "POST", "/login/", expect=302, data=data) is not None

    def open_report(self, report_id: int) -> int | None:
        page = self.call("page", "GET", f"/entry/{report_id}")
        if page is None:
            return None
        self.csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)
        found = re.search(r'<script type="application/json" id="entry-config">(.*?)</script>',
                          page.text, re.S)
        import html

        return int(json.loads(html.unescape(found.group(1)))["revision"])

    def save(self, report_id: int, changes: dict, base: dict, url: str | None = None):
        response = self.call("save", "POST", url or f"/entry/{report_id}/save",
                             json={"changes": changes, "base": base},
                             headers={"X-CSRFToken": self.csrf})
        if response is None:
            return None
        with self.recorder.lock:
            for key, value in changes.items():
                self.recorder.acked[(report_id, key)] = value
        return response.json()["revision"]

    def act(self, report_id: int, action: str, revision: int) -> int | None:
        response = self.call(action, "POST", f"/entry/{report_id}/transition",
                             json={"action": action, "revision": revision},
                             headers={"X-CSRFToken": self.csrf})
        return None if response is None else response.json()["revision"]


def random_changes(rng: random.Random) -> dict[str, str]:
    keys = rng.sample(KEYS_INT + KEYS_DEC, rng.randint(2, 4))
    return {k: (str(rng.randint(0, 99999)) if k in KEYS_INT
                else f"{rng.randint(0, 9999)},{rng.randint(0, 99):02d}") for k in keys}


def rush_worker(base: str, teams: queue.Queue, saves: int, budget: Budget, recorder: Recorder,
                seed: int) -> None:
    rng = random.Random(seed)
    while True:
        try:
            team = teams.get_nowait()
        except queue.Empty:
            return
        report_id = team["report_id"]
        try:
            entry = Person(base, budget, recorder)
            if not entry.login(team["nhaplieu"]):
                continue
            revision = entry.open_report(report_id)
            shown: dict[str, str] = {k: "" for k in KEYS_INT + KEYS_DEC}
            for number in range(saves):
                changes = random_changes(rng)
                if number == 0:
                    changes["r5|c3"] = str(rng.randint(1, 99999))  # the required cell
                got = entry.save(report_id, changes, {k: shown[k] for k in changes})
                if got is not None:
                    revision = got
                    shown.update(changes)
            if revision is None or entry.act(report_id, "submit", revision) is None:
                continue
            if (acted(base, budget, recorder, team["lanhdao"], report_id, "approve")
                    and acted(base, budget, recorder, team["vanthu"], report_id, "send")):
                with recorder.lock:
                    recorder.sent.add(report_id)
        except OutOfBudget:
            return


def acted(base: str, budget, recorder, username: str, report_id: int, action: str) -> bool:
    """``username`` logs in, opens the report and takes ``action`` on it; whether it went."""
    person = Person(base, budget, recorder)
    if not person.login(username):
        return False
    revision = person.open_report(report_id)
    return revision is not None and person.act(report_id, action, revision) is not None


def saves_worker(base: str, team: dict, budget: Budget, recorder: Recorder, seed: int,
                 floor: bool) -> None:
    rng = random.Random(seed)
    report_id = team["report_id"]
    person = Person(base, budget, recorder)
    try:
        if not floor:
            if not person.login(team["nhaplieu"]) or person.open_report(report_id) is None:
                return
        shown = {k: "" for k in KEYS_INT + KEYS_DEC}
        while True:
            changes = random_changes(rng)
            url = f"/save/{report_id}" if floor else None
            if person.save(report_id, changes, {k: shown[k] for k in changes}, url) is not None:
                shown.update(changes)
    except OutOfBudget:
        return


def run_threads(target, args_list) -> None:
    threads = [threading.Thread(target=target, args=args, daemon=True) for args in args_list]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)


# -- checks and figures -----------------------------------------------------------------------------


def number(text: str) -> Decimal:
    return Decimal(text.replace(".", "").replace(",", "."))


def lost_values(url: str, recorder: Recorder) -> dict:
    """Every acknowledged value against the database; every acknowledged send against its
    report's state and events."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            stored = {(r.report_id, f"{r.row_key}|{r.column_key}"): r.number_value
                      for r in connection.execute(sa.text(
                          "SELECT report_id, row_key, column_key, number_value FROM report_value"))}
            states = dict(connection.execute(sa.text("SELECT id, state FROM report")).all())
            send_events = dict(connection.execute(sa.text(
                "SELECT report_id, count(*) FROM report_event WHERE action = 'send' "
                "GROUP BY report_id")).all())
    finally:
        engine.dispose()
    lost = [key for key, value in recorder.acked.items()
            if stored.get(key) is None or stored[key] != number(value)]
    bad_sends = [rid for rid in recorder.sent
                 if states.get(rid) != "sent" or send_events.get(rid) != 1]
    return {"checked": len(recorder.acked), "lost": len(lost), "lost_sample": lost[:5],
            "sends_checked": len(recorder.sent), "bad_sends": len(bad_sends)}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def timed_saves(base: str, teams: list, args, *, first_seed: int, bare: bool) -> Recorder:
    """One thread per team saving against ``base`` within the saves' time and request budget;
    ``bare``: the floor's plain save call."""
    recorder = Recorder()
    budget = Budget(args.save_seconds, args.max_requests)
    run_threads(saves_worker, [(base, team, budget, recorder, first_seed + i, bare)
                               for i, team in enumerate(teams)])
    recorder.finished = time.monotonic()
    return recorder


def summary(recorder: Recorder) -> dict:
    seconds = recorder.finished - recorder.started
    every = [v for values in recorder.latency.values() for v in values]
    kinds = {}
    for kind, values in sorted(recorder.latency.items()):
        kinds[kind] = {"count": len(values), "errors": recorder.errors.get(kind, 0),
                       "p50_ms": statistics.median(values) * 1000,
                       "p95_ms": percentile(values, 0.95) * 1000,
                       "per_s": len(values) / seconds}
    for kind, count in recorder.errors.items():
        kinds.setdefault(kind, {"count": 0, "errors": count, "p50_ms": float("nan"),
                                "p95_ms": float("nan"), "per_s": 0.0})
    return {"seconds": seconds, "requests": len(every),
            "errors": sum(recorder.errors.values()), "per_s": len(every) / seconds,
            "p50_ms": statistics.median(every) * 1000 if every else float("nan"),
            "p95_ms": percentile(every, 0.95) * 1000 if every else float("nan"),
            "kinds": kinds, "samples": recorder.error_samples}


def run(args) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="rush-"))
    url, drop = _database_url("postgresql", workdir)
    results: dict = {"args": vars(args)}
    servers: list[Server] = []
    try:
        started = time.perf_counter()
        data = build_province(url, args.communes + args.threads)
        results["build_s"] = time.perf_counter() - started
        rush_teams, aside = data["teams"][:args.communes], data["teams"][args.communes:]

        app_server = Server(url, args.workers, workdir)
        servers.append(app_server)
        print(f"app: {app_server.base}, {args.workers} workers", flush=True)

        # 1. the rush
        teams: queue.Queue = queue.Queue()
        for team in rush_teams:
            teams.put(team)
        rush = Recorder()
        budget = Budget(args.seconds, args.max_requests)
        run_threads(rush_worker, [(app_server.base, teams, args.saves, budget, rush, i)
                                  for i in range(args.threads)])
        rush.finished = time.monotonic()
        results["rush"] = summary(rush)
        results["rush"]["sent"] = len(rush.sent)
        print("rush", json.dumps(results["rush"], default=str)[:800], flush=True)

        # 2. saves only, through the app
        saves = timed_saves(app_server.base, aside, args, first_seed=100, bare=False)
        results["saves"] = summary(saves)
        print("saves", json.dumps(results["saves"], default=str)[:800], flush=True)
        app_server.stop()

        checked = Recorder()
        checked.acked = {**rush.acked, **saves.acked}
        checked.sent = rush.sent
        results["check_app"] = lost_values(url, checked)
        print("check", results["check_app"], flush=True)

        # 3. the floor: the same saves through the bare app under the same gunicorn settings
        floor_server = Server(url, args.workers, workdir, app_module="bench.deadline_floor:app")
        servers.append(floor_server)
        floor = timed_saves(floor_server.base, aside, args, first_seed=200, bare=True)
        results["floor"] = summary(floor)
        print("floor", json.dumps(results["floor"], default=str)[:800], flush=True)
        floor_server.stop()
        results["check_floor"] = lost_values(url, floor)
        print("check floor", results["check_floor"], flush=True)
    finally:
        for server in servers:
            server.stop()
        drop()
    return results


def doc_lines(results: dict) -> list[str]:
    a = results["args"]
    rush, saves, floor = results["rush"], results["saves"], results["floor"]
    ca, cf = results["check_app"], results["check_floor"]
    today = dt.date.today().strftime("%d/%m/%Y")
    lines = [
        "",
        f"## Deadline rush over HTTP — {today} (`bench/bench_deadline_rush.py --communes "
        f"{a['communes']} --threads {a['threads']} --workers {a['workers']} --saves {a['saves']} "
        f"--seconds {a['seconds']:g} --save-seconds {a['save_seconds']:g}`)",
        "",
        f"Python {platform.python_version()}, PostgreSQL, gunicorn with `deploy/gunicorn.conf.py` "
        f"and {a['workers']} sync workers on 127.0.0.1; {a['threads']} client threads "
        "(requests.Session, one per person acting) on the same machine. A province of "
        f"{a['communes'] + a['threads']} communes, each with a report of a 5-cell form in draft "
        "and its entry person, leader and clerk. **This machine has 2 cores shared with other "
        "work, and the clients, gunicorn and PostgreSQL all run on it**: the absolute numbers "
        "are a floor for a real server, the ratios are what to read.",
        "",
        "| phase | requests | req/s | p50 | p95 | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, block in (("rush (log in, open, save, submit, approve, send)", rush),
                        ("saves only, through the app", saves),
                        ("floor: same saves, bare WSGI + plain SQL", floor)):
        lines.append(f"| {name} | {block['requests']} in {block['seconds']:.0f} s | "
                     f"{block['per_s']:.1f} | {block['p50_ms']:.0f} ms | "
                     f"{block['p95_ms']:.0f} ms | {block['errors']} |")
    lines += ["", "Within the rush, by step:", "",
              "| step | count | per s | p50 | p95 | errors |", "|---|---|---|---|---|---|"]
    for kind, k in rush["kinds"].items():
        lines.append(f"| {kind} | {k['count']} | {k['per_s']:.1f} | {k['p50_ms']:.0f} ms | "
                     f"{k['p95_ms']:.0f} ms | {k['errors']} |")
    app_save, floor_save = saves["kinds"]["save"], floor["kinds"]["save"]
    ratio = app_save["p50_ms"] / floor_save["p50_ms"]
    lines += [
        "",
        f"Reports walked to *sent*: {rush['sent']} of {a['communes']} in {rush['seconds']:.0f} s. "
        f"Saves alone, through the app against the floor: {app_save['per_s']:.1f} against "
        f"{floor_save['per_s']:.1f} saves/s, p95 {app_save['p95_ms']:.0f} against "
        f"{floor_save['p95_ms']:.0f} ms, median {ratio:.1f} × the floor's (the app's phase "
        "includes each person's login and page, the floor has neither).",
        "",
        f"No value lost: after the app's phases {ca['checked']} cells whose last save was "
        f"acknowledged with 200 were looked up in `report_value`: {ca['lost']} missing or "
        f"different; {ca['sends_checked']} acknowledged sends: {ca['bad_sends']} without the "
        f"state *sent* and one send event. After the floor: {cf['checked']} cells, "
        f"{cf['lost']} lost.",
    ]
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Deadline rush over HTTP (loopback only)")
    parser.add_argument("--communes", type=int, default=150)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--saves", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--save-seconds", type=float, default=30)
    parser.add_argument("--max-requests", type=int, default=20000)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    results = run(args)
    if args.write_docs:
        insert_section(ROOT / "docs" / "performance.md", doc_lines(results))
    print("\n".join(doc_lines(results)))
    failed = results["check_app"]["lost"] or results["check_app"]["bad_sends"] \
        or results["check_floor"]["lost"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
