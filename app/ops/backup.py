"""Backup and restore of the database, and the check of the stored files after a restore.

PostgreSQL: continuous WAL archiving (the server's ``archive_command`` copies every finished WAL
segment into a WAL folder) plus base backups taken with ``pg_basebackup`` (tar format, with the
WAL needed to make them consistent), each with a ``manifest.json`` (time, LSN, size, SHA-256 of
every file). A restore to a point in time unpacks the newest base backup finished before the
target into an empty data directory and lets the server replay the archived WAL up to the target
(``recovery.signal``, ``restore_command``, ``recovery_target_time``, then promotion).

SQLite: an online, consistent copy through SQLite's backup API into a timestamped file; a restore
copies the newest copy taken before the target back (SQLite has no point in time: what was written
after that copy is lost).

Uploaded files and signed PDFs live in the database (LargeBinary columns with their SHA-256), so
they come back with it; ``check_files`` recomputes every stored hash after a restore.

No Flask here: every function takes plain values (paths, URLs, times in naive UTC) or a session.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from app.errors import DomainError
from app.models.forms import utcnow
from app.workflow import VIETNAM_OFFSET, vietnam_time

MANIFEST = "manifest.json"
STAMP = "%Y%m%dT%H%M%SZ"


def vietnam_to_utc(moment: dt.datetime) -> dt.datetime:
    """A naive Vietnam time (as an operator types it) as naive UTC."""
    return moment - VIETNAM_OFFSET


def shown(moment: dt.datetime) -> str:
    """Naive UTC shown in Vietnam time."""
    return f"{vietnam_time(moment):%d/%m/%Y %H:%M:%S}"


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat() + "Z"


def _parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.rstrip("Z"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backend_of(database_url: str) -> str:
    name = sa.engine.make_url(database_url).get_backend_name()
    if name not in ("postgresql", "sqlite"):
        raise DomainError(f"Chưa hỗ trợ sao lưu cơ sở dữ liệu loại «{name}».")
    return name


# --------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class BackupSettings:
    database_url: str
    backup_dir: Path
    wal_dir: Path
    keep: int
    bin_dir: str | None
    server_user: str | None
    configured: bool  # BACKUP_DIR set: the nightly job runs

    @classmethod
    def from_config(cls, config, instance_dir: Path | None = None) -> BackupSettings:
        configured = bool(config.get("BACKUP_DIR"))
        if configured:
            backup_dir = Path(config["BACKUP_DIR"])
        else:
            if instance_dir is None:
                from config import INSTANCE_DIR as instance_dir
            backup_dir = Path(instance_dir) / "backups"
        wal_dir = Path(config.get("BACKUP_WAL_DIR") or backup_dir / "wal")
        # pg_basebackup needs a role with REPLICATION: BACKUP_DATABASE_URL may name another one
        database_url = config.get("BACKUP_DATABASE_URL") or config["SQLALCHEMY_DATABASE_URI"]
        return cls(database_url=database_url, backup_dir=backup_dir,
                   wal_dir=wal_dir, keep=int(config.get("BACKUP_KEEP") or 7),
                   bin_dir=config.get("PG_BIN_DIR") or None,
                   server_user=config.get("PG_SERVER_USER") or None, configured=configured)


# --------------------------------------------------------------------------- PostgreSQL tools

def pg_binary(name: str, bin_dir: str | None = None) -> str:
    """The path of a PostgreSQL program: in ``bin_dir`` if given, else the newest
    /usr/lib/postgresql/*/bin, else on PATH."""
    if bin_dir:
        candidate = Path(bin_dir) / name
        if candidate.exists():
            return str(candidate)
        raise DomainError(f"Không thấy chương trình {name} trong {bin_dir}.")
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise DomainError(f"Không thấy chương trình {name} của PostgreSQL (cài gói postgresql-client "
                      "hoặc đặt PG_BIN_DIR).")


def as_server_user(command: list[str], user: str | None) -> list[str]:
    """Run ``command`` as the PostgreSQL server's account when we are root (the server refuses
    to run as root)."""
    if user and hasattr(os, "geteuid") and os.geteuid() == 0:
        return ["runuser", "-u", user, "--", *command]
    return command


def _connection_args(database_url: str) -> tuple[list[str], dict[str, str]]:
    url = sa.engine.make_url(database_url)
    args = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
    if url.username:
        args += ["-U", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return args, env


def archive_command(wal_dir: str | os.PathLike) -> str:
    """The ``archive_command`` for postgresql.conf: copy a finished WAL segment into ``wal_dir``,
    never overwriting one already archived."""
    target = shlex.quote(str(Path(wal_dir).resolve()))
    return f"test ! -f {target}/%f && cp %p {target}/%f"


def restore_command(wal_dir: str | os.PathLike) -> str:
    target = shlex.quote(str(Path(wal_dir).resolve()))
    return f"cp {target}/%f %p"


# --------------------------------------------------------------------------- manifests

@dataclass
class Backup:
    """One backup: its folder (PostgreSQL) or file (SQLite) and what its manifest says."""

    path: Path
    kind: str  # postgresql | sqlite
    started_at: dt.datetime
    finished_at: dt.datetime
    size: int
    files: list[dict] = field(default_factory=list)
    start_lsn: str | None = None
    end_lsn: str | None = None
    timeline: int | None = None
    start_wal_file: str | None = None
    seconds: float = 0.0

    def as_json(self) -> dict:
        return {
            "kind": self.kind, "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at), "seconds": round(self.seconds, 3),
            "size": self.size, "files": self.files, "start_lsn": self.start_lsn,
            "end_lsn": self.end_lsn, "timeline": self.timeline,
            "start_wal_file": self.start_wal_file,
        }

    @classmethod
    def from_json(cls, path: Path, data: dict) -> Backup:
        return cls(path=path, kind=data["kind"], started_at=_parse_iso(data["started_at"]),
                   finished_at=_parse_iso(data["finished_at"]), size=data["size"],
                   files=data.get("files", []), start_lsn=data.get("start_lsn"),
                   end_lsn=data.get("end_lsn"), timeline=data.get("timeline"),
                   start_wal_file=data.get("start_wal_file"), seconds=data.get("seconds", 0.0))


def _manifest_path(backup_path: Path) -> Path:
    if backup_path.is_dir():
        return backup_path / MANIFEST
    return backup_path.with_name(backup_path.name + ".json")


def _write_manifest(backup: Backup) -> None:
    target = _manifest_path(backup.path)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(json.dumps(backup.as_json(), ensure_ascii=False, indent=2))
    os.replace(temporary, target)


def list_backups(backup_dir: str | os.PathLike, kind: str | None = None) -> list[Backup]:
    """The complete backups in ``backup_dir`` (those with a manifest), oldest first."""
    folder = Path(backup_dir)
    if not folder.is_dir():
        return []
    found = []
    for manifest in list(folder.glob(f"base-*/{MANIFEST}")) + list(folder.glob("*.sqlite.json")):
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        path = manifest.parent if manifest.name == MANIFEST else manifest.with_suffix("")
        backup = Backup.from_json(path, data)
        if kind is None or backup.kind == kind:
            found.append(backup)
    return sorted(found, key=lambda b: b.finished_at)


