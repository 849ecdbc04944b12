"""The hash chain on both databases: sealing gives contiguous seqs and linked hashes, and every
kind of tampering (edit, delete, insert, reorder, truncate, rewrite, forged checkpoint) is
detected and named by its first bad seq."""

from __future__ import annotations

import hashlib
import threading

import orjson
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from scim_server.audit import chain, service
from scim_server.audit.events import GENESIS, Event, audit_events, sealed
from scim_server.audit.log import append
from scim_server.settings import Settings
from scim_server.store.db import Database
from tests.audit.conftest import add_events, new_workspace, tamper


def check(db: Database, settings: Settings, ws: int) -> chain.Verification:
    return chain.verify(db.read_sync, ws, service.signer_for(settings).jwks())


def checkpoint(db: Database, settings: Settings, ws: int) -> chain.Checkpoint | None:
    signer = service.signer_for(settings)
    return db.write_sync(lambda conn: chain.checkpoint(conn, signer, ws, "test"))


def test_seal_links_every_event(db: Database, settings: Settings) -> None:
    ws, other = new_workspace(db, "a"), new_workspace(db, "b")
    add_events(db, ws, 30)
    add_events(db, other, 5)
    events = db.read_sync(lambda conn: [Event.from_row(r) for r in conn.execute(sealed(ws).order_by(audit_events.c.seq))])
    assert [e.seq for e in events] == list(range(1, 31))
    prev = GENESIS
    for e in events:
        assert e.prev_hash == prev
        assert e.hash == hashlib.sha256(e.canonical(e.seq or 0, prev)).hexdigest()
        prev = e.hash
    result = check(db, settings, ws)
    assert result.ok and result.events == 30 and result.head_seq == 30, result
    assert check(db, settings, other).head_seq == 5  # chains are per workspace


def test_append_only_triggers_allow_only_the_seal(db: Database) -> None:
    ws = new_workspace(db, "a")
    add_events(db, ws, 3)
    for statement in ("UPDATE audit_events SET actor = 'x' WHERE seq = 2",
                      "UPDATE audit_events SET hash = NULL WHERE seq = 2",
                      "DELETE FROM audit_events WHERE seq = 3"):  # fmt: skip
        with pytest.raises(DBAPIError):
            db.write_sync(lambda conn, s=statement: conn.execute(text(s)))
    # an unsealed row can be sealed, and nothing else about it changed
    db.write_sync(lambda conn: append(conn, ws, "t", "x", "User", "1"))
    with pytest.raises(DBAPIError):
        db.write_sync(lambda conn: conn.execute(text("UPDATE audit_events SET actor = 'y', seq = 99, hash = 'h' "
                                                     "WHERE seq IS NULL")))  # fmt: skip
    assert db.write_sync(lambda conn: chain.seal(conn, ws)) == 1


@pytest.fixture
def trail(db: Database, settings: Settings) -> int:
    """A workspace with 10 sealed events and a checkpoint at seq 10, and a neighbour's trail."""
    ws = new_workspace(db, "tampered")
    add_events(db, new_workspace(db, "neighbour"), 4)
    add_events(db, ws, 10)
    assert checkpoint(db, settings, ws) is not None
    assert check(db, settings, ws).ok
    return ws


def test_edited_field(db: Database, settings: Settings, trail: int) -> None:
    tamper(db, "UPDATE audit_events SET actor = 'someone-else' WHERE workspace_id = :ws AND seq = 5", ws=trail)
    result = check(db, settings, trail)
    assert (result.ok, result.first_bad_seq) == (False, 5) and "altered" in (result.problem or "")


def test_edited_changes(db: Database, settings: Settings, trail: int) -> None:
    tamper(db, "UPDATE audit_events SET detail = :d WHERE workspace_id = :ws AND seq = 7", ws=trail, d='{"i":99}')
    assert check(db, settings, trail).first_bad_seq == 7


def test_deleted_row(db: Database, settings: Settings, trail: int) -> None:
    tamper(db, "DELETE FROM audit_events WHERE workspace_id = :ws AND seq = 4", ws=trail)
    result = check(db, settings, trail)
    assert (result.ok, result.first_bad_seq) == (False, 4) and "missing" in (result.problem or "")


