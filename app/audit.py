"""Audit trail: one hash-chained entry per committed transaction.

Every write made through a SQLAlchemy ``Session`` (``db.session`` in requests, CLI commands,
jobs and imports alike) is collected while the transaction runs:

* ORM unit-of-work changes (inserts, updates, deletes, including cascaded and orphan deletes)
  in ``after_flush``;
* rows of many-to-many association tables (``secondary=``) changed through relationship
  collections, e.g. ``ab_user_role`` or ``regime_reporting_unit``;
* statements run with ``session.execute()``: ORM-enabled or Core ``update()``/``delete()`` (the
  affected rows are read before and after) and ``insert()`` (its parameters are recorded).

Just before the outermost transaction commits, ONE :class:`~app.models.AuditEntry` holding all of
them is appended with a Core insert on the same connection, so it commits or rolls back with
the data it describes. Entries form a hash chain: each stores the previous entry's hash and its
own hash over a canonical JSON of its fields; appending is serialised with
``pg_advisory_xact_lock`` on PostgreSQL (on SQLite the transaction already holds the database
write lock). Ids are assigned under that lock as previous id + 1, so a chain can never fork
silently: a racing writer would collide on the primary key instead.

The application never updates or deletes audit entries: the ORM refuses it (mapper guards and a
guard on ``session.execute``), and on PostgreSQL a trigger refuses it as well.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event, insert, inspect, select, text, tuple_
from sqlalchemy.orm import Mapper, Session, attributes
from sqlalchemy.orm.state import InstanceState
from sqlalchemy.sql.schema import Table

GENESIS_HASH = "0" * 64
#: Key of the PostgreSQL transaction-level advisory lock serialising appends ("AUDIT").
ADVISORY_LOCK_KEY = 0x4155444954
AUDIT_TABLE = "audit_entry"
REDACTED = "***"
#: Columns whose values never reach the audit trail (only the fact that they changed).
REDACTED_COLUMNS = {"password", "password_hash"}
SYSTEM_ACTOR = "hệ thống"
ANONYMOUS_ACTOR = "khách (chưa đăng nhập)"
REASON_ALTERED = "nội dung bị sửa"
REASON_BROKEN_LINK = "liên kết bị đứt"
VERIFY_BATCH = 500
_IN_CHUNK = 500

_CHANGES = "audit.changes"
_PREFETCH = "audit.prefetch"
_MARKS = "audit.savepoint_marks"


class AuditImmutableError(RuntimeError):
    """Raised when the application tries to write audit entries other than by appending."""


# --------------------------------------------------------------------------------------------
# Actor
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Actor:
    name: str
    user_id: int | None
    source: str


_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("audit_actor", default=None)


@contextlib.contextmanager
def actor_context(name: str, user_id: int | None = None, source: str = "cli") -> Iterator[Actor]:
    """Attribute every transaction committed inside the block to ``name`` (CLI, jobs, startup)."""
    actor = Actor(name=name, user_id=user_id, source=source)
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


def current_actor() -> Actor:
    """The explicit actor_context, else the logged-in web user, else the system."""
    explicit = _actor.get()
    if explicit is not None:
        return explicit
    from flask import g, has_request_context

    if has_request_context():
        user = getattr(g, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            user_id = None
            with contextlib.suppress(Exception):
                identity = inspect(user).identity
                user_id = identity[0] if identity else None
            if user_id is None:
                user_id = getattr(user, "id", None)
            return Actor(name=str(getattr(user, "username", user_id)), user_id=user_id, source="web")
        return Actor(name=ANONYMOUS_ACTOR, user_id=None, source="web")
    return Actor(name=SYSTEM_ACTOR, user_id=None, source="system")


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "sha256:" + hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, enum.Enum):
        return _json_value(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_value(v) for v in value]
    return str(value)


def _column_value(table_name: str, column_name: str, value: Any) -> Any:
    if column_name in REDACTED_COLUMNS:
        return REDACTED if value is not None else None
    return _json_value(value)


def _row_id(values: list[Any]) -> Any:
    values = [_json_value(v) for v in values]
    return values[0] if len(values) == 1 else values


def _change(table: str, row_id: Any, op: str, before: dict | None, after: dict | None) -> dict:
    return {"table": table, "id": row_id, "op": op, "before": before, "after": after}


def _changes(session: Session) -> list[dict]:
    return session.info.setdefault(_CHANGES, [])


def record_change(
    session: Session, table: str, row_id: Any, op: str, before: dict | None, after: dict | None
) -> None:
    """Add a change made outside the session's tracking (e.g. a statement run inside a flush
    event) to the transaction's audit entry."""
    _changes(session).append(
        _change(
            table,
            row_id,
            op,
            None if before is None else {k: _json_value(v) for k, v in before.items()},
            None if after is None else {k: _json_value(v) for k, v in after.items()},
        )
    )


