"""Offline round trip: fill the agency's workbook with a report's values, read it back unchanged,
and report every change of layout or wrong value with its sheet, row and column."""

from __future__ import annotations

import datetime as dt
import io
import random
import unicodedata
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill, Protection
from openpyxl.worksheet.datavalidation import DataValidation

from app.errors import DomainError
from app.specs.model import (
    CellSpec,
    Choice,
    ColumnSpec,
    FormSpec,
    HeaderCell,
    NarrativeBlock,
    RowSpec,
    SheetSpec,
    TableSpec,
)
from app.specs.safety import UnsafeWorkbook
from app.specs.workbook_io import (
    WorkbookProblems,
    fill_workbook,
    read_filled_workbook,
    read_or_raise,
)

DATA = Path(__file__).parent / "data"
SHEET = "Biểu 01"
LIST_SHEET = "Danh sách cơ sở"
RATINGS = ["Vượt kế hoạch", "Đạt kế hoạch", "Không đạt kế hoạch"]
SHADE = PatternFill("solid", fgColor="FFF2CC")


# -- a hand-made template and its spec --------------------------------------------------------


def make_template() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET
    sheet["A1"] = "BÁO CÁO THỬ NGHIỆM THÁNG 11 NĂM 2026"
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.merge_cells("A1:H1")
    for address, text in {
        "A3": "STT", "B3": "Chỉ tiêu", "C3": "Đơn vị tính", "D3": "Số liệu", "F3": "Tổng",
        "G3": "Ghi chú", "H3": "Đánh giá", "D4": "Kế hoạch năm 2026", "E4": "Thực hiện tháng 11/2026",
    }.items():
        sheet[address] = text
        sheet[address].font = Font(bold=True)
    for merged in ("A3:A4", "B3:B4", "C3:C4", "D3:E3", "F3:F4", "G3:G4", "H3:H4"):
        sheet.merge_cells(merged)
    for col, text in zip("ABCDEFGH", ["A", "B", "C", "1", "2", "3=1+2", "4", "5"], strict=True):
        sheet[f"{col}5"] = text
    sheet["A6"], sheet["B6"] = "I", "CHỈ TIÊU CHUNG"
    rows = [("1", "Dân số trung bình", "người"), ("2", "Diện tích gieo trồng", "ha"),
            ("3", "Tỷ lệ hộ nghèo", "%")]
    for index, (number, label, unit) in enumerate(rows):
        row = 7 + index
        sheet[f"A{row}"], sheet[f"B{row}"], sheet[f"C{row}"] = number, label, unit
        sheet[f"F{row}"] = f"=D{row}+E{row}"
        for col in "DEGH":
            sheet[f"{col}{row}"].protection = Protection(locked=False)
            sheet[f"{col}{row}"].fill = SHADE
    sheet["A10"], sheet["B10"] = "4", "Ngày chốt số liệu"
    sheet.merge_cells("D10:E10")
    sheet["D10"].protection = Protection(locked=False)
    sheet["G10"].protection = Protection(locked=False)
    sheet["B12"], sheet["F12"] = "Người lập biểu", "THỦ TRƯỞNG ĐƠN VỊ"
    sheet.merge_cells("F12:H12")
    ratings = DataValidation(type="list", formula1='"' + ",".join(RATINGS) + '"', allow_blank=True)
    ratings.add("H7:H9")
    whole = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0")
    whole.add("D7:E7")
    sheet.add_data_validation(ratings)
    sheet.add_data_validation(whole)
    sheet.protection.sheet = True

    entities = workbook.create_sheet(LIST_SHEET)
    for col, text in zip("ABCD", ["STT", "Tên cơ sở", "Số giường", "Số bác sĩ"], strict=True):
        entities[f"{col}1"] = text
    for row, name in ((2, "Trạm y tế xã Tân Hội"), (3, "Trạm y tế phường Mỹ Phú")):
        entities[f"A{row}"], entities[f"B{row}"] = row - 1, name
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def make_spec() -> FormSpec:
    def col(sheet, table, number, letter, role, key, path):
        return ColumnSpec(sheet=sheet, table=table, col=number, letter=letter, role=role, key=key,
                          header_path=path)

    columns = [
        col(SHEET, 0, 1, "A", "stt", "stt", ["STT"]),
        col(SHEET, 0, 2, "B", "label", "label", ["Chỉ tiêu"]),
        col(SHEET, 0, 3, "C", "unit", "unit", ["Đơn vị tính"]),
        col(SHEET, 0, 4, "D", "value", "c1", ["Số liệu", "Kế hoạch năm 2026"]),
        col(SHEET, 0, 5, "E", "value", "c2", ["Số liệu", "Thực hiện tháng 11/2026"]),
        col(SHEET, 0, 6, "F", "value", "c3", ["Tổng"]),
        col(SHEET, 0, 7, "G", "note", "c4", ["Ghi chú"]),
        col(SHEET, 0, 8, "H", "value", "c5", ["Đánh giá"]),
    ]
    headers = [
        HeaderCell(SHEET, "A3:A4", "STT", 1, 1, 1), HeaderCell(SHEET, "B3:B4", "Chỉ tiêu", 1, 2, 2),
        HeaderCell(SHEET, "C3:C4", "Đơn vị tính", 1, 3, 3), HeaderCell(SHEET, "D3:E3", "Số liệu", 1, 4, 5),
        HeaderCell(SHEET, "F3:F4", "Tổng", 1, 6, 6), HeaderCell(SHEET, "G3:G4", "Ghi chú", 1, 7, 7),
        HeaderCell(SHEET, "H3:H4", "Đánh giá", 1, 8, 8),
        HeaderCell(SHEET, "D4:D4", "Kế hoạch năm 2026", 2, 4, 4),
        HeaderCell(SHEET, "E4:E4", "Thực hiện tháng 11/2026", 2, 5, 5),
    ]
    table = TableSpec(sheet=SHEET, index=0, shape="indicator", header_first_row=3, header_last_row=4,
                      number_row=5, first_row=6, last_row=10, headers=headers, columns=columns)
    entity_columns = [
        col(LIST_SHEET, 0, 1, "A", "stt", "stt", ["STT"]),
        col(LIST_SHEET, 0, 2, "B", "label", "name", ["Tên cơ sở"]),
        col(LIST_SHEET, 0, 3, "C", "value", "beds", ["Số giường"]),
        col(LIST_SHEET, 0, 4, "D", "value", "doctors", ["Số bác sĩ"]),
    ]
    entity_table = TableSpec(
        sheet=LIST_SHEET, index=0, shape="entity", header_first_row=1, header_last_row=1, number_row=None,
        first_row=2, last_row=3, columns=entity_columns,
        headers=[HeaderCell(LIST_SHEET, f"{c.letter}1:{c.letter}1", c.header_path[0], 1, c.col, c.col)
                 for c in entity_columns],
    )
    rows = [
        RowSpec(SHEET, 0, 6, "heading", "r6", "CHỈ TIÊU CHUNG", number="I"),
        RowSpec(SHEET, 0, 7, "indicator", "r7", "Dân số trung bình", number="1", unit="người"),
        RowSpec(SHEET, 0, 8, "indicator", "r8", "Diện tích gieo trồng", number="2", unit="ha"),
        RowSpec(SHEET, 0, 9, "indicator", "r9", "Tỷ lệ hộ nghèo", number="3", unit="%"),
        RowSpec(SHEET, 0, 10, "indicator", "r10", "Ngày chốt số liệu", number="4"),
        RowSpec(LIST_SHEET, 0, 2, "entity", "e1", "Trạm y tế xã Tân Hội", number="1"),
        RowSpec(LIST_SHEET, 0, 3, "entity", "e2", "Trạm y tế phường Mỹ Phú", number="2"),
    ]
    types = {7: "integer", 8: "decimal", 9: "percent"}
    cells = []
    for row, kind in types.items():
        cells += [
            CellSpec(SHEET, f"D{row}", "entry", kind, f"r{row}", "c1", min=0),
            CellSpec(SHEET, f"E{row}", "entry", kind if row != 8 else "number", f"r{row}", "c2"),
            CellSpec(SHEET, f"F{row}", "computed", "number", f"r{row}", "c3", formula=f"D{row}+E{row}"),
            CellSpec(SHEET, f"G{row}", "entry", "text", f"r{row}", "c4"),
            CellSpec(SHEET, f"H{row}", "entry", "choice", f"r{row}", "c5", choices="ratings"),
        ]
    cells += [
        CellSpec(SHEET, "D10", "entry", "date", "r10", "c1", merged_range="D10:E10"),
        CellSpec(SHEET, "G10", "entry", "text", "r10", "c4"),
    ]
    for row, key in ((2, "e1"), (3, "e2")):
        cells += [
            CellSpec(LIST_SHEET, f"C{row}", "entry", "integer", key, "beds"),
            CellSpec(LIST_SHEET, f"D{row}", "entry", "integer", key, "doctors"),
        ]
    return FormSpec(
        code="THU-01", title="Biểu thử", source_filename="thu_01.xlsx",
        sheets=[SheetSpec(SHEET, protected=True, tables=[table]), SheetSpec(LIST_SHEET, tables=[entity_table])],
        rows=rows, cells=cells,
        choices={"ratings": [Choice(value=f"v{i}", label=label) for i, label in enumerate(RATINGS)]},
    )


