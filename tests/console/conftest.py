"""One scim-bridge per module for the console tests, served like ``serve --demo``: the sandbox
apps under ``/sandbox`` (with its OIDC provider), the console under ``/console``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from starlette.routing import Mount

from connectors.sandbox import Sandbox, create_sandbox_app
from scim_server.app import create_app
from scim_server.settings import Settings
from scim_server.store import migrate, tenancy
from scim_server.store.db import Database
from tests.db import database_url
from tests.servers import free_port, serve_asgi

OIDC_CLIENT = "scim-bridge-console"
OIDC_ADMIN, OIDC_GROUP = "it-admin@example.com", "bridge-admins"


@dataclass
class Console:
    url: str
    settings: Settings
    db: Database
    sandbox: Sandbox

    def token(self, workspace: str = "default", scope: str = "admin") -> tuple[str, str]:
        """(token id, token)."""
        return self.db.write_sync(lambda conn: tenancy.create_token(conn, workspace, scope))

    def sign_in(self, token: str) -> httpx.Client:
        """An httpx client signed in to the console with ``token`` (through the sign-in form)."""
        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=20)
        page = client.get("/console/sign-in")
        answer = client.post("/console/sign-in", data={"csrf": csrf_of(page.text), "token": token,
                                                        "next": "/console/apps"})  # fmt: skip
        assert answer.status_code == 303 and answer.headers["location"] == "/console/apps", answer.text
        return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


@contextmanager
def console_server(kind: str, directory: Path, **overrides: Any) -> Iterator[Console]:
    with database_url(kind, directory) as url:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        defaults: dict[str, Any] = {
            "database_url": url, "access_log": False, "secret_key": Fernet.generate_key().decode(),
            "worker_poll_seconds": 0.05, "retry_base_seconds": 0.05, "outbox_debounce_seconds": 0.05,
            "console_oidc_issuer": f"{base}/sandbox/oidc", "console_oidc_client_id": OIDC_CLIENT,
            "console_oidc_allowed_emails": [OIDC_ADMIN], "console_oidc_allowed_groups": [OIDC_GROUP],
        }  # fmt: skip
        settings = Settings(**(defaults | overrides))
        migrate.upgrade(url)
        db = Database(settings)
        sandbox_app = create_sandbox_app("demo")
        app = create_app(settings, database=db, extra_routes=[Mount("/sandbox", sandbox_app)])
        with serve_asgi(app, port) as served:
            yield Console(served, settings, db, sandbox_app.state.sandbox)
