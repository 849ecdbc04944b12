"""Schemathesis against openapi/openapi.yaml and the live server (real HTTP on loopback).

Every operation of the document (admin API and SCIM) gets generated requests, valid and
invalid, sent with a valid token of the scope the route needs (``admin`` for /api/v1, ``scim``
for /scim/v2). Checks: ``not_a_server_error`` (no 5xx), and the answer conforms to the document
(``status_code_conformance``, ``content_type_conformance``, ``response_schema_conformance``).

Runs on SQLite and PostgreSQL (the ``server`` fixture is parametrised). Bounded: ``MAX_EXAMPLES``
per operation (positive and negative cases), schemathesis' examples, coverage and fuzzing phases
(stateful is left out: links are not described), no deadline (the server's latency is not what
is under test), derandomized so a failure reproduces. About 35 s for both databases on 2 cores.

To reach past the 404 of an unknown id, each run seeds one connected GitHub app on the sandbox
(checked, so it has members, assets and jobs), and generated path ids are swapped for the seeded
ones on half of the cases (chosen by the generated value itself, so it is reproducible).

Nothing is excluded. Two generated values are rewritten, with the reason:

* ``api_base_url`` in ``POST /api/v1/apps`` and ``PATCH /api/v1/apps/{app_id}`` is always set to
  the sandbox (loopback): connecting checks the credentials against the app, and the suite
  may only talk to 127.0.0.1 (a generated or null URL would reach the vendor's real host).
* ``DELETE /api/v1/apps/{app_id}`` never gets the seeded app's id, so later cases keep an app to
  act on (deletion itself is covered in test_conformance.py).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from connectors.sandbox import SandboxClient
from tests.openapi.conftest import seed_github
from tests.openapi.spec import load_schema
from tests.servers import RunningServer

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass(frozen=True)
class Seeded:
    """The live server, its tokens, and ids worth aiming generated requests at."""

    sandbox_url: str
    admin_token: str
    scim_token: str
    ids: dict[str, list[str]]


def _seed(server: RunningServer, sandbox_url: str) -> Seeded:
    workspace = f"st-{uuid.uuid4().hex[:8]}"
    admin_token, scim_token = server.token(workspace, "admin"), server.token(workspace, "scim")
    sandbox = SandboxClient(sandbox_url)
    org, vendor_token = f"org-{workspace}", f"ghp-{workspace}"
    seed_github(sandbox, org, vendor_token)
    sandbox.close()
    with httpx.Client(
        base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {admin_token}"}
    ) as admin:
        scim = {"Authorization": f"Bearer {scim_token}"}
        user = admin.post("/scim/v2/Users", headers=scim, json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@example.com",
            "emails": [{"value": "ada@example.com"}]}).json()["id"]  # fmt: skip
        group = admin.post("/scim/v2/Groups", headers=scim, json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "eng"}).json()["id"]  # fmt: skip
        app = admin.post("/api/v1/apps", json={
            "kind": "github", "label": "Eng", "business_id": org, "automation_account": {"api_token": vendor_token},
            "api_base_url": f"{sandbox_url}/github"})  # fmt: skip
        assert app.status_code == 201, app.text
        app_id = app.json()["id"]
        job_id = admin.post(f"/api/v1/apps/{app_id}/check").json()["job_id"]
        deadline = time.monotonic() + 60
        while admin.get(f"/api/v1/jobs/{job_id}").json()["status"] not in ("completed", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        members = [m["id"] for m in admin.get(f"/api/v1/apps/{app_id}/members").json()["items"]]
    ids = {"app_id": [app_id], "member_id": members, "job_id": [job_id], "id": [user, group],
           "rule_id": [], "report_id": []}  # fmt: skip
    return Seeded(sandbox_url, admin_token, scim_token, ids)


@pytest.fixture(scope="session")
def seeded(server: RunningServer, vendor_sandbox: str) -> Seeded:
    return _seed(server, vendor_sandbox)


def _schema() -> OpenApiSchema:
    loaded = load_schema()
    loaded.config.phases.update(phases=["examples", "coverage", "fuzzing"])
    return loaded


# Loaded eagerly: schemathesis.pytest.from_fixture (lazy) breaks on pytest 9 (it writes
# ``request.node._nodeid``, gone in pytest 9), so the base URL is given per call instead.
schema = _schema()


def _aim(case: Any, seeded: Seeded) -> None:
    """Swap generated path ids for seeded ones on half of the cases (by the generated value)."""
    params = case.path_parameters or {}
    for name, value in params.items():
        choices = seeded.ids.get(name) or []
        if name == "app_id" and case.method == "DELETE" and case.path == "/api/v1/apps/{app_id}":
            continue  # keep the seeded app for the other cases
        if choices and len(str(value)) % 2 == 0:
            params[name] = choices[len(str(value)) % len(choices)]


def _loopback_only(case: Any, seeded: Seeded) -> None:
    """Connecting an app calls it: keep every such call on the loopback sandbox."""
    writes_app = case.path in ("/api/v1/apps", "/api/v1/apps/{app_id}") and case.method in ("POST", "PATCH")
    if writes_app and isinstance(case.body, dict):
        kind = case.body.get("kind")
        kind = kind if isinstance(kind, str) and kind.isidentifier() else "github"
        case.body["api_base_url"] = f"{seeded.sandbox_url}/{kind}"


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_no_server_error_and_answers_conform(case: Any, server: RunningServer, seeded: Seeded) -> None:
    _aim(case, seeded)
    _loopback_only(case, seeded)
    token = seeded.scim_token if case.path.startswith("/scim/") else seeded.admin_token
    case.call_and_validate(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, timeout=60
    )
