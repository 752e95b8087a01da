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
        return self.render_template(self.index_template, appbuilder=self.appbuilder, user=user)
