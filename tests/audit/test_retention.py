"""Retention on SQLite and PostgreSQL: expiring old events leaves a chain that verifies from the
signed retention checkpoint; tampering after expiry is still caught; nothing but the expired
prefix may be deleted."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from scim_server.audit import chain, retention
from scim_server.audit.service import signer_for
from scim_server.cli import main as cli_main
from scim_server.settings import Settings
from scim_server.store.db import Database, now
from tests.audit.conftest import add_events, new_workspace, tamper
from tests.clock import leave_millisecond
from tests.servers import RunningServer


def _verify(db: Database, settings: Settings, ws: int) -> chain.Verification:
    db.write_sync(lambda conn: chain.seal_all(conn, ws))
    return chain.verify(db.read_sync, ws, signer_for(settings).jwks())


def _instant() -> datetime:
    """Now, once the clock has moved on (events appended after it are strictly younger)."""
    at = now()
    leave_millisecond(at)
    return at


@pytest.fixture
def expired(db: Database, settings: Settings) -> int:
    """A workspace of 30 events, the first 20 expired (the expiry itself is event 31)."""
    ws = new_workspace(db, "retention")
    add_events(db, ws, 20)
    db.write_sync(lambda conn: chain.checkpoint(conn, signer_for(settings), ws, "periodic"))
    cutoff = _instant()
    add_events(db, ws, 10, start=20)
    result = retention.expire_sync(db, signer_for(settings), ws, "tok_admin", days=1, at=cutoff + timedelta(days=1))
    assert (result.through_seq, result.deleted) == (20, 20)
    return ws


def test_expired_chain_verifies_from_the_signed_checkpoint(db: Database, settings: Settings, expired: int) -> None:
    result = _verify(db, settings, expired)
    assert result.ok, result.problem
    assert (result.starts_after, result.events, result.head_seq) == (20, 11, 31)
    seqs = db.read_sync(lambda conn: [r[0] for r in conn.execute(text(
        "SELECT seq FROM audit_events WHERE workspace_id = :ws ORDER BY seq"), {"ws": expired})])  # fmt: skip
    assert seqs == list(range(21, 32))
    add_events(db, expired, 5, start=100)  # the chain goes on from where it was
    assert _verify(db, settings, expired).ok
    again = retention.expire_sync(db, signer_for(settings), expired, "tok_admin", days=1, at=now() - timedelta(days=2))
    assert (again.through_seq, again.deleted) == (20, 0)  # idempotent: nothing younger than the cutoff goes


def test_tamper_after_expiry_is_detected(db: Database, settings: Settings, expired: int) -> None:
    tamper(db, "UPDATE audit_events SET actor = 'mallory' WHERE workspace_id = :ws AND seq = 24", ws=expired)
    result = _verify(db, settings, expired)
    assert (result.ok, result.first_bad_seq) == (False, 24)


def test_deleting_the_first_kept_event_is_detected(db: Database, settings: Settings, expired: int) -> None:
    tamper(db, "DELETE FROM audit_events WHERE workspace_id = :ws AND seq = 21", ws=expired)
    assert _verify(db, settings, expired).first_bad_seq == 21


def test_a_forged_or_removed_retention_checkpoint_is_detected(db: Database, settings: Settings, expired: int) -> None:
    db.write_sync(lambda conn: conn.execute(text(
        "DELETE FROM audit_checkpoints WHERE workspace_id = :ws AND reason = 'retention'"), {"ws": expired}))  # fmt: skip
    assert _verify(db, settings, expired).first_bad_seq == 1  # without its signed start, 1..20 are missing
    other = Settings(database_url=settings.database_url, audit_signing_key_file=settings.audit_signing_key_file.with_name("x.pem"))
    db.write_sync(lambda conn: chain.sign_checkpoint(conn, signer_for(other), expired, 20, "0" * 64, "retention"))
    result = _verify(db, settings, expired)
    assert not result.ok and "not validly signed" in (result.problem or "")


def test_only_the_expired_prefix_may_be_deleted(db: Database, settings: Settings, expired: int) -> None:
    for statement in ("DELETE FROM audit_events WHERE workspace_id = :ws AND seq = 25",
                      "DELETE FROM audit_events WHERE workspace_id = :ws"):  # fmt: skip
        with pytest.raises(DBAPIError):
            db.write_sync(lambda conn, sql=statement: conn.execute(text(sql), {"ws": expired}))
    # a retention row written by hand, without a signed checkpoint, lets rows go: verify says so
    db.write_sync(lambda conn: conn.execute(text(
        "INSERT INTO audit_checkpoints (workspace_id, seq, hash, at, reason, jws) "
        "VALUES (:ws, 25, 'x', :at, 'retention', 'forged')"), {"ws": expired, "at": now()}))  # fmt: skip
    db.write_sync(lambda conn: conn.execute(text("DELETE FROM audit_events WHERE workspace_id = :ws AND seq <= 25"),
                                            {"ws": expired}))  # fmt: skip
    result = _verify(db, settings, expired)
    assert not result.ok and result.first_bad_seq == 25 and "not validly signed" in (result.problem or "")


def test_retention_period_is_validated_and_recorded(db: Database) -> None:
    ws = new_workspace(db, "retention-days")
    for bad in (0, -1, 36_501, 1.5, "30", True):
        with pytest.raises(retention.BadRetention):
            db.write_sync(lambda conn, d=bad: retention.set_days(conn, ws, "tok_admin", d))
    db.write_sync(lambda conn: retention.set_days(conn, ws, "tok_admin", 90))
    db.write_sync(lambda conn: retention.set_days(conn, ws, "tok_admin", None))
    assert db.read_sync(lambda conn: retention.get_days(conn, ws)) is None
    changes = db.read_sync(lambda conn: [r[0] for r in conn.execute(text(
        "SELECT changes FROM audit_events WHERE workspace_id = :ws AND action = 'audit.retention.set' ORDER BY id"),
        {"ws": ws})])  # fmt: skip
    assert changes == ['{"days":{"after":90,"before":null}}', '{"days":{"after":null,"before":90}}']


def test_retention_over_http_and_cli(server: RunningServer, workspace: str,
                                     monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    admin = {"Authorization": f"Bearer {server.token(workspace, 'admin')}"}
    audit = {"Authorization": f"Bearer {server.token(workspace, 'audit')}"}
    url = server.url + "/api/v1/audit/retention"
    assert httpx.get(url, headers=audit).json() == {"days": None, "expired_through_seq": 0}
    for bad in ({"days": 0}, {"days": "30"}, {"days": 1.5}, {}, {"days": 30, "x": 1}):
        assert httpx.put(url, json=bad, headers=admin).status_code == 400, bad
    assert httpx.put(url, json={"days": 30}, headers=audit).status_code == 403  # reading is not setting
    assert httpx.put(url, json={"days": 30}, headers=admin).json() == {"days": 30, "expired_through_seq": 0}
    expired = httpx.post(url + "/expire", headers=admin)
    assert expired.status_code == 200 and expired.json() == {"expired_through_seq": 0, "deleted": 0}  # all young
    verify = httpx.get(server.url + "/api/v1/audit/verify", headers=audit).json()
    assert verify["ok"] and verify["starts_after"] == 0
    events = httpx.get(server.url + "/api/v1/audit", params={"action": "audit.*"}, headers=audit).json()["items"]
    assert {"audit.retention.set", "audit.expire"} <= {e["action"] for e in events}
    monkeypatch.setenv("SCIM_BRIDGE_DATABASE_URL", server.settings.database_url)
    monkeypatch.setenv("SCIM_BRIDGE_AUDIT_SIGNING_KEY_FILE", str(server.settings.audit_signing_key_file))
    assert cli_main(["audit", "retention", "--workspace", workspace]) == 0
    assert f"{workspace}: 30 days; expired through seq 0" in capsys.readouterr().out
    assert cli_main(["audit", "retention", "--workspace", workspace, "--days", "0"]) == 2
    assert cli_main(["audit", "expire", "--workspace", workspace]) == 0
    assert "expired through seq 0, 0 events deleted" in capsys.readouterr().out


def test_nothing_may_be_deleted_before_any_expiry(db: Database) -> None:
    ws = new_workspace(db, "never-expired")
    add_events(db, ws, 3)
    with pytest.raises(DBAPIError):
        db.write_sync(lambda conn: conn.execute(text("DELETE FROM audit_events WHERE workspace_id = :ws AND seq = 1"),
                                                {"ws": ws}))  # fmt: skip
