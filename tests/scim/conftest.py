"""A real scim-bridge per database kind for the whole session; each test gets a client
whose workspace is its own (so tests never see each other's users)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.db import database_url
from tests.servers import RunningServer, scim_bridge


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory: Path = tmp_path_factory.mktemp("scim-db")
    with database_url(str(request.param), directory) as url, scim_bridge(url) as running:
        yield running


@pytest.fixture
def workspace() -> str:
    return f"ws-{uuid.uuid4().hex[:10]}"


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
