"""Targeted verification over real HTTP against the sandbox (both databases): a removal is
verified by reading that member and its revoked permissions, not by re-listing the app; a vendor
that acknowledges and keeps the member or the grant is still caught."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.sandbox import SandboxClient
from tests.admin.helpers import check, connect, remote_emails, unique, wait_idle, wait_job
from tests.jobs.test_cancel import everyone

CROWD = 950  # ten pages of members at GitHub's 100 per page


def seeded(sandbox: SandboxClient) -> dict[str, Any]:
    org, token = unique("org"), unique("ghp")
    crowd = [{"email": f"m{i:04}@example.com", "role": "member", "status": "active"} for i in range(CROWD)]
    leaver = {"email": "leaver@outside.example", "name": "leaver", "role": "member", "status": "active"}
    sandbox.seed("github", {"org": org, "token": token, "members": [*crowd, leaver],
                            "assets": [{"id": "repo-1", "name": "repo-1", "type": "repository",
                                        "grants": [{"email": "leaver@outside.example", "permission": "push"}]}]})  # fmt: skip
    return {"org": org, "token": token}


def requests(sandbox: SandboxClient) -> int:
    return int(sandbox.fault_stats()["requests"].get("github", 0))


def test_a_removal_is_verified_with_a_few_reads_not_a_listing(admin: httpx.Client, sandbox: SandboxClient) -> None:
    github = seeded(sandbox)
    app_id = connect(admin, sandbox, github)
    before = requests(sandbox)
    check(admin, app_id)
    wait_idle(admin, app_id)
    listing = requests(sandbox) - before  # what one check (a listing of members, repos, grants) costs
    leaver = everyone(admin, app_id)["leaver@outside.example"]

    before = requests(sandbox)
    job = wait_job(admin, admin.post(f"/apps/{app_id}/members/{leaver['id']}/remove").json()["job_id"])
    spent = requests(sandbox) - before
    assert job["status"] == "completed", job
    assert "leaver@outside.example" not in remote_emails(sandbox, github["org"])
    # revoke + remove + one read of the membership + one of the grant (a re-listing: > 10 pages)
    assert spent <= 5 < CROWD // 100 < listing, (spent, listing)


def test_a_member_the_vendor_kept_fails_the_removal(admin: httpx.Client, sandbox: SandboxClient) -> None:
    """The vendor acknowledges the removal and keeps the member (its grant is revoked): the
    targeted read of the membership catches it, and only the member is named."""
    github = seeded(sandbox)
    app_id = connect(admin, sandbox, github)
    check(admin, app_id)
    leaver = everyone(admin, app_id)["leaver@outside.example"]
    sandbox.faults("github", ignore_removals=True)
    job = wait_job(admin, admin.post(f"/apps/{app_id}/members/{leaver['id']}/remove").json()["job_id"])
    sandbox.clear_faults()
    assert job["status"] == "failed" and "still present after removal" in job["error"], job
    assert job["error"].endswith(f"{leaver['id']}: member"), job["error"]
    assert everyone(admin, app_id)["leaver@outside.example"]["state"] == "unmatched"
