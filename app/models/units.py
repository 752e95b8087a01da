"""Org units: a free tree of any depth kept as a materialized path.

``path`` holds the ids from the root down, e.g. ``/1/7/42/``. A subtree is one prefix match
(``path LIKE '/1/7/%'``), indexed with ``varchar_pattern_ops`` on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship
from sqlalchemy.orm.attributes import set_committed_value


class UnitType(Model):
    """A kind of unit: provincial People's Committee, department, commune, ward, central agency…"""

    __tablename__ = "unit_type"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)

    def __repr__(self) -> str:
        return self.name


class Unit(Model):
    __tablename__ = "unit"
    __table_args__ = (
        Index("ix_unit_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(String(512), nullable=False, default="")
    depth: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    unit_type_id: Mapped[int] = mapped_column(ForeignKey("unit_type.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    short_name: Mapped[str | None] = mapped_column(String(100))
    admin_code: Mapped[str | None] = mapped_column(String(10), unique=True)
    internal_code: Mapped[str | None] = mapped_column(String(40), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    address: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)

    parent: Mapped[Unit | None] = relationship(
        "Unit", remote_side=[id], back_populates="children"
    )
    children: Mapped[list[Unit]] = relationship("Unit", back_populates="parent")
    unit_type: Mapped[UnitType] = relationship("UnitType")

    def __repr__(self) -> str:
        return self.name

    @property
    def indented_name(self) -> str:
        return "— " * self.depth + self.name

    def is_within(self, other: Unit) -> bool:
        """True when this unit is ``other`` or lies below it."""
        return bool(self.path) and self.path.startswith(other.path)


class UnitSuccession(Model):
    """A unit merged or split into successors (the 2025 reorganisation); old data stays attributable."""

    __tablename__ = "unit_succession"
    __table_args__ = (UniqueConstraint("predecessor_id", "successor_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    predecessor_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    successor_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    effective_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default="merge")
    note: Mapped[str | None] = mapped_column(String(255))

    predecessor: Mapped[Unit] = relationship("Unit", foreign_keys=[predecessor_id])
    successor: Mapped[Unit] = relationship("Unit", foreign_keys=[successor_id])


def _parent_path(connection, parent_id: int | None) -> tuple[str, int]:
    if parent_id is None:
        return "/", -1
    row = connection.execute(
        select(Unit.path, Unit.depth).where(Unit.id == parent_id)
    ).one()
    return row.path, row.depth


@event.listens_for(Unit, "after_insert")
def _set_path_on_insert(mapper, connection, unit: Unit) -> None:
    parent_path, parent_depth = _parent_path(connection, unit.parent_id)
    path, depth = f"{parent_path}{unit.id}/", parent_depth + 1
    connection.execute(
        update(Unit.__table__).where(Unit.__table__.c.id == unit.id).values(path=path, depth=depth)
    )
    set_committed_value(unit, "path", path)
    set_committed_value(unit, "depth", depth)


@event.listens_for(Unit, "before_update")
def _move_subtree(mapper, connection, unit: Unit) -> None:
    """When a unit changes parent, rewrite its own path and its whole subtree's in one statement."""
    from sqlalchemy import func, inspect, literal

    history = inspect(unit).attrs.parent_id.history
    if not history.has_changes():
        return
    old_path = connection.execute(
        select(Unit.__table__.c.path).where(Unit.__table__.c.id == unit.id)
    ).scalar_one()
    parent_path, parent_depth = _parent_path(connection, unit.parent_id)
    if unit.parent_id is not None and parent_path.startswith(old_path):
        from app.errors import DomainError

        raise DomainError("Không thể chuyển đơn vị vào bên trong chính nó hoặc đơn vị cấp dưới của nó.")
    new_path = f"{parent_path}{unit.id}/"
    depth_shift = (parent_depth + 1) - unit.depth
    table = Unit.__table__
    descendants = connection.execute(
        select(table.c.id, table.c.path, table.c.depth).where(
            table.c.path.like(old_path + "%"), table.c.id != unit.id
        )
    ).all()
    session = object_session(unit)
    if session is not None:
        from app.audit import record_change

        for row in descendants:
            record_change(
                session, "unit", row.id, "update",
                {"path": row.path, "depth": row.depth},
                {"path": new_path + row.path[len(old_path):], "depth": row.depth + depth_shift},
            )
    connection.execute(
        update(table)
        .where(table.c.path.like(old_path + "%"), table.c.id != unit.id)
        .values(
            path=literal(new_path) + func.substr(table.c.path, len(old_path) + 1),
            depth=table.c.depth + depth_shift,
        )
    )
    unit.path = new_path
    unit.depth = parent_depth + 1
