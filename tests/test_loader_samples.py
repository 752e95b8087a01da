"""The loader on the two sample templates, cell by cell."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.specs.loader import load_spec
from app.specs.model import FormSpec

TEMPLATES = Path(__file__).parent / "data" / "templates"
KTXH_ROWS = [
    12,
    13,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23,
    24,
    25,
    26,
    27,
    28,
    29,
    31,
    32,
    33,
    34,
    36,
    37,
    38,
    39,
]


@pytest.fixture(scope="module")
def ktxh() -> FormSpec:
    return load_spec(TEMPLATES / "ktxh_thang.xlsx", code="KTXH-B01")


@pytest.fixture(scope="module")
def danso() -> FormSpec:
    return load_spec(
        (TEMPLATES / "dan_so_lao_dong_xa.xlsx").read_bytes(), filename="dan_so_lao_dong_xa.xlsx"
    )


def rows_by_number(spec):
    return {r.row: r for r in spec.rows}


# -- ktxh_thang ------------------------------------------------------------------------------
def test_ktxh_title_and_table(ktxh):
    assert not ktxh.errors
    assert ktxh.code == "KTXH-B01"
    assert ktxh.title == "MỘT SỐ CHỈ TIÊU KINH TẾ - XÃ HỘI CHỦ YẾU THÁNG 11 NĂM 2026"
    sheet = ktxh.sheets[0]
    assert sheet.name == "Biểu 01" and sheet.protected
    assert "UBND TỈNH ĐỒNG THÁP" in sheet.title
    [table] = sheet.tables
    assert (table.header_first_row, table.header_last_row, table.number_row) == (7, 8, 9)
    assert (table.first_row, table.last_row) == (10, 39)  # the signature footer is not data
    roles = {c.letter: c.role for c in table.columns}
    assert roles == {
        "A": "stt",
        "B": "label",
        "C": "unit",
        "D": "value",
        "E": "value",
        "F": "value",
        "G": "value",
        "H": "value",
        "I": "value",
        "J": "note",
    }
    columns = {c.letter: c for c in table.columns}
    assert columns["E"].header_path == ["Thực hiện", "Thực hiện tháng 10/2026"]
    assert columns["I"].header_path == ["So sánh (%)", "Kế hoạch năm"]
    assert columns["I"].number_label == "6=4/1"
    assert columns["A"].number_label == "A" and columns["D"].number_label == "1"
    assert columns["D"].key == "c4"
    levels = {(h.text, h.level, h.range) for h in table.headers}
    assert ("Thực hiện", 1, "E7:G7") in levels
    assert ("STT", 1, "A7:A8") in levels
    assert ("Lũy kế 11 tháng năm 2026", 2, "G8:G8") in levels


def test_ktxh_entry_cells_are_the_unlocked_cells(ktxh):
    expected = {f"{col}{r}" for r in KTXH_ROWS for col in "DEFGHJ"} - {"D22", "E22", "F22", "G22"}
    assert {c.cell for c in ktxh.entry_cells} == expected
    d12 = ktxh.cell_at("Biểu 01", "D12")
    assert (d12.type, d12.decimals, d12.row_key, d12.column_key) == ("decimal", 2, "r12", "c4")


def test_ktxh_computed_cells(ktxh):
    computed = {c.cell: c for c in ktxh.computed_cells}
    assert set(computed) == {f"I{r}" for r in KTXH_ROWS} | {"D22", "E22", "F22", "G22"}
    assert computed["D22"].formula == "D23+D24"
    assert computed["G22"].formula == "G23+G24"
    assert computed["I12"].formula == 'IF(D12=0,"",ROUND(G12/D12*100,2))'
    assert computed["I12"].type == "decimal" and computed["I12"].decimals == 2


def test_ktxh_note_comment_and_rows(ktxh):
    j12 = ktxh.cell_at("Biểu 01", "J12")
    assert j12.kind == "entry" and j12.type == "text"
    assert ktxh.cell_at("Biểu 01", "J18").help == "Chỉ số so với cùng kỳ năm trước = 100"
    rows = rows_by_number(ktxh)
    headings = sorted(r.row for r in ktxh.rows if r.kind == "heading")
    assert headings == [10, 11, 14, 30, 35]
    assert (rows[10].number, rows[10].label, rows[10].level) == ("I", "KINH TẾ", 0)
    assert (rows[11].level, rows[11].parent_key) == (1, "r10")
    assert (rows[12].number, rows[12].level, rows[12].parent_key, rows[12].unit) == (
        "1.1",
        2,
        "r11",
        "ha",
    )
    assert (rows[15].number, rows[15].label, rows[15].level, rows[15].parent_key) == (
        "-",
        "Trâu",
        3,
        "r14",
    )
    assert rows[22].kind == "indicator" and rows[22].bold  # the total row stays an indicator
    assert (rows[23].parent_key, rows[24].parent_key) == ("r22", "r22")
    assert (rows[31].parent_key, rows[36].parent_key) == ("r30", "r35")
    assert 41 not in rows and 42 not in rows  # signature footer
    assert not ktxh.narrative_blocks and not ktxh.choices


def test_ktxh_summary_shape(ktxh):
    summary = ktxh.summary()
    assert {"entry_cells", "computed_cells", "rows", "choices", "narrative_blocks"} <= set(summary)
    assert summary["entry_cells"][0]["sheet"] == "Biểu 01"
    assert FormSpec.from_json(ktxh.to_json()).content_hash() == ktxh.content_hash()


# -- dan_so_lao_dong_xa ----------------------------------------------------------------------
def test_danso_entry_cells_inferred(danso):
    assert not danso.errors
    assert not danso.sheets[0].protected
    grid = {f"{col}{r}" for r in range(10, 18) for col in "EFGH"}
    assert {c.cell for c in danso.entry_cells} == grid | {"D25"}
    e10 = danso.cell_at("Dân số - lao động", "E10")
    assert (e10.type, e10.min, e10.max, e10.decimals) == ("integer", 0.0, None, 0)


def test_danso_totals_are_formulas(danso):
    computed = {c.cell: c.formula for c in danso.computed_cells}
    assert computed == {f"D{r}": f"E{r}+F{r}" for r in range(10, 18)}
    [table] = danso.sheets[0].tables
    assert {c.letter: c.number_label for c in table.columns}["D"] == "1=2+3"
    assert {c.letter: c.header_path for c in table.columns}["F"] == ["Chia theo giới tính", "Nữ"]


def test_danso_choice_list(danso):
    d25 = danso.cell_at("Dân số - lao động", "D25")
    assert d25.kind == "entry" and d25.type == "choice"
    assert [c.value for c in danso.choices[d25.choices]] == [
        "Vượt kế hoạch",
        "Đạt kế hoạch",
        "Không đạt kế hoạch",
    ]
    row = next(r for r in danso.rows if r.key == d25.row_key)
    assert row.label == "Mức độ hoàn thành kế hoạch"


def test_danso_narrative_block_and_rows(danso):
    [block] = danso.narrative_blocks
    assert (block.sheet, block.range) == ("Dân số - lao động", "A20:H23")
    assert "thuyết minh" in block.label
    rows = rows_by_number(danso)
    assert [r.row for r in danso.rows if r.kind == "indicator" and r.row < 20] == list(
        range(10, 18)
    )
    assert (rows[10].label, rows[10].unit, rows[10].number, rows[10].level) == (
        "Dân số trung bình",
        "người",
        "1",
        0,
    )
    assert 27 not in rows


def test_bad_files_are_errors():
    spec = load_spec(b"not an excel file", filename="x.xlsx")
    assert spec.errors and "Không đọc được" in spec.errors[0].message
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    wb.active["A1"] = "Chỉ có một dòng chữ"
    buffer = io.BytesIO()
    wb.save(buffer)
    spec = load_spec(buffer.getvalue(), filename="empty.xlsx")
    assert spec.errors
    assert all(p.sheet and p.row and p.column for p in spec.problems)


# -- flask forms parse / load ----------------------------------------------------------------
def test_cli_parse_prints_the_summary(app_ctx):
    import json

    runner = app_ctx.test_cli_runner()
    result = runner.invoke(args=["forms", "parse", str(TEMPLATES / "dan_so_lao_dong_xa.xlsx")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {c["cell"] for c in data["computed_cells"]} >= {"D10", "D17"}
    assert any(c["cell"] == "D25" and c["type"] == "choice" for c in data["entry_cells"])
    assert data["narrative_blocks"][0]["range"] == "A20:H23"
    assert any(r["kind"] == "indicator" and r["unit"] == "người" for r in data["rows"])


def test_cli_parse_bad_file_exits_1(app_ctx, tmp_path):
    bad = tmp_path / "hong.xlsx"
    bad.write_bytes(b"PK not really")
    result = app_ctx.test_cli_runner().invoke(args=["forms", "parse", str(bad)])
    assert result.exit_code == 1
    assert "Không đọc được tệp Excel" in result.output


def test_cli_load_builtin_specs_is_idempotent(app_ctx, tmp_path):
    import shutil

    from app.extensions import db
    from app.models.forms import FormVersion

    runner = app_ctx.test_cli_runner()
    result = runner.invoke(args=["forms", "load"])
    assert result.exit_code == 0, result.output
    version = db.session.query(FormVersion).filter_by(code="KTXH-B01").one()
    assert (version.version, version.status, version.builtin) == (1, "published", True)
    spec = version.spec()
    assert len(spec.entry_cells) == 146 and version.content_hash == spec.content_hash()

    result = runner.invoke(args=["forms", "load"])
    assert result.exit_code == 0 and "không đổi" in result.output
    assert db.session.query(FormVersion).filter_by(code="KTXH-B01").count() == 1

    # a changed spec becomes version 2
    folder = tmp_path / "specs"
    folder.mkdir()
    shutil.copy(
        Path(__file__).parents[1] / "form_specs" / "ktxh_thang.yaml", folder / "ktxh_thang.yaml"
    )
    changed = FormSpec.from_yaml((folder / "ktxh_thang.yaml").read_text(encoding="utf-8"))
    changed.title = "Biểu 01 (sửa đổi)"
    (folder / "ktxh_thang.yaml").write_text(changed.to_yaml(), encoding="utf-8")
    result = runner.invoke(args=["forms", "load", str(folder)])
    assert result.exit_code == 0, result.output
    versions = (
        db.session.query(FormVersion).filter_by(code="KTXH-B01").order_by(FormVersion.version).all()
    )
    assert [v.version for v in versions] == [1, 2] and versions[1].title == "Biểu 01 (sửa đổi)"


# -- layouts the samples do not show -------------------------------------------------------
def _workbook_bytes(wb) -> bytes:
    import io

    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_lists_on_hidden_sheets_hidden_rows_formats_and_noise():
    import openpyxl
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Biểu 02"
    ws.append(["STT", "Nội dung", "ĐVT", "Tỷ lệ", "Ngày", "Xếp loại", "Mức", "Số lượng"])
    for i in range(1, 5):
        ws.append([i, f"Chỉ tiêu thứ {i}", "người", None, None, None, None, None])
    ws["D2"].number_format = "0%"
    ws["E2"].number_format = "dd/mm/yyyy"
    ws["H2"].number_format = "0.0"
    ws["H3"] = " "  # a stray space is still an empty entry cell
    ws.row_dimensions[4].hidden = True
    lists = wb.create_sheet("DanhMuc")
    lists.sheet_state = "hidden"
    for r, text in enumerate(["Tốt", "Khá", "Trung bình"], start=1):
        lists.cell(r, 1, text)
        lists.cell(r, 2, f"Mức {r}")
    wb.create_sheet("Trống")
    wb.defined_names["ds_muc"] = DefinedName("ds_muc", attr_text="DanhMuc!$B$1:$B$3")
    by_range = DataValidation(type="list", formula1="=DanhMuc!$A$1:$A$3")
    by_range.add("F2:F5")
    by_name = DataValidation(type="list", formula1="=ds_muc")
    by_name.add("G2:G5")
    decimal = DataValidation(type="decimal", operator="between", formula1="0", formula2="100")
    decimal.add("D2:D5")
    for dv in (by_range, by_name, decimal):
        ws.add_data_validation(dv)
    spec = load_spec(_workbook_bytes(wb), filename="bieu02.xlsx")
    assert not spec.errors
    assert [s.name for s in spec.sheets] == ["Biểu 02"]
    assert any(p.sheet == "Trống" and p.severity == "warning" for p in spec.problems)
    assert any(p.sheet == "DanhMuc" for p in spec.problems)  # a list sheet holds no table
    cell = {c.cell: c for c in spec.cells}
    assert cell["D2"].type == "percent" and (cell["D2"].min, cell["D2"].max) == (0.0, 100.0)
    assert cell["E2"].type == "date" and cell["H2"].type == "decimal" and cell["H2"].decimals == 1
    assert cell["H3"].kind == "entry"
    f2, g2 = cell["F2"], cell["G2"]
    assert f2.type == g2.type == "choice"
    assert [c.value for c in spec.choices[f2.choices]] == ["Tốt", "Khá", "Trung bình"]
    assert [c.value for c in spec.choices[g2.choices]] == ["Mức 1", "Mức 2", "Mức 3"]
    assert f2.choices == cell["F5"].choices
    sheet = spec.sheets[0]
    assert sheet.hidden_rows == [4]
    assert next(r for r in spec.rows if r.row == 4).hidden
    assert any(p.row == 4 and p.sheet == "Biểu 02" and "ẩn" in p.message for p in spec.problems)


def test_percent_format_and_text_form():
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["STT", "Nội dung", "Kết quả thực hiện", "Tỷ lệ"])
    long_text = "Đơn vị đã triển khai đầy đủ các nhiệm vụ được giao, " * 3
    for i in range(1, 4):
        ws.append([i, f"Nhiệm vụ {i}", long_text, None])
    ws["D2"].number_format = "0.00%"
    ws.column_dimensions["C"].width = 60
    spec = load_spec(_workbook_bytes(wb), filename="van_ban.xlsx")
    [table] = spec.sheets[0].tables
    assert table.shape == "text"
    assert {r.kind for r in spec.rows} == {"text"}
    c2 = spec.cell_at(spec.sheets[0].name, "C2")
    assert c2.kind == "entry" and c2.type == "text"


def test_builtin_spec_matches_the_loader(ktxh):
    builtin = Path(__file__).parents[1] / "form_specs" / "ktxh_thang.yaml"
    spec = FormSpec.from_yaml(builtin.read_text(encoding="utf-8"))
    assert spec.code == "KTXH-B01"
    assert spec.content_hash() == ktxh.content_hash()


def test_numbering_restarting_after_a_dash_heading_nests_under_it():
    """ "1. …" in the label right after a bold "- Heading" lists that heading's parts; plain "-"
    items go under the numbered items; the next bold "-" is the heading's sibling."""
    import openpyxl
    from openpyxl.styles import Font

    wb = openpyxl.Workbook()
    ws = wb.active
    for c, text in enumerate(["STT", "Chỉ tiêu", "ĐVT", "Năm 2024", "Năm 2025"], start=1):
        ws.cell(1, c, text).font = Font(bold=True)
    layout = [
        ("1", "Tổng giá trị", True),  # row 2
        (None, "Khu vực một", True),
        (None, "- Nhóm A", True),
        (None, "1. Phần A1", True),  # row 5
        (None, "- Mục a11", False),
        (None, "- Mục a12", False),
        (None, "2. Phần A2", True),
        (None, "- Mục a21", False),
        (None, "- Nhóm B", True),  # row 10
        (None, "- Mục b1", False),
        (None, "- Mục b2", False),
        (None, "- Nhóm C", True),
        (None, "   + Mục c1", False),
        ("2", "Tổng khác", True),  # row 15
        (None, "Khu vực hai", True),
        (None, "1. Phần D1", True),
        (None, "- Mục d11", False),
    ]
    for r, (stt, label, bold) in enumerate(layout, start=2):
        if stt:
            ws.cell(r, 1, stt).font = Font(bold=bold)
        ws.cell(r, 2, label).font = Font(bold=bold)
        ws.cell(r, 3, "tấn")
    spec = load_spec(_workbook_bytes(wb), filename="lo_nong_lam.xlsx")
    tree = {r.row: (r.level, r.parent_key) for r in spec.rows}
    assert tree == {
        2: (0, None),
        3: (1, "r2"),
        4: (2, "r3"),
        5: (3, "r4"),
        6: (4, "r5"),
        7: (4, "r5"),
        8: (3, "r4"),
        9: (4, "r8"),
        10: (2, "r3"),
        11: (3, "r10"),
        12: (3, "r10"),
        13: (2, "r3"),
        14: (3, "r13"),
        15: (0, None),
        16: (1, "r15"),
        # "1." not right after a "-" / "+" row keeps the ordinary rule
        17: (1, "r15"),
        18: (2, "r17"),
    }
