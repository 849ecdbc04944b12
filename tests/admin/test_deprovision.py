"""IdP-driven deprovisioning: a SCIM deactivation or deletion becomes a report entry (policy
``report``) or a verified removal (policy ``automatic``); reactivation takes the entry back."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.sandbox import SandboxClient
from tests.admin.helpers import check, connect, members, remote_emails, scim_user, wait_idle, wait_job
from tests.waiting import wait_for

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def deactivate(scim: httpx.Client, user_id: str, active: bool = False) -> None:
    body = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": str(active)}]}
    assert scim.patch(f"/Users/{user_id}", json=body).status_code == 200


def pending_entries(admin: httpx.Client, app_id: str) -> dict[str, dict[str, Any]]:
    reports = admin.get("/reports", params={"app_id": app_id, "status": "pending"}).json()["items"]
    return {e["member_id"]: e | {"report_id": r["id"]} for r in reports for e in r["entries"] if e["status"] in ("pending", "held")}


def test_report_policy_deactivate_report_apply(admin: httpx.Client, sandbox: SandboxClient,
                                               github: dict[str, Any], scim_client: httpx.Client) -> None:
    ada = scim_user(scim_client, "ada@example.com")
    grace = scim_user(scim_client, "grace@example.com")
    app_id = connect(admin, sandbox, github, policy="report")
    check(admin, app_id)
    matched = members(admin, app_id, "matched")
    deactivate(scim_client, ada)
    entries = wait_for(lambda: pending_entries(admin, app_id))
    assert list(entries) == [matched["ada@example.com"]["id"]]
    assert entries[matched["ada@example.com"]["id"]]["reason"] == "deactivated"
    assert "ada@example.com" in remote_emails(sandbox, github["org"])  # a report waits for the admin

    deactivate(scim_client, grace)
    wait_for(lambda: len(pending_entries(admin, app_id)) == 2)
    deactivate(scim_client, grace, active=True)  # reactivated before the report is applied
    wait_for(lambda: set(pending_entries(admin, app_id)) == {matched["ada@example.com"]["id"]})

    report_id = next(iter(pending_entries(admin, app_id).values()))["report_id"]
    applied = admin.post(f"/reports/{report_id}/apply")
    assert applied.status_code == 202
    assert wait_job(admin, applied.json()["job_id"])["status"] == "completed"
    assert remote_emails(sandbox, github["org"]) == {"grace@example.com", "agency@outside.example", "bot@example.com"}
    assert admin.post(f"/reports/{report_id}/apply").status_code == 409


def test_automatic_policy_delete_removes_with_assets(admin: httpx.Client, sandbox: SandboxClient,
                                                     github: dict[str, Any], scim_client: httpx.Client) -> None:
    grace = scim_user(scim_client, "grace@example.com")
    app_id = connect(admin, sandbox, github, policy="automatic")
    check(admin, app_id)
    remote = members(admin, app_id, "matched")["grace@example.com"]["remote_id"]
    assert scim_client.delete(f"/Users/{grace}").status_code == 204
    wait_idle(admin, app_id)
    jobs = [(j["kind"], j["status"], j["result"], j["error"]) for j in admin.get("/jobs", params={"app_id": app_id}).json()["items"]]
    assert "grace@example.com" not in remote_emails(sandbox, github["org"]), (jobs, admin.get(f"/apps/{app_id}/members").json())
    jobs = wait_idle(admin, app_id)
    removal = next(j for j in jobs if j["kind"] == "remove")
    assert removal["status"] == "completed" and removal["result"]["verified"] is True
    state = sandbox.state("github", github["org"])
    assert all(g["remote_id"] != remote for a in state["assets"] for g in a["grants"])
    assert pending_entries(admin, app_id) == {}
