"""Bring the message catalogs in step with the source code (run by `make i18n`).

- ``vi/LC_MESSAGES/messages.po``: every msgid of Flask-AppBuilder (its shipped catalogs and its
  source) translated into Vietnamese, plus the application's own msgids. The application writes
  its strings in Vietnamese, so their Vietnamese msgstr may stay empty (shown as written).
- ``en/LC_MESSAGES/messages.po``: the application's own (Vietnamese) msgids translated into
  English. Flask-AppBuilder's msgids are English already and are not listed.

Existing translations are kept; new msgids are added untranslated (never fuzzy-matched) and
msgids that left the source are dropped. Afterwards, `make translations` compiles the .mo files.
Prints the msgids still waiting for an English translation.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
KEYWORDS = ["_", "_l", "gettext", "lazy_gettext", "ngettext:1,2", "lazy_ngettext:1,2"]
FAB_MAPPING = """\
[python: **.py]
[jinja2: **/templates/**.html]
encoding = utf-8
"""


def read_catalog(path: Path, locale: str | None = None, *, lenient: bool = False) -> Catalog:
    """read_po; lenient drops the date headers, malformed in some of FAB's shipped catalogs."""
    data = path.read_bytes()
    if lenient:
        data = re.sub(rb'"(POT-Creation-Date|PO-Revision-Date):[^"\n]*"\n', b"", data)
    return read_po(io.BytesIO(data), locale=locale)


def fab_package_dir() -> Path:
    import flask_appbuilder

    return Path(flask_appbuilder.__file__).resolve().parent


def fab_shipped_msgids() -> list[str]:
    """Every msgid found in any catalog that Flask-AppBuilder ships."""
    ids: dict[str, None] = {}
    for po in sorted((fab_package_dir() / "translations").glob("*/LC_MESSAGES/messages.po")):
        for message in read_catalog(po, lenient=True):
            if message.id:
                ids[message.id] = None
    return list(ids)


def _pybabel() -> str:
    candidate = Path(sys.executable).with_name("pybabel")
    return str(candidate) if candidate.exists() else "pybabel"


def extract(mapping: Path, *dirs: Path) -> Catalog:
    """Run `pybabel extract` on dirs with the given mapping file; return the template."""
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "messages.pot"
        command = [_pybabel(), "extract", "--no-wrap", "-F", str(mapping), "-o", str(pot)]
        for keyword in KEYWORDS:
            command += ["-k", keyword]
        done = subprocess.run(
            command + [str(d) for d in dirs], cwd=ROOT, capture_output=True, text=True
        )
        if done.returncode:
            sys.stderr.write(done.stdout + done.stderr)
            raise SystemExit(f"pybabel extract thất bại ({done.returncode})")
        with pot.open("rb") as handle:
            return read_po(handle)


def fab_msgids() -> list[str]:
    """FAB's shipped catalogs plus anything its current source marks for translation."""
    ids = dict.fromkeys(fab_shipped_msgids())
    with tempfile.TemporaryDirectory() as tmp:
        mapping = Path(tmp) / "babel.cfg"
        mapping.write_text(FAB_MAPPING)
        for message in extract(mapping, fab_package_dir()):
            if message.id and isinstance(message.id, str):
                ids.setdefault(message.id, None)
    return sorted(ids, key=str.casefold)


def app_template() -> Catalog:
    return extract(ROOT / "babel.cfg", Path("."))


def merge(locale: str, template: Catalog) -> Catalog:
    path = HERE / locale / "LC_MESSAGES" / "messages.po"
    if path.exists():
        catalog = read_catalog(path, locale=locale)
    else:
        catalog = Catalog(locale=locale)
    catalog.project = "Hệ thống thông tin báo cáo"
    catalog.version = "1.0"
    catalog.fuzzy = False
    catalog.copyright_holder = "Hệ thống thông tin báo cáo"
    catalog.last_translator = "Hệ thống thông tin báo cáo"
    catalog.language_team = {"vi": "Tiếng Việt", "en": "English"}.get(locale, locale)
    before = {m.id for m in catalog if m.id}
    created = catalog.creation_date
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
    if {m.id for m in catalog if m.id} == before:
        catalog.creation_date = created  # nothing new: no churn in the header
    catalog.obsolete.clear()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False, ignore_obsolete=True,
                 include_previous=False, sort_output=False, include_lineno=False)
    return catalog


def compile_stale() -> list[Path]:
    """Compile every catalog whose .mo is missing or older than its .po (what
    `pybabel compile -f` does in `make translations`); return the .mo files written."""
    from babel.messages.mofile import write_mo

    written = []
    for po in sorted(HERE.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        catalog = read_catalog(po, locale=po.parent.parent.name)
        tmp = mo.with_name(f".{mo.name}.{os.getpid()}")
        with tmp.open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=True)
        os.replace(tmp, mo)
        written.append(mo)
    return written


def main() -> int:
    app = app_template()
    fab = fab_msgids()
    vi_template = Catalog(locale="vi")
    for msgid in fab:
        vi_template.add(msgid, auto_comments=["Flask-AppBuilder"])
    en_template = Catalog(locale="en")
    for message in app:
        if message.id and message.id not in vi_template:
            vi_template[message.id] = message
            en_template[message.id] = message
    vi = merge("vi", vi_template)
    en = merge("en", en_template)
    missing_vi = [m.id for m in vi if m.id and not m.string and "Flask-AppBuilder" in m.auto_comments]
    missing_en = [m.id for m in en if m.id and not m.string]
    print(f"vi: {len(vi)} msgids ({len(missing_vi)} of Flask-AppBuilder untranslated)")
    print(f"en: {len(en)} msgids ({len(missing_en)} untranslated)")
    for msgid in missing_vi + missing_en:
        print(f"  chưa dịch: {msgid!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
