"""The governance operations of the service layer, through the admin API, on SQLite and PostgreSQL
against the sandbox: report decisions and outcomes, the automation identity, removed members,
duplicate connections, re-assign, retry and "Mark as done", directory search, capabilities."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.sandbox import SandboxClient
from tests.admin.helpers import check, connect, members, remote_emails, scim_user, unique, wait_idle, wait_job
from tests.admin.test_deprovision import deactivate, pending_entries
from tests.waiting import wait_for


def _report(admin: httpx.Client, app_id: str) -> dict[str, Any]:
    items = admin.get("/reports", params={"app_id": app_id}).json()["items"]
    assert len(items) == 1, items
    return dict(items[0])


def test_report_entries_name_people_and_follow_each_decision(
    admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any], scim_client: httpx.Client
) -> None:
    ada, grace = scim_user(scim_client, "ada@example.com"), scim_user(scim_client, "grace@example.com")
    bot = scim_user(scim_client, "bot@example.com")
    app_id = connect(admin, sandbox, github, policy="report")
    check(admin, app_id)
    for user in (ada, grace, bot):
        deactivate(scim_client, user)
    entries = wait_for(lambda: (e := pending_entries(admin, app_id)) and len(e) == 3 and e)
    by_email = {e["email"]: e for e in entries.values()}
    grace_entry = by_email["grace@example.com"]  # who and what: email, name, app role, assets, directory user
    assert grace_entry["display_name"] == "grace" and grace_entry["app_role"] == "member"
    assert grace_entry["assets"] == [{"asset_id": "repo-1", "permission": "push"}]
    assert grace_entry["user"]["id"] == grace and grace_entry["user"]["user_name"] == "grace@example.com"
    assert grace_entry["reason"] == "deactivated"

    report_id = grace_entry["report_id"]
    decisions = [{"entry_id": by_email["ada@example.com"]["id"], "decision": "exempt", "reason": "founder"},
                 {"entry_id": by_email["bot@example.com"]["id"], "decision": "skip"}]  # fmt: skip
    applied = admin.post(f"/reports/{report_id}/apply", json={"decisions": decisions})
    assert applied.status_code == 202, applied.text
    assert wait_job(admin, applied.json()["job_id"])["status"] == "completed"

    report = admin.get(f"/reports/{report_id}").json()
    outcome = {e["email"]: (e["status"], e["decision"]) for e in report["entries"]}
    assert outcome == {"grace@example.com": ("removed", "remove"), "ada@example.com": ("exempted", "exempt"),
                       "bot@example.com": ("skipped", "skip")}  # fmt: skip
    assert report["status"] == "applied" and report["applied_by"]
    assert remote_emails(sandbox, github["org"]) >= {"ada@example.com", "bot@example.com"}
    assert "grace@example.com" not in remote_emails(sandbox, github["org"])
    grace_remote = members(admin, app_id, "removed")["grace@example.com"]["remote_id"]
    assert all(g["remote_id"] != grace_remote for a in sandbox.state("github", github["org"])["assets"] for g in a["grants"])
    assert members(admin, app_id, "exempted")["ada@example.com"]["exempt_reason"] == "founder"
    again = admin.post(f"/reports/{report_id}/apply", json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "report_not_pending"


def test_a_failed_removal_fails_its_entry_and_the_report_then_retry_or_mark_as_done(
    admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any], scim_client: httpx.Client
) -> None:
    grace = scim_user(scim_client, "grace@example.com")
    app_id = connect(admin, sandbox, github, policy="report")
    check(admin, app_id)
    deactivate(scim_client, grace)
    entry = next(iter(wait_for(lambda: pending_entries(admin, app_id)).values()))
    sandbox.faults("github", ignore_removals=True)  # the app says yes and keeps the member
    job_id = admin.post(f"/reports/{entry['report_id']}/apply", json={}).json()["job_id"]
    job = wait_job(admin, job_id)
    assert job["status"] == "failed" and "removals failed" in job["error"]
    report = admin.get(f"/reports/{entry['report_id']}").json()
    assert report["status"] == "failed"
    assert report["entries"][0]["status"] == "failed" and "still present" in report["entries"][0]["error"]
    sandbox.clear_faults()

    resolved = admin.post(f"/jobs/{job_id}/resolve", json={"note": "removed in GitHub by hand"})
    assert resolved.status_code == 200 and resolved.json()["status"] == "completed"
    assert resolved.json()["result"]["manual"] is True
    report = admin.get(f"/reports/{entry['report_id']}").json()
    assert report["status"] == "applied" and report["entries"][0]["status"] == "removed"
    assert "by hand" in report["entries"][0]["error"]
    assert "grace@example.com" in members(admin, app_id, "removed")
    assert admin.post(f"/jobs/{job_id}/retry").status_code == 409  # completed: nothing to retry


def test_retry_runs_a_failed_job_again(admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any]) -> None:
    app_id = connect(admin, sandbox, github)
    check(admin, app_id)
    agency = members(admin, app_id, "unmatched")["agency@outside.example"]
    sandbox.faults("github", ignore_removals=True)
    job_id = admin.post(f"/apps/{app_id}/members/{agency['id']}/remove").json()["job_id"]
    assert wait_job(admin, job_id)["status"] == "failed"
    sandbox.clear_faults()
    retried = admin.post(f"/jobs/{job_id}/retry")
    assert retried.status_code == 202 and retried.json()["status"] == "queued"
    assert wait_job(admin, job_id)["status"] == "completed"
    assert "agency@outside.example" not in remote_emails(sandbox, github["org"])


def test_the_automation_identity_is_matched_and_protected(
    admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any]
) -> None:
    app_id = connect(admin, sandbox, github)
    check(admin, app_id)
    bot = members(admin, app_id, "unmatched")["bot@example.com"]
    admin.patch(f"/apps/{app_id}", json={"automation_identity": {"remote_id": bot["remote_id"]}}).raise_for_status()
    shown = members(admin, app_id, "matched")["bot@example.com"]
    assert shown["automation"] is True
    for path, body in ((f"/apps/{app_id}/members/{bot['id']}/remove", None),
                       (f"/apps/{app_id}/members/{bot['id']}/exempt", {"reason": "x"})):  # fmt: skip
        refused = admin.post(path, json=body)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "automation_account", refused.text
    downgrade = admin.patch(f"/apps/{app_id}/members/{bot['id']}", json={"app_role": "admin"})
    assert downgrade.status_code == 409
    assert wait_idle(admin, app_id) is not None
    assert "bot@example.com" in remote_emails(sandbox, github["org"])


def test_removed_members_cannot_be_matched_and_reassign_moves_a_match(
    admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any], scim_client: httpx.Client
) -> None:
    ada, grace = scim_user(scim_client, "ada@example.com"), scim_user(scim_client, "grace@example.com")
    app_id = connect(admin, sandbox, github)
    check(admin, app_id)
    agency = members(admin, app_id, "unmatched")["agency@outside.example"]
    assert wait_job(admin, admin.post(f"/apps/{app_id}/members/{agency['id']}/remove").json()["job_id"])["status"] == "completed"
    refused = admin.post(f"/apps/{app_id}/members/{agency['id']}/match", json={"user_id": ada})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "member_removed"

    ada_member = members(admin, app_id, "matched")["ada@example.com"]
    moved = admin.post(f"/apps/{app_id}/members/{ada_member['id']}/reassign",
                       json={"user_id": grace, "bridge_role": "owner"})  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert moved.json()["user_id"] == grace and moved.json()["bridge_role"] == "owner"
    assert moved.json()["match_source"] == "manual"
    same = admin.post(f"/apps/{app_id}/members/{ada_member['id']}/reassign", json={"user_id": grace})
    assert same.status_code == 409


def test_connecting_the_same_business_twice_is_a_409(
    admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any]
) -> None:
    connect(admin, sandbox, github)
    again = admin.post("/apps", json={"kind": "github", "label": "Again", "business_id": github["org"],
                                      "automation_account": {"api_token": github["token"]},
                                      "api_base_url": sandbox.kind_url("github")})  # fmt: skip
    assert again.status_code == 409 and again.json()["error"]["field"] == "business_id"
    assert len(admin.get("/apps").json()["items"]) == 1


def test_login_method_defaults_and_changes(admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any]) -> None:
    app_id = connect(admin, sandbox, github)
    assert admin.get(f"/apps/{app_id}").json()["login_method"] == "sso"
    changed = admin.patch(f"/apps/{app_id}", json={"login_method": "password"})
    assert changed.status_code == 200 and changed.json()["login_method"] == "password"
    assert admin.patch(f"/apps/{app_id}", json={"login_method": "fax"}).status_code == 400


def test_directory_search_by_name_or_email_and_a_users_accounts(
    admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any], scim_client: httpx.Client
) -> None:
    ada = scim_user(scim_client, "ada@example.com")
    scim_user(scim_client, "grace@example.com")
    for i in range(3):
        scim_user(scim_client, f"{unique('x')}@other.example")
    assert [u["id"] for u in admin.get("/directory/users", params={"q": "ADA@"}).json()["items"]] == [ada]
    page = admin.get("/directory/users", params={"limit": 2}).json()
    rest = admin.get("/directory/users", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    last = admin.get("/directory/users", params={"limit": 2, "cursor": rest["next_cursor"]}).json()
    assert [len(p["items"]) for p in (page, rest, last)] == [2, 2, 1] and last["next_cursor"] is None
    assert admin.get("/directory/users", params={"q": "%"}).json()["items"] == []  # no wildcard injection
    app_id = connect(admin, sandbox, github)
    check(admin, app_id)
    user = admin.get(f"/directory/users/{ada}").json()
    assert user["emails"] == ["ada@example.com"]
    assert [(a["app_id"], a["app_role"], a["state"]) for a in user["accounts"]] == [(app_id, "admin", "matched")]
    assert admin.get("/directory/users/nope").status_code == 404


def test_a_kind_that_cannot_change_roles_is_refused_not_queued(
    admin: httpx.Client, sandbox: SandboxClient
) -> None:
    org, token = unique("org"), unique("cal")
    sandbox.seed("calendly", {"org": org, "token": token, "members": [
        {"email": "ann@example.com", "name": "ann", "role": "user", "status": "active"}]})  # fmt: skip
    created = admin.post("/apps", json={"kind": "calendly", "label": "Cal", "business_id": org,
                                        "automation_account": {"api_token": token},
                                        "api_base_url": sandbox.kind_url("calendly")})  # fmt: skip
    assert created.status_code == 201, created.text
    app_id = created.json()["id"]
    check(admin, app_id)
    ann = members(admin, app_id, "unmatched")["ann@example.com"]
    refused = admin.patch(f"/apps/{app_id}/members/{ann['id']}", json={"app_role": "admin"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "unsupported", refused.text
    assert admin.get("/jobs", params={"app_id": app_id, "status": "queued"}).json()["items"] == []


def test_a_bridge_role_an_admin_gives_outlasts_the_next_check(
    admin: httpx.Client, sandbox: SandboxClient, github: dict[str, Any], scim_client: httpx.Client
) -> None:
    """An admin's bridge role is a decision, like a manual match: a later check (which re-derives
    the roles of members matched by email) keeps it."""
    scim_user(scim_client, "grace@example.com")
    app_id = connect(admin, sandbox, github)
    check(admin, app_id)
    grace = members(admin, app_id, "matched")["grace@example.com"]
    assert grace["bridge_role"] == "collaborator" and grace["app_role"] == "member"
    changed = admin.patch(f"/apps/{app_id}/members/{grace['id']}", json={"bridge_role": "owner"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["bridge_role"], changed.json()["match_source"]) == ("owner", "manual")
    [event] = admin.get("/audit", params={"action": "app.member.roles", "app_id": app_id}).json()["items"]
    assert event["detail"]["before"] == {"app_role": "member", "bridge_role": "collaborator", "match_source": "auto"}
    assert event["detail"]["after"] == {"bridge_role": "owner", "match_source": "manual"}
    check(admin, app_id)
    wait_idle(admin, app_id)
    assert members(admin, app_id, "matched")["grace@example.com"]["bridge_role"] == "owner"