def choose_backup(backups: list[Backup], target: dt.datetime | None) -> Backup:
    """The newest backup finished before ``target`` (naive UTC; None: the newest)."""
    usable = [b for b in backups if target is None or b.finished_at <= target]
    if not usable:
        if not backups:
            raise DomainError("Chưa có bản sao lưu nào.")
        raise DomainError(f"Không có bản sao lưu nào hoàn tất trước {shown(target)}; bản sớm "
                          f"nhất xong lúc {shown(backups[0].finished_at)}.")
    return usable[-1]


def verify_backup(backup: Backup) -> list[str]:
    """The files of a backup whose size or SHA-256 differ from its manifest."""
    problems = []
    for entry in backup.files:
        path = backup.path / entry["name"] if backup.path.is_dir() else backup.path
        if not path.exists():
            problems.append(f"{entry['name']}: không còn")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{entry['name']}: SHA-256 không khớp")
    return problems


# --------------------------------------------------------------------------- PostgreSQL backup

def backup_postgresql(database_url: str, backup_dir: str | os.PathLike, *,
                      bin_dir: str | None = None, now: dt.datetime | None = None) -> Backup:
    """A base backup with pg_basebackup (tar, WAL streamed alongside, fast checkpoint) into
    ``backup_dir/base-<UTC time>/`` and its manifest."""
    started = now or utcnow()
    folder = Path(backup_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"base-{started:{STAMP}}"
    partial = folder / f".partial-{started:{STAMP}}"
    if target.exists():
        raise DomainError(f"Đã có bản sao lưu {target.name}.")
    shutil.rmtree(partial, ignore_errors=True)
    args, env = _connection_args(database_url)
    command = [pg_binary("pg_basebackup", bin_dir), *args, "-D", str(partial), "-F", "tar",
               "-X", "stream", "--checkpoint=fast", "--no-password",
               f"--label=htttbc {started:{STAMP}}"]
    clock = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - clock
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise DomainError("pg_basebackup lỗi: " + (done.stderr.strip() or done.stdout.strip()))
    finished = utcnow()
    start_lsn = end_lsn = None
    timeline = None
    manifest_file = partial / "backup_manifest"
    if manifest_file.exists():
        ranges = json.loads(manifest_file.read_text()).get("WAL-Ranges") or [{}]
        start_lsn, end_lsn = ranges[0].get("Start-LSN"), ranges[-1].get("End-LSN")
        timeline = ranges[-1].get("Timeline")
    files = [{"name": p.name, "size": p.stat().st_size, "sha256": sha256_file(p)}
             for p in sorted(partial.iterdir()) if p.is_file()]
    os.replace(partial, target)
    backup = Backup(path=target, kind="postgresql", started_at=started, finished_at=finished,
                    size=sum(f["size"] for f in files), files=files, start_lsn=start_lsn,
                    end_lsn=end_lsn, timeline=timeline,
                    start_wal_file=_wal_file_name(timeline, start_lsn), seconds=seconds)
    _write_manifest(backup)
    return backup


def _wal_file_name(timeline: int | None, lsn: str | None, segment_size: int = 16 << 20) -> str | None:
    """The WAL segment file holding ``lsn`` (default 16 MB segments)."""
    if not timeline or not lsn:
        return None
    high, low = (int(part, 16) for part in lsn.split("/"))
    segment = ((high << 32) | low) // segment_size
    per_id = (1 << 32) // segment_size
    return f"{timeline:08X}{segment // per_id:08X}{segment % per_id:08X}"


def prune(backup_dir: str | os.PathLike, keep: int, wal_dir: str | os.PathLike | None = None
          ) -> tuple[int, int]:
    """Keep the ``keep`` newest backups; remove older ones and the archived WAL segments no kept
    base backup needs. Returns (backups removed, WAL files removed)."""
    if keep < 1:
        raise DomainError("Phải giữ ít nhất một bản sao lưu.")
    backups = list_backups(backup_dir)
    removed = 0
    for old in backups[:-keep]:
        if old.path.is_dir():
            shutil.rmtree(old.path)
        else:
            old.path.unlink(missing_ok=True)
        _manifest_path(old.path).unlink(missing_ok=True)
        removed += 1
    wal_removed = 0
    kept = [b for b in backups[-keep:] if b.kind == "postgresql" and b.start_wal_file]
    if wal_dir and kept and Path(wal_dir).is_dir():
        oldest = min(kept, key=lambda b: b.finished_at).start_wal_file
        for item in Path(wal_dir).iterdir():
            name = item.name
            # segment files: 24 hex digits (also .partial / .backup ones); .history files stay
            if len(name) >= 24 and all(c in "0123456789ABCDEF" for c in name[:24]) \
                    and not name.endswith(".history") and name[8:24] < oldest[8:24]:
                item.unlink()
                wal_removed += 1
    return removed, wal_removed


# --------------------------------------------------------------------------- PostgreSQL restore

@dataclass
class RestorePlan:
    backup: Backup
    data_dir: Path
    target: dt.datetime | None  # naive UTC; None: to the end of the archived WAL
    seconds_unpacking: float

    def describe(self) -> str:
        where = (f"đến thời điểm {shown(self.target)} (giờ Việt Nam)" if self.target
                 else "đến bản ghi WAL cuối cùng đã lưu")
        return (f"Đã chuẩn bị thư mục dữ liệu {self.data_dir} từ bản sao lưu {self.backup.path.name} "
                f"(xong lúc {shown(self.backup.finished_at)}); khi khởi động, PostgreSQL sẽ phục "
                f"hồi {where} rồi tự chuyển sang chế độ ghi.")


def _extract(archive: Path, destination: Path) -> None:
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "tar_filter"):
            tar.extractall(destination, filter="tar")
        else:  # pragma: no cover - Python without extraction filters
            tar.extractall(destination)


