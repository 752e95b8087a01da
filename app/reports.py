"""Reports and their values: create, read, save (cell-level, no lost updates), validate.

Flask-free: views, the offline upload, the API and jobs call these with a session.
A value lives in ReportValue under (row key, column key, breakdown key); cells without row and
column keys (free text forms) use the key "Sheet!A1" as their row key and "" as column key.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from app.errors import DomainError
from app.models import FormVersion, Indicator, Period, Regime, Report, ReportValue, Unit
from app.models.forms import utcnow
from app.numbers import NotANumber, parse_number
from app.specs.model import CellSpec, FormSpec, Problem
from app.text import nfc

NUMERIC_TYPES = {"number", "integer", "decimal", "percent"}


class ReportConflict(DomainError):
    """Someone else changed the same cells since this person loaded them."""

    def __init__(self, message: str, keys: list[str]):
        super().__init__(message)
        self.keys = keys


_ADDED_ROW = re.compile(r"^(?P<sheet>.+)!row:(?P<n>\d+)$")


def added_row_cell(spec: FormSpec, key: str) -> CellSpec | None:
    """The cell of a row a unit added to an entity list (a school, a facility…), or None.

    Added rows are keyed "<sheet>!row:<n>|<column key>", n being the row they would take below
    the table in the workbook (the offline round trip uses the same keys). Name, code, unit
    and note columns take text; value columns take the type of that column's entry cells."""
    row_key, column_key = split_key(key)
    match = _ADDED_ROW.match(row_key)
    if match is None:
        return None
    sheet_name, number = match["sheet"], int(match["n"])
    for sheet in spec.sheets:
        if sheet.name != sheet_name:
            continue
        below = [t for t in sheet.tables if t.shape == "entity" and t.last_row < number]
        if not below:
            return None
        table = max(below, key=lambda t: t.last_row)
        for column in table.columns:
            if column.key != column_key or column.role == "stt":
                continue
            cell_type = "text"
            if column.role == "value":
                cell_type = next(
                    (c.type for c in spec.entry_cells
                     if c.sheet == sheet_name and c.column_key == column_key), "number",
                )
            return CellSpec(sheet=sheet_name, cell=f"{column.letter}{number}", kind="entry",
                            type=cell_type, row_key=row_key, column_key=column_key)
    return None


def split_key(key: str) -> tuple[str, str]:
    row_key, _, column_key = key.partition("|")
    return row_key, column_key


def join_key(row_key: str, column_key: str) -> str:
    return f"{row_key}|{column_key}" if column_key else row_key


_SPECS: dict[tuple[int, str], FormSpec] = {}


def spec_of(version: FormVersion) -> FormSpec:
    """The parsed spec of a form version, cached by version and content hash (the large JSON
    column is only loaded on the first use in this process)."""
    key = (version.id, version.content_hash)
    spec = _SPECS.get(key)
    if spec is None:
        spec = FormSpec.from_json(version.spec_json)
        if len(_SPECS) > 64:
            _SPECS.clear()
        _SPECS[key] = spec
    return spec


@dataclass
class CellIndex:
    """The cells of a spec by value key and by address, built once per spec (a published
    spec is never changed in place)."""

    by_key: dict[str, CellSpec]
    cells: tuple[CellSpec, ...] = ()
    computed: tuple[CellSpec, ...] = ()
    key_at: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def of(cls, spec: FormSpec) -> CellIndex:
        return _index_for(id(spec), spec)


_INDEXES: dict[int, tuple[FormSpec, CellIndex]] = {}


def _index_for(spec_id: int, spec: FormSpec) -> CellIndex:
    cached = _INDEXES.get(spec_id)
    if cached is not None and cached[0] is spec:
        return cached[1]
    index = CellIndex(
        by_key={cell.key: cell for cell in spec.cells},
        cells=tuple(spec.cells),
        computed=tuple(spec.computed_cells),
        key_at={(c.sheet, c.cell.replace("$", "").upper()): c.key for c in spec.cells},
    )
    if len(_INDEXES) > 64:
        _INDEXES.clear()
    _INDEXES[spec_id] = (spec, index)
    return index


