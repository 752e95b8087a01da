"""Filling a report: the list of reachable reports and the entry page drawn from the form spec.

The entry page shows each sheet of the form as the paper does (header merges, the column-number
row, STT, labels, units), entry cells as inputs, computed cells grey and read-only, fixed cells
as text, and the narrative blocks as multi-line text. The browser recomputes the computed cells
while the person types (app/static/js/formulas.js); the server recomputes them on every save and
never takes a total from the browser (app.reports.save_values).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal

from flask import Response, abort, flash, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from openpyxl.utils import column_index_from_string as column_number
from sqlalchemy import select

from app import workflow
from app.errors import DomainError
from app.extensions import db
from app.formatting import format_datetime, format_number
from app.models import (
    FormVersion,
    Report,
    ReportAttachment,
    ReportEvent,
    ReportValue,
    ReportVersion,
)
from app.models.forms import utcnow
from app.reports import (
    CellIndex,
    ReportConflict,
    computed_keys_reading,
    load_values,
    read_only_keys,
    report_values,
    save_values,
    spec_of,
    split_key,
    validate_values,
)
from app.scoping import current_user, unit_in_scope
from app.specs.model import CellSpec, FormSpec, Problem
from app.text import nfc
from app.views.base import (
    ScopedInterface,
    ScopedModelView,
    check_csrf,
    readable_report_or_404,
)
from app.workflow import EDITABLE_STATES

STATE_LABELS = {
    "draft": _l("Đang nhập"),
    "submitted": _l("Chờ duyệt"),
    "approved": _l("Đã duyệt, chờ gửi"),
    "sent": _l("Đã gửi, chờ tiếp nhận"),
    "accepted": _l("Đã tiếp nhận"),
    "returned": _l("Bị trả lại"),
}
ATTACHMENT_KINDS = ("narrative", "linked")
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ATTACHMENT_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def state_label(state) -> str:
    return str(STATE_LABELS.get(state, state or ""))


# The buttons and the messages after each transition: the same words as app.workflow's
# TRANSITIONS (a test keeps them equal), written here as literals so they are translatable.
ACTION_LABELS = {
    "submit": _l("Trình lãnh đạo duyệt"),
    "approve": _l("Duyệt"),
    "reject": _l("Từ chối, trả về người nhập"),
    "send": _l("Ký số và gửi"),
    "accept": _l("Tiếp nhận"),
    "return": _l("Trả lại để sửa"),
    "reopen": _l("Mở lại để đính chính"),
    "request_correction": _l("Đề nghị đính chính"),
}
ACTION_DONE = {
    "submit": _l("Đã trình lãnh đạo duyệt."),
    "approve": _l("Đã duyệt báo cáo."),
    "reject": _l("Đã trả báo cáo về người nhập."),
    "send": _l("Đã gửi báo cáo."),
    "accept": _l("Đã tiếp nhận báo cáo."),
    "return": _l("Đã trả lại báo cáo cho đơn vị."),
    "reopen": _l("Đã mở lại báo cáo để đính chính."),
    "request_correction": _l("Đã gửi đề nghị đính chính tới cơ quan chủ trì."),
}
ACTION_STYLES = {
    "submit": "primary", "approve": "success", "send": "primary", "accept": "success",
    "reject": "warning", "return": "warning", "reopen": "warning",
    "request_correction": "default",
}
VERSION_OUTCOMES = {
    "sent": _l("chờ tiếp nhận"),
    "accepted": _l("đã tiếp nhận"),
    "returned": _l("bị trả lại"),
    "superseded": _l("đã thay thế"),
}
# Actions whose reason may come with comments on cells (the reviewing unit's).
CELL_COMMENT_ACTIONS = ("return", "reopen")


def action_label(action: str) -> str:
    found = ACTION_LABELS.get(action)
    if found is not None:
        return str(found)
    transition = workflow.TRANSITIONS.get(action)
    return transition.label if transition else action


# -- the list -----------------------------------------------------------------------------------


class ReportView(ScopedModelView):
    """The reports a person can reach, each with a link to its entry page."""

    datamodel = ScopedInterface(Report)
    route_base = "/reports"
    base_permissions = ["can_list", "can_show"]
    list_title = _l("Báo cáo")
    show_title = _l("Thông tin báo cáo")
    list_columns = ["form_code", "unit", "period", "state", "updated_at", "id"]
    show_columns = ["form_code", "regime", "unit", "period", "state", "revision", "updated_at", "id"]
    search_columns = ["form_code", "unit", "period", "state"]
    order_columns = ["form_code", "state", "updated_at"]
    base_order = ("updated_at", "desc")
    label_columns = {
        "form_code": _l("Mã biểu"),
        "regime": _l("Chế độ báo cáo"),
        "unit": _l("Đơn vị"),
        "period": _l("Kỳ báo cáo"),
        "state": _l("Trạng thái"),
        "revision": _l("Lần lưu"),
        "updated_at": _l("Cập nhật lúc"),
        "id": _l("Nhập liệu"),
    }

    def _init_properties(self):
        super()._init_properties()
        self.formatters_columns["state"] = state_label
        self.formatters_columns["id"] = lambda pk: Markup(
            '<a class="btn btn-xs btn-primary entry-link" href="{}">{}</a>'
        ).format(url_for("ReportEntryView.show", report_id=pk), _("Mở biểu"))


# -- laying out the form ------------------------------------------------------------------------

_ADDRESS = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


def parse_address(address: str) -> tuple[int, int]:
    """(row, column) of "C5"."""
    match = _ADDRESS.match(address.strip())
    if not match:
        raise ValueError(address)
    return int(match.group(2)), column_number(match.group(1))


def parse_range(text: str) -> tuple[int, int, int, int]:
    """(first row, first col, last row, last col) of "C5:D6" (or of a single address)."""
    first, _sep, last = text.partition(":")
    r1, c1 = parse_address(first)
    r2, c2 = parse_address(last or first)
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


@dataclass
class GridCell:
    text: str = ""
    kind: str = "static"  # static | entry | computed | fixed | stt | label | unit
    cell: CellSpec | None = None
    colspan: int = 1
    rowspan: int = 1
    value: str = ""  # the input's value for entry cells
    level: int = 0
    bold: bool = False
    readonly: bool = False
    options: list = field(default_factory=list)


@dataclass
class GridRow:
    number: int
    kind: str
    cells: list[GridCell]
    hidden: bool = False


@dataclass
class GridTable:
    index: int
    header_rows: list[list[GridCell]]
    number_row: list[str] | None
    rows: list[GridRow]
    widths: list[str]
    body: Markup | None = None  # filled from the form's cached skeleton
    entity: bool = False  # an entity list: the unit adds rows (schools, facilities…)
    added: Markup = Markup("")  # rows the unit added below the list
    row_template: Markup = Markup("")  # an empty added row, its number as __N__
    next_row: int = 0

    def body_html(self) -> Markup:
        if self.body is not None:
            return self.body
        from app.views.grid_html import table_body_html

        return table_body_html(self.rows)


@dataclass
class GridSheet:
    name: str
    slug: str
    title: list[str]
    tables: list[GridTable]
    narratives: list[dict]


DEFAULT_HEADERS = {"stt": "STT", "label": "Chỉ tiêu", "unit": "Đơn vị tính", "code": "Mã số",
                   "note": "Ghi chú"}


def display(cell: CellSpec, value) -> str:
    """A stored value as the input or the grey cell shows it: numbers in Vietnamese format."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        if cell.kind == "computed" and cell.decimals is not None:
            return format_number(value, cell.decimals)
        if cell.type == "percent":
            return format_number(value * 100) + "%"
        return format_number(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value)
    return str(value)


