"""Groups: members as rows, PATCH in both IdP shapes, concurrency, cheap reads without members."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.scim.conftest import group_body, user_body

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _users(scim: httpx.Client, n: int) -> list[str]:
    return [scim.post("/Users", json=user_body()).json()["id"] for _ in range(n)]


def _member_ids(scim: httpx.Client, group_id: str) -> set[str]:
    return {m["value"] for m in scim.get(f"/Groups/{group_id}").json().get("members", [])}


def test_create_with_members_and_exclude_members(scim: httpx.Client) -> None:
    ids = _users(scim, 3)
    created = scim.post("/Groups", json=group_body("Engineering", ids))
    assert created.status_code == 201
    group = created.json()
    assert {m["value"] for m in group["members"]} == set(ids)
    assert all(m["$ref"].endswith(f"/Users/{m['value']}") for m in group["members"])
    slim = scim.get(f"/Groups/{group['id']}", params={"excludedAttributes": "members"}).json()
    assert "members" not in slim and slim["displayName"] == "Engineering"


def test_unknown_member_is_rejected_and_nothing_is_written(scim: httpx.Client) -> None:
    bad = scim.post("/Groups", json=group_body("Ghosts", ["no-such-user"]))
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidValue"
    listed = scim.get("/Groups", params={"filter": 'displayName eq "Ghosts"'}).json()
    assert listed["totalResults"] == 0


def test_entra_remove_with_value_removes_only_listed(scim: httpx.Client) -> None:
    ids = _users(scim, 4)
    group = scim.post("/Groups", json=group_body(members=ids)).json()
    body = {"schemas": [PATCH], "Operations": [
        {"op": "Remove", "path": "members", "value": [{"value": ids[0]}, {"value": ids[1]}]}]}  # fmt: skip
    assert scim.patch(f"/Groups/{group['id']}", json=body).status_code in (200, 204)
    assert _member_ids(scim, group["id"]) == set(ids[2:])


def test_remove_by_value_filter_and_add(scim: httpx.Client) -> None:
    ids = _users(scim, 3)
    group = scim.post("/Groups", json=group_body(members=ids[:2])).json()
    body = {"schemas": [PATCH], "Operations": [
        {"op": "remove", "path": f'members[value eq "{ids[0]}"]'},
        {"op": "add", "path": "members", "value": [{"value": ids[2]}]}]}  # fmt: skip
    assert scim.patch(f"/Groups/{group['id']}", json=body).status_code in (200, 204)
    assert _member_ids(scim, group["id"]) == {ids[1], ids[2]}


def test_concurrent_patches_lose_no_member(scim: httpx.Client) -> None:
    ids = _users(scim, 40)
    group = scim.post("/Groups", json=group_body()).json()

    def add(member: str) -> int:
        body = {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"value": member}]}]}
        return scim.patch(f"/Groups/{group['id']}", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(add, ids))
    assert all(s in (200, 204) for s in statuses)
    assert _member_ids(scim, group["id"]) == set(ids)


def test_replace_members_and_display_name(scim: httpx.Client) -> None:
    ids = _users(scim, 3)
    group = scim.post("/Groups", json=group_body(members=ids[:2])).json()
    body = {"schemas": [PATCH], "Operations": [
        {"op": "replace", "value": {"displayName": "Renamed", "members": [{"value": ids[2]}]}}]}  # fmt: skip
    assert scim.patch(f"/Groups/{group['id']}", json=body).status_code in (200, 204)
    after = scim.get(f"/Groups/{group['id']}").json()
    assert after["displayName"] == "Renamed"
    assert {m["value"] for m in after["members"]} == {ids[2]}


def test_put_group_and_delete(scim: httpx.Client) -> None:
    ids = _users(scim, 2)
    group = scim.post("/Groups", json=group_body(members=ids)).json()
    put = scim.put(f"/Groups/{group['id']}", json=group_body("Replaced", [ids[1]]))
    assert put.status_code == 200
    assert {m["value"] for m in put.json()["members"]} == {ids[1]}
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert scim.get(f"/Groups/{group['id']}").status_code == 404
    assert "groups" not in scim.get(f"/Users/{ids[1]}").json()