# -- form versions ------------------------------------------------------------------------------


def publish_form_version(
    session,
    spec: FormSpec,
    *,
    regime: Regime | None = None,
    owner_unit: Unit | None = None,
    source_workbook: bytes | None = None,
    actor=None,
    builtin: bool = False,
) -> FormVersion:
    """Publish ``spec`` as the next version of its code; an unchanged spec returns the latest."""
    if spec.errors:
        raise DomainError(
            "Biểu mẫu còn lỗi, chưa ban hành được: " + "; ".join(str(p) for p in spec.errors[:5])
        )
    content_hash = spec.content_hash()
    latest = session.scalars(
        select(FormVersion)
        .where(FormVersion.code == spec.code)
        .order_by(FormVersion.version.desc())
        .limit(1)
    ).first()
    if latest is not None and latest.content_hash == content_hash and latest.status == "published":
        return latest
    spec.version = (latest.version + 1) if latest else 1
    version = FormVersion(
        code=spec.code,
        version=spec.version,
        title=spec.title,
        regime=regime,
        owner_unit=owner_unit,
        status="published",
        spec_json=spec.to_json(),
        content_hash=content_hash,
        source_filename=spec.source_filename,
        source_workbook=source_workbook,
        builtin=builtin,
        created_by_id=getattr(actor, "id", None),
        published_at=utcnow(),
    )
    session.add(version)
    session.flush()
    return version


def form_version_for_period(session, period: Period, form_code: str) -> FormVersion:
    """The version a period uses: pinned the first time it is needed, then kept for good."""
    for pinned in period.form_versions:
        if pinned.code == form_code:
            return pinned
    latest = session.scalars(
        select(FormVersion)
        .where(FormVersion.code == form_code, FormVersion.status == "published")
        .order_by(FormVersion.version.desc())
        .limit(1)
    ).first()
    if latest is None:
        raise DomainError(f"Chưa có biểu mẫu «{form_code}» nào được ban hành.")
    period.form_versions.append(latest)
    session.flush()
    return latest


def get_or_create_report(session, period: Period, unit: Unit, form_code: str) -> Report:
    report = session.scalars(
        select(Report).where(
            Report.period_id == period.id, Report.unit_id == unit.id, Report.form_code == form_code
        )
    ).first()
    if report is not None:
        return report
    version = form_version_for_period(session, period, form_code)
    report = Report(
        regime_id=period.regime_id,
        period=period,
        unit=unit,
        form_code=form_code,
        form_version=version,
        state="draft",
        revision=0,
    )
    session.add(report)
    session.flush()
    prefill_carry_over(session, report)
    return report


CARRY_OVER_SOURCES = {
    "previous_period": "kỳ trước",
    "same_period_last_year": "cùng kỳ năm trước",
    "annual_plan": "kế hoạch năm đã nhập",
}


def _carried_columns(spec: FormSpec):
    """(column key, source kind, source column key, editable) of the columns filled from an
    earlier period. ``ColumnSpec.carry_over`` reads "<source>" or "<source>:<column key>"."""
    for sheet in spec.sheets:
        for table in sheet.tables:
            for column in table.columns:
                if column.carry_over:
                    source, _, source_key = column.carry_over.partition(":")
                    yield column.key, source, source_key or column.key, column.carry_over_editable


def _source_report(session, report: Report, source: str) -> Report | None:
    period = report.period
    query = (
        select(Report)
        .join(Period, Report.period_id == Period.id)
        .where(
            Report.unit_id == report.unit_id,
            Report.form_code == report.form_code,
            Period.regime_id == period.regime_id,
            Period.frequency == period.frequency,
        )
    )
    if source == "previous_period":
        query = query.where(Period.cutoff_start < period.cutoff_start).order_by(
            Period.cutoff_start.desc()
        )
    elif source == "same_period_last_year":
        query = query.where(Period.year == period.year - 1, Period.number == period.number)
    elif source == "annual_plan":
        query = query.where(
            Period.year == period.year, Period.cutoff_start < period.cutoff_start
        ).order_by(Period.cutoff_start.desc())
    else:
        return None
    return session.scalars(query.limit(1)).first()


