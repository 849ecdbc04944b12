"""The user access review over HTTP on both databases: every open account of an app with its
directory user, manager, department, role, assets, state and exemption; as JSON and as CSV;
the read is audited, another workspace's app is a 404; with ``at`` the report is the access
that held then (before the exemption: unmatched; before the import: nobody)."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from connectors.sandbox import SandboxClient
from scim_server.store.db import now
from tests.admin.conftest import admin, github, sandbox, scim_client  # noqa: F401  (fixtures)
from tests.admin.helpers import check, connect, members
from tests.clock import leave_millisecond
from tests.servers import RunningServer


def _instant() -> str:
    """Now, as ISO 8601, once the clock has left this millisecond: a change made after this call
    is strictly later than the instant returned."""
    at = now()
    leave_millisecond(at)
    return at.isoformat()


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
    before_import = _instant()
    check(admin, app_id)
    bot = members(admin, app_id, "unmatched")["bot@example.com"]
    before_exempt = _instant()
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

    then = admin.get("/access", params={"app_id": app_id, "at": before_exempt}).json()
    assert then["app_id"] == app_id and then["at"][:19] == before_exempt[:19]
    earlier = {row["account_email"]: row for row in then["items"]}
    assert set(earlier) == set(rows) and earlier["bot@example.com"]["state"] == "unmatched"
    assert earlier["bot@example.com"]["exempt_reason"] is None
    assert earlier["grace@example.com"] == {**rows["grace@example.com"], "last_seen": earlier["grace@example.com"]["last_seen"]}
    assert admin.get("/access", params={"app_id": app_id, "at": before_import}).json()["items"] == []
    now_report = admin.get("/access", params={"app_id": app_id, "at": _instant()}).json()["items"]
    assert {r["account_email"]: r["state"] for r in now_report} == {k: v["state"] for k, v in rows.items()}
    for bad in ("yesterday", "2026-01-01T00:00:00"):
        assert admin.get("/access", params={"app_id": app_id, "at": bad}).status_code == 400, bad
    future = admin.get("/access", params={"app_id": app_id, "at": "2999-01-01T00:00:00Z"}).json()
    assert future["at"] < "2999" and {r["account_email"]: r["state"] for r in future["items"]} == {
        k: v["state"] for k, v in rows.items()}  # not yet past: answered for now, and says so
    assert admin.get("/access", params={"app_id": "nope"}).status_code == 404
    other = server.token("another-" + app_id[:8], "admin")
    assert httpx.get(server.url + "/api/v1/access", params={"app_id": app_id},
                     headers={"Authorization": f"Bearer {other}"}).status_code == 404  # fmt: skip
    reads = admin.get("/audit", params={"action": "access.read"}).json()["items"]
    assert len(reads) == 6 and reads[0]["app_id"] == app_id


def test_the_trail_filtered_by_app_holds_the_events_on_the_app_and_its_members(
    admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any], scim_client: httpx.Client,  # noqa: F811
) -> None:  # fmt: skip
    """``GET /audit?app_id=`` finds the app's own events (its target), its members' and rules'
    (the app named in their detail), from the admin and from its jobs, and nothing else."""
    _manager_user(scim_client)
    app_id = connect(admin, sandbox, github)
    check(admin, app_id)
    bot = members(admin, app_id, "unmatched")["bot@example.com"]
    assert admin.post(f"/apps/{app_id}/members/{bot['id']}/exempt", json={"reason": "CI account"}).status_code == 200
    events = admin.get("/audit", params={"app_id": app_id, "limit": 200}).json()["items"]
    actions = {e["action"] for e in events}
    assert {"app.connect", "app.check.request", "app.check", "app.member.exempt"} <= actions, actions
    assert {e["app_id"] for e in events} == {app_id}
    everything = admin.get("/audit", params={"limit": 200}).json()["items"]
    assert any(e["action"].startswith("scim.") and e["app_id"] is None for e in everything)  # not about an app