def pending_changes(session: Session) -> list[dict]:
    """The changes collected so far in the session's transaction (not yet appended)."""
    return list(session.info.get(_CHANGES, ()))


# --------------------------------------------------------------------------------------------
# ORM unit of work
# --------------------------------------------------------------------------------------------


def _is_audit_mapper(mapper: Mapper) -> bool:
    return _table_name(mapper) == AUDIT_TABLE


def _table_name(mapper: Mapper) -> str:
    table = mapper.local_table
    if isinstance(table, Table):
        return table.name
    base = mapper.base_mapper.local_table
    return base.name if isinstance(base, Table) else mapper.class_.__name__


_COLUMNS_BY_MAPPER: dict[Mapper, dict[str, Any]] = {}


def _column_map(mapper: Mapper) -> dict[str, Any]:
    """Attribute key → column for the mapped columns stored in the mapper's own table(s)."""
    found = _COLUMNS_BY_MAPPER.get(mapper)
    if found is None:
        found = {}
        for prop in mapper.column_attrs:
            column = prop.columns[0]
            if isinstance(getattr(column, "table", None), Table):
                found[prop.key] = column
        _COLUMNS_BY_MAPPER[mapper] = found
    return found


def _columns(mapper: Mapper):
    """(attribute key, column) for the mapped columns stored in the mapper's own table(s)."""
    return _column_map(mapper).items()


def _changed_columns(state):
    """(key, column) of the attributes changed since load: only those hold history."""
    columns = _column_map(state.mapper)
    return [(key, columns[key]) for key in state.committed_state if key in columns]


def _state_pk(state, mapper: Mapper) -> Any:
    if state.key is not None:
        return _row_id(list(state.key[1]))
    values = []
    for column in mapper.primary_key:
        prop = mapper.get_property_by_column(column)
        values.append(state.dict.get(prop.key))
    return _row_id(values)


def _column_of(state, mapper: Mapper, column) -> Any:
    """A column's value on an instance without emitting SQL (identity for primary keys)."""
    prop = mapper.get_property_by_column(column)
    if prop.key in state.dict:
        return state.dict[prop.key]
    if state.key is not None and column in mapper.primary_key:
        return state.key[1][list(mapper.primary_key).index(column)]
    return None


def _before_flush(session: Session, flush_context, instances) -> None:
    """Read from the database the old values the ORM does not know (attributes never loaded)."""
    wanted: dict[Mapper, list] = defaultdict(list)
    for obj in list(session.dirty) + list(session.deleted):
        state = inspect(obj)
        if state.key is None or _is_audit_mapper(state.mapper):
            continue
        deleting = obj in session.deleted
        if deleting:
            if any(key not in state.dict for key, _column in _columns(state.mapper)):
                wanted[state.mapper].append(state)
            continue
        # an old value the ORM never loaded is NO_VALUE in committed_state
        if any(
            state.committed_state[key] is attributes.NO_VALUE for key, _c in _changed_columns(state)
        ):
            wanted[state.mapper].append(state)
    if not wanted:
        return
    prefetch = session.info.setdefault(_PREFETCH, {})
    connection = session.connection()
    for mapper, states in wanted.items():
        table = mapper.local_table
        pk = list(mapper.primary_key)
        by_key = {tuple(state.key[1]): state for state in states}
        keys = list(by_key)
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            criterion = pk[0].in_([k[0] for k in chunk]) if len(pk) == 1 else tuple_(*pk).in_(chunk)
            for row in connection.execute(select(table).where(criterion)):
                mapping = row._mapping
                state = by_key.get(tuple(mapping[c] for c in pk))
                if state is not None:
                    prefetch[state] = {c.name: mapping[c] for c in table.columns}


