"""flask indicators import FILE: the indicator catalogue from an .xlsx or .csv file."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.extensions import db


@click.group("indicators", help="Danh mục chỉ tiêu.")
def indicators_cli() -> None:
    pass


@indicators_cli.command(
    "import",
    help="Nhập danh mục chỉ tiêu từ tệp .xlsx hoặc .csv (Mã chỉ tiêu, Tên chỉ tiêu, Đơn vị tính, "
    "Phương pháp tính, Kiểu giá trị, Tổng hợp theo đơn vị, Tổng hợp theo thời gian, Tử số, Mẫu số, "
    "Nhóm, Đơn vị chịu trách nhiệm, Hiệu lực từ, Hiệu lực đến). Có lỗi ở bất kỳ dòng nào thì không ghi gì.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Chỉ kiểm tra, không ghi vào hệ thống.")
@with_appcontext
def import_indicators_command(file: str, dry_run: bool) -> None:
    from app.cli.units_file import echo_result
    from app.imports.indicators_file import import_indicators

    result = import_indicators(db.session, file, file, dry_run=dry_run)
    echo_result(result)
    if result.errors:
        raise SystemExit(1)
