"""Run a real scim-bridge (uvicorn, loopback, free port) in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from cryptography.fernet import Fernet

from scim_server.app import create_app
from scim_server.settings import Settings
from scim_server.store import migrate, tenancy
from scim_server.store.db import Database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_asgi(app: object, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 in a thread; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass(frozen=True)
class RunningServer:
    url: str  # e.g. http://127.0.0.1:PORT
    settings: Settings
    db: Database

    @property
    def scim(self) -> str:
        return self.url + "/scim/v2"

    def token(self, workspace: str = "default", scope: str = "scim") -> str:
        return self.db.write_sync(lambda conn: tenancy.create_token(conn, workspace, scope))[1]


@contextmanager
def scim_bridge(database_url: str, **overrides: object) -> Iterator[RunningServer]:
    defaults = {"database_url": database_url, "access_log": False, "secret_key": Fernet.generate_key().decode()}
    settings = Settings(**(defaults | overrides))  # type: ignore[arg-type]
    migrate.upgrade(database_url)
    db = Database(settings)
    app = create_app(settings, database=db)
    with serve_asgi(app) as url:
        yield RunningServer(url, settings, db)
