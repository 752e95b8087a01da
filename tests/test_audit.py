"""The audit trail: one hash-chained entry per transaction, append-only, verifiable."""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy import delete, func, insert, select, update

from app import audit
from app.audit import actor_context, verify_chain
from app.models import AuditEntry, IndicatorGroup, Regime, Unit
from app.roles import PROVINCIAL_ADMIN
from tests import factories


def entries(session) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def changes_of(entry: AuditEntry) -> list[dict]:
    return json.loads(entry.changes)


def only_entry(session) -> AuditEntry:
    found = entries(session)
    assert len(found) == 1, [changes_of(e) for e in found]
    return found[0]


def entry_count(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry))


def tamper(app, sql: str, **params) -> None:
    """Raw SQL on audit_entry behind the application's back (the trigger set aside on PostgreSQL)."""
    from app.extensions import db

    with db.engine.begin() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.exec_driver_sql("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_immutable")
        connection.execute(sa.text(sql), params)
        if postgres:
            connection.exec_driver_sql("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_immutable")


def commit_groups(session, count: int, prefix: str = "g") -> None:
    for number in range(count):
        session.add(IndicatorGroup(code=f"{prefix}{number}", name=f"Nhóm {number}"))
        session.commit()


def test_thousand_rows_in_one_commit_make_one_entry(session):
    for number in range(1000):
        session.add(IndicatorGroup(code=f"c{number:04d}", name=f"Nhóm {number}"))
    session.commit()

    entry = only_entry(session)
    changes = changes_of(entry)
    assert len(changes) == 1000
    assert {c["op"] for c in changes} == {"insert"}
    assert {c["table"] for c in changes} == {"indicator_group"}
    assert sorted(c["after"]["code"] for c in changes) == [f"c{n:04d}" for n in range(1000)]
    assert all(c["id"] == c["after"]["id"] for c in changes)
    assert entry.prev_hash == audit.GENESIS_HASH
    assert (entry.actor, entry.source, entry.actor_id) == (audit.SYSTEM_ACTOR, "system", None)


def test_several_flushes_still_one_entry(session):
    group = IndicatorGroup(code="a", name="A")
    session.add(group)
    session.flush()
    group.name = "A2"
    session.flush()
    session.add(IndicatorGroup(code="b", name="B"))
    session.commit()

    ops = [(c["op"], c["id"]) for c in changes_of(only_entry(session))]
    assert ops == [("insert", group.id), ("update", group.id), ("insert", group.id + 1)]


def test_update_records_before_and_after_of_changed_columns(session):
    group = IndicatorGroup(code="kt", name="Kinh tế")
    session.add(group)
    session.commit()
    group.name = "Kinh tế - xã hội"
    session.commit()

    last = entries(session)[-1]
    assert changes_of(last) == [
        {
            "table": "indicator_group",
            "id": group.id,
            "op": "update",
            "before": {"name": "Kinh tế"},
            "after": {"name": "Kinh tế - xã hội"},
        }
    ]


def test_update_of_an_expired_attribute_reads_the_old_value(session):
    group = IndicatorGroup(code="kt", name="Cũ")
    session.add(group)
    session.commit()  # expires every attribute
    session.expire(group)
    group.name = "Mới"  # set without loading the old value
    session.commit()

    change = changes_of(entries(session)[-1])[0]
    assert (change["before"], change["after"]) == ({"name": "Cũ"}, {"name": "Mới"})


def test_delete_records_the_whole_row(session):
    group = IndicatorGroup(code="xoa", name="Sẽ xóa")
    session.add(group)
    session.commit()
    group_id = group.id
    session.expire_all()
    session.delete(session.get(IndicatorGroup, group_id))
    session.commit()

    assert changes_of(entries(session)[-1]) == [
        {
            "table": "indicator_group",
            "id": group_id,
            "op": "delete",
            "before": {"id": group_id, "code": "xoa", "name": "Sẽ xóa"},
            "after": None,
        }
    ]


