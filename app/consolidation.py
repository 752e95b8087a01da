"""Consolidated and composed reports (tổng hợp, seed 004 Art. 14-17): one SQL engine for both.

**Consolidation** (a department over its branches, the province over its communes). A report R
consolidates its *child reports*: the reports of the same period and form code whose unit lies
under R's unit (``unit.path LIKE R.path || '%'``) with no other report-holding unit between them
(nearest reporting descendants: a district that holds its own report is used instead of its
communes). Only accepted children are official; ``provisional=True`` also counts reports sent and
not yet accepted, and the result says so. Reports of units that answer for indicators of the
regime (IndicatorResponsibility) are not children: their rows are composed, never summed (they
still stand "between", so their own branches are not counted either).

The values come from ONE statement: a GROUP BY (row key, column key, breakdown key) over
``report_value`` joined to the children (report × unit, path prefix), returning sum, average,
min, max and count; each cell then takes the aggregate its indicator asks for
(``Indicator.aggregation_over_units``: sum | average | min | max; "none" is not aggregated).
Rules for the cells:

* only entry cells are consolidated: computed cells are never stored and are derived again from
  the consolidated entry values on read, so a ratio the form computes with a formula is
  recalculated from its consolidated parts;
* a ratio indicator (``numerator_id``/``denominator_id``) whose cell is an entry cell gets
  sum(numerator) / sum(denominator) over the children, read from the numerator's and
  denominator's rows of the same form and column, never an average of the children's ratios
  (percent values are stored as fractions, "12,5%" → 0.125, so the quotient is stored as is);
  without both rows on the form, or with a zero denominator, the cell stays blank;
* a numeric row mapped to no catalogue indicator is summed; text cells and indicators with
  aggregation "none" are left for the consolidating unit to fill;
* averages and ratios are rounded to the cell's precision (integer cells to whole numbers,
  ``CellSpec.decimals`` places when set, else 8 places as stored);
* **adjustment**: the spec model has no "adjustable after consolidation" flag on ColumnSpec or
  CellSpec. The rule chosen: cells of columns marked ``carry_over`` (previous period, same period
  last year, annual plan) are never consolidated nor composed; they keep what the report itself
  holds (prefilled from its own earlier report, or typed by a person). Every other consolidated
  cell is owned by the consolidation: running it again replaces it, and a cell no child fills
  any more becomes blank.

Values are written through ``app.reports.save_values`` (bulk statements, audit entry, revision,
optimistic locking), and only while R is editable (draft or returned). Afterwards R runs its
own submit/approve/send cycle like any other report.

**Composition** (seed 004 Art. 16.1, 17.9). In an indicator regime each indicator may have a
responsible unit. A responsible unit's report may be filled only in its own rows
(``editable_row_keys``; ``save_values`` ignores the others). The lead agency's report of kind
"composed" takes each row whose indicator another unit answers for from that unit's accepted
report (a copy, NOT a sum), again with one statement over ``report_value``.

**Precedence** on a report that is both composed and consolidated (departments answer for some
rows, communes report the same form): rows with a responsible unit belong to composition and are
never summed; every other row is consolidated from the child reports when there are any, and is
otherwise typed by the lead agency. ``compose`` and ``consolidate`` each touch only their own
rows, so they can run in either order.

**Corrections**. An ``AFTER_TRANSITION_HOOKS`` hook (registered when this module is imported;
``app.create_app`` imports it) marks ``revised`` every consolidated or composed report computed
from a report that is reopened, or accepted again after a correction. Consolidating again needs
R to be editable: once sent, the agency above reopens it through the workflow first.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from sqlalchemy import (
    Numeric,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlalchemy.types import NullType

from app.errors import DomainError
from app.models import (
    Indicator,
    IndicatorResponsibility,
    Period,
    Report,
    ReportValue,
    Unit,
)
from app.reports import (
    NUMERIC_TYPES,
    _carried_columns,
    join_key,
    lock_report,
    save_values,
    spec_of,
    split_key,
)
from app.workflow import (
    ACCEPTED,
    AFTER_TRANSITION_HOOKS,
    EDITABLE_STATES,
    SENT,
    STATE_WORDS,
)

OFFICIAL_STATES = (ACCEPTED,)
PROVISIONAL_STATES = (ACCEPTED, SENT)
OFFICIAL_LABEL = "Số liệu chính thức (chỉ tính báo cáo đã được tiếp nhận)"
PROVISIONAL_LABEL = "Số liệu tạm tính (gồm cả báo cáo đã gửi, chưa được tiếp nhận)"
AGGREGATED = ("sum", "average", "min", "max")
_STORED = Decimal("1e-8")
_NUMBER = Numeric(28, 8)


class ConsolidationRefused(DomainError):
    """A consolidation or composition that may not run now, with the reason."""


@dataclass
class ChildReport:
    report_id: int
    unit_id: int
    unit_name: str
    state: str
    counted: bool

    @property
    def state_word(self) -> str:
        return STATE_WORDS.get(self.state, self.state)


@dataclass
class Summary:
    """What a consolidation or a composition did."""

    action: str  # consolidation | composition
    provisional: bool = False
    counted: list[ChildReport] = field(default_factory=list)
    # reports (or responsible units) whose figures were not taken: (unit name, why)
    not_counted: list[tuple[str, str]] = field(default_factory=list)
    values: dict[str, object] = field(default_factory=dict)  # what the cells received
    skipped: dict[str, str] = field(default_factory=dict)  # cell key → why not touched
    saved: int = 0
    ignored: list[str] = field(default_factory=list)
    revision: int = 0

    @property
    def label(self) -> str:
        return PROVISIONAL_LABEL if self.provisional else OFFICIAL_LABEL

    @property
    def children_counted(self) -> int:
        return len(self.counted)

    @property
    def missing(self) -> list[str]:
        return [name for name, _why in self.not_counted]

    @property
    def message(self) -> str:
        what = "Đã tổng hợp" if self.action == "consolidation" else "Đã ghép số liệu"
        text = (f"{what} từ {len(self.counted)} báo cáo, cập nhật {self.saved} ô. "
                f"{self.label}.")
        if self.not_counted:
            text += " Chưa tính: " + "; ".join(f"{n} ({why})" for n, why in self.not_counted) + "."
        return text


@dataclass
class DrillRow(ChildReport):
    """One unit's value behind a consolidated or composed cell."""

    value: object = None


# -- responsibilities -----------------------------------------------------------------------------


def _responsibilities(session, regime_id: int) -> dict[str, int]:
    """Indicator code → responsible unit id for a regime (one statement)."""
    return dict(session.execute(
        select(Indicator.code, IndicatorResponsibility.unit_id)
        .join(Indicator, Indicator.id == IndicatorResponsibility.indicator_id)
        .where(IndicatorResponsibility.regime_id == regime_id)
    ).all())