def _after_flush(session: Session, flush_context) -> None:
    prefetch = session.info.pop(_PREFETCH, {})
    changes: list[dict] = []
    seen_links: set = set()
    for state, (isdelete, listonly) in list(flush_context.states.items()):
        mapper = state.mapper
        if _is_audit_mapper(mapper):
            continue
        _collect_links(changes, seen_links, flush_context, state, isdelete)
        if listonly:
            continue
        table = _table_name(mapper)
        old_row = prefetch.get(state, {})
        if isdelete:
            before = {}
            for key, column in _columns(mapper):
                if key in state.committed_state and state.committed_state[key] is not attributes.NO_VALUE:
                    value = state.committed_state[key]
                elif key in state.dict:
                    value = state.dict[key]
                elif column.name in old_row:
                    value = old_row[column.name]
                else:
                    continue
                before[column.name] = _column_value(table, column.name, value)
            changes.append(_change(table, _state_pk(state, mapper), "delete", before, None))
        elif state.key is None:
            after = {
                column.name: _column_value(table, column.name, state.dict[key])
                for key, column in _columns(mapper)
                if key in state.dict
            }
            changes.append(_change(table, _state_pk(state, mapper), "insert", None, after))
        else:
            before, after = {}, {}
            for key, column in _changed_columns(state):
                old = state.committed_state[key]
                new = state.dict.get(key)
                if old is attributes.NO_VALUE:
                    old = old_row.get(column.name)
                elif old == new:
                    continue
                before[column.name] = _column_value(table, column.name, old)
                after[column.name] = _column_value(table, column.name, new)
            if after:
                changes.append(_change(table, _state_pk(state, mapper), "update", before, after))
    changes.sort(key=_change_order)
    _changes(session).extend(changes)


_OP_ORDER = {"insert": 0, "update": 1, "delete": 2}


def _change_order(change: dict) -> tuple:
    row_id = change["id"]
    key = tuple((0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v)) for v in (
        row_id if isinstance(row_id, list) else [row_id]
    ))
    return (change["table"], _OP_ORDER.get(change["op"], 3), key)


def _collect_links(changes: list, seen: set, flush_context, state, isdelete: bool) -> None:
    """Rows of association tables written for many-to-many collections."""
    mapper = state.mapper
    for prop in mapper.relationships:
        if prop.secondary is None or prop.viewonly or not isinstance(prop.secondary, Table):
            continue
        history = flush_context.get_attribute_history(
            state, prop.key, attributes.PASSIVE_NO_INITIALIZE
        )
        if not history:
            continue
        if isdelete:
            removed, added = list(history.unchanged or ()) + list(history.deleted or ()), []
        else:
            removed, added = list(history.deleted or ()), list(history.added or ())
        for op, children in (("insert", added), ("delete", removed)):
            for child in children:
                if child is None:
                    continue
                child_state = child if isinstance(child, InstanceState) else attributes.instance_state(child)
                row = {}
                for parent_col, secondary_col in prop.synchronize_pairs:
                    row[secondary_col.name] = _json_value(_column_of(state, mapper, parent_col))
                for child_col, secondary_col in prop.secondary_synchronize_pairs:
                    row[secondary_col.name] = _json_value(
                        _column_of(child_state, child_state.mapper, child_col)
                    )
                marker = (prop.secondary.name, op, tuple(sorted(row.items())))
                if marker in seen:
                    continue
                seen.add(marker)
                row_id = [row[c.name] for c in prop.secondary.columns if c.name in row]
                if op == "insert":
                    changes.append(_change(prop.secondary.name, row_id, op, None, row))
                else:
                    changes.append(_change(prop.secondary.name, row_id, op, row, None))


