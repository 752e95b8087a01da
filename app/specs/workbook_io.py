"""The offline round trip: a report's values written into the agency's own workbook, and read back.

`fill_workbook` writes values (keyed by `CellSpec.key`) into the entry cells of the original
template, keeping its styles, merges, data validations and protection; computed cells keep their
formulas (Excel recalculates them on open). Text that begins with "=" is written as text, never
as a formula.

`read_filled_workbook` takes an uploaded, filled workbook: it runs the safety check, checks that
the layout still matches the spec (sheets, row labels, column headers), and reads every entry
cell into the stored form of its value:

- number, integer, decimal, percent: `Decimal` (numbers; text typed as "1.234,5" or "1234.5";
  a percent cell's "12,5%" is 12.5, the number as shown);
- date: ISO text "2026-11-23";
- choice: the choice's value (the file may hold its value or its label);
- text: NFC text (a text cell whose text begins with "=" stays text).

Narrative blocks (merged paragraphs of text) are values too, under `NarrativeBlock.key`, written
at and read from the top-left cell of their range.

The returned dict holds every entry cell's key and every narrative block's key; `None` means
empty. Computed values
found in the file are ignored: they are recomputed by the server, never trusted.

Rows added below an entity-list table (one row per school, facility…) are data, returned under
the keys "<sheet>!row:<n>|<column_key>" (n is the row number in the file). Anything else written
outside the form (a row added below an indicator table, a cell right of the table, a number in
a heading row) is a Problem naming its cell.

Callers must not store anything when a returned Problem has severity "error": the values are
returned anyway, for showing what was read. `read_or_raise` does that check and raises.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from decimal import Decimal

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.utils.cell import coordinate_from_string, range_boundaries

from app.errors import DomainError
from app.numbers import NotANumber, parse_number
from app.specs.model import CellSpec, FormSpec, Problem, TableSpec
from app.specs.safety import DEFAULT_LIMITS, Limits, open_workbook_safely

NUMERIC_TYPES = ("number", "integer", "decimal", "percent")
DATE_FORMAT = "DD/MM/YYYY"
ENTITY_ROW_KEY = "{sheet}!row:{row}|{column}"
MAX_ADDED_ROWS = 5_000  # rows scanned below a table for added rows


class WorkbookProblems(DomainError):
    """A filled workbook that cannot be stored; `problems` lists every problem with its cell."""

    def __init__(self, message: str, problems: list[Problem]):
        super().__init__(message, field="file")
        self.problems = problems


# -- helpers ------------------------------------------------------------------------------------


def _split(address: str) -> tuple[str, int]:
    letter, row = coordinate_from_string(address)
    return letter, row


def _normal(text) -> str:
    """NFC, single spaces, no leading bullet: how two labels are compared."""
    if text is None:
        return ""
    value = unicodedata.normalize("NFC", str(text))
    value = re.sub(r"\s+", " ", value).strip()
    return value.lstrip("-+•*–· ").rstrip(":：. ").strip()


def _header_normal(text) -> str:
    """Headers are compared without their digits: "Thực hiện tháng 10/2026" is a period's title."""
    return re.sub(r"\d+", "#", _normal(text))


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y") if value.time() == dt.time() else value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _is_formula(cell) -> bool:
    return cell.data_type == "f"


def _existing(worksheet, row: int, col: int):
    """The cell at (row, col) when the file has it, without creating one (sheet extents in real
    files reach far beyond the used area)."""
    return worksheet._cells.get((row, col))


def _value(worksheet, row: int, col: int):
    cell = _existing(worksheet, row, col)
    return None if cell is None else cell.value


def _template_filename(spec: FormSpec) -> str:
    name = spec.source_filename or ""
    return name if name.lower().endswith((".xlsx", ".xltx")) else f"{spec.code}.xlsx"


# -- writing ------------------------------------------------------------------------------------


def _choice_label(spec: FormSpec, cell: CellSpec, value) -> str:
    for option in spec.choices.get(cell.choices or "", []):
        if str(value) in (option.value, option.label):
            return option.label
    return str(value)