def test_bulk_update_and_delete_statements_are_recorded(session):
    for code in ("a", "b", "c"):
        session.add(IndicatorGroup(code=code, name=code.upper()))
    session.commit()
    ids = dict(session.execute(select(IndicatorGroup.code, IndicatorGroup.id)).all())

    session.execute(
        update(IndicatorGroup).where(IndicatorGroup.code.in_(["a", "b"])).values(name="Đã đổi")
    )
    session.execute(delete(IndicatorGroup).where(IndicatorGroup.code == "c"))
    session.commit()

    changes = changes_of(entries(session)[-1])
    assert sorted((c["op"], c["id"], c["before"], c["after"]) for c in changes if c["op"] == "update") == [
        ("update", ids["a"], {"name": "A"}, {"name": "Đã đổi"}),
        ("update", ids["b"], {"name": "B"}, {"name": "Đã đổi"}),
    ]
    deleted = [c for c in changes if c["op"] == "delete"]
    assert deleted == [
        {
            "table": "indicator_group",
            "id": ids["c"],
            "op": "delete",
            "before": {"id": ids["c"], "code": "c", "name": "C"},
            "after": None,
        }
    ]


def test_core_statements_and_bulk_inserts_through_the_session(session):
    table = IndicatorGroup.__table__
    session.execute(insert(table).values(code="x", name="X"))
    session.execute(insert(IndicatorGroup), [{"code": "y", "name": "Y"}, {"code": "z", "name": "Z"}])
    session.execute(table.update().where(table.c.code == "x").values(name="X2"))
    session.execute(update(IndicatorGroup), [{"id": 1, "name": "X3"}])  # bulk update by primary key
    session.commit()

    changes = changes_of(only_entry(session))
    inserts = [c for c in changes if c["op"] == "insert"]
    assert [c["after"]["code"] for c in inserts] == ["x", "y", "z"]
    assert inserts[0]["id"] == 1
    updates = [(c["id"], c["before"], c["after"]) for c in changes if c["op"] == "update"]
    assert updates == [(1, {"name": "X"}, {"name": "X2"}), (1, {"name": "X2"}, {"name": "X3"})]


def test_bulk_statement_alone_is_enough_to_append(session):
    session.add(IndicatorGroup(code="a", name="A"))
    session.commit()
    session.execute(update(IndicatorGroup).values(name="B"))
    session.commit()
    assert len(entries(session)) == 2
    assert verify_chain(session).ok


def test_many_to_many_changes_are_recorded(session, app_ctx):
    sm = app_ctx.appbuilder.sm
    home = factories.unit(session, "UBND tỉnh", type_code="province_committee")
    account = factories.user(session, "canbo", home, [PROVINCIAL_ADMIN])
    session.commit()
    first = entries(session)[-1]
    admin_role = sm.find_role(PROVINCIAL_ADMIN)
    assert [c for c in changes_of(first) if c["table"] == "ab_user_role"] == [
        {
            "table": "ab_user_role",
            "id": [account.id, admin_role.id],
            "op": "insert",
            "before": None,
            "after": {"user_id": account.id, "role_id": admin_role.id},
        }
    ]
    password_rows = [c for c in changes_of(first) if c["table"] == "ab_user"]
    assert password_rows[0]["after"]["password"] == "***"

    other = next(role for role in sm.get_all_roles() if role.name != PROVINCIAL_ADMIN)
    account.roles = [other]
    session.commit()

    links = [c for c in changes_of(entries(session)[-1]) if c["table"] == "ab_user_role"]
    assert sorted(((c["op"], c["before"] or c["after"]) for c in links), key=lambda pair: pair[0]) == [
        ("delete", {"user_id": account.id, "role_id": admin_role.id}),
        ("insert", {"user_id": account.id, "role_id": other.id}),
    ]

    regime = Regime(
        code="BC01",
        name="Báo cáo tháng",
        owner_unit_id=home.id,
        lead_unit_id=home.id,
        receiving_unit_id=home.id,
    )
    regime.reporting_units.append(home)
    session.add(regime)
    session.commit()
    links = [c for c in changes_of(entries(session)[-1]) if c["table"] == "regime_reporting_unit"]
    assert [(c["op"], c["after"]) for c in links] == [
        ("insert", {"regime_id": regime.id, "unit_id": home.id})
    ]