# --------------------------------------------------------------------------------------------
# Statements run with session.execute()
# --------------------------------------------------------------------------------------------


def _statement_target(statement):
    """(Table, mapper or None) of an INSERT/UPDATE/DELETE."""
    target = statement.table
    mapper = None
    annotations = getattr(target, "_annotations", None) or {}
    entity = annotations.get("parententity")
    if entity is not None:
        mapper = entity.mapper
        table = mapper.local_table
    else:
        table = target
        if hasattr(target, "_deannotate"):
            table = target._deannotate()
    return table, mapper


def _column_name(table: Table, mapper: Mapper | None, key: Any) -> str:
    if not isinstance(key, str):
        return getattr(key, "name", str(key))
    if mapper is not None and key in mapper.attrs:
        prop = mapper.attrs[key]
        columns = getattr(prop, "columns", None)
        if columns:
            return columns[0].name
    return key


def _do_orm_execute(orm_execute_state):
    if not (orm_execute_state.is_update or orm_execute_state.is_delete or orm_execute_state.is_insert):
        return None
    statement = orm_execute_state.statement
    table, mapper = _statement_target(statement)
    if not isinstance(table, Table):
        return None
    if table.name == AUDIT_TABLE:
        raise AuditImmutableError("Nhật ký thay đổi chỉ được ghi thêm, không được sửa hoặc xóa.")
    session = orm_execute_state.session
    params = orm_execute_state.parameters
    connection = session.connection(bind_arguments=orm_execute_state.bind_arguments)
    changes = _changes(session)

    if orm_execute_state.is_insert:
        result = orm_execute_state.invoke_statement()
        inserted = None
        if not isinstance(params, (list, tuple)):
            with contextlib.suppress(Exception):
                inserted = list(result.inserted_primary_key or ()) or None
        _record_insert(changes, connection, statement, table, mapper, params, inserted)
        return result

    pk = list(table.primary_key.columns)
    many = isinstance(params, (list, tuple))
    if many:
        if mapper is None or statement.whereclause is not None or not pk:
            # Core executemany: the rows cannot be told beforehand; keep the statement itself.
            result = orm_execute_state.invoke_statement()
            changes.append(
                _change(
                    table.name, None, "update" if orm_execute_state.is_update else "delete",
                    None, {"statement": str(statement), "parameters": _json_value(list(params))},
                )
            )
            return result
        keys = []
        for row in params:
            keys.append(tuple(row.get(mapper.get_property_by_column(c).key, row.get(c.name)) for c in pk))
        before_rows = _rows_by_key(connection, table, pk, keys)
    else:
        query = select(table)
        if statement.whereclause is not None:
            query = query.where(statement.whereclause)
        before_rows = {}
        for row in connection.execute(query, params or {}):
            mapping = row._mapping
            before_rows[tuple(mapping[c] for c in pk)] = {c.name: mapping[c] for c in table.columns}

    result = orm_execute_state.invoke_statement()

    if orm_execute_state.is_delete:
        for key, before in before_rows.items():
            changes.append(
                _change(
                    table.name, _row_id(list(key)), "delete",
                    {name: _column_value(table.name, name, value) for name, value in before.items()},
                    None,
                )
            )
        return result

    after_rows = _rows_by_key(connection, table, pk, list(before_rows)) if before_rows else {}
    for key, before in before_rows.items():
        after = after_rows.get(key, {})
        old, new = {}, {}
        for name, value in after.items():
            if before.get(name) != value:
                old[name] = _column_value(table.name, name, before.get(name))
                new[name] = _column_value(table.name, name, value)
        if new:
            changes.append(_change(table.name, _row_id(list(key)), "update", old, new))
    return result


