"""The IOC read API (/api/v1/figures/) with Flask-AppBuilder's API keys: JSON figures labelled
official or provisional, scoped to the key's account, refused once the key is revoked; keys
issued (shown once) and revoked on the "Khóa API" screen."""

from __future__ import annotations

from flask import current_app

from app.roles import AGGREGATOR, UNIT_ADMIN, VIEWER
from tests import factories
from tests.test_entry_workflow import Person
from tests.test_exports import _world


def _key(user) -> dict:
    return current_app.appbuilder.sm.create_api_key(user, "IOC tỉnh", scopes="read")


def test_the_ioc_reads_figures_with_an_api_key_within_its_scope(app_ctx, session):
    world, units = _world(session)
    lead = factories.user(session, "khdt.tonghop", world.lead, [AGGREGATOR], password_hash="-")
    viewer = factories.user(session, "xa.xem", units[0], [VIEWER], password_hash="-")
    world.province.admin_code, units[0].admin_code = "82", "28321"
    session.commit()
    issued = _key(lead)
    assert issued["key"].startswith("sst_")
    client = app_ctx.test_client()
    query = (f"/api/v1/figures/?regime={world.regime.code}&period={world.period.id}"
             f"&unit=82&provisional=1")
    answer = client.get(query, headers={"Authorization": f"Bearer {issued['key']}"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["official"] is False and "tạm tính" in body["label"]
    assert {row["indicator"]: row["value"] for row in body["figures"]}["DS"] == "2000"

    no_key = client.get(query)
    assert no_key.status_code in (401, 403)
    assert client.get(query, headers={"Authorization": "Bearer sst_not-a-key"}).status_code == 401

    # a commune viewer's key reaches its own unit only
    own = _key(viewer)["key"]
    outside = client.get(query, headers={"Authorization": f"Bearer {own}"})
    assert outside.status_code == 404
    inside = client.get(query.replace("unit=82", "unit=28321"),
                        headers={"Authorization": f"Bearer {own}"})
    assert inside.status_code == 200

    current_app.appbuilder.sm.revoke_api_key(issued["uuid"])
    assert client.get(query, headers={"Authorization": f"Bearer {issued['key']}"}
                      ).status_code == 401


def test_a_unit_admin_issues_and_revokes_keys_of_its_accounts(app_ctx, session):
    world, units = _world(session)
    factories.user(session, "khdt.quantri", world.lead, [UNIT_ADMIN])
    reader = factories.user(session, "khdt.ioc", world.lead, [VIEWER], password_hash="-")
    session.commit()
    admin = Person(app_ctx, "khdt.quantri")
    page = admin.post("/api-keys/issue", data={"account_id": str(reader.id), "name": "IOC",
                                               "days": "30"}).get_data(as_text=True)
    assert 'id="api-key-value">sst_' in page
    keys = current_app.appbuilder.sm.find_api_keys_for_user(reader.id)
    assert len(keys) == 1 and keys[0].is_active and keys[0].key_hash and "sst_" not in \
        keys[0].key_hash
    admin.post("/api-keys/revoke", data={"uuid": keys[0].uuid})
    session.expire_all()
    assert not current_app.appbuilder.sm.find_api_keys_for_user(reader.id)[0].is_active