def _composed_rows(spec, responsible: dict[str, int], unit_id: int) -> dict[str, int]:
    """Row key → unit id of the rows another unit answers for."""
    return {
        row.key: responsible[row.indicator_code]
        for row in spec.rows
        if row.indicator_code in responsible and responsible[row.indicator_code] != unit_id
    }


def editable_row_keys(session, report: Report) -> set[str] | None:
    """The row keys a report may be filled in, or None for every row.

    * no responsibilities defined for the regime: None;
    * a composed report: every row except those another unit answers for (they are composed);
    * the report of a unit that answers for some indicators: the rows of those indicators only;
    * any other unit (a commune, a lead agency answering for nothing): None."""
    responsible = _responsibilities(session, report.regime_id)
    if not responsible:
        return None
    spec = spec_of(report.form_version)
    if report.kind == "composed":
        taken = _composed_rows(spec, responsible, report.unit_id)
        row_keys = {split_key(cell.key)[0] for cell in spec.cells} | {r.key for r in spec.rows}
        return row_keys - set(taken)
    own = {code for code, unit_id in responsible.items() if unit_id == report.unit_id}
    if not own:
        return None
    return {row.key for row in spec.rows if row.indicator_code in own}


# -- child reports ----------------------------------------------------------------------------


def _children_select(session, report: Report, states):
    """Nearest reporting descendants of the report's unit, as a SELECT of (report_id, unit_id,
    unit_name, unit_path, period_id, state, counted). Units answering for indicators of the
    regime are left out (composition takes their rows)."""
    return _nearest_reports(session, report.form_code, [report.period_id], report.unit, states,
                            report.regime_id)


_DEEPEST = select(func.max(Unit.__table__.c.depth)).where(
    Unit.__table__.c.path.like(bindparam("below")))


def _levels_between(session, root) -> int:
    """How many levels of units can stand between the root and a unit below it."""
    deepest = session.connection().scalar(_DEEPEST, {"below": root.path + "%"}) or root.depth
    return max(0, deepest - root.depth - 1)


def _nearest_reports(session, form_code: str, period_ids, root, states, regime_id: int):
    """For each period, the reports of ``form_code`` of the nearest reporting units below
    ``root`` (a unit holding its own report stands for its whole branch), as a SELECT of
    (report_id, unit_id, unit_name, unit_path, period_id, state, counted).

    "Nearest" is checked on the unit's ancestors between it and the root, found through the
    parent links (indexed lookups, not a path comparison with every other report); as many
    levels as the subtree has, none when the root's children are its leaves."""
    child, child_unit = aliased(Report), aliased(Unit)
    below = root.path + "%"
    parents, ancestor_ids, level = [], [], child_unit
    for _ in range(_levels_between(session, root)):
        parent = aliased(Unit)
        parents.append((parent, level))
        ancestor_ids.append(case((parent.depth > root.depth, parent.id)))
        level = parent
    between = aliased(Report)
    nearer = exists(
        select(between.id).where(
            between.period_id == child.period_id, between.form_code == form_code,
            between.unit_id.in_(ancestor_ids),
        )
    ) if ancestor_ids else false()
    responsible_units = select(IndicatorResponsibility.unit_id).where(
        IndicatorResponsibility.regime_id == regime_id
    )
    query = (
        select(
            child.id.label("report_id"), child.unit_id.label("unit_id"),
            child_unit.name.label("unit_name"), child_unit.path.label("unit_path"),
            child.period_id.label("period_id"),
            child.state.label("state"), child.state.in_(states).label("counted"),
        )
        .join(child_unit, child_unit.id == child.unit_id)
    )
    for parent, level in parents:
        query = query.outerjoin(parent, parent.id == level.parent_id)
    return query.where(
        child.period_id.in_(list(period_ids)),
        child.form_code == form_code,
        child_unit.path.like(below),
        child_unit.id != root.id,
        ~nearer,
        child.unit_id.not_in(responsible_units),
    )


def child_reports(session, report: Report, *, provisional: bool = False) -> list[ChildReport]:
    """The reports a consolidation of ``report`` is computed from, counted or not (one
    statement), by unit name."""
    states = PROVISIONAL_STATES if provisional else OFFICIAL_STATES
    rows = session.execute(
        _children_select(session, report, states).order_by("unit_name")
    ).all()
    return [ChildReport(r.report_id, r.unit_id, r.unit_name, r.state, bool(r.counted))
            for r in rows]


def _aggregates(session, report: Report, states) -> dict[str, tuple]:
    """THE consolidation statement: value key → (sum, average, min, max, count) over the
    counted child reports' numeric values."""
    children = _children_select(session, report, states).cte("children")
    value = ReportValue.number_value
    rows = session.execute(
        select(
            ReportValue.row_key, ReportValue.column_key, ReportValue.breakdown_key,
            type_coerce(func.sum(value), _NUMBER).label("total"),
            type_coerce(func.avg(value), _NUMBER).label("mean"),
            type_coerce(func.min(value), _NUMBER).label("least"),
            type_coerce(func.max(value), _NUMBER).label("greatest"),
            func.count(value).label("n"),
        )
        .join(children, children.c.report_id == ReportValue.report_id)
        .where(children.c.state.in_(states), value.is_not(None))
        .group_by(ReportValue.row_key, ReportValue.column_key, ReportValue.breakdown_key)
    ).all()
    return {
        join_key(r.row_key, r.column_key): (
            _decimal(r.total), _decimal(r.mean), _decimal(r.least), _decimal(r.greatest), r.n,
        )
        for r in rows
    }


def _decimal(value) -> Decimal | None:
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _fit(value: Decimal | None, cell) -> Decimal | None:
    """A computed average or ratio at the precision the cell takes."""
    if value is None:
        return None
    if cell.type == "integer":
        return value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if cell.decimals is not None:
        return value.quantize(Decimal(1).scaleb(-int(cell.decimals)), rounding=ROUND_HALF_UP)
    return value.quantize(_STORED, rounding=ROUND_HALF_UP).normalize()


# -- guards ---------------------------------------------------------------------------------------


def _require_editable(session, report: Report, doing: str) -> None:
    lock_report(session, report)
    state = session.scalar(select(Report.state).where(Report.id == report.id))
    if state not in EDITABLE_STATES:
        raise ConsolidationRefused(
            f"Báo cáo đang ở trạng thái «{STATE_WORDS.get(state, state)}» nên không {doing} lại "
            "được. Chỉ tính lại được khi báo cáo đang nhập hoặc bị trả lại; báo cáo đã gửi phải "
            "được cơ quan tiếp nhận trả lại hoặc mở lại để đính chính trước."
        )


