"""Discovery, paging (index and RFC 9865 cursor), sorting, .search, Bulk, auth, operations endpoints."""

from __future__ import annotations

import uuid

import httpx

from tests.scim.conftest import user_body

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def test_discovery_documents(scim: httpx.Client) -> None:
    config = scim.get("/ServiceProviderConfig").json()
    assert config["patch"]["supported"] and config["bulk"]["maxOperations"] > 0
    assert config["filter"]["supported"] and config["etag"]["supported"]
    types = scim.get("/ResourceTypes").json()
    assert {r["id"] for r in types["Resources"]} == {"User", "Group"}
    schemas = scim.get("/Schemas").json()
    ids = {s["id"] for s in schemas["Resources"]}
    assert "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User" in ids
    one = scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()
    assert any(a["name"] == "userName" for a in one["attributes"])
    assert scim.get("/Schemas/urn:nope").status_code == 404
    for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
        assert scim.post(path, json={}).status_code == 405
        assert scim.delete(path).status_code == 405


def _seed(scim: httpx.Client, n: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [scim.post("/Users", json=user_body(f"{tag}-{i:03d}@example.com")).json()["id"] for i in range(n)]


def test_index_paging_is_stable_and_complete(scim: httpx.Client) -> None:
    ids = _seed(scim, 23)
    seen: list[str] = []
    for start in range(1, 24, 5):
        page = scim.get("/Users", params={"startIndex": start, "count": 5}).json()
        assert page["totalResults"] == 23 and page["startIndex"] == start
        seen += [r["id"] for r in page["Resources"]]
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert scim.get("/Users", params={"count": 0}).json()["Resources"] == []


def test_cursor_paging(scim: httpx.Client) -> None:
    ids = _seed(scim, 12)
    seen: list[str] = []
    params = {"cursor": "", "count": 5}
    while True:
        page = scim.get("/Users", params=params).json()
        seen += [r["id"] for r in page["Resources"]]
        if "nextCursor" not in page:
            break
        params = {"cursor": page["nextCursor"], "count": 5}
    assert sorted(seen) == sorted(ids)
    bad = scim.get("/Users", params={"cursor": "garbage!!", "count": 5})
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidCursor"


def test_sorting_and_search(scim: httpx.Client) -> None:
    _seed(scim, 5)
    desc = scim.get("/Users", params={"sortBy": "userName", "sortOrder": "descending"}).json()
    names = [r["userName"] for r in desc["Resources"]]
    assert names == sorted(names, reverse=True)
    found = scim.post("/Users/.search", json={"schemas": [SEARCH], "filter": f'userName eq "{names[0].upper()}"',
                                              "attributes": ["userName"]}).json()  # fmt: skip
    assert found["totalResults"] == 1
    assert set(found["Resources"][0]) == {"id", "schemas", "userName"}


def test_bulk_with_bulk_id_references(scim: httpx.Client) -> None:
    name = f"bulk-{uuid.uuid4().hex[:6]}@example.com"
    response = scim.post("/Bulk", json={"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "g1",
         "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Bulk",
                  "members": [{"value": "bulkId:u1"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user_body(name)},
        {"method": "POST", "path": "/Users", "bulkId": "u2", "data": user_body(name)},
    ]})  # fmt: skip
    assert response.status_code == 200
    results = {op["bulkId"]: op for op in response.json()["Operations"]}
    assert results["u1"]["status"] == "201" and results["g1"]["status"] == "201"
    assert results["u2"]["status"] == "409"
    group = httpx.get(results["g1"]["location"], headers=scim.headers).json()
    user_id = results["u1"]["location"].rsplit("/", 1)[1]
    assert [m["value"] for m in group["members"]] == [user_id]


def test_bulk_limits(scim: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    too_many = [{"method": "DELETE", "path": "/Users/x"}] * (server.settings.bulk_max_operations + 1)
    response = scim.post("/Bulk", json={"schemas": [BULK], "Operations": too_many})
    assert response.status_code == 413
    big = "x" * (server.settings.max_payload_size + 10)
    assert scim.post("/Bulk", content=big.encode()).status_code == 413


def test_bulk_fail_on_errors_stops(scim: httpx.Client) -> None:
    ops = [{"method": "DELETE", "path": f"/Users/missing-{i}"} for i in range(5)]
    response = scim.post("/Bulk", json={"schemas": [BULK], "failOnErrors": 2, "Operations": ops}).json()
    assert [op["status"] for op in response["Operations"]] == ["404", "404"]


def test_auth_errors(server) -> None:  # type: ignore[no-untyped-def]
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = httpx.get(server.scim + "/Users", headers=headers)
        assert response.status_code == 401
        assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert response.json()["status"] == "401"
    admin = server.token("default", "admin")
    assert httpx.get(server.scim + "/Users", headers={"Authorization": f"Bearer {admin}"}).status_code == 403


def test_health_metrics_and_request_id(server, scim: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    response = scim.get("/Users", headers={"X-Request-Id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    metrics = httpx.get(server.url + "/metrics").text
    assert 'scim_bridge_requests_total{method="GET",route="/scim/v2/Users",status="200"}' in metrics
    assert "scim_bridge_request_seconds_bucket" in metrics


def test_root_search_spans_users_and_groups(scim: httpx.Client) -> None:
    ids = _seed(scim, 3)
    group = scim.post("/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                       "displayName": "Root", "members": [{"value": ids[0]}]}).json()  # fmt: skip
    everything = scim.post("/.search", json={"schemas": [SEARCH], "count": 10}).json()
    assert everything["totalResults"] == 4
    assert [r["id"] for r in everything["Resources"]][-1] == group["id"]
    second = scim.post("/.search", json={"schemas": [SEARCH], "startIndex": 3, "count": 2}).json()
    assert [r["id"] for r in second["Resources"]] == [r["id"] for r in everything["Resources"][2:4]]
    only_groups = scim.post("/.search", json={"schemas": [SEARCH], "filter": 'displayName eq "Root"'}).json()
    assert only_groups["totalResults"] >= 1 and group["id"] in [r["id"] for r in only_groups["Resources"]]
    bad = scim.post("/.search", json={"schemas": [SEARCH], "filter": "nonsense eq"})
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"