def _header_rows(table, positions: dict[int, int]) -> list[list[GridCell]]:
    first, last = table.header_first_row, table.header_last_row
    if table.headers:
        starts = {}
        covered = set()
        for header in table.headers:
            try:
                r1, c1, r2, c2 = parse_range(header.range)
            except ValueError:
                continue
            cols = [c for c in positions if c1 <= c <= c2]
            if not cols:
                continue
            r1, r2 = max(r1, first), min(r2, last)
            starts[(r1, min(cols))] = GridCell(
                text=header.text, rowspan=max(1, r2 - r1 + 1), colspan=len(cols)
            )
            for r in range(r1, r2 + 1):
                for c in cols:
                    if (r, c) != (r1, min(cols)):
                        covered.add((r, c))
        rows = []
        for r in range(first, last + 1):
            cells = []
            for c in sorted(positions):
                if (r, c) in covered:
                    continue
                cells.append(starts.get((r, c)) or GridCell())
            rows.append(cells)
        return [row for row in rows if row]
    # no header cells in the spec: one level per header_path entry
    depth = max([len(c.header_path) for c in table.columns] + [1])
    rows = [[] for _ in range(depth)]
    for column in sorted(table.columns, key=lambda c: c.col):
        path = list(column.header_path) or [DEFAULT_HEADERS.get(column.role, "")]
        for level in range(depth):
            if level < len(path) - 1 or (level == len(path) - 1 and level == depth - 1):
                rows[level].append(GridCell(text=path[level]))
            elif level == len(path) - 1:
                rows[level].append(GridCell(text=path[level], rowspan=depth - level))
    return rows


def _number_row(table) -> list[str] | None:
    columns = sorted(table.columns, key=lambda c: c.col)
    labels = [c.number_label for c in columns]
    if any(labels):
        return [label or "" for label in labels]
    if table.number_row is None:
        return None
    out, letters, numbers = [], iter("ABCDEFGH"), 0
    for column in columns:
        if column.role in ("stt", "label", "unit", "code"):
            out.append(next(letters, ""))
        else:
            numbers += 1
            out.append(str(numbers))
    return out


def build_grid(
    spec: FormSpec, values: dict, editable: bool, period=None, preview: bool = False,
    locked_keys: set[str] | None = None,
) -> list[GridSheet]:
    """The form as the paper shows it, filled with ``values``; with a ``period``, headers that
    name a period ("Thực hiện tháng 10/2026") read for that period when the form was published
    with period-aware headers. ``locked_keys``: entry cells shown read-only for this report
    (rows another unit answers for); such a page is drawn in full, not from the skeleton."""
    skeletons = None if locked_keys else _body_skeletons(spec, editable)
    sheets = _build_grid(spec, values, editable, with_rows=skeletons is None,
                         locked_keys=locked_keys)
    if skeletons is not None:
        cells = CellIndexByKey.of(spec)
        tables = [table for sheet in sheets for table in sheet.tables]
        for table, (statics, keys) in zip(tables, skeletons, strict=True):
            table.body = _fill(statics, keys, cells, values)
    if not preview:  # a template's preview shows the form, not a way to add rows
        _add_entity_rows(spec, sheets, values, editable)
    render_period_headers(spec, sheets, period)
    return sheets


def render_period_headers(spec: FormSpec, sheets: list[GridSheet], period) -> None:
    """Headers that name a period ("Thực hiện tháng 10/2026") read for ``period`` when the
    form was published with period-aware headers."""
    if period is None or not any(
        column.header_template for sheet in spec.sheets for table in sheet.tables
        for column in table.columns
    ):
        return
    from app.specs.mapping import header_template, render_header

    for sheet in sheets:
        for table in sheet.tables:
            for header_row in table.header_rows:
                for cell in header_row:
                    template = header_template(cell.text) if cell.text else None
                    if template:
                        cell.text = render_header(template, period)


# -- rows a unit adds to an entity list ----------------------------------------------------------
def entity_tables(spec: FormSpec, sheets: list[GridSheet], values: dict, editable: bool):
    """For each entity-list table of the grid: (grid table, table spec, the numbers of the rows
    the unit added, row_of(number) → GridRow). Shared by the page and the PDF."""
    from app.reports import added_row_cell

    added_numbers: dict[str, set[int]] = {}
    for key, value in values.items():
        if "!row:" not in key or value in (None, ""):
            continue
        row_key = split_key(key)[0]
        sheet_name, _, number = row_key.rpartition("!row:")
        if number.isdigit():
            added_numbers.setdefault(sheet_name, set()).add(int(number))
    by_name = {sheet.name: sheet for sheet in spec.sheets}
    for grid_sheet in sheets:
        sheet = by_name.get(grid_sheet.name)
        if sheet is None:
            continue
        ordered = sorted(sheet.tables, key=lambda t: t.header_first_row)
        for grid_table, table in zip(grid_sheet.tables, sheet.tables, strict=True):
            if table.shape != "entity":
                continue
            following = [t.header_first_row for t in ordered if t.header_first_row > table.last_row]
            limit = min(following) if following else None
            numbers = sorted(
                n for n in added_numbers.get(sheet.name, ())
                if n > table.last_row and (limit is None or n < limit)
            )

            def row_of(number, table=table, sheet=sheet):
                cells = []
                for column in sorted(table.columns, key=lambda c: c.col):
                    if column.role == "stt":
                        cells.append(GridCell(text="+", kind="stt"))
                        continue
                    key = f"{sheet.name}!row:{number}|{column.key}"
                    spec_cell = added_row_cell(spec, key)
                    if spec_cell is None:
                        cells.append(GridCell())
                        continue
                    cells.append(GridCell(kind="entry", cell=spec_cell, readonly=not editable,
                                          value=display(spec_cell, values.get(key))))
                return GridRow(number=number, kind="added", cells=cells)

            yield grid_table, table, numbers, row_of


