"""Read an agency's Excel template, as it is, into a FormSpec.

The workbook is opened once with openpyxl in full mode (merged cells, styles, protection, data
validations, comments); cached formula results are read afterwards in read-only mode and kept only
as CellSpec.value of computed cells.

What the loader decides, sheet by sheet:

* tables: a header row holds at least one label keyword (STT, Chỉ tiêu / Nội dung / Tên …, Đơn vị
  tính / ĐVT, Mã số, Ghi chú); the header runs down as far as its merged cells reach, then an
  optional row of column numbers (A, B, 1, 2, "3=1+2", "(1)"). Data rows follow until an empty row,
  a signature footer, a narrative label, a foot-note, or the next table's header.
* entry cells: on a protected sheet, the unlocked cells of the table. Otherwise the value cells of
  indicator and entity rows that are empty, hold an empty string or white space, hold a number (a
  pre-filled or sample value, kept in CellSpec.value: real templates are often sent out filled with
  zeros or with last period's figures), or hold an instruction text (kept as CellSpec.help). Short
  placeholder marks ("x", "-", "…") are fixed cells, formulas are computed cells.
* row keys: the "Mã số" code when present and unique in the form, else "r<row>" (prefixed by
  "s<n>" on the n-th sheet of a workbook with several used sheets, so keys stay unique).
"""

from __future__ import annotations

import gc
import io
import os
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass, field

import openpyxl
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet.formula import ArrayFormula

from app.specs.loader_text import (
    INLINE_NUMBER_RE,
    MARKER_RE,
    MOTTO_KEYS,
    PLACEHOLDER_RE,
    clean,
    column_role,
    is_footer,
    is_narrative_label,
    is_number_label,
    is_total,
    number_format_type,
    numbering,
    slug,
)
from app.specs.model import (
    CellSpec,
    Choice,
    ColumnSpec,
    FormSpec,
    HeaderCell,
    NarrativeBlock,
    Problem,
    RowSpec,
    SheetSpec,
    TableSpec,
)
from app.text import fold

SUM_RE = re.compile(r"^=\s*SUM\(\s*\$?([A-Z]+)\$?(\d+)\s*:\s*\$?([A-Z]+)\$?(\d+)\s*\)\s*$", re.I)
_DECIMAL_TYPES = frozenset(("decimal", "percent", "integer"))
ARTEFACT_SHEETS = ("errors", "error", "loi", "log", "debug")
MAX_MERGE_CELLS = 20000
LONG_TEXT = 60


def load_spec(source, filename: str | None = None, code: str | None = None) -> FormSpec:
    """Read a template (path, bytes or file object) into a FormSpec; problems go in spec.problems."""
    # the loader makes many small objects next to a large workbook tree: pausing the cyclic
    # garbage collector meanwhile saves it from walking that tree again and again
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load_spec(source, filename, code)
    finally:
        if gc_was_enabled:
            gc.enable()


def _load_spec(source, filename, code) -> FormSpec:
    data, filename = _read_source(source, filename)
    stem = os.path.splitext(os.path.basename(filename))[0] if filename else "bieu_mau"
    spec = FormSpec(code=code or stem, title=stem, source_filename=filename)
    caught: list = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=False, keep_links=False)
    except Exception as error:  # noqa: BLE001 - any unreadable file is reported, not raised
        spec.problems.append(
            Problem(f"Không đọc được tệp Excel ({type(error).__name__}): {error}", severity="error")
        )
        return spec
    _WorkbookLoader(wb, data, spec, caught).run()
    return spec


def _read_source(source, filename):
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), filename
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            return handle.read(), filename or os.path.basename(str(source))
    data = source.read()
    if isinstance(data, str):
        data = data.encode("latin-1")
    return data, filename or os.path.basename(str(getattr(source, "name", "") or "")) or None


@dataclass
class _Table:
    spec: TableSpec
    label_cols: list[int] = field(default_factory=list)
    stt_col: int | None = None
    unit_col: int | None = None
    code_col: int | None = None
    value_cols: list[int] = field(default_factory=list)
    content_stats: dict[int, tuple[int, int, int]] = field(default_factory=dict)


