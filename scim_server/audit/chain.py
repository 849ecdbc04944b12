"""The per-workspace hash chain: sealing new events into it, signed checkpoints of its head, and
verification that names the first event that does not match.

Sealing is separate from appending so that writers never queue on the chain's head: ``append``
inserts a row with ``seq``/``hash`` NULL in the writer's own transaction; ``seal`` (run every
``audit_seal_seconds`` by the background sealer, and before every read, verify and export)
takes the committed unsealed rows of a workspace in id order and gives each the next ``seq``,
``prev_hash`` = the previous event's hash, ``hash`` = SHA-256 of its canonical encoding
(``events.Event.canonical``). Only sealers serialise, per workspace (a PostgreSQL advisory
transaction lock; SQLite has one writer anyway). A row whose transaction commits late simply
takes a later ``seq``: the chain orders events by when they became durable.

A checkpoint is a JWS (``keys.Signer``) over ``{workspace_id, seq, hash, at}``, stored in
``audit_checkpoints`` and put in every export manifest: rows deleted from the end of the chain
are caught against the last checkpoint, and a chain recomputed after an edit no longer meets
the checkpoints it passed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, func, insert, select, text, update

from scim_server.audit.events import (
    COLUMNS,
    GENESIS,
    Event,
    audit_events,
    canonical,
    row_chunks,
    sealed,
    time_text,
    time_texts,
)
from scim_server.audit.keys import BadSignature, Signer, verify_jws
from scim_server.store import fastsql
from scim_server.store.db import iso_utc, now
from scim_server.store.fastsql import ts_out
from scim_server.store.models import AuditCheckpoint, Workspace

T = TypeVar("T")
Read = Callable[[Callable[[Connection], T]], T]

c = audit_events.c
checkpoints = AuditCheckpoint.__table__
workspaces = Workspace.__table__
CHECKPOINT_TYP = "scim-bridge-audit-checkpoint+jws"
_LOCK_CLASS = 0x5CB1  # first key of the advisory lock a PostgreSQL sealer holds on (class, workspace)
SEAL_BATCH = 20_000

_SEAL = update(audit_events).where(c.id == bindparam("b_id"), c.seq.is_(None)).values(
    seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash"))  # fmt: skip
# The hot statements of ``seal``, run on the DBAPI cursor (fastsql): through SQLAlchemy's
# execution layer, binding and fetching cost more than the hashing (~20 µs an event).
_UNSEALED = fastsql.Statement(select(*COLUMNS).where(c.workspace_id == bindparam("ws"), c.seq.is_(None))
                              .order_by(c.id).limit(bindparam("limit")).offset(bindparam("offset")))  # fmt: skip
_SEAL_ROW = fastsql.Statement(_SEAL)
# PostgreSQL: one UPDATE over arrays instead of a pipeline of one per event.
_SEAL_ARRAYS = fastsql.Statement(text(
    "UPDATE audit_events AS a SET seq = t.seq, prev_hash = t.prev, hash = t.hash "
    "FROM unnest(CAST(:b_id AS BIGINT[]), CAST(:b_seq AS BIGINT[]), CAST(:b_prev AS VARCHAR[]), "
    "CAST(:b_hash AS VARCHAR[])) AS t(id, seq, prev, hash) WHERE a.id = t.id AND a.seq IS NULL"
))


def head(conn: Connection, workspace_id: int) -> tuple[int, str]:
    """(seq, hash) of the last sealed event; (0, GENESIS) for an empty chain."""
    row = conn.execute(select(c.seq, c.hash).where(c.workspace_id == workspace_id, c.seq.is_not(None))
                       .order_by(c.seq.desc()).limit(1)).first()  # fmt: skip
    return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS)


_NEXT_PENDING = fastsql.Statement(select(c.workspace_id).where(c.seq.is_(None), c.workspace_id > bindparam("after"))
                                  .order_by(c.workspace_id).limit(bindparam("limit")).offset(bindparam("offset")))  # fmt: skip


def pending_workspaces(conn: Connection) -> list[int]:
    """The workspaces with unsealed events, one index probe each (the sealer asks every
    second; a DISTINCT read the whole backlog's index entries)."""
    found: list[int] = []
    while row := fastsql.fetchone(conn, _NEXT_PENDING, {"after": found[-1] if found else -1, "limit": 1, "offset": 0}):
        found.append(int(row[0]))
    return found


def _event(row: tuple[Any, ...]) -> Event:
    """A raw ``COLUMNS`` row as an Event (``Event.from_row``, with ``time_text``)."""
    return Event(*row[:3], ts_out(row[3]), *row[4:], time=time_text(row[3]))  # type: ignore[misc,call-arg]  # a row of COLUMNS


def seal(conn: Connection, workspace_id: int | None = None, limit: int = SEAL_BATCH) -> int:
    """Seal up to ``limit`` unsealed events of ``workspace_id`` (None: of every workspace) into
    their chains, in ``conn``'s transaction; returns how many were sealed."""
    total = 0
    postgres = conn.dialect.name == "postgresql"
    for ws in pending_workspaces(conn) if workspace_id is None else [workspace_id]:
        if postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k, :ws)"), {"k": _LOCK_CLASS, "ws": ws})
        seq, prev = head(conn, ws)
        ids: list[int] = []
        seqs: list[int] = []
        prevs: list[str] = []
        hashes: list[str] = []
        for row in fastsql.fetchall(conn, _UNSEALED, {"ws": ws, "limit": limit, "offset": 0}):
            seq += 1
            digest = _event(row).compute_hash(seq, prev)
            ids.append(row[0])
            seqs.append(seq)
            prevs.append(prev)
            hashes.append(digest)
            prev = digest
        if not ids:
            continue
        if postgres:
            fastsql.execute(conn, _SEAL_ARRAYS, {"b_id": ids, "b_seq": seqs, "b_prev": prevs, "b_hash": hashes})
        else:
            fastsql.executemany(conn, _SEAL_ROW, [{"b_id": i, "b_seq": s, "b_prev": p, "b_hash": h}
                                                  for i, s, p, h in zip(ids, seqs, prevs, hashes)])  # fmt: skip
        total += len(ids)
    return total


