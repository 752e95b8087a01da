"""flask accounts import FILE: create accounts from an account-request sheet."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.extensions import db


@click.group("accounts", help="Tài khoản người dùng.")
def accounts_cli() -> None:
    pass


@accounts_cli.command(
    "import",
    help="Tạo tài khoản từ danh sách đề nghị cấp tài khoản (Phụ lục I: STT, Loại tài khoản/vai trò, "
    "Họ tên, Đơn vị, Chức vụ, Email, Điện thoại di động). Có lỗi ở bất kỳ dòng nào thì không tạo gì.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Chỉ kiểm tra, không tạo tài khoản.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    default="tai_khoan_moi.xlsx",
    show_default=True,
    help="Tệp .xlsx ghi tên đăng nhập và mật khẩu lần đầu của các tài khoản mới.",
)
@with_appcontext
def import_accounts_command(file: str, dry_run: bool, out: str) -> None:
    import os

    from app.cli.units_file import echo_result
    from app.imports.accounts_sheet import import_accounts, logins_workbook

    result = import_accounts(db.session, file, file, dry_run=dry_run)
    echo_result(result)
    if result.errors:
        raise SystemExit(1)
    if result.written:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(logins_workbook(result.created))
        click.echo(f"Đã ghi tên đăng nhập và mật khẩu lần đầu của {len(result.created)} tài khoản vào «{out}».")


@accounts_cli.command(
    "unlock",
    help="Mở khóa đăng nhập của tài khoản bị tạm khóa do nhập sai mật khẩu nhiều lần "
    "(đếm lại số lần sai từ đầu, như sau một lần đăng nhập thành công).",
)
@click.argument("username")
@with_appcontext
def unlock_command(username: str) -> None:
    from app.login_guard import unlock

    name = unlock(db.session, username)
    db.session.commit()
    click.echo(f"Đã mở khóa đăng nhập của «{name}».")


@accounts_cli.command(
    "prune-logins",
    help="Xóa nhật ký các lần đăng nhập cũ hơn số ngày cho trước.",
)
@click.option("--days", type=click.IntRange(min=1), default=180, show_default=True)
@with_appcontext
def prune_logins_command(days: int) -> None:
    import datetime as dt

    from app.login_guard import prune
    from app.models.people import utcnow

    removed = prune(db.session, utcnow() - dt.timedelta(days=days))
    db.session.commit()
    click.echo(f"Đã xóa {removed} lần đăng nhập cũ hơn {days} ngày.")