def _shift_from(seq: int) -> tuple[str, str]:
    return (f"UPDATE audit_events SET seq = -seq - 1 WHERE workspace_id = :ws AND seq >= {seq}",
            "UPDATE audit_events SET seq = -seq WHERE workspace_id = :ws AND seq < 0")  # fmt: skip


_INSERT = ("INSERT INTO audit_events (workspace_id, at, actor, action, target_type, target_id, outcome, seq, "
           "prev_hash, hash) VALUES (:ws, :at, 'forger', 'scim.user.delete', 'User', 'u-x', 'success', 6, :prev, :h)")  # fmt: skip


def test_inserted_row(db: Database, settings: Settings, trail: int) -> None:
    """A naive insert (a made-up hash) is named itself."""
    prev = db.read_sync(lambda conn: conn.execute(select(audit_events.c.hash).where(
        audit_events.c.workspace_id == trail, audit_events.c.seq == 5)).scalar())  # fmt: skip
    tamper(db, *_shift_from(6), _INSERT, ws=trail, at="2026-01-01 00:00:00.000000", prev=prev, h="f" * 64)
    result = check(db, settings, trail)
    assert (result.ok, result.first_bad_seq) == (False, 6), result


def test_inserted_row_with_a_correct_hash(db: Database, settings: Settings, trail: int) -> None:
    """An insert whose own hash is right breaks the link of the event after it."""
    def forged(conn):  # type: ignore[no-untyped-def]
        prev = conn.execute(select(audit_events.c.hash).where(audit_events.c.workspace_id == trail,
                                                               audit_events.c.seq == 5)).scalar()  # fmt: skip
        return prev

    prev = db.read_sync(forged)
    tamper(db, *_shift_from(6), _INSERT, ws=trail, at="2026-01-01 00:00:00.000000", prev=prev, h="0" * 64)
    row = db.read_sync(lambda conn: Event.from_row(conn.execute(sealed(trail).where(audit_events.c.seq == 6)).one()))
    tamper(db, "UPDATE audit_events SET hash = :h WHERE workspace_id = :ws AND seq = 6", ws=trail,
           h=row.compute_hash(6, prev))  # fmt: skip
    result = check(db, settings, trail)
    assert (result.ok, result.first_bad_seq) == (False, 7), result


def test_reordered_rows(db: Database, settings: Settings, trail: int) -> None:
    tamper(db, "UPDATE audit_events SET seq = -3 WHERE workspace_id = :ws AND seq = 8",
           "UPDATE audit_events SET seq = 8 WHERE workspace_id = :ws AND seq = 3",
           "UPDATE audit_events SET seq = 3 WHERE workspace_id = :ws AND seq = -3", ws=trail)  # fmt: skip
    result = check(db, settings, trail)
    assert (result.ok, result.first_bad_seq) == (False, 3), result


def test_truncated_tail(db: Database, settings: Settings, trail: int) -> None:
    tamper(db, "DELETE FROM audit_events WHERE workspace_id = :ws AND seq > 7", ws=trail)
    result = check(db, settings, trail)
    assert (result.ok, result.first_bad_seq) == (False, 8) and "truncated" in (result.problem or "")


def test_rewritten_chain_meets_the_checkpoint(db: Database, settings: Settings, trail: int) -> None:
    """Someone who edits seq 5 and recomputes every hash after it keeps the chain consistent, but
    not the signed checkpoint at seq 10."""
    add_events(db, trail, 5, start=100)  # seq 11..15, after the checkpoint
    checkpoint(db, settings, trail)  # and one at 15
    tamper(db, "UPDATE audit_events SET actor = 'rewritten' WHERE workspace_id = :ws AND seq = 12", ws=trail)
    events = db.read_sync(lambda conn: [Event.from_row(r) for r in conn.execute(sealed(trail).order_by(audit_events.c.seq))])
    prev, fixes = GENESIS, []
    for e in events:
        digest = e.compute_hash(e.seq or 0, prev)
        fixes.append({"s": e.seq, "p": prev, "h": digest})
        prev = digest
    for fix in fixes:
        tamper(db, "UPDATE audit_events SET prev_hash = :p, hash = :h WHERE workspace_id = :ws AND seq = :s", ws=trail, **fix)
    result = check(db, settings, trail)
    assert (result.ok, result.first_bad_seq) == (False, 11) and "rewritten" in (result.problem or ""), result


