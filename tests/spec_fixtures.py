"""A small hand-made form spec for storage and screen tests."""

from app.specs.model import CellSpec, ColumnSpec, FormSpec, RowSpec, SheetSpec, TableSpec

SHEET = "Biểu 01"


def small_spec(code: str = "TEST-B01", with_formula: bool = True) -> FormSpec:
    columns = [
        ColumnSpec(sheet=SHEET, table=0, col=1, letter="A", role="stt", key="stt"),
        ColumnSpec(sheet=SHEET, table=0, col=2, letter="B", role="label", key="label"),
        ColumnSpec(sheet=SHEET, table=0, col=3, letter="C", role="value", key="c3",
                   header_path=["Kế hoạch năm"], catalogue_key="plan_year"),
        ColumnSpec(sheet=SHEET, table=0, col=4, letter="D", role="value", key="c4",
                   header_path=["Thực hiện tháng"], catalogue_key="actual_month"),
        ColumnSpec(sheet=SHEET, table=0, col=5, letter="E", role="value", key="c5",
                   header_path=["Tổng"]),
    ]
    table = TableSpec(sheet=SHEET, index=0, shape="indicator", header_first_row=3,
                      header_last_row=3, number_row=4, first_row=5, last_row=7, columns=columns)
    rows = [
        RowSpec(sheet=SHEET, table=0, row=5, kind="indicator", key="r5", label="Dân số", number="1",
                unit="người"),
        RowSpec(sheet=SHEET, table=0, row=6, kind="indicator", key="r6", label="Diện tích lúa",
                number="2", unit="ha"),
        RowSpec(sheet=SHEET, table=0, row=7, kind="indicator", key="r7", label="Ghi chú chung",
                number="3"),
    ]
    cells = [
        CellSpec(sheet=SHEET, cell="C5", kind="entry", type="integer", row_key="r5",
                 column_key="c3", min=0, required=True),
        CellSpec(sheet=SHEET, cell="D5", kind="entry", type="integer", row_key="r5",
                 column_key="c4", min=0),
        CellSpec(sheet=SHEET, cell="C6", kind="entry", type="decimal", row_key="r6",
                 column_key="c3", decimals=2),
        CellSpec(sheet=SHEET, cell="D6", kind="entry", type="decimal", row_key="r6",
                 column_key="c4", decimals=2),
        CellSpec(sheet=SHEET, cell="C7", kind="entry", type="text", row_key="r7", column_key="c3"),
    ]
    if with_formula:
        cells += [
            CellSpec(sheet=SHEET, cell="E5", kind="computed", row_key="r5", column_key="c5",
                     formula="C5+D5"),
            CellSpec(sheet=SHEET, cell="E6", kind="computed", row_key="r6", column_key="c5",
                     formula="ROUND(C6+D6,1)"),
        ]
    return FormSpec(code=code, title="Biểu thử", sheets=[SheetSpec(name=SHEET, tables=[table])],
                    rows=rows, cells=cells)
