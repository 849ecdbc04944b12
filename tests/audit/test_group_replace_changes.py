"""A group PUT records, like a PATCH, the member ids it added and removed (issue 12): a PUT names
every member, and the trail keeps only the difference, with the attributes it changed."""

from __future__ import annotations

from typing import Any

from tests.audit.test_api import USER_SCHEMA, _all, clients  # noqa: F401  (fixture)

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def test_a_group_put_records_the_members_it_added_and_removed(clients: dict[str, Any]) -> None:  # noqa: F811
    scim, audit = clients["scim"], clients["audit"]
    a, b, c = (scim.post("/Users", json={"schemas": [USER_SCHEMA], "userName": f"{n}@example.com"}).json()["id"]
               for n in ("put-a", "put-b", "put-c"))  # fmt: skip
    created = scim.post("/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "Ops",
                                         "members": [{"value": a}, {"value": b}]})  # fmt: skip
    assert created.status_code == 201, created.text
    gid = created.json()["id"]
    body = {"schemas": [GROUP_SCHEMA], "displayName": "Ops EMEA", "members": [{"value": b}, {"value": c}]}
    assert scim.put(f"/Groups/{gid}", json=body).status_code == 200
    same = body | {"displayName": "Ops EMEA"}
    assert scim.put(f"/Groups/{gid}", json=same).status_code == 200  # nothing moved, nothing changed

    events = list(reversed(_all(audit, target=f"Group/{gid}")))
    assert [e["action"] for e in events] == ["scim.group.create", "scim.group.replace", "scim.group.replace"]
    replaced, unchanged = events[1], events[2]
    assert replaced["changes"] == {
        "displayName": {"before": "Ops", "after": "Ops EMEA"},
        "members": {"before": {"removed": [a]}, "after": {"added": [c]}},
    }
    assert replaced["detail"]["members_added"] == 1 and replaced["detail"]["members_removed"] == 1
    assert unchanged["changes"] is None
    listed = {m["value"] for m in scim.get(f"/Groups/{gid}").json()["members"]}
    assert listed == {b, c}


def test_a_group_patch_that_replaces_the_members_records_the_ids_it_added_and_removed(
    clients: dict[str, Any],  # noqa: F811
) -> None:
    scim, audit = clients["scim"], clients["audit"]
    a, b, c, d = (scim.post("/Users", json={"schemas": [USER_SCHEMA], "userName": f"{n}@example.com"}).json()["id"]
                  for n in ("rep-a", "rep-b", "rep-c", "rep-d"))  # fmt: skip
    created = scim.post("/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "Sales",
                                         "members": [{"value": a}, {"value": b}, {"value": c}]})  # fmt: skip
    assert created.status_code == 201, created.text
    gid = created.json()["id"]

    def patch(*operations: dict[str, Any]) -> None:
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(operations)}
        response = scim.patch(f"/Groups/{gid}", json=body)
        assert response.status_code in (200, 204), response.text

    patch({"op": "replace", "path": "members", "value": [{"value": b}, {"value": d}, {"value": c}]})
    patch({"op": "replace", "path": "members", "value": [{"value": d}, {"value": b}, {"value": c}]})  # same set
    patch({"op": "remove", "path": "members"})  # every member: a replace by nothing
    patch({"op": "add", "path": "members", "value": [{"value": a}]})

    events = list(reversed(_all(audit, target=f"Group/{gid}")))
    assert [e["action"] for e in events] == ["scim.group.create", *["scim.group.patch"] * 4]
    replaced, same, emptied, added = events[1:]
    assert replaced["changes"] == {"members": {"before": {"removed": [a]}, "after": {"added": [d]}}}
    assert replaced["detail"] == {"members_added": 1, "members_removed": 1, "members_replaced": True,
                                  "attributes_changed": False}  # fmt: skip
    assert same["changes"] is None and same["detail"]["members_replaced"] is True
    assert same["detail"]["members_added"] == same["detail"]["members_removed"] == 0
    assert emptied["changes"]["members"]["after"] == {"added": []}
    assert sorted(emptied["changes"]["members"]["before"]["removed"]) == sorted([b, c, d])
    assert emptied["detail"]["members_removed"] == 3
    # add and remove ops still record the ids as the IdP sent them
    assert added["changes"] == {"members": {"before": {"removed": []}, "after": {"added": [a]}}}
    assert [m["value"] for m in scim.get(f"/Groups/{gid}").json()["members"]] == [a]