class _WorkbookLoader:
    def __init__(self, wb, data: bytes, spec: FormSpec, caught):
        self.wb = wb
        self.data = data
        self.spec = spec
        self.caught = caught
        self.formats: dict = {}
        self.fmt_by_id: dict = {}
        self.bold_by_id: dict = {}
        self.indent_by_id: dict = {}
        self.unlocked_by_id: dict = {}
        self.choice_names: dict[tuple, str] = {}
        self.pending_rows: list[tuple[SheetSpec, list[RowSpec], list]] = []
        self.formula_cells: dict[str, list[CellSpec]] = defaultdict(list)

    # -- workbook ------------------------------------------------------------------------------
    def run(self) -> None:
        spec = self.spec
        first_sheet = self.wb.worksheets[0].title if self.wb.worksheets else None
        for warning in self.caught:
            text = str(warning.message)
            match = re.search(r"'([^']+)'!", text)
            spec.problems.append(
                Problem(
                    f"Tệp có tên vùng (defined name) hỏng, đã bỏ qua: {text}",
                    sheet=match.group(1) if match else first_sheet,
                    row=1,
                    column="A",
                    severity="warning",
                )
            )
        self._check_defined_names(first_sheet)
        used = 0
        sheet_readers = []
        for ws in self.wb.worksheets:
            reader = _SheetLoader(self, ws)
            if fold(ws.title) in ARTEFACT_SHEETS:
                spec.problems.append(
                    Problem(
                        "Trang phụ (không phải biểu mẫu) — đã bỏ qua.",
                        sheet=ws.title,
                        row=1,
                        column="A",
                        severity="warning",
                    )
                )
                continue
            reader.scan()
            if not reader.content:
                spec.problems.append(
                    Problem(
                        "Trang trống — đã bỏ qua.",
                        sheet=ws.title,
                        row=1,
                        column="A",
                        severity="warning",
                    )
                )
                continue
            reader.find_tables()
            if not reader.tables:
                spec.problems.append(
                    Problem(
                        "Không tìm thấy bảng biểu mẫu (dòng tiêu đề có STT, Chỉ tiêu, Đơn vị tính, "
                        "Mã số…) — trang đã bỏ qua.",
                        sheet=ws.title,
                        row=1,
                        column="A",
                        severity="warning",
                    )
                )
                continue
            reader.prefix = "" if used == 0 else f"s{used + 1}"
            used += 1
            sheet_readers.append(reader)
        if not sheet_readers:
            spec.problems.append(
                Problem(
                    "Không tìm thấy bảng biểu mẫu nào trong tệp: cần một dòng tiêu đề cột (STT, Chỉ "
                    "tiêu / Nội dung / Tên…, Đơn vị tính, Mã số) và các dòng số liệu bên dưới.",
                    sheet=first_sheet,
                    row=1,
                    column="A",
                    severity="error",
                )
            )
            return
        for reader in sheet_readers:
            reader.build()
        self._assign_row_keys(sheet_readers)
        for reader in sheet_readers:
            reader.build_cells()
            reader.build_outside()
            spec.sheets.append(reader.sheet)
        spec.title = self._title(sheet_readers)
        self._cached_values()

    def _check_defined_names(self, first_sheet) -> None:
        try:
            names = list(self.wb.defined_names.values())
        except Exception:  # noqa: BLE001
            return
        for defined in names:
            text = str(getattr(defined, "attr_text", "") or "")
            if "#REF!" in text:
                self.spec.problems.append(
                    Problem(
                        f"Tên vùng «{defined.name}» trỏ tới ô không còn tồn tại (#REF!) — đã bỏ qua.",
                        sheet=first_sheet,
                        row=1,
                        column="A",
                        severity="warning",
                    )
                )

    def _title(self, readers) -> str:
        candidates = []
        for reader in readers:
            for line in reader.sheet.title:
                key = fold(line)
                if any(m in key for m in MOTTO_KEYS) or len(key) < 8:
                    continue
                if line.startswith("("):
                    score = 0
                elif line.isupper():
                    score = 3
                else:
                    score = (
                        2
                        if key.startswith(("bao cao", "bieu", "tong hop", "mot so", "danh sach"))
                        else 1
                    )
                candidates.append((score, len(line), line))
        if candidates:
            best = max(candidates, key=lambda c: (c[0], c[1]))
            return best[2]
        return self.spec.title

    def _assign_row_keys(self, readers) -> None:
        counts: dict[str, int] = defaultdict(int)
        for reader in readers:
            for row in reader.rows:
                if row.code:
                    counts[row.code] += 1
        warned = set()
        for reader in readers:
            in_sheet: dict[str, int] = defaultdict(int)
            for row in reader.rows:
                if row.code:
                    in_sheet[row.code] += 1
            for row in reader.rows:
                if row.code and counts[row.code] == 1:
                    row.key = row.code
                elif row.code and in_sheet[row.code] == 1:
                    # the same code on another sheet: qualified by the sheet
                    row.key = f"{reader.prefix or 's1'}_{row.code}"
                else:
                    row.key = f"{reader.prefix}r{row.row}"
                    if row.code and (row.code not in warned):
                        warned.add(row.code)
                        self.spec.problems.append(
                            Problem(
                                f"Mã số «{row.code}» bị trùng — các dòng này dùng khóa theo số dòng.",
                                sheet=reader.name,
                                row=row.row,
                                column=get_column_letter(reader.code_col_of[row.row]),
                                severity="warning",
                            )
                        )
            key_of_row = {r.row: r.key for r in reader.rows}
            for row in reader.rows:
                parent_row = reader.parent_row.get(row.row)
                row.parent_key = key_of_row.get(parent_row) if parent_row else None
            self.spec.rows.extend(reader.rows)

    # style look-ups by style id: a few dict hits instead of a style proxy per cell
    def cell_format(self, cell) -> tuple[str, tuple[str, int | None]]:
        key = cell._style.numFmtId
        found = self.fmt_by_id.get(key)
        if found is None:
            fmt = cell.number_format
            found = self.fmt_by_id[key] = (fmt, self.number_format(fmt))
        return found

    def bold(self, cell) -> bool:
        key = cell._style.fontId
        found = self.bold_by_id.get(key)
        if found is None:
            font = cell.font
            found = self.bold_by_id[key] = bool(font is not None and font.b)
        return found

    def indent(self, cell) -> int:
        key = cell._style.alignmentId
        found = self.indent_by_id.get(key)
        if found is None:
            alignment = cell.alignment
            found = self.indent_by_id[key] = (
                int(alignment.indent or 0) if alignment is not None else 0
            )
        return found

    def unlocked(self, cell) -> bool:
        key = cell._style.protectionId
        found = self.unlocked_by_id.get(key)
        if found is None:
            protection = cell.protection
            found = self.unlocked_by_id[key] = bool(
                protection is not None and protection.locked is False
            )
        return found

    def number_format(self, fmt: str) -> tuple[str, int | None]:
        result = self.formats.get(fmt)
        if result is None:
            result = self.formats[fmt] = number_format_type(fmt)
        return result

    def choice_list(self, values: list[str], hint: str) -> str:
        key = tuple(values)
        name = self.choice_names.get(key)
        if name:
            return name
        base = slug(hint) if hint else "list"
        name = base
        n = 2
        while name in self.spec.choices:
            name = f"{base}_{n}"
            n += 1
        self.choice_names[key] = name
        self.spec.choices[name] = [Choice(value=v, label=v) for v in values]
        return name

    def _cached_values(self) -> None:
        """Cached results of formula cells, read straight from the sheet XML (fast path), or
        with openpyxl in read-only mode when the XML is not the usual shape."""
        if not self.formula_cells:
            return
        try:
            cached = _cached_from_xml(self.data, set(self.formula_cells))
        except Exception:  # noqa: BLE001 - any surprise: the slow, sure way
            cached = None
        if cached is None:
            cached = self._cached_with_openpyxl()
        for sheet_name, cells in self.formula_cells.items():
            values = cached.get(sheet_name, {})
            for cell in cells:
                value = values.get(cell.cell)
                if value is not None:
                    cell.value = value

    def _cached_with_openpyxl(self) -> dict[str, dict[str, object]]:
        result: dict[str, dict[str, object]] = {}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                wb = openpyxl.load_workbook(
                    io.BytesIO(self.data), read_only=True, data_only=True, keep_links=False
                )
        except Exception:  # noqa: BLE001
            return result
        try:
            for sheet_name, cells in self.formula_cells.items():
                ws = wb[sheet_name]
                wanted = {}
                for cell in cells:
                    col, row = _split_address(cell.cell)
                    wanted[(row, col)] = cell.cell
                rows = [k[0] for k in wanted]
                cols = [k[1] for k in wanted]
                values = result.setdefault(sheet_name, {})
                for r, row_values in enumerate(
                    ws.iter_rows(
                        min_row=min(rows),
                        max_row=max(rows),
                        min_col=min(cols),
                        max_col=max(cols),
                        values_only=True,
                    ),
                    start=min(rows),
                ):
                    for c, value in enumerate(row_values, start=min(cols)):
                        address = wanted.get((r, c))
                        if address is not None and value is not None:
                            values[address] = (
                                value.isoformat() if hasattr(value, "isoformat") else value
                            )
        finally:
            wb.close()
        return result


_CELL_RE = re.compile(
    rb'<c r="([A-Z]+[0-9]+)"([^>]*)>(?:<f[^>]*/>|<f[^>]*>[^<]*</f>)(?:<v>([^<]*)</v>|<v/>)?'
)
_TYPE_RE = re.compile(rb't="([a-z]+)"')