def test_rollback_writes_nothing(session):
    session.add(IndicatorGroup(code="a", name="A"))
    session.flush()
    session.execute(update(IndicatorGroup).values(name="B"))
    session.rollback()
    assert entry_count(session) == 0

    session.add(IndicatorGroup(code="b", name="B"))
    session.commit()
    assert [c["after"]["code"] for c in changes_of(only_entry(session))] == ["b"]


def test_rolled_back_savepoint_is_left_out(session):
    session.add(IndicatorGroup(code="giu", name="Giữ"))
    savepoint = session.begin_nested()
    session.add(IndicatorGroup(code="bo", name="Bỏ"))
    session.flush()
    savepoint.rollback()
    with session.begin_nested():
        session.add(IndicatorGroup(code="giu2", name="Giữ 2"))
    session.commit()

    codes = [c["after"]["code"] for c in changes_of(only_entry(session))]
    assert codes == ["giu", "giu2"]


def test_actor_context(session):
    with actor_context("Nhập danh mục", user_id=7, source="import"):
        session.add(IndicatorGroup(code="a", name="A"))
        session.commit()
    entry = only_entry(session)
    assert (entry.actor, entry.actor_id, entry.source) == ("Nhập danh mục", 7, "import")


def test_web_edit_is_attributed_to_the_logged_in_user(client, session):
    province = factories.unit(session, "UBND tỉnh", type_code="province_committee")
    finance = factories.unit(session, "Sở Tài chính", parent=province)
    admin = factories.user(session, "quantri", province, [PROVINCIAL_ADMIN])
    session.commit()
    admin_id, finance_id, type_id = admin.id, finance.id, finance.unit_type_id
    factories.login(client, "quantri")
    before = entry_count(session)

    response = client.post(
        f"/unitview/edit/{finance_id}",
        data={"name": "Sở Tài chính tỉnh", "unit_type": str(type_id), "parent": str(province.id), "active": "y"},
    )
    assert response.status_code in (200, 302)

    new = [e for e in entries(session)[before:] if any(c["table"] == "unit" for c in changes_of(e))]
    assert len(new) == 1, [changes_of(e) for e in entries(session)[before:]]
    entry = new[0]
    assert (entry.actor, entry.actor_id, entry.source) == ("quantri", admin_id, "web")
    unit_change = next(c for c in changes_of(entry) if c["table"] == "unit")
    assert unit_change["id"] == finance_id
    assert unit_change["before"]["name"] == "Sở Tài chính"
    assert unit_change["after"]["name"] == "Sở Tài chính tỉnh"
    assert verify_chain(session).ok


def test_verify_passes_on_an_intact_chain(app_ctx, session):
    commit_groups(session, 5)
    result = verify_chain(session, batch_size=2)
    assert (result.ok, result.checked) == (True, 5)

    outcome = CliRunner().invoke(app_ctx.cli, ["audit", "verify"], obj=None)
    assert outcome.exit_code == 0, outcome.output
    assert "Chuỗi nhật ký toàn vẹn: 5 bản ghi" in outcome.output


def test_verify_names_an_altered_entry(app_ctx, session):
    commit_groups(session, 5)
    ids = [e.id for e in entries(session)]
    session.rollback()
    tamper(app_ctx, "UPDATE audit_entry SET changes = :c WHERE id = :i", c="[]", i=ids[2])

    result = verify_chain(session, batch_size=2)
    assert (result.ok, result.bad_id, result.reason, result.checked) == (False, ids[2], "nội dung bị sửa", 2)
    session.rollback()
    outcome = CliRunner().invoke(app_ctx.cli, ["audit", "verify"])
    assert outcome.exit_code == 1
    assert f"#{ids[2]}: nội dung bị sửa" in outcome.output


