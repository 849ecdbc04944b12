"""The SCIM write path's round trips and statements, counted on the wire.

PostgreSQL: libpq's protocol trace of the unit's connection; each ``ReadyForQuery`` the server
sends ends one round trip. A PATCH, a PUT, a create and a delete of a user each take at most
two (the locking read or insert, with BEGIN; then the rest with COMMIT), and the outbox that
queues a reconcile for every app is one INSERT whatever the number of apps (both databases;
SQLite's statements counted by its trace callback).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
import pytest
from sqlalchemy import Connection, func, insert, select

from scim_server.app import build_services
from scim_server.auth import Principal
from scim_server.jobs import queue
from scim_server.scim import users
from scim_server.scim.context import ScimCall
from scim_server.settings import Settings
from scim_server.store import directory, fastsql, groups, migrate, tenancy
from scim_server.store.app_models import App
from scim_server.store.db import Database, driver_connection, new_id
from scim_server.store.directory import GroupFields, UserFields
from scim_server.store.outbox import directory_changed

T = TypeVar("T")
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Wire:
    """What one unit sent: the SQL of each statement and the number of round trips."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.round_trips = 0

    def inserts_into(self, table: str) -> int:
        return sum(s.lstrip().upper().startswith(f"INSERT INTO {table.upper()}") for s in self.statements)


def traced(db: Database, unit: Callable[[Connection], T]) -> tuple[T, Wire]:
    """Run ``unit`` with ``Database.write`` (commit included) and record its traffic."""
    wire = Wire()
    handle: dict[str, Any] = {}

    def run(conn: Connection) -> T:
        raw = driver_connection(conn)
        if conn.dialect.name == "sqlite":
            raw.set_trace_callback(wire.statements.append)
        else:
            trace = handle["file"] = tempfile.NamedTemporaryFile(delete=False)  # noqa: SIM115 (read after the commit)
            raw.pgconn.trace(trace.fileno())
            raw.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        handle["raw"] = raw
        return unit(conn)

    async def go() -> T:
        return await db.write(run)

    result = asyncio.run(go())
    raw = handle["raw"]
    if "file" in handle:
        raw.pgconn.untrace()
        with open(handle["file"].name) as log:
            for line in log:
                parts = line.rstrip("\n").split("\t")
                if parts[0] == "B" and parts[2].startswith("ReadyForQuery"):
                    wire.round_trips += 1
                elif parts[0] == "F" and parts[2].startswith(("Parse", "Query")):
                    wire.statements.append(parts[3].split('"')[3] if parts[2].startswith("Parse") else parts[3])
        os.unlink(handle["file"].name)
    else:
        raw.set_trace_callback(None)
    return result, wire


@pytest.fixture
def db(db_url: str, tmp_path: Any) -> Iterator[Database]:
    migrate.upgrade(db_url)
    database = Database(Settings(database_url=db_url, secret_key_file=tmp_path / "k", run_worker=False))
    database.start()
    yield database
    database.close()


def _apps(db: Database, ws: int, n: int) -> None:
    at = datetime.now(UTC)
    rows = [{"id": new_id(), "workspace_id": ws, "kind": "github", "label": f"app {i}", "login_method": "sso",
             "account_secret": "x", "account_fields": "[]", "created": at, "updated": at} for i in range(n)]  # fmt: skip
    if rows:
        db.write_sync(lambda conn: conn.execute(insert(App.__table__), rows))


def _reconciles(db: Database, ws: int) -> int:
    jobs = queue.jobs
    query = select(func.count()).where(jobs.c.workspace_id == ws, jobs.c.kind == "reconcile")
    return int(db.read_sync(lambda conn: conn.execute(query).scalar() or 0))