def _write(target, cell: CellSpec, value, spec: FormSpec) -> None:
    if _is_blank(value):
        target.value = None
        return
    if isinstance(value, bool):
        value = "Có" if value else "Không"
    if cell.type in NUMERIC_TYPES and isinstance(value, (int, float, Decimal)):
        number = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
        target.value = int(number) if number == number.to_integral_value() and abs(number) < 2**53 else number
        return
    if cell.type == "date":
        day = value
        if isinstance(value, str):
            try:
                day = dt.date.fromisoformat(value.strip()[:10])
            except ValueError:
                day = value
        if isinstance(day, (dt.date, dt.datetime)):
            target.value = day
            if target.number_format in ("General", "yyyy-mm-dd", "yyyy-mm-dd h:mm:ss"):
                target.number_format = DATE_FORMAT
            return
        value = day
    text = _choice_label(spec, cell, value) if cell.type == "choice" else value
    if not isinstance(text, str):
        text = str(text)
    text = ILLEGAL_CHARACTERS_RE.sub("", unicodedata.normalize("NFC", text))
    target.value = text
    if text.startswith("="):
        # Written as a text cell, with Excel's quote prefix: never saved as a formula.
        target.data_type = "s"
        target.quotePrefix = True


def fill_workbook(source_workbook: bytes, spec: FormSpec, values: dict[str, object]) -> bytes:
    """The original workbook with the report's values in its entry cells, as .xlsx bytes.

    Entry cells without a value are emptied (a template's hint text does not come back as data).
    A merged entry cell is written at its top-left cell. Computed cells keep their formulas and
    Excel recalculates them when the file is opened. Nothing else changes.
    """
    workbook = open_workbook_safely(source_workbook, _template_filename(spec), keep_vba=False)
    for cell in spec.entry_cells:
        if cell.sheet not in workbook.sheetnames:
            continue
        sheet = workbook[cell.sheet]
        address = cell.merged_range.split(":")[0] if cell.merged_range else cell.cell
        _write(sheet[address], cell, values.get(cell.key), spec)
    from app.reports import added_row_cell

    for key, value in values.items():
        if "!row:" not in key or value in (None, ""):
            continue
        added = added_row_cell(spec, key)  # a row the unit added to an entity list
        if added is not None and added.sheet in workbook.sheetnames:
            _write(workbook[added.sheet][added.cell], added, value, spec)
    for block in spec.narrative_blocks:
        if block.sheet in workbook.sheetnames:
            text = CellSpec(block.sheet, block.range.split(":")[0], "entry", "text")
            _write(workbook[block.sheet][text.cell], text, values.get(block.key), spec)
    workbook.calculation.fullCalcOnLoad = True
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


# -- reading ------------------------------------------------------------------------------------


def _choice_value(spec: FormSpec, cell: CellSpec, text: str) -> str | None:
    folded = _normal(text).casefold()
    for option in spec.choices.get(cell.choices or "", []):
        if folded in (_normal(option.value).casefold(), _normal(option.label).casefold()):
            return option.value
    return None


def convert_cell(raw, cell_type: str, spec: FormSpec, cell: CellSpec | None = None):
    """The stored form of a value read from a cell, and the problem (Vietnamese) when it is wrong."""
    if _is_blank(raw):
        return None, None
    if cell_type in NUMERIC_TYPES:
        if isinstance(raw, bool):
            return None, f"ô kiểu số chứa giá trị đúng/sai «{'TRUE' if raw else 'FALSE'}», không phải là số"
        if isinstance(raw, (dt.date, dt.datetime, dt.time)):
            return None, f"ô kiểu số chứa ngày tháng «{_shown(raw)}», không phải là số"
        source = raw
        if cell_type == "percent" and isinstance(raw, str):
            source = raw.strip().rstrip("%").strip()
        try:
            number = parse_number(source)
        except NotANumber:
            return None, f"ô kiểu số chứa «{_shown(raw)}», không phải là số"
        if number is None:
            return None, None
        if cell_type == "integer" and number != number.to_integral_value():
            return None, f"ô kiểu số nguyên chứa số lẻ «{_shown(raw)}»"
        return number, None
    if cell_type == "date":
        if isinstance(raw, dt.datetime):
            return raw.date().isoformat(), None
        if isinstance(raw, dt.date):
            return raw.isoformat(), None
        text = str(raw).strip()
        for pattern in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
            try:
                return dt.datetime.strptime(text, pattern).date().isoformat(), None
            except ValueError:
                continue
        return None, f"ô kiểu ngày chứa «{_shown(raw)}», không phải là ngày (dd/mm/yyyy)"
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = unicodedata.normalize("NFC", raw if isinstance(raw, str) else _shown(raw)).strip()
    if cell_type == "choice" and cell is not None and cell.choices:
        value = _choice_value(spec, cell, text)
        if value is None:
            allowed = ", ".join(f"«{o.label}»" for o in spec.choices.get(cell.choices, []))
            return None, f"giá trị «{_shown(text)}» không có trong danh sách chọn ({allowed})"
        return value, None
    return text, None


