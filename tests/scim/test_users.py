"""Users over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

from tests.scim.conftest import user_body

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_create_get_roundtrip(scim: httpx.Client) -> None:
    body = user_body(externalId="00u1", **{ENTERPRISE: {"department": "Eng", "employeeNumber": "7"}})
    body["schemas"].append(ENTERPRISE)
    created = scim.post("/Users", json=body)
    assert created.status_code == 201
    assert created.headers["content-type"].startswith("application/scim+json")
    user = created.json()
    assert created.headers["location"] == user["meta"]["location"]
    assert created.headers["etag"] == user["meta"]["version"] == 'W/"1"'
    fetched = scim.get(f"/Users/{user['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == user
    assert user[ENTERPRISE] == {"department": "Eng", "employeeNumber": "7"}
    assert user["externalId"] == "00u1"


def test_username_is_unique_case_insensitively(scim: httpx.Client) -> None:
    assert scim.post("/Users", json=user_body("Grace@Example.com")).status_code == 201
    clash = scim.post("/Users", json=user_body("grace@example.COM"))
    assert clash.status_code == 409
    assert clash.json()["scimType"] == "uniqueness"
    assert clash.json()["status"] == "409"


def test_password_is_never_returned_or_stored_in_clear(scim: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    created = scim.post("/Users", json=user_body(password="Sup3r-Secret!"))
    assert created.status_code == 201
    assert "password" not in created.json()
    assert "Sup3r-Secret!" not in scim.get(f"/Users/{created.json()['id']}").text
    dump = server.db.read_sync(
        lambda conn: [str(tuple(r)) for t in ("scim_users", "scim_user_values", "audit_events")
                      for r in conn.exec_driver_sql(f"SELECT * FROM {t}")]
    )
    assert not any("Sup3r-Secret!" in row for row in dump)


def test_put_replaces_and_bumps_version(scim: httpx.Client) -> None:
    user = scim.post("/Users", json=user_body(title="Engineer")).json()
    replacement = user_body(user["userName"], displayName="Ada L.")
    replaced = scim.put(f"/Users/{user['id']}", json=replacement)
    assert replaced.status_code == 200
    out = replaced.json()
    assert "title" not in out and out["displayName"] == "Ada L."
    assert out["meta"]["version"] == 'W/"2"'
    assert out["meta"]["created"] == user["meta"]["created"]


def test_if_match_guards_writes(scim: httpx.Client) -> None:
    user = scim.post("/Users", json=user_body()).json()
    ops = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
           "Operations": [{"op": "replace", "path": "title", "value": "CTO"}]}  # fmt: skip
    ok = scim.patch(f"/Users/{user['id']}", json=ops, headers={"If-Match": 'W/"1"'})
    assert ok.status_code == 200
    stale = scim.patch(f"/Users/{user['id']}", json=ops, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert scim.delete(f"/Users/{user['id']}", headers={"If-Match": 'W/"1"'}).status_code == 412
    not_modified = scim.get(f"/Users/{user['id']}", headers={"If-None-Match": 'W/"2"'})
    assert not_modified.status_code == 304


def test_delete_removes_user_from_every_group(scim: httpx.Client) -> None:
    user = scim.post("/Users", json=user_body()).json()
    other = scim.post("/Users", json=user_body()).json()
    groups = [
        scim.post("/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                   "displayName": f"g{i}", "members": [{"value": user["id"]}, {"value": other["id"]}]}).json()
        for i in range(2)
    ]  # fmt: skip
    assert scim.delete(f"/Users/{user['id']}").status_code == 204
    assert scim.get(f"/Users/{user['id']}").status_code == 404
    for group in groups:
        after = scim.get(f"/Groups/{group['id']}").json()
        assert [m["value"] for m in after["members"]] == [other["id"]]
        assert after["meta"]["version"] != group["meta"]["version"]


def test_groups_attribute_lists_memberships(scim: httpx.Client) -> None:
    user = scim.post("/Users", json=user_body()).json()
    group = scim.post("/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                       "displayName": "Admins", "members": [{"value": user["id"]}]}).json()  # fmt: skip
    fetched = scim.get(f"/Users/{user['id']}").json()
    assert fetched["groups"] == [{"value": group["id"], "display": "Admins", "type": "direct"}]


def test_attributes_and_excluded_attributes(scim: httpx.Client) -> None:
    user = scim.post("/Users", json=user_body()).json()
    only = scim.get(f"/Users/{user['id']}", params={"attributes": "name.givenName,emails.value"}).json()
    assert only == {"id": user["id"], "schemas": user["schemas"], "name": {"givenName": "Ada"},
                    "emails": [{"value": user["userName"]}]}  # fmt: skip
    without = scim.get(f"/Users/{user['id']}", params={"excludedAttributes": "emails,meta"}).json()
    assert "emails" not in without and "meta" not in without and without["userName"] == user["userName"]


def test_workspaces_never_cross(scim: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    user = scim.post("/Users", json=user_body()).json()
    other_token = server.token("another-workspace-" + user["id"][:8])
    with httpx.Client(base_url=server.scim, headers={"Authorization": f"Bearer {other_token}"}) as other:
        assert other.get(f"/Users/{user['id']}").status_code == 404
        assert other.delete(f"/Users/{user['id']}").status_code == 404
        listed = other.get("/Users", params={"filter": f'userName eq "{user["userName"]}"'}).json()
        assert listed["totalResults"] == 0
    assert scim.get(f"/Users/{user['id']}").status_code == 200