def test_forged_checkpoint(db: Database, settings: Settings, trail: int) -> None:
    other = Settings(database_url=settings.database_url, audit_signing_key_file=settings.audit_signing_key_file.with_name("x.pem"))
    forger = service.signer_for(other)
    token = forger.sign({"iss": "scim-bridge", "workspace_id": trail, "seq": 10, "hash": "0" * 64, "at": "x"},
                        chain.CHECKPOINT_TYP)  # fmt: skip
    db.write_sync(lambda conn: conn.execute(text(
        "INSERT INTO audit_checkpoints (workspace_id, seq, hash, at, reason, jws) VALUES (:ws, 10, :h, :at, 'x', :j)"),
        {"ws": trail, "h": "0" * 64, "at": "2026-01-01 00:00:00", "j": token}))  # fmt: skip
    result = check(db, settings, trail)
    assert not result.ok and "not validly signed" in (result.problem or "")


def test_concurrent_writers_and_sealers(db: Database, settings: Settings) -> None:
    """Writers in parallel transactions and two sealers racing: one contiguous chain, every event once."""
    ws = new_workspace(db, "busy")
    stop = threading.Event()

    def writer(k: int) -> None:
        for i in range(40):
            db.write_sync(lambda conn, i=i: (append(conn, ws, f"w{k}", "scim.user.patch", "User", f"{k}-{i}"),
                                             append(conn, ws, f"w{k}", "scim.group.patch", "Group", f"{k}-{i}")))

    def sealer() -> None:
        while not stop.is_set():
            db.write_sync(lambda conn: chain.seal(conn, ws, limit=7))

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    sealers = [threading.Thread(target=sealer) for _ in range(2)]
    for t in threads + sealers:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    for t in sealers:
        t.join()
    db.write_sync(lambda conn: chain.seal_all(conn, ws))
    result = check(db, settings, ws)
    assert result.ok and result.events == 320, result
    ids = db.read_sync(lambda conn: conn.execute(select(audit_events.c.target_id).where(
        audit_events.c.workspace_id == ws, audit_events.c.target_type == "User")).scalars().all())  # fmt: skip
    assert sorted(ids) == sorted(f"{k}-{i}" for k in range(4) for i in range(40))


def test_ten_thousand_mixed_events_verify(db: Database, settings: Settings) -> None:
    ws = new_workspace(db, "big")
    for batch in range(10):
        add_events(db, ws, 1000, start=batch * 1000)
        if batch % 3 == 0:
            checkpoint(db, settings, ws)
    result = check(db, settings, ws)
    assert result.ok and result.events == 10_000 and result.checkpoints == 4, result


def test_secrets_never_recorded(db: Database, settings: Settings) -> None:
    ws = new_workspace(db, "s")
    secret, bearer = "hunter2-very-secret", "sbt_" + "A" * 40
    db.write_sync(lambda conn: append(
        conn, ws, "t", "scim.user.replace", "User", "u1",
        detail={"password": secret, "note": f"Bearer {bearer}", "nested": [{"clientSecret": secret}], "token_id": "tok_1"},
        before={"password": "old-" + secret, "title": "a"}, after={"password": secret, "title": "b"}))  # fmt: skip
    db.write_sync(lambda conn: chain.seal_all(conn, ws))
    raw = db.read_sync(lambda conn: [tuple(r) for r in conn.execute(select(audit_events))])
    dumped = orjson.dumps(raw, default=str).decode()
    assert secret not in dumped and bearer not in dumped
    event = db.read_sync(lambda conn: Event.from_row(conn.execute(sealed(ws)).one()))
    assert orjson.loads(event.detail or "")["token_id"] == "tok_1"
    assert orjson.loads(event.changes or "") == {"password": "[redacted]",
                                                 "title": {"before": "a", "after": "b"}}
