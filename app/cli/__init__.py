"""Flask CLI groups: flask units …, flask periods …, flask demo …, flask audit …, flask roles …,
flask ops … (backup and restore)"""

from flask import Flask


def register_cli(app: Flask) -> None:
    from app.cli.roles import roles_cli

    app.cli.add_command(roles_cli)
    from app.cli.periods import periods_cli

    app.cli.add_command(periods_cli)
    from app.cli.units import units_cli

    app.cli.add_command(units_cli)
    from app.cli.demo import demo_cli

    app.cli.add_command(demo_cli)
    from app.cli import units_file  # noqa: F401  (adds "flask units import")
    from app.cli.accounts import accounts_cli

    app.cli.add_command(accounts_cli)
    from app.cli.indicators import indicators_cli

    app.cli.add_command(indicators_cli)
    from app.cli.audit import audit_cli

    app.cli.add_command(audit_cli)
    from app.cli.forms import forms_cli

    app.cli.add_command(forms_cli)
    from app.cli.archive import archive_cli

    app.cli.add_command(archive_cli)

    from app.cli.exchange import exchange_cli

    app.cli.add_command(exchange_cli)
    from app.cli.ops import ops_cli

    app.cli.add_command(ops_cli)
