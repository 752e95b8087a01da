"""flask units import FILE: the unit catalogue from an .xlsx or .csv file."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli.units import units_cli
from app.extensions import db


def echo_result(result) -> None:
    """Print the per-row errors, or the rows written or to be written."""
    for error in result.errors:
        click.echo(str(error), err=True)
    if not result.errors:
        for row in result.rows:
            click.echo(f"Dòng {row.row}: {row.action_label} «{row.label}»")
    for note in result.notes:
        click.echo(note)
    click.echo(result.summary())


@units_cli.command(
    "import",
    help="Nhập danh mục đơn vị từ tệp .xlsx hoặc .csv (Tên đơn vị, Tên viết tắt, Loại đơn vị, "
    "Mã hành chính, Mã nội bộ, Đơn vị cấp trên, Hiệu lực từ, Hiệu lực đến, Đang hoạt động). "
    "Có lỗi ở bất kỳ dòng nào thì không ghi gì.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Chỉ kiểm tra, không ghi vào hệ thống.")
@with_appcontext
def import_units_command(file: str, dry_run: bool) -> None:
    from app.imports.units_file import import_units

    result = import_units(db.session, file, file, dry_run=dry_run)
    echo_result(result)
    if result.errors:
        raise SystemExit(1)
