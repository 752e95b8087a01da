"""Data quality checks shown to the lead agency while it reviews a report:

- **outliers against the unit's own history**: each numeric entry value is compared with the
  same cell of the unit's earlier reports of the same form (up to ``HISTORY`` periods) by a
  robust z-score, 0.6745 × (x − median) / MAD (Iglewicz and Hoaglin); |z| above ``Z_LIMIT``
  is flagged. With fewer than ``MIN_HISTORY`` earlier values nothing is said;
- **the same period last year**: a value that moved by more than ``YEAR_CHANGE`` (as a share)
  from the same cell of the same period a year earlier is flagged;
- **a total equals the sum of its parts, across units**: in a consolidated report, a summed cell
  that differs from the sum of the counted child reports (someone typed over it) is flagged.

Rules across cells of one report are the form's own validation (app.reports.validate_values).
The history is read with one statement; the statistics run over that small set in Python."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from app.models import Period, Report, ReportValue

HISTORY = 24
MIN_HISTORY = 4
Z_LIMIT = Decimal("3.5")
YEAR_CHANGE = Decimal("0.5")


@dataclass(frozen=True)
class Flag:
    key: str  # the value key (row|column)
    kind: str  # outlier | year_change | total
    value: Decimal
    reference: Decimal  # the median, last year's value, or the children's sum
    message: str


def _history(session, report: Report) -> dict[str, list[tuple[int, int, Decimal]]]:
    """value key → [(year, period number, value)] of the unit's earlier reports of the form."""
    rows = session.execute(
        select(ReportValue.row_key, ReportValue.column_key, Period.year, Period.number,
               ReportValue.number_value)
        .join(Report, Report.id == ReportValue.report_id)
        .join(Period, Period.id == Report.period_id)
        .where(Report.unit_id == report.unit_id, Report.form_code == report.form_code,
               Report.id != report.id, Report.state.in_(("sent", "accepted")),
               Period.cutoff_end < report.period.cutoff_end,
               ReportValue.number_value.is_not(None))
        .order_by(Period.cutoff_end.desc())
    ).all()
    history: dict[str, list] = {}
    for r in rows:
        series = history.setdefault(f"{r.row_key}|{r.column_key}", [])
        if len(series) < HISTORY:
            series.append((r.year, r.number, Decimal(r.number_value)))
    return history


def _robust_z(value: Decimal, earlier: list[Decimal]) -> tuple[Decimal, Decimal] | None:
    median = Decimal(statistics.median(earlier))
    mad = Decimal(statistics.median([abs(v - median) for v in earlier]))
    if mad == 0:
        return None
    return Decimal("0.6745") * (value - median) / mad, median


def _shown(value: Decimal) -> str:
    from app.formatting import format_number

    return format_number(value.normalize())


def flags(session, report: Report) -> list[Flag]:
    """What looks wrong in the report's numbers, for the reviewer to check (not a refusal)."""
    from app.reports import load_values

    values = {k: v for k, v in load_values(session, report).items() if isinstance(v, Decimal)}
    history = _history(session, report)
    found: list[Flag] = []
    period = report.period
    for key, value in sorted(values.items()):
        series = history.get(key, [])
        earlier = [v for _y, _n, v in series]
        if len(earlier) >= MIN_HISTORY:
            scored = _robust_z(value, earlier)
            if scored is not None and abs(scored[0]) > Z_LIMIT:
                found.append(Flag(key, "outlier", value, scored[1],
                                  f"{_shown(value)} khác thường so với {len(earlier)} kỳ trước "
                                  f"của đơn vị (trung vị {_shown(scored[1])}, "
                                  f"z = {scored[0]:.1f})."))
        last_year = next((v for y, n, v in series
                          if y == period.year - 1 and n == period.number), None)
        if last_year and abs(value - last_year) / abs(last_year) > YEAR_CHANGE:
            change = (value - last_year) / abs(last_year) * 100
            found.append(Flag(key, "year_change", value, last_year,
                              f"{_shown(value)} thay đổi {change:+.0f}% so với cùng kỳ năm "
                              f"trước ({_shown(last_year)})."))
    if report.kind == "consolidated":
        found += _totals(session, report, values)
    return found


def _totals(session, report: Report, values: dict[str, Decimal]) -> list[Flag]:
    """Summed cells of a consolidated report that differ from the sum of its counted children."""
    from app.consolidation import OFFICIAL_STATES, Summary, _aggregates, _plan
    from app.reports import spec_of

    plan = _plan(session, report, spec_of(report.form_version), Summary("consolidation"))
    summed = [key for key, (how, *_rest) in plan.items() if how == "sum"]
    sums = _aggregates(session, report, OFFICIAL_STATES)
    found = []
    for key in summed:
        total = sums.get(key, (None,))[0]
        value = values.get(key)
        if total is not None and value is not None and value != total:
            found.append(Flag(key, "total", value, total,
                              f"{_shown(value)} khác tổng của các đơn vị ({_shown(total)})."))
    return found