def prefill_carry_over(session, report: Report) -> int:
    """Fill the carried-over columns of a new report from the earlier report they name."""
    spec = spec_of(report.form_version)
    carried = list(_carried_columns(spec))
    if not carried:
        return 0
    index = CellIndex.of(spec)
    filled = 0
    for column_key, source, source_key, _editable in carried:
        earlier = _source_report(session, report, source)
        if earlier is None:
            continue
        earlier_values = load_values(session, earlier)
        for cell in index.by_key.values():
            if cell.column_key != column_key or cell.row_key is None:
                continue
            value = earlier_values.get(join_key(cell.row_key, source_key))
            if value is None:
                continue
            row_key, col_key = split_key(cell.key)
            session.add(ReportValue(
                report_id=report.id, row_key=row_key, column_key=col_key,
                number_value=value if isinstance(value, Decimal) else None,
                text_value=None if isinstance(value, Decimal) else value,
            ))
            filled += 1
    session.flush()
    return filled


def read_only_keys(spec: FormSpec) -> set[str]:
    """Entry cells of carried-over columns that the spec shows read-only."""
    locked_columns = {key for key, _s, _k, editable in _carried_columns(spec) if not editable}
    return {c.key for c in spec.entry_cells if c.column_key in locked_columns}


# -- reading ------------------------------------------------------------------------------------


def stored_value(row: ReportValue):
    if row.number_value is not None:
        return row.number_value
    return row.text_value


def load_values(session, report: Report) -> dict[str, object]:
    """Every stored value of a report by value key (one query)."""
    rows = session.execute(
        select(
            ReportValue.row_key, ReportValue.column_key, ReportValue.number_value,
            ReportValue.text_value,
        ).where(ReportValue.report_id == report.id)
    ).all()
    return {
        join_key(r.row_key, r.column_key): (r.number_value if r.number_value is not None else r.text_value)
        for r in rows
    }


# -- converting and validating ------------------------------------------------------------------


def convert(cell: CellSpec, raw, spec: FormSpec) -> tuple[object, str | None]:
    """The stored form of a typed value and, when it breaks the cell's rule, why (Vietnamese).

    A value that cannot be converted is kept as typed (a draft keeps whatever was typed) and
    reported; validation refuses it later.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None
    if cell.type in NUMERIC_TYPES:
        try:
            number = parse_number(raw)
        except NotANumber:
            return nfc(str(raw)), f"«{raw}» không phải là số"
        if cell.type == "integer" and number != number.to_integral_value():
            return number, "phải là số nguyên"
        if cell.min is not None and number < Decimal(str(cell.min)):
            return number, f"không được nhỏ hơn {_plain(cell.min)}"
        if cell.max is not None and number > Decimal(str(cell.max)):
            return number, f"không được lớn hơn {_plain(cell.max)}"
        return number, None
    if cell.type == "date":
        if isinstance(raw, dt.datetime):
            return raw.date().isoformat(), None
        if isinstance(raw, dt.date):
            return raw.isoformat(), None
        text = str(raw).strip()
        for pattern in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y"):
            try:
                return dt.datetime.strptime(text, pattern).date().isoformat(), None
            except ValueError:
                continue
        return nfc(text), f"«{text}» không phải là ngày (dd/mm/yyyy)"
    text = nfc(str(raw))
    if cell.type == "choice" and cell.choices:
        options = spec.choices.get(cell.choices, [])
        for option in options:
            if text in (option.value, option.label):
                return option.value, None
        return text, f"«{text}» không có trong danh sách chọn"
    return text, None


def _plain(number) -> str:
    from app.formatting import format_number

    return format_number(number)


def values_for_validation(session, report: Report) -> tuple[FormSpec, dict[str, object]]:
    """The spec and stored values of a report, as validate_values takes them."""
    return spec_of(report.form_version), load_values(session, report)


def validate_values(spec: FormSpec, values: dict[str, object]) -> list[Problem]:
    """Every problem of a report's values, each naming its cell (for the summary and the cell)."""
    problems = []
    for cell in spec.entry_cells:
        raw = values.get(cell.key)
        where = {"sheet": cell.sheet, "row": _row_of(cell.cell), "column": _col_of(cell.cell)}
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if cell.required:
                problems.append(Problem("chưa nhập (bắt buộc)", **where))
            continue
        _, problem = convert(cell, raw, spec)
        if problem:
            problems.append(Problem(problem, **where))
    return problems + rule_problems(spec, values)


