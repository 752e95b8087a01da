"""The loader on real agency workbooks (tests/data/templates/real)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from app.specs.loader import load_spec

REAL = Path(__file__).parent / "data" / "templates" / "real"


@pytest.fixture(scope="module")
def specs():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = load_spec(REAL / f"{name}.xlsx")
        return cache[name]

    return get


def roles(table):
    return {c.letter: c.role for c in table.columns}


def test_every_problem_names_its_place(specs):
    for name in (
        "sct_xuatkhau_thang",
        "bhxh_pl01_dutoan",
        "gddt_tk_mamnon_daunam",
        "kdyt_baocaothang",
        "ktxh_tonghop_gtsx_2015_2025",
    ):
        spec = specs(name)
        assert not spec.errors, name
        assert spec.entry_cells, name
        for problem in spec.problems:
            assert problem.sheet and problem.row and problem.column, (name, str(problem))


def test_sct_commodity_list(specs):
    spec = specs("sct_xuatkhau_thang")
    [table] = spec.sheets[0].tables
    assert (
        table.header_first_row,
        table.header_last_row,
        table.number_row,
        table.first_row,
        table.last_row,
    ) == (1, 2, None, 3, 18)
    assert table.shape == "entity"
    assert roles(table) == {"A": "stt", "B": "label", **{x: "value" for x in "CDEFGHIJ"}}
    columns = {c.letter: c for c in table.columns}
    assert columns["C"].header_path == ["Tháng 02", "Sản lượng\n(Nghìn tấn)"]
    assert (columns["C"].unit, columns["D"].unit, columns["H"].unit) == (
        "Nghìn tấn",
        "Triệu USD",
        "Triệu USD",
    )
    assert {h.level for h in table.headers} == {1, 2}
    rows = {r.row: r for r in spec.rows}
    assert [rows[r].kind for r in range(3, 18)] == ["entity"] * 15
    assert (rows[18].label, rows[18].number, rows[18].kind) == ("Tổng", "16", "indicator")
    assert len(spec.entry_cells) == 16 * 8


def test_bhxh_facility_list(specs):
    spec = specs("bhxh_pl01_dutoan")
    sheet = spec.sheets[0]
    [table] = sheet.tables
    assert table.shape == "entity" and table.number_row == 6
    assert roles(table) == {"A": "code", "B": "label", "C": "value", "D": "value", "E": "value"}
    assert {c.letter: c.number_label for c in table.columns}["E"] == "4=3/2"
    rows = {r.row: r for r in spec.rows}
    assert len(rows) == 21 and all(r.kind == "entity" for r in rows.values())
    assert rows[7].key == "10003" and rows[7].label == "BVĐK Bảo Thắng"
    # the duplicated code 10004 cannot be a key: both rows fall back to the row number
    assert (rows[8].key, rows[9].key) == ("r8", "r9")
    assert any("10004" in p.message and p.row == 8 for p in spec.problems)
    # the plan amounts are pre-filled entries; the instruction text becomes help, not data
    c7 = spec.cell_at(sheet.name, "C7")
    assert (c7.kind, c7.value) == ("entry", 56359)
    d7 = spec.cell_at(sheet.name, "D7")
    assert (d7.kind, d7.value, d7.help) == ("entry", None, "Tiền T- BHTT cột R-B02-10")
    assert spec.cell_at(sheet.name, "E7").kind == "entry"  # "4=3/2" describes, it is no formula
    assert not spec.computed_cells


def test_gddt_six_sheets(specs):
    spec = specs("gddt_tk_mamnon_daunam")
    names = [s.name for s in spec.sheets]
    assert names == ["Trường-Lớp", "Học sinh", "Cán bộ", "Phòng học", "Ngân sách"]
    assert any(p.sheet == "Errors" and p.severity == "warning" for p in spec.problems)
    depth = {s.name: max(h.level for h in s.tables[0].headers) for s in spec.sheets}
    assert depth == {"Trường-Lớp": 1, "Học sinh": 3, "Cán bộ": 4, "Phòng học": 2, "Ngân sách": 2}
    for sheet in spec.sheets:
        table = sheet.tables[0]
        r = roles(table)
        assert (
            r["A"] == "stt" and r["B"] == "label" and "unit" in r.values() and "code" in r.values()
        ), sheet.name
    # "Mã số" codes are the keys
    rows = {(r.sheet, r.row): r for r in spec.rows}
    assert rows[("Học sinh", 5)].key == "83" and rows[("Học sinh", 5)].code == "83"
    assert rows[("Phòng học", 5)].key == "194"
    # a code repeated on another sheet is qualified by its sheet
    assert rows[("Ngân sách", 4)].key == "s5_15" and rows[("Trường-Lớp", 26)].key == "s1_15"
    keys = [r.key for r in spec.rows]
    assert len(keys) == len(set(keys))
    # labels merged over two columns (Ngân sách B:C)
    ns = next(s for s in spec.sheets if s.name == "Ngân sách").tables[0]
    assert "C" not in roles(ns)
    assert rows[("Ngân sách", 7)].label == "Nguồn NSNN" and rows[("Ngân sách", 7)].number == "1.1.1"
    assert rows[("Ngân sách", 7)].level == rows[("Ngân sách", 6)].level + 1
    assert rows[("Ngân sách", 7)].parent_key == rows[("Ngân sách", 6)].key
    # empty strings are entry cells; the sums are computed cells with their cached error value
    j5 = spec.cell_at("Phòng học", "J5")
    assert j5.kind == "entry" and j5.type == "number"
    e5 = spec.cell_at("Phòng học", "E5")
    assert (e5.kind, e5.formula, e5.value) == ("computed", "F5+G5+H5", "#VALUE!")
    # sub-headings without unit and values
    assert (
        rows[("Trường-Lớp", 12)].kind == "heading"
        and rows[("Trường-Lớp", 12)].label == "Chia ra theo vùng:"
    )
    assert rows[("Trường-Lớp", 13)].parent_key == rows[("Trường-Lớp", 12)].key
    assert rows[("Trường-Lớp", 9)].kind == "heading" and rows[("Trường-Lớp", 9)].number == "I"


def test_ktxh_tonghop_formulas_hidden_column_levels(specs):
    path = REAL / "ktxh_tonghop_gtsx_2015_2025.xlsx"
    spec = specs("ktxh_tonghop_gtsx_2015_2025")
    wb = openpyxl.load_workbook(path)
    formulas = {
        c.coordinate: c.value[1:]
        for row in wb.active.iter_rows()
        for c in row
        if c.data_type == "f"
    }
    assert len(formulas) == 513
    computed = {c.cell: c for c in spec.computed_cells}
    assert set(computed) == set(formulas)
    assert computed["P97"].formula == "(J97/E97)^(1/5)*100"
    assert computed["E105"].formula == "E106+E166+E194"  # "= E106+…": a formula all the same
    assert computed["E8"].formula == "SUM(E9:E33)"
    sheet = spec.sheets[0]
    assert sheet.hidden_columns == ["D"]
    assert any(p.column == "D" and "ẩn" in p.message for p in spec.problems)
    assert sheet.max_col == 18  # not WVO
    [table] = sheet.tables
    assert roles(table)["C"] == "unit"
    rows = {r.row: r for r in spec.rows}
    assert (rows[5].number, rows[5].level) == ("1", 0)
    assert (rows[7].number, rows[7].label) == ("-", "NÔNG NGHIỆP")
    assert rows[8].number == "+" and rows[8].level > rows[7].level and rows[8].parent_key == "r7"
    # indentation by leading spaces, and the SUM range, put "- Lúa" under "+ TRỒNG TRỌT"
    assert rows[9].level > rows[8].level and rows[9].parent_key == "r8"
    assert rows[101].label == "CÔNG NGHIỆP - TTCN" and rows[101].parent_key == "r100"
    assert rows[204].parent_key == "r203"
    # the hidden column's text targets ("Tăng 11-12%") are not lost
    d5 = spec.cell_at(sheet.name, "D5")
    assert d5.kind == "entry" and "Tăng 11-12%" in (d5.help or str(d5.value))


def test_kdyt_five_stacked_tables_agree_with_the_areas_map(specs):
    spec = specs("kdyt_baocaothang")
    sheet = spec.sheets[0]
    assert sheet.max_col <= 20  # the sheet extent reaches column 1024
    tables = sheet.tables
    assert [(t.header_first_row, t.number_row, t.first_row, t.last_row) for t in tables] == [
        (8, 10, 11, 22),
        (26, 28, 29, 40),
        (44, 46, 47, 58),
        (62, 64, 65, 76),
        (80, 82, 83, 94),
    ]
    areas = json.loads((REAL / "kdyt_baocaothang.areas.json").read_text(encoding="utf-8"))
    numbers, notes = set(), set()
    for area in areas:
        for parameter in area.get("parameters", []):
            position = parameter["position"]
            row = int(position[1:])
            if not any(t.first_row <= row <= t.last_row for t in tables):
                continue  # title block fields (unit name, date…) and the closing remark
            if position[0] in "AB":
                continue  # STT and the border gate's name: label columns here (see below)
            (numbers if parameter["type"] == "number" else notes).add(position)
    entries = {c.cell: c for c in spec.entry_cells}
    numeric = {a for a, c in entries.items() if c.type != "text"}
    text = {a for a, c in entries.items() if c.type == "text"}
    assert len(numbers) == 480
    assert numeric == numbers
    # value cells are horizontal merges: the cell is the top-left one
    assert entries["E11"].merged_range == "E11:F11" and entries["G11"].merged_range == "G11:I11"
    # Documented difference: the original application asks for a note ("Ghi chú") only on the
    # first row of each direction of the detail block; the template gives every row its own
    # merged note cell (P12:R12, P17:R17…), so the loader offers them all.
    assert notes <= text
    assert all(entries[a].merged_range for a in text - notes if a[0] in "PQ")
    # labels over three columns: gate (merged, filled in by the unit), direction, total/cumulative
    rows = {r.row: r for r in spec.rows}
    assert rows[11].label == "Nhập cảnh — Tổng số" and rows[12].label == "Nhập cảnh — Cộng dồn"
    assert rows[17].label == "Tổng số — Nhập cảnh — Tổng số" and rows[17].kind == "indicator"
    assert Counter(t.shape for t in tables) == {"entity": 5}
    # the closing remark is a narrative block (the original map's "footer" D97)
    [block] = spec.narrative_blocks
    assert block.range == "D97:R97" and "Nhận xét" in block.label


def test_ktxh_tonghop_numbered_items_nest_under_bold_dash_heading(specs):
    """ "1. …" restarting right after a bold "- LÂM NGHIỆP" lists that heading's parts."""
    spec = specs("ktxh_tonghop_gtsx_2015_2025")
    rows = {r.row: r for r in spec.rows}

    def parent(r):
        return rows[r].parent_key

    sector = parent(67)
    assert rows[67].label == "LÂM NGHIỆP" and rows[67].level == 2
    assert sector == "r6" and rows[6].label == "KHU VỰ NÔNG LÂM THỦY SẢN"
    # bold "-" headings are siblings of each other, under the sector heading
    for r in (7, 67, 95, 100, 103):
        assert (rows[r].number, rows[r].bold, rows[r].level, parent(r)) == ("-", True, 2, sector), r
    # the numbered items "1." … "4." are the parts of "- LÂM NGHIỆP"
    for r in (68, 75, 85, 91):
        assert (rows[r].level, parent(r)) == (3, "r67"), r
    assert [rows[r].label[:2] for r in (68, 75, 85, 91)] == ["1.", "2.", "3.", "4."]
    # their "-" items one level below them, " - " items (leading space) one more
    items = {68: range(69, 75), 75: range(76, 85), 85: range(86, 91), 91: range(92, 95)}
    indented = {72: 71, 73: 71, 74: 71, 88: 87}
    for item, children in items.items():
        for r in children:
            if r in indented:
                assert (rows[r].level, parent(r)) == (5, f"r{indented[r]}"), r
            else:
                assert (rows[r].level, parent(r)) == (4, f"r{item}"), r
    # the other bold "-" headings keep their own "-" / "+" children one level below
    for r in range(96, 100):
        assert (rows[r].level, parent(r)) == (3, "r95"), r
    for r in (101, 102):
        assert (rows[r].number, rows[r].level, parent(r)) == ("+", 3, "r100"), r
    assert (rows[104].number, rows[104].label, rows[104].level, parent(104)) == (
        "2",
        "TỔNG GIÁ TRỊ SX (THỰC TẾ)",
        0,
        None,
    )
    # the same rule under the non-bold "+ DỊCH VỤ NÔNG NGHIỆP" (E50 = E51 + E60)
    assert (rows[50].level, parent(50)) == (3, "r7")
    assert [(rows[r].level, parent(r)) for r in (51, 60)] == [(4, "r50"), (4, "r50")]
    assert (rows[52].level, parent(52)) == (5, "r51") and (rows[63].level, parent(63)) == (6, "r62")
    # and in the second block (current prices), which repeats the layout 99 rows lower
    for r in (67, 68, 75, 85, 91, 95, 100, 103):
        a, b = rows[r], rows[r + 99]
        assert (a.label, a.level) == (b.label, b.level), r
    assert parent(167) == "r166" and {parent(r) for r in (166, 194, 199, 202)} == {"r105"}


def test_ktxh_tonghop_hierarchy_follows_the_layout_not_only_the_sums(specs, monkeypatch):
    """Without the SUM ranges (a blank template) the layout alone gives the same tree."""
    from app.specs import loader

    with_sums = {r.row: (r.level, r.parent_key) for r in specs("ktxh_tonghop_gtsx_2015_2025").rows}
    monkeypatch.setattr(loader._SheetLoader, "nest_by_sums", lambda self, table, rows: False)
    spec = load_spec(REAL / "ktxh_tonghop_gtsx_2015_2025.xlsx")
    assert {r.row: (r.level, r.parent_key) for r in spec.rows} == with_sums
