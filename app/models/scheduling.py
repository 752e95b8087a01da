"""The scheduler's tables: the lock that lets one scheduler process run jobs, the record of every
job run, and APScheduler's own job store (declared here so Alembic owns it like every table)."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder.models.sqla import Model
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
)
from sqlalchemy.orm import Mapped, mapped_column

JOB_STORE_TABLE = "apscheduler_jobs"

# The shape SQLAlchemyJobStore (APScheduler 3.11) gives its table; the store is built on a
# metadata of its own and finds this table already there.
apscheduler_jobs = Table(
    JOB_STORE_TABLE,
    Model.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)

JOB_OUTCOMES = {
    "running": "Đang chạy",
    "success": "Thành công",
    "failed": "Lỗi",
}


class SchedulerLock(Model):
    """A lease on SQLite (PostgreSQL uses an advisory lock): the holder renews ``expires_at``; a
    lease that has run out may be taken by another process."""

    __tablename__ = "scheduler_lock"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(120))
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class JobRun(Model):
    __tablename__ = "job_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(120), nullable=False, index=True)
    holder: Mapped[str | None] = mapped_column(String(120))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str] = mapped_column(String(20), nullable=False, default="running")
    summary: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"{self.job_id} {self.started_at:%Y-%m-%d %H:%M}"