def rule_problems(spec: FormSpec, values: dict[str, object]) -> list[Problem]:
    """Rules across cells (XLSForm's constraint + constraint_message): an expression over cell
    addresses that must be TRUE, e.g. "E5=C5+D5" or "C7<=C6". Blank cells count as 0 as in
    Excel; a rule that cannot be evaluated is reported with its expression."""
    if not spec.rules:
        return []
    from app.specs.formulas import ExcelError, FormulaError, evaluate, references

    merged = values_with_computed(spec, values)
    by_address = {}
    for cell in spec.cells:
        value = merged.get(cell.key)
        by_address[(cell.sheet, cell.cell.replace("$", "").upper())] = (
            float(value) if isinstance(value, Decimal) else value
        )
    default_sheet = spec.sheets[0].name if spec.sheets else ""
    problems = []
    for rule in spec.rules:
        try:
            outcome = evaluate(rule.expression, lambda sheet, cell: by_address.get((sheet, cell)),
                               default_sheet)
            first = next(iter(references(rule.expression, default_sheet)), None)
        except FormulaError as error:
            problems.append(Problem(f"quy tắc «{rule.expression}» không đọc được: {error.message}"))
            continue
        if outcome is True:
            continue
        where = {}
        if first is not None:
            where = {"sheet": first[0], "row": _row_of(first[1]), "column": _col_of(first[1])}
        reason = rule.message if not isinstance(outcome, ExcelError) else (
            f"{rule.message} (không tính được: {outcome})"
        )
        problems.append(Problem(reason, severity=rule.severity, **where))
    return problems


def _row_of(address: str) -> int:
    return int("".join(ch for ch in address if ch.isdigit()))


def _col_of(address: str) -> str:
    return "".join(ch for ch in address if ch.isalpha())


# -- saving -------------------------------------------------------------------------------------


