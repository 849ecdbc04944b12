"""Refused requests worth knowing, recorded outside the transaction that failed.

A request refused for its credentials (401) or its scope (403) by a token this server knows,
even a revoked one, becomes an event in that token's workspace (``auth.failed`` /
``auth.denied``, outcome ``denied``, actor the token id). A token that belongs to no workspace
(unknown, malformed, absent) goes to an instance-level log line instead; never the token.

A request by a known token for an object of another workspace is answered 404, exactly as for an
object that does not exist (nothing tells the caller it exists), and recorded as
``access.cross_workspace`` (outcome ``denied``) in both workspaces: the owner learns that its
object was reached for, the caller's workspace that its token tried.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, select
from starlette.requests import Request

from scim_server.audit.log import append
from scim_server.store import tenancy
from scim_server.store.app_models import App, AssignmentRule, DeprovisionReport, Job
from scim_server.store.models import ApiToken, ScimGroup, ScimUser

log = logging.getLogger("scim_bridge.audit")
tokens = ApiToken.__table__
OWNED = {"App": App.__table__, "Job": Job.__table__, "Report": DeprovisionReport.__table__,
         "Rule": AssignmentRule.__table__, "User": ScimUser.__table__, "Group": ScimGroup.__table__}  # fmt: skip


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


async def cross_workspace(request: Request, noun: str, object_id: str) -> None:
    """After a 404 for ``noun`` ``object_id``: if a known token asked for another workspace's
    object, record it in both workspaces; never raises, and costs nothing on a found object."""
    try:
        header = request.headers.get("authorization") or ""
        token = header.partition(" ")[2].strip()
        table = OWNED.get(noun)
        if not token or table is None or not object_id or len(object_id) > 200:
            return
        services = request.app.state.services

        def owner(conn: Connection) -> tuple[tuple[str, int] | None, int | None]:
            found = _known(conn, token)
            row = conn.execute(select(table.c.workspace_id).where(table.c.id == object_id)).first() if found else None
            return found, (int(row[0]) if row is not None else None)

        found, owner_ws = await services.db.read(owner)
        if found is None or owner_ws is None or owner_ws == found[1]:
            return
        token_id, caller_ws = found
        where = {"method": request.method, "path": request.url.path[:200]}

        def unit(conn: Connection) -> None:
            for ws in (owner_ws, caller_ws):
                append(conn, ws, token_id, "access.cross_workspace", noun, object_id, "denied", detail=where)

        await services.db.write(unit)
    except Exception:
        log.exception("could not record a cross-workspace request")
