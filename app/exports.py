"""Exports of the province's figures (seed 001 Art. 6.5: "to many file types, easily and
quickly"): .xlsx, .csv (UTF-8 with a BOM, so that Excel shows Vietnamese) and JSON, each
labelled official or provisional.

A table is a title, its label, a header and an iterator of rows; writers consume the rows as
they come: CSV is yielded in chunks, .xlsx is written by XlsxWriter in constant-memory mode (each
row goes to a temporary file once the next begins, and the workbook is a temporary file a
download streams), JSON is yielded in chunks too; a large export never holds the workbook in
memory. The breakdown by unit (``unit_matrix_table``) is a matrix of numbers and blanks after
two label columns, written without a type test per cell, its rows read from the database as
they are written.

Domain code: no request is needed."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

import xlsxwriter
from sqlalchemy import select

from app.models import Indicator, Unit, ValueColumn

CSV_BATCH = 500  # rows per yielded chunk


@dataclass
class Table:
    title: str
    label: str  # official or provisional, shown in every output
    header: list[str]
    rows: Iterable[list]
    # from this column on, every cell is a number or blank (a matrix of figures): the .xlsx
    # writer then skips the per-cell type test
    numbers_from: int | None = None


def with_breakdown_sheet(workbook: bytes, title: str, label: str, header: list[str],
                         rows: Iterable[list]) -> bytes:
    """The filled template with one more sheet: one row per unit (the consolidated report's
    breakdown), under its title and its official/provisional label."""
    from openpyxl import load_workbook
    from openpyxl.styles import Font

    book = load_workbook(io.BytesIO(workbook))
    sheet = book.create_sheet("Chi tiết theo đơn vị")
    sheet.append([title])
    sheet["A1"].font = Font(bold=True)
    sheet.append([label])
    sheet.append(header)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([float(v) if isinstance(v, Decimal) else v for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _number_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "") else text
    return str(value)


def value_column_names(session) -> dict[str, str]:
    """The catalogue's value columns: {key: name}."""
    return dict(session.execute(select(ValueColumn.key, ValueColumn.name)).all())


def _names(session, aggregate):
    indicator_ids = {key[1] for key in aggregate.cells}
    indicators = {i.id: i for i in session.scalars(
        select(Indicator).where(Indicator.id.in_(indicator_ids)))} if indicator_ids else {}
    columns = value_column_names(session)
    unit_ids = {key[0] for key in aggregate.cells if key[0] is not None}
    units = {u.id: u for u in session.scalars(
        select(Unit).where(Unit.id.in_(unit_ids)))} if unit_ids else {}
    return indicators, columns, units


def aggregate_table(session, aggregate, title: str) -> Table:
    """One row per figure: (unit,) indicator, column, breakdown, value — in catalogue order."""
    indicators, columns, units = _names(session, aggregate)
    by_unit = aggregate.by_unit
    header = (["Mã đơn vị", "Đơn vị"] if by_unit else []) + [
        "Mã chỉ tiêu", "Chỉ tiêu", "Đơn vị tính", "Cột", "Phân tổ", "Giá trị"]

    def order(key):
        unit_id, indicator_id, column_key, breakdown_key = key
        unit = units.get(unit_id)
        indicator = indicators.get(indicator_id)
        return ((unit.path if unit else ""), (indicator.code if indicator else ""), column_key,
                breakdown_key)

    def rows() -> Iterator[list]:
        for key in sorted(aggregate.cells, key=order):
            cell = aggregate.cells[key]
            indicator = indicators.get(cell.indicator_id)
            unit = units.get(cell.unit_id)
            lead = [unit.admin_code or unit.internal_code or "", unit.name] if by_unit else []
            yield lead + [
                indicator.code if indicator else "", indicator.name if indicator else "",
                (indicator.unit_of_measure or "") if indicator else "",
                columns.get(cell.column_key, cell.column_key), cell.breakdown_key, cell.value,
            ]

    return Table(title=title, label=aggregate.label, header=header, rows=rows())


def unit_matrix_table(matrix, title: str) -> Table:
    """The breakdown sheet (``app.consolidation.unit_matrix``): one row per unit, one column
    per indicator of one value column."""
    header = ["Mã đơn vị", "Đơn vị"] + [f"{code} {name}" for _id, code, name in matrix.indicators]
    return Table(title=title, label=matrix.label, header=header, rows=matrix.rows,
                 numbers_from=2)


