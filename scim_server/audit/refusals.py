"""Refused requests worth knowing, recorded outside the transaction that failed.

A request refused for its credentials (401) or its scope (403) by a token this server knows,
even a revoked one, becomes an event in that token's workspace (``auth.failed`` /
``auth.denied``, outcome ``denied``, actor the token id). A token that belongs to no workspace
(unknown, malformed, absent) goes to an instance-level log line instead; never the token.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, select
from starlette.requests import Request

from scim_server.audit.log import append
from scim_server.store import tenancy
from scim_server.store.models import ApiToken

log = logging.getLogger("scim_bridge.audit")
tokens = ApiToken.__table__


def _known(conn: Connection, token: str) -> tuple[str, int] | None:
    row = conn.execute(select(tokens.c.id, tokens.c.workspace_id)
                       .where(tokens.c.token_hash == tenancy.hash_token(token))).first()  # fmt: skip
    return (str(row[0]), int(row[1])) if row is not None else None


async def record(request: Request, action: str, reason: str) -> None:
    """Record a refusal of ``request``; never raises (the refusal itself must still be answered)."""
    try:
        header = request.headers.get("authorization") or ""
        _, _, token = header.partition(" ")
        services = request.app.state.services
        found = await services.db.read(lambda conn: _known(conn, token.strip())) if token.strip() else None
        where = {"method": request.method, "path": request.url.path[:200], "reason": reason[:200]}
        if found is None:
            log.warning("request refused: %s", action,
                        extra={"request_id": getattr(request.state, "request_id", "-"), **where})  # fmt: skip
            return
        token_id, workspace_id = found
        await services.db.write(lambda conn: append(conn, workspace_id, token_id, action, "Request", None, "denied",
                                                    detail=where))  # fmt: skip
    except Exception:
        log.exception("could not record a refused request")