def _plan(session, report: Report, spec, summary: Summary) -> dict[str, tuple]:
    """Consolidated cell key → (how, cell, numerator key, denominator key)."""
    carried = {column_key for column_key, *_rest in _carried_columns(spec)}
    allowed = editable_row_keys(session, report)
    rows_by_key = {row.key: row for row in spec.rows}
    codes = {row.indicator_code for row in spec.rows if row.indicator_code}
    indicators = {
        i.code: i for i in session.execute(
            select(Indicator.id, Indicator.code, Indicator.aggregation_over_units,
                   Indicator.numerator_id, Indicator.denominator_id)
            .where(Indicator.code.in_(codes))
        ).all()
    } if codes else {}
    row_of_indicator: dict[int, str] = {}
    for row in spec.rows:
        indicator = indicators.get(row.indicator_code)
        if indicator is not None:
            row_of_indicator.setdefault(indicator.id, row.key)

    plan = {}
    for cell in spec.entry_cells:
        if not cell.row_key or not cell.column_key:
            continue  # free-text cells of a narrative sheet
        key = cell.key
        if cell.column_key in carried:
            summary.skipped[key] = "cột chuyển từ kỳ trước, đơn vị tự nhập hoặc điều chỉnh"
            continue
        if allowed is not None and cell.row_key not in allowed:
            summary.skipped[key] = "dòng do đơn vị chịu trách nhiệm chỉ tiêu cung cấp"
            continue
        if cell.type not in NUMERIC_TYPES:
            summary.skipped[key] = "ô chữ, không tổng hợp"
            continue
        row = rows_by_key.get(cell.row_key)
        indicator = indicators.get(row.indicator_code) if row is not None else None
        if indicator is None:
            plan[key] = ("sum", cell, None, None)
        elif indicator.numerator_id is not None and indicator.denominator_id is not None:
            numerator_row = row_of_indicator.get(indicator.numerator_id)
            denominator_row = row_of_indicator.get(indicator.denominator_id)
            if numerator_row is None or denominator_row is None:
                summary.skipped[key] = "tỷ lệ thiếu dòng tử số hoặc mẫu số trên biểu"
                continue
            plan[key] = ("ratio", cell, join_key(numerator_row, cell.column_key),
                         join_key(denominator_row, cell.column_key))
        elif indicator.aggregation_over_units in AGGREGATED:
            plan[key] = (indicator.aggregation_over_units, cell, None, None)
        else:
            summary.skipped[key] = "chỉ tiêu không tổng hợp theo đơn vị"
    return plan


# -- consolidation --------------------------------------------------------------------------------


def consolidate(session, report: Report, *, provisional: bool = False, user=None) -> Summary:
    """Compute the report's consolidated cells from its child reports and save them (the caller
    commits). Refused when the report is not a consolidating one or is not editable."""
    if report.kind == "unit":
        raise ConsolidationRefused(
            f"Báo cáo của «{report.unit.name}» là báo cáo của đơn vị, không phải báo cáo tổng "
            "hợp từ các đơn vị cấp dưới."
        )
    _require_editable(session, report, "tổng hợp")
    states = PROVISIONAL_STATES if provisional else OFFICIAL_STATES
    summary = Summary("consolidation", provisional=provisional)
    children = child_reports(session, report, provisional=provisional)
    summary.counted = [c for c in children if c.counted]
    summary.not_counted = [(c.unit_name, c.state_word) for c in children if not c.counted]
    if not children:
        return summary  # nothing below holds this report: the cells stay as typed
    spec = spec_of(report.form_version)
    plan = _plan(session, report, spec, summary)
    aggregates = _aggregates(session, report, states) if summary.counted else {}
    changes = {}
    for key, (how, cell, numerator_key, denominator_key) in plan.items():
        found = aggregates.get(key)
        if how == "ratio":
            numerator = (aggregates.get(numerator_key) or (None,))[0]
            denominator = (aggregates.get(denominator_key) or (None,))[0]
            value = (_fit(numerator / denominator, cell)
                     if numerator is not None and denominator else None)
        elif found is None:
            value = None
        elif how == "sum":
            value = found[0].quantize(_STORED).normalize()
        elif how == "average":
            value = _fit(found[1], cell)
        elif how == "min":
            value = found[2].normalize()
        else:
            value = found[3].normalize()
        changes[key] = value
    summary.values = changes
    saved = save_values(session, report, changes, user=user)
    summary.saved, summary.ignored, summary.revision = saved.saved, saved.ignored, saved.revision
    return summary


# -- composition ----------------------------------------------------------------------------------


def compose(session, report: Report, *, provisional: bool = False, user=None) -> Summary:
    """Fill a composed report's rows from the accepted reports of the units answering for them
    (a copy of each row, not a sum); the caller commits. Rows nobody answers for are left to the
    lead agency (or to ``consolidate``)."""
    if report.kind != "composed":
        raise ConsolidationRefused(
            f"Báo cáo của «{report.unit.name}» không phải báo cáo ghép từ các đơn vị chịu trách "
            "nhiệm chỉ tiêu."
        )
    _require_editable(session, report, "ghép số liệu")
    states = PROVISIONAL_STATES if provisional else OFFICIAL_STATES
    summary = Summary("composition", provisional=provisional)
    spec = spec_of(report.form_version)
    composed = _composed_rows(spec, _responsibilities(session, report.regime_id), report.unit_id)
    if not composed:
        return summary
    units = sorted(set(composed.values()))
    for row in session.execute(
        select(Unit.id, Unit.name, Report.id.label("report_id"), Report.state)
        .outerjoin(Report, and_(Report.unit_id == Unit.id, Report.period_id == report.period_id,
                                Report.form_code == report.form_code))
        .where(Unit.id.in_(units))
        .order_by(Unit.name)
    ):
        if row.report_id is None:
            summary.not_counted.append((row.name, "chưa có báo cáo"))
        elif row.state in states:
            summary.counted.append(ChildReport(row.report_id, row.id, row.name, row.state, True))
        else:
            summary.not_counted.append((row.name, STATE_WORDS.get(row.state, row.state)))
    # the composition statement: the responsible units' values, in one SELECT
    found = {}
    for row in session.execute(
        select(ReportValue.row_key, ReportValue.column_key, ReportValue.number_value,
               ReportValue.text_value, Report.unit_id)
        .join(Report, Report.id == ReportValue.report_id)
        .where(Report.period_id == report.period_id, Report.form_code == report.form_code,
               Report.state.in_(states), Report.unit_id.in_(units))
    ):
        if composed.get(row.row_key) == row.unit_id:
            found[join_key(row.row_key, row.column_key)] = (
                row.number_value if row.number_value is not None else row.text_value
            )
    carried = {column_key for column_key, *_rest in _carried_columns(spec)}
    changes = {}
    for cell in spec.entry_cells:
        if cell.row_key not in composed or not cell.column_key:
            continue
        if cell.column_key in carried:
            summary.skipped[cell.key] = "cột chuyển từ kỳ trước, đơn vị tự nhập hoặc điều chỉnh"
            continue
        value = found.get(cell.key)
        changes[cell.key] = value.normalize() if isinstance(value, Decimal) else value
    summary.values = changes
    # these rows belong to the responsible units: the lead agency's own save would ignore them
    saved = save_values(session, report, changes, user=user, check_responsibility=False)
    summary.saved, summary.ignored, summary.revision = saved.saved, saved.ignored, saved.revision
    return summary