def _rows_by_key(connection, table: Table, pk: list, keys: list[tuple]) -> dict[tuple, dict]:
    rows: dict[tuple, dict] = {}
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start : start + _IN_CHUNK]
        criterion = pk[0].in_([k[0] for k in chunk]) if len(pk) == 1 else tuple_(*pk).in_(chunk)
        for row in connection.execute(select(table).where(criterion)):
            mapping = row._mapping
            rows[tuple(mapping[c] for c in pk)] = {c.name: mapping[c] for c in table.columns}
    return rows


def _record_insert(changes, connection, statement, table: Table, mapper, params, inserted=None) -> None:
    pk_names = [c.name for c in table.primary_key.columns]
    if params:
        rows = list(params) if isinstance(params, (list, tuple)) else [params]
    elif getattr(statement, "select", None) is not None:
        changes.append(_change(table.name, None, "insert", None, {"statement": str(statement)}))
        return
    else:
        compiled = statement.compile(dialect=connection.dialect)
        rows = [dict(compiled.params)]
    for row in rows:
        after = {}
        for key, value in row.items():
            name = _column_name(table, mapper, key)
            after[name] = _column_value(table.name, name, value)
        if all(n in after for n in pk_names):
            row_id = _row_id([after.get(n) for n in pk_names])
        elif inserted and len(rows) == 1 and None not in inserted:
            row_id = _row_id(inserted)
            for name, value in zip(pk_names, inserted, strict=False):
                after.setdefault(name, _json_value(value))
        else:
            row_id = None
        changes.append(_change(table.name, row_id, "insert", None, after))


# --------------------------------------------------------------------------------------------
# Transaction boundaries
# --------------------------------------------------------------------------------------------


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint is released; the outermost commit writes the entry
    if session.new or session.dirty or session.deleted:
        session.flush()
    changes = session.info.get(_CHANGES)
    if not changes:
        return
    append_entry(session, changes)
    session.info[_CHANGES] = []


def _after_transaction_create(session: Session, transaction) -> None:
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[transaction] = len(session.info.get(_CHANGES, ()))


def _after_soft_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.nested:
        mark = session.info.get(_MARKS, {}).get(previous_transaction)
        if mark is not None and _CHANGES in session.info:
            del session.info[_CHANGES][mark:]
    elif previous_transaction.parent is None:
        _forget(session)


def _after_transaction_end(session: Session, transaction) -> None:
    # Savepoint marks stay until the outermost transaction ends: after_soft_rollback, which
    # needs them, fires after a rolled-back savepoint has already ended.
    if not transaction.nested and transaction.parent is None:
        _forget(session)


def _forget(session: Session) -> None:
    session.info.pop(_CHANGES, None)
    session.info.pop(_PREFETCH, None)
    session.info.pop(_MARKS, None)