def test_verify_names_a_rehashed_entry_by_its_broken_successor(app_ctx, session):
    commit_groups(session, 4)
    rows = entries(session)
    target = rows[1]
    forged = audit.compute_hash(
        target.id, target.created_at, target.actor_id, "kẻ gian", target.source, target.changes, target.prev_hash
    )
    session.rollback()
    tamper(app_ctx, "UPDATE audit_entry SET actor = 'kẻ gian', entry_hash = :h WHERE id = :i", h=forged, i=target.id)

    result = verify_chain(session)
    assert (result.ok, result.bad_id, result.reason) == (False, rows[2].id, "liên kết bị đứt")


def test_verify_names_the_entry_after_a_removed_one(app_ctx, session):
    commit_groups(session, 5)
    ids = [e.id for e in entries(session)]
    session.rollback()
    tamper(app_ctx, "DELETE FROM audit_entry WHERE id = :i", i=ids[2])

    result = verify_chain(session, batch_size=2)
    assert (result.ok, result.bad_id, result.reason) == (False, ids[3], "liên kết bị đứt")
    session.rollback()
    outcome = CliRunner().invoke(app_ctx.cli, ["audit", "verify"])
    assert outcome.exit_code == 1
    assert f"#{ids[3]}: liên kết bị đứt" in outcome.output


def test_removing_the_first_entry_breaks_the_second(app_ctx, session):
    commit_groups(session, 3)
    ids = [e.id for e in entries(session)]
    session.rollback()
    tamper(app_ctx, "DELETE FROM audit_entry WHERE id = :i", i=ids[0])
    result = verify_chain(session)
    assert (result.ok, result.bad_id, result.reason) == (False, ids[1], "liên kết bị đứt")


def test_concurrent_appends_keep_one_chain(app_ctx, session):
    from app.extensions import db

    app = app_ctx
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(prefix: str) -> None:
        try:
            with app.app_context():
                start.wait()
                with actor_context(f"luồng {prefix}", source="job"):
                    for number in range(20):
                        db.session.add(IndicatorGroup(code=f"{prefix}{number}", name=prefix))
                        db.session.commit()
                db.session.remove()
        except BaseException as error:  # noqa: BLE001  (reported by the assertion below)
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(p,)) for p in ("t", "u")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    result = verify_chain(session)
    assert (result.ok, result.checked) == (True, 40)
    found = entries(session)
    assert [e.id for e in found] == list(range(1, 41))
    assert sum(len(changes_of(e)) for e in found) == 40


def test_orm_refuses_to_change_or_add_audit_entries(session):
    session.add(IndicatorGroup(code="a", name="A"))
    session.commit()
    entry = only_entry(session)

    entry.actor = "giả mạo"
    with pytest.raises(audit.AuditImmutableError):
        session.flush()
    session.rollback()

    session.delete(session.get(AuditEntry, entry.id))
    with pytest.raises(audit.AuditImmutableError):
        session.flush()
    session.rollback()

    with pytest.raises(audit.AuditImmutableError):
        session.execute(update(AuditEntry).values(actor="giả mạo"))
    session.rollback()
    with pytest.raises(audit.AuditImmutableError):
        session.execute(delete(AuditEntry))
    session.rollback()

    assert only_entry(session).actor == audit.SYSTEM_ACTOR
    assert verify_chain(session).ok


def test_postgresql_trigger_refuses_raw_update_and_delete(app_ctx, session):
    if app_ctx.config["TEST_BACKEND"] != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL only")
    from app.extensions import db

    session.add(IndicatorGroup(code="a", name="A"))
    session.commit()
    session.rollback()
    for sql in ("UPDATE audit_entry SET actor = 'x'", "DELETE FROM audit_entry"):
        with pytest.raises(sa.exc.DBAPIError, match="chỉ được ghi thêm"):
            with db.engine.begin() as connection:
                connection.execute(sa.text(sql))
    assert entry_count(session) == 1


def test_unit_insert_records_its_computed_path(session):
    province = factories.unit(session, "UBND tỉnh", type_code="province_committee")
    session.commit()
    unit_row = next(c for c in changes_of(only_entry(session)) if c["table"] == "unit")
    assert unit_row["after"]["path"] == f"/{province.id}/"
    assert isinstance(session.get(Unit, province.id), Unit)
