"""flask exchange sync | push | send | schema: the exchange with the upper-level system."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.extensions import db


@click.group("exchange", help="Trao đổi với hệ thống cấp trên (QCVN 125:2021/BTTTT).")
def exchange_cli() -> None:
    pass


@exchange_cli.command("sync", help="Đồng bộ biểu mẫu: nhận chế độ, biểu mẫu, chỉ tiêu từ cấp trên.")
@with_appcontext
def sync_command() -> None:
    from app.errors import DomainError
    from app.exchange.downstream import sync_templates

    session = db.session
    try:
        summary = sync_templates(session)
    except DomainError as error:
        session.rollback()
        raise click.ClickException(error.message) from error
    session.commit()
    click.echo(summary.message)
    click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))


@exchange_cli.command("push", help="Gửi lên cấp trên số liệu của báo cáo tổng hợp đã tiếp nhận.")
@click.option("--regime", required=True, help="Mã chế độ báo cáo.")
@click.option("--year", type=int, required=True)
@click.option("--number", type=int, required=True, help="Số thứ tự kỳ trong năm (tháng, quý…).")
@click.option("--force", is_flag=True, help="Gửi lại kể cả khi nội dung đã được gửi.")
@with_appcontext
def push_command(regime: str, year: int, number: int, force: bool) -> None:
    from app.errors import DomainError
    from app.exchange.downstream import is_top_consolidation, queue_report_data, send_pending
    from app.models import Period, Regime, Report

    session = db.session
    reports = session.scalars(
        select(Report).join(Period, Period.id == Report.period_id)
        .join(Regime, Regime.id == Report.regime_id)
        .where(Regime.code == regime, Period.year == year, Period.number == number,
               Period.frequency == Regime.frequency, Report.state == "accepted")).all()
    reports = [r for r in reports if is_top_consolidation(session, r)]
    if not reports:
        raise click.ClickException("Không có báo cáo tổng hợp cấp tỉnh đã tiếp nhận của kỳ này.")
    try:
        rows = [queue_report_data(session, r, force=force) for r in reports]
    except DomainError as error:
        session.rollback()
        raise click.ClickException(error.message) from error
    session.commit()
    send_pending(session)
    for row in rows:
        session.refresh(row)
        click.echo(f"{row.message_id}: {row.state_word} (lần gửi {row.attempts})"
                   + (f" — {row.last_error}" if row.last_error else ""))


@exchange_cli.command("send", help="Gửi các thông điệp đang chờ (và gửi lại thông điệp lỗi).")
@with_appcontext
def send_command() -> None:
    from app.exchange.downstream import send_pending

    counts = send_pending(db.session)
    click.echo(json.dumps(counts, ensure_ascii=False))


@exchange_cli.command("schema", help="In JSON Schema của một loại thông điệp.")
@click.argument("message_type")
def schema_command(message_type: str) -> None:
    from app.exchange import messages

    if message_type not in messages.MESSAGE_TYPES:
        raise click.ClickException("Loại thông điệp: " + ", ".join(messages.MESSAGE_TYPES))
    click.echo(json.dumps(messages.schema(message_type), ensure_ascii=False, indent=2))
