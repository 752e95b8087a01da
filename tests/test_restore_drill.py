"""Backup and restore drills (app/ops/backup.py, docs/operations.md).

PostgreSQL: a private cluster of its own (initdb in a temporary folder, a free loopback port,
continuous WAL archiving) is backed up with pg_basebackup, written to, destroyed and restored to a
point in time; every report, value, event, audit entry and stored file from before that time must
be back unchanged, nothing written after it, and the audit chain must verify. The restore time is
printed. When CI is set, missing PostgreSQL programs fail the drill instead of skipping it.

SQLite: an online copy through the backup API while a writer keeps writing, then a restore.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.backfill import backfill_send, record_outage
from app.errors import DomainError
from app.ops.backup import (
    BackupSettings,
    archive_command,
    as_server_user,
    check_files,
    list_backups,
    pg_binary,
    prepare_postgresql_restore,
    restore_sqlite,
    run_backup,
    start_postgresql,
    wait_for_promotion,
)
from app.roles import PROVINCIAL_ADMIN
from tests import factories
from tests.conftest import build_app
from tests.test_workflow import NOW, cycle_setup

PDF = b"%PDF-1.7\n% signed report (drill)\n"


def _unavailable(message: str):
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _server_user() -> str | None:
    """The account the private cluster runs as: postgres when we are root (PostgreSQL refuses
    root), else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        _unavailable("Chạy với quyền root nhưng không có tài khoản postgres để chạy PostgreSQL.")
    if shutil.which("runuser") is None:
        _unavailable("Chạy với quyền root nhưng không có lệnh runuser.")
    return "postgres"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(command: list[str], user: str | None) -> None:
    done = subprocess.run(as_server_user(command, user), capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stderr or done.stdout}"


class Cluster:
    def __init__(self, root: Path, user: str | None):
        self.root = root
        self.user = user
        self.data = root / "data"
        self.wal = root / "wal"
        self.backups = root / "backups"
        self.port = _free_port()

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, log_name: str) -> None:
        start_postgresql(self.data, log_file=self.root / log_name, owner=self.user, timeout=300)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(as_server_user([pg_binary("pg_ctl"), "-D", str(self.data), "-m", mode,
                                       "-w", "stop"], self.user), capture_output=True)