def seal_all(conn: Connection, workspace_id: int | None = None) -> int:
    """``seal`` until nothing is left (a backlog larger than one batch)."""
    total = 0
    while (n := seal(conn, workspace_id)) > 0:
        total += n
    return total


@dataclass(frozen=True, slots=True)
class Checkpoint:
    workspace_id: int
    seq: int
    hash: str
    at: datetime
    reason: str
    jws: str

    def view(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "time": iso_utc(self.at), "reason": self.reason, "jws": self.jws}


def checkpoint(conn: Connection, signer: Signer, workspace_id: int, reason: str, *, force: bool = False) -> Checkpoint | None:
    """Sign the chain's current head (after sealing) unless it is empty or, without ``force``, the
    last checkpoint already names it."""
    seal_all(conn, workspace_id)
    seq, digest = head(conn, workspace_id)
    if seq == 0:
        return None
    last = latest_checkpoint(conn, workspace_id)
    if last is not None and last.seq == seq and not force:
        return last
    return sign_checkpoint(conn, signer, workspace_id, seq, digest, reason)


def sign_checkpoint(conn: Connection, signer: Signer, workspace_id: int, seq: int, digest: str,
                    reason: str) -> Checkpoint:  # fmt: skip
    """Sign and store that the chain had ``digest`` at ``seq``. The reason is signed too: a
    ``retention`` checkpoint marks where an expired chain starts, and only a signed one counts."""
    at = now()
    token = signer.sign({"iss": "scim-bridge", "workspace_id": workspace_id, "seq": seq, "hash": digest,
                         "at": iso_utc(at), "reason": reason}, CHECKPOINT_TYP)  # fmt: skip
    conn.execute(insert(checkpoints).values(workspace_id=workspace_id, seq=seq, hash=digest, at=at, reason=reason,
                                            jws=token))  # fmt: skip
    return Checkpoint(workspace_id, seq, digest, at, reason, token)


def _checkpoint(row: Any) -> Checkpoint:
    return Checkpoint(int(row.workspace_id), int(row.seq), row.hash, ts_out(row.at), row.reason, row.jws)


def latest_checkpoint(conn: Connection, workspace_id: int) -> Checkpoint | None:
    row = conn.execute(select(checkpoints).where(checkpoints.c.workspace_id == workspace_id)
                       .order_by(checkpoints.c.seq.desc(), checkpoints.c.id.desc()).limit(1)).first()  # fmt: skip
    return _checkpoint(row) if row is not None else None


def checkpoint_workspaces(conn: Connection, signer: Signer) -> int:
    """A checkpoint for every workspace whose head moved since its last one (the periodic run)."""
    made = 0
    for (ws,) in conn.execute(select(workspaces.c.id)).all():
        last = latest_checkpoint(conn, int(ws))
        cp = checkpoint(conn, signer, int(ws), "periodic")
        made += cp is not None and (last is None or cp.seq != last.seq)
    return made


