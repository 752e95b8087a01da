"""Form fields shared by the generated screens."""

from flask_appbuilder.fieldwidgets import Select2Widget
from wtforms import SelectField
from wtforms.validators import DataRequired


def choice_field(label, choices: dict[str, str], required: bool = True) -> SelectField:
    """A drop-down for a string column whose values are codes with Vietnamese labels."""
    return SelectField(
        label,
        choices=list(choices.items()),
        validators=[DataRequired()] if required else [],
        widget=Select2Widget(),
    )
