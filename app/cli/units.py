"""flask units …: the unit catalogue from the command line."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.extensions import db


@click.group("units", help="Danh mục đơn vị.")
def units_cli() -> None:
    pass


@units_cli.command(
    "import-province",
    help="Nhập UBND tỉnh và các xã, phường, đặc khu của một tỉnh theo danh mục đơn vị hành "
    "chính hiện hành (mã tỉnh 2 chữ số, ví dụ 82 là Đồng Tháp). Chạy lại không tạo trùng.",
)
@click.argument("code")
@with_appcontext
def import_province_command(code: str) -> None:
    from app.imports.province import ProvinceNotFound, import_province

    try:
        result = import_province(db.session, code)
    except ProvinceNotFound as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(
        f"{result.committee.name} (mã {result.province_code}): {len(result.units)} xã, phường, đặc khu."
    )
    click.echo(
        f"Tạo mới: {result.created}; cập nhật: {result.updated}; không đổi: {result.unchanged}."
    )
