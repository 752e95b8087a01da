"""The exchange format between reporting systems, modelled on the message types of QCVN
125:2021/BTTTT (Circular 02/2021/TT-BTTTT): one module holds the mapping.

The regulation's field tables were not at hand, so its message types are modelled as a
versioned JSON format. Every message is an envelope::

    {"format_version": "1.0", "standard": "QCVN 125:2021/BTTTT",
     "message_type": "report_data", "message_id": "…", "created_at": "2026-12-07T13:50:00Z",
     "sender": {"system": "…", "unit_code": "82", "unit_name": "UBND tỉnh Đồng Tháp"},
     "body": {…}}

with one body per type:

=====================  ======================================  =================================
message_type           QCVN 125 message                        built from
=====================  ======================================  =================================
regime                 chế độ báo cáo                          ``Regime``
data_form              biểu mẫu (mẫu số liệu)                  a published ``FormVersion``
outline                đề cương báo cáo                        the narrative blocks of a form
indicator_catalogue    danh mục chỉ tiêu (with groups)         ``Indicator``, ``IndicatorGroup``
period_catalogue       danh mục kỳ báo cáo                     ``Period`` of a regime
report_data            dữ liệu báo cáo                         ``consolidation.aggregate``
report_status          trạng thái báo cáo                      a report's state
receipt                biên nhận                               the upper level's answer
catalogue              (a bundle of the first five, GET)       all of the above
=====================  ======================================  =================================

Each type has a JSON Schema (draft 2020-12) checked with ``jsonschema``; an invalid message is
refused with a Vietnamese message naming the JSON path of the first error ($.body.figures[2]…).
Numbers travel as decimal strings ("1234.5"), dates as ISO 8601, times in UTC.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from decimal import Decimal

from jsonschema import Draft202012Validator
from sqlalchemy import select

from app.errors import DomainError

FORMAT_VERSION = "1.0"
STANDARD = "QCVN 125:2021/BTTTT"
SYSTEM_NAME = "Hệ thống thông tin báo cáo"

REGIME, DATA_FORM, OUTLINE, INDICATOR_CATALOGUE, PERIOD_CATALOGUE = (
    "regime", "data_form", "outline", "indicator_catalogue", "period_catalogue")
REPORT_DATA, REPORT_STATUS, RECEIPT, CATALOGUE = (
    "report_data", "report_status", "receipt", "catalogue")
CATALOGUE_TYPES = (REGIME, DATA_FORM, OUTLINE, INDICATOR_CATALOGUE, PERIOD_CATALOGUE)
MESSAGE_TYPES = CATALOGUE_TYPES + (REPORT_DATA, REPORT_STATUS, RECEIPT, CATALOGUE)
TYPE_WORDS = {
    REGIME: "Chế độ báo cáo",
    DATA_FORM: "Biểu mẫu",
    OUTLINE: "Đề cương báo cáo",
    INDICATOR_CATALOGUE: "Danh mục chỉ tiêu",
    PERIOD_CATALOGUE: "Danh mục kỳ báo cáo",
    REPORT_DATA: "Dữ liệu báo cáo",
    REPORT_STATUS: "Trạng thái báo cáo",
    RECEIPT: "Biên nhận",
    CATALOGUE: "Bộ danh mục (đồng bộ biểu mẫu)",
}
REPORT_STATUSES = ("sent", "accepted", "returned", "reopened")


class InvalidMessage(DomainError):
    """A message that does not follow the exchange format; the message names the JSON path."""

    def __init__(self, message: str, path: str = "$"):
        super().__init__(message, field=path)
        self.path = path


# -- JSON Schemas ---------------------------------------------------------------------------------

_TEXT = {"type": "string", "maxLength": 500}
_CODE = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": r"^\S(.*\S)?$"}
_OPTIONAL_TEXT = {"type": ["string", "null"]}
_DATE = {"type": ["string", "null"], "pattern": r"^\d{4}-\d{2}-\d{2}$"}
_DECIMAL = {"type": ["string", "null"], "pattern": r"^-?\d+(\.\d+)?$"}
_INT_OR_NULL = {"type": ["integer", "null"]}
_FREQUENCY = {"enum": ["month", "quarter", "half_year", "nine_months", "year", "one_off"]}
_PERIOD_REF = {
    "type": "object",
    "required": ["frequency", "year", "number", "label"],
    "properties": {
        "frequency": _FREQUENCY,
        "year": {"type": "integer", "minimum": 2000, "maximum": 2200},
        "number": {"type": "integer", "minimum": 1, "maximum": 366},
        "label": {"type": "string", "minLength": 1, "maxLength": 60},
    },
}
_UNIT_REF = {
    "type": "object",
    "required": ["code", "name"],
    "properties": {"code": _CODE, "name": _TEXT},
}

BODY_SCHEMAS: dict[str, dict] = {
    REGIME: {
        "type": "object",
        "required": ["code", "name", "kind", "frequency", "report_kind", "indicator_codes",
                     "form_codes"],
        "properties": {
            "code": _CODE,
            "name": {"type": "string", "minLength": 1, "maxLength": 500},
            "legal_basis": _OPTIONAL_TEXT,
            "kind": {"enum": ["government", "provincial_periodic", "thematic", "ad_hoc"]},
            "frequency": _FREQUENCY,
            "report_kind": {"enum": ["numeric", "narrative", "linked"]},
            "cutoff_end_day": _INT_OR_NULL,
            "deadline_rule": {"enum": ["working_days_after_cutoff", "fixed_day"]},
            "deadline_working_days": _INT_OR_NULL,
            "deadline_day": _INT_OR_NULL,
            "deadline_month_offset": {"type": "integer"},
            "description": _OPTIONAL_TEXT,
            "valid_from": _DATE,
            "valid_to": _DATE,
            "indicator_codes": {"type": "array", "items": _CODE},
            "form_codes": {"type": "array", "items": _CODE},
        },
    },
    DATA_FORM: {
        "type": "object",
        "required": ["code", "version", "title", "content_hash", "spec"],
        "properties": {
            "code": _CODE,
            "version": {"type": "integer", "minimum": 1},
            "title": {"type": "string", "minLength": 1, "maxLength": 500},
            "regime_code": {"type": ["string", "null"]},
            "content_hash": {"type": "string", "pattern": r"^[0-9a-f]{64}$"},
            "spec": {
                "type": "object",
                "required": ["code", "title", "sheets", "rows", "cells"],
                "properties": {
                    "code": _CODE,
                    "sheets": {"type": "array"},
                    "rows": {"type": "array"},
                    "cells": {"type": "array"},
                },
            },
        },
    },
    OUTLINE: {
        "type": "object",
        "required": ["form_code", "sections"],
        "properties": {
            "form_code": _CODE,
            "regime_code": {"type": ["string", "null"]},
            "sections": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "label", "required"],
                    "properties": {"key": _CODE, "label": {"type": "string"},
                                   "required": {"type": "boolean"}},
                },
            },
        },
    },
    INDICATOR_CATALOGUE: {
        "type": "object",
        "required": ["groups", "indicators"],
        "properties": {
            "groups": {
                "type": "array",
                "items": {"type": "object", "required": ["code", "name"],
                          "properties": {"code": _CODE, "name": _TEXT}},
            },
            "indicators": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "name", "value_type", "aggregation_over_units",
                                 "aggregation_over_time"],
                    "properties": {
                        "code": {**_CODE, "maxLength": 40},
                        "name": {"type": "string", "minLength": 1, "maxLength": 500},
                        "unit_of_measure": {"type": ["string", "null"], "maxLength": 60},
                        "calculation_method": _OPTIONAL_TEXT,
                        "value_type": {"enum": ["integer", "decimal", "percent", "text", "date",
                                                "choice"]},
                        "aggregation_over_units": {"enum": ["sum", "average", "min", "max",
                                                            "none"]},
                        "aggregation_over_time": {"enum": ["sum", "average", "last", "none"]},
                        "numerator_code": {"type": ["string", "null"]},
                        "denominator_code": {"type": ["string", "null"]},
                        "group_code": {"type": ["string", "null"]},
                        "active": {"type": "boolean"},
                    },
                },
            },
        },
    },
    PERIOD_CATALOGUE: {
        "type": "object",
        "required": ["regime_code", "periods"],
        "properties": {
            "regime_code": _CODE,
            "periods": {
                "type": "array",
                "items": {
                    **_PERIOD_REF,
                    "required": ["frequency", "year", "number", "label", "cutoff_start",
                                 "cutoff_end", "deadline"],
                    "properties": {**_PERIOD_REF["properties"], "cutoff_start": _DATE,
                                   "cutoff_end": _DATE, "deadline": _DATE},
                },
            },
        },
    },
    REPORT_DATA: {
        "type": "object",
        "required": ["regime_code", "form_code", "period", "unit", "official", "figures"],
        "properties": {
            "regime_code": _CODE,
            "form_code": _CODE,
            "period": _PERIOD_REF,
            "unit": _UNIT_REF,
            "official": {"const": True},
            "accepted_at": {"type": ["string", "null"]},
            "figures": {
                "type": "array",
                "maxItems": 200000,
                "items": {
                    "type": "object",
                    "required": ["indicator_code", "column_key", "breakdown_key", "value"],
                    "additionalProperties": False,
                    "properties": {
                        "indicator_code": {**_CODE, "maxLength": 40},
                        "column_key": {"type": "string", "minLength": 1, "maxLength": 120},
                        "breakdown_key": {"type": "string", "maxLength": 120},
                        "value": _DECIMAL,
                    },
                },
            },
        },
    },
    REPORT_STATUS: {
        "type": "object",
        "required": ["regime_code", "form_code", "period", "unit", "status", "at"],
        "properties": {
            "regime_code": _CODE,
            "form_code": _CODE,
            "period": _PERIOD_REF,
            "unit": _UNIT_REF,
            "status": {"enum": list(REPORT_STATUSES)},
            "at": {"type": "string", "minLength": 10},
            "reason": _OPTIONAL_TEXT,
        },
    },
    RECEIPT: {
        "type": "object",
        "required": ["for_message_id", "content_hash", "received_at", "status"],
        "properties": {
            "for_message_id": {"type": "string"},
            "content_hash": {"type": "string", "pattern": r"^[0-9a-f]{64}$"},
            "received_at": {"type": "string"},
            "status": {"enum": ["received"]},
            "figures": {"type": "integer", "minimum": 0},
        },
    },
    CATALOGUE: {
        "type": "object",
        "required": ["messages"],
        "properties": {"messages": {"type": "array", "items": {"type": "object"}}},
    },
}


def schema(message_type: str) -> dict:
    """The JSON Schema of one message type: the envelope with that type's body."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:htttbc:exchange:{FORMAT_VERSION}:{message_type}",
        "title": TYPE_WORDS[message_type],
        "type": "object",
        "required": ["format_version", "message_type", "message_id", "created_at", "sender",
                     "body"],
        "properties": {
            "format_version": {"const": FORMAT_VERSION},
            "standard": {"type": "string"},
            "message_type": {"const": message_type},
            "message_id": {"type": "string", "minLength": 8, "maxLength": 64,
                           "pattern": r"^[A-Za-z0-9._:-]+$"},
            "created_at": {"type": "string", "minLength": 10, "maxLength": 40},
            "sender": {
                "type": "object",
                "required": ["unit_code"],
                "properties": {"system": {"type": "string"}, "unit_code": _CODE,
                               "unit_name": {"type": ["string", "null"]}},
            },
            "body": BODY_SCHEMAS[message_type],
        },
    }


