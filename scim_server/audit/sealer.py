"""The background sealer: puts committed audit events into their hash chains when the server
is quiet, and signs the chain's head now and then.

Sealing costs CPU per event (read the row, hash it, write ``seq``/``hash`` back), ~25 µs on
SQLite, in the serving process and, on SQLite, in the one writer thread. Done every second
in the middle of a burst of SCIM writes it took a quarter of their throughput (issue 12). Yet
nothing needs an event sealed at once: every read, verification and export of the trail seals
first (``chain.seal_all``). So the sealer waits for a quiet moment (no read or write through
``Database`` for ``audit_seal_quiet_seconds``), and seals in chunks of ``CHUNK`` events, each
its own short write, stopping as soon as traffic resumes. Under unbroken load an event still
joins its chain within ``audit_seal_max_seconds``: then the backlog is sealed whatever the
traffic (still in chunks, so other writes interleave with it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from scim_server.audit import chain
from scim_server.audit.keys import Signer
from scim_server.settings import Settings
from scim_server.store.db import Database

log = logging.getLogger("scim_bridge.audit")
CHUNK = 1000  # events per sealing transaction: ~25 ms of the SQLite writer's time


@dataclass
class Sealer:
    db: Database
    settings: Settings
    pending_since: float | None = None  # when the sealer first saw the current backlog

    async def run(self, stop: asyncio.Event, signer_for: Callable[[Settings], Signer]) -> None:
        """Until ``stop``: look every ``audit_seal_seconds``, seal when due (``tick``), sign
        each moved head every ``audit_checkpoint_seconds``. Errors are logged and retried."""
        settings = self.settings
        next_checkpoint = time.monotonic() + settings.audit_checkpoint_seconds
        while not stop.is_set():
            try:
                await self.tick(stop)
                if time.monotonic() >= next_checkpoint:
                    next_checkpoint = time.monotonic() + settings.audit_checkpoint_seconds
                    await self.db.write(partial(chain.checkpoint_workspaces, signer=signer_for(settings)))
            except Exception:
                log.exception("audit sealing failed; retrying")
            if await _wait(stop, settings.audit_seal_seconds):
                return

    async def tick(self, stop: asyncio.Event) -> int:
        """Seal the backlog if the store is quiet or the backlog is overdue; returns how many
        events were sealed."""
        if not await self.db.read(chain.pending_workspaces):
            self.pending_since = None
            return 0
        at = time.monotonic()
        if self.pending_since is None:
            self.pending_since = at
        overdue = at - self.pending_since >= self.settings.audit_seal_max_seconds
        if not overdue:
            mark = self.db.calls
            if await _wait(stop, self.settings.audit_seal_quiet_seconds) or self.db.calls != mark:
                return 0  # stopping, or the store is busy: not now
        sealed, done = await self.seal_backlog(yield_to_traffic=not overdue)
        if done:
            self.pending_since = None
        return sealed

    async def seal_backlog(self, *, yield_to_traffic: bool) -> tuple[int, bool]:
        """Seal in chunks until nothing is left (done) or, when ``yield_to_traffic``, until a
        read or write other than ours reaches the store."""
        total = 0
        while True:
            mark = self.db.calls
            sealed = await self.db.write(partial(chain.seal, limit=CHUNK))
            total += sealed
            if sealed < CHUNK:
                return total, True
            if yield_to_traffic and self.db.calls != mark + 1:
                return total, False


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first; whether it was."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
