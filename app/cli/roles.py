"""flask roles sync: create the seed roles and set their permissions."""

import click
from flask.cli import with_appcontext

from app.extensions import db


@click.group("roles", help="Vai trò của hệ thống.")
def roles_cli() -> None:
    pass


@roles_cli.command("sync", help="Tạo các vai trò mặc định và đồng bộ quyền của chúng.")
@with_appcontext
def sync_command() -> None:
    from app.security import sync_roles

    counts = sync_roles(db.session)
    db.session.commit()
    for name, count in counts.items():
        click.echo(f"{name}: {count} quyền")