TEXTS = ["Hòa Bình", "=SUM(A1)", "Tăng 5% so với cùng kỳ", "Nguyễn Thị Ánh Tuyết", "123",
         "Dòng 1\nDòng 2", "'trích dẫn'", "=", "Đồng Tháp – Cao Lãnh"]


def random_value(rng: random.Random, cell: CellSpec, spec: FormSpec):
    if rng.random() < 0.15:
        return None
    if cell.type == "integer":
        return Decimal(rng.choice([0, 1, 7, 12345, 10**12 + 7, rng.randint(0, 10**9)]))
    if cell.type in ("decimal", "number", "percent"):
        return rng.choice([
            Decimal("0.5"), Decimal("-3.25"), Decimal("123456789012.5"), Decimal("98.76"),
            Decimal(rng.randint(-10**6, 10**6)) / 100, Decimal(rng.randint(0, 10**14)),
        ])
    if cell.type == "text":
        return rng.choice(TEXTS)
    if cell.type == "choice":
        return rng.choice(spec.choices[cell.choices]).value
    if cell.type == "date":
        return (dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 700))).isoformat()
    raise AssertionError(cell.type)


def random_values(spec: FormSpec, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    return {cell.key: random_value(rng, cell, spec) for cell in spec.entry_cells}


def edited(data: bytes, change) -> bytes:
    """The workbook after a person's edit in Excel (here: openpyxl)."""
    workbook = load_workbook(io.BytesIO(data))
    change(workbook)
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def style_of(cell) -> tuple:
    return (
        cell.fill.patternType, cell.fill.fgColor.rgb, cell.fill.fgColor.theme, cell.font.name, cell.font.b,
        cell.font.sz, cell.border.left.style, cell.border.bottom.style, cell.alignment.horizontal,
    )


def non_empty(values: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in values.items() if value is not None}


@pytest.fixture(scope="module")
def template() -> bytes:
    return make_template()


@pytest.fixture(scope="module")
def spec() -> FormSpec:
    return make_spec()


@pytest.fixture(scope="module")
def filled(template, spec) -> bytes:
    return fill_workbook(template, spec, {
        "r7|c1": Decimal(1200), "r7|c2": Decimal(1300), "r8|c1": Decimal("12.5"), "r8|c2": Decimal("7"),
        "r7|c4": "=SUM(A1)", "r7|c5": "v1", "r10|c1": "2026-11-14",
    })


def problems_of(data: bytes, spec: FormSpec) -> list:
    _, problems = read_filled_workbook(data, spec, "bao_cao.xlsx")
    return problems


def only(problems, fragment: str):
    matching = [p for p in problems if fragment in p.message]
    assert len(matching) == 1, [str(p) for p in problems]
    return matching[0]


# -- the round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_round_trip_hand_made(template, spec, seed):
    values = random_values(spec, seed)
    data = fill_workbook(template, spec, values)
    read, problems = read_filled_workbook(data, spec, "bao_cao.xlsx")
    assert problems == []
    assert set(read) == {cell.key for cell in spec.entry_cells}
    assert non_empty(read) == non_empty(values)


def test_empty_report_round_trip(template, spec):
    read, problems = read_filled_workbook(fill_workbook(template, spec, {}), spec, "bao_cao.xlsx")
    assert problems == []
    assert non_empty(read) == {}


def test_layout_is_kept(template, spec, filled):
    before, after = load_workbook(io.BytesIO(template)), load_workbook(io.BytesIO(filled))
    for name in before.sheetnames:
        old, new = before[name], after[name]
        assert {str(r) for r in old.merged_cells.ranges} == {str(r) for r in new.merged_cells.ranges}
        assert len(old.data_validations.dataValidation) == len(new.data_validations.dataValidation)
        assert [str(v.sqref) for v in old.data_validations.dataValidation] == [
            str(v.sqref) for v in new.data_validations.dataValidation
        ]
        assert old.protection.sheet == new.protection.sheet
    sheet = after[SHEET]
    assert sheet["D7"].fill.fgColor.rgb == before[SHEET]["D7"].fill.fgColor.rgb
    assert sheet["D7"].protection.locked is False
    assert sheet["A1"].font.bold
    assert sheet["F7"].value == "=D7+E7" and sheet["F7"].data_type == "f"  # computed cells keep formulas
    assert sheet["D7"].value == 1200 and sheet["D7"].data_type == "n"  # numbers as numbers
    assert sheet["D10"].value == dt.datetime(2026, 11, 14) and sheet["D10"].is_date  # dates as dates


def test_text_starting_with_equals_is_saved_as_text(filled):
    with zipfile.ZipFile(io.BytesIO(filled)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>SUM(A1)</f>" not in xml
    cell = load_workbook(io.BytesIO(filled))[SHEET]["G7"]
    assert cell.value == "=SUM(A1)" and cell.data_type == "s"
    assert cell.quotePrefix


def test_choice_written_as_its_label(filled):
    assert load_workbook(io.BytesIO(filled))[SHEET]["H7"].value == "Đạt kế hoạch"


def test_computed_values_are_never_read(template, spec, filled):
    data = edited(filled, lambda wb: wb[SHEET].__setitem__("F7", 999999))
    read, problems = read_filled_workbook(data, spec, "bao_cao.xlsx")
    assert problems == []
    assert "r7|c3" not in read


def test_vietnamese_and_plain_number_text_accepted(filled, spec):
    def change(workbook):
        workbook[SHEET]["D8"] = "1.234,5"
        workbook[SHEET]["E8"] = "1234.5"
        workbook[SHEET]["D7"] = "1.234.567"
        workbook[SHEET]["D9"] = "12,5%"
        workbook[SHEET]["G8"] = "Ghi chu\u0301 NFD "

    read, problems = read_filled_workbook(edited(filled, change), spec, "bao_cao.xlsx")
    assert problems == []
    assert read["r8|c1"] == Decimal("1234.5") and read["r8|c2"] == Decimal("1234.5")
    assert read["r7|c1"] == Decimal(1234567)
    assert read["r9|c1"] == Decimal("12.5")
    assert read["r8|c4"] == "Ghi chú NFD"


def test_choice_label_or_value_accepted(filled, spec):
    read, problems = read_filled_workbook(
        edited(filled, lambda wb: wb[SHEET].__setitem__("H8", "  vượt kế hoạch ")), spec, "bao_cao.xlsx"
    )
    assert problems == [] and read["r8|c5"] == "v0"


# -- what a person may break ------------------------------------------------------------------


def test_changed_label(filled, spec):
    problem = only(problems_of(edited(filled, lambda wb: wb[SHEET].__setitem__("B8", "Diện tích lúa")), spec),
                   "nhãn dòng")
    assert (problem.sheet, problem.row, problem.column) == (SHEET, 8, "B")
    assert "«Diện tích gieo trồng»" in problem.message and "«Diện tích lúa»" in problem.message
    assert str(problem).startswith(f"Trang «{SHEET}», dòng 8, cột B: nhãn dòng đã đổi từ")


def test_label_whitespace_and_normalisation_forgiven(filled, spec):
    def change(workbook):
        workbook[SHEET]["B8"] = "  Diện  tích gieo\u00a0trồng "
        workbook[SHEET]["B9"] = "Tỷ lệ hộ nghèo\t"
        workbook[SHEET]["B7"] = unicodedata.normalize("NFD", "Dân số trung bình")

    assert problems_of(edited(filled, change), spec) == []


def test_inserted_row_shifts_labels(filled, spec):
    problems = problems_of(edited(filled, lambda wb: wb[SHEET].insert_rows(8)), spec)
    labels = [p for p in problems if "nhãn dòng" in p.message]
    assert [p.row for p in labels] == [8, 9, 10]


def test_changed_header(filled, spec):
    problem = only(problems_of(edited(filled, lambda wb: wb[SHEET].__setitem__("G3", "Thuyết minh")), spec),
                   "tiêu đề cột")
    assert (problem.sheet, problem.row, problem.column) == (SHEET, 3, "G")


def test_header_with_other_period_numbers_is_the_same_header(filled, spec):
    change = lambda wb: wb[SHEET].__setitem__("E4", "Thực hiện tháng 12/2026")  # noqa: E731
    assert problems_of(edited(filled, change), spec) == []


def test_text_in_a_number_cell(filled, spec):
    problem = only(problems_of(edited(filled, lambda wb: wb[SHEET].__setitem__("E8", "khoảng 12")), spec),
                   "không phải là số")
    assert (problem.sheet, problem.row, problem.column) == (SHEET, 8, "E")
    assert "«khoảng 12»" in problem.message


def test_fraction_in_an_integer_cell(filled, spec):
    problem = only(problems_of(edited(filled, lambda wb: wb[SHEET].__setitem__("D7", 12.5)), spec), "số lẻ")
    assert (problem.row, problem.column) == (7, "D") and "«12.5»" in problem.message


def test_date_in_a_number_cell(filled, spec):
    change = lambda wb: wb[SHEET].__setitem__("E7", dt.datetime(2026, 11, 1))  # noqa: E731
    problem = only(problems_of(edited(filled, change), spec), "ngày tháng")
    assert (problem.row, problem.column) == (7, "E") and "01/11/2026" in problem.message


def test_text_in_a_date_cell(filled, spec):
    problem = only(problems_of(edited(filled, lambda wb: wb[SHEET].__setitem__("D10", "giữa tháng")), spec),
                   "không phải là ngày")
    assert (problem.row, problem.column) == (10, "D")


def test_wrong_choice(filled, spec):
    problem = only(problems_of(edited(filled, lambda wb: wb[SHEET].__setitem__("H9", "Tốt")), spec),
                   "danh sách chọn")
    assert (problem.sheet, problem.row, problem.column) == (SHEET, 9, "H")
    assert "«Tốt»" in problem.message and "«Đạt kế hoạch»" in problem.message


def test_formula_typed_into_an_entry_cell(filled, spec):
    problem = only(problems_of(edited(filled, lambda wb: wb[SHEET].__setitem__("E7", "=D7*2")), spec),
                   "công thức")
    assert (problem.sheet, problem.row, problem.column) == (SHEET, 7, "E")
    assert "ô nhập liệu không được chứa công thức" in problem.message


def test_extra_row_below_an_indicator_table(filled, spec):
    def change(workbook):
        workbook[SHEET]["B11"] = "Chỉ tiêu thêm"
        workbook[SHEET]["D11"] = 15

    problems = problems_of(edited(filled, change), spec)
    assert [(p.row, p.column) for p in problems] == [(11, "B"), (11, "D")]
    assert all("ngoài bảng" in p.message and p.sheet == SHEET for p in problems)


def test_footer_is_not_an_extra_row(filled, spec):
    change = lambda wb: wb[SHEET].__setitem__("B13", "Nguyễn Văn A")  # noqa: E731
    assert problems_of(edited(filled, change), spec) == []


def test_number_far_below_the_table(filled, spec):
    problem = only(problems_of(edited(filled, lambda wb: wb[SHEET].__setitem__("E20", "1.234")), spec),
                   "ngoài bảng")
    assert (problem.row, problem.column) == (20, "E")


def test_extra_column_right_of_the_table(filled, spec):
    problem = only(problems_of(edited(filled, lambda wb: wb[SHEET].__setitem__("J8", 42)), spec), "ngoài bảng")
    assert (problem.sheet, problem.row, problem.column) == (SHEET, 8, "J")


def test_number_in_a_heading_row(filled, spec):
    problem = only(problems_of(edited(filled, lambda wb: wb[SHEET].__setitem__("D6", 5)), spec),
                   "không phải ô nhập liệu")
    assert (problem.row, problem.column) == (6, "D")


def test_renamed_sheet(filled, spec):
    def change(workbook):
        workbook[SHEET].title = "Sheet1"

    problems = problems_of(edited(filled, change), spec)
    problem = only(problems, "không tìm thấy trang tính")
    assert problem.sheet == SHEET and "«Sheet1»" in problem.message and "đổi tên" in problem.message


def test_rows_added_to_an_entity_list(template, spec):
    data = fill_workbook(template, spec, {"e1|beds": Decimal(10), "e2|doctors": Decimal(3)})

    def change(workbook):
        sheet = workbook[LIST_SHEET]
        sheet["A4"], sheet["B4"], sheet["C4"], sheet["D4"] = 3, "Trạm y tế xã Mới", 8, "2"
        sheet["B5"], sheet["C5"] = "Phòng khám khu vực", "1.500"

    read, problems = read_filled_workbook(edited(data, change), spec, "bao_cao.xlsx")
    assert problems == []
    assert read["e1|beds"] == 10 and read["e2|doctors"] == 3
    assert read[f"{LIST_SHEET}!row:4|name"] == "Trạm y tế xã Mới"
    assert read[f"{LIST_SHEET}!row:4|beds"] == Decimal(8)
    assert read[f"{LIST_SHEET}!row:4|doctors"] == Decimal(2)
    assert read[f"{LIST_SHEET}!row:4|stt"] == "3"
    assert read[f"{LIST_SHEET}!row:5|beds"] == Decimal(1500)


def test_added_entity_row_values_are_checked(template, spec):
    def change(workbook):
        workbook[LIST_SHEET]["B4"], workbook[LIST_SHEET]["C4"] = "Trạm y tế xã Mới", "nhiều"

    problem = only(problems_of(edited(fill_workbook(template, spec, {}), change), spec), "không phải là số")
    assert (problem.sheet, problem.row, problem.column) == (LIST_SHEET, 4, "C")


def test_foot_note_right_below_an_entity_list_is_not_an_entity(template, spec):
    change = lambda wb: wb[LIST_SHEET].__setitem__("A4", "(1): ghi rõ tên cơ sở theo quyết định thành lập.")  # noqa: E731
    read, problems = read_filled_workbook(edited(fill_workbook(template, spec, {}), change), spec, "bao_cao.xlsx")
    assert problems == [] and not any("row:" in key for key in read)


def test_label_composed_from_merged_cells(template, spec):
    composed = make_spec()
    composed.rows[2].label = "Tổng số — Diện tích gieo trồng"  # row 8, "Tổng số" merged over A7:A9 in the file

    def change(workbook):
        sheet = workbook[SHEET]
        for row in (7, 8, 9):
            sheet[f"A{row}"] = None
        sheet["A7"] = "Tổng số"
        sheet.merge_cells("A7:A9")

    data = edited(fill_workbook(template, composed, {}), change)
    assert [p for p in problems_of(data, composed) if "nhãn dòng" in p.message and p.row == 8] == []


def test_read_or_raise(filled, spec):
    values, problems = read_or_raise(filled, spec, "bao_cao.xlsx")
    assert problems == [] and values["r7|c1"] == 1200
    broken = edited(filled, lambda wb: wb[SHEET].__setitem__("H9", "Tốt"))
    with pytest.raises(WorkbookProblems) as caught:
        read_or_raise(broken, spec, "bao_cao.xlsx")
    assert isinstance(caught.value, DomainError)
    assert len(caught.value.problems) == 1
    assert "«bao_cao.xlsx»" in caught.value.message and "chưa lưu số liệu nào" in caught.value.message
    assert f"Trang «{SHEET}», dòng 9, cột H" in caught.value.message


def test_unsafe_file_refused_before_reading(spec):
    with pytest.raises(UnsafeWorkbook):
        read_filled_workbook(b"%PDF-1.7", spec, "bao_cao.xlsx")


def test_narrative_block_is_not_an_extra_row(template, spec):
    narrative_spec = make_spec()
    narrative_spec.narrative_blocks = [NarrativeBlock(SHEET, "B15:H18", "tm", "Thuyết minh")]
    data = edited(fill_workbook(template, narrative_spec, {}), lambda wb: wb[SHEET].__setitem__("B15", "123"))
    assert problems_of(data, narrative_spec) == []


# -- the real templates, through the template loader --------------------------------------------

SAMPLES = ["ktxh_thang.xlsx", "dan_so_lao_dong_xa.xlsx"]


def sample_path(name: str) -> Path:
    for candidate in (DATA / "templates" / name, DATA / "bad" / f"ok_{name}"):
        if candidate.exists():
            return candidate
    raise AssertionError(f"missing test workbook {name}")


@pytest.fixture(scope="module", params=SAMPLES)
def real(request) -> tuple[bytes, FormSpec]:
    from app.specs.loader import load_spec

    data = sample_path(request.param).read_bytes()
    spec = load_spec(data, filename=request.param)
    assert spec.entry_cells and not spec.errors
    return data, spec


def real_values(spec: FormSpec, seed: int) -> dict[str, object]:
    values = random_values(spec, seed)
    rng = random.Random(seed)
    for block in spec.narrative_blocks:
        values[block.key] = rng.choice(["Tình hình dân số ổn định.\nTỷ lệ thất nghiệp giảm.", None, "=A1"])
    return values


@pytest.mark.parametrize("seed", range(4))
def test_round_trip_real_templates(real, seed):
    template, spec = real
    values = real_values(spec, seed)
    data = fill_workbook(template, spec, values)
    read, problems = read_filled_workbook(data, spec, spec.source_filename)
    assert problems == []
    assert non_empty(read) == non_empty(values)


def test_real_template_layout_kept(real):
    template, spec = real
    filled = fill_workbook(template, spec, real_values(spec, 99))
    before, after = load_workbook(io.BytesIO(template)), load_workbook(io.BytesIO(filled))
    assert before.sheetnames == after.sheetnames
    for name in before.sheetnames:
        old, new = before[name], after[name]
        assert {str(r) for r in old.merged_cells.ranges} == {str(r) for r in new.merged_cells.ranges}
        assert len(old.data_validations.dataValidation) == len(new.data_validations.dataValidation)
        assert old.protection.sheet == new.protection.sheet
        for cell in spec.cells:
            if cell.sheet != name:
                continue
            assert style_of(new[cell.cell]) == style_of(old[cell.cell])
            assert new[cell.cell].protection.locked == old[cell.cell].protection.locked
            if cell.kind == "computed":
                assert new[cell.cell].value == old[cell.cell].value
                assert new[cell.cell].data_type == "f"


def test_real_ktxh_problems_at_their_cells():
    from app.specs.loader import load_spec

    template = sample_path("ktxh_thang.xlsx").read_bytes()
    spec = load_spec(template, filename="ktxh_thang.xlsx")
    sheet = "Biểu 01"
    filled = fill_workbook(template, spec, {"r12|c4": Decimal("1500.5"), "r12|c10": "=SUM(A1)"})

    def change(workbook):
        ws = workbook[sheet]
        ws["B13"] = "Sản lượng ngô"  # changed label
        ws["E12"] = "không rõ"  # text in a number cell
        ws["F15"] = "=E15*2"  # formula typed into an entry cell
        ws["B40"], ws["D40"] = "Chỉ tiêu thêm", 12  # an added row
        ws["L20"] = 5  # a column outside the table

    _, problems = read_filled_workbook(edited(filled, change), spec, "ktxh_thang.xlsx")
    where = {(p.sheet, p.row, p.column): p.message for p in problems}
    assert set(where) == {
        (sheet, 13, "B"), (sheet, 12, "E"), (sheet, 15, "F"), (sheet, 40, "B"), (sheet, 40, "D"), (sheet, 20, "L"),
    }
    assert "«Sản lượng lúa»" in where[(sheet, 13, "B")] and "«Sản lượng ngô»" in where[(sheet, 13, "B")]
    assert "«không rõ»" in where[(sheet, 12, "E")]
    assert "công thức" in where[(sheet, 15, "F")]
    assert "ngoài bảng" in where[(sheet, 40, "D")] and "ngoài bảng" in where[(sheet, 20, "L")]


def test_real_dan_so_problems_at_their_cells():
    from app.specs.loader import load_spec

    template = sample_path("dan_so_lao_dong_xa.xlsx").read_bytes()
    spec = load_spec(template, filename="dan_so_lao_dong_xa.xlsx")
    sheet = "Dân số - lao động"
    filled = fill_workbook(template, spec, {"r10|c5": Decimal(5120)})

    def change(workbook):
        ws = workbook[sheet]
        ws["D25"] = "Hoàn thành"  # not in the drop-down list
        ws["F10"] = 12.5  # a fraction in a whole-number cell

    _, problems = read_filled_workbook(edited(filled, change), spec, "dan_so.xlsx")
    assert [(p.sheet, p.row, p.column) for p in problems] == [(sheet, 10, "F"), (sheet, 25, "D")]
    assert "danh sách chọn" in problems[1].message and "«Hoàn thành»" in problems[1].message

    renamed = edited(filled, lambda wb: setattr(wb[sheet], "title", "Sheet1"))
    _, problems = read_filled_workbook(renamed, spec, "dan_so.xlsx")
    assert len(problems) == 1 and problems[0].sheet == sheet and "«Sheet1»" in problems[0].message