def _add_entity_rows(spec: FormSpec, sheets: list[GridSheet], values: dict, editable: bool) -> None:
    from app.views.grid_html import table_body_html

    for grid_table, table, numbers, row_of in entity_tables(spec, sheets, values, editable):
        grid_table.entity = True
        grid_table.next_row = max(numbers + [table.last_row]) + 1
        grid_table.added = table_body_html([row_of(n) for n in numbers])
        if editable:
            template = str(table_body_html([row_of(999999999)]))
            grid_table.row_template = Markup(template.replace("999999999", "__N__"))


# -- the body of the grid: one skeleton per form version, values filled per request ----------
_SLOT = re.compile("\ue000(.*?)\ue001", re.S)
_SKELETONS: dict[tuple[int, bool], tuple[FormSpec, list]] = {}


class CellIndexByKey(dict):
    _cache: dict[int, tuple[FormSpec, CellIndexByKey]] = {}

    @classmethod
    def of(cls, spec: FormSpec) -> CellIndexByKey:
        found = cls._cache.get(id(spec))
        if found is None or found[0] is not spec:
            found = (spec, cls({c.key: c for c in spec.cells}))
            if len(cls._cache) > 64:
                cls._cache.clear()
            cls._cache[id(spec)] = found
        return found[1]


def _body_skeletons(spec: FormSpec, editable: bool) -> list | None:
    """Per table, the body HTML split into static chunks and the value keys between them.

    Built once per form version (the parsed spec is cached per version) with a marker in
    every value, so a page view only escapes and joins the values. Forms with drop-down
    cells are drawn in full, since their markup depends on the chosen value."""
    cached = _SKELETONS.get((id(spec), editable))
    if cached is not None and cached[0] is spec:
        return cached[1]
    if any(c.type == "choice" for c in spec.entry_cells):
        _SKELETONS[(id(spec), editable)] = (spec, None)
        return None
    from app.views.grid_html import table_body_html

    markers = {c.key: f"\ue000{c.key}\ue001" for c in spec.cells}
    skeletons = []
    for sheet in _build_grid(spec, markers, editable):
        for table in sheet.tables:
            parts = _SLOT.split(str(table_body_html(table.rows)))
            skeletons.append((parts[0::2], parts[1::2]))
    if len(_SKELETONS) > 64:
        _SKELETONS.clear()
    _SKELETONS[(id(spec), editable)] = (spec, skeletons)
    return skeletons


def _fill(statics: list[str], keys: list[str], cells: dict, values: dict) -> Markup:
    out = [statics[0]]
    for key, static in zip(keys, statics[1:], strict=True):
        value = values.get(key)
        if value is not None:
            out.append(escape(display(cells[key], value)))
        out.append(static)
    return Markup("".join(out))


def _build_grid(spec: FormSpec, values: dict, editable: bool, with_rows: bool = True,
                locked_keys: set[str] | None = None) -> list[GridSheet]:
    cells_at = (
        {(c.sheet, c.cell.replace("$", "").upper()): c for c in spec.cells} if with_rows else {}
    )
    locked = (read_only_keys(spec) | (locked_keys or set())) if with_rows else set()
    sheets = []
    for position, sheet in enumerate(spec.sheets):
        hidden_rows = set(sheet.hidden_rows or [])
        tables = []
        for table in sheet.tables:
            columns = sorted(table.columns, key=lambda c: c.col)
            positions = {c.col: i for i, c in enumerate(columns)}
            rows = sorted(
                (r for r in spec.rows if r.sheet == sheet.name and r.table == table.index),
                key=lambda r: r.row,
            )
            covered: set[tuple[int, int]] = set()
            grid_rows = []
            for row in rows if with_rows else ():
                cells = []
                for column in columns:
                    if (row.row, column.col) in covered:
                        continue
                    address = f"{column.letter}{row.row}"
                    spec_cell = cells_at.get((sheet.name, address))
                    grid = GridCell()
                    if spec_cell is not None:
                        grid = _value_cell(spec, spec_cell, values, editable, locked)
                        if spec_cell.merged_range:
                            try:
                                r1, c1, r2, c2 = parse_range(spec_cell.merged_range)
                            except ValueError:
                                r1 = r2 = row.row
                                c1 = c2 = column.col
                            span_cols = [c for c in positions if c1 <= c <= c2]
                            grid.colspan = max(1, len(span_cols))
                            grid.rowspan = max(1, r2 - r1 + 1)
                            for r in range(r1, r2 + 1):
                                for c in span_cols:
                                    if (r, c) != (row.row, column.col):
                                        covered.add((r, c))
                    elif column.role == "stt":
                        grid = GridCell(text=row.number or "", kind="stt")
                    elif column.role == "label":
                        grid = GridCell(text=row.label, kind="label", level=row.level,
                                        bold=row.bold or row.kind == "heading")
                    elif column.role == "unit":
                        grid = GridCell(text=row.unit or "", kind="unit")
                    elif column.role == "code":
                        grid = GridCell(text=row.code or "", kind="unit")
                    cells.append(grid)
                grid_rows.append(GridRow(number=row.row, kind=row.kind, cells=cells,
                                         hidden=row.hidden or row.row in hidden_rows))
            widths = []
            for column in columns:
                width = (sheet.column_widths or {}).get(column.letter)
                widths.append(f"{min(max(float(width) * 7.5, 40), 520):.0f}px" if width else "")
            tables.append(GridTable(
                index=table.index,
                header_rows=_header_rows(table, {c.col: i for i, c in enumerate(columns)}),
                number_row=_number_row(table),
                rows=grid_rows,
                widths=widths,
            ))
        narratives = [
            {"key": block.key, "label": block.label, "required": block.required,
             "value": "" if values.get(block.key) is None else str(values.get(block.key))}
            for block in spec.narrative_blocks if block.sheet == sheet.name
        ]
        sheets.append(GridSheet(name=sheet.name, slug=f"sheet-{position}", title=sheet.title,
                                tables=tables, narratives=narratives))
    known = {s.name for s in spec.sheets}
    orphans = [b for b in spec.narrative_blocks if b.sheet not in known]
    if orphans and sheets:
        sheets[-1].narratives += [
            {"key": b.key, "label": b.label, "required": b.required,
             "value": "" if values.get(b.key) is None else str(values.get(b.key))}
            for b in orphans
        ]
    return sheets


def _value_cell(spec, cell: CellSpec, values, editable, locked) -> GridCell:
    if cell.kind == "entry":
        options = []
        if cell.type == "choice" and cell.choices:
            options = [(o.value, o.label) for o in spec.choices.get(cell.choices, [])]
        return GridCell(kind="entry", cell=cell, value=display(cell, values.get(cell.key)),
                        readonly=not editable or cell.key in locked, options=options)
    if cell.kind == "computed":
        return GridCell(kind="computed", cell=cell, text=display(cell, values.get(cell.key)))
    value = values.get(cell.key, cell.value)
    return GridCell(kind="fixed", cell=cell, text=display(cell, value))


