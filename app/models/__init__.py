"""SQLAlchemy models, one module per aggregate. Importing this package registers every table."""

from app.models.audit import AuditEntry
from app.models.calendar import CalendarDay
from app.models.indicators import (
    Breakdown,
    BreakdownOption,
    Indicator,
    IndicatorGroup,
    ValueColumn,
)
from app.models.people import AppUser, RegimeRoleGrant, UserUnitHistory
from app.models.regimes import Period, Regime
from app.models.units import Unit, UnitSuccession, UnitType

__all__ = [
    "AppUser",
    "AuditEntry",
    "Breakdown",
    "BreakdownOption",
    "CalendarDay",
    "Indicator",
    "IndicatorGroup",
    "Period",
    "Regime",
    "RegimeRoleGrant",
    "Unit",
    "UnitSuccession",
    "UnitType",
    "UserUnitHistory",
    "ValueColumn",
]
