"""SQLAlchemy models, one module per aggregate. Importing this package registers every table."""

from app.models.access import AccessRecord
from app.models.audit import AuditEntry
from app.models.calendar import CalendarDay
from app.models.dashboard import DashboardItem
from app.models.exchange import ExchangeFigure, ExchangeMessage
from app.models.forms import FormVersion
from app.models.indicators import (
    Breakdown,
    BreakdownOption,
    Indicator,
    IndicatorGroup,
    ValueColumn,
)
from app.models.login_security import LoginAttempt, LoginCaptcha
from app.models.maintenance import MaintenanceNotice
from app.models.notifications import Notification
from app.models.operations import BackfilledSending, Outage
from app.models.people import AppUser, RegimeRoleGrant, UserUnitHistory
from app.models.regimes import Period, Regime
from app.models.reports import Report, ReportAttachment, ReportValue
from app.models.scheduling import JobRun, SchedulerLock
from app.models.signing import ReportSignature, SigningCertificate, StampImage, TrustAnchor
from app.models.support import SupportMessage, SupportRequest
from app.models.units import Unit, UnitSuccession, UnitType
from app.models.workflow import (
    AdhocRequest,
    IndicatorResponsibility,
    ReceptionChange,
    ReportAssignee,
    ReportComment,
    ReportEvent,
    ReportVersion,
)

__all__ = [
    "AccessRecord",
    "BackfilledSending",
    "MaintenanceNotice",
    "Outage",
    "SupportMessage",
    "SupportRequest",
    "ExchangeFigure",
    "ExchangeMessage",
    "LoginAttempt",
    "LoginCaptcha",
    "Notification",
    "JobRun",
    "SchedulerLock",
    "DashboardItem",
    "ReportSignature",
    "SigningCertificate",
    "StampImage",
    "TrustAnchor",
    "ReportVersion",
    "ReportEvent",
    "ReportComment",
    "ReportAssignee",
    "ReceptionChange",
    "IndicatorResponsibility",
    "AdhocRequest",
    "AppUser",
    "AuditEntry",
    "Breakdown",
    "BreakdownOption",
    "CalendarDay",
    "FormVersion",
    "Indicator",
    "IndicatorGroup",
    "Period",
    "Regime",
    "RegimeRoleGrant",
    "Report",
    "ReportAttachment",
    "ReportValue",
    "Unit",
    "UnitSuccession",
    "UnitType",
    "UserUnitHistory",
    "ValueColumn",
]
