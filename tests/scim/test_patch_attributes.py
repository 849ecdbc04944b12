"""RFC 7644 §3.9: ``attributes``/``excludedAttributes`` shape the resource a PATCH returns,
for users as for groups (a group PATCH answers 204 unless they are given)."""

from __future__ import annotations

import httpx

from tests.scim.conftest import group_body, user_body

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CHANGE = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}]}


def test_user_patch_returns_the_attributes_asked_for(scim: httpx.Client) -> None:
    user = scim.post("/Users", json=user_body()).json()
    only = scim.patch(f"/Users/{user['id']}", params={"attributes": "displayName"}, json=CHANGE)
    assert only.status_code == 200
    assert set(only.json()) == {"id", "schemas", "displayName"}
    without = scim.patch(f"/Users/{user['id']}", params={"excludedAttributes": "emails,name"}, json=CHANGE)
    assert "emails" not in without.json() and without.json()["userName"] == user["userName"]
    assert "emails" in scim.patch(f"/Users/{user['id']}", json=CHANGE).json()


def test_group_patch_answers_204_unless_attributes_are_asked_for(scim: httpx.Client) -> None:
    group = scim.post("/Groups", json=group_body()).json()
    plain = scim.patch(f"/Groups/{group['id']}", json=CHANGE)
    assert plain.status_code == 204 and plain.headers["etag"] == 'W/"2"'
    shaped = scim.patch(f"/Groups/{group['id']}", params={"attributes": "displayName"}, json=CHANGE)
    assert shaped.status_code == 200 and shaped.json()["displayName"] == "Renamed"