def _chown_tree(root: Path, user: str) -> None:
    for folder, dirs, files in os.walk(root):
        shutil.chown(folder, user, user if _group_exists(user) else None)
        for name in dirs + files:
            path = Path(folder) / name
            if not path.is_symlink():
                shutil.chown(path, user, user if _group_exists(user) else None)


def _group_exists(name: str) -> bool:
    try:
        import grp

        grp.getgrnam(name)
        return True
    except (ImportError, KeyError):
        return False


def prepare_postgresql_restore(backup_dir: str | os.PathLike, wal_dir: str | os.PathLike,
                               data_dir: str | os.PathLike, target: dt.datetime | None, *,
                               owner: str | None = None) -> RestorePlan:
    """Unpack the newest base backup finished before ``target`` (naive UTC; None: the newest,
    replayed to the end of the archive) into the empty or absent ``data_dir`` and configure the
    recovery. ``owner``: the server's account, given the files when we run as root."""
    data = Path(data_dir)
    if data.exists() and any(data.iterdir()):
        raise DomainError(f"Thư mục dữ liệu {data} không trống: hãy dừng PostgreSQL và đổi tên "
                          "thư mục hỏng sang chỗ khác (giữ lại để điều tra) trước khi phục hồi.")
    if not Path(wal_dir).is_dir():
        raise DomainError(f"Không thấy thư mục WAL lưu trữ {wal_dir}.")
    backup = choose_backup(list_backups(backup_dir, "postgresql"), target)
    problems = verify_backup(backup)
    if problems:
        raise DomainError(f"Bản sao lưu {backup.path.name} hỏng: " + "; ".join(problems))
    clock = time.monotonic()
    data.mkdir(parents=True, exist_ok=True)
    os.chmod(data, 0o700)
    _extract(backup.path / "base.tar", data)
    wal_tar = backup.path / "pg_wal.tar"
    if wal_tar.exists():
        (data / "pg_wal").mkdir(exist_ok=True)
        _extract(wal_tar, data / "pg_wal")
    settings = [
        "",
        "# phục hồi (flask ops restore)",
        f"restore_command = '{restore_command(wal_dir)}'",
        "recovery_target_action = 'promote'",
        "recovery_target_timeline = 'latest'",
    ]
    if target is not None:
        settings.append(f"recovery_target_time = '{target:%Y-%m-%d %H:%M:%S.%f}+00'")
    with open(data / "postgresql.auto.conf", "a", encoding="utf-8") as handle:
        handle.write("\n".join(settings) + "\n")
    (data / "recovery.signal").write_text("")
    if owner and hasattr(os, "geteuid") and os.geteuid() == 0:
        _chown_tree(data, owner)
    return RestorePlan(backup=backup, data_dir=data, target=target,
                       seconds_unpacking=time.monotonic() - clock)


