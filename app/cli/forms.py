"""flask forms parse PATH | flask forms load [DIR]: form specs from Excel templates and YAML files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from app.extensions import db

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "form_specs"


@click.group("forms", help="Biểu mẫu báo cáo: đọc mẫu Excel, nạp các biểu mẫu có sẵn.")
def forms_cli() -> None:
    pass


@forms_cli.command("parse", help="Đọc một mẫu Excel (.xlsx) và in mô tả biểu mẫu dạng JSON.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--code", default=None, help="Mã biểu mẫu (mặc định: tên tệp).")
@click.option("--yaml", "as_yaml", is_flag=True, help="In dạng YAML thay vì JSON.")
def parse_command(path: str, code: str | None, as_yaml: bool) -> None:
    from app.specs.loader import load_spec

    spec = load_spec(path, code=code)
    if spec.errors:
        click.echo(f"Tệp «{Path(path).name}» không dùng được làm biểu mẫu:", err=True)
        for problem in spec.errors:
            click.echo(f"  - {problem}", err=True)
        raise SystemExit(1)
    if as_yaml:
        click.echo(spec.to_yaml())
    else:
        click.echo(json.dumps(spec.summary(), ensure_ascii=False, indent=2, default=str))
    for problem in spec.problems:
        click.echo(f"Lưu ý — {problem}", err=True)


@forms_cli.command(
    "load", help="Nạp các biểu mẫu có sẵn (tệp .yaml) vào hệ thống; chạy lại không tạo bản trùng."
)
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False))
@with_appcontext
def load_command(directory: str | None) -> None:
    from app.models.forms import FormVersion
    from app.specs.model import FormSpec

    folder = Path(directory) if directory else BUILTIN_DIR
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not files:
        click.echo(f"Không có tệp .yaml nào trong {folder}.")
        return
    created = unchanged = 0
    for file in files:
        try:
            spec = FormSpec.from_yaml(file.read_text(encoding="utf-8"))
        except Exception as error:  # noqa: BLE001
            click.echo(f"Tệp {file.name}: không đọc được ({error}).", err=True)
            raise SystemExit(1) from error
        content_hash = spec.content_hash()
        latest = (
            db.session.query(FormVersion)
            .filter(FormVersion.code == spec.code)
            .order_by(FormVersion.version.desc())
            .first()
        )
        if latest is not None and latest.content_hash == content_hash:
            unchanged += 1
            click.echo(f"{spec.code}: không đổi (phiên bản {latest.version}).")
            continue
        spec.version = (latest.version + 1) if latest is not None else 1
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        db.session.add(
            FormVersion(
                code=spec.code,
                version=spec.version,
                title=spec.title[:500],
                status="published",
                spec_json=spec.to_json(),
                content_hash=content_hash,
                source_filename=spec.source_filename,
                builtin=True,
                published_at=now,
            )
        )
        db.session.flush()
        created += 1
        click.echo(f"{spec.code}: đã nạp phiên bản {spec.version} — {spec.title}.")
    db.session.commit()
    click.echo(f"Xong: {created} phiên bản mới, {unchanged} biểu mẫu không đổi.")
