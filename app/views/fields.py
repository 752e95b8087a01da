"""Form fields shared by the generated screens, and the parsing of typed dates and times."""

import datetime as dt

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


def typed_time(day: str, clock: str, label: str) -> dt.datetime | None:
    """A date (yyyy-mm-dd) and time (HH:MM) typed in Vietnam's time, as naive UTC (how times
    are stored); None when no date was typed."""
    from flask_babel import gettext as _

    from app.errors import DomainError
    from app.workflow import VIETNAM_OFFSET

    if not day:
        return None
    try:
        local = dt.datetime.strptime(f"{day} {clock or '00:00'}", "%Y-%m-%d %H:%M")
    except ValueError:
        raise DomainError(_("%(label)s không đúng dạng ngày giờ: «%(value)s %(clock)s».",
                            label=label, value=day, clock=clock)) from None
    return local - VIETNAM_OFFSET
