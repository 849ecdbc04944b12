"""The directory the IdP pushed, as admins search it ("Match with") and see one user's app accounts.
Admin scope: an admin needs no SCIM token to find a user."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from scim_server.auth import Principal
from scim_server.services import Services
from scim_server.services.errors import Invalid, NotFound
from scim_server.services.paging import PageRequest, page_of
from scim_server.store import members as member_store
from scim_server.store import people

SCOPE = "directory_users"


def user_view(row: Any, emails: list[str]) -> dict[str, Any]:
    return {"id": row.id, "user_name": row.user_name, "display_name": row.display_name, "active": bool(row.active),
            "emails": emails, "external_id": row.external_id}  # fmt: skip


async def search_users(svc: Services, who: Principal, q: str | None, page: PageRequest) -> dict[str, Any]:
    """Users whose userName, displayName or an email contains ``q``, oldest first."""
    if q is not None and len(q) > 512:
        raise Invalid("q is at most 512 characters.", field="q")
    after = page.after_created_id(SCOPE)

    def unit(conn: Connection) -> dict[str, Any]:
        rows = people.search_users(conn, who.workspace_id, (q or "").strip() or None, after, page.fetch)
        emails = people.emails_of(conn, [r.id for r in rows[: page.limit]])
        return page_of(rows, page.limit, SCOPE, lambda r: (r.created, r.id), lambda r: user_view(r, emails[r.id]))

    return await svc.db.read(unit)


async def get_user(svc: Services, who: Principal, user_id: str) -> dict[str, Any]:
    """One user with every app account linked to it, its role and asset permissions."""

    def unit(conn: Connection) -> dict[str, Any]:
        row = people.get_user(conn, who.workspace_id, user_id)
        if row is None:
            raise NotFound(f"User {user_id} not found.")
        accounts = people.accounts_of(conn, who.workspace_id, user_id)
        perms: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for app_id in {a.app_id for a in accounts}:
            for remote_id, granted in member_store.permissions_of(
                    conn, app_id, [a.remote_id for a in accounts if a.app_id == app_id]).items():  # fmt: skip
                perms[(app_id, remote_id)] = granted
        return user_view(row, people.emails_of(conn, [user_id])[user_id]) | {"accounts": [
            {"app_id": a.app_id, "app_label": a.app_label, "app_kind": a.app_kind, "member_id": a.id,
             "email": a.email, "app_role": a.app_role, "state": a.state, "bridge_role": a.bridge_role,
             "assets": [{"asset_id": x, "permission": p} for x, p in perms.get((a.app_id, a.remote_id), [])]}
            for a in accounts]}  # fmt: skip

    return await svc.db.read(unit)
