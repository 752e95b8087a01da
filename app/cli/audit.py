"""flask audit verify / flask audit head: check the hash chain of the audit trail."""

import sys

import click
from flask.cli import with_appcontext

from app.extensions import db


@click.group("audit", help="Nhật ký thay đổi (chuỗi băm).")
def audit_cli() -> None:
    pass


@audit_cli.command("verify", help="Kiểm tra toàn bộ chuỗi nhật ký; báo bản ghi đầu tiên bị sửa hoặc bị xóa.")
@with_appcontext
def verify_command() -> None:
    from app.audit import verify_chain

    result = verify_chain(db.session)
    db.session.rollback()
    if result.ok:
        click.echo(result.message())
        return
    click.echo(result.message(), err=True)
    click.echo(f"Số bản ghi hợp lệ trước đó: {result.checked}", err=True)
    sys.exit(1)


@audit_cli.command("head", help="In mã số và mã băm của bản ghi mới nhất (để lưu đối chiếu bên ngoài).")
@with_appcontext
def head_command() -> None:
    from app.audit import chain_head

    head = chain_head(db.session)
    db.session.rollback()
    if head is None:
        click.echo("Nhật ký chưa có bản ghi nào.")
        return
    click.echo(f"{head[0]} {head[1]}")