_VALIDATORS = {kind: Draft202012Validator(schema(kind)) for kind in MESSAGE_TYPES}


def json_path(parts) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _vietnamese(error) -> str:
    """The jsonschema error in words a Vietnamese operator reads."""
    kind, value = error.validator, error.validator_value
    if kind == "required":
        missing = [name for name in value if name not in (error.instance or {})]
        return f"thiếu trường «{missing[0] if missing else value[0]}»"
    if kind == "type":
        words = {"string": "chuỗi", "integer": "số nguyên", "object": "đối tượng",
                 "array": "danh sách", "boolean": "đúng/sai", "null": "rỗng", "number": "số"}
        kinds = value if isinstance(value, list) else [value]
        return "phải là " + " hoặc ".join(words.get(k, k) for k in kinds)
    if kind in ("enum", "const"):
        allowed = value if isinstance(value, list) else [value]
        return ("giá trị " + json.dumps(error.instance, ensure_ascii=False)
                + " không được chấp nhận (cho phép: "
                + ", ".join(json.dumps(a, ensure_ascii=False) for a in allowed) + ")")
    if kind == "pattern":
        return "sai định dạng: " + json.dumps(error.instance, ensure_ascii=False)[:80]
    if kind in ("minLength", "maxLength"):
        return f"độ dài phải {'ít nhất' if kind == 'minLength' else 'không quá'} {value} ký tự"
    if kind in ("minimum", "maximum"):
        return f"giá trị phải {'từ' if kind == 'minimum' else 'không quá'} {value}"
    if kind == "additionalProperties":
        return "có trường không thuộc định dạng"
    if kind == "maxItems":
        return f"nhiều quá {value} phần tử"
    return error.message


