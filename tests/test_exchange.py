"""The exchange with the upper-level system (app/exchange/), and federation: two instances of
the app on loopback ports, a province (the conftest app: SQLite and PostgreSQL) and a national
level (its own SQLite file). A template is synced down, the province's accepted consolidated
figures go up with a receipt, sending again adds nothing, an unreachable upstream leaves the
message waiting with its attempt count and next attempt time."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal

import pytest
import requests
from flask import current_app
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app.consolidation import consolidate
from app.exchange import messages as fmt
from app.exchange.downstream import (
    UpstreamSettings,
    deliver,
    queue_report_data,
    send_pending,
    sync_templates,
)
from app.models import (
    ExchangeFigure,
    ExchangeMessage,
    FormVersion,
    Indicator,
    Period,
    Regime,
)
from app.reports import get_or_create_report, publish_form_version, save_values
from app.roles import AGGREGATOR, DATA_ENTRY
from app.workflow import transition
from tests import factories
from tests.conftest import _clean_database, build_app
from tests.test_consolidation import COMMUNES, FORM, ROWS, indicator_spec

REGIME = "KTXH-QG"
NOW = dt.datetime(2026, 11, 26, 3, 0)


# -- the message format ---------------------------------------------------------------------------


def _report_data(figures) -> dict:
    body = {"regime_code": REGIME, "form_code": FORM,
            "period": {"frequency": "month", "year": 2026, "number": 11, "label": "Tháng 11/2026"},
            "unit": {"code": "82", "name": "UBND tỉnh Đồng Tháp"}, "official": True,
            "figures": figures}
    return fmt.envelope(fmt.REPORT_DATA, body, "82", "UBND tỉnh Đồng Tháp")


def test_every_message_type_has_a_schema_and_errors_name_the_json_path():
    good = _report_data([{"indicator_code": "DS", "column_key": "c4", "breakdown_key": "",
                          "value": "3150"}])
    assert fmt.validate(good, fmt.REPORT_DATA) is good
    for kind in fmt.MESSAGE_TYPES:
        assert fmt.schema(kind)["properties"]["message_type"] == {"const": kind}

    bad = _report_data([{"indicator_code": "DS", "column_key": "c4", "breakdown_key": "",
                         "value": "3150"},
                        {"indicator_code": "HN", "column_key": "c4", "breakdown_key": "",
                         "value": "1.234,5"}])
    with pytest.raises(fmt.InvalidMessage) as refused:
        fmt.validate(bad, fmt.REPORT_DATA)
    assert refused.value.path == "$.body.figures[1].value"
    assert refused.value.message.startswith(
        "Thông điệp không hợp lệ tại $.body.figures[1].value: sai định dạng")

    missing = _report_data([])
    del missing["body"]["period"]["year"]
    with pytest.raises(fmt.InvalidMessage, match=r"\$\.body\.period: thiếu trường «year»"):
        fmt.validate(missing, fmt.REPORT_DATA)
    wrong_version = dict(good, format_version="0.9")
    with pytest.raises(fmt.InvalidMessage, match=r"\$\.format_version"):
        fmt.validate(wrong_version, fmt.REPORT_DATA)
    with pytest.raises(fmt.InvalidMessage, match="cần «report_status»"):
        fmt.validate(good, fmt.REPORT_STATUS)
    # the same content under another id has the same hash; other figures another
    assert fmt.content_hash(good) == fmt.content_hash(dict(good, message_id="khac-12345678"))
    assert fmt.content_hash(good) != fmt.content_hash(bad)


# -- federation ---------------------------------------------------------------------------------


class Served:
    """An app served by werkzeug on a free loopback port, in a thread."""

    def __init__(self, flask_app):
        self.server = make_server("127.0.0.1", 0, flask_app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture(scope="module")
def national_app(tmp_path_factory):
    flask_app = build_app(f"sqlite:///{tmp_path_factory.mktemp('national') / 'national.sqlite'}")
    flask_app.config["SERVER_NAME"] = None  # answers on whatever loopback port it is given
    yield flask_app
    from app.extensions import db

    with flask_app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def national(national_app):
    """The national instance with a regime, its form and indicators, a period, the province
    as a unit with an aggregator account, and that account's API key; served on a port."""
    from app.extensions import db

    _clean_database(national_app)
    with national_app.app_context():
        session = db.session
        office = factories.unit(session, "Văn phòng Chính phủ", type_code="government",
                                internal_code="VPCP")
        province = factories.unit(session, "UBND tỉnh Đồng Tháp", parent=office,
                                  type_code="province_committee", admin_code="82")
        factories.unit(session, "UBND tỉnh An Giang", parent=office,
                       type_code="province_committee", admin_code="89")
        regime = Regime(code=REGIME, name="Báo cáo chỉ tiêu kinh tế - xã hội tháng",
                        kind="government", frequency="month", legal_basis="Nghị định 09/2019",
                        owner_unit=office, lead_unit=office, receiving_unit=office)
        indicators = {}
        for _key, label, code, aggregation, cell_type, _d in ROWS:
            if code:
                indicators[code] = Indicator(
                    code=code, name=label, aggregation_over_units=aggregation,
                    value_type="percent" if cell_type == "percent" else "decimal")
        indicators["TL"].numerator = indicators["HN"]
        indicators["TL"].denominator = indicators["TH"]
        regime.indicators = list(indicators.values())
        session.add_all([regime, *indicators.values()])
        session.add(Period(regime=regime, frequency="month", year=2026, number=11,
                           label="Tháng 11/2026", cutoff_start=dt.date(2026, 10, 15),
                           cutoff_end=dt.date(2026, 11, 14), deadline=dt.date(2026, 11, 25)))
        publish_form_version(session, indicator_spec(), regime=regime)
        account = factories.user(session, "dongthap.tonghop", province, [AGGREGATOR],
                                 password_hash="-")
        reader = factories.user(session, "dongthap.nhaplieu", province, [DATA_ENTRY],
                                password_hash="-")
        session.commit()
        key = current_app.appbuilder.sm.create_api_key(account, "Đồng Tháp", scopes="read,write")
        reader_key = current_app.appbuilder.sm.create_api_key(reader, "Đồng Tháp (đọc)")
        session.commit()
        session.remove()
    served = Served(national_app)
    served.app, served.key, served.reader_key = national_app, key["key"], reader_key["key"]
    yield served
    served.stop()
    _clean_database(national_app)


