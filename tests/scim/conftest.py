"""A real scim-bridge per database kind for the whole session; each test gets a client
whose workspace is its own (so tests never see each other's users)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.servers import RunningServer


@pytest.fixture
def scim(server: RunningServer, workspace: str) -> Iterator[httpx.Client]:
    """An httpx client on /scim/v2 with a fresh workspace's SCIM token."""
    token = server.token(workspace)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    with httpx.Client(base_url=server.scim, headers=headers, timeout=30) as client:
        yield client


def user_body(user_name: str | None = None, **extra: object) -> dict:
    name = user_name or f"user-{uuid.uuid4().hex[:8]}@example.com"
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": name, "type": "work", "primary": True}],
        "active": True,
        **extra,
    }


def group_body(display_name: str | None = None, members: list[str] | None = None) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": display_name or f"group-{uuid.uuid4().hex[:8]}",
        "members": [{"value": m} for m in members or []],
    }
