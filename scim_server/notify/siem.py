"""Streaming the audit trail to a SIEM: Splunk HTTP Event Collector and syslog (RFC 5424) over TCP
with octet-counted framing (RFC 6587 section 3.4.1).

Per workspace and sink, ``siem_positions`` holds the last ``seq`` the sink took. A round reads the
sealed events after it (``seq`` order, a batch at a time), sends them, and only then moves the
position: a sink that is down keeps its position and resumes from it, and a restart neither loses
nor repeats events. What is at least once: a process killed between a send and the commit of its
position sends that one batch again; each event carries its ``seq`` and ``hash`` so the SIEM can
tell. Over plain TCP (syslog) "sent" means written to the socket: RFC 6587 has no
acknowledgement, so a collector that dies with unread data loses it (use Splunk HEC, which
answers each batch, where that matters). One process streams a sink at a time (a lease row).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import httpx
import orjson
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from scim_server.audit.events import COLUMNS, Event, audit_events
from scim_server.notify.tables import SiemPosition
from scim_server.services import Services
from scim_server.store.app_models import Lease
from scim_server.store.db import Database, now
from scim_server.store.models import Workspace

log = logging.getLogger("scim_bridge.siem")
positions = SiemPosition.__table__
c = audit_events.c
PEN = 32473  # the enterprise number RFC 5612 reserves for documentation: our SD-ID is scim-bridge@32473
FACILITY_AUDIT = 13  # RFC 5424 "log audit"


class SinkError(Exception):
    """The sink did not take the batch (the position stays; the next round retries)."""


class Sink(Protocol):
    name: str

    async def send(self, events: list[Event]) -> None: ...

    async def aclose(self) -> None: ...


def position(conn: Connection, ws: int, sink: str) -> int:
    return int(conn.execute(select(positions.c.seq).where(positions.c.workspace_id == ws, positions.c.sink == sink))
               .scalar() or 0)  # fmt: skip


def advance(conn: Connection, ws: int, sink: str, seq: int) -> None:
    moved = conn.execute(update(positions).where(positions.c.workspace_id == ws, positions.c.sink == sink)
                         .values(seq=seq, updated=now()))  # fmt: skip
    if moved.rowcount == 0:
        conn.execute(insert(positions).values(workspace_id=ws, sink=sink, seq=seq, updated=now()))


def batch_after(conn: Connection, ws: int, seq: int, limit: int) -> list[Event]:
    query = select(*COLUMNS).where(c.workspace_id == ws, c.seq.is_not(None), c.seq > seq).order_by(c.seq).limit(limit)
    return [Event.from_row(r) for r in conn.execute(query).all()]


def workspaces(conn: Connection) -> list[int]:
    return [ws for (ws,) in conn.execute(select(Workspace.__table__.c.id).order_by(Workspace.__table__.c.id))]


def _epoch(e: Event) -> float:
    return round(e.at.timestamp(), 6)


def splunk_body(events: list[Event], host: str) -> bytes:
    """HEC batch: one JSON object per event, concatenated (the collector's ``/event`` format)."""
    return b"".join(orjson.dumps({"time": _epoch(e), "host": host, "source": "scim-bridge",
                                  "sourcetype": "scim-bridge:audit", "fields": {"workspace_id": e.workspace_id},
                                  "event": e.view()}) + b"\n" for e in events)  # fmt: skip


def _sd_value(value: str) -> str:
    """RFC 5424 section 6.3.3: escape ``"``, ``\\`` and ``]`` in a PARAM-VALUE."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _token(value: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, at most ``limit`` long, else ``-``."""
    out = "".join(ch for ch in value if 33 <= ord(ch) <= 126)[:limit]
    return out or "-"


def syslog_frame(e: Event, host: str) -> bytes:
    """One event as an RFC 5424 message, octet-counted (RFC 6587): ``LEN SP MSG``."""
    severity = {"success": 6, "failure": 4, "denied": 4}.get(e.outcome, 5)
    sd = (f'[scim-bridge@{PEN} ws="{e.workspace_id}" seq="{e.seq}" hash="{e.hash}" '
          f'outcome="{_sd_value(e.outcome)}" actor="{_sd_value(e.actor)}"]')  # fmt: skip
    header = f"<{FACILITY_AUDIT * 8 + severity}>1 {e.time} {_token(host, 255)} scim-bridge - {_token(e.action, 32)} {sd} "
    message = header.encode() + b"\xef\xbb\xbf" + orjson.dumps(e.view())
    return str(len(message)).encode() + b" " + message


@dataclass
class SplunkSink:
    url: str
    token: str
    client: httpx.AsyncClient
    host: str = field(default_factory=socket.gethostname)
    name: str = "splunk"

    def __repr__(self) -> str:
        return f"SplunkSink(url={self.url.split('?')[0]!r}, token=***)"

    async def send(self, events: list[Event]) -> None:
        try:
            response = await self.client.post(self.url, content=splunk_body(events, self.host),
                                               headers={"Authorization": f"Splunk {self.token}"})  # fmt: skip
        except httpx.HTTPError as exc:
            raise SinkError(type(exc).__name__) from None
        if response.status_code != 200:
            raise SinkError(f"HTTP {response.status_code}")

    async def aclose(self) -> None:
        await self.client.aclose()


@dataclass
class SyslogSink:
    host: str
    port: int
    hostname: str = field(default_factory=socket.gethostname)
    name: str = "syslog"
    _writer: asyncio.StreamWriter | None = field(default=None, repr=False)

    async def send(self, events: list[Event]) -> None:
        try:
            writer = await self._connected()
            writer.write(b"".join(syslog_frame(e, self.hostname) for e in events))
            await asyncio.wait_for(writer.drain(), 30)
        except (OSError, TimeoutError) as exc:
            await self.aclose()
            raise SinkError(type(exc).__name__) from None

    async def _connected(self) -> asyncio.StreamWriter:
        if self._writer is not None and not self._writer.is_closing():
            return self._writer
        _, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 10)
        self._writer = writer
        return writer

    async def aclose(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 5)
            except (OSError, TimeoutError):
                pass