@pytest.fixture
def private_cluster():
    try:
        initdb = pg_binary("initdb")
        for name in ("pg_ctl", "pg_basebackup"):
            pg_binary(name)
    except DomainError as error:
        _unavailable(error.message)
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="htttbc-drill-"))
    cluster = Cluster(root, user)
    cluster.wal.mkdir()
    if user:
        for path in (root, cluster.wal):
            shutil.chown(path, user, user)
    try:
        _run([initdb, "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
              "--locale=C"], user)
        with open(cluster.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {cluster.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{root}'\nwal_level = replica\n"
                f"archive_mode = on\narchive_command = '{archive_command(cluster.wal)}'\n"
                "max_wal_senders = 4\nshared_buffers = 32MB\n")
        cluster.start("server.log")
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def snapshot(session) -> dict[str, list[tuple]]:
    """Every row of every table of the app, in primary-key order."""
    from app.extensions import db

    rows = {}
    for table in db.metadata.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        rows[table.name] = [tuple(row) for row in session.execute(
            sa.select(table).order_by(*order)).all()]
    return rows


def stored_hashes(session) -> dict[tuple[str, int], str]:
    """SHA-256 recomputed from the stored bytes of every file kept in the database."""
    found = {}
    for table, column in (("report_signature", "signed_pdf"), ("report_attachment", "content"),
                          ("backfilled_sending", "evidence")):
        for row_id, content in session.execute(sa.text(
                f"select id, {column} from {table} where {column} is not null")):
            found[(table, row_id)] = hashlib.sha256(bytes(content)).hexdigest()
    return found


def attach(session, report, name: str, content: bytes):
    from app.models import ReportAttachment

    attachment = ReportAttachment(report_id=report.id, filename=name,
                                  content_type="application/pdf", size=len(content),
                                  sha256=hashlib.sha256(content).hexdigest(), content=content)
    session.add(attachment)
    return attachment


def sign(session, report, people) -> None:
    """The approving leader's signature as the app stores it (the signed bytes and their hash)."""
    from app.models import ReportEvent, ReportSignature

    approve = session.scalars(sa.select(ReportEvent).where(
        ReportEvent.report_id == report.id, ReportEvent.action == "approve")
        .order_by(ReportEvent.id.desc())).first()
    issued = PDF + b"issued"
    signed = issued + b"\n% /Sig leader\n"
    session.add(ReportSignature(
        report_id=report.id, approve_event_id=approve.id, stage="leader", status="signed",
        values_hash=approve.values_hash or "0" * 64, issued_pdf=issued,
        issued_sha256=hashlib.sha256(issued).hexdigest(), signed_pdf=signed,
        signed_sha256=hashlib.sha256(signed).hexdigest(), method="upload",
        signed_at=NOW, signed_by_id=people["leader"].id, created_by_id=people["leader"].id))


def write_before_backup(session):
    """A report through the cycle, signed, with an attachment."""
    from app.workflow import transition

    report, people = cycle_setup(session)
    for action, who in (("submit", "entry"), ("approve", "leader")):
        transition(session, report, action, people[who], now=NOW)
    sign(session, report, people)
    attach(session, report, "phu-luc.pdf", PDF + b"attachment before the backup")
    for action, who in (("send", "clerk"), ("accept", "reviewer")):
        transition(session, report, action, people[who], now=NOW)
    session.commit()
    return report, people


def write_after_backup(session, report, people):
    """A second month's report, sent on paper during an outage and backfilled with its scan."""
    from app.models import Period
    from app.reports import get_or_create_report, save_values
    from app.workflow import transition

    period = Period(regime=report.regime, frequency="month", year=2026, number=12,
                    label="Tháng 12/2026", cutoff_start=dt.date(2026, 11, 15),
                    cutoff_end=dt.date(2026, 12, 14), deadline=dt.date(2026, 12, 25))
    session.add(period)
    second = get_or_create_report(session, period, report.unit, "TEST-B01")
    save_values(session, second, {"r5|c3": "250", "r5|c4": "17", "r6|c3": "9"})
    moment = dt.datetime(2026, 12, 15, 3, 0)
    for action, who in (("submit", "entry"), ("approve", "leader")):
        transition(session, second, action, people[who], now=moment)
    admin = factories.user(session, "tinh.qtv", report.regime.receiving_unit, [PROVINCIAL_ADMIN])
    down = dt.datetime(2026, 12, 16, 1, 0)
    record_outage(session, down, down + dt.timedelta(hours=5), "Mất điện trung tâm dữ liệu",
                  admin, now=dt.datetime(2026, 12, 17))
    backfill_send(session, second, people["clerk"], down + dt.timedelta(hours=2),
                  "88/BC-UBND", ("ban-quet.pdf", PDF + b"scan of the paper report"),
                  now=dt.datetime(2026, 12, 18))
    session.commit()
    return second


def write_after_target(session, report, second, people):
    """What must NOT come back: an acceptance and an attachment after the target time."""
    from app.workflow import transition

    transition(session, second, "accept", people["reviewer"], now=dt.datetime(2026, 12, 19))
    attach(session, report, "sau-moc.pdf", PDF + b"attachment after the target")
    session.commit()


def test_postgresql_point_in_time_restore_drill(private_cluster, capsys, record_property):
    from app.audit import verify_chain
    from app.extensions import db
    from app.models import AuditEntry, Report, ReportAttachment, ReportEvent, ReportValue

    cluster = private_cluster
    admin = sa.create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("CREATE DATABASE htttbc"))
    url = cluster.url("htttbc")
    settings = BackupSettings(database_url=url, backup_dir=cluster.backups, wal_dir=cluster.wal,
                              keep=7, bin_dir=None, server_user=cluster.user, configured=True)
    app = build_app(url)

    with app.app_context():
        report, people = write_before_backup(db.session)
        report_id = report.id
        db.session.remove()

    backup = run_backup(settings)
    assert backup.kind == "postgresql" and backup.start_lsn and backup.size > 0
    assert {f["name"] for f in backup.files} >= {"base.tar", "pg_wal.tar"}
    assert list_backups(cluster.backups)[-1].path == backup.path

    with app.app_context():
        session = db.session
        report = session.get(Report, report_id)
        people = {key: session.merge(person) for key, person in people.items()}
        second = write_after_backup(session, report, people)
        second_id = second.id
        before = snapshot(session)
        before_files = stored_hashes(session)
        counts = {model.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(model))
                  for model in (Report, ReportValue, ReportEvent, AuditEntry, ReportAttachment)}
        session.commit()
        target = session.scalar(sa.text("select clock_timestamp() at time zone 'UTC'"))
        time.sleep(0.3)
        write_after_target(session, session.get(Report, report_id), session.get(Report, second_id),
                           people)
        assert session.get(Report, second_id).state == "accepted"
        session.commit()
        session.remove()
        db.engine.dispose()
    assert before_files and len(before_files) == 3
    # a backup taken after the target time: the restore must not start from it
    later = run_backup(settings)
    assert later.finished_at > target and len(list_backups(cluster.backups)) == 2
    with admin.connect() as connection:
        segment = connection.execute(sa.text("select pg_walfile_name(pg_switch_wal())")).scalar()
    deadline = time.monotonic() + 60
    while not (cluster.wal / segment).exists():
        assert time.monotonic() < deadline, f"WAL {segment} chưa được lưu trữ"
        time.sleep(0.2)
    admin.dispose()

    # the disaster: the server stops and its data directory is gone
    cluster.stop("immediate")
    shutil.rmtree(cluster.data)

    clock = time.monotonic()
    plan = prepare_postgresql_restore(cluster.backups, cluster.wal, cluster.data, target,
                                      owner=cluster.user)
    assert plan.backup.path == backup.path
    cluster.start("restore.log")
    wait_for_promotion(url, timeout=600)
    seconds = time.monotonic() - clock
    record_property("restore_seconds", round(seconds, 2))
    log = (cluster.root / "restore.log").read_text(errors="replace")
    assert "recovery stopping before commit" in log and "archive recovery complete" in log, log
    with capsys.disabled():
        print(f"\n[diễn tập phục hồi] PostgreSQL phục hồi đến thời điểm đích trong {seconds:.2f} "
              f"giây (giải nén {plan.seconds_unpacking:.2f} giây; bản sao nền "
              f"{backup.size / 1e6:.1f} MB, tạo trong {backup.seconds:.2f} giây)")

    with app.app_context():
        session = db.session
        after = snapshot(session)
        # everything written before the target is back, row for row, byte for byte …
        assert after.keys() == before.keys()
        for table, rows in before.items():
            assert after[table] == rows, f"bảng {table} khác trước khi phục hồi"
        assert {model.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(model))
                for model in (Report, ReportValue, ReportEvent, AuditEntry,
                              ReportAttachment)} == counts
        assert counts["report_value"] > 0 and counts["audit_entry"] > 0
        # … nothing written after it
        assert session.get(Report, second_id).state == "sent"
        assert session.scalar(sa.select(ReportAttachment.id).where(
            ReportAttachment.filename == "sau-moc.pdf")) is None
        # stored files match their hashes, and the audit chain verifies
        assert stored_hashes(session) == before_files
        files = check_files(session)
        assert files.ok and files.checked >= 4, files.mismatches
        chain = verify_chain(session)
        assert chain.ok, chain.message()
        # the restored server takes writes
        attach(session, session.get(Report, report_id), "sau-phuc-hoi.pdf", PDF)
        session.commit()
        session.remove()
        db.engine.dispose()


