"""flask ops …: backup and restore of the database (app.ops.backup), the check of the stored
files after a restore, and the archive_command for PostgreSQL. Runbook: docs/operations.md."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.errors import DomainError

ops_cli = AppGroup("ops", help="Vận hành: sao lưu, phục hồi cơ sở dữ liệu, kiểm tra tệp lưu trữ.")

TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M")


def parse_vietnam_time(text: str) -> dt.datetime:
    """«2026-12-07 15:04:05» or «07/12/2026 15:04:05», Vietnam time, as naive UTC."""
    from app.ops.backup import vietnam_to_utc

    for pattern in TIME_FORMATS:
        try:
            return vietnam_to_utc(dt.datetime.strptime(text.strip(), pattern))
        except ValueError:
            continue
    raise click.BadParameter(f"«{text}» không phải thời điểm dạng 2026-12-07 15:04:05 "
                             "hoặc 07/12/2026 15:04:05 (giờ Việt Nam).")


def _settings():
    from app.ops.backup import BackupSettings

    return BackupSettings.from_config(current_app.config)


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


@ops_cli.command("backup")
def backup_command() -> None:
    """Sao lưu ngay: PostgreSQL bằng pg_basebackup (bản sao nền, kèm WAL), SQLite bằng API sao
    lưu trực tuyến; ghi manifest (thời điểm, LSN, dung lượng, SHA-256) và chỉ giữ BACKUP_KEEP
    bản mới nhất."""
    from app.ops.backup import run_backup, shown

    settings = _settings()
    try:
        backup = run_backup(settings)
    except DomainError as error:
        _fail(error.message)
    click.echo(f"Đã sao lưu vào {backup.path} ({_size(backup.size)}, {backup.seconds:.1f} giây), "
               f"xong lúc {shown(backup.finished_at)} (giờ Việt Nam).")
    if backup.start_lsn:
        click.echo(f"LSN: {backup.start_lsn} → {backup.end_lsn} (timeline {backup.timeline})")
    for entry in backup.files:
        click.echo(f"  {entry['name']}  {_size(entry['size'])}  sha256 {entry['sha256']}")


@ops_cli.command("list")
def list_command() -> None:
    """Các bản sao lưu hiện có, cũ nhất trước."""
    from app.ops.backup import list_backups, shown

    settings = _settings()
    backups = list_backups(settings.backup_dir)
    if not backups:
        click.echo(f"Chưa có bản sao lưu nào trong {settings.backup_dir}.")
        return
    for backup in backups:
        click.echo(f"{backup.path.name}  {backup.kind}  xong {shown(backup.finished_at)}  "
                   f"{_size(backup.size)}")


@ops_cli.command("restore")
@click.option("--to", "to", help="Phục hồi đến thời điểm này, giờ Việt Nam "
              "(«2026-12-07 15:04:05» hoặc «07/12/2026 15:04:05»)")
@click.option("--latest", is_flag=True, help="Phục hồi đến dữ liệu mới nhất đã lưu")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="PostgreSQL: thư mục dữ liệu sẽ tạo lại (trống hoặc chưa có)")
@click.option("--start", is_flag=True,
              help="PostgreSQL: khởi động máy chủ bằng pg_ctl, chờ phục hồi xong, rồi kiểm tra")
@click.option("--log-file", type=click.Path(dir_okay=False),
              help="PostgreSQL, với --start: tệp nhật ký của máy chủ")
@click.option("--pg-ctl-options", default=None,
              help="PostgreSQL, với --start: tùy chọn cho máy chủ (pg_ctl -o), ví dụ "
              "\"-c config_file=/etc/postgresql/15/main/postgresql.conf\"")
def restore_command(to: str | None, latest: bool, data_dir: str | None, start: bool,
                    log_file: str | None, pg_ctl_options: str | None) -> None:
    """Phục hồi cơ sở dữ liệu từ bản sao lưu. PostgreSQL: dựng lại thư mục dữ liệu từ bản sao
    nền gần nhất trước thời điểm đích và phát lại WAL đến đúng thời điểm đó. SQLite: chép lại
    bản sao gần nhất trước thời điểm đích (không phục hồi được đến từng thời điểm)."""
    from app.ops import backup as ops

    if bool(to) == latest:
        _fail("Cần đúng một trong hai: --to \"2026-12-07 15:04:05\" hoặc --latest.")
    target = parse_vietnam_time(to) if to else None
    settings = _settings()
    clock = time.monotonic()
    try:
        if ops.backend_of(settings.database_url) == "sqlite":
            backup = ops.restore_sqlite(settings.database_url, settings.backup_dir, target)
            click.echo(f"Đã chép lại bản sao lưu {backup.path.name} (xong lúc "
                       f"{ops.shown(backup.finished_at)}) vào {ops.sqlite_path(settings.database_url)}.")
            click.echo("Lưu ý: SQLite không phục hồi được đến từng thời điểm; mọi thay đổi sau "
                       f"{ops.shown(backup.finished_at)} đã mất. Dùng PostgreSQL (lưu WAL liên tục) "
                       "nếu cần phục hồi đến thời điểm bất kỳ.")
        else:
            if not data_dir:
                _fail("PostgreSQL: cần --data-dir (thư mục dữ liệu của máy chủ, trống hoặc chưa có).")
            plan = ops.prepare_postgresql_restore(settings.backup_dir, settings.wal_dir, data_dir,
                                                  target, owner=settings.server_user)
            click.echo(plan.describe())
            if not start:
                click.echo("Bước tiếp theo: khởi động PostgreSQL trên thư mục này (pg_ctl start "
                           "hoặc pg_ctlcluster … start), chờ pg_is_in_recovery() = false, rồi "
                           "chạy «flask ops check-files» và «flask audit verify».")
                return
            ops.start_postgresql(
                data_dir, log_file=log_file or str(Path(data_dir) / "restore.log"),
                bin_dir=settings.bin_dir, owner=settings.server_user, options=pg_ctl_options)
            ops.wait_for_promotion(settings.database_url)
            click.echo("PostgreSQL đã phục hồi xong và nhận ghi.")
    except DomainError as error:
        _fail(error.message)
    click.echo(f"Thời gian phục hồi: {time.monotonic() - clock:.1f} giây.")
    _check_after_restore()


def _check_after_restore() -> None:
    from app.audit import verify_chain
    from app.extensions import db
    from app.ops.backup import check_files

    db.engine.dispose()  # connections opened before the restore point at the old server
    files = check_files(db.session)
    chain = verify_chain(db.session)
    db.session.rollback()
    click.echo(f"Tệp lưu trong cơ sở dữ liệu: {files.checked} tệp, "
               f"{len(files.mismatches)} sai lệch.")
    for line in files.mismatches:
        click.echo(f"  {line}", err=True)
    click.echo(chain.message())
    if not files.ok or not chain.ok:
        sys.exit(1)


@ops_cli.command("check-files")
def check_files_command() -> None:
    """Tính lại SHA-256 của mọi tệp lưu trong cơ sở dữ liệu (PDF đã ký, tệp đính kèm, minh
    chứng nhập bù, chứng thư) và so với mã băm đã lưu."""
    from app.extensions import db
    from app.ops.backup import check_files

    result = check_files(db.session)
    db.session.rollback()
    details = ", ".join(f"{label}: {count}" for label, count in result.by_kind.items())
    click.echo(f"Đã kiểm tra {result.checked} tệp" + (f" ({details})" if details else "") + ".")
    if result.ok:
        click.echo("Mọi tệp khớp mã băm đã lưu.")
        return
    for line in result.mismatches:
        click.echo(line, err=True)
    _fail(f"{len(result.mismatches)} tệp không khớp mã băm đã lưu.")


@ops_cli.command("wal-archive-command")
def wal_archive_command() -> None:
    """In các dòng cần đặt vào postgresql.conf để lưu WAL liên tục vào BACKUP_WAL_DIR."""
    from app.ops.backup import archive_command

    settings = _settings()
    click.echo(f"# postgresql.conf — lưu WAL liên tục vào {settings.wal_dir} "
               "(thư mục phải thuộc tài khoản chạy PostgreSQL); cần khởi động lại máy chủ")
    click.echo("wal_level = replica")
    click.echo("archive_mode = on")
    click.echo(f"archive_command = '{archive_command(settings.wal_dir)}'")
    click.echo("archive_timeout = 300  # lưu WAL ít nhất 5 phút một lần khi có ghi")
