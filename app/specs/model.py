"""The form spec: plain dataclasses, serialisable to JSON and YAML, with a content hash.

A spec describes a form as the paper shows it: sheets, their stacked tables with header cells
(levels from merged cells) and columns, rows (section headings, indicator rows, entity rows),
and cells that are entry, computed (formula) or fixed; narrative blocks; named choice lists;
rules across cells; and the problems found while reading the template. Every position is a
sheet name plus an A1 address, so every message can say where.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import yaml

SPEC_FORMAT = 1

CELL_KINDS = ("entry", "computed", "fixed")
CELL_TYPES = ("number", "integer", "decimal", "percent", "text", "date", "choice")
ROW_KINDS = ("heading", "indicator", "entity", "text")
TABLE_SHAPES = ("indicator", "entity", "text")
COLUMN_ROLES = ("stt", "label", "unit", "code", "note", "value")


@dataclass
class Problem:
    """Something found in a template or a filled workbook, with its place."""

    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None  # column letter
    severity: str = "error"  # error | warning

    def where(self) -> str:
        parts = []
        if self.sheet:
            parts.append(f"trang «{self.sheet}»")
        if self.row:
            parts.append(f"dòng {self.row}")
        if self.column:
            parts.append(f"cột {self.column}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where[:1].upper() + where[1:]}: {self.message}" if where else self.message


@dataclass
class Choice:
    value: str
    label: str


@dataclass
class HeaderCell:
    """One header text, possibly merged over several columns and rows; level 1 is the top."""

    sheet: str
    range: str  # A1 range, e.g. "D4:F4" (a single cell is "D4:D4")
    text: str
    level: int
    first_col: int
    last_col: int


@dataclass
class ColumnSpec:
    sheet: str
    table: int  # index of the table on its sheet
    col: int  # 1-based
    letter: str
    role: str  # stt | label | unit | code | note | value
    key: str  # stable key inside the form, e.g. "c4"
    header_path: list[str] = field(default_factory=list)
    number_label: str | None = None  # text of the column-number row: "A", "1", "3=1+2"
    catalogue_key: str | None = None  # ValueColumn.key of the catalogue, mapped by an admin
    breakdown: str | None = None  # "sex:male", mapped by an admin
    header_template: str | None = None  # "Thực hiện tháng {month}/{year}"
    carry_over: str | None = None  # previous_period | same_period_last_year | annual_plan
    carry_over_editable: bool = True
    unit: str | None = None  # unit printed in the header text: "Trị giá (Triệu USD)" → "Triệu USD"


@dataclass
class RowSpec:
    sheet: str
    table: int
    row: int
    kind: str  # heading | indicator | entity | text
    key: str  # stable key inside the form, e.g. "r12" or the "Mã số"
    label: str
    number: str | None = None  # STT as printed: "I", "1", "1.1", "-", "+"
    unit: str | None = None
    code: str | None = None
    level: int = 0
    parent_key: str | None = None
    indicator_code: str | None = None  # Indicator.code, mapped by an admin
    bold: bool = False
    hidden: bool = False


@dataclass
class CellSpec:
    sheet: str
    cell: str  # A1 address of the top-left cell
    kind: str  # entry | computed | fixed
    type: str = "number"
    row_key: str | None = None
    column_key: str | None = None
    merged_range: str | None = None  # "C5:D5" when the value cell is a merged range
    required: bool = False
    min: float | None = None
    max: float | None = None
    decimals: int | None = None
    choices: str | None = None  # name of a list in FormSpec.choices
    help: str | None = None
    formula: str | None = None  # without the leading "="
    value: Any = None  # fixed text, or the cached value found in the template

    @property
    def key(self) -> str:
        """The value key of the cell: row and column keys, or the address when unkeyed."""
        if self.row_key and self.column_key:
            return f"{self.row_key}|{self.column_key}"
        return f"{self.sheet}!{self.cell}"


@dataclass
class NarrativeBlock:
    sheet: str
    range: str
    key: str
    label: str = ""
    required: bool = False


@dataclass
class Rule:
    """A check across cells, XLSForm-like: an expression over cell references and a message."""

    expression: str
    message: str
    severity: str = "error"


@dataclass
class TableSpec:
    sheet: str
    index: int
    shape: str  # indicator | entity | text
    header_first_row: int
    header_last_row: int
    number_row: int | None  # the row of column numbers (A, B, 1, 2…), when present
    first_row: int
    last_row: int
    headers: list[HeaderCell] = field(default_factory=list)
    columns: list[ColumnSpec] = field(default_factory=list)


@dataclass
class SheetSpec:
    name: str
    title: list[str] = field(default_factory=list)
    protected: bool = False
    hidden_rows: list[int] = field(default_factory=list)
    hidden_columns: list[str] = field(default_factory=list)
    max_row: int = 0
    max_col: int = 0
    column_widths: dict[str, float] = field(default_factory=dict)
    tables: list[TableSpec] = field(default_factory=list)


@dataclass
class FormSpec:
    code: str
    title: str
    version: int = 1
    source_filename: str | None = None
    attachments_allowed: bool = False
    sheets: list[SheetSpec] = field(default_factory=list)
    rows: list[RowSpec] = field(default_factory=list)
    cells: list[CellSpec] = field(default_factory=list)
    narrative_blocks: list[NarrativeBlock] = field(default_factory=list)
    choices: dict[str, list[Choice]] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    format: int = SPEC_FORMAT

    # -- views -------------------------------------------------------------------------------
    @property
    def entry_cells(self) -> list[CellSpec]:
        return [c for c in self.cells if c.kind == "entry"]

    @property
    def computed_cells(self) -> list[CellSpec]:
        return [c for c in self.cells if c.kind == "computed"]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def cell_at(self, sheet: str, address: str) -> CellSpec | None:
        for cell in self.cells:
            if cell.sheet == sheet and cell.cell == address:
                return cell
        return None

    # -- serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FormSpec:
        def build(klass, value):
            if value is None:
                return None
            names = {f.name for f in fields(klass)}
            return klass(**{k: v for k, v in value.items() if k in names})

        sheets = []
        for sheet_data in data.get("sheets", []):
            sheet = build(SheetSpec, {k: v for k, v in sheet_data.items() if k != "tables"})
            for table_data in sheet_data.get("tables", []):
                table = build(
                    TableSpec,
                    {k: v for k, v in table_data.items() if k not in ("headers", "columns")},
                )
                table.headers = [build(HeaderCell, h) for h in table_data.get("headers", [])]
                table.columns = [build(ColumnSpec, c) for c in table_data.get("columns", [])]
                sheet.tables.append(table)
            sheets.append(sheet)
        plain = {
            k: v
            for k, v in data.items()
            if k not in ("sheets", "rows", "cells", "narrative_blocks", "choices", "rules", "problems")
        }
        spec = build(cls, plain)
        spec.sheets = sheets
        spec.rows = [build(RowSpec, r) for r in data.get("rows", [])]
        spec.cells = [build(CellSpec, c) for c in data.get("cells", [])]
        spec.narrative_blocks = [build(NarrativeBlock, n) for n in data.get("narrative_blocks", [])]
        spec.choices = {
            name: [build(Choice, c) for c in items] for name, items in data.get("choices", {}).items()
        }
        spec.rules = [build(Rule, r) for r in data.get("rules", [])]
        spec.problems = [build(Problem, p) for p in data.get("problems", [])]
        return spec

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, default=str, **kwargs)

    @classmethod
    def from_json(cls, text: str) -> FormSpec:
        return cls.from_dict(json.loads(text))

    def to_yaml(self) -> str:
        return yaml.safe_dump(
            json.loads(self.to_json()), allow_unicode=True, sort_keys=False, width=100
        )

    @classmethod
    def from_yaml(cls, text: str) -> FormSpec:
        return cls.from_dict(yaml.safe_load(text))

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of everything but the version number and problems."""
        data = self.to_dict()
        data.pop("version", None)
        data.pop("problems", None)
        canonical = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def summary(self) -> dict[str, Any]:
        """The shape `flask forms parse` prints: the spec plus flat lists of what matters most."""
        data = self.to_dict()
        data["entry_cells"] = [asdict(c) for c in self.entry_cells]
        data["computed_cells"] = [asdict(c) for c in self.computed_cells]
        return data