def test_sqlite_online_backup_while_writing_then_restore(tmp_path):
    from app.audit import verify_chain
    from app.extensions import db
    from app.models import Report, ReportAttachment

    database = tmp_path / "htttbc.sqlite"
    url = f"sqlite:///{database}"
    app = build_app(url)
    settings = BackupSettings(database_url=url, backup_dir=tmp_path / "backups",
                              wal_dir=tmp_path / "backups" / "wal", keep=3, bin_dir=None,
                              server_user=None, configured=True)
    with app.app_context():
        report, _people = write_before_backup(db.session)
        report_id = report.id
        before = snapshot(db.session)
        db.session.remove()

    # a writer keeps committing while the copy is taken
    with sqlite3.connect(database) as connection:
        connection.execute("create table drill_write (n integer primary key)")
    stop = threading.Event()
    written = []

    def writer():
        connection = sqlite3.connect(database, timeout=30)
        n = 0
        while not stop.is_set():
            n += 1
            connection.execute("insert into drill_write (n) values (?)", (n,))
            connection.commit()
            written.append(n)
        connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    while len(written) < 50:
        time.sleep(0.01)
    try:
        backup = run_backup(settings)
    finally:
        stop.set()
        thread.join()
    assert len(written) > 50

    with sqlite3.connect(backup.path) as copy:
        assert copy.execute("pragma integrity_check").fetchone() == ("ok",)
        numbers = [n for (n,) in copy.execute("select n from drill_write order by n")]
    assert numbers == list(range(1, len(numbers) + 1))  # a consistent prefix of the writes

    with app.app_context():
        attach(db.session, db.session.get(Report, report_id), "sau-sao-luu.pdf", PDF)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)

    restored = restore_sqlite(url, settings.backup_dir, None)
    assert restored.path == backup.path
    with app.app_context():
        session = db.session
        after = snapshot(session)
        assert after == before
        assert session.scalar(sa.select(ReportAttachment.id).where(
            ReportAttachment.filename == "sau-sao-luu.pdf")) is None
        files = check_files(session)
        assert files.ok and files.checked >= 3
        assert verify_chain(session).ok
        session.remove()
        db.engine.dispose()

    # a stored file whose bytes no longer match its hash is reported
    with sqlite3.connect(database) as connection:
        connection.execute("update report_attachment set content = ? where filename = ?",
                           (b"changed", "phu-luc.pdf"))
    with app.app_context():
        files = check_files(db.session)
        assert len(files.mismatches) == 1 and "tệp đính kèm" in files.mismatches[0]
        db.session.remove()
        db.engine.dispose()


