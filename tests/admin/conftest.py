"""Admin API fixtures: a client with a fresh workspace's admin token, and the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.sandbox import SandboxClient
from tests.admin.helpers import unique
from tests.servers import RunningServer


@pytest.fixture
def admin(server: RunningServer, workspace: str) -> Iterator[httpx.Client]:
    token = server.token(workspace, "admin")
    with httpx.Client(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as client:  # fmt: skip
        yield client


@pytest.fixture
def sandbox(vendor_sandbox: str) -> Iterator[SandboxClient]:
    client = SandboxClient(vendor_sandbox)
    client.reset("empty")
    yield client
    client.close()


@pytest.fixture
def scim_client(server: RunningServer, workspace: str) -> Iterator[httpx.Client]:
    token = server.token(workspace, "scim")
    with httpx.Client(base_url=server.scim, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        yield client


@pytest.fixture
def github(sandbox: SandboxClient) -> dict[str, Any]:
    org, token = unique("org"), unique("ghp")
    sandbox.seed("github", {
        "org": org, "token": token,
        "members": [
            {"email": "ada@example.com", "name": "ada", "role": "admin", "status": "active"},
            {"email": "grace@example.com", "name": "grace", "role": "member", "status": "active"},
            {"email": "agency@outside.example", "name": "agency", "role": "member", "status": "active"},
            {"email": "bot@example.com", "name": "bot", "role": "member", "status": "active"},
        ],
        "assets": [{"id": "repo-1", "name": "repo-1", "type": "repository",
                    "grants": [{"email": "grace@example.com", "permission": "push"},
                               {"email": "agency@outside.example", "permission": "admin"}]}],
    })  # fmt: skip
    return {"org": org, "token": token}
