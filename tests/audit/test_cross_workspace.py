"""A known token reaching for another workspace's object gets the same 404 as for an object that
does not exist, and the attempt is recorded as ``access.cross_workspace`` (denied) in both
workspaces; a plain 404 records nothing."""

from __future__ import annotations

import uuid

import httpx
import pytest

from connectors.sandbox import SandboxClient
from tests.audit.test_api import USER_SCHEMA, _all
from tests.servers import RunningServer

pytestmark = pytest.mark.parametrize("server", ["sqlite", "postgresql"], indirect=True)


def _client(server: RunningServer, workspace: str, scope: str, base: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {server.token(workspace, scope)}"}, timeout=30)


def test_reaching_into_another_workspace_is_404_and_recorded_in_both(server: RunningServer, vendor_sandbox: str) -> None:
    sandbox = SandboxClient(vendor_sandbox)
    org, token = f"org-{uuid.uuid4().hex[:8]}", f"ghp-{uuid.uuid4().hex[:8]}"
    sandbox.seed("github", {"org": org, "token": token, "members": []})
    owner, intruder = f"ws-{uuid.uuid4().hex[:8]}", f"ws-{uuid.uuid4().hex[:8]}"
    owner_scim = _client(server, owner, "scim", server.scim)
    owner_admin = _client(server, owner, "admin", server.url + "/api/v1")
    user_id = owner_scim.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "kept@example.com"}).json()["id"]
    app = owner_admin.post("/apps", json={"kind": "github", "label": "Eng", "business_id": org,
                                          "automation_account": {"api_token": token},
                                          "api_base_url": sandbox.kind_url("github")})  # fmt: skip
    assert app.status_code == 201, app.text
    app_id = app.json()["id"]

    their_scim = _client(server, intruder, "scim", server.scim)
    their_admin = _client(server, intruder, "admin", server.url + "/api/v1")
    missing = their_scim.get(f"/Users/{uuid.uuid4()}")
    reached = their_scim.get(f"/Users/{user_id}")
    assert reached.status_code == missing.status_code == 404
    assert set(reached.json()) == set(missing.json())  # nothing tells it apart from a missing one
    assert their_admin.get(f"/apps/{app_id}").status_code == 404
    assert their_admin.get(f"/apps/{uuid.uuid4()}").status_code == 404

    def recorded(client: httpx.Client) -> list[tuple[str, str]]:
        events = _all(client, action="access.cross_workspace")
        assert all(e["outcome"] == "denied" for e in events)
        return sorted((e["target"]["type"], e["target"]["id"]) for e in events)

    expected = sorted([("App", app_id), ("User", user_id)])
    owner_audit = _client(server, owner, "audit", server.url)
    their_audit = _client(server, intruder, "audit", server.url)
    assert recorded(owner_audit) == expected
    assert recorded(their_audit) == expected  # the plain 404s (unknown ids) recorded nothing
    for client in (owner_scim, owner_admin, their_scim, their_admin, owner_audit, their_audit):
        client.close()
    sandbox.close()
