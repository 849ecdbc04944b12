"""SIEM streaming against local receivers, on SQLite and PostgreSQL: a Splunk HTTP Event Collector
(checks ``Authorization: Splunk <token>``) and a syslog TCP collector (RFC 6587 octet counting,
RFC 5424 messages). The streamer is stopped mid-stream and a new one started, and the collector
refuses batches for a while: each receiver still gets every event once, in ``seq`` order."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Connection

from scim_server.audit import chain
from scim_server.audit.log import append
from scim_server.notify.siem import SplunkSink, Streamer, SyslogSink, position
from scim_server.settings import Settings
from scim_server.store import migrate, tenancy
from scim_server.store.db import Database
from tests.notify.receivers import HecReceiver, SyslogReceiver
from tests.servers import scim_bridge
from tests.waiting import wait_for

TOKEN = "hec-token-5b1e0c8e-test"
RFC5424 = re.compile(rb'^<(\d{1,3})>1 (\S+) (\S+) scim-bridge - (\S+) \[scim-bridge@32473 ws="(\d+)" seq="(\d+)" '
                     rb'hash="([0-9a-f]{64})" [^\]]*\] \xef\xbb\xbf(\{.*\})$', re.DOTALL)  # fmt: skip


@pytest.fixture
async def db(db_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    migrate.upgrade(db_url)
    database = Database(Settings(database_url=db_url, access_log=False))
    database.start()
    yield database
    database.close()


async def add_events(db: Database, ws: int, n: int, start: int) -> None:
    def unit(conn: Connection) -> None:
        for i in range(start, start + n):
            append(conn, ws, "tok_1", "scim.user.update", "User", f"u{i}", target_display=f"user {i}",
                   detail={"i": i, "password": "hunter2-should-not-leave"})  # fmt: skip
        chain.seal_all(conn, ws)

    await db.write(unit)


async def until(predicate: Callable[[], Any], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def syslog_seqs(receiver: SyslogReceiver) -> list[int]:
    out = []
    for message in list(receiver.messages):
        match = RFC5424.match(message)
        assert match, message[:200]
        body = orjson.loads(match.group(8))
        assert int(match.group(1)) == 13 * 8 + 6 and int(match.group(6)) == body["seq"]
        out.append(body["seq"])
    return out


async def test_stream_stops_restarts_and_resumes_without_gap_or_repeat(db: Database) -> None:
    ws = await db.write(lambda conn: tenancy.ensure_workspace(conn, "siem"))
    other = await db.write(lambda conn: tenancy.ensure_workspace(conn, "siem-other"))
    hec, syslog = HecReceiver(TOKEN), SyslogReceiver()
    hec.start()
    syslog.start()
    tasks: list[asyncio.Task[None]] = []
    try:
        await add_events(db, ws, 150, 0)
        await add_events(db, other, 20, 0)

        def streamer() -> Streamer:
            client = httpx.AsyncClient(timeout=10)
            sinks = [SplunkSink(hec.url, TOKEN, client), SyslogSink("127.0.0.1", syslog.port)]
            return Streamer(db, sinks, batch=7, poll_seconds=0.02)

        stop = asyncio.Event()
        first = asyncio.create_task(streamer().run(stop))
        tasks.append(first)
        await until(lambda: len(hec.received) >= 40)
        await add_events(db, ws, 100, 150)
        stop.set()  # stopped mid-stream
        await first
        assert len(hec.received) < 270

        hec.status = 503  # the collector refuses batches for a while: positions stay put
        stop = asyncio.Event()
        second = asyncio.create_task(streamer().run(stop))
        tasks.append(second)
        await add_events(db, ws, 50, 250)
        stopped_at = await db.read(lambda conn: position(conn, ws, "splunk"))
        await until(lambda: len(syslog.messages) >= 320)  # syslog goes on while Splunk refuses
        assert await db.read(lambda conn: position(conn, ws, "splunk")) == stopped_at
        hec.status = 200
        await until(lambda: len(hec.received) >= 320 and len(syslog.messages) >= 320)
        stop.set()
        await second
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        hec.stop()
        syslog.stop()

    mine = [e for e in hec.received if e["fields"]["workspace_id"] == ws]
    assert [e["event"]["seq"] for e in mine] == list(range(1, 301))
    assert [e["event"]["seq"] for e in hec.received if e["fields"]["workspace_id"] == other] == list(range(1, 21))
    assert all(e["sourcetype"] == "scim-bridge:audit" and e["event"]["hash"] for e in mine)
    assert hec.refused == 0
    seqs = syslog_seqs(syslog)
    assert sorted(seqs) == sorted(list(range(1, 301)) + list(range(1, 21))) and len(seqs) == 320
    assert await db.read(lambda conn: position(conn, ws, "syslog")) == 300
    everything = b"".join(syslog.messages) + orjson.dumps(hec.received)
    assert b"hunter2" not in everything and TOKEN.encode() not in everything


async def test_two_streamers_at_once_send_each_event_once(db: Database) -> None:
    """Two processes' streamers on one database: the lease gives each sink to one at a time."""
    ws = await db.write(lambda conn: tenancy.ensure_workspace(conn, "siem-two"))
    hec = HecReceiver(TOKEN)
    hec.start()
    stop = asyncio.Event()
    streamers = [Streamer(db, [SplunkSink(hec.url, TOKEN, httpx.AsyncClient(timeout=10))], batch=5, poll_seconds=0.02)
                 for _ in range(2)]  # fmt: skip
    tasks = [asyncio.create_task(s.run(stop)) for s in streamers]
    try:
        for start in range(0, 200, 20):
            await add_events(db, ws, 20, start)
        await until(lambda: len(hec.received) >= 200)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        hec.stop()
    assert [e["event"]["seq"] for e in hec.received] == list(range(1, 201))


def test_the_server_streams_its_trail(db_url: str) -> None:
    """Wired in: a server with SIEM settings streams the events its API appends."""
    hec = HecReceiver(TOKEN)
    hec.start()
    try:
        # polls far apart enough for the sealer's quiet moment (audit/sealer.py counts every store call)
        with scim_bridge(db_url, siem_splunk_url=hec.url, siem_splunk_token=TOKEN, siem_poll_seconds=0.5,
                         audit_seal_quiet_seconds=0.05) as server:  # fmt: skip
            token = server.token("streamed", "admin")
            put = httpx.put(f"{server.url}/api/v1/notifications/settings", json={"emails": ["soc@example.com"]},
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert put.status_code == 200
            wait_for(lambda: [e for e in list(hec.received) if e["event"]["action"] == "notify.settings.update"])
    finally:
        hec.stop()
    event = next(e for e in hec.received if e["event"]["action"] == "notify.settings.update")
    assert event["event"]["changes"]["emails"]["after"] == ["soc@example.com"] and event["event"]["hash"]
