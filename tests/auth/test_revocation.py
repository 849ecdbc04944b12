"""A revoked token stops working: at once in the process that revokes, within a second elsewhere.

Verified tokens are cached (``token_cache_seconds``); the servers here cache for a minute, so a
revocation that waited for the cache to expire would fail every test.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from cryptography.fernet import Fernet
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from scim_server.app import create_app
from scim_server.services import Services
from scim_server.settings import Settings
from scim_server.store import migrate, tenancy
from scim_server.store.db import Database
from tests.serve_process import cli, cli_env
from tests.servers import serve_asgi


async def _revoke(request: Request) -> JSONResponse:
    """What the admin API or the console will do: revoke through the serving process's
    Authenticator (there is no such route yet)."""
    services: Services = request.app.state.services
    return JSONResponse({"revoked": await services.auth.revoke(request.path_params["token_id"])})


@dataclass(frozen=True)
class Bridge:
    url: str
    db: Database

    def token(self) -> tuple[str, str]:
        return self.db.write_sync(lambda conn: tenancy.create_token(conn, "acme", "scim"))

    def status(self, token: str) -> int:
        response = httpx.get(
            f"{self.url}/scim/v2/Users?count=1", headers={"Authorization": f"Bearer {token}"}
        )
        return response.status_code

    def revoke_here(self, token_id: str) -> bool:
        response = httpx.post(f"{self.url}/test/revoke/{token_id}")
        assert response.status_code == 200, response.text
        return bool(response.json()["revoked"])


@contextmanager
def bridge(database_url: str) -> Iterator[Bridge]:
    migrate.upgrade(database_url)
    settings = Settings(database_url=database_url, access_log=False, token_cache_seconds=60,
                        secret_key=Fernet.generate_key().decode())  # fmt: skip
    db = Database(settings)
    app = create_app(
        settings, database=db, extra_routes=[Route("/test/revoke/{token_id}", _revoke, methods=["POST"])]
    )
    with serve_asgi(app) as url:
        yield Bridge(url, db)


def wait_until(condition: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``condition()`` held; fails once ``seconds`` have passed without it."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, f"not within {seconds} s"
        time.sleep(0.01)
    return time.monotonic() - start


def test_a_token_revoked_by_another_process_is_refused_within_a_second(db_url: str) -> None:
    with bridge(db_url) as server:
        token_id, token = server.token()
        _, other = server.token()
        assert [server.status(token), server.status(token), server.status(other)] == [200, 200, 200]  # cached

        out = cli(cli_env(db_url), "token", "revoke", token_id)  # another process
        assert f"revoked {token_id}" in out
        # within the check interval (0.5 s) plus a request's time on a loaded machine
        wait_until(lambda: server.status(token) == 401, seconds=1.5)
        assert server.status(other) == 200  # the others' cache entries are read again, still valid
        assert server.status(token) == 401


def test_a_token_revoked_in_process_is_refused_by_the_next_request(db_url: str) -> None:
    with bridge(db_url) as server:
        token_id, token = server.token()
        _, other = server.token()
        assert [server.status(token), server.status(token), server.status(other)] == [200, 200, 200]  # cached

        assert server.revoke_here(token_id)
        assert server.status(token) == 401  # the very next request
        assert server.status(other) == 200
        assert not server.revoke_here(token_id)  # revoking again changes nothing
        assert not server.revoke_here("tok_no_such_token")
        assert server.status(token) == 401
