"""Through the running server on both databases: a member joining a group an assignment rule
names is reconciled as a slice (that user and its member), not the whole app; a rename of the
group reaches nobody; a group deleted reaches exactly its members."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.sandbox import SandboxClient
from tests.admin.helpers import check, connect, scim_user, unique, wait_idle

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
CROWD = 30


def _reconciles(admin: httpx.Client, app_id: str, seen: set[str]) -> list[dict[str, Any]]:
    """The results of the reconcile jobs completed since ``seen`` (which it then includes)."""
    jobs = wait_idle(admin, app_id)
    fresh = [j for j in jobs if j["kind"] == "reconcile" and j["status"] == "completed" and j["id"] not in seen]
    seen.update(j["id"] for j in jobs)
    return [j["result"] for j in fresh]


def test_group_moves_reconcile_the_users_who_moved(admin: httpx.Client, sandbox: SandboxClient,
                                                   scim_client: httpx.Client) -> None:  # fmt: skip
    org, token = unique("org"), unique("ghp")
    people = [f"{unique('g')}@example.com" for _ in range(CROWD)]
    sandbox.seed("github", {"org": org, "token": token, "members": [
        {"email": e, "name": e.split("@")[0], "role": "member", "status": "active"} for e in people]})  # fmt: skip
    ids = [scim_user(scim_client, e) for e in people]
    made = scim_client.post("/Groups", json={"schemas": [GROUP], "displayName": unique("eng"),
                                             "members": [{"value": i} for i in ids[1:]]})  # fmt: skip
    assert made.status_code == 201, made.text
    gid = made.json()["id"]
    app_id = connect(admin, sandbox, {"org": org, "token": token}, policy="report")
    assert admin.post(f"/apps/{app_id}/rules", json={"group_id": gid, "bridge_role": "collaborator"}).status_code == 201
    check(admin, app_id)
    seen: set[str] = set()
    _reconciles(admin, app_id, seen)

    join = {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": ids[0]}]}]}
    assert scim_client.patch(f"/Groups/{gid}", json=join).status_code in (200, 204)
    results = _reconciles(admin, app_id, seen)
    assert results and all(r["reconciled"] == "slice" and r["members"] == 1 for r in results), results

    rename = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"displayName": unique("ops")}}]}
    assert scim_client.patch(f"/Groups/{gid}", json=rename).status_code in (200, 204)
    assert [r["reconciled"] for r in _reconciles(admin, app_id, seen)] == ["nothing"]

    assert scim_client.delete(f"/Groups/{gid}").status_code == 204
    results = _reconciles(admin, app_id, seen)
    assert sum(r["members"] for r in results) == CROWD and {r["reconciled"] for r in results} == {"slice"}, results
