"""Importing indicator values the way DHIS2's dataValueSets does, onto this system's reports.

A data value names its place by codes — ``orgUnit`` (the unit's administrative or internal
code), ``period`` (a period id, or a code: ``202611`` month, ``2026Q4`` quarter, ``2026S1``
half year, ``2026N9`` nine months, ``2026`` year; a number of 4 or 6 digits is always read
as a code), ``dataElement`` (the indicator's code) and
``column`` (the catalogue's value column key, or the form's own column key) with an optional
``breakdown`` — and carries a ``value``. It is resolved to one cell of one existing report: the
unit's report of that period whose form maps a row to the indicator and has that column
(app/specs mapping: ``RowSpec.indicator_code``, ``ColumnSpec.catalogue_key``). An optional
``dataSet`` (regime code) chooses between the regimes of a unit when a value fits several.

Every value gets a result: ``imported`` (a new value), ``updated`` (a changed value; an empty
value clears one), ``ignored`` (the same value as stored, or not written because its report
was refused) or ``error`` (with the index, the line for CSV, the field and the reason in
Vietnamese). A report is all or nothing: one bad value of a report and none of that report's
values is written; the other reports are written. Values go through ``app.reports.save_values``
— the function the entry page uses — so revisions, the audit trail and the freeze once a
report is sent apply as on screen. Each report that is written is committed on its own; with
``dry_run`` nothing is written and the results say what would happen.

Numbers are read in the machine format (``1234.5``; JSON numbers as they are); a string that is
not such a number is read as people type it on screen (``1.234,5``).

Flask-free: ``import_data_values(session, values, user)`` from the API, the CLI or a job.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import or_, select

from app.errors import DomainError
from app.models import Indicator, Period, Regime, Report, Unit
from app.reports import (
    CellIndex,
    convert,
    join_key,
    load_values,
    read_only_keys,
    save_values,
    spec_of,
)
from app.scoping import unit_in_scope
from app.text import nfc
from app.workflow import EDITABLE_STATES, STATE_WORDS

FIELDS = ("orgUnit", "period", "dataElement", "column", "value")
OPTIONAL_FIELDS = ("breakdown", "dataSet", "comment")
IMPORTED, UPDATED, IGNORED, ERROR = "imported", "updated", "ignored", "error"
MAX_VALUES = 50_000

_PERIOD_CODES = (
    (re.compile(r"^(\d{4})(0[1-9]|1[0-2])$"), "month"),
    (re.compile(r"^(\d{4})Q([1-4])$"), "quarter"),
    (re.compile(r"^(\d{4})S([12])$"), "half_year"),
    (re.compile(r"^(\d{4})N9$"), "nine_months"),
    (re.compile(r"^(\d{4})$"), "year"),
)
_MACHINE_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$")


def period_code(period: Period) -> str:
    """The DHIS2-like code of a period ("202611", "2026Q4"…), or its id for a one-off period."""
    if period.frequency == "month":
        return f"{period.year}{period.number:02d}"
    if period.frequency == "quarter":
        return f"{period.year}Q{period.number}"
    if period.frequency == "half_year":
        return f"{period.year}S{period.number}"
    if period.frequency == "nine_months":
        return f"{period.year}N9"
    if period.frequency == "year":
        return str(period.year)
    return str(period.id)


def parse_period(token) -> tuple[str, int, int] | int | None:
    """(frequency, year, number) of a period code, an id (int), or None when unreadable."""
    if isinstance(token, bool):
        return None
    if isinstance(token, int):
        return token if token > 0 else None
    text = str(token or "").strip().upper()
    for pattern, frequency in _PERIOD_CODES:
        match = pattern.match(text)
        if match:
            year = int(match.group(1))
            number = int(match.group(2)) if match.lastindex and match.lastindex > 1 else 1
            return frequency, year, number
    if text.isdigit() and len(text) not in (4, 6) and len(text) <= 9:
        return int(text) or None  # 4 and 6 digits are codes (2026, 202611), never ids
    return None


@dataclass
class ValueResult:
    index: int  # position in the list, from 0
    status: str
    orgUnit: str | None = None  # noqa: N815 (the contract's field names)
    period: str | None = None
    dataElement: str | None = None  # noqa: N815
    column: str | None = None
    line: int | None = None  # line of a CSV file (the header is line 1)
    report: int | None = None
    cell: str | None = None  # sheet and cell of the form, e.g. "Biểu 01!D5"
    field: str | None = None
    message: str | None = None

    def where(self) -> str:
        return (f"dòng {self.line}" if self.line is not None
                else f"giá trị thứ {self.index + 1}")


@dataclass
class ReportOutcome:
    report: int
    unit: str
    period: str
    form: str
    status: str  # written | would_write | unchanged | refused
    values: int = 0
    revision: int | None = None
    message: str | None = None


@dataclass
class ImportSummary:
    dry_run: bool
    status: str = "SUCCESS"  # SUCCESS | WARNING (some refused) | ERROR (nothing written)
    counts: dict[str, int] = field(default_factory=lambda: {
        IMPORTED: 0, UPDATED: 0, IGNORED: 0, ERROR: 0})
    reports: list[ReportOutcome] = field(default_factory=list)
    results: list[ValueResult] = field(default_factory=list)
    message: str = ""

    def as_dict(self) -> dict:
        return {
            "status": self.status, "dryRun": self.dry_run, "message": self.message,
            "importCount": {"imported": self.counts[IMPORTED], "updated": self.counts[UPDATED],
                            "ignored": self.counts[IGNORED], "errors": self.counts[ERROR]},
            "allOrNothing": "report",
            "reports": [asdict(r) for r in self.reports],
            "results": [{k: v for k, v in asdict(r).items() if v is not None}
                        for r in self.results],
        }


class ImportRefused(DomainError):
    """The whole payload is unusable (not a list, unreadable CSV, too many values)."""


# -- reading the payload -------------------------------------------------------------------


def values_from_json(payload) -> tuple[list[dict], dict]:
    """The data values and the defaults (orgUnit, period, dataSet given once at the top, as in
    DHIS2) of a posted JSON document."""
    if not isinstance(payload, dict):
        raise ImportRefused("Nội dung gửi lên phải là một đối tượng JSON có «dataValues».",
                            field="dataValues")
    values = payload.get("dataValues")
    if not isinstance(values, list):
        raise ImportRefused("Thiếu «dataValues» (danh sách giá trị).", field="dataValues")
    defaults = {key: payload[key] for key in ("orgUnit", "period", "dataSet")
                if isinstance(payload.get(key), (str, int)) and not isinstance(payload[key], bool)}
    return values, defaults


def values_from_csv(text: str) -> list[dict]:
    """Rows of a CSV file with a header naming the same fields (orgUnit, period, dataElement,
    column, value; breakdown, dataSet optional); comma or semicolon separated. Each row keeps
    its line number under "_line"."""
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [name for name in FIELDS if name not in header]
    if missing:
        raise ImportRefused("Dòng tiêu đề của tệp CSV thiếu cột: " + ", ".join(missing) + ".",
                            field="header")
    reader.fieldnames = header
    rows = []
    for row in reader:
        item = {k: v for k, v in row.items() if k is not None}
        item["_line"] = reader.line_num
        rows.append(item)
    return rows


# -- resolving ---------------------------------------------------------------------------------


def _text(value) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    return nfc(str(value)).strip()


def _machine_value(raw):
    """JSON numbers as they are; strings in the machine format become Decimals; anything else
    is left for the cell's own conversion (which reads 1.234,5 as typed on screen)."""
    if isinstance(raw, bool):
        return str(raw).lower()
    if isinstance(raw, float):
        return Decimal(repr(raw))
    if isinstance(raw, str) and _MACHINE_NUMBER.match(raw.strip()):
        try:
            return Decimal(raw.strip())
        except InvalidOperation:
            return raw
    return raw


