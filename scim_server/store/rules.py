"""Assignment rules (directory group -> bridge role, app role, asset grants): their SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select

from scim_server.store import paging
from scim_server.store.app_models import AssignmentRule
from scim_server.store.db import new_id, now
from scim_server.store.models import ScimGroup

rules = AssignmentRule.__table__
groups = ScimGroup.__table__


class RuleNotFound(LookupError):
    """No rule with that id on the app: a 404 on every face."""


def group_exists(conn: Connection, ws: int, group_id: str) -> bool:
    return conn.execute(select(groups.c.id).where(groups.c.workspace_id == ws, groups.c.id == group_id)).first() is not None


def of_app(conn: Connection, app_id: str) -> list[Any]:
    return list(conn.execute(select(rules).where(rules.c.app_id == app_id).order_by(rules.c.id)))


def page(conn: Connection, app_id: str, after: tuple[datetime, str] | None, limit: int) -> list[Any]:
    query = select(rules).where(rules.c.app_id == app_id)
    return list(conn.execute(paging.window(query, (rules.c.created, rules.c.id), after, limit)))


def create(conn: Connection, ws: int, app_id: str, group_id: str, bridge_role: str, app_role: str | None,
           grants: list[dict[str, str]]) -> Any:  # fmt: skip
    rule_id = new_id()
    conn.execute(insert(rules).values(id=rule_id, workspace_id=ws, app_id=app_id, group_id=group_id,
                                      bridge_role=bridge_role, app_role=app_role,
                                      asset_grants=orjson.dumps(grants).decode(), created=now()))  # fmt: skip
    return conn.execute(select(rules).where(rules.c.id == rule_id)).first()


def delete_rule(conn: Connection, app_id: str, rule_id: str) -> None:
    if conn.execute(delete(rules).where(rules.c.app_id == app_id, rules.c.id == rule_id)).rowcount == 0:
        raise RuleNotFound(rule_id)