class _Reader:
    def __init__(self, workbook, spec: FormSpec):
        self.workbook = workbook
        self.spec = spec
        self.problems: list[Problem] = []
        self.values: dict[str, object] = {}
        self.spec_cells: dict[tuple[str, str], CellSpec] = {}
        for cell in spec.cells:
            self.spec_cells[(cell.sheet, cell.cell)] = cell
            if cell.merged_range:
                min_col, min_row, max_col, max_row = range_boundaries(cell.merged_range)
                for row in range(min_row, max_row + 1):
                    for col in range(min_col, max_col + 1):
                        self.spec_cells.setdefault((cell.sheet, f"{get_column_letter(col)}{row}"), cell)
        self.merged_cache: dict[str, dict[tuple[int, int], object]] = {}
        self.narrative: dict[str, list[tuple[int, int, int, int]]] = {}
        for block in spec.narrative_blocks:
            self.narrative.setdefault(block.sheet, []).append(range_boundaries(block.range))

    def problem(self, message: str, sheet: str | None, address: str | None = None, severity="error"):
        row = column = None
        if address:
            column, row = _split(address)
        self.problems.append(Problem(message, sheet=sheet, row=row, column=column, severity=severity))

    # -- layout ---------------------------------------------------------------------------------
    def check_sheets(self) -> set[str]:
        present = set(self.workbook.sheetnames)
        expected = [sheet.name for sheet in self.spec.sheets] or sorted({c.sheet for c in self.spec.cells})
        missing = [name for name in expected if name not in present]
        unknown = [name for name in self.workbook.sheetnames if name not in expected]
        for name in missing:
            if len(missing) == 1 and len(unknown) == 1:
                message = (
                    f"không tìm thấy trang tính «{name}»: có lẽ đã bị đổi tên thành «{unknown[0]}». "
                    "Vui lòng giữ nguyên tên trang tính của biểu mẫu."
                )
            else:
                found = ", ".join(f"«{n}»" for n in self.workbook.sheetnames)
                message = (
                    f"không tìm thấy trang tính «{name}» (tệp có: {found}). Vui lòng giữ nguyên tên "
                    "trang tính của biểu mẫu."
                )
            self.problem(message, name)
        return {name for name in expected if name in present}

    def label_columns(self, table: TableSpec) -> list[int]:
        return sorted(c.col for c in table.columns if c.role == "label")

    def merged_values(self, worksheet) -> dict[tuple[int, int], object]:
        """(row, col) → the value of the merged range covering it, for the label columns."""
        cached = self.merged_cache.get(worksheet.title)
        if cached is None:
            cached = {}
            label_cols = {
                c.col for s in self.spec.sheets if s.name == worksheet.title for t in s.tables
                for c in t.columns if c.role in ("stt", "label")
            }
            for merged in worksheet.merged_cells.ranges:
                value = _value(worksheet, merged.min_row, merged.min_col)
                if _is_blank(value) or merged.max_row - merged.min_row > MAX_ADDED_ROWS:
                    continue
                for col in range(merged.min_col, merged.max_col + 1):
                    if col in label_cols:
                        for row in range(merged.min_row, merged.max_row + 1):
                            cached[(row, col)] = value
            self.merged_cache[worksheet.title] = cached
        return cached

    def row_texts(self, worksheet, row: int, columns: list[int]) -> list[str]:
        """The texts of a row's label cells, merged cells read from their range, in order."""
        merged = self.merged_values(worksheet)
        texts: list[str] = []
        for col in range(columns[0], columns[-1] + 1):
            value = merged.get((row, col), _value(worksheet, row, col))
            text = _normal(value)
            if text and (not texts or texts[-1] != text):
                texts.append(text)
        return texts

    def check_labels(self, sheets: set[str]) -> None:
        tables = {(t.sheet, t.index): t for s in self.spec.sheets for t in s.tables}
        for row in self.spec.rows:
            expected = _normal(row.label)
            if row.sheet not in sheets or not expected:
                continue
            table = tables.get((row.sheet, row.table))
            columns = self.label_columns(table) if table else []
            if not columns:
                continue
            worksheet = self.workbook[row.sheet]
            first = columns[0]
            found = _value(worksheet, row.row, first)
            if _normal(found) == expected:
                continue
            # A label spread over several columns, or composed by the loader from merged parent
            # cells ("Tổng số — Nhập cảnh — Cộng dồn"), is compared part by part.
            parts = [_normal(part) for part in re.split(r"\s+—\s+", row.label)]
            stt = [c.col for c in table.columns if c.role == "stt"] if table else []
            spans = [columns] + ([[min(stt + columns), columns[-1]]] if stt else [])
            matched = False
            for span in spans:
                texts = self.row_texts(worksheet, row.row, span)
                if " ".join(texts) == expected or texts == parts or (texts and texts[-len(parts):] == parts):
                    matched = True
                    break
            if matched:
                continue
            if table and table.shape == "entity" and row.kind == "entity":
                continue  # entity names are data in an entity list
            shown = _normal(found) or " — ".join(self.row_texts(worksheet, row.row, columns))
            address = f"{get_column_letter(first)}{row.row}"
            self.problem(
                f"nhãn dòng đã đổi từ «{expected}» thành «{shown}» (dòng có thể đã "
                "bị chèn, xóa hoặc sửa). Vui lòng dùng đúng biểu mẫu đã tải về.",
                row.sheet,
                address,
            )

    def check_headers(self, sheets: set[str]) -> None:
        for sheet in self.spec.sheets:
            if sheet.name not in sheets:
                continue
            worksheet = self.workbook[sheet.name]
            for table in sheet.tables:
                for header in table.headers:
                    address = header.range.split(":")[0]
                    found = worksheet[address].value
                    if _header_normal(found) != _header_normal(header.text):
                        self.problem(
                            f"tiêu đề cột đã đổi từ «{_normal(header.text)}» thành «{_normal(found)}» "
                            "(cột có thể đã bị chèn, xóa hoặc sửa). Vui lòng dùng đúng biểu mẫu đã tải về.",
                            sheet.name,
                            address,
                        )

    # -- entry cells ----------------------------------------------------------------------------
    def read_entries(self, sheets: set[str]) -> None:
        for cell in self.spec.entry_cells:
            self.values[cell.key] = None
            if cell.sheet not in sheets:
                continue
            address = cell.merged_range.split(":")[0] if cell.merged_range else cell.cell
            target = self.workbook[cell.sheet][address]
            if _is_formula(target):
                formula = target.value if isinstance(target.value, str) else "=…"
                self.problem(
                    f"ô nhập liệu không được chứa công thức (tìm thấy «{_shown(formula)}»); vui lòng "
                    "nhập số liệu trực tiếp.",
                    cell.sheet,
                    address,
                )
                continue
            value, message = convert_cell(target.value, cell.type, self.spec, cell)
            if message:
                self.problem(message, cell.sheet, address)
                continue
            self.values[cell.key] = value

    def read_narratives(self, sheets: set[str]) -> None:
        for block in self.spec.narrative_blocks:
            self.values[block.key] = None
            if block.sheet not in sheets:
                continue
            address = block.range.split(":")[0]
            target = self.workbook[block.sheet][address]
            if _is_formula(target):
                self.problem("ô thuyết minh không được chứa công thức.", block.sheet, address)
                continue
            value, _ = convert_cell(target.value, "text", self.spec)
            self.values[block.key] = value

    # -- cells outside the form -----------------------------------------------------------------
    def in_narrative(self, sheet: str, col: int, row: int) -> bool:
        return any(
            min_col <= col <= max_col and min_row <= row <= max_row
            for min_col, min_row, max_col, max_row in self.narrative.get(sheet, [])
        )

    def known(self, sheet: str, col: int, row: int) -> bool:
        return (sheet, f"{get_column_letter(col)}{row}") in self.spec_cells or self.in_narrative(sheet, col, row)

    def column_types(self, table: TableSpec) -> dict[str, str]:
        """The type of each value column, from its entry cells (for rows added to entity lists)."""
        types: dict[str, str] = {}
        for cell in self.spec.entry_cells:
            if cell.sheet == table.sheet and cell.column_key and cell.column_key not in types:
                types[cell.column_key] = cell.type
        return types

    def check_outside(self, sheets: set[str]) -> None:
        for sheet in self.spec.sheets:
            if sheet.name not in sheets or not sheet.tables:
                continue
            worksheet = self.workbook[sheet.name]
            tables = sorted(sheet.tables, key=lambda t: t.header_first_row)
            for position, table in enumerate(tables):
                next_start = tables[position + 1].header_first_row if position + 1 < len(tables) else None
                self.check_table_grid(worksheet, table)
                self.check_below(worksheet, table, next_start)

    def table_span(self, table: TableSpec) -> tuple[int, int]:
        cols = [c.col for c in table.columns] or [1]
        return min(cols), max(cols)

    def check_table_grid(self, worksheet, table: TableSpec) -> None:
        """Numbers in value cells that are no cells of the form (a heading row), values right of
        the table."""
        first_col, last_col = self.table_span(table)
        value_cols = {c.col for c in table.columns if c.role == "value"}
        spec_rows = {r.row for r in self.spec.rows if r.sheet == table.sheet and r.table == table.index}
        outside: dict[int, list] = {}
        for (row, col), target in worksheet._cells.items():
            if table.first_row <= row <= table.last_row and col > last_col:
                outside.setdefault(row, []).append(target)
        for row in range(table.first_row, table.last_row + 1):
            for col in sorted(value_cols):
                if self.known(table.sheet, col, row) or row not in spec_rows:
                    continue
                target = _existing(worksheet, row, col)
                if target is not None and not _is_blank(target.value) and (
                    _is_formula(target) or self.looks_numeric(target.value)
                ):
                    self.problem(
                        f"ô này không phải ô nhập liệu của biểu mẫu nhưng có giá trị «{_shown(target.value)}»; "
                        "vui lòng xóa.",
                        table.sheet,
                        target.coordinate,
                    )
            for target in sorted(outside.get(row, []), key=lambda c: c.column):
                if self.known(table.sheet, target.column, row):
                    continue
                if not _is_blank(target.value):
                    self.problem(
                        f"ô nằm ngoài bảng của biểu mẫu nhưng có giá trị «{_shown(target.value)}» (cột "
                        "thêm vào?); vui lòng xóa.",
                        table.sheet,
                        target.coordinate,
                    )

    @staticmethod
    def looks_numeric(value) -> bool:
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            return True
        if isinstance(value, str):
            try:
                return parse_number(value) is not None
            except NotANumber:
                return False
        return False

    def row_values(self, worksheet, row: int, first_col: int, last_col: int) -> list:
        cells = (_existing(worksheet, row, col) for col in range(first_col, last_col + 1))
        return [cell for cell in cells if cell is not None]

    def is_data_row(self, table: TableSpec, cells) -> bool:
        """A row that carries data: a number or a formula in a value column, or a numbered STT."""
        roles = {c.col: c.role for c in table.columns}
        for cell in cells:
            role = roles.get(cell.column)
            if role == "value" and (_is_formula(cell) or self.looks_numeric(cell.value)):
                return True
            if role == "stt" and (self.looks_numeric(cell.value) or re.fullmatch(r"[IVXLC]+\.?", str(cell.value).strip())):
                return True
        return False

    def is_entity_row(self, table: TableSpec, cells) -> bool:
        """An added entity: data, or a name with something in a value column."""
        roles = {cells_col.col: cells_col.role for cells_col in table.columns}
        present = {roles.get(cell.column) for cell in cells}
        return self.is_data_row(table, cells) or ("label" in present and "value" in present)

    def check_below(self, worksheet, table: TableSpec, next_start: int | None) -> None:
        """Rows below the table. An entity list's rows right after it (up to the first empty
        row) are added entities: data. Anywhere else a row with data (a number in a value column,
        a numbered STT) is an added row, reported cell by cell; rows of text only are a footer."""
        first_col, last_col = self.table_span(table)
        last = min(worksheet.max_row, table.last_row + MAX_ADDED_ROWS)
        if next_start is not None:
            last = min(last, next_start - 1)
        adjacent = True
        types = self.column_types(table) if table.shape == "entity" else {}
        columns = {c.col: c for c in table.columns}
        for row in range(table.last_row + 1, last + 1):
            cells = [
                cell
                for cell in self.row_values(worksheet, row, first_col, last_col)
                if not self.known(table.sheet, cell.column, row) and not _is_blank(cell.value)
            ]
            if not cells:
                adjacent = False
                continue
            if table.shape == "entity" and adjacent:
                if self.is_entity_row(table, cells):
                    self.read_added_entity_row(table, row, cells, columns, types)
                continue  # a foot-note right below the list
            if not self.is_data_row(table, cells):
                continue
            for target in cells:
                self.problem(
                    f"ô nằm ngoài bảng của biểu mẫu nhưng có giá trị «{_shown(target.value)}» (dòng "
                    "thêm vào?); vui lòng xóa hoặc nhập vào đúng dòng của biểu mẫu.",
                    table.sheet,
                    target.coordinate,
                )

    def read_added_entity_row(self, table, row, cells, columns, types) -> None:
        for target in cells:
            column = columns.get(target.column)
            if column is None:
                continue
            if _is_formula(target):
                if column.role == "value" and types.get(column.key) is None:
                    continue  # a total the user copied down: computed, ignored
                self.problem(
                    "ô nhập liệu không được chứa công thức; vui lòng nhập số liệu trực tiếp.",
                    table.sheet,
                    target.coordinate,
                )
                continue
            cell_type = types.get(column.key, "text") if column.role == "value" else "text"
            value, message = convert_cell(target.value, cell_type, self.spec)
            if message:
                self.problem(message, table.sheet, target.coordinate)
                continue
            self.values[ENTITY_ROW_KEY.format(sheet=table.sheet, row=row, column=column.key)] = value