_CLIENT_CELLS: dict[int, tuple[FormSpec, list[dict]]] = {}


def client_cells(spec: FormSpec) -> list[dict]:
    """client_cells_uncached, kept per parsed spec (one per form version)."""
    found = _CLIENT_CELLS.get(id(spec))
    if found is None or found[0] is not spec:
        if len(_CLIENT_CELLS) > 64:
            _CLIENT_CELLS.clear()
        found = (spec, client_cells_uncached(spec))
        _CLIENT_CELLS[id(spec)] = found
    return found[1]


def client_cells_uncached(spec: FormSpec) -> list[dict]:
    """What the browser needs to recompute: the computed cells and the fixed values they may
    read. Entry cells carry their own data attributes on their inputs, so they are not repeated
    here (a 1,000-row form would otherwise send every cell twice)."""
    cells = []
    for c in spec.cells:
        if c.kind == "computed":
            item = {"key": c.key, "sheet": c.sheet, "cell": c.cell.replace("$", "").upper(),
                    "kind": "computed", "formula": c.formula}
            if c.decimals is not None:
                item["decimals"] = c.decimals
        elif c.kind == "fixed" and c.value is not None:
            item = {"sheet": c.sheet, "cell": c.cell.replace("$", "").upper(), "kind": "fixed",
                    "value": c.value}
        else:
            continue
        cells.append(item)
    return cells


# -- attachments --------------------------------------------------------------------------------


def check_attachment(filename: str, data: bytes) -> str | None:
    """Why an uploaded file is refused (Vietnamese), or None when it is a PDF, DOCX or XLSX."""
    extension = os.path.splitext(filename.lower())[1]
    if extension not in ATTACHMENT_TYPES:
        return _("Chỉ nhận tệp PDF, DOCX hoặc XLSX.")
    if not data:
        return _("Tệp rỗng.")
    if len(data) > MAX_ATTACHMENT_BYTES:
        return _("Tệp lớn hơn %(size)s MB.", size=MAX_ATTACHMENT_BYTES // (1024 * 1024))
    if extension == ".pdf":
        if not data.startswith(b"%PDF-"):
            return _("Nội dung tệp không phải PDF dù tên tệp có đuôi .pdf.")
        return None
    if not data.startswith(b"PK\x03\x04"):
        return _("Nội dung tệp không phải %(kind)s dù tên tệp có đuôi %(ext)s.",
                 kind=extension[1:].upper(), ext=extension)
    marker = "word/" if extension == ".docx" else "xl/"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        return _("Tệp hỏng, không mở được.")
    if "[Content_Types].xml" not in names or not any(n.startswith(marker) for n in names):
        return _("Nội dung tệp không phải %(kind)s dù tên tệp có đuôi %(ext)s.",
                 kind=extension[1:].upper(), ext=extension)
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        return _("Tệp có macro, không nhận.")
    return None


def _safe_filename(name: str) -> str:
    name = nfc(os.path.basename((name or "").replace("\\", "/"))).strip()
    name = re.sub(r"[\x00-\x1f\"<>|*?:/]", "_", name)
    return name[:200] or "tep"


# -- the reporting cycle on the page -------------------------------------------------------------


def cell_place(spec: FormSpec, key: str) -> tuple[str, str] | None:
    """(sheet, address) of a value key: a cell of the form, a cell of a row the unit added, or
    a narrative block (its range); None for a key the form does not have."""
    from app.reports import added_row_cell

    cell = CellIndexByKey.of(spec).get(key) or added_row_cell(spec, key)
    if cell is not None:
        return cell.sheet, cell.cell.replace("$", "").upper()
    for block in spec.narrative_blocks:
        if block.key == key:
            return block.sheet, block.label or block.range
    return None


def place_text(place: tuple[str, str] | None, key: str) -> str:
    if place is None:
        return _("ô %(key)s", key=key)
    return _("sheet «%(sheet)s», ô %(cell)s", sheet=place[0], cell=place[1])


def version_display_values(spec: FormSpec, values: dict[str, str]) -> dict[str, object]:
    """A sent version's canonical strings typed again for the grid: numbers of number-typed and
    computed cells as Decimal (so they read 1.234,5), everything else as sent."""
    from app.reports import added_row_cell

    by_key = CellIndexByKey.of(spec)
    typed: dict[str, object] = {}
    for key, text in values.items():
        cell = by_key.get(key) or added_row_cell(spec, key)
        value: object = text
        if cell is not None and (cell.kind == "computed" or cell.type in NUMERIC_TYPES):
            try:
                number = Decimal(text)
            except (ArithmeticError, ValueError, TypeError):
                number = None
            if number is not None and number.is_finite():
                value = number
        typed[key] = value
    return typed


NUMERIC_TYPES = {"number", "integer", "decimal", "percent"}


def current_cell_comments(session, report: Report, spec: FormSpec, events=None) -> list[dict]:
    """The comments on cells that came with the latest return or reopening, while the report
    has not been sent again since (after a new sending they belong to the history only)."""
    events = events if events is not None else _events(session, report)
    latest = next((e for e in reversed(events) if e.action in ("send", *CELL_COMMENT_ACTIONS)),
                  None)
    if latest is None or latest.action not in CELL_COMMENT_ACTIONS:
        return []
    from app.models import ReportComment

    comments = session.scalars(
        select(ReportComment)
        .where(ReportComment.event_id == latest.id, ReportComment.cell_key.is_not(None))
        .order_by(ReportComment.id)
    ).all()
    out = []
    for comment in comments:
        place = cell_place(spec, comment.cell_key)
        out.append({
            "key": comment.cell_key,
            "sheet": place[0] if place else "",
            "cell": place[1] if place else "",
            "place": place_text(place, comment.cell_key),
            "text": comment.body,
            "author": comment.author.full_name if comment.author else "",
            "at": format_datetime(comment.at),
        })
    return out


def _events(session, report: Report) -> list[ReportEvent]:
    return session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id)
    ).all()


