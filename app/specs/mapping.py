"""From a parsed template to a publishable form: map rows to catalogue indicators and value
columns to catalogue keys, turn period names in headers into templates, check integrity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from app.models import Indicator, ValueColumn
from app.specs.model import FormSpec, Problem, RowSpec
from app.text import fold

# -- rows → indicators ---------------------------------------------------------------------------


@dataclass
class RowMatch:
    row_key: str
    label: str
    unit: str | None
    indicator_code: str | None
    how: str  # code | name | none


def suggest_row_mapping(session, spec: FormSpec) -> list[RowMatch]:
    """Match each indicator row to the catalogue: by code first, else by name and unit."""
    indicators = session.execute(
        select(Indicator.code, Indicator.name, Indicator.unit_of_measure).where(Indicator.active)
    ).all()
    by_code = {fold(i.code): i.code for i in indicators}
    by_name_unit: dict[tuple[str, str], str] = {}
    by_name: dict[str, list[str]] = {}
    for indicator in indicators:
        by_name_unit.setdefault((fold(indicator.name), fold(indicator.unit_of_measure)), indicator.code)
        by_name.setdefault(fold(indicator.name), []).append(indicator.code)
    matches = []
    for row in spec.rows:
        if row.kind != "indicator":
            continue
        code = by_code.get(fold(row.code)) if row.code else None
        if code:
            matches.append(RowMatch(row.key, row.label, row.unit, code, "code"))
            continue
        name = fold(row.label)
        code = by_name_unit.get((name, fold(row.unit)))
        if code is None and not row.unit and len(by_name.get(name, [])) == 1:
            code = by_name[name][0]
        matches.append(RowMatch(row.key, row.label, row.unit, code, "name" if code else "none"))
    return matches


def apply_row_mapping(spec: FormSpec, mapping: dict[str, str | None]) -> None:
    for row in spec.rows:
        if row.key in mapping:
            row.indicator_code = mapping[row.key] or None


def create_missing_indicators(
    session, spec: FormSpec, row_keys: list[str], *, owner_unit=None, code_prefix: str | None = None
) -> list[Indicator]:
    """One action: a catalogue indicator for each listed unmatched row, mapped at once."""
    prefix = code_prefix or spec.code
    existing = set(session.scalars(select(Indicator.code)))
    created = []
    rows = {row.key: row for row in spec.rows}
    for key in row_keys:
        row = rows[key]
        code = _indicator_code(prefix, row)
        suffix = 2
        while code in existing:
            code = f"{_indicator_code(prefix, row)}-{suffix}"
            suffix += 1
        indicator = Indicator(
            code=code,
            name=row.label,
            unit_of_measure=row.unit,
            value_type="decimal",
            aggregation_over_units="sum",
            aggregation_over_time="sum",
            owner_unit=owner_unit,
        )
        session.add(indicator)
        existing.add(code)
        row.indicator_code = code
        created.append(indicator)
    session.flush()
    return created


def _indicator_code(prefix: str, row: RowSpec) -> str:
    numbering = re.sub(r"[^0-9A-Za-z.]+", "", row.number or "") or row.key
    return f"{prefix}.{numbering}".strip(".")[:40]


# -- columns → catalogue keys --------------------------------------------------------------------

_COLUMN_HINTS = [
    ("ke hoach", "plan_year"),
    ("uoc thuc hien", "estimate_month"),
    ("uoc tinh", "estimate_month"),
    ("luy ke", "cumulative_ytd"),
    ("cung ky", "same_period_last_year"),
    ("so voi ke hoach", "plan_ratio"),
    ("thuc hien", "actual_month"),
]


def suggest_column_mapping(session, spec: FormSpec) -> dict[str, str | None]:
    """A catalogue key per value column, guessed from its header words."""
    known = set(session.scalars(select(ValueColumn.key)))
    suggestions = {}
    for sheet in spec.sheets:
        for table in sheet.tables:
            for column in table.columns:
                if column.role != "value":
                    continue
                header = fold(" ".join(column.header_path))
                guess = None
                if "%" in " ".join(column.header_path) and "ke hoach" in header:
                    guess = "plan_ratio"
                else:
                    for words, key in _COLUMN_HINTS:
                        if words in header:
                            guess = key
                            break
                suggestions[column.key] = guess if guess in known else None
    return suggestions


def apply_column_mapping(spec: FormSpec, mapping: dict[str, str | None], breakdowns=None) -> None:
    breakdowns = breakdowns or {}
    for sheet in spec.sheets:
        for table in sheet.tables:
            for column in table.columns:
                if column.key in mapping:
                    column.catalogue_key = mapping[column.key] or None
                if column.key in breakdowns:
                    column.breakdown = breakdowns[column.key] or None


# -- period-aware headers ------------------------------------------------------------------------

_MONTH_YEAR = re.compile(r"(?i)\b(tháng)\s+(\d{1,2})\s*/\s*(\d{4})")
_MONTHS_OF_YEAR = re.compile(r"(?i)\b(\d{1,2})\s+(tháng)(\s+(?:đầu\s+)?năm)\s+(\d{4})")
_QUARTER_YEAR = re.compile(r"(?i)\b(quý)\s+([IV]{1,3}|\d)\s*/\s*(\d{4})")
_YEAR = re.compile(r"(?i)\b(năm)\s+(\d{4})")


def header_template(text: str) -> str | None:
    """"Thực hiện tháng 10/2026" → "Thực hiện tháng {month}/{year}"; None when no period named."""
    template = _MONTH_YEAR.sub(lambda m: f"{m.group(1)} {{month}}/{{year}}", text)
    template = _MONTHS_OF_YEAR.sub(lambda m: f"{{month}} {m.group(2)}{m.group(3)} {{year}}", template)
    template = _QUARTER_YEAR.sub(lambda m: f"{m.group(1)} {{quarter}}/{{year}}", template)
    template = _YEAR.sub(lambda m: f"{m.group(1)} {{year}}", template)
    return template if template != text else None


def render_header(template: str, period) -> str:
    """A header template filled for a period (month, quarter in roman numerals, year)."""
    quarter = {1: "I", 2: "II", 3: "III", 4: "IV"}
    month = period.number if period.frequency == "month" else _last_month(period)
    return (
        template.replace("{month}", str(month))
        .replace("{quarter}", quarter.get(period.number, str(period.number)))
        .replace("{year}", str(period.year))
    )


def _last_month(period) -> int:
    return {"quarter": period.number * 3, "half_year": period.number * 6, "nine_months": 9,
            "year": 12}.get(period.frequency, 12)


def apply_header_templates(spec: FormSpec) -> int:
    """Record a header template on every value column whose header names a period."""
    count = 0
    for sheet in spec.sheets:
        for table in sheet.tables:
            for column in table.columns:
                if column.role != "value" or not column.header_path:
                    continue
                template = header_template(column.header_path[-1])
                if template:
                    column.header_template = template
                    count += 1
    return count


# -- integrity ------------------------------------------------------------------------------------


def integrity_problems(spec: FormSpec) -> list[Problem]:
    """What must be fixed before publishing: unmapped rows, formulas pointing outside the
    grid, one indicator on two rows of the same table, unsupported functions."""
    problems = []
    for row in spec.rows:
        if row.kind == "indicator" and not row.indicator_code:
            problems.append(Problem(f"dòng «{row.label}» chưa gắn với chỉ tiêu trong danh mục",
                                    sheet=row.sheet, row=row.row))
    seen: dict[tuple[str, int, str], RowSpec] = {}
    for row in spec.rows:
        if not row.indicator_code:
            continue
        key = (row.sheet, row.table, row.indicator_code)
        if key in seen:
            problems.append(Problem(
                f"chỉ tiêu {row.indicator_code} gắn cho hai dòng (dòng {seen[key].row} và dòng {row.row})",
                sheet=row.sheet, row=row.row))
        else:
            seen[key] = row
    areas = [
        (table.sheet, table.first_row, table.last_row,
         min((c.col for c in table.columns), default=1), max((c.col for c in table.columns), default=1))
        for sheet in spec.sheets for table in sheet.tables
    ]
    known_cells = {(c.sheet, c.cell) for c in spec.cells}

    def inside(sheet: str, address: str) -> bool:
        if (sheet, address) in known_cells:
            return True
        from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

        letters, row = coordinate_from_string(address.replace("$", ""))
        col = column_index_from_string(letters)
        return any(s == sheet and r0 <= row <= r1 and c0 <= col <= c1 for s, r0, r1, c0, c1 in areas)
    for cell in spec.cells:
        if cell.kind != "computed" or not cell.formula:
            continue
        try:
            from app.specs.formulas import check_formula, references

            for message in check_formula(cell.formula):
                problems.append(Problem(message, sheet=cell.sheet, row=_row(cell.cell),
                                        column=_col(cell.cell)))
            outside = [f"{s}!{a}" for s, a in references(cell.formula, cell.sheet)
                       if not inside(s, a)]
        except Exception as error:  # a formula the evaluator cannot read
            problems.append(Problem(f"công thức «={cell.formula}» không đọc được: {error}",
                                    sheet=cell.sheet, row=_row(cell.cell), column=_col(cell.cell)))
            continue
        if outside:
            problems.append(Problem(
                f"công thức «={cell.formula}» trỏ ra ngoài biểu mẫu: {', '.join(outside[:5])}",
                sheet=cell.sheet, row=_row(cell.cell), column=_col(cell.cell)))
    return problems


def _row(address: str) -> int:
    return int("".join(ch for ch in address if ch.isdigit()))


def _col(address: str) -> str:
    return "".join(ch for ch in address if ch.isalpha())
