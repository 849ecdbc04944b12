"""Fixtures for the OpenAPI tests: HTTP clients whose every answer is judged against the document.

``checked`` is a ``Recorder``: clients made with ``recorder.client(...)`` run each response through
``answer_problems`` (an httpx response hook) and remember which (operation, status) pairs were seen,
so a test can assert both "nothing contradicted the document" and "the flow really went there".
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from schemathesis.specs.openapi.schemas import OpenApiSchema

from connectors.sandbox import SandboxClient
from tests.openapi.spec import answer_problems, load_schema
from tests.servers import RunningServer


@dataclass
class Recorder:
    schema: OpenApiSchema
    problems: list[str] = field(default_factory=list)
    seen: set[tuple[str, int]] = field(default_factory=set)
    clients: list[httpx.Client] = field(default_factory=list)

    def _judge(self, response: httpx.Response) -> None:
        response.read()
        self.problems += answer_problems(self.schema, response)
        operation = self.schema.find_operation_by_path(response.request.method, response.request.url.path)
        if operation is not None:
            self.seen.add((operation.label, response.status_code))

    def client(self, base_url: str, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=base_url, headers=headers, timeout=60,
                              event_hooks={"response": [self._judge]})  # fmt: skip
        self.clients.append(client)
        return client

    def assert_conforms(self) -> None:
        assert not self.problems, "\n\n".join(self.problems)

    def assert_seen(self, expected: set[tuple[str, int]]) -> None:
        assert expected <= self.seen, f"never answered: {sorted(expected - self.seen)}"


@pytest.fixture(scope="session")
def openapi_schema() -> OpenApiSchema:
    return load_schema()


@pytest.fixture
def recorder(openapi_schema: OpenApiSchema) -> Iterator[Recorder]:
    rec = Recorder(openapi_schema)
    yield rec
    for client in rec.clients:
        client.close()


@dataclass(frozen=True)
class Clients:
    admin: httpx.Client
    scim: httpx.Client
    anonymous: httpx.Client
    wrong_scope_admin: httpx.Client  # a scim token on /api/v1
    wrong_scope_scim: httpx.Client  # an admin token on /scim/v2


@pytest.fixture
def clients(server: RunningServer, workspace: str, recorder: Recorder) -> Clients:
    admin_token, scim_token = server.token(workspace, "admin"), server.token(workspace, "scim")
    return Clients(
        admin=recorder.client(server.url + "/api/v1", admin_token),
        scim=recorder.client(server.scim, scim_token),
        anonymous=recorder.client(server.url, None),
        wrong_scope_admin=recorder.client(server.url + "/api/v1", scim_token),
        wrong_scope_scim=recorder.client(server.scim, admin_token),
    )


@pytest.fixture
def sandbox(vendor_sandbox: str) -> Iterator[SandboxClient]:
    """The sandbox control client; no reset (each test seeds its own org, so tests never collide)."""
    client = SandboxClient(vendor_sandbox)
    yield client
    client.close()


def seed_github(sandbox: SandboxClient, org: str, token: str) -> None:
    members: list[dict[str, Any]] = [
        {"email": "ada@example.com", "name": "ada", "role": "admin", "status": "active"},
        {"email": "grace@example.com", "name": "grace", "role": "member", "status": "active"},
        {"email": "agency@outside.example", "name": "agency", "role": "member", "status": "active"},
        {"email": "bot@example.com", "name": "bot", "role": "member", "status": "active"},
    ]
    sandbox.seed("github", {
        "org": org, "token": token, "members": members,
        "assets": [{"id": "repo-1", "name": "repo-1", "type": "repository",
                    "grants": [{"email": "grace@example.com", "permission": "push"},
                               {"email": "agency@outside.example", "permission": "admin"}]}],
    })  # fmt: skip


def pytest_sessionfinish(session: pytest.Session) -> None:
    """With ``ST_TALLY=prefix``: write test_schemathesis' failure counts and samples (see there)."""
    prefix = os.environ.get("ST_TALLY")
    module = sys.modules.get("tests.openapi.test_schemathesis")
    if prefix and module is not None and (module.TALLY or module.SAMPLES):
        Path(f"{prefix}.{os.getpid()}").write_text(json.dumps(module.TALLY, indent=1, sort_keys=True))
        Path(f"{prefix}.{os.getpid()}.samples").write_text(json.dumps(module.SAMPLES, indent=1, default=repr))
