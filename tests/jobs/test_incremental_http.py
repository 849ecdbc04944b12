"""Through the running server on both databases: an IdP deactivation is reconciled as a slice
(the user and its one member), not the whole app, and the member is removed."""

from __future__ import annotations

import httpx

from connectors.sandbox import SandboxClient
from tests.admin.helpers import check, connect, remote_emails, scim_user, unique, wait_idle

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CROWD = 40


def test_a_deactivation_reconciles_a_slice(admin: httpx.Client, sandbox: SandboxClient, scim_client: httpx.Client) -> None:
    org, token = unique("org"), unique("ghp")
    people = [f"{unique('p')}@example.com" for _ in range(CROWD)]
    sandbox.seed("github", {"org": org, "token": token, "members": [
        {"email": e, "name": e.split("@")[0], "role": "member", "status": "active"} for e in people]})  # fmt: skip
    ids = [scim_user(scim_client, e) for e in people]
    app_id = connect(admin, sandbox, {"org": org, "token": token}, policy="automatic")
    assert admin.patch(f"/apps/{app_id}", json={"mass_removal_guard": {"count": 1000, "percent": 100}}).status_code == 200
    check(admin, app_id)
    wait_idle(admin, app_id)
    off = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    assert scim_client.patch(f"/Users/{ids[3]}", json=off).status_code == 200
    jobs = wait_idle(admin, app_id)
    reconciles = [j["result"] for j in jobs if j["kind"] == "reconcile" and j["status"] == "completed"]
    assert {"reconciled": "slice", "members": 1}.items() <= reconciles[-1].items(), reconciles
    assert remote_emails(sandbox, org) == set(people) - {people[3]}
