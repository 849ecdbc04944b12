"""Audit fixtures: a migrated Database on a fresh SQLite file or PostgreSQL database, a signing
key of its own, and helpers that tamper with the trail the way someone with database access
would (the append-only triggers switched off first, as such a person would)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from scim_server.audit import chain
from scim_server.audit.log import append
from scim_server.settings import Settings
from scim_server.store import migrate, tenancy
from scim_server.store.db import Database


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, audit_signing_key_file=tmp_path / "audit-key.pem", access_log=False)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    migrate.upgrade(settings.database_url)
    database = Database(settings)
    yield database
    database.close()


def new_workspace(db: Database, name: str) -> int:
    return db.write_sync(lambda conn: tenancy.ensure_workspace(conn, name))


def add_events(db: Database, ws: int, n: int, start: int = 0) -> None:
    def unit(conn: Connection) -> None:
        for i in range(start, start + n):
            append(conn, ws, f"tok_{i % 3}", ("scim.user.create", "app.member.exempt", "report.apply")[i % 3],
                   "User", f"u{i}", detail={"i": i}, target_display=f"user {i}")  # fmt: skip
        chain.seal_all(conn, ws)

    db.write_sync(unit)


def tamper(db: Database, *statements: str, **params: object) -> None:
    """Run ``statements`` with the append-only triggers off (restored afterwards on PostgreSQL)."""

    def unit(conn: Connection) -> None:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
        for statement in statements:
            conn.execute(text(statement), params)
        if conn.dialect.name != "sqlite":
            conn.exec_driver_sql("ALTER TABLE audit_events ENABLE TRIGGER USER")

    db.write_sync(unit)
