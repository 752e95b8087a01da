"""flask demo load: the demo province of Đồng Tháp."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.extensions import db


@click.group("demo", help="Dữ liệu mẫu: tỉnh Đồng Tháp.")
def demo_cli() -> None:
    pass


@demo_cli.command(
    "load",
    help="Nạp (hoặc bổ sung) dữ liệu mẫu tỉnh Đồng Tháp: đơn vị, tài khoản, chỉ tiêu, chế độ báo "
    "cáo và kỳ báo cáo năm nay. Chạy lại không tạo trùng.",
)
@click.option("--all-accounts", is_flag=True, help="In đủ mọi tài khoản vừa tạo.")
@with_appcontext
def load_command(all_accounts: bool) -> None:
    from app.demo import load_demo, print_demo_accounts
    from app.security import sync_roles

    sync_roles(db.session)
    result = load_demo(db.session)
    db.session.commit()
    click.echo(
        f"Đơn vị mới: {result.units_created}; tài khoản mới: {len(result.accounts)}; "
        f"chỉ tiêu mới: {result.indicators_created}; chế độ báo cáo mới: {result.regimes_created}; "
        f"kỳ báo cáo mới: {result.periods_created}."
    )
    print_demo_accounts(result, full=all_accounts)