@dataclass
class Streamer:
    """Streams every workspace's trail to each configured sink; ``run`` until ``stop``."""

    db: Database
    sinks: list[Any]
    batch: int = 500
    poll_seconds: float = 2.0
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{uuid.uuid4().hex[:12]}")

    @property
    def lease_seconds(self) -> float:
        """How long a sink stays this streamer's without a renewal (renewed before every batch)."""
        return max(30.0, self.poll_seconds * 5)

    async def _hold(self, sink: Any) -> bool:
        return bool(await self.db.write(partial(_lease, sink=sink.name, owner=self.owner, seconds=self.lease_seconds)))

    @classmethod
    def from_services(cls, services: Services) -> Streamer:
        s = services.settings
        sinks: list[Any] = []
        if s.siem_splunk_url and s.siem_splunk_token:
            sinks.append(SplunkSink(s.siem_splunk_url, s.siem_splunk_token, httpx.AsyncClient(timeout=30)))
        if s.siem_syslog_host:
            sinks.append(SyslogSink(s.siem_syslog_host, s.siem_syslog_port))
        return cls(services.db, sinks, s.siem_batch, s.siem_poll_seconds)

    async def round(self, stop: asyncio.Event | None = None) -> int:
        """Send every sink what it has not taken yet; returns how many events were sent."""
        sent = 0
        for sink in self.sinks:
            if not await self._hold(sink):
                continue  # another process streams this sink
            for ws in await self.db.read(workspaces):
                sent += await self._stream(sink, ws, stop)
        return sent

    async def _stream(self, sink: Any, ws: int, stop: asyncio.Event | None) -> int:
        sent = 0
        while stop is None or not stop.is_set():
            at = await self.db.read(partial(position, ws=ws, sink=sink.name))
            events = await self.db.read(partial(batch_after, ws=ws, seq=at, limit=self.batch))
            if not events or not await self._hold(sink):
                break
            try:
                await sink.send(events)
            except SinkError as exc:
                log.warning("SIEM sink refused a batch; retrying later",
                            extra={"sink": sink.name, "workspace_id": ws, "error_type": str(exc)})  # fmt: skip
                break
            last = events[-1].seq or at
            await self.db.write(partial(advance, ws=ws, sink=sink.name, seq=last))
            sent += len(events)
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        if not self.sinks:
            return
        try:
            while not stop.is_set():
                try:
                    await self.round(stop)
                except Exception:
                    log.exception("SIEM streaming round failed; retrying")
                try:
                    await asyncio.wait_for(stop.wait(), self.poll_seconds)
                except TimeoutError:
                    pass
        finally:
            for sink in self.sinks:
                await sink.aclose()
                try:  # hand the sink over at once (a restart streams on without waiting for the lease)
                    await self.db.write(partial(_release, sink=sink.name, owner=self.owner))
                except (SQLAlchemyError, RuntimeError):
                    log.warning("SIEM lease not released; it runs out by itself", extra={"sink": sink.name})


def _lease(conn: Connection, sink: str, owner: str, seconds: float) -> bool:
    from scim_server.jobs.scheduler import take_lease

    return take_lease(conn, f"siem:{sink}", owner, seconds)


def _release(conn: Connection, sink: str, owner: str) -> None:
    leases = Lease.__table__
    conn.execute(update(leases).where(leases.c.name == f"siem:{sink}", leases.c.owner == owner).values(until=now()))


__all__ = ["SinkError", "SplunkSink", "Streamer", "SyslogSink", "advance", "position", "splunk_body", "syslog_frame"]