# -- drill-down ----------------------------------------------------------------------------------


def drill_down(session, report: Report, value_key: str, *,
               provisional: bool = False) -> list[DrillRow]:
    """The values behind one cell of a consolidated or composed report: for a composed row the
    responsible unit's report, otherwise every child report (counted or not) with its state and
    value, by unit name. One statement."""
    states = PROVISIONAL_STATES if provisional else OFFICIAL_STATES
    row_key, column_key = split_key(value_key)
    if report.kind == "composed":
        spec = spec_of(report.form_version)
        composed = _composed_rows(spec, _responsibilities(session, report.regime_id),
                                  report.unit_id)
        if row_key in composed:
            rows = session.execute(
                select(Unit.id.label("unit_id"), Unit.name.label("unit_name"),
                       Report.id.label("report_id"), Report.state,
                       ReportValue.number_value, ReportValue.text_value)
                .join(Unit, Unit.id == Report.unit_id)
                .outerjoin(ReportValue, and_(ReportValue.report_id == Report.id,
                                             ReportValue.row_key == row_key,
                                             ReportValue.column_key == column_key))
                .where(Report.period_id == report.period_id,
                       Report.form_code == report.form_code,
                       Report.unit_id == composed[row_key])
            ).all()
            return [_drill_row(r, r.state in states) for r in rows]
    children = _children_select(session, report, states).cte("children")
    rows = session.execute(
        select(children.c.unit_id, children.c.unit_name, children.c.report_id,
               children.c.state, children.c.counted,
               ReportValue.number_value, ReportValue.text_value)
        .outerjoin(ReportValue, and_(ReportValue.report_id == children.c.report_id,
                                     ReportValue.row_key == row_key,
                                     ReportValue.column_key == column_key))
        .order_by(children.c.unit_name)
    ).all()
    return [_drill_row(r, bool(r.counted)) for r in rows]


def breakdown_by_unit(session, report: Report, *, provisional: bool = False):
    """Every child report's numeric values at once, for the breakdown sheet of a consolidated
    report: [(unit name, state, counted, {value key: number})], by unit path. One statement."""
    states = PROVISIONAL_STATES if provisional else OFFICIAL_STATES
    children = _children_select(session, report, states).cte("children")
    rows = session.execute(
        select(children.c.unit_id, children.c.unit_name, children.c.unit_path,
               children.c.state, children.c.counted, ReportValue.row_key,
               ReportValue.column_key, ReportValue.number_value)
        .outerjoin(ReportValue, and_(ReportValue.report_id == children.c.report_id,
                                     ReportValue.number_value.is_not(None)))
        .order_by(children.c.unit_path)
    ).all()
    units: dict[int, tuple] = {}
    for r in rows:
        name, state, counted, values = units.setdefault(
            r.unit_id, (r.unit_name, r.state, bool(r.counted), {}))
        if r.row_key is not None:
            values[join_key(r.row_key, r.column_key)] = r.number_value
    return list(units.values())


def _drill_row(row, counted: bool) -> DrillRow:
    value = row.number_value if row.number_value is not None else row.text_value
    if isinstance(value, Decimal):
        value = value.normalize()
    return DrillRow(report_id=row.report_id, unit_id=row.unit_id, unit_name=row.unit_name,
                    state=row.state, counted=counted, value=value)


# -- corrections ----------------------------------------------------------------------------------


def computed_from(session, report: Report) -> list[int]:
    """Ids of the consolidated and composed reports computed from ``report`` that already hold
    values: the nearest report-holding unit above it (when its unit answers for no indicator),
    and the composed reports of the period when its unit answers for some."""
    answers_for = session.scalar(
        select(func.count(IndicatorResponsibility.id)).where(
            IndicatorResponsibility.regime_id == report.regime_id,
            IndicatorResponsibility.unit_id == report.unit_id,
        )
    )
    has_values = exists(select(ReportValue.id).where(ReportValue.report_id == Report.id))
    same = and_(Report.period_id == report.period_id, Report.form_code == report.form_code,
                Report.id != report.id, has_values)
    if answers_for:
        return list(session.scalars(
            select(Report.id).where(same, Report.kind == "composed")
        ))
    above = [int(part) for part in (report.unit.path or "").strip("/").split("/")
             if part and int(part) != report.unit_id]
    if not above:
        return []
    nearest = session.execute(
        select(Report.id, Report.kind)
        .join(Unit, Unit.id == Report.unit_id)
        .where(Report.period_id == report.period_id, Report.form_code == report.form_code,
               Report.unit_id.in_(above))
        .order_by(Unit.depth.desc())
        .limit(1)
    ).first()
    if nearest is None or nearest.kind not in ("consolidated", "composed"):
        return []
    if session.scalar(select(exists().where(ReportValue.report_id == nearest.id))):
        return [nearest.id]
    return []


# -- the province's figures: a subtree, one period or several -----------------------------------


@dataclass(slots=True)
class AggregateCell:
    """One aggregated figure: an indicator in a value column and breakdown."""

    indicator_id: int
    column_key: str
    breakdown_key: str
    value: Decimal | None
    reports: int  # values counted (units × periods)
    periods: int  # periods with at least one value
    unit_id: int | None = None  # the unit, in a breakdown by unit


@dataclass
class Aggregate:
    """Figures of a unit subtree over one or more periods, official or provisional."""

    provisional: bool
    period_ids: list[int]
    by_unit: bool = False
    # (unit id or None, indicator id, column key, breakdown key) → cell
    cells: dict[tuple, AggregateCell] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return PROVISIONAL_LABEL if self.provisional else OFFICIAL_LABEL

    def value(self, indicator_id: int, column_key: str, breakdown_key: str = "",
              unit_id: int | None = None):
        cell = self.cells.get((unit_id, indicator_id, column_key, breakdown_key))
        return cell.value if cell is not None else None


def _over_units(value):
    """The indicator's aggregation over units, as SQL over a group's values."""
    how = Indicator.aggregation_over_units
    return case((how == "average", func.avg(value)), (how == "min", func.min(value)),
                (how == "max", func.max(value)), else_=func.sum(value))


