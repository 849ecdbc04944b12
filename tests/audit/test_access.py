"""The user access review over HTTP on both databases: every open account of an app with its
directory user, manager, department, role, assets, state and exemption; as JSON and as CSV;
the read is audited, another workspace's app is a 404, and a past ``at`` is refused (not yet
reconstructed) rather than answered with today's state."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from connectors.sandbox import SandboxClient
from tests.admin.conftest import admin, github, sandbox, scim_client  # noqa: F401  (fixtures)
from tests.admin.helpers import check, connect, members
from tests.servers import RunningServer


def _manager_user(scim: httpx.Client) -> str:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName": "grace@example.com", "emails": [{"value": "grace@example.com", "primary": True}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "=Finance", "manager": {"value": "boss-1", "displayName": "Ada Boss"}}}  # fmt: skip
    response = scim.post("/Users", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_access_review(server: RunningServer, admin: httpx.Client, sandbox: SandboxClient,  # noqa: F811
                       github: dict[str, Any], scim_client: httpx.Client) -> None:  # noqa: F811  # fmt: skip
    grace = _manager_user(scim_client)
    app_id = connect(admin, sandbox, github)
    check(admin, app_id)
    bot = members(admin, app_id, "unmatched")["bot@example.com"]
    assert admin.post(f"/apps/{app_id}/members/{bot['id']}/exempt", json={"reason": "CI account"}).status_code == 200

    r = admin.get("/access", params={"app_id": app_id})
    assert r.status_code == 200, r.text
    rows = {row["account_email"]: row for row in r.json()["items"]}
    assert set(rows) == {"ada@example.com", "grace@example.com", "agency@outside.example", "bot@example.com"}
    g = rows["grace@example.com"]
    assert (g["directory_user_id"], g["directory_user"], g["manager"], g["department"], g["state"]) == (
        grace, "grace@example.com", "boss-1", "=Finance", "matched")  # displayName is read-only: not kept
    assert g["assets"] == ["repo-1:push"] and g["app"] == "Eng"
    b = rows["bot@example.com"]
    assert (b["state"], b["exempt_reason"], b["exempted_by"]) == ("exempted", "CI account", b["exempted_by"])
    assert b["exempted_by"] and b["last_seen"]

    text = admin.get("/access", params={"app_id": app_id, "format": "csv"}).text
    table = list(csv.DictReader(io.StringIO(text)))
    assert {row["account_email"] for row in table} == set(rows)
    assert next(row for row in table if row["account_email"] == "grace@example.com")["department"] == "'=Finance"

    assert admin.get("/access", params={"app_id": app_id, "at": "2026-01-01T00:00:00Z"}).status_code == 400
    assert admin.get("/access", params={"app_id": "nope"}).status_code == 404
    other = server.token("another-" + app_id[:8], "admin")
    assert httpx.get(server.url + "/api/v1/access", params={"app_id": app_id},
                     headers={"Authorization": f"Bearer {other}"}).status_code == 404  # fmt: skip
    reads = admin.get("/audit", params={"action": "access.read"}).json()["items"]
    assert len(reads) == 2 and reads[0]["app_id"] == app_id
