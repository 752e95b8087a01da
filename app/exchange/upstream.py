"""The upper-level role (federation: the same software serving as the national system).

A lower level's report data and report status arrive here (app/views/exchange.py, with
Flask-AppBuilder's API keys). Each message is validated against its schema, must come from the
account's own unit (or a unit within its scope), and is stored once: the same message id, or
the same content under another id, adds nothing and gets back the receipt first given.
"""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import delete, select

from app.errors import DomainError, PermissionDenied
from app.exchange import messages as fmt
from app.models import ExchangeFigure, ExchangeMessage, Indicator, Regime, Unit
from app.models.exchange import INBOUND, RECEIVED
from app.models.forms import utcnow


class ReceptionRefused(DomainError):
    """A message the upper level will not take (unknown regime, unit, indicator)."""


def _sender_unit(session, message: dict, account) -> Unit:
    from app.scoping import unit_in_scope

    code = message["sender"]["unit_code"]
    body_unit = message["body"].get("unit", {}).get("code")
    if body_unit is not None and body_unit != code:
        raise fmt.InvalidMessage(
            f"Thông điệp không hợp lệ tại $.body.unit.code: «{body_unit}» khác đơn vị gửi "
            f"«{code}» ($.sender.unit_code).", "$.body.unit.code")
    unit = session.scalar(select(Unit).where(
        (Unit.admin_code == code) | (Unit.internal_code == code)))
    if unit is None:
        raise ReceptionRefused(f"Đơn vị mã «{code}» ($.sender.unit_code) chưa có trong danh mục "
                               "đơn vị của hệ thống cấp trên.", field="$.sender.unit_code")
    if account is None or not unit_in_scope(unit, account):
        raise PermissionDenied(f"Tài khoản của khóa API không được gửi báo cáo thay đơn vị "
                               f"mã «{code}».", field="$.sender.unit_code")
    return unit


def _check_catalogue(session, body: dict) -> None:
    regime = session.scalar(select(Regime).where(Regime.code == body["regime_code"]))
    if regime is None:
        raise ReceptionRefused(f"Chế độ báo cáo mã «{body['regime_code']}» "
                               "($.body.regime_code) không có ở hệ thống cấp trên.",
                               field="$.body.regime_code")
    codes = [row["indicator_code"] for row in body.get("figures", [])]
    known = set(session.scalars(select(Indicator.code).where(Indicator.code.in_(set(codes))))) \
        if codes else set()
    for index, code in enumerate(codes):
        if code not in known:
            raise ReceptionRefused(
                f"Chỉ tiêu mã «{code}» ($.body.figures[{index}].indicator_code) không có trong "
                "danh mục chỉ tiêu của hệ thống cấp trên.",
                field=f"$.body.figures[{index}].indicator_code")


def receive(session, message, account, expected_type: str) -> tuple[dict, bool]:
    """Take a report_data or report_status message from a lower level; return (receipt, new).
    The caller commits. Raises InvalidMessage, ReceptionRefused or PermissionDenied."""
    fmt.validate(message, expected_type)
    unit = _sender_unit(session, message, account)
    body = message["body"]
    digest = fmt.content_hash(message)
    earlier = session.scalar(select(ExchangeMessage).where(
        ExchangeMessage.direction == INBOUND, ExchangeMessage.message_id == message["message_id"]))
    if earlier is None:
        earlier = session.scalars(select(ExchangeMessage).where(
            ExchangeMessage.direction == INBOUND, ExchangeMessage.content_hash == digest,
            ExchangeMessage.message_type == expected_type)
            .order_by(ExchangeMessage.id).limit(1)).first()
    if earlier is not None:
        return json.loads(earlier.receipt), False
    _check_catalogue(session, body)

    now = utcnow()
    period = body["period"]
    row = ExchangeMessage(
        direction=INBOUND, message_id=message["message_id"], message_type=expected_type,
        peer=unit.name, unit_code=message["sender"]["unit_code"],
        regime_code=body["regime_code"], period_label=period["label"],
        payload=fmt.canonical(message), content_hash=digest, state=RECEIVED,
        attempts=1, delivered_at=now, created_at=now)
    session.add(row)
    session.flush()
    stored = 0
    if expected_type == fmt.REPORT_DATA:
        stored = _store_figures(session, row, body, now)
        row.summary = f"{stored} số liệu của {unit.name}, {period['label']}"
    else:
        row.summary = f"{unit.name}: {body['status']} ({period['label']})"
    receipt = fmt.envelope(fmt.RECEIPT, {
        "for_message_id": message["message_id"], "content_hash": digest,
        "received_at": fmt.iso(now), "status": "received", "figures": stored,
    }, fmt.unit_code(_top_unit(session)) or "national", now=now)
    row.receipt = fmt.canonical(receipt)
    session.flush()
    return receipt, True


def _top_unit(session) -> Unit | None:
    return session.scalars(select(Unit).where(Unit.parent_id.is_(None))
                           .order_by(Unit.id).limit(1)).first()


def _store_figures(session, row: ExchangeMessage, body: dict, now) -> int:
    """The period's figures of the unit become those of this message: a newer content (a
    correction accepted again below) replaces the earlier one."""
    period, code = body["period"], body["unit"]["code"]
    session.execute(delete(ExchangeFigure).where(
        ExchangeFigure.unit_code == code, ExchangeFigure.regime_code == body["regime_code"],
        ExchangeFigure.period_frequency == period["frequency"],
        ExchangeFigure.period_year == period["year"],
        ExchangeFigure.period_number == period["number"]))
    figures = [ExchangeFigure(
        message_id=row.id, unit_code=code, regime_code=body["regime_code"],
        form_code=body["form_code"], period_frequency=period["frequency"],
        period_year=period["year"], period_number=period["number"],
        period_label=period["label"], indicator_code=f["indicator_code"],
        column_key=f["column_key"], breakdown_key=f["breakdown_key"] or "",
        value=None if f["value"] is None else Decimal(f["value"]), received_at=now) for f in body["figures"]]
    session.add_all(figures)
    session.flush()
    return len(figures)


def serve_catalogue(session, regime_codes=None) -> dict:
    top = _top_unit(session)
    return fmt.catalogue(session, fmt.unit_code(top) or "national",
                         top.name if top else None, regime_codes)