def aggregate(session, *, regime, form_code: str, period_ids, root_unit, provisional: bool = False,
              indicator_ids=None, by_unit: bool = False) -> Aggregate:
    """The figures of ``root_unit``'s subtree for ``form_code`` over ``period_ids`` (one period,
    a range, the months of a quarter, year to date), by indicator × value column × breakdown.

    The same engine as a consolidation: the nearest reporting units below the root (a unit with
    its own report stands for its branch), official (accepted) or provisional (sent too). Over
    several periods, two GROUP BYs in one statement: each indicator's aggregation over units per
    period, then its aggregation over time across the periods (sum, average, or the value of the
    latest period; "none" gives a value for a single period only). One period (the common case)
    takes a lighter statement, see ``_one_period``. Ratio indicators are then recalculated from
    their numerator's and denominator's aggregates, never averaged. ``by_unit``: the same for
    each counted unit separately (the breakdown sheet: one row per unit)."""
    period_ids = list(period_ids)
    if len(period_ids) == 1:
        return _one_period(session, regime=regime, form_code=form_code, period_id=period_ids[0],
                           root_unit=root_unit, provisional=provisional,
                           indicator_ids=indicator_ids, by_unit=by_unit)
    states = PROVISIONAL_STATES if provisional else OFFICIAL_STATES
    children = _nearest_reports(session, form_code, period_ids, root_unit, states,
                                regime.id).cte("children")
    value = ReportValue.number_value
    # the catalogue's value column when the form maps one, else the form's own column key
    column = func.coalesce(ReportValue.value_column_key, ReportValue.column_key)
    unit = children.c.unit_id if by_unit else literal(0)
    unit_group = [children.c.unit_id] if by_unit else []  # never GROUP BY 0: a position in SQL
    per_period = (
        select(
            children.c.period_id, unit.label("unit_id"), ReportValue.indicator_id,
            column.label("column_key"), ReportValue.breakdown_key,
            type_coerce(_over_units(value), _NUMBER).label("value"),
            func.count(value).label("reports"),
        )
        .join(children, children.c.report_id == ReportValue.report_id)
        .join(Indicator, Indicator.id == ReportValue.indicator_id)
        .where(children.c.counted, value.is_not(None),
               Indicator.aggregation_over_units != "none")
        .group_by(children.c.period_id, *unit_group, ReportValue.indicator_id, column,
                  ReportValue.breakdown_key, Indicator.aggregation_over_units)
    )
    if indicator_ids is not None:
        per_period = per_period.where(ReportValue.indicator_id.in_(list(indicator_ids)))
    rows = session.execute(_over_time(per_period.cte("per_period"), by_unit)).all()
    result = Aggregate(provisional=provisional, period_ids=period_ids, by_unit=by_unit)
    cells = result.cells
    # plain tuples: a national breakdown is hundreds of thousands of rows
    for (unit_id, indicator_id, column_key, breakdown_key, value, reports, periods,
         over_time) in rows:
        if over_time == "none" and periods > 1:
            continue  # not meaningful over time (a stock of one date, a rank…)
        unit_id = unit_id if by_unit else None
        breakdown_key = breakdown_key or ""
        cells[(unit_id, indicator_id, column_key, breakdown_key)] = AggregateCell(
            indicator_id, column_key, breakdown_key,
            value if value is None or type(value) is Decimal else Decimal(str(value)),
            reports, periods, unit_id)
    _recalculate_ratios(session, result)
    return result


# -- one period: the nearest reports' values, grouped once -------------------------------------

_R, _U, _V = Report.__table__.alias("r"), Unit.__table__.alias("u"), ReportValue.__table__.alias("v")


def _nearest_values(levels: int):
    """FROM and WHERE of the counted reports of the nearest reporting units below a root in one
    period, as ``r`` and their units as ``u`` (Core, with bound parameters: built once per depth
    and reused; the values ``v`` are joined by the caller). ``levels``: how many units
    can stand between the root and a reporting unit (``_levels_between``); a report held by one
    of them stands for its branch. Parameters: period_id, form_code, states, below (the root's
    path and "%"), root_id, root_depth, regime_id."""
    form_code = bindparam("form_code")
    source = _R.join(_U, _U.c.id == _R.c.unit_id)
    ancestor_ids, level = [], _U
    for number in range(levels):
        parent = Unit.__table__.alias(f"p{number}")
        source = source.outerjoin(parent, parent.c.id == level.c.parent_id)
        ancestor_ids.append(case((parent.c.depth > bindparam("root_depth"), parent.c.id)))
        level = parent
    responsibility = IndicatorResponsibility.__table__
    conditions = [
        _R.c.period_id == bindparam("period_id"), _R.c.form_code == form_code,
        _R.c.state.in_(bindparam("states", expanding=True)),
        _U.c.path.like(bindparam("below")), _U.c.id != bindparam("root_id"),
        _R.c.unit_id.not_in(select(responsibility.c.unit_id)
                            .where(responsibility.c.regime_id == bindparam("regime_id"))),
    ]
    if ancestor_ids:
        between = Report.__table__.alias("b")
        conditions.append(~exists().where(
            between.c.period_id == _R.c.period_id, between.c.form_code == form_code,
            between.c.unit_id.in_(ancestor_ids)))
    return source, conditions


_I, _U2 = Indicator.__table__, Unit.__table__.alias("deepest")
_VALUES, _CATALOGUE, _DEEPEST_ROW = 0, 1, 2  # what a row of the one-period statement holds


@lru_cache(maxsize=64)
def _one_period_statement(levels: int, by_unit: bool, some_indicators: bool, lowest: bool,
                          highest: bool):
    """The sum and count (and the min and max, when asked) of each (unit,) indicator, value
    column and breakdown: the floor of any roll-up, in one pass with no join to the catalogue.
    The value column is the catalogue's when the form maps one, else the form's own column key,
    so that two form columns mapped to one value column make one group. Each indicator's own
    aggregation is chosen afterwards over these few rows (the average is sum / count).

    In the same statement (one round trip), after the values: the catalogue's indicators that
    are not simply summed over units and its ratio indicators, one row each, and the subtree's
    deepest level, with which the caller checks the ``levels`` and min / max it assumed. Rows:
    (what, [unit id,] indicator id, value column, breakdown, sum, count, min, max); a
    catalogue row holds (id, aggregation, -, -, numerator, denominator, -), the deepest
    level's (depth, …)."""
    source, conditions = _nearest_values(levels)
    source = source.join(_V, _V.c.report_id == _R.c.id)
    number = _V.c.number_value
    keys = ([_R.c.unit_id] if by_unit else []) + [
        _V.c.indicator_id, func.coalesce(_V.c.value_column_key, _V.c.column_key),
        _V.c.breakdown_key]
    if some_indicators:
        conditions.append(_V.c.indicator_id.in_(bindparam("indicator_ids", expanding=True)))
    figures = [type_coerce(func.sum(number), _NUMBER), func.count()]
    figures += [type_coerce(func.min(number), _NUMBER)] if lowest else [null()]
    figures += [type_coerce(func.max(number), _NUMBER)] if highest else [null()]
    values = (select(literal(_VALUES), *keys, *figures).select_from(source)
              .where(*conditions, number.is_not(None)).group_by(*keys))
    no_unit = [null()] if by_unit else []
    catalogue = select(
        literal(_CATALOGUE), *no_unit, _I.c.id, _I.c.aggregation_over_units, null(), null(),
        _I.c.numerator_id, type_coerce(_I.c.denominator_id, _NUMBER), null(),
    ).where(or_(_I.c.aggregation_over_units != "sum",
                and_(_I.c.numerator_id.is_not(None), _I.c.denominator_id.is_not(None))))
    deepest = select(
        literal(_DEEPEST_ROW), *no_unit, func.max(_U2.c.depth), null(), null(), null(), null(),
        null(), null(),
    ).where(_U2.c.path.like(bindparam("below")))
    return union_all(values, catalogue, deepest)


