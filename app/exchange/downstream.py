"""The province's side of the exchange with the upper-level system.

Down: **đồng bộ biểu mẫu** (``sync_templates``) pulls the catalogue (regimes, data forms,
outlines, indicator and period catalogues) and upserts indicators, regimes and form versions by
code: local ids stay, a regime keeps its local units and deadlines, a form whose spec is
unchanged stays at its version; what changed is recorded in the exchange log.

Up: when a province-level consolidated (or composed) report is accepted (an
``AFTER_TRANSITION_HOOKS`` hook), or on demand, a ``report_data`` message with the official
figures is queued in ``exchange_message`` in the same transaction; reopening it for correction
queues a ``report_status``. ``send_pending`` (the scheduler's ``send_exchange`` job) posts them
with the upstream's API key, stores the receipt, and retries failures with exponential backoff
(5 min, 10, 20…, the e-mail outbox's rule) up to ``EXCHANGE_MAX_ATTEMPTS``. A message the upper
level refuses (4xx) is not retried: its reason is in the log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field

import requests
from sqlalchemy import exists, or_, select

from app.errors import DomainError
from app.exchange import messages as fmt
from app.models import (
    ExchangeMessage,
    FormVersion,
    Indicator,
    IndicatorGroup,
    Regime,
    Report,
    Unit,
)
from app.models.exchange import (
    APPLIED,
    DELIVERED,
    FAILED,
    INBOUND,
    OUTBOUND,
    PENDING,
    REFUSED,
)
from app.models.forms import utcnow
from app.notifications import backoff
from app.workflow import AFTER_TRANSITION_HOOKS

log = logging.getLogger(__name__)

CATALOGUE_PATH = "/api/v1/exchange/catalogue"
PATHS = {fmt.REPORT_DATA: "/api/v1/exchange/report-data",
         fmt.REPORT_STATUS: "/api/v1/exchange/report-status"}


class ExchangeError(DomainError):
    """The upper-level system could not be reached or answered with an error."""


@dataclass
class UpstreamSettings:
    url: str = ""
    token: str = ""
    timeout: float = 30.0
    max_attempts: int = 8
    local_unit: str = ""

    @classmethod
    def from_config(cls, config) -> UpstreamSettings:
        return cls(url=(config.get("UPSTREAM_URL") or "").rstrip("/"),
                   token=config.get("UPSTREAM_TOKEN") or "",
                   timeout=float(config.get("UPSTREAM_TIMEOUT", 30)),
                   max_attempts=int(config.get("EXCHANGE_MAX_ATTEMPTS", 8)),
                   local_unit=config.get("EXCHANGE_LOCAL_UNIT") or "")

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def headers(self) -> dict:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers


def _settings(settings: UpstreamSettings | None) -> UpstreamSettings:
    if settings is not None:
        return settings
    from flask import current_app

    return UpstreamSettings.from_config(current_app.config)


# -- down: đồng bộ biểu mẫu -----------------------------------------------------------------------


@dataclass
class SyncSummary:
    created: dict[str, list[str]] = field(default_factory=lambda: {
        "indicators": [], "regimes": [], "forms": []})
    updated: dict[str, list[str]] = field(default_factory=lambda: {
        "indicators": [], "regimes": [], "forms": []})
    unchanged: dict[str, int] = field(default_factory=lambda: {
        "indicators": 0, "regimes": 0, "forms": 0})
    outlines: int = 0
    periods: int = 0
    log_id: int | None = None

    @property
    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values())

    @property
    def message(self) -> str:
        words = {"indicators": "chỉ tiêu", "regimes": "chế độ báo cáo", "forms": "biểu mẫu"}
        parts = []
        for kind, word in words.items():
            parts.append(f"{word}: {len(self.created[kind])} mới, {len(self.updated[kind])} "
                         f"cập nhật, {self.unchanged[kind]} không đổi")
        return "Đồng bộ biểu mẫu xong — " + "; ".join(parts) + "."

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "outlines": self.outlines, "periods": self.periods}


def fetch_catalogue(settings: UpstreamSettings) -> dict:
    if not settings.configured:
        raise ExchangeError("Chưa cấu hình hệ thống cấp trên (UPSTREAM_URL).")
    try:
        answer = requests.get(settings.url + CATALOGUE_PATH, headers=settings.headers(),
                              timeout=settings.timeout)
    except requests.RequestException as error:
        raise ExchangeError(
            f"Không kết nối được hệ thống cấp trên {settings.url}: {error}") from error
    if answer.status_code != 200:
        raise ExchangeError(f"Hệ thống cấp trên trả lời lỗi {answer.status_code}: "
                            f"{_answer_text(answer)}")
    try:
        return answer.json()
    except ValueError:
        raise ExchangeError("Hệ thống cấp trên không trả về JSON.") from None


def _answer_text(answer) -> str:
    try:
        data = answer.json()
    except ValueError:
        return answer.text[:500]
    return str(data.get("message") or data)[:500] if isinstance(data, dict) else str(data)[:500]


def sync_templates(session, settings: UpstreamSettings | None = None, *,
                   catalogue: dict | None = None, actor=None) -> SyncSummary:
    """Pull the upper level's catalogue and upsert it; the caller commits. Every message is
    validated first: one invalid message and nothing is written."""
    settings = _settings(settings)
    catalogue = catalogue if catalogue is not None else fetch_catalogue(settings)
    fmt.validate(catalogue, fmt.CATALOGUE)
    grouped: dict[str, list[dict]] = {kind: [] for kind in fmt.CATALOGUE_TYPES}
    for index, message in enumerate(catalogue["body"]["messages"]):
        try:
            fmt.validate(message)
        except fmt.InvalidMessage as error:
            path = "$.body.messages[" + str(index) + "]" + error.path[1:]
            raise fmt.InvalidMessage(error.message.replace(error.path, path, 1), path) from None
        if message["message_type"] not in grouped:
            raise fmt.InvalidMessage(
                f"Thông điệp không hợp lệ tại $.body.messages[{index}].message_type: "
                "không thuộc bộ danh mục.", f"$.body.messages[{index}].message_type")
        grouped[message["message_type"]].append(message["body"])

    summary = SyncSummary()
    for body in grouped[fmt.INDICATOR_CATALOGUE]:
        _upsert_indicators(session, body, summary)
    home = _local_unit(session, settings)
    regimes = {}
    for body in grouped[fmt.REGIME]:
        regimes[body["code"]] = _upsert_regime(session, body, home, summary)
    for body in grouped[fmt.DATA_FORM]:
        _upsert_form(session, body, regimes, summary, actor)
    summary.outlines = len(grouped[fmt.OUTLINE])
    summary.periods = sum(len(b["periods"]) for b in grouped[fmt.PERIOD_CATALOGUE])

    now = utcnow()
    entry = ExchangeMessage(
        direction=INBOUND, message_id=catalogue["message_id"] + "-" + now.strftime("%Y%m%d%H%M%S%f"),
        message_type=fmt.CATALOGUE, peer=settings.url or None,
        unit_code=catalogue["sender"]["unit_code"],
        payload=fmt.canonical(catalogue), content_hash=fmt.content_hash(catalogue),
        state=APPLIED, attempts=1, delivered_at=now, created_at=now,
        summary=json.dumps(summary.as_dict(), ensure_ascii=False))
    session.add(entry)
    session.flush()
    summary.log_id = entry.id
    return summary


def _local_unit(session, settings: UpstreamSettings) -> Unit:
    code = settings.local_unit
    if code:
        unit = session.scalar(select(Unit).where(
            or_(Unit.admin_code == code, Unit.internal_code == code)))
        if unit is None:
            raise DomainError(f"Không có đơn vị mã «{code}» (EXCHANGE_LOCAL_UNIT).")
        return unit
    unit = session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id)
                           .limit(1)).first()
    if unit is None:
        raise DomainError("Chưa có đơn vị nào: tạo cây đơn vị trước khi đồng bộ biểu mẫu.")
    return unit


_INDICATOR_FIELDS = ("name", "unit_of_measure", "calculation_method", "value_type",
                     "aggregation_over_units", "aggregation_over_time", "active")


def _upsert_indicators(session, body: dict, summary: SyncSummary) -> None:
    groups = {}
    for item in body["groups"]:
        group = session.scalar(select(IndicatorGroup).where(IndicatorGroup.code == item["code"]))
        if group is None:
            group = IndicatorGroup(code=item["code"], name=item["name"])
            session.add(group)
        elif group.name != item["name"]:
            group.name = item["name"]
        groups[item["code"]] = group
    existing = {i.code: i for i in session.scalars(select(Indicator).where(
        Indicator.code.in_([item["code"] for item in body["indicators"]])))}
    touched = {}
    for item in body["indicators"]:
        indicator = existing.get(item["code"])
        wanted = {name: item.get(name) for name in _INDICATOR_FIELDS if name in item}
        if indicator is None:
            indicator = Indicator(code=item["code"], **wanted)
            session.add(indicator)
            existing[item["code"]] = indicator
            summary.created["indicators"].append(item["code"])
        else:
            changed = [n for n, v in wanted.items() if getattr(indicator, n) != v]
            for name in changed:
                setattr(indicator, name, wanted[name])
            touched[item["code"]] = changed
        group = groups.get(item.get("group_code")) if item.get("group_code") else None
        if group is not None and indicator.group is not group:
            indicator.group = group
            touched.setdefault(item["code"], []).append("group")
    session.flush()
    for item in body["indicators"]:
        indicator = existing[item["code"]]
        for part in ("numerator", "denominator"):
            code = item.get(f"{part}_code")
            target = existing.get(code) or (session.scalar(
                select(Indicator).where(Indicator.code == code)) if code else None)
            if getattr(indicator, part) is not target:
                setattr(indicator, part, target)
                touched.setdefault(item["code"], []).append(part)
    for code, changed in touched.items():
        if code in summary.created["indicators"]:
            continue
        if changed:
            summary.updated["indicators"].append(f"{code} ({', '.join(changed)})")
        else:
            summary.unchanged["indicators"] += 1
    session.flush()


# what the upper level decides about a regime; its units, deadlines and reception stay local
_REGIME_FIELDS = ("name", "legal_basis", "kind", "frequency", "report_kind", "description")
_REGIME_NEW_FIELDS = ("cutoff_end_day", "deadline_rule", "deadline_working_days",
                      "deadline_day", "deadline_month_offset")


def _upsert_regime(session, body: dict, home: Unit, summary: SyncSummary) -> Regime:
    regime = session.scalar(select(Regime).where(Regime.code == body["code"]))
    wanted = {name: body.get(name) for name in _REGIME_FIELDS}
    indicators = list(session.scalars(select(Indicator).where(
        Indicator.code.in_(body["indicator_codes"])))) if body["indicator_codes"] else []
    if regime is None:
        regime = Regime(code=body["code"], owner_unit=home, lead_unit=home, receiving_unit=home,
                        **wanted, **{n: body[n] for n in _REGIME_NEW_FIELDS if n in body})
        regime.indicators = indicators
        session.add(regime)
        session.flush()
        summary.created["regimes"].append(body["code"])
        return regime
    changed = [n for n, v in wanted.items() if getattr(regime, n) != v]
    for name in changed:
        setattr(regime, name, wanted[name])
    if {i.code for i in regime.indicators} != {i.code for i in indicators}:
        regime.indicators = indicators
        changed.append("indicators")
    if changed:
        summary.updated["regimes"].append(f"{body['code']} ({', '.join(changed)})")
    else:
        summary.unchanged["regimes"] += 1
    session.flush()
    return regime


def _upsert_form(session, body: dict, regimes: dict, summary: SyncSummary, actor) -> None:
    from app.reports import publish_form_version
    from app.specs.model import FormSpec

    spec = FormSpec.from_dict(body["spec"])
    if spec.code != body["code"]:
        raise fmt.InvalidMessage(
            f"Thông điệp không hợp lệ tại $.body.spec.code: «{spec.code}» khác mã biểu mẫu "
            f"«{body['code']}».", "$.body.spec.code")
    regime = regimes.get(body.get("regime_code")) or (session.scalar(
        select(Regime).where(Regime.code == body["regime_code"])) if body.get("regime_code")
        else None)
    before = session.scalar(select(FormVersion.id).where(FormVersion.code == spec.code)
                            .order_by(FormVersion.version.desc()).limit(1))
    version = publish_form_version(session, spec, regime=regime, actor=actor)
    if version.id == before:
        if regime is not None and version.regime_id != regime.id:
            version.regime = regime
            summary.updated["forms"].append(f"{spec.code} (regime)")
        else:
            summary.unchanged["forms"] += 1
    elif before is None:
        summary.created["forms"].append(f"{spec.code} v{version.version}")
    else:
        summary.updated["forms"].append(f"{spec.code} v{version.version}")
    session.flush()


# -- up: queue, send, retry -----------------------------------------------------------------------


def _queue(session, message: dict, *, report=None, settings: UpstreamSettings,
           force: bool = False) -> ExchangeMessage:
    digest = fmt.content_hash(message)
    if not force:
        same = session.scalars(select(ExchangeMessage).where(
            ExchangeMessage.direction == OUTBOUND, ExchangeMessage.content_hash == digest,
            ExchangeMessage.state.in_((PENDING, DELIVERED)))
            .order_by(ExchangeMessage.id.desc()).limit(1)).first()
        if same is not None:
            return same
    body = message["body"]
    row = ExchangeMessage(
        direction=OUTBOUND, message_id=message["message_id"],
        message_type=message["message_type"], peer=settings.url or None,
        unit_code=message["sender"]["unit_code"], regime_code=body.get("regime_code"),
        period_label=body.get("period", {}).get("label"), payload=fmt.canonical(message),
        content_hash=digest, state=PENDING, attempts=0, next_attempt_at=None,
        report_id=report.id if report is not None else None)
    session.add(row)
    session.flush()
    return row


def queue_report_data(session, report: Report, settings: UpstreamSettings | None = None, *,
                      force: bool = False) -> ExchangeMessage:
    """Queue the official figures of the report's subtree for the upper level. The same
    content already waiting or delivered is not queued again (``force``: queue it anyway, the
    upper level then answers with its first receipt)."""
    settings = _settings(settings)
    if report.state != "accepted":
        raise DomainError("Chỉ gửi lên cấp trên số liệu của báo cáo đã được tiếp nhận.")
    message = fmt.report_data(session, report)
    fmt.validate(message, fmt.REPORT_DATA)
    return _queue(session, message, report=report, settings=settings, force=force)


def is_top_consolidation(session, report: Report) -> bool:
    """A consolidated or composed report with no report of its form and period above it: the
    province's own figures."""
    if report.kind not in ("consolidated", "composed"):
        return False
    above = [int(p) for p in (report.unit.path or "").strip("/").split("/")
             if p and int(p) != report.unit_id]
    if not above:
        return True
    return not session.scalar(select(exists().where(
        Report.period_id == report.period_id, Report.form_code == report.form_code,
        Report.unit_id.in_(above))))