@dataclass
class _Form:
    spec: object
    cells: dict  # (indicator code, column token, breakdown) → CellSpec
    locked: set


_FORMS: dict[tuple[int, str], _Form] = {}


def _form_of(report: Report) -> _Form:
    version = report.form_version
    key = (version.id, version.content_hash)
    form = _FORMS.get(key)
    if form is not None:
        return form
    spec = spec_of(version)
    rows = {row.key: row for row in spec.rows}
    columns = {c.key: c for sheet in spec.sheets for t in sheet.tables for c in t.columns}
    cells: dict = {}
    for cell in CellIndex.of(spec).cells:
        row = rows.get(cell.row_key or "")
        column = columns.get(cell.column_key or "")
        if row is None or column is None or not row.indicator_code:
            continue
        breakdown = column.breakdown or ""
        for token in {column.key, column.catalogue_key} - {None, ""}:
            cells.setdefault((row.indicator_code, token, breakdown), cell)
            cells.setdefault((row.indicator_code, token, None), cell)
    form = _Form(spec, cells, read_only_keys(spec))
    if len(_FORMS) > 64:
        _FORMS.clear()
    _FORMS[key] = form
    return form


class _Resolver:
    def __init__(self, session, user):
        self.session, self.user = session, user
        self.units: dict[str, Unit | None] = {}
        self.reports: dict[tuple, list[Report]] = {}
        self.indicators: dict[str, bool] = {}
        self.rows: dict[int, set | None] = {}

    def editable_rows(self, report: Report) -> set | None:
        """The rows the report's unit may fill (IndicatorResponsibility); None: every row."""
        if report.id not in self.rows:
            from app.consolidation import editable_row_keys

            self.rows[report.id] = editable_row_keys(self.session, report)
        return self.rows[report.id]

    def unit(self, code: str) -> Unit | None:
        if code not in self.units:
            self.units[code] = self.session.scalars(select(Unit).where(
                or_(Unit.admin_code == code, Unit.internal_code == code))).first()
        return self.units[code]

    def indicator_exists(self, code: str) -> bool:
        if code not in self.indicators:
            self.indicators[code] = self.session.scalar(
                select(Indicator.id).where(Indicator.code == code)) is not None
        return self.indicators[code]

    def reports_of(self, unit: Unit, period, regime_code: str) -> list[Report]:
        key = (unit.id, period, regime_code)
        if key not in self.reports:
            query = (select(Report).join(Period, Report.period_id == Period.id)
                     .where(Report.unit_id == unit.id, Report.kind != "consolidated"))
            if isinstance(period, int):
                query = query.where(Period.id == period)
            else:
                frequency, year, number = period
                query = query.where(Period.frequency == frequency, Period.year == year,
                                    Period.number == number)
            if regime_code:
                query = query.join(Regime, Report.regime_id == Regime.id).where(
                    Regime.code == regime_code)
            self.reports[key] = list(self.session.scalars(query.order_by(Report.id)))
        return self.reports[key]


