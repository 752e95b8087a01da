"""Accounts: FAB's user extended with the person's home unit, position and contact details."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from flask_appbuilder.security.sqla.models import Role, User
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.units import Unit


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class AppUser(User):
    """One account per person; each belongs to one home unit."""

    __tablename__ = "ab_user"
    __table_args__ = {"extend_existing": True}

    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    position: Mapped[str | None] = mapped_column(String(150))
    mobile_phone: Mapped[str | None] = mapped_column(String(20))
    national_id: Mapped[str | None] = mapped_column(String(12), unique=True)
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    # the person's choice: notices in the app only, no e-mail
    mute_email: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )

    unit: Mapped[Unit | None] = relationship("Unit", foreign_keys=[unit_id])

    @property
    def full_name(self) -> str:
        return f"{self.last_name} {self.first_name}".strip()

    def get_full_name(self) -> str:
        """Vietnamese order, family name first: "Hồ Ngọc Khang" (FAB's navbar calls this)."""
        return self.full_name

    def __repr__(self) -> str:
        return self.full_name


class UserUnitHistory(Model):
    """Where an account belonged and when: kept when a person moves to another unit."""

    __tablename__ = "user_unit_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), nullable=False, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    reason: Mapped[str | None] = mapped_column(String(255))

    user: Mapped[AppUser] = relationship("AppUser", foreign_keys=[user_id])
    unit: Mapped[Unit] = relationship("Unit")


class RegimeRoleGrant(Model):
    """Narrows one of a person's roles to particular regimes.

    A role is granted once (FAB's user–role link). With no row here it holds for every regime;
    with rows it holds only for the regimes listed (seed 000: "phân quyền tùy theo từng báo cáo").
    """

    __tablename__ = "regime_role_grant"
    __table_args__ = (UniqueConstraint("user_id", "role_id", "regime_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), nullable=False, index=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("ab_role.id"), nullable=False)
    regime_id: Mapped[int] = mapped_column(ForeignKey("regime.id"), nullable=False)

    user: Mapped[AppUser] = relationship("AppUser", foreign_keys=[user_id])
    role: Mapped[Role] = relationship(Role)
    regime = relationship("Regime")