@pytest.mark.parametrize("apps", [0, 1, 5])
def test_the_outbox_is_one_statement_whatever_the_apps(db: Database, apps: int) -> None:
    ws = db.write_sync(lambda conn: tenancy.ensure_workspace(conn, "w"))
    _apps(db, ws, apps)
    for expected in (apps, apps):  # the second change finds them queued: deduplicated
        _, wire = traced(db, lambda conn: directory_changed(conn, ws, "tok", "scim.user.delete"))
        # BEGIN, the change feed's lock (PostgreSQL) and row, the outbox's one INSERT, COMMIT
        assert wire.inserts_into("jobs") == 1 and len(wire.statements) <= 5, wire.statements
        assert _reconciles(db, ws) == expected
    ids = db.read_sync(lambda conn: [r[0] for r in conn.execute(select(queue.jobs.c.id))])
    assert len(set(ids)) == apps and all(len(i) == 36 and i[14] == "4" for i in ids)  # version-4 UUID text


def test_a_scim_write_is_at_most_two_round_trips(db: Database, db_kind: str) -> None:
    if db_kind != "postgres":
        pytest.skip("round trips are PostgreSQL's; SQLite runs in the process")
    ws = db.write_sync(lambda conn: tenancy.ensure_workspace(conn, "w"))
    _apps(db, ws, 3)
    services = build_services(db.settings, db)
    call = ScimCall(services, Principal(ws, "w", frozenset({"scim"}), "tok_1"), "http://test/scim/v2")
    body = {"schemas": [USER], "userName": "ada@example.com", "active": True,
            "emails": [{"value": "ada@example.com", "type": "work", "primary": True}]}  # fmt: skip
    created, wire = traced(db, users.create(call, body))
    assert wire.round_trips <= 2 and wire.inserts_into("audit_events") == 1, wire.statements
    assert created.document is not None
    uid = created.document["id"]
    patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    for unit in (users.patch(call, uid, patch, None, None), users.replace(call, uid, body | {"title": "x"}, None),
                 users.delete(call, uid, None)):  # fmt: skip
        _, wire = traced(db, unit)
        assert wire.round_trips <= 2, wire.statements
        assert wire.inserts_into("audit_events") == 1 and wire.inserts_into("jobs") <= 1, wire.statements
    assert _reconciles(db, ws) == 3  # queued once per app, deduplicated while queued


def test_deletes_of_members_of_one_group_do_not_queue(db: Database, db_kind: str) -> None:
    """A user delete holds no lock another member's delete waits for (PostgreSQL: the group's
    version moves by bump rows, not an UPDATE of its row); the version still counts each
    change once, and the group's next own write folds the bumps in."""
    if db_kind != "postgres":
        pytest.skip("SQLite has one writer: its deletes queue by design")
    ws = db.write_sync(lambda conn: tenancy.ensure_workspace(conn, "w"))

    def user(name: str) -> str:
        fields = UserFields(name, None, None, True, {"schemas": [USER], "userName": name})
        return db.write_sync(lambda conn: directory.create_user(conn, ws, fields)).id

    a, b = user("a@example.com"), user("b@example.com")
    group = db.write_sync(lambda conn: groups.create_group(conn, ws, GroupFields("g", None, {"displayName": "g"}), [a, b]))

    def version() -> int:
        return db.read_sync(lambda conn: groups.get_group(conn, ws, group.id).version)

    assert version() == 1
    first, second = db.engine.connect(), db.engine.connect()
    try:
        with first.begin():
            directory.delete_user(first, ws, a)  # not committed yet: whatever it locks stays locked
            with second.begin():
                second.exec_driver_sql("SET LOCAL lock_timeout = '2s'")  # waiting would fail the test
                directory.delete_user(second, ws, b)
            assert version() == 2
        assert version() == 3
    finally:
        first.close()
        second.close()
    assert db.read_sync(lambda conn: groups.members_of(conn, [group.id]))[group.id] == []
    change = groups.MemberChange(add=(), remove=(), replace=None, remove_all=False)
    written = db.write_sync(lambda conn: groups.patch_group(conn, ws, group.id, None, change, '"3"'))
    assert written.version == 4 == version()  # If-Match "3" held: the bumps were counted, then folded
    assert db.read_sync(lambda conn: conn.execute(select(func.count()).select_from(fastsql.bumps)).scalar()) == 0