def start_postgresql(data_dir: str | os.PathLike, *, log_file: str | os.PathLike,
                     bin_dir: str | None = None, owner: str | None = None,
                     options: str | None = None, timeout: int = 4 * 3600) -> None:
    """pg_ctl start, waiting until the server accepts connections."""
    command = [pg_binary("pg_ctl", bin_dir), "-D", str(data_dir), "-l", str(log_file), "-w",
               "-t", str(timeout)]
    if options:
        command += ["-o", options]
    done = subprocess.run(as_server_user([*command, "start"], owner), capture_output=True, text=True)
    if done.returncode != 0:
        tail = ""
        try:
            tail = Path(log_file).read_text(errors="replace")[-2000:]
        except OSError:
            pass
        raise DomainError("PostgreSQL không khởi động được: " + (done.stderr.strip() or done.stdout.strip())
                          + ("\n" + tail if tail else ""))


def wait_for_promotion(database_url: str, *, timeout: float = 4 * 3600, poll: float = 0.2) -> None:
    """Wait until the restored server has finished recovery and accepts writes."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    deadline = time.monotonic() + timeout
    last_error = None
    try:
        while time.monotonic() < deadline:
            try:
                with engine.connect() as connection:
                    if not connection.execute(sa.text("select pg_is_in_recovery()")).scalar():
                        return
            except sa.exc.OperationalError as error:
                last_error = error
            time.sleep(poll)
    finally:
        engine.dispose()
    raise DomainError("PostgreSQL chưa xong phục hồi sau thời gian chờ"
                      + (f": {last_error.orig}" if last_error is not None else "."))


# --------------------------------------------------------------------------- SQLite

def sqlite_path(database_url: str) -> Path:
    database = sa.engine.make_url(database_url).database
    if not database or database == ":memory:":
        raise DomainError("Cơ sở dữ liệu SQLite trong bộ nhớ không sao lưu được.")
    return Path(database)


def backup_sqlite(database_url: str, backup_dir: str | os.PathLike, *,
                  now: dt.datetime | None = None) -> Backup:
    """A consistent online copy through SQLite's backup API (writers may keep writing) into
    ``backup_dir/htttbc-<UTC time>.sqlite`` with its manifest beside it."""
    source_path = sqlite_path(database_url)
    if not source_path.exists():
        raise DomainError(f"Không thấy tệp cơ sở dữ liệu {source_path}.")
    started = now or utcnow()
    folder = Path(backup_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"htttbc-{started:{STAMP}}.sqlite"
    if target.exists():
        raise DomainError(f"Đã có bản sao lưu {target.name}.")
    partial = folder / f".partial-{target.name}"
    partial.unlink(missing_ok=True)
    clock = time.monotonic()
    source = sqlite3.connect(source_path, timeout=30)
    copy = sqlite3.connect(partial)
    try:
        # one step: the whole copy under one read transaction (a snapshot, however busy writers are)
        source.backup(copy)
        copy.execute("pragma journal_mode=delete")  # one self-contained file, no -wal beside it
        (result,) = copy.execute("pragma integrity_check").fetchone()
        if result != "ok":
            raise DomainError(f"Bản sao SQLite không toàn vẹn: {result}")
    finally:
        copy.close()
        source.close()
    os.replace(partial, target)
    finished = utcnow()
    files = [{"name": target.name, "size": target.stat().st_size, "sha256": sha256_file(target)}]
    backup = Backup(path=target, kind="sqlite", started_at=started, finished_at=finished,
                    size=files[0]["size"], files=files, seconds=time.monotonic() - clock)
    _write_manifest(backup)
    return backup


def restore_sqlite(database_url: str, backup_dir: str | os.PathLike,
                   target: dt.datetime | None) -> Backup:
    """Copy the newest SQLite backup taken before ``target`` (naive UTC; None: the newest) back
    over the database, through the backup API; the database replaced is kept beside it
    (``….truoc-phuc-hoi-<time>``). SQLite has no point in time: everything written after that
    backup is lost. The app should be stopped meanwhile."""
    backup = choose_backup(list_backups(backup_dir, "sqlite"), target)
    problems = verify_backup(backup)
    if problems:
        raise DomainError(f"Bản sao lưu {backup.path.name} hỏng: " + "; ".join(problems))
    database = sqlite_path(database_url)
    database.parent.mkdir(parents=True, exist_ok=True)
    if database.exists():
        # the database being replaced is kept beside it, for investigation
        aside = database.with_name(f"{database.name}.truoc-phuc-hoi-{utcnow():{STAMP}}")
        current = sqlite3.connect(database, timeout=30)
        kept = sqlite3.connect(aside)
        try:
            current.backup(kept)
        except sqlite3.DatabaseError:
            kept.close()
            current.close()
            shutil.copy2(database, aside)  # too damaged to read: its bytes as they are
        else:
            kept.close()
            current.close()
    source = sqlite3.connect(f"file:{backup.path}?mode=ro", uri=True)
    destination = sqlite3.connect(database, timeout=30)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()
    return backup


# --------------------------------------------------------------------------- stored files

@dataclass
class FileCheck:
    checked: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


# (label, table, id column, content column, hash column)
STORED_FILES = (
    ("PDF đã ký", "report_signature", "id", "signed_pdf", "signed_sha256"),
    ("PDF phát hành để ký", "report_signature", "id", "issued_pdf", "issued_sha256"),
    ("tệp đính kèm", "report_attachment", "id", "content", "sha256"),
    ("minh chứng nhập bù", "backfilled_sending", "id", "evidence", "evidence_sha256"),
    ("chứng thư gốc, CRL", "trust_anchor", "id", "der", "sha256"),
    ("chứng thư ký số", "signing_certificate", "id", "der", "sha256"),
)


def check_files(session, batch: int = 200) -> FileCheck:
    """Recompute the SHA-256 of every file stored in the database (signed PDFs, attachments,
    outage evidence, certificates) and compare it with the hash stored beside it."""
    result = FileCheck()
    inspector = sa.inspect(session.get_bind())
    tables = set(inspector.get_table_names())
    for label, table_name, id_column, content_column, hash_column in STORED_FILES:
        if table_name not in tables:
            continue
        table = sa.table(table_name, sa.column(id_column), sa.column(content_column),
                         sa.column(hash_column))
        ids = session.execute(
            sa.select(table.c[id_column]).where(table.c[content_column].is_not(None))
            .order_by(table.c[id_column])).scalars().all()
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            rows = session.execute(
                sa.select(table.c[id_column], table.c[content_column], table.c[hash_column])
                .where(table.c[id_column].in_(chunk))).all()
            for row_id, content, stored in rows:
                result.checked += 1
                result.by_kind[label] = result.by_kind.get(label, 0) + 1
                actual = hashlib.sha256(bytes(content)).hexdigest()
                if stored != actual:
                    result.mismatches.append(
                        f"{label} #{row_id} ({table_name}.{content_column}): lưu {stored or '—'}, "
                        f"tính lại {actual}")
    return result


# --------------------------------------------------------------------------- one call per command

def run_backup(settings: BackupSettings, *, now: dt.datetime | None = None) -> Backup:
    """Back up the database of ``settings`` (pg_basebackup or SQLite's backup API), then keep
    only the ``keep`` newest backups (and the WAL they need)."""
    if backend_of(settings.database_url) == "postgresql":
        backup = backup_postgresql(settings.database_url, settings.backup_dir,
                                   bin_dir=settings.bin_dir, now=now)
    else:
        backup = backup_sqlite(settings.database_url, settings.backup_dir, now=now)
    prune(settings.backup_dir, settings.keep,
          settings.wal_dir if settings.wal_dir.is_dir() else None)
    return backup
