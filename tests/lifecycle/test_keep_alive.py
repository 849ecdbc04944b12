"""``scim-bridge serve`` closes an idle keep-alive connection after ``keep_alive_seconds``
(``lifecycle.server_config``), not uvicorn's 5 s default: a balancer that keeps idle connections
longer than the server would send a request on one just as the server closes it (lost)."""

from __future__ import annotations

import socket
import time

import uvicorn

from scim_server.app import create_app
from scim_server.lifecycle import server_config
from scim_server.settings import Settings
from scim_server.store import migrate
from scim_server.store.db import Database
from tests.lifecycle.test_drain import exchange, started
from tests.servers import free_port


def test_the_default_outlasts_the_balancers_idle_connections() -> None:
    # HAProxy purges idle server connections every 5 s by default; an AWS ALB keeps them 60 s.
    assert Settings().keep_alive_seconds > 60
    assert server_config(object(), Settings()).timeout_keep_alive == int(Settings().keep_alive_seconds)  # type: ignore[arg-type]


def test_an_idle_connection_is_closed_after_the_setting(db_url: str) -> None:
    migrate.upgrade(db_url)
    settings = Settings(database_url=db_url, run_worker=False, access_log=False, host="127.0.0.1",
                        port=free_port(), keep_alive_seconds=1)  # fmt: skip
    app = create_app(settings, database=Database(settings))
    server = uvicorn.Server(server_config(app, settings))
    thread = started(server)
    try:
        with socket.create_connection(("127.0.0.1", settings.port), timeout=30) as sock:
            status, headers = exchange(sock, "/healthz")
            assert status == 200 and "connection" not in headers, headers
            idle_since = time.monotonic()
            assert sock.recv(1) == b"", "the server sent something on an idle connection"
            idle = time.monotonic() - idle_since
        # uvicorn's own default would close it after 5 s
        assert 0.9 <= idle < 4.5, f"closed after {idle:.2f} s idle"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "the server did not stop"
