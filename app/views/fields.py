"""Form fields shared by the generated screens."""

from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, ValidationError


def choice_field(label, choices: dict[str, str], required: bool = True) -> SelectField:
    """A drop-down for a string column whose values are codes with Vietnamese labels."""
    return SelectField(
        label,
        choices=list(choices.items()),
        validators=[DataRequired()] if required else [],
        widget=Select2Widget(),
    )


def reminder_offsets_field(label, description) -> StringField:
    """The working-day offsets of a regime's reminders ("-3,-1,0,1,3"): prefilled with the
    default, empty means no reminders, anything else unreadable is refused with an example."""
    from app.models.regimes import DEFAULT_REMINDER_OFFSETS
    from app.reminders import parse_offsets

    def readable(form, field):
        try:
            offsets = parse_offsets(field.data)
        except ValueError as error:
            raise ValidationError(str(error)) from None
        field.data = ",".join(str(offset) for offset in offsets)

    return StringField(label, description=description, default=DEFAULT_REMINDER_OFFSETS,
                       validators=[readable], widget=BS3TextFieldWidget())
