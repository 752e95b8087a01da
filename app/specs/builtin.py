"""Built-in form specs: YAML files in form_specs/, each with its source workbook when one is
kept beside it in form_specs/samples/ (so reports of built-in forms can be filled offline)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.specs.model import FormSpec

BUILTIN_DIR = Path(__file__).resolve().parent.parent.parent / "form_specs"


@dataclass
class BuiltinLoad:
    file: Path
    spec: FormSpec
    version: object  # FormVersion
    created: bool


def source_workbook_for(spec: FormSpec, folder: Path) -> bytes | None:
    if not spec.source_filename:
        return None
    for candidate in (folder / "samples" / spec.source_filename, folder / spec.source_filename):
        if candidate.is_file():
            return candidate.read_bytes()
    return None


def read_builtin(file: Path) -> FormSpec:
    return FormSpec.from_yaml(file.read_text(encoding="utf-8"))


def load_builtin_specs(session, directory: Path | None = None, *, regime=None, owner_unit=None):
    """Publish every YAML spec of the folder; an unchanged spec keeps its current version."""
    from sqlalchemy import func, select

    from app.models import FormVersion
    from app.reports import publish_form_version

    folder = Path(directory) if directory else BUILTIN_DIR
    loaded = []
    for file in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
        spec = read_builtin(file)
        before = session.scalar(
            select(func.max(FormVersion.version)).where(FormVersion.code == spec.code)
        )
        version = publish_form_version(
            session, spec, regime=regime, owner_unit=owner_unit,
            source_workbook=source_workbook_for(spec, folder), builtin=True,
        )
        loaded.append(BuiltinLoad(file, spec, version, created=version.version != before))
    return loaded