def _cached_from_xml(data: bytes, sheet_names: set[str]) -> dict[str, dict[str, object]] | None:
    """{sheet: {address: cached value}} for formula cells, or None when the XML looks unusual."""
    import html
    import zipfile

    result: dict[str, dict[str, object]] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        workbook = archive.read("xl/workbook.xml").decode("utf-8")
        rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8")
        targets = {}
        for rel in re.finditer(r"<Relationship\b[^>]*>", rels):
            tag = rel.group(0)
            rid = re.search(r'\bId="([^"]+)"', tag)
            target = re.search(r'\bTarget="([^"]+)"', tag)
            if rid and target:
                targets[rid.group(1)] = target.group(1)
        for sheet in re.finditer(r"<sheet\b[^>]*>", workbook):
            tag = sheet.group(0)
            name = re.search(r'\bname="([^"]*)"', tag)
            rid = re.search(r'\br:id="([^"]+)"', tag) or re.search(r'\bid="([^"]+)"', tag)
            if not name or not rid:
                return None
            sheet_name = html.unescape(name.group(1))
            if sheet_name not in sheet_names:
                continue
            target = targets.get(rid.group(1))
            if not target:
                return None
            path = target.lstrip("/") if target.startswith("/") else "xl/" + target
            xml = archive.read(path)
            values: dict[str, object] = {}
            found = False
            for match in _CELL_RE.finditer(xml):
                found = True
                raw = match.group(3)
                if raw is None:
                    continue
                kind = _TYPE_RE.search(match.group(2))
                kind = kind.group(1) if kind else b"n"
                text = html.unescape(raw.decode("utf-8"))
                if kind in (b"str", b"inlineStr", b"e"):
                    value: object = text
                elif kind == b"b":
                    value = text == "1"
                elif kind == b"s":
                    return None  # shared strings as formula results: let openpyxl read them
                else:
                    try:
                        number = float(text)
                    except ValueError:
                        value = text
                    else:
                        value = (
                            int(number)
                            if number.is_integer() and "." not in text and "E" not in text
                            else number
                        )
                values[match.group(1).decode("ascii")] = value
            if not found:
                return None
            result[sheet_name] = values
    return result


def _split_address(address: str) -> tuple[int, int]:
    match = re.match(r"([A-Z]+)(\d+)", address)
    from openpyxl.utils import column_index_from_string

    return column_index_from_string(match.group(1)), int(match.group(2))