# per process, a guess checked by every statement: the levels below a root (by its path) and
# whether the catalogue has min and max indicators
_LEVELS: dict[str, int] = {}
_EXTREMES = [True, True]


def _nearest_parameters(*, regime, form_code: str, period_id: int, root_unit,
                        provisional: bool) -> dict:
    """The bound parameters of ``_nearest_values``."""
    return {
        "period_id": period_id, "form_code": form_code,
        "states": list(PROVISIONAL_STATES if provisional else OFFICIAL_STATES),
        "below": root_unit.path + "%", "root_id": root_unit.id, "root_depth": root_unit.depth,
        "regime_id": regime.id,
    }


# before a roll-up, in one round trip: the subtree's deepest level, then the catalogue's
# indicators that are not simply summed over units and its ratio indicators
_AHEAD = union_all(
    select(literal("depth"), func.max(Unit.__table__.c.depth), null(), null(), null())
    .where(Unit.__table__.c.path.like(bindparam("below"))),
    select(literal("indicator"), _I.c.id, _I.c.aggregation_over_units, _I.c.numerator_id,
           _I.c.denominator_id)
    .where(or_(_I.c.aggregation_over_units != "sum",
               and_(_I.c.numerator_id.is_not(None), _I.c.denominator_id.is_not(None)))),
)


def _ahead(session, root_unit) -> tuple[int, dict[int, str], list[tuple]]:
    """How many levels can stand between ``root_unit`` and a unit below it (as
    ``_levels_between``); the aggregation of the indicators that do not sum over units; every
    ratio indicator as (ratio, numerator, denominator). One statement."""
    levels, kinds, ratios = 0, {}, []
    for what, number, how, numerator_id, denominator_id in session.connection().execute(
            _AHEAD, {"below": root_unit.path + "%"}):
        if what == "depth":
            levels = max(0, (number or root_unit.depth) - root_unit.depth - 1)
            continue
        if how != "sum":
            kinds[number] = how
        if numerator_id is not None and denominator_id is not None:
            ratios.append((number, numerator_id, denominator_id))
    return levels, kinds, ratios


def _over_units_of(how: str, total, count, low, high):
    """An indicator's aggregation over units from the partial aggregates."""
    if how == "average":
        return total / count
    if how == "min":
        return low
    if how == "max":
        return high
    return total


def _one_period_rows(rows, by_unit: bool):
    """The rows of ``_one_period_statement``: the partial aggregates by (unit, indicator, value
    column, breakdown), the aggregation of the indicators not summed over units, the ratio
    indicators as (ratio, numerator, denominator), and the subtree's deepest level."""
    groups: dict[tuple, tuple] = {}
    kinds, ratios, deepest = {}, [], None
    for row in rows:
        if by_unit:
            what, unit_id, indicator_id, column, breakdown, total, count, low, high = row
        else:
            what, indicator_id, column, breakdown, total, count, low, high = row
            unit_id = None
        if what == _VALUES:
            if indicator_id is not None:  # else a row the form maps to no catalogue indicator
                groups[(unit_id, indicator_id, column, breakdown or "")] = (total, count, low,
                                                                            high)
        elif what == _CATALOGUE:
            how, numerator_id, denominator_id = column, count, low
            if how != "sum":
                kinds[indicator_id] = how
            if numerator_id is not None and denominator_id is not None:
                ratios.append((indicator_id, numerator_id, int(denominator_id)))
        else:
            deepest = indicator_id
    return groups, kinds, ratios, deepest


def _one_period(session, *, regime, form_code: str, period_id: int, root_unit, provisional: bool,
                indicator_ids, by_unit: bool) -> Aggregate:
    """One statement, one round trip (see ``_one_period_statement``): the subtree's depth
    (which decides the statement's joins) and whether min and max are needed are taken from
    this process's last roll-up of the same root, checked against the facts the statement
    returns, and the statement is run again, right, only when they were wrong."""
    parameters = _nearest_parameters(regime=regime, form_code=form_code, period_id=period_id,
                                     root_unit=root_unit, provisional=provisional)
    if indicator_ids is not None:
        parameters["indicator_ids"] = list(indicator_ids)
    levels = _LEVELS.get(root_unit.path)
    if levels is None:
        levels = _levels_between(session, root_unit)
    lowest, highest = _EXTREMES
    while True:
        statement = _one_period_statement(levels, by_unit, indicator_ids is not None,
                                          lowest, highest)
        groups, kinds, ratios, deepest = _one_period_rows(
            session.connection().execute(statement, parameters).all(), by_unit)
        needed = max(0, (deepest or root_unit.depth) - root_unit.depth - 1)
        needs_low, needs_high = "min" in kinds.values(), "max" in kinds.values()
        _LEVELS[root_unit.path] = needed
        _EXTREMES[:] = [needs_low, needs_high]
        if needed <= levels and (lowest or not needs_low) and (highest or not needs_high):
            break
        levels, lowest, highest = max(levels, needed), lowest or needs_low, highest or needs_high
    result = Aggregate(provisional=provisional, period_ids=[period_id], by_unit=by_unit)
    cells = result.cells
    for key, (total, count, low, high) in groups.items():
        how = kinds.get(key[1], "sum")
        if how == "none":
            continue  # left for people to fill
        cells[key] = AggregateCell(key[1], key[2], key[3],
                                   _over_units_of(how, total, count, low, high), count, 1, key[0])
    _recalculate_ratios(session, result, ratios)
    return result


# -- the breakdown by unit as a matrix: one row per unit, one column per indicator --------------


@dataclass
class UnitMatrix:
    """One value column's figures broken down by unit, ready for a sheet: ``indicators`` as
    (id, code, name) by code, and one row per counted unit by path: its code, its name, then
    its figure for each indicator (None where it has none)."""

    provisional: bool
    indicators: list[tuple[int, str, str]]
    # for one period an iterator over the database's rows as they come (read it once)
    rows: Iterable[list]

    @property
    def label(self) -> str:
        return PROVISIONAL_LABEL if self.provisional else OFFICIAL_LABEL


def _matrix_wanted() -> list:
    """The values of the breakdown sheet: one value column (the catalogue's, else the form's
    own column key), no breakdown, numbers of catalogue indicators."""
    return [func.coalesce(_V.c.value_column_key, _V.c.column_key) == bindparam("column_key"),
            _V.c.breakdown_key == "", _V.c.number_value.is_not(None),
            _V.c.indicator_id.is_not(None)]


