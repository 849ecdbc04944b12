"""Refuse NUL characters at the edge, before they reach a database.

PostgreSQL text cannot hold U+0000 (psycopg refuses to send it), and no IdP or admin has a
reason to send one. A NUL in the path or query string, or a ``\\u0000`` escape in a JSON body,
is answered with a 400 in the caller's error format and never gets further.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from scim_server.errors import admin_error, scim_error

_MESSAGE = "NUL characters are not allowed."


def has_nul(raw: bytes) -> bool:
    return b"\x00" in raw or b"%00" in raw or b"\\u0000" in raw


class NulGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
            if has_nul(raw_path) or has_nul(scope.get("query_string", b"")) or "\x00" in scope["path"]:
                await self._refuse(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].startswith("/scim/"):
            response = scim_error(400, _MESSAGE, "invalidValue")
        else:
            response = admin_error(400, "invalid", _MESSAGE)
        await response(scope, receive, send)
