"""End to end over real HTTP: connect an app on the sandbox, check for updates, the sets, admin
actions, and IdP-driven deprovisioning (report and automatic), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.sandbox import SandboxClient
from tests.admin.helpers import check, connect, members, scim_user, wait_job


def test_check_match_exempt_remove(admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any],
                                   scim_client: httpx.Client) -> None:  # fmt: skip
    ada, grace = scim_user(scim_client, "ada@example.com"), scim_user(scim_client, "Grace@Example.com")
    app_id = connect(admin, sandbox, github)
    job = check(admin, app_id)
    assert job["result"]["imported"] == 4 and job["progress"]["done"] == 4
    matched = members(admin, app_id, "matched")
    assert {e: m["user_id"] for e, m in matched.items()} == {"ada@example.com": ada, "grace@example.com": grace}
    assert matched["grace@example.com"]["assets"] == [{"asset_id": "repo-1", "permission": "push"}]
    unmatched = members(admin, app_id, "unmatched")
    assert set(unmatched) == {"agency@outside.example", "bot@example.com"}

    bot = unmatched["bot@example.com"]
    response = admin.post(f"/apps/{app_id}/members/{bot['id']}/exempt", json={"reason": "CI service account"})
    assert response.status_code == 200 and response.json()["state"] == "exempted"
    assert admin.post(f"/apps/{app_id}/members/{bot['id']}/exempt", json={"reason": ""}).status_code == 400
    assert members(admin, app_id, "exempted")["bot@example.com"]["exempt_reason"] == "CI service account"

    agency = unmatched["agency@outside.example"]
    response = admin.post(f"/apps/{app_id}/members/{agency['id']}/remove")
    assert response.status_code == 202
    assert wait_job(admin, response.json()["job_id"])["status"] == "completed"
    state = sandbox.state("github", github["org"])
    assert "agency@outside.example" not in {m["email"] for m in state["members"]}
    agency_remote = agency["remote_id"]
    assert all(g["remote_id"] != agency_remote for a in state["assets"] for g in a["grants"])
    assert "agency@outside.example" not in members(admin, app_id, "unmatched")

    again = check(admin, app_id)  # a fresh import keeps the exemption and the matches
    everyone = admin.get(f"/apps/{app_id}/members").json()["items"]
    assert set(members(admin, app_id, "exempted")) == {"bot@example.com"}, (again, everyone)
    assert set(members(admin, app_id, "matched")) == {"ada@example.com", "grace@example.com"}, (again, everyone)
    plan = admin.get(f"/apps/{app_id}/plan").json()
    assert plan["actions"] == [] and plan["sets"]["matched"] == 2


def test_match_and_roles(admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any],
                         scim_client: httpx.Client) -> None:  # fmt: skip
    someone = scim_user(scim_client, "someone@example.com")
    app_id = connect(admin, sandbox, github)
    check(admin, app_id)
    agency = members(admin, app_id, "unmatched")["agency@outside.example"]
    response = admin.post(f"/apps/{app_id}/members/{agency['id']}/match",
                          json={"user_id": someone, "bridge_role": "owner"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert members(admin, app_id, "matched")["agency@outside.example"]["bridge_role"] == "owner"
    assert admin.post(f"/apps/{app_id}/members/{agency['id']}/match", json={"user_id": "nobody"}).status_code == 400
    changed = admin.patch(f"/apps/{app_id}/members/{agency['id']}", json={"app_role": "admin"})
    assert changed.status_code == 202
    assert wait_job(admin, changed.json()["job_id"])["status"] == "completed"
    roles = {m["email"]: m["role"] for m in sandbox.state("github", github["org"])["members"]}
    assert roles["agency@outside.example"] == "admin"
    assert admin.patch(f"/apps/{app_id}/members/{agency['id']}", json={"app_role": "emperor"}).status_code == 400


def test_invite_pending_until_accepted(admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any],
                                       scim_client: httpx.Client) -> None:  # fmt: skip
    newcomer = scim_user(scim_client, "newcomer@example.com")
    app_id = connect(admin, sandbox, github)
    response = admin.post(f"/apps/{app_id}/invitations", json={"user_id": newcomer, "bridge_role": "collaborator"})
    assert response.status_code == 202
    job = wait_job(admin, response.json()["job_id"])
    assert job["status"] == "completed" and job["result"]["status"] == "pending"
    pending = {m["email"]: m for m in sandbox.state("github", github["org"])["members"]}["newcomer@example.com"]
    assert pending["status"] == "pending"
    again = admin.post(f"/apps/{app_id}/invitations", json={"user_id": newcomer, "bridge_role": "collaborator"})
    wait_job(admin, again.json()["job_id"])
    assert [m["email"] for m in sandbox.state("github", github["org"])["members"]].count("newcomer@example.com") == 1
    sandbox.accept("github", github["org"], "newcomer@example.com")
    check(admin, app_id)
    view = members(admin, app_id, "matched")["newcomer@example.com"]
    assert view["user_id"] == newcomer and view["status"] == "active"


def test_automation_account_is_never_planned_for_removal(admin: httpx.Client, sandbox: SandboxClient,
                                                         github: dict[str, Any], scim_client: httpx.Client) -> None:  # fmt: skip
    bot_user = scim_user(scim_client, "bot@example.com")
    app_id = connect(admin, sandbox, github, policy="automatic")
    check(admin, app_id)
    bot = members(admin, app_id, "matched")["bot@example.com"]
    configured = admin.patch(f"/apps/{app_id}", json={"automation_identity": {"remote_id": bot["remote_id"]}})
    assert configured.json()["automation_identity"]["remote_id"] == bot["remote_id"]
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": False}}]}  # fmt: skip
    assert scim_client.patch(f"/Users/{bot_user}", json=body).status_code == 200
    check(admin, app_id)
    assert "bot@example.com" in {m["email"] for m in sandbox.state("github", github["org"])["members"]}
    shown = members(admin, app_id, "matched")["bot@example.com"]  # the app's automation identity
    assert shown["automation"] and shown["match_source"] == "automation"
    assert all(a.get("remote_id") != bot["remote_id"] for a in admin.get(f"/apps/{app_id}/plan").json()["actions"])


def test_removal_fails_visibly_when_the_app_still_shows_the_member(admin: httpx.Client, sandbox: SandboxClient,
                                                                   github: dict[str, Any]) -> None:  # fmt: skip
    app_id = connect(admin, sandbox, github)
    check(admin, app_id)
    agency = members(admin, app_id, "unmatched")["agency@outside.example"]
    sandbox.faults("github", ignore_removals=True)  # the vendor says yes, and keeps the member
    job = wait_job(admin, admin.post(f"/apps/{app_id}/members/{agency['id']}/remove").json()["job_id"])
    sandbox.clear_faults()
    assert job["status"] == "failed" and "still present after removal" in job["error"]
    assert "agency@outside.example" in members(admin, app_id, "unmatched")  # not recorded as removed


def test_members_that_vanish_from_the_app_are_closed_not_deleted(admin: httpx.Client, sandbox: SandboxClient,
                                                                 github: dict[str, Any]) -> None:  # fmt: skip
    app_id = connect(admin, sandbox, github)
    check(admin, app_id)
    agency = members(admin, app_id, "unmatched")["agency@outside.example"]
    removed_by_hand = httpx.delete(f"{sandbox.kind_url('github')}/orgs/{github['org']}/memberships/{agency['remote_id']}",
                                   headers={"Authorization": f"Bearer {github['token']}"})  # fmt: skip
    assert removed_by_hand.status_code == 204
    check(admin, app_id)
    assert "agency@outside.example" not in members(admin, app_id, "unmatched")
    closed = members(admin, app_id, "removed")["agency@outside.example"]
    assert closed["id"] == agency["id"] and closed["state"] == "removed"
