"""Managed from the IdP (assignment rules), the mass-removal guard, and jobs under vendor faults."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.sandbox import SandboxClient
from tests.admin.helpers import check, connect, members, remote_emails, scim_user, unique, wait_idle, wait_job

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def _group(scim: httpx.Client, name: str, member_ids: list[str]) -> str:
    body = {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in member_ids]}
    return str(scim.post("/Groups", json=body).json()["id"])


def _members_patch(scim: httpx.Client, group_id: str, op: str, user_id: str) -> None:
    body = {"schemas": [PATCH], "Operations": [{"op": op, "path": "members", "value": [{"value": user_id}]}]}
    assert scim.patch(f"/Groups/{group_id}", json=body).status_code in (200, 204)


def _remote(sandbox: SandboxClient, org: str) -> dict[str, dict[str, Any]]:
    return {m["email"]: m for m in sandbox.state("github", org)["members"]}


def test_rules_invite_upgrade_and_remove(admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any],
                                         scim_client: httpx.Client) -> None:  # fmt: skip
    dev = scim_user(scim_client, "dev@example.com")
    engineers = _group(scim_client, "Engineers", [dev])
    admins = _group(scim_client, "GitHub admins", [])
    app_id = connect(admin, sandbox, github, policy="automatic")
    check(admin, app_id)
    rule = admin.post(f"/apps/{app_id}/rules", json={"group_id": engineers, "bridge_role": "collaborator",
                                                     "app_role": "member"})  # fmt: skip
    assert rule.status_code == 201, rule.text
    admin.post(f"/apps/{app_id}/rules", json={"group_id": admins, "bridge_role": "owner", "app_role": "admin"})
    wait_idle(admin, app_id)
    assert _remote(sandbox, github["org"])["dev@example.com"]["status"] == "pending"  # joining invites

    sandbox.accept("github", github["org"], "dev@example.com")
    check(admin, app_id)
    _members_patch(scim_client, admins, "add", dev)  # two rules apply: the highest role wins
    wait_idle(admin, app_id)
    assert _remote(sandbox, github["org"])["dev@example.com"]["role"] == "admin"
    assert members(admin, app_id, "matched")["dev@example.com"]["bridge_role"] == "owner"

    _members_patch(scim_client, admins, "remove", dev)
    _members_patch(scim_client, engineers, "remove", dev)  # leaving every rule's group removes
    wait_idle(admin, app_id)
    assert "dev@example.com" not in remote_emails(sandbox, github["org"])
    assert admin.delete(f"/apps/{app_id}/rules/{rule.json()['id']}").status_code == 204
    assert admin.post(f"/apps/{app_id}/rules", json={"group_id": "no-such-group"}).status_code == 400


def test_mass_removal_guard_holds_until_applied(admin: httpx.Client, sandbox: SandboxClient,
                                                scim_client: httpx.Client) -> None:  # fmt: skip
    org, token = unique("org"), unique("ghp")
    people = [f"p{n}@example.com" for n in range(6)]
    sandbox.seed("github", {"org": org, "token": token, "members": [
        {"email": e, "name": e.split("@")[0], "role": "member", "status": "active"} for e in people]})  # fmt: skip
    ids = [scim_user(scim_client, e) for e in people]
    app_id = connect(admin, sandbox, {"org": org, "token": token}, policy="automatic")
    assert admin.patch(f"/apps/{app_id}", json={"mass_removal_guard": {"count": 2, "percent": 30}}).status_code == 200
    check(admin, app_id)
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "PATCH", "path": f"/Users/{uid}", "data": {"schemas": [PATCH], "Operations": [
            {"op": "replace", "value": {"active": False}}]}} for uid in ids[:4]]}  # fmt: skip
    assert scim_client.post("/Bulk", json=body).status_code == 200
    wait_idle(admin, app_id)
    assert remote_emails(sandbox, org) == set(people)  # held: nothing removed
    reports = admin.get("/reports", params={"app_id": app_id, "status": "pending"}).json()["items"]
    assert len(reports) == 1 and reports[0]["held_reason"]
    assert sorted(e["status"] for e in reports[0]["entries"]) == ["held"] * 4
    denied = admin.get("/audit", params={"action": "app.member.remove", "outcome": "denied",
                                         "app_id": app_id}).json()["items"]  # fmt: skip
    assert sorted(e["target"]["id"] for e in denied) == sorted(e["member_id"] for e in reports[0]["entries"])
    job = wait_job(admin, admin.post(f"/reports/{reports[0]['id']}/apply").json()["job_id"])
    assert job["status"] == "completed" and job["progress"] == {"done": 4, "total": 4}
    assert remote_emails(sandbox, org) == set(people[4:])


def test_jobs_complete_under_faults_without_duplicate_invitations(admin: httpx.Client, sandbox: SandboxClient,
                                                                  github: dict[str, Any],
                                                                  scim_client: httpx.Client) -> None:  # fmt: skip
    newcomers = [scim_user(scim_client, f"new{n}@example.com") for n in range(3)]
    app_id = connect(admin, sandbox, github)
    sandbox.faults("github", error_rate=0.3, retry_after=0, seed=7)
    job = check(admin, app_id)
    assert job["result"]["imported"] == 4
    invites = [admin.post(f"/apps/{app_id}/invitations", json={"user_id": u}).json()["job_id"] for u in newcomers]
    agency = members(admin, app_id, "unmatched")["agency@outside.example"]
    removal = admin.post(f"/apps/{app_id}/members/{agency['id']}/remove").json()["job_id"]
    for job_id in [*invites, removal]:
        assert wait_job(admin, job_id, timeout=120)["status"] == "completed"
    assert sum(sandbox.fault_stats()["plans"]["github"]["injected"].values()) > 0
    sandbox.clear_faults()
    emails = [m["email"] for m in sandbox.state("github", github["org"])["members"]]
    for n in range(3):
        assert emails.count(f"new{n}@example.com") == 1
    assert "agency@outside.example" not in emails