def series_table(session, points, indicator, title: str, label: str) -> Table:
    """One indicator over periods: one row per period, one column per value column and
    breakdown the indicator has a figure in. ``points`` are (period, Aggregate) in order."""
    columns = value_column_names(session)
    places = sorted({(key[2], key[3]) for _period, figures in points for key in figures.cells
                     if key[1] == indicator.id})
    header = ["Kỳ"] + [columns.get(column, column) + (f" — {breakdown}" if breakdown else "")
                       for column, breakdown in places]

    def rows() -> Iterator[list]:
        for period, figures in points:
            yield [period.label] + [figures.value(indicator.id, column, breakdown)
                                    for column, breakdown in places]

    unit_note = f" ({indicator.unit_of_measure})" if indicator.unit_of_measure else ""
    return Table(title=f"{title} — {indicator.code} {indicator.name}{unit_note}", label=label,
                 header=header, rows=rows())


def csv_chunks(table: Table) -> Iterator[str]:
    """The table as CSV text in chunks: a BOM, the title and label lines, the header, rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([table.title])
    writer.writerow([table.label])
    writer.writerow(table.header)
    for count, row in enumerate(table.rows, start=1):
        writer.writerow([_number_text(v) if isinstance(v, Decimal | int | float) else v
                         for v in row])
        if count % CSV_BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_chunks(table: Table) -> Iterator[str]:
    """The table as a JSON document in chunks, rows as they come: {"title", "label", "header",
    "rows"}, numbers as plain decimal strings (exact), blanks as null."""
    dumps = json.dumps
    head = {"title": table.title, "label": table.label, "header": table.header}
    lines = [dumps(head, ensure_ascii=False)[:-1] + ',\n"rows": [']
    separator = "\n"
    for count, row in enumerate(table.rows, start=1):
        lines.append(separator + dumps(
            [(_number_text(v) or None) if isinstance(v, Decimal | int | float) else v
             for v in row], ensure_ascii=False))
        separator = ",\n"
        if count % CSV_BATCH == 0:
            yield "".join(lines)
            lines = []
    lines.append("\n]}\n")
    yield "".join(lines)


def json_bytes(table: Table) -> bytes:
    return "".join(json_chunks(table)).encode("utf-8")


def xlsx_bytes(table: Table) -> bytes:
    """The table as an .xlsx workbook in memory (see ``write_xlsx``)."""
    out = io.BytesIO()
    write_xlsx(table, out)
    return out.getvalue()


def xlsx_file(table: Table) -> IO[bytes]:
    """The table as an .xlsx workbook in a temporary file, open at its start; the file is
    gone once closed (a download streams it from disk, nothing of it stays in memory)."""
    out = tempfile.TemporaryFile(prefix="htttbc-export-", suffix=".xlsx")
    try:
        write_xlsx(table, out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def write_xlsx(table: Table, out) -> None:
    """Write the table into ``out`` as an .xlsx workbook, row by row in constant memory
    (XlsxWriter): the title, the official/provisional label, the header, then the rows;
    numbers stay numbers."""
    workbook = xlsxwriter.Workbook(out, {"constant_memory": True})
    sheet = workbook.add_worksheet("Số liệu")
    title = workbook.add_format({"bold": True, "font_size": 13})
    label = workbook.add_format({"italic": True})
    bold = workbook.add_format({"bold": True})
    sheet.write_string(0, 0, table.title, title)
    sheet.write_string(1, 0, table.label, label)
    sheet.write_row(2, 0, table.header, bold)
    numbers_from = table.numbers_from
    write_number, write_string = sheet.write_number, sheet.write_string
    for index, row in enumerate(table.rows, start=3):
        if numbers_from is not None:  # a matrix: labels, then numbers or blanks
            for column in range(numbers_from):
                if row[column] is not None:
                    write_string(index, column, str(row[column]))
            for column, value in enumerate(row[numbers_from:], start=numbers_from):
                if value is not None:
                    write_number(index, column, float(value))
            continue
        for column, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, Decimal | int | float):
                write_number(index, column, float(value))
            else:
                write_string(index, column, str(value))
    workbook.close()