def read_filled_workbook(
    data: bytes, spec: FormSpec, filename: str, limits: Limits = DEFAULT_LIMITS
) -> tuple[dict[str, object], list[Problem]]:
    """The values of a filled workbook and the problems found, each naming its cell.

    Raises UnsafeWorkbook when the file is refused before parsing. Callers must store nothing
    when any returned problem has severity "error" (see `read_or_raise`).
    """
    workbook = open_workbook_safely(data, filename, limits, data_only=False, keep_vba=False, rich_text=False)
    try:
        reader = _Reader(workbook, spec)
        sheets = reader.check_sheets()
        reader.check_labels(sheets)
        reader.check_headers(sheets)
        reader.read_entries(sheets)
        reader.read_narratives(sheets)
        reader.check_outside(sheets)
    finally:
        workbook.close()
    reader.problems.sort(key=lambda p: (
        spec_order(spec, p.sheet), p.row or 0, column_index_from_string(p.column) if p.column else 0
    ))
    return reader.values, reader.problems


def spec_order(spec: FormSpec, sheet: str | None) -> int:
    names = [s.name for s in spec.sheets]
    return names.index(sheet) if sheet in names else -1


def read_or_raise(
    data: bytes, spec: FormSpec, filename: str, limits: Limits = DEFAULT_LIMITS
) -> tuple[dict[str, object], list[Problem]]:
    """Like read_filled_workbook, but raises WorkbookProblems when any problem is an error;
    otherwise returns the values and the warnings."""
    values, problems = read_filled_workbook(data, spec, filename, limits)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        shown = "; ".join(str(p) for p in errors[:5])
        more = f" và {len(errors) - 5} lỗi khác" if len(errors) > 5 else ""
        raise WorkbookProblems(
            f"Tệp «{filename}» có {len(errors)} lỗi nên chưa lưu số liệu nào: {shown}{more}.",
            problems,
        )
    return values, problems
