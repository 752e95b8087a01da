"""Shared pieces of the file imports: row errors, the result object, and an .xlsx/.csv row reader.

Every import follows the same steps: read the rows, check every row, collect per-row errors and
the rows that would be written; write nothing when there is an error or on a dry run, otherwise
write everything in one transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from openpyxl.utils import get_column_letter

from app.text import fold, nfc


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong format, no header row…)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class RowError:
    sheet: str
    row: int | None
    column: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [f"Trang «{self.sheet}»"]
        if self.row is not None:
            where.append(f"dòng {self.row}")
        if self.column:
            where.append(f"cột {self.column}")
        if self.field:
            where.append(f"trường «{self.field}»")
        return ", ".join(where) + ": " + self.message


@dataclass
class PlannedRow:
    """A row that would be created or updated."""

    row: int
    action: str  # "create" | "update"
    label: str
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def action_label(self) -> str:
        return {"create": "Tạo mới", "update": "Cập nhật"}.get(self.action, self.action)


@dataclass
class ImportResult:
    kind: str
    filename: str
    sheet: str = ""
    dry_run: bool = True
    errors: list[RowError] = field(default_factory=list)
    rows: list[PlannedRow] = field(default_factory=list)
    written: bool = False
    created: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def rows_with_errors(self) -> set[int]:
        return {e.row for e in self.errors if e.row is not None}

    def errors_for(self, row: int) -> list[RowError]:
        return [e for e in self.errors if e.row == row]

    def add_error(self, row, column, field_label, message, sheet=None) -> None:
        self.errors.append(RowError(sheet or self.sheet, row, column, field_label, message))

    def summary(self) -> str:
        creates = sum(1 for r in self.rows if r.action == "create")
        updates = sum(1 for r in self.rows if r.action == "update")
        if self.errors:
            return (
                f"Tệp «{self.filename}» có {len(self.errors)} lỗi; chưa ghi gì vào hệ thống."
            )
        if self.written:
            return f"Đã ghi: {creates} tạo mới, {updates} cập nhật."
        return f"Chạy thử: sẽ tạo mới {creates}, cập nhật {updates}; chưa ghi gì vào hệ thống."


@dataclass
class Column:
    """A column the import knows: a key, the label shown in messages and the header wordings."""

    key: str
    label: str
    aliases: tuple[str, ...] = ()
    required: bool = False


@dataclass
class SheetRow:
    number: int
    values: dict[str, Any]
    letters: dict[str, str]

    def get(self, key: str):
        value = self.values.get(key)
        if isinstance(value, str):
            value = nfc(value)
            return value or None
        return value

    def letter(self, key: str) -> str | None:
        return self.letters.get(key)


@dataclass
class Sheet:
    name: str
    header_row: int
    rows: list[SheetRow]
    letters: dict[str, str]
    raw_rows: list[tuple[int, list[Any]]] = field(default_factory=list)


def header_key(value) -> str:
    """A header cell folded for matching: accents, case, "(*)", trailing colons forgiven."""
    text = fold(str(value)) if value is not None else ""
    text = text.replace("\n", " ")
    text = re.sub(r"\(\s*\*\s*\)|\*", "", text)
    text = re.sub(r"[:.\s]+$", "", text)
    return re.sub(r"\s+", " ", text).strip()


def _match_header(cell, columns: Iterable[Column]) -> Column | None:
    key = header_key(cell)
    if not key:
        return None
    best = None
    for column in columns:
        for alias in (column.label,) + tuple(column.aliases):
            wanted = header_key(alias)
            if key == wanted:
                return column
            # "Tên đơn vị (ghi đầy đủ)" still means "Tên đơn vị".
            if best is None and (key.startswith(wanted + " (") or key.startswith(wanted + " /")):
                best = column
    return best


def _cells_from_xlsx(data: bytes) -> list[tuple[str, list[tuple[int, list[Any]]]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the same message
        raise ImportFileError(f"Không đọc được tệp Excel (.xlsx): {error}") from error
    sheets = []
    try:
        for worksheet in workbook.worksheets:
            rows = []
            for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
                rows.append((number, list(values)))
                if number > 100000:
                    break
            sheets.append((worksheet.title, rows))
    finally:
        workbook.close()
    return sheets


def _cells_from_csv(data: bytes, filename: str) -> list[tuple[str, list[tuple[int, list[Any]]]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(
            "Tệp CSV phải được lưu với bảng mã UTF-8 (trong Excel: Lưu thành → CSV UTF-8)."
        ) from error
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = [(number, list(values)) for number, values in enumerate(reader, start=1)]
    return [(os.path.basename(filename) or "CSV", rows)]


def read_bytes(path_or_stream) -> bytes:
    if isinstance(path_or_stream, (bytes, bytearray)):
        return bytes(path_or_stream)
    if isinstance(path_or_stream, (str, os.PathLike)):
        with open(path_or_stream, "rb") as handle:
            return handle.read()
    data = path_or_stream.read()
    return data.encode("utf-8") if isinstance(data, str) else data


def load_cells(path_or_stream, filename: str):
    data = read_bytes(path_or_stream)
    name = (filename or "").lower()
    if name.endswith(".csv"):
        return _cells_from_csv(data, filename)
    if name.endswith(".xlsx") or name.endswith(".xlsm") or data[:2] == b"PK":
        return _cells_from_xlsx(data)
    raise ImportFileError(
        f"Tệp «{filename}» không đúng định dạng: chỉ nhận tệp Excel (.xlsx) hoặc CSV (.csv)."
    )


def read_sheet(path_or_stream, filename: str, columns: list[Column], scan_rows: int = 30) -> Sheet:
    """Find the header row (the first of the first ``scan_rows`` rows that names every required
    column) on the first sheet that has one, and return its data rows keyed by column key."""
    sheets = load_cells(path_or_stream, filename)
    required = {c.key for c in columns if c.required}
    for sheet_name, rows in sheets:
        for number, values in rows[:scan_rows]:
            found: dict[str, int] = {}
            for index, cell in enumerate(values):
                column = _match_header(cell, columns)
                if column is not None and column.key not in found:
                    found[column.key] = index
            if required <= set(found) and len(found) >= max(2, len(required)):
                letters = {key: get_column_letter(index + 1) for key, index in found.items()}
                data_rows = []
                raw_rows = []
                for row_number, row_values in rows:
                    if row_number <= number:
                        continue
                    picked = {
                        key: (row_values[index] if index < len(row_values) else None)
                        for key, index in found.items()
                    }
                    raw_rows.append((row_number, row_values))
                    data_rows.append(SheetRow(row_number, picked, letters))
                return Sheet(sheet_name, number, data_rows, letters, raw_rows)
    wanted = ", ".join(f"«{c.label}»" for c in columns if c.required)
    raise ImportFileError(
        f"Không tìm thấy dòng tiêu đề trong tệp «{filename}»: cần có các cột {wanted} "
        f"trong {scan_rows} dòng đầu của một trang tính."
    )


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def row_is_empty(row: SheetRow) -> bool:
    return all(is_blank(v) for v in row.values.values())


_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%Y/%m/%d", "%d/%m/%y")


def parse_date(value) -> dt.date | None:
    """dd/mm/yyyy, yyyy-mm-dd, an Excel date or serial number; None when empty; ValueError else."""
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 1 <= value < 2958466:
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
        raise ValueError(value)
    text = str(value).strip()
    text = text.split(" ")[0] if re.match(r"^\d{4}-\d{2}-\d{2}[ T]", text) else text
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(value)


_TRUE = {"co", "x", "1", "true", "dung", "yes", "y", "dang hoat dong", "hoat dong", "con hieu luc"}
_FALSE = {"khong", "0", "false", "sai", "no", "n", "ngung", "ngung hoat dong", "het hieu luc"}


def parse_bool(value, default: bool = True) -> bool:
    """Có/Không, x, 1/0, True/False; empty gives ``default``; ValueError otherwise."""
    if is_blank(value):
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if value in (0, 1):
            return bool(value)
        raise ValueError(value)
    key = fold(str(value))
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueError(value)


def text_of(value) -> str | None:
    """A cell as text: numbers without a trailing ".0", strings NFC-normalised."""
    if is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return nfc(str(value))


def code_of(value) -> str | None:
    """A code cell as text (an Excel number 82 → "82"), without spaces around it."""
    text = text_of(value)
    return text.strip() if text else None


def write_all_or_nothing(session, result, write) -> bool:
    """Run ``write()`` and commit it as one transaction.

    A DomainError rolls everything back and becomes an error on the result (nothing written);
    any other failure rolls back and propagates. Returns True when the rows were written.
    """
    from app.errors import DomainError

    try:
        write()
        session.commit()
    except DomainError as failure:
        session.rollback()
        result.add_error(None, None, None, failure.message)
        return False
    except Exception:
        session.rollback()
        raise
    result.written = True
    return True
