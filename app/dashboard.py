"""The dashboard's data (seed 001 Art. 3.7, 5h; seed 004: the provincial IOC): each configured
item computed for the viewer, from the same engines as everything else — the province's figures
(app.consolidation.aggregate) and compliance (app.status_board.compliance) — and confined to
what the viewer may see: an item's unit when the viewer may see it, else the viewer's own unit.

Callable without a request; returns plain data the page hands to the chart library."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from app.consolidation import (
    aggregate,
    indicator_over_periods,
    period_form_code,
    recent_periods,
)
from app.models import DashboardItem, Unit
from app.status_board import compliance, compliance_by_month


@dataclass
class Panel:
    item_id: int
    title: str
    kind: str
    unit_name: str
    label: str = ""  # official figures, as every figure output says
    labels: list[str] = field(default_factory=list)  # x axis: periods or units
    series: list[dict] = field(default_factory=list)  # [{"name": …, "values": [...]}]
    # a line's export: the figures page's indicator over periods up to its latest period
    export: dict | None = None


def _number(value) -> float | None:
    return float(value) if isinstance(value, Decimal | int | float) else None


def _root_for(session, item: DashboardItem, user) -> Unit | None:
    from app.views.figures import may_see

    root = item.unit
    if root is None:
        root = session.scalar(select(Unit).where(Unit.id == item.regime.receiving_unit_id))
    if root is not None and (user is None or may_see(session, user, item.regime, root)):
        return root
    return getattr(user, "unit", None)


def _column(figures, item: DashboardItem) -> str | None:
    if item.column_key:
        return item.column_key
    columns = sorted({key[2] for key in figures.cells if key[1] == item.indicator_id})
    return columns[0] if columns else None


def panels(session, user, *, today: dt.date | None = None) -> list[Panel]:
    """The active items, in order, computed for ``user``."""
    today = today or dt.date.today()
    items = session.scalars(select(DashboardItem).where(DashboardItem.active.is_(True))
                            .order_by(DashboardItem.position, DashboardItem.id)).all()
    result = []
    for item in items:
        root = _root_for(session, item, user)
        if root is None:
            continue
        panel = Panel(item.id, item.title, item.kind, root.name)
        if item.kind in ("compliance", "compliance_month"):
            _compliance(session, item, root, panel, user, today)
        elif item.indicator_id is not None:
            _figures(session, item, root, panel, today)
        result.append(panel)
    return result


def _compliance(session, item: DashboardItem, root: Unit, panel: Panel, user,
                today: dt.date) -> None:
    """On time / late / missing this year, by unit or by the month of the deadline."""
    if item.kind == "compliance":
        rows = compliance(session, today.year, user, regime_id=item.regime_id,
                          subtree_path=root.path)
        panel.labels = [row.unit_name for row in rows]
    else:
        rows = compliance_by_month(session, today.year, user, regime_id=item.regime_id,
                                   subtree_path=root.path)
        panel.labels = [f"Tháng {row.month}" for row in rows]
    panel.series = [
        {"name": "Đúng hạn", "values": [row.on_time for row in rows]},
        {"name": "Muộn", "values": [row.late for row in rows]},
        {"name": "Chưa gửi", "values": [row.missing for row in rows]},
    ]


def _figures(session, item: DashboardItem, root: Unit, panel: Panel, today: dt.date) -> None:
    periods = recent_periods(session, item.regime, today, item.periods)
    indicator = item.indicator
    if item.kind == "line":
        points = indicator_over_periods(session, regime=item.regime,
                                        indicator_id=item.indicator_id, periods=periods,
                                        root_unit=root)
        values = []
        for _period, figures in points:
            panel.label = figures.label
            values.append(figures.value(item.indicator_id, _column(figures, item) or ""))
        panel.labels = [period.label for period, _figures in points]
        if points:
            panel.export = {"regime_id": item.regime_id, "unit_id": root.id,
                            "period_id": points[-1][0].id, "series": item.indicator_id,
                            "count": item.periods}
        panel.series = [{"name": f"{indicator.code} {indicator.name}",
                         "values": [_number(v) for v in values]}]
        return
    for period in reversed(periods):  # the latest period that has figures
        form_code = period_form_code(session, period.id)
        if form_code is None:
            continue
        figures = aggregate(session, regime=item.regime, form_code=form_code,
                            period_ids=[period.id], root_unit=root,
                            indicator_ids=[item.indicator_id], by_unit=True)
        if not figures.cells:
            continue
        column = _column(figures, item)
        units = {u.id: (u.path, u.name) for u in session.execute(
            select(Unit.id, Unit.path, Unit.name).where(
                Unit.id.in_({key[0] for key in figures.cells})))}
        values = [(name, value) for _path, name, value in sorted(
            (*units.get(unit_id, ("", "")), cell.value)
            for (unit_id, indicator_id, col, breakdown), cell in figures.cells.items()
            if indicator_id == item.indicator_id and col == column and breakdown == "")]
        panel.label = f"{figures.label} — {period.label}"
        panel.labels = [name for name, _v in values]
        panel.series = [{"name": f"{indicator.code} {indicator.name}",
                         "values": [_number(v) for _n, v in values]}]
        return