# -- importing ---------------------------------------------------------------------------------


def import_data_values(session, values: list, user, *, dry_run: bool = False,
                       defaults: dict | None = None) -> ImportSummary:
    """Check every value, then write each report whose values are all good (see the module).

    ``user`` is the person or system account the values are saved as: only reports of units in
    its scope are written. Each written report is committed; a report refused on writing (sent
    by someone a moment ago) is rolled back alone."""
    if not isinstance(values, list):
        raise ImportRefused("«dataValues» phải là một danh sách.", field="dataValues")
    if len(values) > MAX_VALUES:
        raise ImportRefused(f"Mỗi lần gửi tối đa {MAX_VALUES:,} giá trị; hãy chia nhỏ tệp."
                            .replace(",", "."), field="dataValues")
    defaults = defaults or {}
    summary = ImportSummary(dry_run=dry_run)
    resolver = _Resolver(session, user)
    # report id → (report, [(result, cell key, value)])
    by_report: dict[int, tuple[Report, list]] = {}
    seen: dict[tuple[int, str], int] = {}
    for index, item in enumerate(values):
        result = _check_one(resolver, index, item, defaults, by_report, seen)
        summary.results.append(result)

    stored_by_report = {}
    for report_id, (report, entries) in by_report.items():
        stored = load_values(session, report)
        stored_by_report[report_id] = stored
        for result, key, value in entries:
            if result.status == ERROR:
                continue
            current = stored.get(key)
            if _same(value, current):
                result.status = IGNORED
                result.message = "Giá trị không đổi."
            elif current is None:
                result.status = IMPORTED
            else:
                result.status = UPDATED

    for report_id, (report, entries) in by_report.items():
        outcome = ReportOutcome(report=report_id, unit=_unit_code(report.unit),
                                period=period_code(report.period), form=report.form_code,
                                status="unchanged", revision=report.revision)
        summary.reports.append(outcome)
        bad = [r for r, _k, _v in entries if r.status == ERROR]
        if bad:
            outcome.status = "refused"
            outcome.message = (f"Báo cáo có {len(bad)} giá trị lỗi (đầu tiên: {bad[0].where()}): "
                               "không giá trị nào của báo cáo này được ghi.")
            for result, _k, _v in entries:
                if result.status in (IMPORTED, UPDATED):
                    result.status = IGNORED
                    result.message = ("Không ghi vì báo cáo còn giá trị lỗi "
                                      f"({bad[0].where()}).")
            continue
        changes = {key: value for result, key, value in entries
                   if result.status in (IMPORTED, UPDATED)}
        outcome.values = len(changes)
        if not changes:
            continue
        if dry_run:
            outcome.status = "would_write"
            continue
        try:
            saved = save_values(session, report, changes, user=user)
            if saved.ignored:  # never expected: every key was checked against the form
                raise DomainError("Biểu mẫu không nhận các ô: " + ", ".join(saved.ignored))
            session.commit()
        except DomainError as error:
            session.rollback()
            outcome.status = "refused"
            outcome.message = error.message
            for result, _k, _v in entries:
                if result.status in (IMPORTED, UPDATED):
                    result.status = ERROR
                    result.field = "report"
                    result.message = f"Báo cáo không nhận số liệu: {error.message}"
            continue
        outcome.status = "written"
        outcome.revision = saved.revision

    for result in summary.results:
        summary.counts[result.status] += 1
    refused = [r for r in summary.reports if r.status == "refused"]
    written = [r for r in summary.reports if r.status in ("written", "would_write")]
    if summary.counts[ERROR] and not written:
        summary.status = "ERROR"
    elif summary.counts[ERROR] or refused:
        summary.status = "WARNING"
    verb = "sẽ ghi" if dry_run else "đã ghi"
    summary.message = (
        f"{'Chạy thử, không ghi gì. ' if dry_run else ''}"
        f"{len(written)} báo cáo {verb}, {len(refused)} báo cáo bị từ chối "
        "(mỗi báo cáo được ghi trọn vẹn hoặc không ghi gì); "
        f"{summary.counts[IMPORTED]} giá trị mới, {summary.counts[UPDATED]} giá trị cập nhật, "
        f"{summary.counts[IGNORED]} bỏ qua, {summary.counts[ERROR]} lỗi."
    )
    return summary