def queue_after_transition(session, report: Report, event) -> None:
    """AFTER_TRANSITION_HOOKS: the province's consolidated report accepted → its figures are
    queued for the upper level; reopened for correction → a report_status says so."""
    if event.action not in ("accept", "reopen"):
        return
    settings = _settings(None)
    if not settings.configured or not is_top_consolidation(session, report):
        return
    try:
        if event.action == "accept":
            queue_report_data(session, report, settings)
        else:
            message = fmt.report_status(report, "reopened", event.at, event.reason)
            _queue(session, message, report=report, settings=settings)
    except DomainError as error:  # no code on the unit: the acceptance itself stands
        log.warning("Không đưa được báo cáo %s vào hàng đợi gửi cấp trên: %s", report.id,
                    error.message)


if queue_after_transition not in AFTER_TRANSITION_HOOKS:
    AFTER_TRANSITION_HOOKS.append(queue_after_transition)


def deliver(session, row: ExchangeMessage, settings: UpstreamSettings,
            now: dt.datetime | None = None) -> str:
    """Post one message; record the receipt or the failure (attempts, next attempt, error).
    Returns the new state. The caller commits."""
    now = now or utcnow()
    row.attempts += 1
    try:
        answer = requests.post(settings.url + PATHS[row.message_type],
                               data=row.payload.encode("utf-8"),
                               headers={**settings.headers(),
                                        "Content-Type": "application/json; charset=utf-8"},
                               timeout=settings.timeout)
    except requests.RequestException as error:
        _retry_later(row, f"Không kết nối được: {error}", settings, now)
        return row.state
    if answer.status_code in (200, 201):
        try:
            receipt = fmt.validate(answer.json(), fmt.RECEIPT)
        except (ValueError, fmt.InvalidMessage) as error:
            _retry_later(row, f"Biên nhận không hợp lệ: {error}", settings, now)
            return row.state
        row.state, row.receipt, row.delivered_at = DELIVERED, fmt.canonical(receipt), now
        row.last_error, row.next_attempt_at = None, None
    elif 400 <= answer.status_code < 500 and answer.status_code not in (401, 408, 429):
        row.state, row.next_attempt_at = REFUSED, None
        row.last_error = f"{answer.status_code}: {_answer_text(answer)}"
    else:  # 5xx, an expired or not yet issued key, a busy server: try again later
        _retry_later(row, f"{answer.status_code}: {_answer_text(answer)}", settings, now)
    return row.state


def _retry_later(row: ExchangeMessage, error: str, settings: UpstreamSettings,
                 now: dt.datetime) -> None:
    row.last_error = error[:2000]
    if row.attempts >= settings.max_attempts:
        row.state, row.next_attempt_at = FAILED, None
    else:
        row.state, row.next_attempt_at = PENDING, now + backoff(row.attempts)


def send_pending(session, settings: UpstreamSettings | None = None,
                 now: dt.datetime | None = None, limit: int = 100) -> dict[str, int]:
    """Send the messages waiting and those whose wait has passed, oldest first; each is
    committed on its own."""
    settings = _settings(settings)
    now = now or utcnow()
    counts = {"delivered": 0, "pending": 0, "refused": 0, "failed": 0}
    if not settings.configured:
        return counts
    due = session.scalars(select(ExchangeMessage).where(
        ExchangeMessage.direction == OUTBOUND, ExchangeMessage.state == PENDING,
        or_(ExchangeMessage.next_attempt_at.is_(None), ExchangeMessage.next_attempt_at <= now))
        .order_by(ExchangeMessage.id).limit(limit)).all()
    for row in due:
        state = deliver(session, row, settings, now)
        counts[state] = counts.get(state, 0) + 1
        session.commit()
    return counts
