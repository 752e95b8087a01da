"""flask archive year YEAR --out FILE: the archive of a year for the records office
(app.retention.write_year_archive)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

archive_cli = AppGroup("archive", help="Lưu trữ: xuất hồ sơ báo cáo của một năm.")


@archive_cli.command("year")
@click.argument("year", type=int)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Tệp .zip sẽ ghi")
def archive_year(year: int, out: str) -> None:
    """Mọi báo cáo của kỳ thuộc năm YEAR: giá trị từng lần gửi, tệp PDF đã ký, minh chứng nhập
    bù, kèm mục lục index.csv và manifest.json (SHA-256 từng tệp)."""
    from app.extensions import db
    from app.retention import write_year_archive

    counts = write_year_archive(db.session, year, out)
    click.echo(f"Đã ghi {out}: {counts['reports']} báo cáo, {counts['versions']} lần gửi, "
               f"{counts['signed_pdfs']} tệp PDF đã ký, {counts['evidence']} minh chứng nhập bù.")