def _on_national(national, query):
    from app.extensions import db

    with national.app.app_context():
        try:
            return query(db.session)
        finally:
            db.session.remove()


@pytest.fixture
def province(app_ctx, session, national, monkeypatch):
    """The province instance (the conftest app), configured with the national URL and key,
    and served on a port too."""
    monkeypatch.setitem(app_ctx.config, "UPSTREAM_URL", national.url)
    monkeypatch.setitem(app_ctx.config, "UPSTREAM_TOKEN", national.key)
    monkeypatch.setitem(app_ctx.config, "SERVER_NAME", None)
    root = factories.unit(session, "UBND tỉnh Đồng Tháp", type_code="province_committee",
                          admin_code="82")
    factories.unit(session, "Sở Tài chính", parent=root, internal_code="STC")
    communes = [factories.unit(session, name, parent=root, type_code="commune",
                               admin_code=f"2832{i}")
                for i, name in enumerate(COMMUNES)]
    aggregator = factories.user(session, "tinh.tonghop", root, [AGGREGATOR], password_hash="-")
    session.commit()
    served = Served(app_ctx)
    yield {"root": root, "communes": communes, "aggregator": aggregator, "served": served}
    served.stop()


def _accepted_consolidation(session, province):
    """The synced regime's November report: communes accepted, the province's consolidation
    sent and accepted through the workflow (which queues it for the national level)."""
    regime = session.scalar(select(Regime).where(Regime.code == REGIME))
    period = Period(regime=regime, frequency="month", year=2026, number=11,
                    label="Tháng 11/2026", cutoff_start=dt.date(2026, 10, 15),
                    cutoff_end=dt.date(2026, 11, 14), deadline=dt.date(2026, 11, 25))
    session.add(period)
    session.flush()
    for unit, values in zip(province["communes"], COMMUNES.values(), strict=True):
        report = get_or_create_report(session, period, unit, FORM)
        assert not save_values(session, report, values).ignored
        report.state = "accepted"  # data set-up: the communes' cycle is tested elsewhere
    top = get_or_create_report(session, period, province["root"], FORM)
    top.kind = "consolidated"
    session.flush()
    assert consolidate(session, top).children_counted == 3
    top.state = "sent"
    session.commit()
    transition(session, top, "accept", province["aggregator"], now=NOW)
    session.commit()
    return top


