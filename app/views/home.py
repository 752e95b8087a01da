"""The landing page after login."""

from flask import g, redirect, url_for
from flask_appbuilder import IndexView, expose


class HomeView(IndexView):
    index_template = "home.html"

    @expose("/")
    def index(self):
        user = getattr(g, "user", None)
        if user is None or not getattr(user, "is_authenticated", False):
            return redirect(url_for("AuthDBView.login"))
        from app.assignment import reception_notices
        from app.extensions import db
        from app.formatting import format_datetime

        # the lead agency's closings and reopenings that concern the unit's reports to send
        notices = reception_notices(db.session, getattr(user, "unit", None))
        return self.render_template(self.index_template, appbuilder=self.appbuilder, user=user,
                                    notices=notices, shown=format_datetime)