@dataclass(frozen=True, slots=True)
class Verification:
    workspace_id: int
    ok: bool
    events: int  # sealed events checked
    head_seq: int
    head_hash: str
    checkpoints: int
    first_bad_seq: int | None = None
    problem: str | None = None
    starts_after: int = 0  # the seq of the signed retention checkpoint the chain starts from (0: genesis)

    def view(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "head": {"seq": self.head_seq, "hash": self.head_hash},
                "checkpoints": self.checkpoints, "first_bad_seq": self.first_bad_seq, "problem": self.problem,
                "starts_after": self.starts_after}  # fmt: skip


def verify(read: Read[Any], workspace_id: int, jwks: dict[str, Any]) -> Verification:
    """Recompute ``workspace_id``'s chain and check it against its signed checkpoints.

    ``read(fn)`` runs ``fn(conn)`` (``Database.read_sync``); the events are read in chunks, so
    memory stays flat whatever the length. The first problem found is named: a missing or
    repeated ``seq`` (a deleted, inserted or reordered row), a ``prev_hash`` or ``hash`` that
    does not match (an edited row), a checkpoint whose signature fails or whose hash the chain
    no longer has (a recomputed chain), or a chain that ends before its last checkpoint (a
    truncated tail). A chain whose old events expired starts after its latest validly signed
    ``retention`` checkpoint, from the hash that checkpoint signed.
    """
    rows = read(lambda conn: conn.execute(select(checkpoints).where(checkpoints.c.workspace_id == workspace_id)
                                          .order_by(checkpoints.c.seq, checkpoints.c.id)).all())  # fmt: skip
    signed: dict[int, str] = {}
    start: tuple[int, str] = (0, GENESIS)
    for row in rows:
        cp = _checkpoint(row)
        try:
            claims = verify_jws(cp.jws, jwks, CHECKPOINT_TYP)
        except BadSignature as exc:
            return Verification(workspace_id, False, 0, 0, GENESIS, len(rows), cp.seq,
                                f"the checkpoint at seq {cp.seq} is not validly signed: {exc}")  # fmt: skip
        if claims.get("workspace_id") != workspace_id or not isinstance(claims.get("seq"), int):
            return Verification(workspace_id, False, 0, 0, GENESIS, len(rows), cp.seq,
                                f"the checkpoint at seq {cp.seq} is signed for another chain")  # fmt: skip
        signed[int(claims["seq"])] = str(claims.get("hash"))
        if claims.get("reason") == "retention":  # expiry: the chain starts after this event
            start = max(start, (int(claims["seq"]), str(claims.get("hash"))))

    def bad(seq: int, problem: str) -> Verification:
        return Verification(workspace_id, False, count, expected - 1, prev, len(rows), seq, problem, start[0])

    expected, prev, count, last_good_checkpoint = start[0] + 1, start[1], 0, start[0]
    sha256 = hashlib.sha256
    # rows as plain tuples (``events.row_chunks``): an Event per row cost as much as the hashing
    for chunk in row_chunks(read, sealed(workspace_id), after=start[0]):
        for row, time in zip(chunk, time_texts([row[1] for row in chunk]), strict=True):
            seq = int(row[0])
            if seq < expected:
                return bad(seq, f"seq {seq} appears twice or out of order (an inserted or reordered row)")
            if seq > expected:
                return bad(expected, f"seq {expected} is missing (a deleted row)")
            if row[11] != prev:
                return bad(seq, f"seq {seq} does not follow the event before it (prev_hash differs: an inserted, "
                                "deleted or reordered row)")  # fmt: skip
            digest = sha256(canonical(workspace_id, seq, time, row[2:11], prev)).hexdigest()
            if row[12] != digest:
                return bad(seq, f"seq {seq} was altered (its hash does not match its content)")
            if seq in signed:
                if signed[seq] != digest:
                    return bad(last_good_checkpoint + 1, f"the events from seq {last_good_checkpoint + 1} to {seq} "
                                                         f"were rewritten (the checkpoint at seq {seq} signed another "
                                                         "hash)")  # fmt: skip
                last_good_checkpoint = seq
            prev, expected, count = digest, expected + 1, count + 1
    if signed and max(signed) >= expected:
        return bad(expected, f"the trail ends at seq {expected - 1} but a checkpoint signed seq {max(signed)} "
                             "(a truncated tail)")  # fmt: skip
    return Verification(workspace_id, True, count, expected - 1, prev, len(rows), starts_after=start[0])


def unsealed_count(conn: Connection, workspace_id: int) -> int:
    query = select(func.count()).select_from(audit_events).where(c.workspace_id == workspace_id, c.seq.is_(None))
    return int(conn.execute(query).scalar() or 0)
