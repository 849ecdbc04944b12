"""The SCIM routes' real answers (users, groups, .search, Bulk, discovery, errors) conform to
openapi/openapi.yaml, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

from tests.openapi.conftest import Clients, Recorder
from tests.openapi.flow import BULK, GROUP, PATCH, SEARCH, TOO_BIG, USER, ok, scim_user


def _scim_users(scim: httpx.Client) -> None:
    user = ok(
        scim.post("/Users", json={"schemas": [USER], "userName": "lin@example.com", "active": True}), 201
    )
    ok(scim.post("/Users", json={"schemas": [USER], "userName": "lin@example.com"}), 409)
    ok(scim.get("/Users", params={"filter": 'userName eq "lin@example.com"', "count": 5}), 200)
    ok(scim.get("/Users", params={"filter": "userName zz 1"}), 400)
    ok(scim.get("/Users", params={"startIndex": "x"}), 400)
    ok(
        scim.post(
            "/Users/.search",
            json={"schemas": [SEARCH], "filter": 'userName sw "lin"', "attributes": ["userName"]},
        ),
        200,
    )
    ok(scim.post("/Users/.search", json={"filter": "x"}), 400)
    uid, etag = user["id"], user["meta"]["version"]
    assert scim.get(f"/Users/{uid}", headers={"If-None-Match": etag}).status_code == 304
    replaced = ok(
        scim.put(
            f"/Users/{uid}", json={"schemas": [USER], "userName": "lin@example.com", "displayName": "Lin"}
        ),
        200,
    )
    ok(scim.patch(f"/Users/{uid}", headers={"If-Match": etag},
                  json={"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}), 412)  # fmt: skip
    ok(scim.patch(f"/Users/{uid}", headers={"If-Match": replaced["meta"]["version"]},
                  json={"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}), 200)  # fmt: skip
    ok(scim.post("/Users", json={"schemas": [USER], "userName": TOO_BIG}), 413)
    ok(scim.delete(f"/Users/{uid}"), 204)
    ok(scim.get(f"/Users/{uid}"), 404)
    ok(scim.delete(f"/Users/{uid}"), 404)


def _scim_groups(scim: httpx.Client) -> None:
    member = scim_user(scim, "kai@example.com")
    group = ok(scim.post("/Groups", json={"schemas": [GROUP], "displayName": "ops"}), 201)
    gid = group["id"]
    ok(scim.get("/Groups", params={"filter": 'displayName eq "ops"'}), 200)
    ok(scim.post("/Groups/.search", json={"schemas": [SEARCH], "startIndex": 1, "count": 10}), 200)
    ok(scim.get(f"/Groups/{gid}", params={"excludedAttributes": "members"}), 200)
    add = {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": member}]}]}
    assert scim.patch(f"/Groups/{gid}", json=add).status_code in (200, 204)
    ok(scim.patch(f"/Groups/{gid}", params={"attributes": "displayName"}, json=add), 200)
    ok(scim.put(f"/Groups/{gid}", json={"schemas": [GROUP], "displayName": "ops2"}), 200)
    ok(
        scim.put(
            f"/Groups/{gid}", headers={"If-Match": 'W/"999"'}, json={"schemas": [GROUP], "displayName": "x"}
        ),
        412,
    )
    ok(scim.delete(f"/Groups/{gid}"), 204)
    ok(scim.get(f"/Groups/{gid}"), 404)


def _scim_bulk_and_discovery(scim: httpx.Client) -> None:
    bulk = {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"schemas": [USER], "userName": "mo@example.com"}},
        {"method": "POST", "path": "/Groups", "bulkId": "g1",
         "data": {"schemas": [GROUP], "displayName": "bulk", "members": [{"value": "bulkId:u1"}]}},
        {"method": "DELETE", "path": "/Users/nope"}]}  # fmt: skip
    statuses = [op["status"] for op in ok(scim.post("/Bulk", json=bulk), 200)["Operations"]]
    assert statuses == ["201", "201", "404"]
    ok(scim.post("/Bulk", json={"Operations": []}), 400)
    found = ok(
        scim.post("/.search", json={"schemas": [SEARCH], "filter": 'userName sw "mo"', "count": 5}), 200
    )
    assert found["totalResults"] >= 1
    ok(scim.post("/.search", json={"schemas": [SEARCH], "cursor": ""}), 400)
    ok(scim.get("/ServiceProviderConfig"), 200)
    assert {r["id"] for r in ok(scim.get("/ResourceTypes"), 200)["Resources"]} >= {"User", "Group"}
    ok(scim.get("/ResourceTypes/User"), 200)
    ok(scim.get("/ResourceTypes/Nope"), 404)
    ok(scim.get("/Schemas"), 200)
    ok(scim.get(f"/Schemas/{USER}"), 200)
    ok(scim.get("/Schemas/urn:nope"), 404)


def test_scim_conforms(clients: Clients, recorder: Recorder) -> None:
    _scim_users(clients.scim)
    _scim_groups(clients.scim)
    _scim_bulk_and_discovery(clients.scim)
    ok(clients.anonymous.get("/scim/v2/Users"), 401)
    ok(clients.wrong_scope_scim.get("/Groups"), 403)
    recorder.assert_conforms()
    recorder.assert_seen({
        ("POST /scim/v2/Users", 201), ("POST /scim/v2/Users", 409), ("POST /scim/v2/Users", 413),
        ("GET /scim/v2/Users", 200), ("GET /scim/v2/Users", 400), ("GET /scim/v2/Users", 401),
        ("POST /scim/v2/Users/.search", 200), ("POST /scim/v2/Users/.search", 400),
        ("GET /scim/v2/Users/{id}", 304), ("GET /scim/v2/Users/{id}", 404), ("PUT /scim/v2/Users/{id}", 200),
        ("PATCH /scim/v2/Users/{id}", 200), ("PATCH /scim/v2/Users/{id}", 412), ("DELETE /scim/v2/Users/{id}", 204),
        ("GET /scim/v2/Groups", 403), ("PATCH /scim/v2/Groups/{id}", 200), ("PUT /scim/v2/Groups/{id}", 412),
        ("POST /scim/v2/Bulk", 200), ("POST /scim/v2/.search", 200), ("POST /scim/v2/.search", 400), ("POST /scim/v2/Bulk", 400), ("GET /scim/v2/Schemas/{id}", 200),
        ("GET /scim/v2/Schemas/{id}", 404), ("GET /scim/v2/ResourceTypes/{id}", 404),
    })  # fmt: skip
