"""Extension objects, created once and bound to the app in create_app()."""

from flask_appbuilder.models.sqla import Model
from flask_appbuilder.utils.legacy import get_sqla_class
from flask_migrate import Migrate

# One metadata for FAB's ab_* tables and ours, so Alembic sees a single schema.
db = get_sqla_class()(model_class=Model)
migrate = Migrate(compare_type=True, render_as_batch=True)
