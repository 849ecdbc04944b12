"""Connector test fixtures: the sandbox served by uvicorn on a loopback port, for real HTTP.

- ``sandbox_server`` (session): ``SandboxServer(base_url, sandbox)``; ``sandbox`` is the in-process
  ``connectors.sandbox.Sandbox`` of the same app (state and faults without HTTP).
- ``sandbox_url`` (session): ``http://127.0.0.1:<port>``.
- ``sandbox`` (per test): a ``SandboxClient`` on the control endpoints, after ``reset("empty")``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from connectors.sandbox import Sandbox, SandboxClient, create_sandbox_app


@dataclass(frozen=True)
class SandboxServer:
    base_url: str
    sandbox: Sandbox


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    app = create_sandbox_app("empty")
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the sandbox did not start")
        time.sleep(0.01)
    yield SandboxServer(f"http://127.0.0.1:{port}", app.state.sandbox)
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def sandbox_url(sandbox_server: SandboxServer) -> str:
    return sandbox_server.base_url


@pytest.fixture
def sandbox(sandbox_url: str) -> Iterator[SandboxClient]:
    client = SandboxClient(sandbox_url)
    client.reset("empty")
    yield client
    client.close()
