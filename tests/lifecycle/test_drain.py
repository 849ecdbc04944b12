"""While ``DrainingServer`` drains, every response closes its connection, on a real uvicorn on a
loopback port: a keep-alive connection left idle in a balancer's pool when uvicorn stops would
lose the request sent on it at that instant (the rolling-restart flake of tests/topology)."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from scim_server.app import create_app
from scim_server.lifecycle import DrainingServer
from scim_server.settings import Settings
from scim_server.store import migrate
from scim_server.store.db import Database
from tests.servers import free_port


def started(server: uvicorn.Server) -> threading.Thread:
    """``server`` running in a thread, once it accepts connections."""
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        thread.join(timeout=0.01)
    return thread


@contextmanager
def draining_server(db_url: str) -> Iterator[tuple[DrainingServer, int]]:
    """The app under ``DrainingServer`` in a thread (signals are the main thread's, so the test
    calls ``handle_exit`` itself: what the SIGTERM handler calls). Stopped by a second signal."""
    migrate.upgrade(db_url)
    settings = Settings(database_url=db_url, run_worker=False, access_log=False)
    app = create_app(settings, database=Database(settings))
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = DrainingServer(config, app.state.readiness, drain_seconds=600)  # ended by the test
    thread = started(server)
    try:
        yield server, port
    finally:
        server.handle_exit(signal.SIGTERM, None)
        server.handle_exit(signal.SIGTERM, None)  # the second one ends the drain
        thread.join(timeout=30)
        assert not thread.is_alive(), "the server did not stop"


def exchange(sock: socket.socket, path: str) -> tuple[int, dict[str, str]]:
    """One HTTP/1.1 request on an open connection; the status and headers (lower-cased) of the
    whole response, its body read to the end so the connection can carry the next one."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response to {path}: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of a body"
        body += chunk
    return int(status_line.split()[1]), headers


def test_responses_while_draining_close_their_connection(db_url: str) -> None:
    with draining_server(db_url) as (server, port):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            # Serving: the connection stays open for the next request.
            status, headers = exchange(sock, "/healthz")
            assert status == 200 and "connection" not in headers, headers
            status, headers = exchange(sock, "/readyz")
            assert status == 200 and "connection" not in headers, headers

            # SIGTERM: still served, out of rotation, and this response is the connection's last.
            server.handle_exit(signal.SIGTERM, None)
            status, headers = exchange(sock, "/healthz")
            assert status == 200 and headers.get("connection") == "close", headers
            assert sock.recv(1) == b"", "uvicorn kept the connection open after Connection: close"

        # A new connection during the drain: served once, then closed, whatever it asked.
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            status, headers = exchange(sock, "/readyz")
            assert status == 503 and headers.get("connection") == "close", headers
            assert sock.recv(1) == b""
        assert not server.should_exit  # all of it within the drain, before uvicorn's shutdown