def _figures(national):
    return _on_national(national, lambda s: {
        (f.unit_code, f.indicator_code, f.column_key): f.value
        for f in s.scalars(select(ExchangeFigure))})


def _inbound(national):
    return _on_national(national, lambda s: s.scalar(
        select(func.count()).select_from(ExchangeMessage).where(
            ExchangeMessage.direction == "in")))


def test_a_template_syncs_down_and_accepted_figures_go_up_once(session, national, province):
    assert requests.get(province["served"].url + "/login/", timeout=10).status_code == 200
    # down: the catalogue from the national instance, with the province's API key
    summary = sync_templates(session)
    session.commit()
    assert summary.created["regimes"] == [REGIME]
    assert sorted(summary.created["indicators"]) == sorted(c for _k, _l, c, *_ in ROWS if c)
    assert summary.created["forms"] == [f"{FORM} v1"] and summary.periods == 1
    regime = session.scalar(select(Regime).where(Regime.code == REGIME))
    assert regime.kind == "government" and regime.lead_unit_id == province["root"].id
    assert {i.code for i in regime.indicators} == {c for _k, _l, c, *_ in ROWS if c}
    form = session.scalar(select(FormVersion).where(FormVersion.code == FORM))
    assert form.regime_id == regime.id and form.status == "published"
    ratio = session.scalar(select(Indicator).where(Indicator.code == "TL"))
    assert ratio.numerator.code == "HN" and ratio.denominator.code == "TH"
    ids = (regime.id, form.id, ratio.id)

    # again: nothing changes; then a renamed indicator upstream is updated in place
    again = sync_templates(session)
    session.commit()
    assert not again.changed and again.unchanged == {"indicators": 8, "regimes": 1, "forms": 1}

    def rename(s):
        s.scalar(select(Indicator).where(Indicator.code == "DS")).name = "Dân số trung bình"
        s.commit()

    _on_national(national, rename)
    third = sync_templates(session)
    session.commit()
    assert third.updated["indicators"] == ["DS (name)"] and not third.created["regimes"]
    assert session.scalar(select(Indicator.name).where(Indicator.code == "DS")) == \
        "Dân số trung bình"
    assert (session.scalar(select(Regime.id).where(Regime.code == REGIME)),
            session.scalar(select(FormVersion.id).where(FormVersion.code == FORM)),
            session.scalar(select(Indicator.id).where(Indicator.code == "TL"))) == ids
    logged = session.scalars(select(ExchangeMessage).where(
        ExchangeMessage.message_type == "catalogue")).all()
    assert len(logged) == 3 and all(m.state == "applied" for m in logged)

    # up: accepting the province's consolidated report queues its official figures
    top = _accepted_consolidation(session, province)
    queued = session.scalars(select(ExchangeMessage).where(
        ExchangeMessage.direction == "out")).all()
    assert len(queued) == 1 and queued[0].state == "pending" and queued[0].report_id == top.id
    assert queued[0].message_type == "report_data"
    counts = send_pending(session, now=NOW)
    assert counts["delivered"] == 1
    message = session.get(ExchangeMessage, queued[0].id)
    receipt = json.loads(message.receipt)
    assert message.state == "delivered" and message.attempts == 1
    assert receipt["message_type"] == "receipt"
    assert receipt["body"]["for_message_id"] == message.message_id
    assert receipt["body"]["content_hash"] == message.content_hash

    arrived = _figures(national)
    assert receipt["body"]["figures"] == len(arrived) > 0
    assert arrived[("82", "DS", "c4")] == 3150 and arrived[("82", "DS", "c3")] == 3500
    assert arrived[("82", "TN", "c4")].quantize(Decimal("0.01")) == Decimal("6.42")  # average
    assert arrived[("82", "TL", "c4")] == Decimal("0.075")  # 45 / 600, not an average of ratios
    assert _inbound(national) == 1

    # sending twice adds nothing: queueing the same content again gives the same message…
    assert queue_report_data(session, top).id == message.id
    # …the same message posted again, or the same content under a new id, gets the first receipt
    settings = UpstreamSettings.from_config(current_app.config)
    deliver(session, message, settings, NOW)
    session.commit()
    forced = queue_report_data(session, top, force=True)
    session.commit()
    assert forced.message_id != message.message_id
    send_pending(session, now=NOW)
    forced = session.get(ExchangeMessage, forced.id)
    assert forced.state == "delivered"
    assert json.loads(forced.receipt) == json.loads(message.receipt) == receipt
    assert _figures(national) == arrived and _inbound(national) == 1

    # an unreachable upstream: the message waits, with its attempts and the next attempt time
    closed = make_server("127.0.0.1", 0, national.app)
    dead_url = f"http://127.0.0.1:{closed.server_port}"
    closed.server_close()
    dead = UpstreamSettings(url=dead_url, token=national.key, timeout=2, max_attempts=3)
    waiting = queue_report_data(session, top, dead, force=True)
    session.commit()
    send_pending(session, dead, now=NOW)
    waiting = session.get(ExchangeMessage, waiting.id)
    assert waiting.state == "pending" and waiting.attempts == 1
    assert waiting.next_attempt_at == NOW + dt.timedelta(minutes=5)
    assert "Không kết nối được" in waiting.last_error
    # not due yet: not tried; due: tried again and the wait doubles; then it gives up
    send_pending(session, dead, now=NOW + dt.timedelta(minutes=4))
    assert session.get(ExchangeMessage, waiting.id).attempts == 1
    later = NOW + dt.timedelta(minutes=5)
    send_pending(session, dead, now=later)
    waiting = session.get(ExchangeMessage, waiting.id)
    assert waiting.attempts == 2 and waiting.next_attempt_at == later + dt.timedelta(minutes=10)
    send_pending(session, dead, now=later + dt.timedelta(minutes=10))
    assert session.get(ExchangeMessage, waiting.id).state == "failed"

    # reopening the province's report for correction tells the national level so
    transition(session, top, "reopen", province["aggregator"], reason="Đính chính số hộ nghèo",
               now=NOW + dt.timedelta(hours=1))
    session.commit()
    status = session.scalar(select(ExchangeMessage).where(
        ExchangeMessage.message_type == "report_status"))
    assert status.state == "pending"
    send_pending(session, now=NOW + dt.timedelta(hours=1))
    assert session.get(ExchangeMessage, status.id).state == "delivered"
    assert _inbound(national) == 2 and _figures(national) == arrived