def test_ops_commands_on_sqlite(tmp_path):
    from app.extensions import db

    url = f"sqlite:///{tmp_path / 'htttbc.sqlite'}"
    app = build_app(url)
    app.config["BACKUP_DIR"] = str(tmp_path / "backups")
    with app.app_context():
        write_before_backup(db.session)
        db.session.remove()
    runner = app.test_cli_runner()

    done = runner.invoke(args=["ops", "backup"])
    assert done.exit_code == 0, done.output
    assert "Đã sao lưu vào" in done.output and "sha256" in done.output
    assert (tmp_path / "backups").is_dir()
    assert "sqlite" in runner.invoke(args=["ops", "list"]).output

    done = runner.invoke(args=["ops", "check-files"])
    assert done.exit_code == 0 and "Mọi tệp khớp" in done.output, done.output

    done = runner.invoke(args=["ops", "restore", "--to", "01/01/2020 10:00"])
    assert done.exit_code == 1 and "Không có bản sao lưu nào hoàn tất trước" in done.output
    done = runner.invoke(args=["ops", "restore", "--to", "hôm qua"])
    assert done.exit_code != 0 and "không phải thời điểm" in done.output
    done = runner.invoke(args=["ops", "restore", "--latest"])
    assert done.exit_code == 0, done.output
    assert "SQLite không phục hồi được đến từng thời điểm" in done.output
    assert "Chuỗi nhật ký toàn vẹn" in done.output
    assert list(tmp_path.glob("htttbc.sqlite.truoc-phuc-hoi-*"))  # the replaced one kept

    # the nightly job: off without BACKUP_DIR, a backup with it
    from app.scheduler import JOBS

    job = JOBS["base_backup"].function
    with app.app_context():
        app.config["BACKUP_DIR"] = ""
        assert "BACKUP_DIR" in job(db.session, dt.datetime(2026, 12, 8, 19, 30))
        app.config["BACKUP_DIR"] = str(tmp_path / "backups")
        assert job(db.session, dt.datetime(2026, 12, 8, 19, 30)).startswith("Đã sao lưu")
        db.session.remove()
    assert len(list_backups(tmp_path / "backups")) == 2

    done = runner.invoke(args=["ops", "wal-archive-command"])
    assert "archive_mode = on" in done.output
    assert f"cp %p {tmp_path / 'backups' / 'wal'}/%f" in done.output
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_wal_file_names_and_pruning(tmp_path):
    from app.ops.backup import Backup, _wal_file_name, _write_manifest, prune

    assert _wal_file_name(1, "0/2000028") == "000000010000000000000002"
    assert _wal_file_name(2, "1/A2000100") == "0000000200000001000000A2"
    backups, wal = tmp_path / "backups", tmp_path / "wal"
    wal.mkdir()
    for day, segment in ((1, "03"), (2, "06"), (3, "09")):
        folder = backups / f"base-2026120{day}T193000Z"
        folder.mkdir(parents=True)
        (folder / "base.tar").write_bytes(b"x")
        moment = dt.datetime(2026, 12, day, 19, 30)
        _write_manifest(Backup(path=folder, kind="postgresql", started_at=moment,
                               finished_at=moment, size=1, timeline=1,
                               start_wal_file=f"0000000100000000000000{segment}"))
    for number in range(1, 11):
        (wal / f"0000000100000000000000{number:02X}").write_bytes(b"")
    (wal / "00000002.history").write_text("")
    assert prune(backups, 2, wal) == (1, 5)
    assert [b.path.name for b in list_backups(backups)] == [
        "base-20261202T193000Z", "base-20261203T193000Z"]
    assert sorted(p.name for p in wal.iterdir())[0] == "000000010000000000000006"
    assert (wal / "00000002.history").exists()
