"""Bulk (RFC 7644 §3.7): bulkId references resolved in any order, cycles, each operation
succeeding or failing on its own, failOnErrors, operation versions, and operations that call
the SCIM service directly rather than going through the HTTP app again."""

from __future__ import annotations

import random
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.scim.conftest import group_body, user_body
from tests.servers import RunningServer

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _bulk(scim: httpx.Client, *ops: dict[str, Any], fail_on: int | None = None) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"schemas": [BULK], "Operations": list(ops)}
    if fail_on is not None:
        body["failOnErrors"] = fail_on
    response = scim.post("/Bulk", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["schemas"] == [BULK_RESPONSE]
    return list(response.json()["Operations"])


def _post_group(bulk_id: str, name: str, members: list[str]) -> dict[str, Any]:
    return {"method": "POST", "path": "/Groups", "bulkId": bulk_id, "data": group_body(name, members)}


def _post_user(bulk_id: str, name: str | None = None) -> dict[str, Any]:
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": user_body(name)}


def _id(result: dict[str, Any]) -> str:
    return str(result["location"]).rsplit("/", 1)[1]


def _members(scim: httpx.Client, group_id: str) -> list[str]:
    return [m["value"] for m in scim.get(f"/Groups/{group_id}").json().get("members", [])]


def _groups_named(scim: httpx.Client, name: str) -> int:
    return int(scim.get("/Groups", params={"filter": f'displayName eq "{name}"'}).json()["totalResults"])


def test_a_reversed_bulk_id_chain_resolves(scim: httpx.Client) -> None:
    """Operation i's group has operation i+1's as its member: only the last can run first."""
    n = 60
    prefix = f"chain-{uuid.uuid4().hex[:6]}"
    ops = [_post_group(f"c{i}", f"{prefix}-{i}", [f"bulkId:c{i + 1}"] if i + 1 < n else []) for i in range(n)]
    results = _bulk(scim, *ops)
    assert [r["bulkId"] for r in results] == [f"c{i}" for i in range(n)]  # request order
    assert {r["status"] for r in results} == {"201"}
    ids = [_id(r) for r in results]
    for i in (0, n // 2, n - 2):
        assert _members(scim, ids[i]) == [ids[i + 1]]
    assert _members(scim, ids[-1]) == []


def test_a_cycle_fails_with_409_and_writes_nothing(scim: httpx.Client) -> None:
    prefix = f"cycle-{uuid.uuid4().hex[:6]}"
    results = _bulk(
        scim,
        _post_group("a", f"{prefix}-a", ["bulkId:b"]),
        _post_group("b", f"{prefix}-b", ["bulkId:a"]),
        _post_group("self", f"{prefix}-self", ["bulkId:self"]),
        _post_group("behind", f"{prefix}-behind", ["bulkId:a"]),  # waits on the cycle
        _post_group("free", f"{prefix}-free", []),
        _post_group("ghost", f"{prefix}-ghost", ["bulkId:never-defined"]),
    )
    statuses = {r["bulkId"]: r["status"] for r in results}
    assert statuses == {"a": "409", "b": "409", "self": "409", "behind": "409", "free": "201", "ghost": "409"}
    for result in results:
        if result["status"] == "409":
            assert result["response"]["schemas"] == [ERROR]
            assert result["response"]["scimType"] == "invalidValue" and result["response"]["status"] == "409"
            assert "location" not in result
    for name in ("a", "b", "self", "behind", "ghost"):
        assert _groups_named(scim, f"{prefix}-{name}") == 0
    assert _groups_named(scim, f"{prefix}-free") == 1


def test_each_operation_succeeds_or_fails_on_its_own(scim: httpx.Client) -> None:
    """A failing operation (even one that had written rows before it failed) leaves nothing
    behind, and every other operation, before and after it, commits."""
    existing = scim.post("/Users", json=user_body()).json()
    doomed = scim.post("/Users", json=user_body()).json()
    taken = existing["userName"]
    prefix = f"alone-{uuid.uuid4().hex[:6]}"
    results = _bulk(
        scim,
        _post_user("u1"),
        _post_user("dup", taken),  # 409: the userName is taken
        _post_group("bad", f"{prefix}-bad", ["bulkId:u1", "no-such-member"]),  # inserts the group, then 400
        _post_group("good", f"{prefix}-good", ["bulkId:u1"]),
        {"method": "PATCH", "path": f"/Users/{existing['id']}",
         "data": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]}},
        {"method": "PATCH", "path": "/Users/no-such-user",
         "data": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "x"}]}},
        {"method": "PUT", "path": f"/Users/{existing['id']}", "data": {"schemas": ["nope"]}},  # 400
        {"method": "DELETE", "path": f"/Users/{doomed['id']}"},
    )  # fmt: skip
    assert [r["status"] for r in results] == ["201", "409", "400", "201", "200", "404", "400", "204"]
    assert results[1]["response"]["scimType"] == "uniqueness"
    assert results[2]["response"]["scimType"] == "invalidValue"
    assert _groups_named(scim, f"{prefix}-bad") == 0
    user_id = _id(results[0])
    assert scim.get(f"/Users/{user_id}").status_code == 200
    assert _members(scim, _id(results[3])) == [user_id]
    assert scim.get(f"/Users/{existing['id']}").json()["title"] == "Lead"
    assert scim.get(f"/Users/{doomed['id']}").status_code == 404
    assert results[4]["version"] == scim.get(f"/Users/{existing['id']}").headers["etag"]
    assert results[4]["location"].endswith(f"/Users/{existing['id']}")
    assert "location" not in results[1]  # a failed POST has no location