@lru_cache(maxsize=32)
def _matrix_statement(levels: int, arrays: bool):
    """The counted units' values of one value column (no breakdown), by unit path: with
    ``arrays`` (PostgreSQL) one row per unit carrying its indicators and values as two arrays
    in the same order, else one row per value."""
    source, conditions = _nearest_values(levels)
    wanted = _matrix_wanted()
    unit = [_U.c.id, _U.c.admin_code, _U.c.internal_code, _U.c.name]
    if arrays:
        # each report's values aggregated on their own (LATERAL), in the order of the units;
        # the driver makes the lists, SQLAlchemy converts nothing element by element
        reports = select(_R.c.id.label("report_id"), *unit, _U.c.path).select_from(source) \
            .where(*conditions).order_by(_U.c.path).subquery("nearest")  # narrow rows sorted
        values = select(type_coerce(func.array_agg(_V.c.indicator_id), NullType()).label("ids"),
                        type_coerce(func.array_agg(_V.c.number_value), NullType()).label("vals")) \
            .where(_V.c.report_id == reports.c.report_id, *wanted).lateral("per_report")
        return (select(reports.c.id, reports.c.admin_code, reports.c.internal_code,
                       reports.c.name, values.c.ids, values.c.vals)
                .select_from(reports.join(values, true()))
                .where(values.c.ids.is_not(None)).order_by(reports.c.path))
    return (select(*unit, _V.c.indicator_id, type_coerce(_V.c.number_value, _NUMBER))
            .select_from(source.join(_V, _V.c.report_id == _R.c.id)).where(*conditions, *wanted)
            .order_by(_U.c.path, _U.c.id))


@lru_cache(maxsize=32)
def _matrix_indicators_statement(levels: int):
    """The catalogue's indicators that have a value in the breakdown sheet (the columns, known
    before the first row): per indicator, whether one value of a counted report exists, found
    through the values' index on the indicator."""
    source, conditions = _nearest_values(levels)
    held = (exists().select_from(source.join(_V, _V.c.report_id == _R.c.id))
            .where(*conditions, *_matrix_wanted(), _V.c.indicator_id == _I.c.id))
    return select(_I.c.id).where(held)


def _merged(indicator_ids, values, kinds) -> dict:
    """One unit's figures when two form columns map to one value column: each indicator's
    values aggregated over them (its own aggregation over units)."""
    grouped: dict[int, list] = {}
    for indicator_id, value in zip(indicator_ids, values, strict=True):
        grouped.setdefault(indicator_id, []).append(value)
    return {i: _over_units_of(kinds.get(i, "sum"), sum(v), len(v), min(v), max(v))
            for i, v in grouped.items()}


def unit_matrix(session, *, regime, form_code: str, period_ids, root_unit, column_key: str,
                provisional: bool = False, arrays: bool | None = None) -> UnitMatrix:
    """The breakdown sheet of ``aggregate(by_unit=True)`` for one value column, without a
    figure object per cell. For one period the rows stream: the columns (the indicators with
    a value, and the ratios computed from them) are found first, then each unit's values come
    straight from the nearest reports as the database sends them (on PostgreSQL one row of
    arrays per unit, through a server-side cursor) and each indicator's aggregation and ratios
    are applied per unit row; nothing holds the whole matrix. Over several periods it is
    ``aggregate(by_unit=True)`` laid out the same way. ``arrays``: force (or refuse) the
    PostgreSQL form, for tests."""
    period_ids = list(period_ids)
    levels, kinds, ratios = _ahead(session, root_unit)
    connection = session.connection()
    if len(period_ids) == 1:
        if arrays is None:
            arrays = session.get_bind().dialect.name == "postgresql"
        parameters = _nearest_parameters(regime=regime, form_code=form_code,
                                         period_id=period_ids[0], root_unit=root_unit,
                                         provisional=provisional)
        parameters["column_key"] = column_key
        present = set(connection.execute(_matrix_indicators_statement(levels),
                                         parameters).scalars())
        present -= {i for i, how in kinds.items() if how == "none"}
        present.update(ratio_id for ratio_id, numerator_id, denominator_id in ratios
                       if numerator_id in present or denominator_id in present)
        units = _matrix_units(connection.execute(_matrix_statement(levels, arrays), parameters,
                                                 execution_options={"yield_per": 200}),
                              arrays, kinds)
    else:
        figures = aggregate(session, regime=regime, form_code=form_code, period_ids=period_ids,
                            root_unit=root_unit, provisional=provisional, by_unit=True)
        by_unit: dict[int, dict] = {}
        for (unit_id, indicator_id, column, breakdown), cell in figures.cells.items():
            if column == column_key and breakdown == "":
                by_unit.setdefault(unit_id, {})[indicator_id] = cell.value
        kinds, ratios = {}, []  # aggregate has left out "none" and recalculated the ratios
        present = {i for unit_figures in by_unit.values() for i in unit_figures}
        units = [(unit.admin_code or unit.internal_code or "", unit.name, by_unit[unit.id])
                 for unit in session.scalars(select(Unit).where(Unit.id.in_(list(by_unit)))
                                             .order_by(Unit.path))]
    indicator = Indicator.__table__
    indicators = [tuple(row) for row in connection.execute(
        select(indicator.c.id, indicator.c.code, indicator.c.name)
        .where(indicator.c.id.in_(bindparam("ids", expanding=True)))
        .order_by(indicator.c.code), {"ids": sorted(present)})] if present else []
    order = [i for i, _code, _name in indicators]
    return UnitMatrix(provisional=provisional, indicators=indicators,
                      rows=_matrix_rows(units, order, kinds, ratios))


def _matrix_units(rows, arrays: bool, kinds):
    """(code, name, figures by indicator) per unit, from the rows of ``_matrix_statement`` as
    they come."""
    if arrays:
        per_unit = ((row[1] or row[2] or "", row[3], row[4], row[5]) for row in rows)
    else:
        per_unit = _grouped_by_unit(rows)
    for code, name, indicator_ids, values in per_unit:
        figures = dict(zip(indicator_ids, values, strict=True))
        if len(figures) != len(indicator_ids):
            figures = _merged(indicator_ids, values, kinds)
        yield code, name, figures


def _grouped_by_unit(rows):
    """The rows of one value each, as (code, name, indicator ids, values) per unit."""
    for _unit_id, group in itertools.groupby(rows, key=lambda row: row[0]):
        group = list(group)
        first = group[0]
        yield (first[1] or first[2] or "", first[3], [row[4] for row in group],
               [row[5] for row in group])


def _matrix_rows(units, order: list[int], kinds, ratios):
    """Each unit's row of the breakdown sheet: code, name, its figure per indicator of
    ``order`` (None where it has none); "none" indicators left out, ratios recalculated."""
    none = {i for i, how in kinds.items() if how == "none"}
    for code, name, figures in units:
        for indicator_id in none & figures.keys():
            del figures[indicator_id]
        for ratio_id, numerator_id, denominator_id in ratios:
            if numerator_id in figures or denominator_id in figures:
                numerator, denominator = figures.get(numerator_id), figures.get(denominator_id)
                if numerator is None or not denominator:
                    figures.pop(ratio_id, None)
                else:
                    figures[ratio_id] = (numerator / denominator).quantize(
                        _STORED, rounding=ROUND_HALF_UP)
        if figures:
            yield [code, name, *map(figures.get, order)]


