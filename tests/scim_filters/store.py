"""Users written as the store writes them (a ``scim_users`` row plus ``user_value_rows``),
and queries through the filter and sort plans under test."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine, delete, insert, select

from scim_server.scim import filters
from scim_server.store.models import ScimGroup, ScimGroupMember, ScimUser, ScimUserValue, Workspace
from scim_server.store.values import USER_MODEL, comparison_key, user_value_rows

WS, OTHER_WS = 1, 2
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@dataclass
class StoredUser:
    id: str
    doc: dict  # canonical document (scim2-models dump)
    created: datetime
    workspace_id: int = WS

    def model(self) -> Any:
        """The scim2-models object the reference ``ScimFilter.match`` evaluates."""
        stamp = self.created.isoformat()
        meta = {"resourceType": "User", "created": stamp, "lastModified": stamp}
        return USER_MODEL.model_validate({**self.doc, "id": self.id, "meta": meta})


def canonical(body: dict) -> dict:
    """A request body as the server stores it: validated, then dumped by scim2-models."""
    schemas = [CORE, ENTERPRISE] if ENTERPRISE in body else [CORE]
    return USER_MODEL.model_validate({"schemas": schemas, **body}).model_dump()


def user(
    body: dict, created: datetime | None = None, workspace_id: int = WS, user_id: str | None = None
) -> StoredUser:
    at = created or datetime(2024, 1, 1, tzinfo=UTC)
    return StoredUser(user_id or str(uuid.uuid4()), canonical(body), at, workspace_id)


class FilterStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_workspaces(self) -> None:
        with self.engine.begin() as conn:
            for ws in (WS, OTHER_WS):
                conn.execute(insert(Workspace), {"id": ws, "name": f"ws{ws}", "created": datetime.now(UTC)})

    def clear(self) -> None:
        with self.engine.begin() as conn:
            for model in (ScimGroupMember, ScimGroup, ScimUserValue, ScimUser):
                conn.execute(delete(model))

    def add(self, *people: StoredUser) -> None:
        with self.engine.begin() as conn:
            for person in people:
                conn.execute(insert(ScimUser), _user_row(person))
                rows = user_value_rows(person.id, person.workspace_id, person.doc)
                if rows:
                    conn.execute(insert(ScimUserValue), rows)

    def add_group(self, name: str, member_ids: list[str], workspace_id: int = WS) -> str:
        group_id, at = str(uuid.uuid4()), datetime(2024, 1, 1, tzinfo=UTC)
        with self.engine.begin() as conn:
            conn.execute(
                insert(ScimGroup),
                {"id": group_id, "workspace_id": workspace_id, "display_name": name,
                 "display_name_ci": comparison_key(name), "external_id": None,
                 "doc": orjson.dumps({"displayName": name}).decode(), "version": 1,
                 "created": at, "last_modified": at},
            )  # fmt: skip
            for member in member_ids:
                conn.execute(
                    insert(ScimGroupMember),
                    {"group_id": group_id, "member_id": member, "workspace_id": workspace_id,
                     "member_type": "User"},
                )
        return group_id

    def user_ids(self, text: str, workspace_id: int = WS, *, with_workspace: bool = True) -> set[str]:
        """Ids of the workspace's users matching the filter, evaluated by the database."""
        users = ScimUser.__table__
        where = filters.user_where(text, workspace_id if with_workspace else None)
        query = select(users.c.id).where(users.c.workspace_id == workspace_id, where)
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def group_ids(self, text: str, workspace_id: int = WS) -> set[str]:
        groups = ScimGroup.__table__
        where = filters.group_where(text, workspace_id)
        query = select(groups.c.id).where(groups.c.workspace_id == workspace_id, where)
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def sorted_ids(
        self, sort_by: str | None, order: str | None, offset: int = 0, limit: int = 1000
    ) -> list[str]:
        users = ScimUser.__table__
        query = (
            select(users.c.id)
            .where(users.c.workspace_id == WS)
            .order_by(*filters.user_order_by(sort_by, order))
            .offset(offset)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())


def _user_row(person: StoredUser) -> dict:
    doc = person.doc
    return {
        "id": person.id,
        "workspace_id": person.workspace_id,
        "user_name": doc["userName"],
        "user_name_ci": comparison_key(doc["userName"]),
        "external_id": doc.get("externalId"),
        "display_name": doc.get("displayName"),
        "active": doc.get("active", True) is not False,
        "password_hash": None,
        "doc": orjson.dumps(doc).decode(),
        "version": 1,
        "created": person.created,
        "last_modified": person.created,
    }
