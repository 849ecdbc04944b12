"""Assignment rules of an app: list, create, delete; each change re-plans the app."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection

from scim_server import reconcile
from scim_server.audit.log import append as audit
from scim_server.auth import Principal
from scim_server.services import Services
from scim_server.services.errors import Invalid
from scim_server.services.paging import PageRequest, page_of
from scim_server.services.schemas import RuleBody
from scim_server.store import apps as app_store
from scim_server.store import rules as store
from scim_server.store.db import iso_utc

SCOPE = "rules"


def rule_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "group_id": row.group_id, "bridge_role": row.bridge_role, "app_role": row.app_role,
            "assets": orjson.loads(row.asset_grants), "created": iso_utc(row.created)}  # fmt: skip


async def list_rules(svc: Services, who: Principal, app_id: str, page: PageRequest) -> dict[str, Any]:
    """The app's rules oldest first, paged on (created, id)."""
    after = page.after_created_id(SCOPE)

    def unit(conn: Connection) -> dict[str, Any]:
        app_store.get_app(conn, who.workspace_id, app_id)
        rows = store.page(conn, app_id, after, page.fetch)
        return page_of(rows, page.limit, SCOPE, lambda r: (r.created, r.id), rule_view)

    return await svc.db.read(unit)


async def create_rule(svc: Services, who: Principal, app_id: str, body: RuleBody) -> dict[str, Any]:
    def unit(conn: Connection) -> dict[str, Any]:
        app = app_store.get_app(conn, who.workspace_id, app_id)
        if not store.group_exists(conn, who.workspace_id, body.group_id):
            raise Invalid(f"No directory group {body.group_id} in this workspace.", code="unknown_group", field="group_id")
        roles = reconcile.vocabulary(app.kind).roles
        if body.app_role is not None and body.app_role not in roles:
            raise Invalid(f"app_role must be one of {', '.join(roles)}.", field="app_role")
        grants = [g.model_dump() for g in body.assets]
        row = store.create(conn, who.workspace_id, app_id, body.group_id, body.bridge_role, body.app_role, grants)
        audit(conn, who.workspace_id, who.actor, "app.rule.create", "AssignmentRule", row.id,
              detail={"app_id": app_id, "group_id": body.group_id, "bridge_role": body.bridge_role,
                      "app_role": body.app_role, "assets": grants})  # fmt: skip
        plan = reconcile.persist(conn, who.workspace_id, reconcile.load(conn, who.workspace_id, app), who.actor)
        return rule_view(row) | {"jobs": plan["jobs"]}

    out = await svc.db.write(unit)
    svc.wake_worker()
    return out


async def delete_rule(svc: Services, who: Principal, app_id: str, rule_id: str) -> None:
    def unit(conn: Connection) -> None:
        app = app_store.get_app(conn, who.workspace_id, app_id)
        store.delete_rule(conn, app_id, rule_id)
        audit(conn, who.workspace_id, who.actor, "app.rule.delete", "AssignmentRule", rule_id, detail={"app_id": app_id})
        reconcile.persist(conn, who.workspace_id, reconcile.load(conn, who.workspace_id, app), who.actor)

    await svc.db.write(unit)
    svc.wake_worker()
