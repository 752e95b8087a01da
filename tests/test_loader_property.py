"""Generated templates: whatever their layout, the loader finds every entry cell and label."""

from __future__ import annotations

import io

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.styles import Font, Protection
from openpyxl.utils import get_column_letter

from app.specs.loader import load_spec

WORDS = [
    "Diện tích",
    "Sản lượng",
    "Số hộ",
    "Lao động",
    "Doanh thu",
    "Vốn đầu tư",
    "Giường bệnh",
    "Học sinh",
]
UNITS = ["ha", "tấn", "người", "%", "tỷ đồng"]


@st.composite
def templates(draw):
    depth = draw(st.integers(1, 3))
    n_values = draw(st.integers(1, 5))
    has_unit = draw(st.booleans())
    label_header = draw(st.sampled_from(["Chỉ tiêu", "Nội dung", "Tên chỉ tiêu"]))
    unit_header = draw(st.sampled_from(["Đơn vị tính", "ĐVT", "Đơn vị\ntính"]))
    kinds = ["stt", "label"] + (["unit"] if has_unit else []) + ["value"] * n_values
    order = draw(st.permutations(kinds))
    number_row = draw(st.booleans())
    protected = draw(st.booleans())
    title_rows = draw(st.integers(0, 3))
    sections = draw(st.booleans())
    total_column = n_values >= 2 and draw(st.booleans())
    parent_sums = draw(st.booleans())
    # numbering: top items with 0-2 children each
    tops = draw(st.lists(st.integers(0, 2), min_size=1, max_size=6))
    return dict(
        depth=depth,
        order=list(order),
        number_row=number_row,
        protected=protected,
        title_rows=title_rows,
        sections=sections,
        total_column=total_column,
        parent_sums=parent_sums,
        tops=tops,
        label_header=label_header,
        unit_header=unit_header,
        footer=draw(st.booleans()),
    )


def build(t):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Biểu"
    order = t["order"]
    col_of = {}
    value_cols = []
    for i, kind in enumerate(order, start=1):
        if kind == "value":
            value_cols.append(i)
        else:
            col_of[kind] = i
    r = 1
    for i in range(t["title_rows"]):
        ws.cell(r, 1, f"TIÊU ĐỀ BÁO CÁO DÒNG {i + 1}")
        r += 2 if i == 0 else 1
    h0 = r
    depth = t["depth"]
    headers = {"stt": "STT", "label": t["label_header"], "unit": t["unit_header"]}
    for kind, c in col_of.items():
        ws.cell(h0, c, headers[kind]).font = Font(bold=True)
        if depth > 1:
            ws.merge_cells(start_row=h0, start_column=c, end_row=h0 + depth - 1, end_column=c)
    # value headers: a group over each run of adjacent value columns, then one text per column
    runs = []
    for c in value_cols:
        if runs and runs[-1][-1] == c - 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    leaf = {}
    for j, c in enumerate(value_cols, start=1):
        leaf[c] = f"Giá trị {j}"
    if depth == 1:
        for c in value_cols:
            ws.cell(h0, c, leaf[c])
    else:
        for k, run in enumerate(runs, start=1):
            ws.cell(h0, run[0], f"Nhóm {k}")
            if len(run) > 1:
                ws.merge_cells(start_row=h0, start_column=run[0], end_row=h0, end_column=run[-1])
        for c in value_cols:
            if depth == 3:
                ws.cell(h0 + 1, c, f"Phần {c}")
            ws.cell(h0 + depth - 1, c, leaf[c])
    r = h0 + depth
    if t["number_row"]:
        letters = iter("ABCDEFG")
        numbers = iter(range(1, 20))
        for c, kind in enumerate(order, start=1):
            ws.cell(r, c, next(letters) if kind != "value" else str(next(numbers)))
        r += 1
    expected_entry, expected_formula, labels, headings = set(), {}, [], set()
    rows = []  # (number, label, is_heading, children rows)
    sections = ["I", "II"] if t["sections"] else [None]
    n = 0
    for section in sections:
        if section:
            rows.append((section, f"PHẦN {section}", True, []))
        for top, children in enumerate(t["tops"], start=1):
            n += 1
            rows.append((str(top), f"{WORDS[n % len(WORDS)]} {n}", False, list(range(children))))
            for child in range(children):
                n += 1
                rows.append((f"{top}.{child + 1}", f"{WORDS[n % len(WORDS)]} {n}", False, []))
    first_data = r
    unlocked = Protection(locked=False)
    for index, (number, label, heading, children) in enumerate(rows):
        ws.cell(r, col_of["stt"], number)
        cell = ws.cell(r, col_of["label"], label)
        labels.append(label)
        if heading:
            cell.font = Font(bold=True)
            headings.add(r)
            r += 1
            continue
        if "unit" in col_of:
            ws.cell(r, col_of["unit"], UNITS[index % len(UNITS)])
        for j, c in enumerate(value_cols):
            address = f"{get_column_letter(c)}{r}"
            if t["parent_sums"] and children:
                first, last = r + 1, r + len(children)
                formula = f"SUM({get_column_letter(c)}{first}:{get_column_letter(c)}{last})"
                ws.cell(r, c, "=" + formula)
                expected_formula[address] = formula
            elif t["total_column"] and j == 0:
                formula = "+".join(f"{get_column_letter(x)}{r}" for x in value_cols[1:])
                ws.cell(r, c, "=" + formula)
                expected_formula[address] = formula
            else:
                cell = ws.cell(r, c)
                cell.number_format = "#,##0"
                if t["protected"]:
                    cell.protection = unlocked
                expected_entry.add(address)
        r += 1
    if t["footer"]:
        ws.cell(r + 1, col_of["label"], "Người lập biểu")
        ws.cell(r + 2, col_of["label"], "(Ký, ghi rõ họ tên)")
    if t["protected"]:
        ws.protection.sheet = True
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue(), expected_entry, expected_formula, labels, headings, first_data, rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(templates())
def test_generated_templates(t):
    data, expected_entry, expected_formula, labels, headings, first_data, rows = build(t)
    spec = load_spec(data, filename="sinh_ngau_nhien.xlsx")
    assert not spec.errors, [str(p) for p in spec.problems]
    [sheet] = spec.sheets
    [table] = sheet.tables
    assert table.first_row == first_data
    assert max(h.level for h in table.headers) == t["depth"]
    roles = {c.col: c.role for c in table.columns}
    for kind in ("stt", "label", "unit"):
        if kind in t["order"]:
            assert roles[t["order"].index(kind) + 1] == kind
    assert sorted(c for c, role in roles.items() if role == "value") == [
        i for i, kind in enumerate(t["order"], start=1) if kind == "value"
    ]
    assert {c.cell for c in spec.entry_cells} == expected_entry
    assert {c.cell: c.formula for c in spec.computed_cells} == expected_formula
    spec_labels = [r.label for r in spec.rows]
    for label in labels:
        assert label in spec_labels
    assert {r.row for r in spec.rows if r.kind == "heading"} == headings
    by_number = {}
    for row in spec.rows:
        if row.number and row.kind != "heading":
            if "." in row.number:
                parent = by_number[row.number.split(".")[0]]
                assert row.level == parent.level + 1 and row.parent_key == parent.key
            else:
                by_number[row.number] = row