def _over_time(per_period, by_unit: bool):
    """The second GROUP BY: each indicator's aggregation over time across the periods (the
    latest period found with a window function)."""
    ranked = (
        select(
            per_period,
            func.row_number().over(
                partition_by=(per_period.c.unit_id, per_period.c.indicator_id,
                              per_period.c.column_key, per_period.c.breakdown_key),
                order_by=(Period.cutoff_end.desc(), Period.id.desc()),
            ).label("recency"),
        )
        .join(Period, Period.id == per_period.c.period_id)
        .cte("ranked")
    )
    how = Indicator.aggregation_over_time
    latest = func.max(case((ranked.c.recency == 1, ranked.c.value)))
    over_time = case((how == "average", func.avg(ranked.c.value)), (how == "last", latest),
                     (how == "none", latest), else_=func.sum(ranked.c.value))
    return (
        select(
            (ranked.c.unit_id if by_unit else literal(0)).label("unit_id"), ranked.c.indicator_id,
            ranked.c.column_key, ranked.c.breakdown_key,
            type_coerce(over_time, _NUMBER).label("value"),
            func.sum(ranked.c.reports).label("reports"),
            func.count(ranked.c.period_id).label("periods"), how.label("over_time"),
        )
        .join(Indicator, Indicator.id == ranked.c.indicator_id)
        .group_by(*([ranked.c.unit_id] if by_unit else []), ranked.c.indicator_id,
                  ranked.c.column_key, ranked.c.breakdown_key, how)
    )


def _recalculate_ratios(session, result: Aggregate, ratios=None) -> None:
    """A ratio indicator's figure is its numerator's aggregate over its denominator's, in each
    column and breakdown both have (over the already aggregated cells: one lookup each).
    ``ratios``: (ratio, numerator, denominator) when already read."""
    if ratios is None:
        ratios = session.execute(
            select(Indicator.id, Indicator.numerator_id, Indicator.denominator_id)
            .where(Indicator.numerator_id.is_not(None), Indicator.denominator_id.is_not(None))
        ).all()
    for ratio_id, numerator_id, denominator_id in ratios:
        places = {(u, c, b) for (u, i, c, b) in result.cells
                  if i in (numerator_id, denominator_id)}
        for unit_id, column_key, breakdown_key in places:
            key = (unit_id, ratio_id, column_key, breakdown_key)
            numerator = result.value(numerator_id, column_key, breakdown_key, unit_id)
            denominator = result.value(denominator_id, column_key, breakdown_key, unit_id)
            old = result.cells.get(key)
            if numerator is None or not denominator:
                result.cells.pop(key, None)
                continue
            result.cells[key] = AggregateCell(
                ratio_id, column_key, breakdown_key,
                (numerator / denominator).quantize(_STORED, rounding=ROUND_HALF_UP),
                old.reports if old else 0, old.periods if old else 0, unit_id)


def year_to_date(session, period) -> list[int]:
    """The periods of the same regime and frequency from the start of the year to ``period``."""
    return list(session.scalars(select(Period.id).where(
        Period.regime_id == period.regime_id, Period.frequency == period.frequency,
        Period.year == period.year, Period.number <= period.number)))


def periods_within(session, regime_id: int, frequency: str, start, end) -> list[int]:
    """The periods of a frequency whose cutoff window lies within [start, end]: the months of a
    quarter, of a half-year or of a year, for coarser figures from finer ones."""
    return list(session.scalars(select(Period.id).where(
        Period.regime_id == regime_id, Period.frequency == frequency,
        Period.cutoff_start >= start, Period.cutoff_end <= end)))


def mark_revised_after_correction(session, report: Report, event) -> None:
    """AFTER_TRANSITION_HOOKS: a report reopened for correction, or accepted again after one,
    marks ``revised`` the consolidated and composed reports computed from it."""
    if not (event.action == "reopen" or (event.action == "accept" and report.revised)):
        return
    ids = computed_from(session, report)
    if not ids:
        return
    for target in session.scalars(select(Report).where(Report.id.in_(ids))):
        if not target.revised:
            target.revised = True
    session.flush()


if mark_revised_after_correction not in AFTER_TRANSITION_HOOKS:
    AFTER_TRANSITION_HOOKS.append(mark_revised_after_correction)


# -- coarser periods and one indicator over periods ---------------------------------------------

SPANS = ("period", "quarter", "half_year", "ytd")
_SPAN_MONTHS = {"quarter": 3, "half_year": 6}


def span_periods(session, period, span: str) -> list[int]:
    """The periods whose figures make up ``span`` ending at ``period``: the period alone, its
    quarter or half-year to date (the months of a quarter, the months or quarters of a
    half-year), or the year to date. A span the period's frequency cannot fill (a quarter of
    quarterly periods) is the period alone."""
    if span == "ytd":
        return year_to_date(session, period)
    months = _SPAN_MONTHS.get(span)
    per_period = {"month": 1, "quarter": 3}.get(period.frequency)
    if months is None or per_period is None or per_period >= months:
        return [period.id]
    size = months // per_period  # periods in the span
    first = (period.number - 1) // size * size + 1
    return list(session.scalars(select(Period.id).where(
        Period.regime_id == period.regime_id, Period.frequency == period.frequency,
        Period.year == period.year, Period.number >= first, Period.number <= period.number)))


def period_form_code(session, period_id: int) -> str | None:
    """The form the period's reports are filled on (the first by code when there are several)."""
    return session.scalar(select(Report.form_code).where(Report.period_id == period_id)
                          .order_by(Report.form_code).limit(1))


def recent_periods(session, regime, until, count: int) -> list:
    """Up to ``count`` periods of the regime's own frequency (not ad-hoc ones) whose cutoff has
    started by ``until``, oldest first."""
    latest = session.scalars(
        select(Period).where(Period.regime_id == regime.id, Period.frequency == regime.frequency,
                             Period.cutoff_start <= until)
        .order_by(Period.cutoff_end.desc()).limit(max(1, count))).all()
    return list(reversed(latest))


def indicator_over_periods(session, *, regime, indicator_id: int, periods, root_unit,
                           provisional: bool = False) -> list[tuple]:
    """One indicator's figures for the subtree in each of ``periods``, in their order: a list of
    (period, Aggregate); a period without reports is left out. Each period is one statement of
    the same engine."""
    points = []
    for period in periods:
        form_code = period_form_code(session, period.id)
        if form_code is None:
            continue
        points.append((period, aggregate(
            session, regime=regime, form_code=form_code, period_ids=[period.id],
            root_unit=root_unit, provisional=provisional, indicator_ids=[indicator_id])))
    return points
