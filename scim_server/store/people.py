"""Directory users as the governance operations see them: look one up, its first email, search by
name or email ("Match with"), and the app accounts linked to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, func, or_, select

from scim_server.store import paging
from scim_server.store.app_models import App, AppMember
from scim_server.store.models import ScimUser, ScimUserValue

users = ScimUser.__table__
values = ScimUserValue.__table__
app_members = AppMember.__table__
apps = App.__table__
EMAILS = "emails.value"


def get_user(conn: Connection, workspace_id: int, user_id: str) -> Any | None:
    return conn.execute(select(users).where(users.c.workspace_id == workspace_id, users.c.id == user_id)).first()


def emails_of(conn: Connection, user_ids: list[str]) -> dict[str, list[str]]:
    """Each user's emails, in the order the IdP sent them."""
    out: dict[str, list[str]] = {uid: [] for uid in user_ids}
    if not user_ids:
        return out
    query = (select(values.c.user_id, values.c.value).where(values.c.user_id.in_(user_ids), values.c.path == EMAILS)
             .order_by(values.c.user_id, values.c.elem))  # fmt: skip
    for user_id, value in conn.execute(query):
        if value:
            out[user_id].append(value)
    return out


def email_of(conn: Connection, user: Any) -> str:
    """Where an invitation goes: the first email, else the userName (usually an email at Okta/Entra)."""
    emails = emails_of(conn, [user.id])[user.id]
    return emails[0] if emails else str(user.user_name)


def search_users(conn: Connection, workspace_id: int, q: str | None, after: tuple[datetime, str] | None,
                 limit: int) -> list[Any]:  # fmt: skip
    """Users whose userName, displayName or an email contains ``q`` (case-insensitive), oldest first."""
    query = select(users).where(users.c.workspace_id == workspace_id)
    if q:
        needle = q.casefold()
        email_hit = exists().where(values.c.user_id == users.c.id, values.c.path == EMAILS,
                                   values.c.value_ci.contains(needle, autoescape=True))  # fmt: skip
        query = query.where(or_(users.c.user_name_ci.contains(needle, autoescape=True),
                                func.lower(users.c.display_name).contains(needle, autoescape=True), email_hit))  # fmt: skip
    return list(conn.execute(paging.window(query, (users.c.created, users.c.id), after, limit)))


def accounts_of(conn: Connection, workspace_id: int, user_id: str) -> list[Any]:
    """Every app member linked to the user, with its app's label and kind."""
    query = (select(app_members, apps.c.label.label("app_label"), apps.c.kind.label("app_kind"))
             .join(apps, apps.c.id == app_members.c.app_id)
             .where(app_members.c.workspace_id == workspace_id, app_members.c.user_id == user_id)
             .order_by(apps.c.label, app_members.c.id))  # fmt: skip
    return list(conn.execute(query))


def user_names(conn: Connection, workspace_id: int, user_ids: set[str]) -> dict[str, str]:
    """id -> userName of a few directory users (a page's), in the workspace only."""
    if not user_ids:
        return {}
    query = select(users.c.id, users.c.user_name).where(users.c.workspace_id == workspace_id,
                                                        users.c.id.in_(sorted(user_ids)))  # fmt: skip
    return {str(r.id): str(r.user_name) for r in conn.execute(query)}
