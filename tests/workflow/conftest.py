"""Workflow fixtures: admin and SCIM clients of a fresh workspace, and the sandbox vendor fakes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connectors.sandbox import SandboxClient
from tests.servers import RunningServer


@pytest.fixture
def admin(server: RunningServer, workspace: str) -> Iterator[httpx.Client]:
    token = server.token(workspace, "admin")
    with httpx.Client(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as client:  # fmt: skip
        yield client


@pytest.fixture
def scim(server: RunningServer, workspace: str) -> Iterator[httpx.Client]:
    token = server.token(workspace, "scim")
    with httpx.Client(base_url=server.scim, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        yield client


@pytest.fixture
def sandbox(vendor_sandbox: str) -> Iterator[SandboxClient]:
    client = SandboxClient(vendor_sandbox)
    yield client
    client.close()