# --------------------------------------------------------------------------------------------
# The hash chain
# --------------------------------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def compute_hash(
    entry_id: int,
    created_at: dt.datetime,
    actor_id: int | None,
    actor: str,
    source: str,
    changes: str,
    prev_hash: str,
) -> str:
    payload = {
        "id": entry_id,
        "created_at": _iso(created_at),
        "actor_id": actor_id,
        "actor": actor,
        "source": source,
        "changes": changes,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def _audit_table() -> Table:
    from app.models.audit import AuditEntry

    return AuditEntry.__table__


def append_entry(session: Session, changes: list[dict], actor: Actor | None = None) -> int:
    """Append one entry for ``changes`` inside the session's transaction; return its id."""
    actor = actor or current_actor()
    table = _audit_table()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    last = connection.execute(
        select(table.c.id, table.c.entry_hash).order_by(table.c.id.desc()).limit(1)
    ).first()
    entry_id = (last.id + 1) if last else 1
    prev_hash = last.entry_hash if last else GENESIS_HASH
    created_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    body = canonical_json(changes)
    entry_hash = compute_hash(entry_id, created_at, actor.user_id, actor.name, actor.source, body, prev_hash)
    connection.execute(
        insert(table).values(
            id=entry_id,
            created_at=created_at,
            actor_id=actor.user_id,
            actor=actor.name[:255],
            source=actor.source[:40],
            changes=body,
            prev_hash=prev_hash,
            entry_hash=entry_hash,
        )
    )
    return entry_id


@dataclasses.dataclass
class VerifyResult:
    ok: bool
    checked: int
    bad_id: int | None = None
    reason: str | None = None

    def message(self) -> str:
        if self.ok:
            return f"Chuỗi nhật ký toàn vẹn: {self.checked} bản ghi"
        return f"Nhật ký thay đổi không toàn vẹn tại bản ghi #{self.bad_id}: {self.reason}"


def verify_chain(session: Session, batch_size: int = VERIFY_BATCH) -> VerifyResult:
    """Walk the entries in id order, batch by batch, checking each hash and each link."""
    table = _audit_table()
    connection = session.connection()
    expected_prev = GENESIS_HASH
    last_id = None
    checked = 0
    while True:
        query = select(table).order_by(table.c.id).limit(batch_size)
        if last_id is not None:
            query = query.where(table.c.id > last_id)
        rows = connection.execute(query).all()
        if not rows:
            return VerifyResult(ok=True, checked=checked)
        for row in rows:
            recomputed = compute_hash(
                row.id, row.created_at, row.actor_id, row.actor, row.source, row.changes, row.prev_hash
            )
            if recomputed != row.entry_hash:
                return VerifyResult(ok=False, checked=checked, bad_id=row.id, reason=REASON_ALTERED)
            if row.prev_hash != expected_prev:
                return VerifyResult(ok=False, checked=checked, bad_id=row.id, reason=REASON_BROKEN_LINK)
            expected_prev = row.entry_hash
            last_id = row.id
            checked += 1


def chain_head(session: Session) -> tuple[int, str] | None:
    """(id, entry_hash) of the newest entry, to be noted elsewhere as an anchor."""
    table = _audit_table()
    row = session.connection().execute(
        select(table.c.id, table.c.entry_hash).order_by(table.c.id.desc()).limit(1)
    ).first()
    return (row.id, row.entry_hash) if row else None


# --------------------------------------------------------------------------------------------
# Installation
# --------------------------------------------------------------------------------------------


def _refuse(mapper, connection, target) -> None:
    raise AuditImmutableError("Nhật ký thay đổi chỉ được ghi thêm, không được sửa hoặc xóa.")


def _refuse_insert(mapper, connection, target) -> None:
    raise AuditImmutableError("Nhật ký thay đổi chỉ được ghi bởi app.audit, không thêm trực tiếp.")


_SESSION_LISTENERS = (
    ("before_flush", _before_flush),
    ("after_flush", _after_flush),
    ("do_orm_execute", _do_orm_execute),
    ("before_commit", _before_commit),
    ("after_transaction_create", _after_transaction_create),
    ("after_soft_rollback", _after_soft_rollback),
    ("after_transaction_end", _after_transaction_end),
)


def install() -> None:
    """Register the listeners once (create_app may run many times in a process)."""
    from app.models.audit import AuditEntry

    for name, listener in _SESSION_LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
    for name, listener in (
        ("before_update", _refuse),
        ("before_delete", _refuse),
        ("before_insert", _refuse_insert),
    ):
        if not event.contains(AuditEntry, name, listener):
            event.listen(AuditEntry, name, listener)


__all__ = [
    "Actor",
    "AuditImmutableError",
    "VerifyResult",
    "actor_context",
    "append_entry",
    "chain_head",
    "compute_hash",
    "current_actor",
    "install",
    "pending_changes",
    "verify_chain",
]
