"""Readiness and graceful shutdown for processes behind a load balancer.

``/healthz`` says the process is alive; ``/readyz`` says it should be sent traffic: the database
answers, its schema is the one this code was built for, and the process is not draining. A
balancer (or a Kubernetes readiness probe) polls ``/readyz``; on SIGTERM the server first answers
503 there for ``shutdown_drain_seconds`` while still serving everything else, so the balancer
takes it out of rotation before it stops accepting connections; then uvicorn's own shutdown
finishes the requests in flight (up to ``shutdown_timeout_seconds``) and the lifespan hands
running jobs back (``Worker.run``: their lease is released, not left to expire).

While draining, every response also says ``Connection: close`` (``CloseWhileDraining``), so no
idle keep-alive connection to this process is left in a balancer's pool or a client's when
uvicorn closes them: a request sent on one at that instant would get no response at all. For
the same reason an idle connection outlives the balancer's own idle keep-alive
(``keep_alive_seconds``, ``server_config``): whichever side closes an idle connection first races
the other's next request on it, so it must be the balancer, which knows not to reuse it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass
from functools import lru_cache
from types import FrameType
from typing import cast

import uvicorn
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scim_server.settings import Settings
from scim_server.store.db import Database
from scim_server.store.migrate import MIGRATIONS

log = logging.getLogger("scim_bridge.lifecycle")
READY_TIMEOUT_SECONDS = 2.0


@dataclass
class Readiness:
    """Shared between the app (``/readyz``) and the server (which sets ``draining``)."""

    draining: bool = False


@lru_cache(maxsize=1)
def schema_heads() -> frozenset[str]:
    """The Alembic heads this code expects (read from the migration scripts once)."""
    return frozenset(ScriptDirectory(str(MIGRATIONS)).get_heads())


def current_heads(conn: Connection) -> frozenset[str]:
    """The revisions recorded in the database (none before the first migration). A plain query,
    not Alembic's MigrationContext, which logs a line per call: the balancer asks 4 times a second."""
    if not inspect(conn).has_table("alembic_version"):
        return frozenset()
    return frozenset(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


async def check_ready(db: Database, readiness: Readiness) -> tuple[bool, dict[str, object]]:
    """Whether to send this process traffic, and why not. No error text is returned: a driver's
    message may name hosts or users, and the probe is unauthenticated."""
    if readiness.draining:
        return False, {"status": "draining"}
    try:
        heads = await asyncio.wait_for(db.read(current_heads), READY_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 -- any failure to reach the database means "not ready"
        log.warning("readiness: database unreachable", extra={"error_type": type(exc).__name__})
        return False, {"status": "database unreachable"}
    expected = schema_heads()
    if heads != expected:
        return False, {"status": "schema not current", "current": sorted(heads), "expected": sorted(expected)}
    return True, {"status": "ready"}


async def readyz(request: Request) -> Response:
    ready, body = await check_ready(request.app.state.services.db, request.app.state.readiness)
    return JSONResponse(body, status_code=200 if ready else 503)


CLOSE = (b"connection", b"close")


class CloseWhileDraining:
    """ASGI middleware: while the process drains, every HTTP response carries ``Connection: close``.

    At the end of the drain uvicorn closes its idle keep-alive connections. HAProxy keeps idle
    server connections in a pool and reuses them; a request it writes on one as uvicorn closes
    it gets no response, and since the server may have seen it, HAProxy neither retries it nor
    answers 502 when it was not the first request of its client connection: it closes that
    connection silently (the client sees "server disconnected"). Closing each connection after
    its response during the drain leaves none idle by the time the listener closes. The check is
    made when the response starts, so a request begun before the signal closes too.
    """

    def __init__(self, app: ASGIApp, readiness: Readiness) -> None:
        self.app = app
        self.readiness = readiness

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and self.readiness.draining:
                kept = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"connection"]
                message = {**message, "headers": [*kept, CLOSE]}
            await send(message)

        await self.app(scope, receive, send_closing)


def server_config(app: ASGIApp, settings: Settings) -> uvicorn.Config:
    """uvicorn's configuration for ``scim-bridge serve``: the idle keep-alive and the graceful
    shutdown's timeout from settings (module docstring), logging left to ``observability``."""
    return uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                          loop="auto", http="auto", timeout_keep_alive=int(settings.keep_alive_seconds),
                          timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds))  # fmt: skip


class DrainingServer(uvicorn.Server):
    """uvicorn, with a drain period before its shutdown.

    The first SIGTERM/SIGINT marks the process not ready and keeps serving for
    ``drain_seconds`` (the balancer's health check sees the 503 and stops sending new
    requests); then uvicorn stops accepting, waits for the requests in flight and runs the
    lifespan shutdown. A second signal skips what is left of the drain. The app is wrapped in
    ``CloseWhileDraining``, so ``config.app`` must be the app object, not an import string.
    """

    def __init__(self, config: uvicorn.Config, readiness: Readiness, drain_seconds: float) -> None:
        if isinstance(config.app, str) or config.loaded:
            raise TypeError("DrainingServer wraps the app: pass the app object to an unloaded uvicorn.Config")
        config.app = CloseWhileDraining(cast(ASGIApp, config.app), readiness)  # uvicorn's own ASGI types
        super().__init__(config)
        self.readiness = readiness
        self.drain_seconds = drain_seconds
        self._drain_until: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain_until is None and self.drain_seconds > 0 and sig in (signal.SIGTERM, signal.SIGINT):
            self._captured_signals.append(sig)
            self.readiness.draining = True
            self._drain_until = time.monotonic() + self.drain_seconds
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self._drain_until is not None and time.monotonic() >= self._drain_until:
            self.should_exit = True
        return await super().on_tick(counter)