class _SheetLoader:
    def __init__(self, book: _WorkbookLoader, ws):
        self.book = book
        self.ws = ws
        self.name = ws.title
        self.prefix = ""
        self.content = False
        self.tables: list[_Table] = []
        self.rows: list[RowSpec] = []
        self.row_tables: dict[int, _Table] = {}
        self.parent_row: dict[int, int] = {}
        self.code_col_of: dict[int, int] = {}
        self.sheet = SheetSpec(name=ws.title)

    # -- scanning ------------------------------------------------------------------------------
    def scan(self) -> None:
        ws = self.ws
        values: dict[tuple[int, int], object] = {}
        by_row: dict[int, dict[int, object]] = defaultdict(dict)
        max_row = max_col = 0
        for (r, c), cell in ws._cells.items():
            v = cell._value
            if v is None:
                continue
            values[(r, c)] = v
            if isinstance(v, str) and not v.strip():
                continue
            by_row[r][c] = v
            if r > max_row:
                max_row = r
            if c > max_col:
                max_col = c
        self.values = values
        self.by_row = by_row
        self.content = bool(by_row)
        if not self.content:
            return
        # merged ranges near the used area (narrative blocks may lie below the last text)
        self.merge_of: dict[tuple[int, int], object] = {}
        self.merges_by_row: dict[int, list] = defaultdict(list)
        limit_row, limit_col = max_row + 60, max_col + 4
        merges = []
        for mr in ws.merged_cells.ranges:
            if mr.min_row > limit_row or mr.min_col > limit_col:
                continue
            merges.append(mr)
            self.merges_by_row[mr.min_row].append(mr)
            if (mr.max_row - mr.min_row + 1) * (mr.max_col - mr.min_col + 1) > MAX_MERGE_CELLS:
                self.merge_of[(mr.min_row, mr.min_col)] = mr
                continue
            for rr in range(mr.min_row, mr.max_row + 1):
                for cc in range(mr.min_col, mr.max_col + 1):
                    self.merge_of[(rr, cc)] = mr
        self.merges = merges
        for mr in merges:
            max_row = max(max_row, min(mr.max_row, limit_row))
            max_col = max(max_col, min(mr.max_col, limit_col))
        self.max_row, self.max_col = max_row, max_col
        self.sheet.max_row, self.sheet.max_col = max_row, max_col
        self.protected = bool(ws.protection.sheet)
        self.sheet.protected = self.protected

    def text(self, r: int, c: int) -> str:
        """The text shown at (r, c): a merged cell shows its top-left value."""
        mr = self.merge_of.get((r, c))
        if mr is not None:
            r, c = mr.min_row, mr.min_col
        v = self.values.get((r, c))
        if v is None or (isinstance(v, str) and v.startswith("=")):
            return ""
        return clean(v)

    def own_text(self, r: int, c: int) -> str:
        v = self.by_row.get(r, {}).get(c)
        if v is None or (isinstance(v, str) and v.startswith("=")):
            return ""
        return clean(v)

    # -- tables --------------------------------------------------------------------------------
    def is_header_row(self, r: int) -> bool:
        row = self.by_row.get(r)
        if not row:
            return False
        # a data row quoting a keyword is not a header: headers are mostly text, no formula
        texts = 0
        for v in row.values():
            if v.__class__ is str:
                if v.startswith("="):
                    return False
                texts += 1
        if texts < max(2, (len(row) + 1) // 2):
            return False
        width = len(row) + sum(
            1 for mr in self.merges_by_row.get(r, ()) if (r, mr.min_col) not in row
        )
        if width < 3:
            return False
        roles = set()
        for v in row.values():
            if v.__class__ is str:
                if v.startswith("="):
                    return False  # a header holds no formula
                if len(v) <= 80:
                    role = column_role(v)
                    if role:
                        roles.add(role)
        # two different label keywords (STT and Chỉ tiêu, Đơn vị tính and Mã số…): a data row
        # whose label happens to start with "Chỉ tiêu…" is no header
        return len(roles) >= 2 and roles != {"note"}

    def is_number_row(self, r: int, cmin: int, cmax: int) -> bool:
        row = self.by_row.get(r)
        if not row:
            return False
        cells = [clean(v) for c, v in row.items() if cmin <= c <= cmax]
        if len(cells) < 2:
            return False
        hits = sum(1 for t in cells if is_number_label(t))
        return hits >= max(2, int(len(cells) * 0.7 + 0.5))

    def find_tables(self) -> None:
        r = 1
        while r <= self.max_row:
            if self.is_header_row(r):
                table = self.read_table(r)
                if table is not None:
                    self.tables.append(table)
                    r = table.spec.last_row + 1
                    continue
            r += 1

    def read_table(self, h0: int) -> _Table | None:
        row0 = self.by_row[h0]
        cols = set(row0)
        for mr in self.merges_by_row.get(h0, ()):
            cols.update(range(mr.min_col, mr.max_col + 1))
        cmin, cmax = min(cols), max(cols)
        hl = h0
        rr = h0
        while rr <= hl:
            for mr in self.merges_by_row.get(rr, ()):
                if (
                    mr.max_col >= cmin
                    and mr.min_col <= cmax
                    and mr.max_row > hl
                    and mr.max_row - h0 < 6
                ):
                    hl = mr.max_row
            rr += 1
        number_row = None
        for rr in range(h0 + 1, hl + 2):
            if self.is_number_row(rr, cmin, cmax):
                number_row = rr
                break
        header_last = number_row - 1 if number_row else hl
        # header cells
        headers: list[HeaderCell] = []
        for rr in range(h0, header_last + 1):
            for c in sorted(self.by_row.get(rr, {})):
                if c < cmin - 0 and rr == h0:
                    continue
                t = self.own_text(rr, c)
                if not t:
                    continue
                mr = self.merge_of.get((rr, c))
                last_col = (
                    mr.max_col if mr is not None and mr.min_row == rr and mr.min_col == c else c
                )
                last_row = (
                    mr.max_row if mr is not None and mr.min_row == rr and mr.min_col == c else rr
                )
                if c < cmin:
                    continue
                cmax = max(cmax, last_col)
                rng = f"{get_column_letter(c)}{rr}:{get_column_letter(last_col)}{min(last_row, header_last)}"
                headers.append(
                    HeaderCell(
                        sheet=self.name,
                        range=rng,
                        text=t,
                        level=rr - h0 + 1,
                        first_col=c,
                        last_col=last_col,
                    )
                )
        if not headers:
            return None
        number_labels = {}
        if number_row:
            for c, v in self.by_row.get(number_row, {}).items():
                if cmin <= c <= cmax + 2:
                    number_labels[c] = clean(v)
                    cmax = max(cmax, c)
        data_first = (number_row or header_last) + 1
        paths = {
            c: [
                h.text
                for h in sorted(headers, key=lambda h: h.level)
                if h.first_col <= c <= h.last_col
            ]
            for c in range(cmin, cmax + 1)
        }
        roles = {}
        for c in range(cmin, cmax + 1):
            role = None
            for t in paths[c]:
                role = column_role(t)
                if role:
                    break
            roles[c] = role or "value"
        last = self.find_table_end(data_first, cmin, cmax, roles)
        if last < data_first:
            return None
        table = _Table(
            spec=TableSpec(
                sheet=self.name,
                index=len(self.tables),
                shape="indicator",
                header_first_row=h0,
                header_last_row=header_last,
                number_row=number_row,
                first_row=data_first,
                last_row=last,
                headers=headers,
            )
        )
        self.settle_columns(table, roles, paths, number_labels, cmin, cmax)
        return table

    def find_table_end(self, first: int, cmin: int, cmax: int, roles) -> int:
        last = first - 1
        r = first
        first_label = min(
            (c for c, role in roles.items() if role in ("label", "stt")), default=cmin
        )
        while r <= self.max_row:
            row = {c: v for c, v in self.by_row.get(r, {}).items() if cmin <= c <= cmax}
            if not row:
                # an empty row ends the table, unless it is only a spacer inside merged labels
                covered = any(
                    (r, c) in self.merge_of and self.merge_of[(r, c)].min_row < r
                    for c in (cmin, first_label)
                )
                if not covered:
                    break
                r += 1
                continue
            if r > first and self.is_header_row(r):
                break
            texts = [clean(v) for v in row.values() if isinstance(v, str) and not v.startswith("=")]
            if len(texts) == len(row) and any(is_footer(t) for t in texts):
                break
            only = list(row)
            if len(only) == 1 and texts:
                t = texts[0]
                c = only[0]
                if is_narrative_label(t) and roles.get(c) in ("stt", "label", "value", None):
                    if not numbering(t.split(" ")[0] if t else ""):
                        break
                if len(t) > 40 and c == cmin and roles.get(c) == "stt":
                    break
                if t.startswith("(") and len(t) > 40:
                    break
            last = r
            r += 1
        return last

    def settle_columns(self, table: _Table, roles, paths, number_labels, cmin, cmax) -> None:
        first, last = table.spec.first_row, table.spec.last_row
        # statistics of the data under each column, in one pass over the rows' contents
        rows_n = last - first + 1
        n_text = defaultdict(int)
        n_num = defaultdict(int)
        n_numbering = defaultdict(int)
        n_plain = defaultdict(int)  # texts that are no placeholder mark
        n_long = defaultdict(int)
        n_formula = defaultdict(int)
        by_row = self.by_row
        # long tables: a sample of rows tells the columns apart as well as all of them
        step = max(1, rows_n // 300)
        for r in range(first, last + 1, step):
            row = by_row.get(r)
            if not row:
                continue
            for c, v in row.items():
                if c < cmin or c > cmax:
                    continue
                if v.__class__ is str:
                    if v.startswith("="):
                        n_formula[c] += 1
                        continue
                    t = clean(v)
                    if numbering(t) or (len(t) <= 2 and MARKER_RE.match(t)):
                        n_numbering[c] += 1
                    elif len(t) > 2:
                        n_text[c] += 1
                    if not PLACEHOLDER_RE.match(t):
                        n_plain[c] += 1
                        if len(t) >= 80:
                            n_long[c] += 1
                elif isinstance(v, (int, float)):
                    n_num[c] += 1
        covered_left = defaultdict(int)
        covered_up = defaultdict(int)
        for mr in self.merges:
            if mr.max_row < first or mr.min_row > last or mr.max_col < cmin or mr.min_col > cmax:
                continue
            rows_in = min(mr.max_row, last) - max(mr.min_row, first) + 1
            for c in range(max(mr.min_col + 1, cmin), min(mr.max_col, cmax) + 1):
                covered_left[c] += rows_in
            if cmin <= mr.min_col <= cmax:
                covered_up[mr.min_col] += rows_in - (1 if mr.min_row >= first else 0)
        stats = {}
        for c in range(cmin, cmax + 1):
            n_top = rows_n - covered_left[c] - covered_up[c]
            stats[c] = (n_text[c], n_num[c], n_numbering[c], n_top, covered_left[c])
        table.content_stats = {
            c: (n_plain[c], n_num[c] + n_formula[c], n_long[c]) for c in range(cmin, cmax + 1)
        }
        if "label" not in roles.values():
            # no "Chỉ tiêu" header: the leftmost column of long texts is the label column
            candidates = [
                c
                for c in range(cmin, min(cmax, cmin + 3) + 1)
                if roles[c] == "value" and stats[c][0] > 0
            ]
            if candidates:
                best = max(candidates, key=lambda c: (stats[c][0], -c))
                roles[best] = "label"
                for c in range(cmin, best):
                    if roles[c] == "value" and stats[c][2] > 0 and stats[c][0] <= stats[c][2]:
                        roles[c] = "stt"
        first_label = min((c for c in range(cmin, cmax + 1) if roles[c] == "label"), default=None)
        if first_label is not None:
            for c in range(cmin, first_label):
                if (
                    roles[c] == "value"
                    and stats[c][2] > 0
                    and stats[c][0] <= stats[c][2]
                    and stats[c][1] <= stats[c][2]
                ):
                    roles[c] = "stt"
        # label headers merged over columns that hold their own empty cells are value columns
        label_cols = [c for c in range(cmin, cmax + 1) if roles[c] == "label"]
        if len(label_cols) > 1:
            for c in label_cols:
                n_text, n_num, n_numbering, n_top, n_covered = stats[c]
                starts = sum(
                    1
                    for r in range(first, last + 1)
                    if (mr := self.merge_of.get((r, c))) is not None
                    and mr.min_col == c
                    and mr.max_col > c
                )
                if (
                    c != label_cols[0]
                    and n_text == 0
                    and n_numbering == 0
                    and starts > 0
                    and n_num == 0
                ):
                    left = [x for x in label_cols if x < c]
                    if left and all(stats[x][0] > 0 or stats[x][3] == 0 for x in left[-1:]):
                        roles[c] = "value"
        # value columns whose data cells are all covered by a merge from the left are no columns
        rows_n = last - first + 1
        columns = []
        for c in range(cmin, cmax + 1):
            role = roles[c]
            n_text, n_num, n_numbering, n_top, n_covered = stats[c]
            if n_covered >= rows_n and c > cmin:
                # covered by merges from the left in every data row (a label or value merged
                # over two or more columns): part of the column on its left
                continue
            letter = get_column_letter(c)
            path = _dedupe(paths[c])
            column = ColumnSpec(
                sheet=self.name,
                table=table.spec.index,
                col=c,
                letter=letter,
                role=role,
                key=f"c{c}",
                header_path=path,
                number_label=number_labels.get(c),
            )
            unit = _unit_in_header(path)
            if unit and role == "value":
                column.unit = unit
            columns.append(column)
        table.spec.columns = columns
        for column in columns:
            c = column.col
            if column.role == "label":
                table.label_cols.append(c)
            elif column.role == "stt" and table.stt_col is None:
                table.stt_col = c
            elif column.role == "unit" and table.unit_col is None:
                table.unit_col = c
            elif column.role == "code" and table.code_col is None:
                table.code_col = c
            elif column.role in ("value", "note"):
                table.value_cols.append(c)
        if not table.label_cols and table.stt_col is None:
            table.value_cols = []

    # -- rows ----------------------------------------------------------------------------------
    def build(self) -> None:
        """Rows of every table, with kind, number, label, unit, code, level and parent."""
        ws = self.ws
        hidden_rows = {r for r, d in ws.row_dimensions.items() if d.hidden and r <= self.max_row}
        self.hidden_rows = hidden_rows
        hidden_cols = []
        for key, dim in ws.column_dimensions.items():
            if not dim.hidden:
                continue
            lo = dim.min or 0
            hi = dim.max or 0
            try:
                idx = openpyxl.utils.column_index_from_string(key)
            except ValueError:
                idx = lo
            lo = lo or idx
            hi = max(hi, idx)
            for c in range(max(lo, idx), min(hi, self.max_col) + 1):
                hidden_cols.append(c)
        self.hidden_cols = sorted(set(hidden_cols))
        self.sheet.hidden_rows = sorted(hidden_rows)
        self.sheet.hidden_columns = [get_column_letter(c) for c in self.hidden_cols]
        for r in self.sheet.hidden_rows:
            self.book.spec.problems.append(
                Problem(
                    "Dòng bị ẩn trong mẫu — vẫn được đưa vào biểu mẫu.",
                    sheet=self.name,
                    row=r,
                    column="A",
                    severity="warning",
                )
            )
        for c in self.hidden_cols:
            self.book.spec.problems.append(
                Problem(
                    "Cột bị ẩn trong mẫu — vẫn được đưa vào biểu mẫu.",
                    sheet=self.name,
                    row=self.tables[0].spec.header_first_row if self.tables else 1,
                    column=get_column_letter(c),
                    severity="warning",
                )
            )
        for key, dim in list(ws.column_dimensions.items())[:200]:
            if dim.width and not dim.hidden:
                try:
                    idx = openpyxl.utils.column_index_from_string(key)
                except ValueError:
                    continue
                if idx <= self.max_col:
                    self.sheet.column_widths[key] = float(dim.width)
        first_header = self.tables[0].spec.header_first_row
        for r in range(1, first_header):
            for c in sorted(self.by_row.get(r, {})):
                t = self.own_text(r, c)
                if t:
                    self.sheet.title.append(t)
        for table in self.tables:
            self.build_rows(table)
            self.sheet.tables.append(table.spec)

    def build_rows(self, table: _Table) -> None:
        spec = table.spec
        has_roman = False
        infos = []
        for r in range(spec.first_row, spec.last_row + 1):
            info = self.row_info(table, r)
            if info is None:
                continue
            if info["numbering"] and info["numbering"][0] == "roman":
                has_roman = True
            infos.append(info)
        entity = self.is_entity_table(table, infos)
        text_shape = self.is_text_table(table)
        spec.shape = "text" if text_shape else ("entity" if entity else "indicator")
        has_unit_col = table.unit_col is not None
        base = 1 if has_roman else 0
        stack: list[tuple[tuple, int]] = []
        last_number_level = base - 1
        by_level: dict[int, int] = {}
        previous: tuple[dict, int] | None = None  # the row before: (info, level)
        for info in infos:
            r = info["row"]
            kind = self.row_kind(table, info, has_unit_col, spec.shape)
            num = info["numbering"]
            nested = self.inline_number_level(info, previous, stack) if info["inline"] else None
            if nested is not None:
                level = nested
            elif num and num[0] == "roman":
                level = 0
                stack = []
                last_number_level = 0
            elif num and num[0] == "arabic":
                level = base + num[1].count(".")
                stack = []
                last_number_level = level
            elif num and num[0] == "letter":
                level = last_number_level + 1
                stack = []
            elif not info["marker"] and not info["indent"]:
                level = last_number_level + 1
                stack = [(("", 0, False), level)]
            else:
                # a bold "- Heading" and a plain "- item" are two kinds of row, not one
                mark = (info["marker"], info["indent"], bool(info["marker"] and info["bold"]))
                level = None
                for i, (key, lvl) in enumerate(stack):
                    if key == mark:
                        level = lvl
                        stack = stack[: i + 1]
                        break
                if level is None:
                    deeper = [
                        lvl
                        for key, lvl in stack
                        if key[1] < mark[1] or (key[1] == mark[1] and key[0] != mark[0])
                    ]
                    if stack and mark[1] > 0 and stack[-1][0][1] > mark[1]:
                        # less indented than the last row: back to a shallower level
                        shallower = [lvl for key, lvl in stack if key[1] <= mark[1]]
                        level = shallower[-1] if shallower else last_number_level + 1
                    elif stack:
                        level = stack[-1][1] + 1 if deeper or not stack else stack[-1][1] + 1
                    else:
                        level = last_number_level + 1
                    if not info["marker"] and not mark[1] and not stack and kind == "heading":
                        level = max(last_number_level + 1, 0)
                    stack.append((mark, level))
                level = max(level, 0)
            previous = (info, level)
            parent = None
            for lvl in range(level - 1, -1, -1):
                if lvl in by_level:
                    parent = by_level[lvl]
                    break
            by_level[level] = r
            for deeper_level in [lvl for lvl in by_level if lvl > level]:
                del by_level[deeper_level]
            if parent is not None:
                self.parent_row[r] = parent
            row = RowSpec(
                sheet=self.name,
                table=spec.index,
                row=r,
                kind=kind,
                key=f"r{r}",
                label=info["label"],
                number=info["number"],
                unit=info["unit"] or None,
                code=info["code"] or None,
                level=level,
                bold=info["bold"],
                hidden=r in self.hidden_rows,
            )
            if info["code"]:
                self.code_col_of[r] = table.code_col
            self.rows.append(row)
            self.row_tables[r] = table
        table_rows = [row for row in self.rows if self.row_tables.get(row.row) is table]
        marked = any(info["marker"] or info["indent"] or not info["numbering"] for info in infos)
        if marked and self.nest_by_sums(table, table_rows):
            by_level = {}
            for row in table_rows:
                self.parent_row.pop(row.row, None)
                for lvl in range(row.level - 1, -1, -1):
                    if lvl in by_level:
                        self.parent_row[row.row] = by_level[lvl]
                        break
                by_level[row.level] = row.row
                for deeper_level in [lvl for lvl in by_level if lvl > row.level]:
                    del by_level[deeper_level]

    @staticmethod
    def inline_number_level(info, previous, stack: list) -> int | None:
        """Level of an item numbered in its label ("1. …" with an empty STT cell), or None.

        A numbering that starts again at 1 right after a "-" / "+" row (say a bold "- Heading")
        lists the parts of that row: its items sit one level below it, their own "-" items one
        level below them, until a row of the heading's own kind (another bold "-" at the same
        indentation) or a higher one closes the list. The next numbers (2., 3., …) take the
        level of the 1. Anything else keeps the ordinary rules (None).
        """
        key = ("#", info["indent"], False)
        for i, (mark, lvl) in enumerate(stack):
            if mark == key:
                del stack[i + 1 :]
                return lvl
        if info["inline"] != "1" or previous is None or not previous[0]["marker"]:
            return None
        if not stack or stack[-1][0][0] != previous[0]["marker"]:
            return None
        level = previous[1] + 1
        stack.append((key, level))
        return level

    def nest_by_sums(self, table: _Table, rows: list[RowSpec]) -> bool:
        """A total row "=SUM(E9:E33)" is the parent of rows 9..33: deepen them when needed."""
        index = {row.row: i for i, row in enumerate(rows)}
        changed = False
        for row in rows:
            for c in table.value_cols:
                v = self.values.get((row.row, c))
                if not isinstance(v, str):
                    continue
                m = SUM_RE.match(v)
                if not m:
                    continue
                col1, first, col2, last = m.group(1), int(m.group(2)), m.group(3), int(m.group(4))
                if (
                    col1 != col2
                    or col1 != get_column_letter(c)
                    or not (row.row < first <= last <= table.spec.last_row)
                ):
                    break
                inside = [rows[index[r]] for r in range(first, last + 1) if r in index]
                if not inside:
                    break
                delta = row.level + 1 - min(x.level for x in inside)
                if delta > 0:
                    for x in inside:
                        x.level += delta
                    changed = True
                break
        return changed

    def row_info(self, table: _Table, r: int):
        label_parts = []
        number = None
        bold = False
        indent = 0
        marker = ""
        num = None
        if table.stt_col is not None:
            mr = self.merge_of.get((r, table.stt_col))
            if mr is None or mr.min_row == r:
                t = self.text(r, table.stt_col)
            else:
                t = ""
            if t:
                num = numbering(t)
                if num:
                    number = num[1]
                elif t in ("-", "+", "*", "•", "–", "—"):
                    number = t
                    marker = t
                else:
                    label_parts.append(t)
                cell = self.ws._cells.get(
                    (mr.min_row, mr.min_col) if mr is not None else (r, table.stt_col)
                )
                if cell is not None and self.book.bold(cell):
                    bold = True
        for c in table.label_cols:
            mr = self.merge_of.get((r, c))
            if mr is not None and mr.min_col < c and mr.min_col in table.label_cols:
                continue
            raw = self.values.get((mr.min_row, mr.min_col) if mr is not None else (r, c))
            t = self.text(r, c)
            if not t or (label_parts and t == label_parts[-1]):
                continue
            if not label_parts or c == table.label_cols[0]:
                cell = self.ws._cells.get((mr.min_row, mr.min_col) if mr is not None else (r, c))
                if isinstance(raw, str):
                    stripped = raw.replace("\u00a0", " ")
                    indent = max(indent, len(stripped) - len(stripped.lstrip(" ")))
                if cell is not None:
                    indent = max(indent, self.book.indent(cell) * 2)
                    if self.book.bold(cell):
                        bold = True
                m = MARKER_RE.match(t)
                if m and not label_parts and m.group(2):
                    marker = m.group(1)
                    t = m.group(2).strip()
                    if number is None:
                        number = marker
            label_parts.append(t)
        label = " — ".join(label_parts)
        inline = None
        if num is None and not marker:
            m = INLINE_NUMBER_RE.match(label)
            if m:
                inline = m.group(1)
        unit = self.text(r, table.unit_col) if table.unit_col is not None else ""
        code = self.text(r, table.code_col) if table.code_col is not None else ""
        has_values = False
        for c in table.value_cols:
            v = self.values.get((r, c))
            if v is not None and not (isinstance(v, str) and not v.strip()):
                has_values = True
                break
        if not label and not number and not unit and not code:
            if not has_values:
                return None
        return {
            "row": r,
            "label": label,
            "number": number,
            "numbering": num,
            "marker": marker,
            "inline": inline,
            "indent": indent,
            "bold": bold,
            "unit": unit,
            "code": code,
            "has_values": has_values,
        }

    def row_kind(self, table: _Table, info, has_unit_col: bool, shape: str) -> str:
        r = info["row"]
        if self.protected:
            open_cells = False
            for c in table.value_cols:
                cell = self.ws._cells.get((r, c))
                if cell is None:
                    continue
                v = cell._value
                if (isinstance(v, str) and v.startswith("=")) or isinstance(v, ArrayFormula):
                    open_cells = True
                    break
                if self.book.unlocked(cell):
                    open_cells = True
                    break
            heading = not open_cells
        else:
            numbered_roman = info["numbering"] is not None and info["numbering"][0] == "roman"
            heading = (
                not info["unit"]
                and not info["code"]
                and not info["has_values"]
                and (numbered_roman or info["bold"] or info["label"].endswith(":") or has_unit_col)
            )
        if heading:
            return "heading"
        if shape == "text":
            return "text"
        if shape == "entity" and not is_total(info["label"]):
            return "entity"
        return "indicator"

    def is_entity_table(self, table: _Table, infos) -> bool:
        if table.unit_col is not None or not table.label_cols:
            return False
        header = ""
        for column in table.spec.columns:
            if column.col == table.label_cols[0]:
                header = fold(column.header_path[0] if column.header_path else "")
        if not header.startswith(
            (
                "ten ",
                "ho va ten",
                "ho ten",
                "don vi",
                "co so",
                "truong",
                "xa",
                "phuong",
                "benh vien",
            )
        ):
            return False
        dotted = sum(
            1
            for i in infos
            if i["numbering"] and (i["numbering"][0] == "roman" or "." in i["numbering"][1])
        )
        return dotted == 0

    def is_text_table(self, table: _Table) -> bool:
        value_cols = [c for c in table.value_cols]
        if not value_cols:
            return False
        long_texts = sum(table.content_stats.get(c, (0, 0, 0))[2] for c in value_cols)
        numbers = sum(table.content_stats.get(c, (0, 0, 0))[1] for c in value_cols)
        if long_texts and long_texts >= numbers:
            return True
        widths = [self.ws.column_dimensions[get_column_letter(c)].width or 0 for c in value_cols]
        headers = " ".join(
            " ".join(col.header_path) for col in table.spec.columns if col.col in value_cols
        )
        key = fold(headers)
        return (
            bool(widths)
            and min(widths) >= 40
            and not numbers
            and any(
                k in key
                for k in ("noi dung", "ket qua", "tinh hinh", "danh gia", "y kien", "mo ta")
            )
        )

    # -- cells ---------------------------------------------------------------------------------
    def validations(self):
        """{(row, col): DataValidation} for validated cells near the used area."""
        result = {}
        try:
            items = self.ws.data_validations.dataValidation
        except AttributeError:
            return result
        for dv in items:
            for rng in dv.sqref.ranges:
                min_row = max(rng.min_row, 1)
                max_row = min(rng.max_row, self.max_row + 60)
                min_col = max(rng.min_col, 1)
                max_col = min(rng.max_col, self.max_col + 4)
                if (max_row - min_row + 1) * (max_col - min_col + 1) > 500000:
                    continue
                for r in range(min_row, max_row + 1):
                    for c in range(min_col, max_col + 1):
                        result.setdefault((r, c), dv)
        return result

    def build_cells(self) -> None:
        self.dv_at = self.validations()
        self.cell_addresses = set()
        spec = self.book.spec
        rows_by_r = {row.row: row for row in self.rows}
        for table in self.tables:
            columns = {col.col: col for col in table.spec.columns}
            text_cols = self.text_columns(table)
            book = self.book
            fmt_by_id = book.fmt_by_id
            ws_cells = self.ws._cells
            merge_of = self.merge_of
            name = self.name
            cells_append = spec.cells.append
            addresses_add = self.cell_addresses.add
            fast = not self.protected and not self.dv_at and table.spec.shape != "text"
            plain_cols = [
                (c, columns[c].letter, columns[c].key, columns[c].role == "note" or c in text_cols)
                for c in table.value_cols
            ]
            for r in range(table.spec.first_row, table.spec.last_row + 1):
                row = rows_by_r.get(r)
                if row is None or self.row_tables.get(r) is not table:
                    continue
                if fast:
                    # the common case, inlined: an unprotected sheet, a plain cell that is empty
                    # or holds a number, no merge, no validation, no comment
                    for c, letter, key, text_like in plain_cols:
                        if merge_of and (r, c) in merge_of:
                            cell_spec = self.make_cell(table, row, columns[c], r, c, c in text_cols)
                        else:
                            cell = ws_cells.get((r, c))
                            v = None if cell is None else cell._value
                            vclass = v.__class__
                            if (
                                (v is None or vclass is int or vclass is float)
                                and (cell is None or cell._comment is None)
                                and row.kind != "heading"
                            ):
                                if text_like:
                                    ctype, decimals = "text", None
                                elif cell is None:
                                    ctype, decimals = "number", None
                                else:
                                    found = fmt_by_id.get(cell._style.numFmtId) or book.cell_format(
                                        cell
                                    )
                                    ctype, decimals = found[1]
                                    if ctype == "text":
                                        ctype, decimals = "number", None
                                cell_spec = CellSpec(
                                    sheet=name,
                                    cell=f"{letter}{r}",
                                    kind="entry",
                                    type=ctype,
                                    row_key=row.key,
                                    column_key=key,
                                    decimals=decimals if ctype in _DECIMAL_TYPES else None,
                                    value=v,
                                )
                            else:
                                cell_spec = self.make_cell(
                                    table, row, columns[c], r, c, c in text_cols
                                )
                        if cell_spec is not None:
                            cells_append(cell_spec)
                            addresses_add(cell_spec.cell)
                else:
                    for c in table.value_cols:
                        cell_spec = self.make_cell(table, row, columns[c], r, c, c in text_cols)
                        if cell_spec is not None:
                            cells_append(cell_spec)
                            addresses_add(cell_spec.cell)
                for column in table.spec.columns:
                    if column.role in ("value", "note"):
                        continue
                    v = self.values.get((r, column.col))
                    if isinstance(v, str) and v.startswith("="):
                        cell_spec = self.make_cell(table, row, column, r, column.col, False)
                        if cell_spec is not None:
                            spec.cells.append(cell_spec)
                            self.cell_addresses.add(cell_spec.cell)
                            spec.problems.append(
                                Problem(
                                    f"Công thức nằm trong cột «{' / '.join(column.header_path)}» "
                                    "(không phải cột số liệu) — vẫn được tính như ô công thức.",
                                    sheet=self.name,
                                    row=r,
                                    column=column.letter,
                                    severity="warning",
                                )
                            )

    def text_columns(self, table: _Table) -> set[int]:
        """Value columns that hold mostly texts (not numbers, not formulas, not "x" marks)."""
        result = set()
        for c in table.value_cols:
            n_text, n_num, _ = table.content_stats.get(c, (0, 0, 0))
            if n_text >= 2 and n_text > n_num:
                result.add(c)
        return result

    def make_cell(
        self, table, row: RowSpec, column: ColumnSpec, r: int, c: int, text_col: bool
    ) -> CellSpec | None:
        merged_range = None
        if self.merge_of:
            mr = self.merge_of.get((r, c))
            if mr is not None:
                if mr.min_row != r or mr.min_col != c:
                    return None
                if mr.max_row != mr.min_row or mr.max_col != mr.min_col:
                    merged_range = mr.coord
        cell = self.ws._cells.get((r, c))
        book = self.book
        if cell is None:
            v = None
            fmt, (ctype, decimals) = "General", ("number", None)
        else:
            v = cell._value
            found = book.fmt_by_id.get(cell._style.numFmtId)
            fmt, (ctype, decimals) = found if found is not None else book.cell_format(cell)
        formula = None
        blank = v is None
        if v.__class__ is str:
            if v.startswith("=") and cell.data_type == "f":
                formula = v[1:].lstrip()
            elif not v.strip():
                blank = True
        elif isinstance(v, ArrayFormula):
            formula = (v.text or "").lstrip("=").lstrip()
        if row.kind == "heading":
            if formula is None and (blank or not self.protected or not book.unlocked(cell)):
                return None
        if column.role == "note" or text_col:
            ctype, decimals = "text", None
        elif ctype == "text" and fmt == "@":
            # "@" is often put over a whole grid by habit (kdyt, gddt): in a value column it
            # marks text only when the column holds text
            ctype, decimals = "number", None
        if table.spec.shape == "text":
            ctype, decimals = "text", None
        help_text = None
        value = None
        if formula is not None:
            kind = "computed"
            if ctype == "text":
                ctype = "number"
        elif self.protected:
            if cell is not None and book.unlocked(cell):
                kind = "entry"
                if not blank:
                    value = _plain(v)
            elif blank:
                return None
            else:
                kind = "fixed"
                value = _plain(v)
        elif blank:
            kind = "entry"
        elif v.__class__ is str:
            t = clean(v)
            if PLACEHOLDER_RE.match(t):
                kind = "fixed"
                value = t
            elif ctype == "text" or text_col:
                kind = "entry"
                value = t
            else:
                kind = "entry"
                help_text = t
        else:
            kind = "entry"
            value = _plain(v)
        spec = CellSpec(
            sheet=self.name,
            cell=f"{column.letter}{r}",
            kind=kind,
            type=ctype,
            row_key=row.key,
            column_key=column.key,
            merged_range=merged_range,
            decimals=decimals if ctype in _DECIMAL_TYPES else None,
            help=help_text,
            formula=formula,
            value=value,
        )
        if cell is not None and cell._comment is not None:
            comment = clean(cell._comment.text)
            if comment:
                spec.help = f"{help_text}\n{comment}" if help_text else comment
        if self.dv_at:
            dv = self.dv_at.get((r, c))
            if dv is not None and kind == "entry":
                self.apply_validation(spec, dv, row.label)
        if formula is not None:
            book.formula_cells[self.name].append(spec)
        return spec

    def apply_validation(self, spec: CellSpec, dv, label: str) -> None:
        kind = dv.type
        if kind == "list":
            values, hint = self.list_values(dv.formula1)
            if values:
                spec.type = "choice"
                spec.decimals = None
                spec.choices = self.book.choice_list(values, hint or label)
        elif kind in ("whole", "decimal"):
            spec.type = (
                "integer"
                if kind == "whole"
                else ("decimal" if spec.type != "percent" else "percent")
            )
            if kind == "whole":
                spec.decimals = 0
            low = _number(dv.formula1)
            high = _number(dv.formula2)
            op = dv.operator or "between"
            if op == "between":
                spec.min, spec.max = low, high
            elif op in ("greaterThanOrEqual", "greaterThan"):
                spec.min = low
            elif op in ("lessThanOrEqual", "lessThan"):
                spec.max = low
            elif op == "equal":
                spec.min = spec.max = low
        elif kind == "date":
            spec.type = "date"
            spec.decimals = None
        if dv.prompt and not spec.help:
            spec.help = clean(dv.prompt)

    def list_values(self, formula: str | None) -> tuple[list[str], str]:
        if not formula:
            return [], ""
        formula = formula.strip()
        if formula.startswith('"') and formula.endswith('"'):
            items = [clean(x) for x in formula[1:-1].split(",")]
            return [x for x in items if x], ""
        ref = formula.lstrip("=")
        hint = ""
        if "!" not in ref and not re.match(r"^\$?[A-Z]+\$?\d*(:\$?[A-Z]+\$?\d*)?$", ref):
            defined = self.book.wb.defined_names.get(ref)
            if defined is None:
                defined = (
                    self.ws.defined_names.get(ref) if hasattr(self.ws, "defined_names") else None
                )
            if defined is None:
                return [], ""
            hint = ref
            ref = defined.attr_text
        sheet_name = self.name
        if "!" in ref:
            sheet_name, ref = ref.rsplit("!", 1)
            sheet_name = sheet_name.strip("'").replace("''", "'")
        try:
            ws = self.book.wb[sheet_name]
            min_col, min_row, max_col, max_row = range_boundaries(ref.replace("$", ""))
        except (KeyError, ValueError, TypeError):
            return [], hint
        min_row = min_row or 1
        max_row = min(max_row or ws.max_row, min_row + 2000, ws.max_row)
        max_col = min(max_col or min_col, min_col + 20)
        items = []
        for r in range(min_row, max_row + 1):
            for c in range(min_col, max_col + 1):
                v = ws._cells.get((r, c))
                t = clean(v._value) if v is not None else ""
                if t and t not in items:
                    items.append(t)
        return items, hint or (f"{sheet_name} {ref}" if sheet_name != self.name else "")

    # -- outside the tables: narrative blocks and single fields --------------------------------
    def build_outside(self) -> None:
        in_table = set()
        for table in self.tables:
            in_table.update(range(table.spec.header_first_row, table.spec.last_row + 1))
        first_header = self.tables[0].spec.header_first_row
        used_keys = {b.key for b in self.book.spec.narrative_blocks}
        blocks = []
        for mr in sorted(self.merges, key=lambda m: (m.min_row, m.min_col)):
            if mr.min_row < first_header or any(
                rr in in_table for rr in range(mr.min_row, mr.max_row + 1)
            ):
                continue
            v = self.values.get((mr.min_row, mr.min_col))
            t = clean(v) if v is not None else ""
            if t and len(t) < 100:
                continue
            label = self.narrative_label(mr)
            rows = mr.max_row - mr.min_row + 1
            cols = mr.max_col - mr.min_col + 1
            if not label and not (rows >= 3 and cols >= 3):
                continue
            if label and rows * cols < 2:
                continue
            blocks.append((mr, label))
        for mr, label in blocks:
            base = (
                slug(re.sub(r"^\s*([0-9]+|[IVXLC]+)\s*[.)]\s*", "", label))
                if label
                else f"n{mr.min_row}"
            )
            key = base if not self.prefix else f"{self.prefix}_{base}"
            n = 2
            while key in used_keys:
                key = f"{base}_{n}"
                n += 1
            used_keys.add(key)
            self.book.spec.narrative_blocks.append(
                NarrativeBlock(sheet=self.name, range=mr.coord, key=key, label=label)
            )
            for rr in range(mr.min_row, mr.max_row + 1):
                in_table.add(rr)
        # single fields: a drop-down list, or an unlocked cell of a protected sheet, outside tables
        dv_at = self.dv_at
        candidates = set()
        for (r, c), dv in dv_at.items():
            if (
                r not in in_table
                and r >= first_header
                and dv.type in ("list", "whole", "decimal", "date")
            ):
                candidates.add((r, c))
        if self.protected:
            for (r, c), cell in self.ws._cells.items():
                if r in in_table or r < first_header or r > self.max_row:
                    continue
                if self.book.unlocked(cell) and (r, c) not in self.merge_of:
                    candidates.add((r, c))
                elif self.book.unlocked(cell):
                    mr = self.merge_of[(r, c)]
                    if (mr.min_row, mr.min_col) == (r, c):
                        candidates.add((r, c))
        for r, c in sorted(candidates):
            label = ""
            for cc in range(c - 1, 0, -1):
                t = self.text(r, cc)
                if t:
                    label = t.rstrip(" :")
                    break
            if not label:
                continue
            if (r, c) in self.merge_of and (
                self.merge_of[(r, c)].min_row,
                self.merge_of[(r, c)].min_col,
            ) != (r, c):
                continue
            key = f"{self.prefix}r{r}"
            row = RowSpec(
                sheet=self.name,
                table=len(self.tables) - 1,
                row=r,
                kind="indicator",
                key=key,
                label=label,
            )
            if not any(x.key == key for x in self.book.spec.rows):
                self.book.spec.rows.append(row)
            column = ColumnSpec(
                sheet=self.name,
                table=row.table,
                col=c,
                letter=get_column_letter(c),
                role="value",
                key=f"c{c}",
            )
            cell_spec = self.make_cell(self.tables[-1], row, column, r, c, False)
            if cell_spec is not None and cell_spec.cell not in self.cell_addresses:
                cell_spec.column_key = None
                self.book.spec.cells.append(cell_spec)
                self.cell_addresses.add(cell_spec.cell)

    def narrative_label(self, mr) -> str:
        # a label on the same row to the left, or in the two rows above
        for cc in range(mr.min_col - 1, 0, -1):
            t = self.text(mr.min_row, cc)
            if t:
                return _label(t) if is_narrative_label(t) else ""
        for rr in (mr.min_row - 1, mr.min_row - 2):
            for cc in range(1, mr.max_col + 1):
                t = self.own_text(rr, cc)
                if t and is_narrative_label(t):
                    return _label(t)
        return ""


def _label(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().rstrip(":").strip()


def _dedupe(items: list[str]) -> list[str]:
    result = []
    for item in items:
        if not result or result[-1] != item:
            result.append(item)
    return result


def _unit_in_header(path: list[str]) -> str | None:
    for text in reversed(path):
        match = re.search(r"\(([^()]{1,30})\)\s*$", text)
        if match:
            inner = match.group(1).strip()
            if not re.fullmatch(r"\d+|[A-Z]|\d+\s*=.*", inner) and inner != "%":
                return inner
            if inner == "%":
                return "%"
    return None


def _plain(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str):
        return clean(value)
    return value


def _number(text):
    if text is None:
        return None
    try:
        return float(str(text).strip().lstrip("="))
    except ValueError:
        return None