def _unit_code(unit: Unit) -> str:
    return unit.admin_code or unit.internal_code or str(unit.id)


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b
    return str(a) == str(b)


def _check_one(resolver: _Resolver, index: int, item, defaults: dict, by_report: dict,
               seen: dict) -> ValueResult:
    result = ValueResult(index=index, status=ERROR)
    if not isinstance(item, dict):
        result.field = "dataValues"
        result.message = f"{result.where().capitalize()}: phải là một đối tượng có các trường " \
                         + ", ".join(FIELDS) + "."
        return result
    line = item.get("_line")
    result.line = line if isinstance(line, int) else None
    fields = {name: item.get(name, defaults.get(name)) for name in FIELDS + OPTIONAL_FIELDS}
    result.orgUnit = _text(fields["orgUnit"]) or None
    result.period = _text(fields["period"]) or None
    result.dataElement = _text(fields["dataElement"]) or None
    result.column = _text(fields["column"]) or None

    def refuse(field_name: str, reason: str) -> ValueResult:
        result.status, result.field = ERROR, field_name
        result.message = f"{result.where().capitalize()}, trường «{field_name}»: {reason}"
        return result

    for name in ("orgUnit", "period", "dataElement", "column"):
        if not _text(fields[name]):
            return refuse(name, "chưa có giá trị.")
    if "value" not in item:
        return refuse("value", "thiếu trường này (gửi chuỗi rỗng để xóa một giá trị).")
    unit = resolver.unit(result.orgUnit)
    if unit is None:
        return refuse("orgUnit", f"không có đơn vị mã «{result.orgUnit}».")
    if not unit_in_scope(unit, resolver.user):
        return refuse("orgUnit", f"đơn vị «{unit.name}» nằm ngoài phạm vi của tài khoản.")
    period = parse_period(fields["period"] if isinstance(fields["period"], int)
                          else result.period)
    if period is None:
        return refuse("period", f"«{result.period}» không phải mã kỳ (202611, 2026Q4, 2026S1, "
                                "2026N9, 2026) hay số hiệu kỳ.")
    regime_code = _text(fields["dataSet"])
    reports = resolver.reports_of(unit, period, regime_code)
    if not reports:
        return refuse("period", f"đơn vị «{unit.name}» không có báo cáo nào được giao cho kỳ "
                                f"«{result.period}»"
                                + (f" của chế độ «{regime_code}»." if regime_code else "."))
    if not resolver.indicator_exists(result.dataElement):
        return refuse("dataElement", f"không có chỉ tiêu mã «{result.dataElement}» trong danh "
                                     "mục.")
    breakdown = _text(fields["breakdown"]) or None
    matches = []
    for report in reports:
        cell = _form_of(report).cells.get((result.dataElement, result.column, breakdown))
        if cell is not None:
            matches.append((report, cell))
    if not matches:
        forms = ", ".join(sorted({r.form_code for r in reports}))
        return refuse("column", f"biểu «{forms}» của kỳ này không có ô nào cho chỉ tiêu "
                                f"«{result.dataElement}», cột «{result.column}»"
                                + (f", phân tổ «{breakdown}»." if breakdown else "."))
    if len(matches) > 1:
        return refuse("dataSet", "giá trị khớp với nhiều báo cáo ("
                      + ", ".join(r.form_code for r, _c in matches)
                      + "): ghi thêm «dataSet» (mã chế độ báo cáo).")
    report, cell = matches[0]
    result.report = report.id
    result.cell = f"{cell.sheet}!{cell.cell}"
    entries = by_report.setdefault(report.id, (report, []))[1]
    form = _form_of(report)
    if report.state not in EDITABLE_STATES:
        entries.append((result, cell.key, None))
        return refuse("period", f"báo cáo {report.form_code} kỳ «{report.period.label}» đang ở "
                                f"trạng thái «{STATE_WORDS.get(report.state, report.state)}»: "
                                "số liệu đã khóa, không sửa được.")
    if cell.kind != "entry":
        entries.append((result, cell.key, None))
        return refuse("column", f"ô {result.cell} được tính tự động, không nhập được.")
    if cell.key in form.locked:
        entries.append((result, cell.key, None))
        return refuse("column", f"ô {result.cell} lấy từ kỳ trước và chỉ đọc.")
    allowed = resolver.editable_rows(report)
    if allowed is not None and cell.row_key not in allowed:
        entries.append((result, cell.key, None))
        return refuse("dataElement", f"chỉ tiêu «{result.dataElement}» do đơn vị khác chịu "
                                     "trách nhiệm nhập trong báo cáo này.")
    raw = item.get("value")
    if isinstance(raw, (dict, list)):
        entries.append((result, cell.key, None))
        return refuse("value", "phải là một số hoặc một chuỗi.")
    value, problem = convert(cell, _machine_value(raw), form.spec)
    if problem:
        entries.append((result, cell.key, None))
        return refuse("value", f"ô {result.cell}: {problem}.")
    first = seen.get((report.id, cell.key))
    if first is not None:
        entries.append((result, cell.key, None))
        return refuse("value", f"trùng ô {result.cell} với giá trị thứ {first + 1}.")
    seen[(report.id, cell.key)] = index
    result.status = IMPORTED  # decided against the stored values afterwards
    entries.append((result, cell.key, value))
    return result


__all__ = [
    "ImportRefused", "ImportSummary", "ValueResult", "import_data_values", "join_key",
    "parse_period", "period_code", "values_from_csv", "values_from_json",
]