def validate(message, expected_type: str | None = None) -> dict:
    """Check a message against its schema; return it, or raise InvalidMessage naming the
    JSON path of the first error (in document order)."""
    if not isinstance(message, dict):
        raise InvalidMessage("Thông điệp không hợp lệ tại $: phải là một đối tượng JSON.")
    kind = message.get("message_type")
    if expected_type is not None and kind != expected_type:
        raise InvalidMessage(
            f"Thông điệp không hợp lệ tại $.message_type: cần «{expected_type}», "
            f"nhận được {json.dumps(kind, ensure_ascii=False)}.", "$.message_type")
    if kind not in _VALIDATORS:
        raise InvalidMessage(
            "Thông điệp không hợp lệ tại $.message_type: loại thông điệp "
            f"{json.dumps(kind, ensure_ascii=False)} không có trong định dạng trao đổi "
            f"phiên bản {FORMAT_VERSION}.", "$.message_type")
    errors = sorted(_VALIDATORS[kind].iter_errors(message),
                    key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        first = errors[0]
        path = json_path(first.absolute_path)
        raise InvalidMessage(f"Thông điệp không hợp lệ tại {path}: {_vietnamese(first)}.", path)
    return message


# -- envelope, hashing ----------------------------------------------------------------------------


def new_message_id() -> str:
    return uuid.uuid4().hex


def iso(moment: dt.datetime | None) -> str | None:
    """A naive UTC datetime as ISO 8601 with Z."""
    return None if moment is None else moment.replace(microsecond=0).isoformat() + "Z"


def _date(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def decimal_text(value) -> str | None:
    if value is None:
        return None
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "") else text


def envelope(message_type: str, body: dict, unit_code: str, unit_name: str | None = None,
             *, message_id: str | None = None, now: dt.datetime | None = None) -> dict:
    from app.models.forms import utcnow

    return {
        "format_version": FORMAT_VERSION,
        "standard": STANDARD,
        "message_type": message_type,
        "message_id": message_id or new_message_id(),
        "created_at": iso(now or utcnow()),
        "sender": {"system": SYSTEM_NAME, "unit_code": unit_code, "unit_name": unit_name},
        "body": body,
    }


def canonical(data) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def content_hash(message: dict) -> str:
    """SHA-256 of what a message says (type, sender unit, body), not of its id nor its time:
    the same figures sent twice under two ids have one hash."""
    key = {"message_type": message["message_type"],
           "unit_code": message["sender"]["unit_code"], "body": message["body"]}
    return hashlib.sha256(canonical(key).encode("utf-8")).hexdigest()


def unit_code(unit) -> str | None:
    return unit.admin_code or unit.internal_code if unit is not None else None


def period_ref(period) -> dict:
    return {"frequency": period.frequency, "year": period.year, "number": period.number,
            "label": period.label}


# -- builders from the database ------------------------------------------------------------------


def regime_body(regime) -> dict:
    forms = sorted({v.code for v in _published_versions(regime)}) if regime.id else []
    return {
        "code": regime.code, "name": regime.name, "legal_basis": regime.legal_basis,
        "kind": regime.kind, "frequency": regime.frequency, "report_kind": regime.report_kind,
        "cutoff_end_day": regime.cutoff_end_day, "deadline_rule": regime.deadline_rule,
        "deadline_working_days": regime.deadline_working_days,
        "deadline_day": regime.deadline_day,
        "deadline_month_offset": regime.deadline_month_offset,
        "description": regime.description,
        "valid_from": _date(regime.valid_from), "valid_to": _date(regime.valid_to),
        "indicator_codes": sorted(i.code for i in regime.indicators),
        "form_codes": forms,
    }


def _published_versions(regime) -> list:
    """The latest published version of each form of the regime."""
    from sqlalchemy.orm import object_session

    from app.models import FormVersion

    session = object_session(regime)
    versions = session.scalars(
        select(FormVersion).where(FormVersion.regime_id == regime.id,
                                  FormVersion.status == "published")
        .order_by(FormVersion.code, FormVersion.version.desc())).all()
    latest = {}
    for version in versions:
        latest.setdefault(version.code, version)
    return list(latest.values())


def data_form_body(version) -> dict:
    return {
        "code": version.code, "version": version.version, "title": version.title,
        "regime_code": version.regime.code if version.regime else None,
        "content_hash": version.content_hash, "spec": json.loads(version.spec_json),
    }


def outline_body(version) -> dict:
    spec = version.spec()
    return {
        "form_code": version.code,
        "regime_code": version.regime.code if version.regime else None,
        "sections": [{"key": b.key, "label": b.label, "required": bool(b.required)}
                     for b in spec.narrative_blocks],
    }


def indicator_catalogue_body(indicators) -> dict:
    groups = {i.group.code: i.group.name for i in indicators if i.group is not None}
    return {
        "groups": [{"code": code, "name": name} for code, name in sorted(groups.items())],
        "indicators": [{
            "code": i.code, "name": i.name, "unit_of_measure": i.unit_of_measure,
            "calculation_method": i.calculation_method, "value_type": i.value_type,
            "aggregation_over_units": i.aggregation_over_units,
            "aggregation_over_time": i.aggregation_over_time,
            "numerator_code": i.numerator.code if i.numerator else None,
            "denominator_code": i.denominator.code if i.denominator else None,
            "group_code": i.group.code if i.group else None,
            "active": bool(i.active),
        } for i in sorted(indicators, key=lambda i: i.code)],
    }


def period_catalogue_body(regime) -> dict:
    return {
        "regime_code": regime.code,
        "periods": [{**period_ref(p), "cutoff_start": _date(p.cutoff_start),
                     "cutoff_end": _date(p.cutoff_end), "deadline": _date(p.deadline)}
                    for p in regime.periods],
    }


def catalogue(session, unit_code_: str, unit_name: str | None = None,
              regime_codes=None) -> dict:
    """The catalogue this system serves to the level below: for every active regime (or those
    asked for) its regime, data form, outline and period messages, and one indicator catalogue
    of the indicators they use (the regime's own and those the forms' rows map to)."""
    from app.models import Indicator, Regime

    query = select(Regime).where(Regime.active.is_(True)).order_by(Regime.code)
    if regime_codes:
        query = query.where(Regime.code.in_(list(regime_codes)))
    messages, indicator_codes = [], set()
    for regime in session.scalars(query):
        messages.append(envelope(REGIME, regime_body(regime), unit_code_, unit_name))
        indicator_codes.update(i.code for i in regime.indicators)
        for version in _published_versions(regime):
            messages.append(envelope(DATA_FORM, data_form_body(version), unit_code_, unit_name))
            body = outline_body(version)
            if body["sections"]:
                messages.append(envelope(OUTLINE, body, unit_code_, unit_name))
            indicator_codes.update(r.indicator_code for r in version.spec().rows
                                   if r.indicator_code)
        messages.append(envelope(PERIOD_CATALOGUE, period_catalogue_body(regime), unit_code_,
                                 unit_name))
    indicators = list(session.scalars(select(Indicator).where(
        Indicator.code.in_(sorted(indicator_codes))))) if indicator_codes else []
    # ratio parts travel with their ratio
    parts = {p.code for i in indicators for p in (i.numerator, i.denominator) if p is not None}
    if parts - {i.code for i in indicators}:
        indicators += list(session.scalars(select(Indicator).where(
            Indicator.code.in_(sorted(parts - {i.code for i in indicators})))))
    messages.insert(0, envelope(INDICATOR_CATALOGUE, indicator_catalogue_body(indicators),
                                unit_code_, unit_name))
    return envelope(CATALOGUE, {"messages": messages}, unit_code_, unit_name)


def report_data(session, report, *, now: dt.datetime | None = None) -> dict:
    """The official (accepted) consolidated figures of a report's unit subtree for its period,
    from the consolidation engine, as a report_data message sent by that unit."""
    from app.consolidation import aggregate
    from app.models import Indicator

    code = unit_code(report.unit)
    if not code:
        raise DomainError(f"Đơn vị «{report.unit.name}» chưa có mã (mã hành chính hoặc mã nội "
                          "bộ): chưa gửi được số liệu lên cấp trên.")
    figures = aggregate(session, regime=report.regime, form_code=report.form_code,
                        period_ids=[report.period_id], root_unit=report.unit, provisional=False)
    codes = dict(session.execute(select(Indicator.id, Indicator.code).where(
        Indicator.id.in_({cell.indicator_id for cell in figures.cells.values()}))).all()) \
        if figures.cells else {}
    rows = sorted(
        ({"indicator_code": codes[cell.indicator_id], "column_key": cell.column_key,
          "breakdown_key": cell.breakdown_key or "", "value": decimal_text(cell.value)}
         for cell in figures.cells.values() if cell.indicator_id in codes),
        key=lambda r: (r["indicator_code"], r["column_key"], r["breakdown_key"]))
    body = {
        "regime_code": report.regime.code, "form_code": report.form_code,
        "period": period_ref(report.period),
        "unit": {"code": code, "name": report.unit.name},
        "official": True, "accepted_at": iso(report.accepted_at), "figures": rows,
    }
    return envelope(REPORT_DATA, body, code, report.unit.name, now=now)


def report_status(report, status: str, at: dt.datetime, reason: str | None = None) -> dict:
    code = unit_code(report.unit)
    if not code:
        raise DomainError(f"Đơn vị «{report.unit.name}» chưa có mã: chưa gửi được lên cấp trên.")
    body = {"regime_code": report.regime.code, "form_code": report.form_code,
            "period": period_ref(report.period), "unit": {"code": code, "name": report.unit.name},
            "status": status, "at": iso(at), "reason": reason}
    return envelope(REPORT_STATUS, body, code, report.unit.name, now=at)
