"""flask forms parse PATH | flask forms load [DIR]: form specs from Excel templates and YAML files."""

from __future__ import annotations

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
    from app.errors import DomainError
    from app.specs.builtin import load_builtin_specs

    folder = Path(directory) if directory else BUILTIN_DIR
    if not (sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))):
        click.echo(f"Không có tệp .yaml nào trong {folder}.")
        return
    try:
        loaded = load_builtin_specs(db.session, folder)
    except (DomainError, ValueError, TypeError, KeyError) as error:
        db.session.rollback()
        click.echo(f"Không nạp được biểu mẫu: {getattr(error, 'message', error)}", err=True)
        raise SystemExit(1) from error
    created = unchanged = 0
    for item in loaded:
        if item.created:
            created += 1
            click.echo(f"{item.spec.code}: đã nạp phiên bản {item.version.version} — {item.spec.title}.")
        else:
            unchanged += 1
            click.echo(f"{item.spec.code}: không đổi (phiên bản {item.version.version}).")
    db.session.commit()
    click.echo(f"Xong: {created} phiên bản mới, {unchanged} biểu mẫu không đổi.")
