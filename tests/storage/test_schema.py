"""Migrations are the only source of the schema, on both databases; audit is append-only."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from scim_server.audit.log import append
from scim_server.settings import Settings
from scim_server.store import migrate, tenancy
from scim_server.store.db import Database


def test_migrations_match_models(db_url: str) -> None:
    migrate.upgrade(db_url)
    migrate.check(db_url)  # alembic check: raises if models and migrations differ


def test_audit_events_are_append_only(db_url: str) -> None:
    migrate.upgrade(db_url)
    db = Database(Settings(database_url=db_url))
    try:
        ws = db.write_sync(lambda conn: tenancy.ensure_workspace(conn, "w"))
        db.write_sync(lambda conn: append(conn, ws, "tok_x", "test.action", "User", "u1"))
        for statement in ("UPDATE audit_events SET outcome = 'tampered'", "DELETE FROM audit_events"):
            with pytest.raises(DBAPIError):
                db.write_sync(lambda conn, sql=statement: conn.execute(text(sql)))
        assert db.read_sync(lambda conn: conn.execute(text("SELECT outcome FROM audit_events")).scalar()) == "success"
    finally:
        db.close()


def test_tokens_are_stored_only_as_hashes(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = create_engine(db_url)
    db = Database(Settings(database_url=db_url))
    try:
        token_id, token = db.write_sync(lambda conn: tenancy.create_token(conn, "w", "scim"))
        with engine.connect() as conn:
            rows = [str(tuple(r)) for r in conn.execute(text("SELECT * FROM api_tokens"))]
        assert rows and not any(token in row for row in rows)
        assert db.read_sync(lambda conn: tenancy.lookup_token(conn, token)).id == token_id
        assert db.write_sync(lambda conn: tenancy.revoke_token(conn, token_id))
        assert db.read_sync(lambda conn: tenancy.lookup_token(conn, token)) is None
    finally:
        db.close()
        engine.dispose()
