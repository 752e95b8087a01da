"""Retention (seed 001 Art. 19: kept at least as long as paper reports), callable without a
request.

``install`` makes the ORM refuse to delete what the records office keeps: reports, their
events, sent versions, comments, signatures, backfilled sendings, and the units and regimes
that have reports (deactivate those instead: everything stays readable). Audit entries are
guarded by app.audit already.

``write_year_archive`` writes the archive of one year for the records office: a zip with, per
report whose period falls in that year, the canonical values of each sent version
(``values.json``), each signed PDF unchanged, the evidence of backfilled sendings, and an index
(``index.csv``, UTF-8 with a BOM for Excel, and ``manifest.json`` with each file's SHA-256).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

from sqlalchemy import event, select
from sqlalchemy.orm import selectinload, undefer

from app.errors import DomainError


class RetentionRefused(DomainError):
    """Something the records office keeps was about to be deleted."""


KEPT_RECORDS = ("Report", "ReportEvent", "ReportVersion", "ReportComment", "ReportSignature",
                "BackfilledSending")


def _kept_message(name: str) -> str:
    return (f"«{name}» thuộc hồ sơ báo cáo, được lưu trữ ít nhất bằng thời hạn lưu trữ báo cáo "
            "giấy: hệ thống không xóa.")


def check_deletable(connection, target) -> None:
    """Raise RetentionRefused when ``target`` may not be deleted (the screens call it before a
    delete; the ORM guards call it on every delete)."""
    from app.models import Report

    name = type(target).__name__
    if name in KEPT_RECORDS:
        raise RetentionRefused(_kept_message(name))
    if name in ("Unit", "Regime") and target.id is not None:
        column = Report.unit_id if name == "Unit" else Report.regime_id
        used = connection.execute(select(Report.id).where(column == target.id).limit(1)).first()
        if used is not None:
            raise RetentionRefused(
                f"«{target}» đã có báo cáo: không xóa được, hãy ngừng hoạt động (bỏ chọn «Đang "
                "áp dụng» hoặc «Đang hoạt động») để mọi báo cáo vẫn tra cứu được.")


def _guard_flush(session, flush_context, instances) -> None:
    """Before anything of a flush is written (the ORM would otherwise first detach a report's
    children): refuse the deletes of kept records."""
    for target in session.deleted:
        if type(target).__name__ in KEPT_RECORDS + ("Unit", "Regime"):
            check_deletable(session.connection(), target)


def _guard_statements(orm_execute_state) -> None:
    """``session.execute(delete(Report)…)`` is refused too."""
    if not orm_execute_state.is_delete:
        return
    mapper = orm_execute_state.bind_mapper
    if mapper is not None and mapper.class_.__name__ in KEPT_RECORDS:
        raise RetentionRefused(_kept_message(mapper.class_.__name__))


def install() -> None:
    """Register the guards once (create_app may run many times in a process)."""
    from sqlalchemy.orm import Session


    if not event.contains(Session, "do_orm_execute", _guard_statements):
        event.listen(Session, "do_orm_execute", _guard_statements)
    if not event.contains(Session, "before_flush", _guard_flush):
        event.listen(Session, "before_flush", _guard_flush)


# -- the archive of a year -----------------------------------------------------------------------

INDEX_COLUMNS = [
    "report_id", "regime_code", "regime_name", "period", "unit_code", "unit_name", "state",
    "version", "sent_at_utc", "late", "outcome", "values_sha256", "backfilled_document",
    "files",
]


def _folder(report) -> str:
    return (f"{report.regime.code}/{report.period.year}-{report.period.number:02d}-"
            f"{report.period.frequency}/{unit_code(report.unit)}-r{report.id}")


def unit_code(unit) -> str:
    """The unit's administrative code (mã ĐVHC), else its internal code, else its id."""
    return unit.admin_code or unit.internal_code or str(unit.id)


def write_year_archive(session, year: int, out) -> dict[str, int]:
    """Write the archive of ``year`` to ``out`` (a path or a binary file object); returns counts.
    Reads one report at a time; the session keeps no reference to the files once written."""
    from app.models import BackfilledSending, Period, Report, ReportSignature, ReportVersion

    counts = {"reports": 0, "versions": 0, "signed_pdfs": 0, "evidence": 0}
    manifest: dict[str, str] = {}
    index = io.StringIO()
    writer = csv.writer(index)
    writer.writerow(INDEX_COLUMNS)
    report_ids = session.scalars(
        select(Report.id).join(Period, Period.id == Report.period_id)
        .where(Period.year == year).order_by(Report.regime_id, Period.number, Report.unit_id,
                                             Report.id)).all()

    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        def add(name: str, data: bytes) -> str:
            archive.writestr(name, data)
            manifest[name] = hashlib.sha256(data).hexdigest()
            return name

        for report_id in report_ids:
            report = session.scalars(
                select(Report).where(Report.id == report_id)
                .options(selectinload(Report.regime), selectinload(Report.period),
                         selectinload(Report.unit))).one()
            counts["reports"] += 1
            folder = _folder(report)
            versions = session.scalars(
                select(ReportVersion).where(ReportVersion.report_id == report.id)
                .options(undefer(ReportVersion.values_json)).order_by(ReportVersion.number)
            ).all()
            backfills = {row.version_id: row for row in session.scalars(
                select(BackfilledSending).where(BackfilledSending.report_id == report.id)
                .options(undefer(BackfilledSending.evidence)))}
            base = [report.id, report.regime.code, report.regime.name, report.period.label,
                    unit_code(report.unit), report.unit.name, report.state]
            if not versions:
                writer.writerow(base + ["", "", "", "", "", "", ""])
            for version in versions:
                counts["versions"] += 1
                files = [add(f"{folder}/v{version.number}/values.json",
                             version.values_json.encode("utf-8"))]
                if version.signature_id is not None:
                    signed = session.scalars(
                        select(ReportSignature).where(ReportSignature.id == version.signature_id)
                        .options(undefer(ReportSignature.signed_pdf))).one()
                    if signed.signed_pdf:
                        files.append(add(f"{folder}/v{version.number}/signed.pdf",
                                         signed.signed_pdf))
                        counts["signed_pdfs"] += 1
                backfill = backfills.get(version.id)
                if backfill is not None:
                    files.append(add(f"{folder}/v{version.number}/evidence-"
                                     f"{backfill.evidence_filename}", backfill.evidence))
                    counts["evidence"] += 1
                writer.writerow(base + [
                    version.number, version.sent_at.isoformat(timespec="seconds"),
                    int(version.late), version.outcome, version.values_hash,
                    backfill.document_number if backfill else "", " ".join(files)])
        add("index.csv", ("\ufeff" + index.getvalue()).encode("utf-8"))
        archive.writestr("manifest.json", json.dumps(
            {"year": year, "counts": counts, "sha256": manifest}, ensure_ascii=False,
            indent=1).encode("utf-8"))
    return counts
