"""flask periods …: preview and generate reporting periods."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.calendar import DEFAULT_DEADLINE_WORKING_DAYS, PERIODIC_FREQUENCIES
from app.extensions import db


@click.group("periods", help="Kỳ báo cáo: xem trước và sinh kỳ theo năm.")
def periods_cli() -> None:
    pass


def _calendar():
    """The admin's calendar when the database answers; the plain national calendar otherwise."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.calendar import WorkingCalendar, calendar_from_db

    try:
        return calendar_from_db(db.session)
    except SQLAlchemyError:
        db.session.rollback()
        return WorkingCalendar()


@periods_cli.command("preview", help="In các kỳ của một năm: tên kỳ, ngày bắt đầu và kết thúc chốt số liệu, thời hạn gửi (cách nhau bằng tab).")
@click.option("--frequency", type=click.Choice(PERIODIC_FREQUENCIES), default="month", show_default=True,
              help="Tần suất báo cáo.")
@click.option("--year", type=int, required=True, help="Năm.")
@click.option("--deadline-days", type=click.IntRange(0, 60), default=DEFAULT_DEADLINE_WORKING_DAYS,
              show_default=True, help="Thời hạn gửi: số ngày làm việc sau ngày chốt số liệu.")
@click.option("--cutoff-end-day", type=click.IntRange(1, 31), default=None,
              help="Ngày kết thúc chốt số liệu trong tháng; mặc định ngày 14 (Nghị định 09/2019/NĐ-CP).")
@with_appcontext
def preview_command(frequency, year, deadline_days, cutoff_end_day) -> None:
    from app.calendar import periods_for_year

    for spec in periods_for_year(
        frequency, year, _calendar(), cutoff_end_day=cutoff_end_day,
        deadline_working_days=deadline_days,
    ):
        click.echo("\t".join([
            spec.label, spec.cutoff_start.isoformat(), spec.cutoff_end.isoformat(),
            spec.deadline.isoformat(),
        ]))


@periods_cli.command("generate", help="Sinh các kỳ báo cáo của một chế độ báo cáo cho một năm (không tạo trùng).")
@click.option("--regime", "regime_code", required=True, help="Mã chế độ báo cáo.")
@click.option("--year", type=int, required=True, help="Năm.")
@with_appcontext
def generate_command(regime_code, year) -> None:
    from sqlalchemy import select

    from app.models import Regime
    from app.periods import generate_periods

    regime = db.session.scalar(select(Regime).where(Regime.code == regime_code))
    if regime is None:
        raise click.ClickException(f"Không tìm thấy chế độ báo cáo có mã {regime_code}.")
    created = generate_periods(db.session, regime, year)
    reports = 0
    if created:
        from sqlalchemy import func

        from app.models import Report

        reports = db.session.scalar(
            select(func.count(Report.id)).where(Report.period_id.in_([p.id for p in created]))
        )
    db.session.commit()
    for period in created:
        click.echo(f"{period.label}\t{period.cutoff_start}\t{period.cutoff_end}\t{period.deadline}")
    click.echo(f"Đã giao {reports} báo cáo cho các đơn vị báo cáo của các kỳ mới.")
    click.echo(f"Đã tạo {len(created)} kỳ báo cáo mới cho {regime.code} năm {year}.")