@dataclass
class SaveResult:
    saved: int = 0
    revision: int = 0
    problems: list[Problem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    # The computed cells that the saved cells feed, with their new values (None: not known
    # without evaluating the whole form; read them with report_values).
    computed: dict[str, object] | None = None


def save_values(
    session,
    report: Report,
    changes: dict[str, object],
    *,
    user=None,
    base_values: dict[str, object] | None = None,
    check_responsibility: bool = True,
) -> SaveResult:
    """Store the changed cells of a report in one transaction step (the caller commits).

    ``changes`` maps value keys to what was typed. Only entry cells are taken: values sent for
    computed or fixed cells are ignored (computed cells are derived on read, see
    ``values_with_computed``). With
    ``base_values`` (what the person saw when they started typing), a cell that someone else
    changed in the meantime is refused as a conflict instead of being overwritten; cells nobody
    else touched are saved, so two people filling different parts of a report lose nothing.
    """
    from app.workflow import EDITABLE_STATES, STATE_WORDS

    spec = spec_of(report.form_version)
    index = CellIndex.of(spec)
    lock_report(session, report)
    # the state and revision as they are now, under the lock: a report sent a moment ago by
    # someone else is frozen even if this session still holds it as a draft
    base_revision, state = session.execute(
        select(Report.revision, Report.state).where(Report.id == report.id)
    ).one()
    if state not in EDITABLE_STATES:
        raise DomainError(
            f"Báo cáo đang ở trạng thái «{STATE_WORDS.get(state, state)}»: số liệu đã khóa, "
            "không sửa được."
        )
    existing = {
        join_key(row.row_key, row.column_key): row
        for row in session.execute(
            select(ReportValue.id, ReportValue.row_key, ReportValue.column_key,
                   ReportValue.number_value, ReportValue.text_value)
            .where(ReportValue.report_id == report.id)
        )
    }
    result = SaveResult()
    locked = read_only_keys(spec)
    # Responsible units (IndicatorResponsibility, seed 004 Art. 16.1) fill only their own rows:
    # keys of other rows are ignored. None = every row. See app/consolidation.py; compose()
    # writes the responsible units' rows into a composed report with check_responsibility=False.
    allowed_rows = None
    if check_responsibility:
        from app.consolidation import editable_row_keys

        allowed_rows = editable_row_keys(session, report)
    conflicts = []
    to_write: dict[str, object] = {}
    for key, raw in changes.items():
        cell = index.by_key.get(key) or added_row_cell(spec, key)
        if cell is None or cell.kind != "entry" or key in locked or (
            allowed_rows is not None and split_key(key)[0] not in allowed_rows
        ):
            result.ignored.append(key)
            continue
        value, problem = convert(cell, raw, spec)
        if problem:
            result.problems.append(
                Problem(problem, sheet=cell.sheet, row=_row_of(cell.cell), column=_col_of(cell.cell),
                        severity="warning")
            )
        current_row = existing.get(key)
        current = stored_value(current_row) if current_row is not None else None
        if base_values is not None and key in base_values:
            base, _ = convert(cell, base_values[key], spec)
            if not _same(base, current) and not _same(value, current):
                conflicts.append(key)
                continue
        if _same(value, current):
            continue
        to_write[key] = value
    if conflicts:
        session.rollback()
        raise ReportConflict(
            f"{len(conflicts)} ô đã được người khác sửa trong lúc bạn nhập; "
            "hãy tải lại để xem số mới trước khi lưu đè.",
            conflicts,
        )
    now = utcnow()
    user_id = getattr(user, "id", None)
    indicator_ids = _indicator_ids(session, spec)
    rows_by_key = {row.key: row for row in spec.rows}
    columns_by_key = {c.key: c for sheet in spec.sheets for t in sheet.tables for c in t.columns}

    inserts, updates = [], []
    for key, value in to_write.items():
        number = value if isinstance(value, Decimal) else None
        text = None if isinstance(value, Decimal) else value
        row = existing.get(key)
        if row is not None:
            updates.append({"id": row.id, "number_value": number, "text_value": text,
                            "saved_by_id": user_id, "saved_at": now})
            continue
        row_key, column_key = split_key(key)
        row_spec = rows_by_key.get(row_key)
        column_spec = columns_by_key.get(column_key)
        inserts.append({
            "report_id": report.id, "row_key": row_key, "column_key": column_key,
            "breakdown_key": (column_spec.breakdown or "") if column_spec else "",
            "indicator_id": indicator_ids.get(row_spec.indicator_code) if row_spec else None,
            "value_column_key": column_spec.catalogue_key if column_spec else None,
            "number_value": number, "text_value": text, "saved_by_id": user_id, "saved_at": now,
        })
    # Bulk statements (one executemany each); the audit records them like ORM changes.
    if inserts:
        session.execute(insert(ReportValue), inserts)
    if updates:
        _update_values(session, updates, existing_by_id={r.id: r for r in existing.values()})
    result.saved = len(to_write)
    if to_write:
        report.revision = Report.revision + 1  # in SQL: never a stale read-modify-write
        report.updated_at = now
        report.updated_by_id = user_id
    session.flush()
    result.revision = report.revision
    if to_write:
        result.computed = _compute_after_save(
            session, report, spec, base_revision, existing, to_write
        )
    return result


def _compute_after_save(session, report, spec, base_revision, existing, to_write):
    """Evaluate the formulas that depend on the saved cells, starting from the computed values
    of the revision the save started from; kept for the new revision once the save commits.
    Returns the dependent computed cells with their new values, or None when the values of the
    starting revision are not at hand."""
    if not CellIndex.of(spec).computed:
        return {}
    content_hash = report.form_version.content_hash
    previous = _COMPUTED_BY_REVISION.get((report.id, base_revision, content_hash))
    if previous is None:
        return None
    values = {key: (row.number_value if row.number_value is not None else row.text_value)
              for key, row in existing.items()}
    values.update(to_write)
    evaluated = _evaluate(spec, values, previous=previous, changed_keys=list(to_write))
    session.info.setdefault("computed_after_save", []).append(
        ((report.id, result_revision(session, report), content_hash), evaluated)
    )
    return {key: evaluated[0].get(key) for key in computed_keys_reading(spec, list(to_write))}


def result_revision(session, report) -> int:
    return session.scalar(select(Report.revision).where(Report.id == report.id))


_COMPUTED_BY_REVISION: dict[tuple, tuple[dict, dict]] = {}


def report_values(session, report: Report) -> dict[str, object]:
    """A report's entry values with its computed cells. The computed part is kept per report
    revision in this process, so showing a report again costs no formula evaluation."""
    spec = spec_of(report.form_version)
    values = load_values(session, report)
    key = (report.id, report.revision, report.form_version.content_hash)
    cached = _COMPUTED_BY_REVISION.get(key)
    if cached is None:
        cached = _evaluate(spec, values)
        _remember(key, cached)
    merged = dict(values)
    merged.update(cached[0])
    return merged


def _remember(key: tuple, evaluated: tuple) -> None:
    if len(_COMPUTED_BY_REVISION) > 128:
        _COMPUTED_BY_REVISION.clear()
    _COMPUTED_BY_REVISION[key] = evaluated


@event.listens_for(Session, "after_commit")
def _publish_computed(session) -> None:
    """Computed values evaluated during a save become visible only once the save commits."""
    for key, evaluated in session.info.pop("computed_after_save", []):
        _remember(key, evaluated)


@event.listens_for(Session, "after_rollback")
def _forget_computed(session) -> None:
    session.info.pop("computed_after_save", None)


def _update_values(session, updates: list[dict], existing_by_id: dict) -> None:
    """Write changed values in bulk and record each change (old and new value, by whom) in the
    transaction's audit entry from the rows already read. PostgreSQL: one UPDATE … FROM
    unnest(arrays), three array parameters whatever the number of cells (row-by-row UPDATEs cost
    a round trip each, and a VALUES list costs a bound parameter per value to compile); SQLite:
    one executemany, which is already cheap in process."""
    from sqlalchemy import bindparam, text

    from app.audit import record_change

    table = ReportValue.__table__
    connection = session.connection()
    first = updates[0]
    if connection.dialect.name == "postgresql":
        connection.execute(
            text(
                "UPDATE report_value AS v SET number_value = changed.number_value,"
                " text_value = changed.text_value, saved_by_id = :saved_by_id,"
                " saved_at = :saved_at"
                " FROM unnest(CAST(:ids AS integer[]), CAST(:numbers AS numeric[]),"
                " CAST(:texts AS text[])) AS changed(id, number_value, text_value)"
                " WHERE v.id = changed.id"
            ),
            {"ids": [u["id"] for u in updates],
             "numbers": [u["number_value"] for u in updates],
             "texts": [u["text_value"] for u in updates],
             "saved_by_id": first["saved_by_id"], "saved_at": first["saved_at"]},
        )
    else:
        connection.execute(
            update(table)
            .where(table.c.id == bindparam("changed_id"))
            .values(number_value=bindparam("changed_number"),
                    text_value=bindparam("changed_text"),
                    saved_by_id=first["saved_by_id"], saved_at=first["saved_at"]),
            [{"changed_id": u["id"], "changed_number": u["number_value"],
              "changed_text": u["text_value"]} for u in updates],
        )
    for change in updates:
        old = existing_by_id[change["id"]]
        record_change(
            session, "report_value", change["id"], "update",
            {"number_value": old.number_value, "text_value": old.text_value},
            {"number_value": change["number_value"], "text_value": change["text_value"],
             "saved_by_id": change["saved_by_id"]},
        )


def computed_keys_reading(spec: FormSpec, changed_keys) -> list[str]:
    """The value keys of the computed cells that depend on the changed cells."""
    from app.specs.formulas import dependent_cells

    index = CellIndex.of(spec)
    changed = [(index.by_key[k].sheet, index.by_key[k].cell) for k in changed_keys
               if k in index.by_key]
    if not changed:
        return []
    affected = dependent_cells(index.cells, changed)
    return [c.key for c in index.computed
            if (c.sheet, c.cell.replace("$", "").upper()) in affected]


def values_with_computed(spec: FormSpec, values: dict[str, object]) -> dict[str, object]:
    """A report's stored entry values plus its computed cells, computed now on the server.

    Computed cells are never stored: they are derived from the entry values whenever they are
    shown, exported or aggregated, so a total can never disagree with its parts.
    """
    merged = dict(values)
    merged.update(recompute(spec, values))
    return merged


class _ValuesByAddress:
    """A report's values read by cell address, converted only when a formula reads them."""

    def __init__(self, index: CellIndex, values: dict[str, object]):
        self.index = index
        self.values = values

    def get(self, address: tuple[str, str], default=None):
        key = self.index.key_at.get(address)
        if key is None:
            return default
        value = self.values.get(key, default)
        return float(value) if isinstance(value, Decimal) else value

    def items(self):
        for address in self.index.key_at:
            yield address, self.get(address)


def recompute(spec: FormSpec, values: dict[str, object]) -> dict[str, object]:
    """The computed cells of a form from its entry values, by value key (server-side truth)."""
    return _evaluate(spec, values)[0]


def _evaluate(spec: FormSpec, values: dict[str, object], previous=None, changed_keys=None):
    """(computed values by value key, raw results by address). With the result for the
    previous values and the keys that changed, only the dependent formulas are evaluated and
    only their results converted again."""
    index = CellIndex.of(spec)
    computed = index.computed
    if not computed:
        return {}, {}
    from app.specs.formulas import ExcelError, evaluate_cells, evaluate_changed

    previous_out, previous_raw = previous if previous is not None else ({}, {})
    if previous is not None and changed_keys is not None:
        changed = [(index.by_key[k].sheet, index.by_key[k].cell) for k in changed_keys
                   if k in index.by_key]
        results = evaluate_changed(index.cells, _ValuesByAddress(index, values), previous_raw,
                                   changed)
    else:
        by_address = {}
        for cell in spec.cells:
            value = values.get(cell.key)
            by_address[(cell.sheet, cell.cell)] = (
                float(value) if isinstance(value, Decimal) else value
            )
        results = evaluate_cells(spec.cells, by_address)
    out = {}
    for cell in computed:
        address = (cell.sheet, cell.cell.replace("$", "").upper())
        value = results.get(address)
        if address in previous_raw and previous_raw[address] is value and cell.key in previous_out:
            out[cell.key] = previous_out[cell.key]  # not evaluated again: the same result
        elif isinstance(value, ExcelError):
            out[cell.key] = str(value)
        elif isinstance(value, bool):
            out[cell.key] = "TRUE" if value else "FALSE"
        elif isinstance(value, (int, float)):
            out[cell.key] = Decimal(repr(float(value))).quantize(Decimal("1e-8")).normalize()
        else:
            out[cell.key] = value
    return out, results


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b
    return str(a) == str(b)


def lock_report(session, report: Report) -> None:
    """Serialise saves of one report: a row lock on PostgreSQL; on SQLite the database write
    lock, taken up front so a concurrent save waits instead of failing on a stale snapshot."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        session.execute(select(Report.id).where(Report.id == report.id).with_for_update())
    else:
        table = Report.__table__
        connection.execute(
            update(table).where(table.c.id == report.id).values(revision=table.c.revision)
        )


def _indicator_ids(session, spec: FormSpec) -> dict[str, int]:
    codes = {row.indicator_code for row in spec.rows if row.indicator_code}
    if not codes:
        return {}
    return dict(session.execute(select(Indicator.code, Indicator.id).where(Indicator.code.in_(codes))).all())