def test_references_resolve_across_transactions(scim: httpx.Client) -> None:
    """More operations than run in one transaction: a late one refers to the first."""
    ops = [_post_user(f"u{i}") for i in range(230)]
    ops.insert(120, _post_user("dup", ops[3]["data"]["userName"]))
    ops.append(_post_group("g", f"late-{uuid.uuid4().hex[:6]}", ["bulkId:u0", "bulkId:u229"]))
    results = _bulk(scim, *ops)
    assert [r["status"] for r in results].count("201") == 231
    assert results[120]["status"] == "409"
    assert sorted(_members(scim, _id(results[-1]))) == sorted([_id(results[0]), _id(results[-2])])


def test_fail_on_errors_stops_in_order(scim: httpx.Client) -> None:
    name = f"late-{uuid.uuid4().hex[:6]}@example.com"
    results = _bulk(
        scim,
        _post_user("u1"),
        {"method": "DELETE", "path": "/Users/missing-1"},
        _post_user("u2", name),
        {"method": "DELETE", "path": "/Users/missing-2"},
        _post_user("u3"),
        fail_on=2,
    )
    assert [r["status"] for r in results] == ["201", "404", "201", "404"]
    assert scim.get("/Users", params={"filter": f'userName eq "{name}"'}).json()["totalResults"] == 1


def test_an_operation_version_is_its_if_match(scim: httpx.Client) -> None:
    user = scim.post("/Users", json=user_body()).json()
    change = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "New"}]}
    path = f"/Users/{user['id']}"
    stale, current = _bulk(
        scim,
        {"method": "PATCH", "path": path, "version": 'W/"999"', "data": change},
        {"method": "PATCH", "path": path, "version": user["meta"]["version"], "data": change},
    )
    assert stale["status"] == "412" and current["status"] == "200"


def test_malformed_operations_are_refused_before_any_runs(scim: httpx.Client) -> None:
    name = f"never-{uuid.uuid4().hex[:6]}@example.com"
    for bad in ({"method": "POST", "path": "/Users", "bulkId": {"a": 1}, "data": user_body()},
                {"method": "DELETE", "path": "/Users/x", "version": 5},
                {"method": "GET", "path": "/Users"}, {"method": "POST", "path": "/Apps", "bulkId": "x"}):  # fmt: skip
        response = scim.post("/Bulk", json={"schemas": [BULK], "Operations": [_post_user("ok", name), bad]})
        assert response.status_code == 400, response.text
        assert response.json()["scimType"] == "invalidValue"
    assert scim.get("/Users", params={"filter": f'userName eq "{name}"'}).json()["totalResults"] == 0


def _requests(server: RunningServer, method: str, route: str) -> float:
    """The server's request count for one route (all statuses), from /metrics."""
    text = httpx.get(server.url + "/metrics").text
    pattern = rf'^scim_bridge_requests_total\{{method="{method}",route="{re.escape(route)}",status="\d+"\}} (\S+)$'
    return sum(float(value) for value in re.findall(pattern, text, re.MULTILINE))


def test_bulk_operations_do_not_go_through_the_http_app(scim: httpx.Client, server: RunningServer) -> None:
    """Each operation calls the service: no request per operation shows in the metrics."""
    routes = (("POST", "/scim/v2/Users"), ("PATCH", "/scim/v2/Users/{id}"), ("POST", "/scim/v2/Bulk"))
    before = {route: _requests(server, *route) for route in routes}
    user = scim.post("/Users", json=user_body()).json()
    change = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "x"}]}
    results = _bulk(scim, _post_user("a"), _post_user("b"), _post_user("c"),
                    {"method": "PATCH", "path": f"/Users/{user['id']}", "data": change})  # fmt: skip
    assert [r["status"] for r in results] == ["201", "201", "201", "200"]
    after = {route: _requests(server, *route) for route in routes}
    assert after[routes[0]] == before[routes[0]] + 1  # the direct POST above, no more
    assert after[routes[1]] == before[routes[1]]
    assert after[routes[2]] == before[routes[2]] + 1


def _bulk_retries(server: RunningServer) -> float:
    """Bulk operations the server ran again after a deadlock or serialization failure."""
    found = re.search(r"^scim_bridge_bulk_retries_total (\S+)$", httpx.get(server.url + "/metrics").text, re.MULTILINE)
    assert found is not None
    return float(found.group(1))


def test_concurrent_bulks_on_the_same_groups_all_succeed(scim: httpx.Client, server: RunningServer) -> None:
    """Bulks that change the same groups in different orders: every operation succeeds, no
    member is lost, and none met a deadlock (each chunk locks its groups in one order first;
    before, PostgreSQL found two dozen deadlocks here, a second each)."""
    retries = _bulk_retries(server)
    user_ids = [_id(r) for r in _bulk(scim, *[_post_user(f"u{i}") for i in range(48)])]
    groups = [scim.post("/Groups", json=group_body()).json()["id"] for _ in range(6)]
    orders = [random.Random(worker).sample(groups, len(groups)) for worker in range(8)]

    def bulk_of(worker: int) -> list[str]:
        ops = [{"method": "PATCH", "path": f"/Groups/{gid}", "data": {"schemas": [PATCH], "Operations": [
                   {"op": "add", "path": "members", "value": [{"value": user_ids[worker * 6 + k]}]}]}}
               for k, gid in enumerate(orders[worker])]  # fmt: skip
        return [r["status"] for r in _bulk(scim, *ops)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [s for result in pool.map(bulk_of, range(8)) for s in result]
    assert statuses == ["204"] * 48
    assert sum(len(_members(scim, gid)) for gid in groups) == 48
    assert _bulk_retries(server) == retries