def cycle_context(session, report: Report, user, spec: FormSpec,
                  now: dt.datetime | None = None) -> dict:
    """Everything the report page shows about the reporting cycle, for ``user`` at ``now``:
    the transitions they may do, the deadline and the reception window, the thread, the sent
    versions and the cell comments of the latest return."""
    actions = [
        {"action": t.action, "label": action_label(t.action), "needs_reason": t.needs_reason,
         "style": ACTION_STYLES.get(t.action, "default"),
         "cell_comments": t.action in CELL_COMMENT_ACTIONS}
        for t in workflow.available_actions(session, user, report, now)
    ]
    window = workflow.reception(session, report, now)
    due = workflow.due_date(report)
    extended = window.deadline_at > workflow.day_end_utc(due)
    reception_info = {
        "deadline": due.strftime("%d/%m/%Y"),
        "extended_to": format_datetime(window.deadline_at) if extended else "",
        "open": window.open,
        "late": window.late,
        "message": window.message,
        "sent_at": format_datetime(report.sent_at) if report.sent_at else "",
        "sent_late": bool(report.sent_late),
        "before_sending": report.state in (workflow.DRAFT, workflow.SUBMITTED,
                                           workflow.APPROVED, workflow.RETURNED),
    }
    events = _events(session, report)
    by_id = {event.id: event for event in events}
    entries = []
    for comment in workflow.thread(session, report):
        event = by_id.get(comment.event_id) if comment.event_id else None
        place = cell_place(spec, comment.cell_key) if comment.cell_key else None
        entries.append({
            "author": comment.author.full_name if comment.author else _("(không rõ)"),
            "at": format_datetime(comment.at),
            "action": action_label(event.action) if event else _("Ý kiến"),
            "body": comment.body,
            "cell": place_text(place, comment.cell_key) if comment.cell_key else "",
            "cell_key": comment.cell_key or "",
        })
    from app.backfill import backfilled_version_ids
    from app.models import Outage

    backfilled = backfilled_version_ids(session, report.id)
    versions = [
        {"number": v.number, "sent_at": format_datetime(v.sent_at),
         "by": v.sent_by.full_name if v.sent_by else "", "late": v.late,
         "outcome": str(VERSION_OUTCOMES.get(v.outcome, v.outcome)), "state": v.outcome,
         "backfill": backfilled.get(v.id)}
        for v in session.scalars(
            select(ReportVersion).where(ReportVersion.report_id == report.id)
            .order_by(ReportVersion.number)
        )
    ]
    return {
        "actions": actions,
        "reception": reception_info,
        "thread": entries,
        "versions": versions,
        "may_backfill": report.state == workflow.APPROVED
        and session.scalar(select(Outage.id).limit(1)) is not None,
        "cell_comments": current_cell_comments(session, report, spec, events),
    }


def transition_input(data, spec: FormSpec) -> tuple[str, str | None, int | None, dict[str, str]]:
    """(action, reason, revision, cell comments) from a posted form or JSON body; bad input
    raises DomainError with what is wrong."""
    action = str(data.get("action") or "").strip()
    reason = data.get("reason")
    reason = nfc(str(reason)) if reason is not None else None
    raw_revision = data.get("revision")
    revision = None
    if raw_revision not in (None, ""):
        try:
            revision = int(raw_revision)
        except (TypeError, ValueError):
            raise DomainError(_("Lần lưu «%(value)s» không hợp lệ.", value=raw_revision),
                              field="revision") from None
    comments = raw_cell_comments(data)
    for key in comments:
        if cell_place(spec, key) is None:
            raise DomainError(_("Ô «%(key)s» không có trong biểu này.", key=key),
                              field="cell_comments")
    return action, reason, revision, comments


def raw_cell_comments(data) -> dict[str, str]:
    """Cell key → comment as posted (blank comments left out), not yet checked against the
    form: a form posts parallel lists cell_key / cell_text, JSON a "cell_comments" object."""
    if hasattr(data, "getlist"):
        pairs = zip(data.getlist("cell_key"), data.getlist("cell_text"), strict=False)
    else:
        given = data.get("cell_comments") or {}
        if not isinstance(given, dict):
            raise DomainError(_("Ý kiến theo ô phải là một bảng «ô: nội dung»."),
                              field="cell_comments")
        pairs = given.items()
    comments: dict[str, str] = {}
    for key, text in pairs:
        text = nfc(str(text or "")).strip()
        if text:
            comments[nfc(str(key))] = text
    return comments


# -- the entry page -----------------------------------------------------------------------------


def problem_payload(problem: Problem, keys_at: dict) -> dict:
    address = f"{problem.column or ''}{problem.row or ''}"
    return {
        "key": keys_at.get((problem.sheet, address)),
        "sheet": problem.sheet,
        "cell": address,
        "where": problem.where(),
        "message": problem.message,
        "severity": problem.severity,
    }


