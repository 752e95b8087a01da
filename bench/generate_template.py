"""Generates a large, realistic report template: title block, a two-level merged header, the
row of column numbers, section headings and numbered indicator rows, entry cells and totals.

    python bench/generate_template.py out.xlsx --rows 1000 --value-columns 9
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter

ENTRY_FILL = PatternFill("solid", fgColor="FFF2CC")
SECTIONS = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]


def generate(path: Path, rows: int = 1000, value_columns: int = 9, seed: int = 82) -> dict:
    """Write the template; return what a loader should find (for checks)."""
    rng = random.Random(seed)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Biểu 01"
    last_col = 3 + value_columns
    sheet["A1"] = "UBND TỈNH ĐỒNG THÁP"
    sheet["A2"] = "BÁO CÁO TÌNH HÌNH KINH TẾ - XÃ HỘI THÁNG"
    sheet["A2"].font = Font(bold=True)
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=last_col)
    for col, text in ((1, "STT"), (2, "Chỉ tiêu"), (3, "Đơn vị tính")):
        sheet.cell(row=4, column=col, value=text)
        sheet.merge_cells(start_row=4, start_column=col, end_row=5, end_column=col)
    groups = ["Kế hoạch năm 2026", "Thực hiện tháng 10/2026", "Lũy kế 10 tháng năm 2026"]
    col = 4
    per_group = max(1, value_columns // len(groups))
    for index, group in enumerate(groups):
        width = per_group if index < len(groups) - 1 else value_columns - per_group * (len(groups) - 1)
        sheet.cell(row=4, column=col, value=group)
        if width > 1:
            sheet.merge_cells(start_row=4, start_column=col, end_row=4, end_column=col + width - 1)
        for offset in range(width):
            sheet.cell(row=5, column=col + offset, value=["Tổng số", "Nam", "Nữ"][offset % 3])
        col += width
    for col in range(1, last_col + 1):
        sheet.cell(row=6, column=col, value="ABC"[col - 1] if col <= 3 else str(col - 3))
    row = 7
    entry_cells = 0
    section = 0
    item = 0
    first_item_row = None
    while row < 7 + rows:
        if item % 100 == 0:
            sheet.cell(row=row, column=1, value=SECTIONS[section % len(SECTIONS)]).font = Font(bold=True)
            sheet.cell(row=row, column=2, value=f"Lĩnh vực {section + 1}").font = Font(bold=True)
            section += 1
            item += 1
            row += 1
            first_item_row = row
            continue
        sheet.cell(row=row, column=1, value=str(item % 100))
        sheet.cell(row=row, column=2, value=f"Chỉ tiêu số {item} của lĩnh vực {section}")
        sheet.cell(row=row, column=3, value=rng.choice(["Người", "Tỷ đồng", "ha", "Tấn", "%"]))
        for col in range(4, last_col + 1):
            cell = sheet.cell(row=row, column=col)
            if col % 3 == 1 and col + 2 <= last_col:  # "Tổng số" = Nam + Nữ
                cell.value = f"={get_column_letter(col + 1)}{row}+{get_column_letter(col + 2)}{row}"
            else:
                cell.fill = ENTRY_FILL
                cell.protection = Protection(locked=False)
                cell.number_format = "#,##0.0"
                entry_cells += 1
        item += 1
        row += 1
    sheet.protection.sheet = True
    sheet.cell(row=row + 1, column=2, value="Người lập biểu").alignment = Alignment(horizontal="center")
    sheet.cell(row=row + 1, column=last_col - 1, value="Thủ trưởng đơn vị")
    workbook.save(path)
    return {"rows": rows, "entry_cells": entry_cells, "first_item_row": first_item_row}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--value-columns", type=int, default=9)
    args = parser.parse_args()
    facts = generate(args.path, args.rows, args.value_columns)
    print(facts)


if __name__ == "__main__":
    main()
