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