def test_the_national_level_refuses_bad_messages_with_the_json_path(session, national,
                                                                    province):
    post = national.url + "/api/v1/exchange/report-data"
    auth = {"Authorization": f"Bearer {national.key}"}
    figure = {"indicator_code": "DS", "column_key": "c4", "breakdown_key": "", "value": "10"}

    bad = _report_data([figure, dict(figure, value="mười")])
    answer = requests.post(post, json=bad, headers=auth, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["path"] == "$.body.figures[1].value"
    assert "Thông điệp không hợp lệ tại $.body.figures[1].value" in answer.json()["message"]

    unknown = _report_data([dict(figure, indicator_code="KHONGCO")])
    answer = requests.post(post, json=unknown, headers=auth, timeout=10)
    assert answer.status_code == 422 and answer.json()["path"] == \
        "$.body.figures[0].indicator_code"

    # the key's account speaks for its own province only
    other = fmt.envelope(fmt.REPORT_DATA, dict(_report_data([figure])["body"],
                                               unit={"code": "89", "name": "UBND tỉnh An Giang"}),
                         "89")
    assert requests.post(post, json=other, headers=auth, timeout=10).status_code == 403
    # a data-entry account may read the catalogue but not send figures; no key, no entry
    reader = {"Authorization": f"Bearer {national.reader_key}"}
    assert requests.post(post, json=_report_data([figure]), headers=reader,
                         timeout=10).status_code in (401, 403)
    assert requests.get(national.url + "/api/v1/exchange/catalogue", headers=reader,
                        timeout=10).status_code == 200
    assert requests.post(post, json=_report_data([figure]), timeout=10).status_code == 401

    good = _report_data([figure])
    first = requests.post(post, json=good, headers=auth, timeout=10)
    assert first.status_code == 201
    second = requests.post(post, json=good, headers=auth, timeout=10)
    assert second.status_code == 200 and second.json() == first.json()
    assert _inbound(national) == 1

    status = fmt.envelope(fmt.REPORT_STATUS, {
        "regime_code": REGIME, "form_code": FORM, "period": good["body"]["period"],
        "unit": {"code": "82", "name": "UBND tỉnh Đồng Tháp"}, "status": "reopened",
        "at": "2026-11-27T02:00:00Z", "reason": "Đính chính số hộ nghèo"}, "82")
    answer = requests.post(national.url + "/api/v1/exchange/report-status", json=status,
                           headers=auth, timeout=10)
    assert answer.status_code == 201 and answer.json()["body"]["figures"] == 0


def test_the_admin_screen_syncs_templates_and_lists_the_log(session, national, province):
    factories.user(session, "tinh.quantri", province["root"], ["Quản trị cấp tỉnh"])
    session.commit()
    client = current_app.test_client()
    factories.login(client, "tinh.quantri")
    page = client.get("/exchange/").get_data(as_text=True)
    assert "Đồng bộ biểu mẫu" in page and national.url in page
    done = client.post("/exchange/sync", follow_redirects=True).get_data(as_text=True)
    assert "Đồng bộ biểu mẫu xong" in done
    assert session.scalar(select(Regime.code).where(Regime.code == REGIME)) == REGIME
    top = _accepted_consolidation(session, province)
    page = client.get("/exchange/").get_data(as_text=True)
    assert "Tháng 11/2026" in page and f"/exchange/push/{top.id}" in page
    sent = client.post(f"/exchange/push/{top.id}", follow_redirects=True).get_data(as_text=True)
    assert "Đã gửi, có biên nhận" in sent and "Biên nhận" in sent
    assert len(_figures(national)) > 0
    log = client.get("/exchangemessageview/list/").get_data(as_text=True)
    assert "catalogue" in log and "report_data" in log


def test_the_scheduler_job_and_the_commands(app_ctx, session, monkeypatch):
    from app.scheduler import JOBS

    monkeypatch.setitem(app_ctx.config, "UPSTREAM_URL", "")
    assert JOBS["send_exchange"].function(session, NOW) == \
        "Chưa cấu hình hệ thống cấp trên (UPSTREAM_URL)"
    runner = app_ctx.test_cli_runner()
    printed = runner.invoke(args=["exchange", "schema", "report_data"])
    assert printed.exit_code == 0
    assert json.loads(printed.output)["$id"].endswith(":report_data")
    refused = runner.invoke(args=["exchange", "sync"])
    assert refused.exit_code == 1 and "UPSTREAM_URL" in refused.output
