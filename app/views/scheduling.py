"""Quản trị › Lịch tác vụ: the scheduler's jobs with their next run, last run and last failure,
and the latest runs (app.scheduler)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.formatting import format_datetime
from app.models import JobRun
from app.models.scheduling import JOB_OUTCOMES
from app.scheduler import JOBS, job_overview


class SchedulerJobsView(BaseView):
    route_base = "/scheduler"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        runs = db.session.scalars(
            sa.select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(100)
        ).all()
        names = {spec.id: spec.name for spec in JOBS.values()}
        return self.render_template(
            "scheduling/jobs.html", jobs=job_overview(db.session), runs=runs, names=names,
            outcomes=JOB_OUTCOMES, shown=format_datetime)


def register_scheduling_views(appbuilder) -> None:
    appbuilder.add_view(SchedulerJobsView, "Lịch tác vụ", label=_l("Lịch tác vụ"),
                        icon="fa-clock-o", category="Quản trị", category_label=_l("Quản trị"),
                        category_icon="fa-cogs")
