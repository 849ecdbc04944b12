"""The background sealer (audit/sealer.py) on both databases: it leaves a busy store alone,
seals the backlog in chunks once the store is quiet or the backlog is overdue, and the chunked
chain verifies exactly as one sealed at once; ``chain.time_text`` hashes the text
``iso_utc(ts_out(...))`` gives."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection

from scim_server.audit import chain, service
from scim_server.audit.log import append
from scim_server.audit.sealer import CHUNK, Sealer
from scim_server.settings import Settings
from scim_server.store import fastsql
from scim_server.store.db import Database, iso_utc
from tests.audit.conftest import new_workspace


def _append(db: Database, ws: int, n: int) -> None:
    def unit(conn: Connection) -> None:
        for i in range(n):
            append(conn, ws, "tok_s", "scim.user.patch", "User", f"u{i}", detail={"changed": ["active"]})

    db.write_sync(unit)


def _unsealed(db: Database, ws: int) -> int:
    return db.read_sync(lambda conn: chain.unsealed_count(conn, ws))


def _sealer(db: Database, settings: Settings, **changes: float) -> Sealer:
    return Sealer(db, settings.model_copy(update={"audit_seal_quiet_seconds": 0.05} | changes))


async def _busy(db: Database, stop: asyncio.Event) -> None:
    """Traffic: a read through ``Database`` every few milliseconds until ``stop``."""
    while not stop.is_set():
        await db.read(lambda conn: None)
        await asyncio.sleep(0.005)


def test_a_busy_store_is_left_alone_until_the_backlog_is_overdue(db: Database, settings: Settings) -> None:
    ws = new_workspace(db, "a")
    _append(db, ws, 5)

    async def scenario() -> tuple[int, int, int]:
        db.start()
        stop_traffic, stop = asyncio.Event(), asyncio.Event()
        traffic = asyncio.create_task(_busy(db, stop_traffic))
        patient = _sealer(db, settings, audit_seal_max_seconds=3600)
        while_busy = await patient.tick(stop)
        overdue = await _sealer(db, settings, audit_seal_max_seconds=0).tick(stop)
        stop_traffic.set()
        await traffic
        _append(db, ws, 3)
        when_quiet = await patient.tick(stop)
        return while_busy, overdue, when_quiet

    assert asyncio.run(scenario()) == (0, 5, 3)
    assert _unsealed(db, ws) == 0


def test_chunks_chain_like_one_seal_and_yield_to_traffic(db: Database, settings: Settings) -> None:
    ws = new_workspace(db, "a")
    _append(db, ws, 2 * CHUNK + 7)

    async def scenario() -> tuple[tuple[int, bool], tuple[int, bool]]:
        db.start()
        sealer = _sealer(db, settings)
        stop_traffic = asyncio.Event()
        traffic = asyncio.create_task(_busy(db, stop_traffic))
        await asyncio.sleep(0.02)  # the traffic task is running: the first chunk is followed by a yield
        first = await sealer.seal_backlog(yield_to_traffic=True)
        stop_traffic.set()
        await traffic
        return first, await sealer.seal_backlog(yield_to_traffic=False)

    (first, first_done), (rest, rest_done) = asyncio.run(scenario())
    assert first_done is False and first < 2 * CHUNK + 7
    assert rest_done is True and first + rest == 2 * CHUNK + 7
    result = chain.verify(db.read_sync, ws, service.signer_for(settings).jwks())
    assert result.ok and result.head_seq == 2 * CHUNK + 7, result


def test_pending_workspaces_finds_each_workspace_once(db: Database) -> None:
    a, b, c = new_workspace(db, "a"), new_workspace(db, "b"), new_workspace(db, "c")
    _append(db, a, 3)
    _append(db, c, 2)
    assert db.read_sync(chain.pending_workspaces) == sorted([a, c])
    db.write_sync(chain.seal)
    assert db.read_sync(chain.pending_workspaces) == [] and b


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30)))
def test_time_text_is_iso_utc_of_the_stored_value(value: datetime) -> None:
    aware = value.replace(tzinfo=UTC)
    for stored in (fastsql.ts_in("sqlite", aware), aware):
        assert chain.time_text(stored) == iso_utc(fastsql.ts_out(stored))