class ReportEntryView(BaseView):
    """The entry page of one report, its save and validate calls and its attachments."""

    route_base = "/entry"
    default_view = "show"

    # -- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _report(report_id: int) -> Report:
        return readable_report_or_404(report_id)

    def _may_enter(self, report: Report) -> bool:
        user = current_user()
        if user is None or report.state not in EDITABLE_STATES:
            return False
        if not self.appbuilder.sm.has_access("can_save", self.class_permission_name):
            return False
        return unit_in_scope(report.unit, user)

    @staticmethod
    def _rows_of_others(report: Report, spec: FormSpec) -> set[str]:
        """Entry cells of rows another unit answers for (IndicatorResponsibility): shown
        read-only, since a save ignores them."""
        from app.consolidation import editable_row_keys

        rows = editable_row_keys(db.session, report)
        if rows is None:
            return set()
        return {c.key for c in spec.entry_cells if c.row_key not in rows}

    @staticmethod
    def _check_csrf() -> None:
        check_csrf()

    @staticmethod
    def _attachments(report: Report) -> list[ReportAttachment]:
        return db.session.scalars(
            select(ReportAttachment)
            .where(ReportAttachment.report_id == report.id)
            .order_by(ReportAttachment.uploaded_at)
        ).all()

    # -- the page -------------------------------------------------------------------------------
    @expose("/<int:report_id>")
    @has_access
    def show(self, report_id: int):
        return self._page(self._report(report_id))

    def _page(self, report: Report, pending: dict | None = None, status: int = 200):
        """The report page; ``pending`` is a transition refused just now, whose reason and
        cell comments are put back in its form so nothing typed is lost."""
        from flask_wtf.csrf import generate_csrf

        spec = spec_of(report.form_version)
        values = report_values(db.session, report)
        editable = self._may_enter(report)
        sheets = build_grid(spec, values, editable, period=report.period,
                            locked_keys=self._rows_of_others(report, spec) if editable else None)
        kind = getattr(report.regime, "report_kind", None)
        config = {
            "saveUrl": url_for("ReportEntryView.save", report_id=report.id),
            "validateUrl": url_for("ReportEntryView.check", report_id=report.id),
            "editable": editable,
            "revision": report.revision,
            "cells": client_cells(spec),
            "sheets": [s.name for s in spec.sheets],
            "messages": {
                "saved": _("Đã lưu %(count)s ô."),
                "nothing": _("Không có thay đổi nào cần lưu."),
                "conflict": _("Ô này đã được người khác sửa trong lúc bạn nhập. Tải lại trang để xem số mới."),
                "valid": _("Không phát hiện lỗi nào."),
                "problems": _("Có %(count)s lỗi cần sửa:"),
                "failed": _("Không lưu được: %(reason)s"),
                "network": _("Không kết nối được máy chủ; số liệu vẫn còn trên trang, hãy thử lại."),
                "leave": _("Còn số liệu chưa lưu. Rời trang sẽ mất các thay đổi này."),
                "notNumber": _("«%(value)s» không phải là số"),
                "unsaved": _("Chưa lưu"),
                "formula": _("Lỗi công thức: %(reason)s"),
                "unsavedBlock": _("Còn số liệu chưa lưu: %(reason)s"),
                "commentFor": _("Ý kiến cho %(place)s"),
                "commentSave": _("Ghi ý kiến"),
                "commentCancel": _("Bỏ"),
                "commentRemove": _("Xóa"),
                "commentLabel": _("Ý kiến"),
                "commentPlace": _("sheet «%(sheet)s», ô %(cell)s"),
            },
        }
        cycle = cycle_context(db.session, report, current_user(), spec)
        quality = []
        if any(a["action"] == "accept" for a in cycle["actions"]) or report.kind == "consolidated":
            from app.quality import flags

            quality = [{"key": f.key, "kind": f.kind, "message": f.message,
                        "place": place_text(cell_place(spec, f.key), f.key)}
                       for f in flags(db.session, report)]
        config["cellComments"] = cycle["cell_comments"]
        config["commenting"] = any(a["cell_comments"] for a in cycle["actions"])
        return self.render_template(
            "entry/form.html",
            cycle=cycle,
            quality=quality,
            may_choose_people=self.appbuilder.sm.has_access("can_people", "AssignmentView"),
            pending=pending or {},
            report=report,
            spec=spec,
            sheets=sheets,
            editable=editable,
            state=state_label(report.state),
            updated=format_datetime(report.updated_at) if report.updated_at else "",
            config=config,
            csrf=generate_csrf(),
            attachments_enabled=kind in ATTACHMENT_KINDS,
            attachments=self._attachments(report),
            max_mb=MAX_ATTACHMENT_BYTES // (1024 * 1024),
            attachment_size=attachment_size,
            has_workbook=db.session.scalar(
                select(FormVersion.id).where(
                    FormVersion.id == report.form_version_id,
                    FormVersion.source_workbook.is_not(None),
                )
            ) is not None,
        ), status

    # -- the reporting cycle --------------------------------------------------------------------
    @expose("/<int:report_id>/transition", methods=["POST"])
    @has_access
    def transition(self, report_id: int):
        """One step of the cycle (submit, approve, reject, send, accept, return, reopen,
        request_correction) for the revision the page showed. A form post is answered with a
        flash and the page; a JSON post with JSON."""
        self._check_csrf()
        report = self._report(report_id)
        as_json = request.is_json
        data = (request.get_json(silent=True) or {}) if as_json else request.form
        spec = spec_of(report.form_version)
        # what the person typed, put back in the form when the transition is refused
        pending = {"action": str(data.get("action") or ""),
                   "reason": nfc(str(data.get("reason") or "")), "cell_comments": []}
        try:
            pending["cell_comments"] = [
                {"key": k, "text": t, "place": place_text(cell_place(spec, k), k)}
                for k, t in raw_cell_comments(data).items()
            ]
            action, reason, revision, cell_comments = transition_input(data, spec)
            if action not in CELL_COMMENT_ACTIONS:
                cell_comments = {}
            workflow.transition(db.session, report, action, current_user(), reason=reason,
                                cell_comments=cell_comments, expected_revision=revision)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            status = 409 if isinstance(error, workflow.TransitionConflict) else 422
            if as_json:
                return jsonify(message=error.message, field=error.field), status
            flash(error.message, "danger")
            db.session.refresh(report)
            return self._page(report, pending=pending, status=status)
        done = str(ACTION_DONE.get(action) or workflow.TRANSITIONS[action].done)
        if as_json:
            return jsonify(message=done, state=report.state, revision=report.revision)
        flash(done, "success")
        return redirect(url_for("ReportEntryView.show", report_id=report.id))

    # -- consolidation ----------------------------------------------------------------------
    @expose("/<int:report_id>/consolidate", methods=["POST"])
    @has_access
    def consolidate(self, report_id: int):
        """Fill a consolidated report from the reports below it, or a composed report from the
        responsible units' reports (official figures, or provisional ones on request)."""
        from app import consolidation

        self._check_csrf()
        report = self._report(report_id)
        back = redirect(url_for("ReportEntryView.show", report_id=report.id))
        if not self._may_enter(report):
            flash(_("Bạn không được sửa số liệu của báo cáo này."), "danger")
            return back
        provisional = request.form.get("mode") == "provisional"
        try:
            summaries = []
            if report.kind == "composed":
                summaries.append(consolidation.compose(
                    db.session, report, provisional=provisional, user=current_user()))
            summaries.append(consolidation.consolidate(
                db.session, report, provisional=provisional, user=current_user()))
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return back
        for summary in summaries:
            flash(summary.message, "success" if summary.counted else "warning")
        return back

    @expose("/<int:report_id>/drill")
    @has_access
    def drill(self, report_id: int):
        """The units' values behind one cell of a consolidated or composed report."""
        from app.consolidation import drill_down

        report = self._report(report_id)
        spec = spec_of(report.form_version)
        address = (request.args.get("cell") or "").replace("$", "").strip().upper()
        sheet = request.args.get("sheet") or (spec.sheets[0].name if spec.sheets else "")
        key = CellIndex.of(spec).key_at.get((sheet, address))
        rows, problem = [], None
        if key is None:
            problem = _("Ô «%(cell)s» của sheet «%(sheet)s» không có trong biểu này.",
                        cell=address or "?", sheet=sheet)
        else:
            rows = drill_down(db.session, report, key,
                              provisional=request.args.get("mode") == "provisional")
        return self.render_template(
            "entry/drill.html", report=report, spec=spec, sheet=sheet, address=address,
            rows=rows, problem=problem, state_label=state_label,
            shown=lambda value: display(CellIndex.of(spec).by_key[key], value) if key else value,
        )

    @expose("/<int:report_id>/comment", methods=["POST"])
    @has_access
    def comment(self, report_id: int):
        """A comment in the report's thread, by anyone who can read the report."""
        self._check_csrf()
        report = self._report(report_id)
        back = redirect(url_for("ReportEntryView.show", report_id=report.id) + "#thread")
        body = nfc(request.form.get("body") or "")
        cell_key = (request.form.get("cell_key") or "").strip() or None
        if cell_key and cell_place(spec_of(report.form_version), cell_key) is None:
            flash(_("Ô «%(key)s» không có trong biểu này.", key=cell_key), "danger")
            return back
        try:
            workflow.add_comment(db.session, report, current_user(), body, cell_key=cell_key)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return back
        flash(_("Đã ghi ý kiến."), "success")
        return back

    @expose("/<int:report_id>/version/<int:number>")
    @has_access
    def version(self, report_id: int, number: int):
        """A sent version, read-only, with the values as they were sent."""
        report = self._report(report_id)
        version = db.session.scalars(
            select(ReportVersion).where(ReportVersion.report_id == report.id,
                                        ReportVersion.number == number)
        ).first()
        if version is None:
            abort(404)
        spec = spec_of(db.session.get(FormVersion, version.form_version_id))
        values = version_display_values(spec, workflow.version_values(version))
        return self.render_template(
            "entry/version.html",
            report=report,
            spec=spec,
            version=version,
            sheets=build_grid(spec, values, False, period=report.period),
            sent_at=format_datetime(version.sent_at),
            sent_by=version.sent_by.full_name if version.sent_by else "",
            outcome=str(VERSION_OUTCOMES.get(version.outcome, version.outcome)),
            decided_at=format_datetime(version.decided_at) if version.decided_at else "",
            state=state_label(report.state),
        )

    # -- saving ---------------------------------------------------------------------------------
    @expose("/<int:report_id>/save", methods=["POST"])
    @has_access
    def save(self, report_id: int):
        self._check_csrf()
        report = self._report(report_id)
        if not self._may_enter(report):
            return jsonify(message=_("Bạn không được sửa số liệu của báo cáo này.")), 403
        payload = request.get_json(silent=True) or {}
        changes = payload.get("changes") or {}
        base = payload.get("base")
        if not isinstance(changes, dict) or (base is not None and not isinstance(base, dict)):
            return jsonify(message=_("Dữ liệu gửi lên không hợp lệ.")), 400
        spec = spec_of(report.form_version)
        narrative_keys = {b.key for b in spec.narrative_blocks}
        cell_changes = {k: v for k, v in changes.items() if k not in narrative_keys}
        narrative_changes = {k: v for k, v in changes.items() if k in narrative_keys}
        user = current_user()
        try:
            result = save_values(db.session, report, cell_changes, user=user, base_values=base)
            saved_narratives = _save_narratives(report, narrative_changes, base, user)
            if saved_narratives and not result.saved:
                report.revision = Report.revision + 1
                report.updated_at = utcnow()
                report.updated_by_id = getattr(user, "id", None)
            db.session.flush()
            revision = report.revision
            db.session.commit()
        except ReportConflict as conflict:
            db.session.rollback()
            return jsonify(message=_("%(count)s ô đã được người khác sửa trong lúc bạn nhập; "
                                     "hãy tải lại để xem số mới trước khi lưu đè.",
                                     count=len(conflict.keys)),
                           keys=conflict.keys), 409
        except DomainError as error:
            db.session.rollback()
            return jsonify(message=str(error.message if hasattr(error, "message") else error)), 422
        # Only the totals the saved cells feed: the page already shows the others.
        computed = result.computed if cell_changes else {}
        if computed is None:
            db.session.refresh(report)
            values = report_values(db.session, report)
            computed = {key: values.get(key)
                        for key in computed_keys_reading(spec, list(cell_changes))}
        by_key = CellIndexByKey.of(spec)
        computed = {key: display(by_key[key], value) for key, value in computed.items()}
        keys_at = CellIndex.of(spec).key_at
        return jsonify(
            saved=result.saved + saved_narratives,
            revision=revision,
            ignored=result.ignored,
            warnings=[problem_payload(p, keys_at) for p in result.problems],
            values=computed,
        )

    @expose("/<int:report_id>/validate", methods=["POST"])
    @has_access
    def check(self, report_id: int):
        self._check_csrf()
        report = self._report(report_id)
        spec = spec_of(report.form_version)
        values = load_values(db.session, report)
        payload = request.get_json(silent=True) or {}
        typed = payload.get("values")
        if isinstance(typed, dict):
            entry_keys = {c.key for c in spec.entry_cells} | {b.key for b in spec.narrative_blocks}
            values.update({k: v for k, v in typed.items() if k in entry_keys})
        keys_at = CellIndex.of(spec).key_at
        problems = [problem_payload(p, keys_at) for p in validate_values(spec, values)]
        for block in spec.narrative_blocks:
            text = values.get(block.key)
            if block.required and (text is None or not str(text).strip()):
                problems.append({"key": block.key, "sheet": block.sheet, "cell": block.range,
                                 "where": block.label or block.key,
                                 "message": _("chưa nhập (bắt buộc)"), "severity": "error"})
        return jsonify(ok=not problems, problems=problems)

    # -- offline round trip -----------------------------------------------------------------------
    @expose("/<int:report_id>/workbook")
    @has_access
    def workbook(self, report_id: int):
        """The original workbook pre-filled with the report's values, to fill in Excel."""
        from urllib.parse import quote

        from app.specs.workbook_io import fill_workbook

        report = self._report(report_id)
        version = report.form_version
        if not version.source_workbook:
            flash(_("Biểu mẫu này không có tệp Excel gốc để tải về."), "warning")
            return redirect(url_for("ReportEntryView.show", report_id=report.id))
        spec = spec_of(version)
        data = fill_workbook(version.source_workbook, spec, load_values(db.session, report))
        if report.kind == "consolidated":
            data = _with_breakdown(report, spec, data)
        name = f"{report.form_code}_{report.unit.short_name or report.unit.name}_{report.period.label}"
        filename = re.sub(r"[\\/:*?\"<>|]+", "-", name) + ".xlsx"
        response = Response(
            data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        return response

    @expose("/<int:report_id>/pdf")
    @has_access
    def pdf(self, report_id: int):
        """The report as a PDF laid out like the paper form (app.render_pdf), e.g. a
        consolidated report to print or file; signed PDFs are on the signing page."""
        from urllib.parse import quote

        from app.render_pdf import render_report_pdf

        report = self._report(report_id)
        rendered = render_report_pdf(db.session, report)
        name = f"{report.form_code}_{report.unit.short_name or report.unit.name}_{report.period.label}"
        filename = re.sub(r"[\\/:*?\"<>|]+", "-", name) + ".pdf"
        response = Response(rendered.pdf, mimetype="application/pdf")
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        return response

    @expose("/<int:report_id>/docx")
    @has_access
    def docx(self, report_id: int):
        """A narrative report as a .docx in the administrative-document layout."""
        from urllib.parse import quote

        from app.report_docx import report_docx

        report = self._report(report_id)
        name = f"{report.form_code}_{report.unit.short_name or report.unit.name}_{report.period.label}"
        filename = re.sub(r"[\\/:*?\"<>|]+", "-", name) + ".docx"
        response = Response(report_docx(db.session, report), mimetype=(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        return response

    @expose("/<int:report_id>/workbook", methods=["POST"])
    @has_access
    def upload_workbook(self, report_id: int):
        """A workbook filled offline: all its values are stored, or none when any cell is wrong."""
        from app.specs.workbook_io import read_filled_workbook

        self._check_csrf()
        report = self._report(report_id)
        back = redirect(url_for("ReportEntryView.show", report_id=report.id))
        if not self._may_enter(report):
            flash(_("Bạn không được sửa số liệu của báo cáo này."), "danger")
            return back
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(_("Chọn tệp Excel đã điền số liệu."), "danger")
            return back
        spec = spec_of(report.form_version)
        try:
            values, problems = read_filled_workbook(upload.stream.read(), spec, upload.filename)
        except DomainError as error:
            flash(error.message, "danger")
            return back
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            shown = "; ".join(str(p) for p in errors[:20])
            more = len(errors) - 20
            flash(_("Tệp chưa hợp lệ, chưa lưu số liệu nào. %(problems)s", problems=shown)
                  + (_(" … và %(count)s lỗi khác.", count=more) if more > 0 else ""), "danger")
            return back
        from app.reports import added_row_cell

        cell_keys = {c.key for c in spec.entry_cells}
        changes = {k: v for k, v in values.items()
                   if k in cell_keys or ("!row:" in k and added_row_cell(spec, k) is not None)}
        narratives = {k: v for k, v in values.items() if k in {b.key for b in spec.narrative_blocks}}
        try:
            result = save_values(db.session, report, changes, user=current_user())
            saved = result.saved + _save_narratives(report, narratives, None, current_user())
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return back
        flash(_("Đã nạp tệp Excel: lưu %(count)s ô thay đổi.", count=saved), "success")
        return back

    # -- attachments ----------------------------------------------------------------------------
    @expose("/<int:report_id>/attachments", methods=["POST"])
    @has_access
    def upload(self, report_id: int):
        self._check_csrf()
        report = self._report(report_id)
        back = redirect(url_for("ReportEntryView.show", report_id=report.id) + "#attachments")
        if getattr(report.regime, "report_kind", None) not in ATTACHMENT_KINDS:
            flash(_("Báo cáo này không nhận tệp đính kèm."), "danger")
            return back
        if not self._may_enter(report):
            flash(_("Bạn không được đính kèm tệp vào báo cáo này."), "danger")
            return back
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(_("Chọn tệp cần đính kèm."), "danger")
            return back
        data = upload.stream.read(MAX_ATTACHMENT_BYTES + 1)
        filename = _safe_filename(upload.filename)
        problem = check_attachment(filename, data)
        if problem:
            flash(_("Không nhận tệp «%(name)s»: %(reason)s", name=filename, reason=problem), "danger")
            return back
        extension = os.path.splitext(filename.lower())[1]
        db.session.add(ReportAttachment(
            report_id=report.id, filename=filename, content_type=ATTACHMENT_TYPES[extension],
            size=len(data), sha256=hashlib.sha256(data).hexdigest(), content=data,
            uploaded_by_id=getattr(current_user(), "id", None),
        ))
        db.session.commit()
        flash(_("Đã đính kèm tệp «%(name)s».", name=filename), "success")
        return back

    @expose("/<int:report_id>/attachments/<int:attachment_id>")
    @has_access
    def download(self, report_id: int, attachment_id: int):
        report = self._report(report_id)
        attachment = db.session.scalars(
            select(ReportAttachment).where(
                ReportAttachment.id == attachment_id, ReportAttachment.report_id == report.id
            )
        ).first()
        if attachment is None:
            abort(404)
        from urllib.parse import quote

        response = Response(attachment.content, mimetype=attachment.content_type)
        response.headers["Content-Disposition"] = (
            f"attachment; filename*=UTF-8''{quote(attachment.filename)}"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _with_breakdown(report: Report, spec: FormSpec, workbook: bytes) -> bytes:
    """A consolidated report's workbook with its breakdown sheet: one row per unit it was
    consolidated from, one column per numeric entry cell (official figures)."""
    from app.consolidation import OFFICIAL_LABEL, breakdown_by_unit
    from app.exports import with_breakdown_sheet

    cells = [c for c in spec.entry_cells if c.type in NUMERIC_TYPES]
    labels = {row.key: row.label for row in spec.rows}
    header = ["Đơn vị", "Trạng thái", "Được tính"] + [
        f"{c.cell} {labels.get(c.row_key, c.row_key)}" for c in cells]
    units = breakdown_by_unit(db.session, report)
    rows = ([name, state_label(state), "có" if counted else "không"]
            + [values.get(c.key) for c in cells] for name, state, counted, values in units)
    return with_breakdown_sheet(workbook, f"{report.form_code} — {report.period.label} — "
                                f"{report.unit.name}", OFFICIAL_LABEL, header, rows)


def _save_narratives(report: Report, changes: dict, base: dict | None, user) -> int:
    """Store narrative texts as values keyed by the block's key (the spec has no cell for
    them); same conflict rule as the cells. Runs after save_values, which holds the lock."""
    if not changes:
        return 0
    if report.state not in EDITABLE_STATES:
        raise DomainError(_("Báo cáo đã gửi đi, không sửa được số liệu."))
    existing = {
        row.row_key: row
        for row in db.session.scalars(
            select(ReportValue).where(
                ReportValue.report_id == report.id,
                ReportValue.row_key.in_(list(changes)),
                ReportValue.column_key == "",
            )
        )
    }
    conflicts, to_write = [], {}
    for key, raw in changes.items():
        text = nfc(str(raw)).strip() if raw is not None else ""
        value = text or None
        current = existing[key].text_value if key in existing else None
        if base is not None and key in base:
            seen = nfc(str(base[key] or "")).strip() or None
            if seen != current and value != current:
                conflicts.append(key)
                continue
        if value != current:
            to_write[key] = value
    if conflicts:
        db.session.rollback()
        raise ReportConflict("conflict", conflicts)
    now = utcnow()
    for key, value in to_write.items():
        row = existing.get(key)
        if row is None:
            row_key, column_key = split_key(key)
            row = ReportValue(report_id=report.id, row_key=row_key, column_key=column_key,
                              breakdown_key="")
            db.session.add(row)
        row.number_value, row.text_value = None, value
        row.saved_by_id = getattr(user, "id", None)
        row.saved_at = now
    return len(to_write)


def attachment_size(size: int) -> str:
    if size >= 1024 * 1024:
        return format_number(size / (1024 * 1024), 1) + " MB"
    return format_number(max(1, round(size / 1024))) + " KB"
