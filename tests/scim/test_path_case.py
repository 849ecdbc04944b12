"""Resource endpoints answer regardless of case (``/users`` as ``/Users``), as Microsoft's
reference SCIM server and its test collection expect; answers name the canonical paths."""

from __future__ import annotations

import httpx
import pytest

from tests.scim.conftest import group_body, user_body

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.mark.parametrize("spelling", ["users", "USERS", "uSeRs"])
def test_users_in_any_case(scim: httpx.Client, spelling: str) -> None:
    created = scim.post(f"/{spelling}", json=user_body())
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    assert created.headers["location"].endswith(f"/Users/{user_id}")
    assert scim.get(f"/{spelling}/{user_id}").json()["id"] == user_id
    change = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]}
    assert scim.patch(f"/{spelling}/{user_id}", json=change).json()["title"] == "Lead"
    name = created.json()["userName"]
    assert scim.get(f"/{spelling}", params={"filter": f'userName eq "{name}"'}).json()["totalResults"] == 1
    found = scim.post(f"/{spelling}/.SEARCH", json={"schemas": [SEARCH], "filter": f'userName eq "{name}"'})
    assert found.json()["totalResults"] == 1
    assert scim.delete(f"/{spelling}/{user_id}").status_code == 204


def test_groups_bulk_and_search_in_lower_case(scim: httpx.Client) -> None:
    group = scim.post("/groups", json=group_body())
    assert group.status_code == 201 and "/Groups/" in group.headers["location"]
    assert scim.get(f"/groups/{group.json()['id']}").status_code == 200
    bulk = scim.post("/bulk", json={"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/users", "bulkId": "u", "data": user_body()},
        {"method": "POST", "path": "/GROUPS", "bulkId": "g", "data": group_body(members=["bulkId:u"])}]})  # fmt: skip
    assert bulk.status_code == 200
    results = bulk.json()["Operations"]
    assert [r["status"] for r in results] == ["201", "201"]
    assert "/Users/" in results[0]["location"] and "/Groups/" in results[1]["location"]
    assert scim.post("/.SEARCH", json={"schemas": [SEARCH], "count": 1}).status_code == 200


@pytest.mark.parametrize("path", ["/serviceproviderconfig", "/SERVICEPROVIDERCONFIG", "/resourcetypes",
                                  "/resourcetypes/User", "/schemas", f"/schemas/{USER}"])  # fmt: skip
def test_discovery_in_any_case(scim: httpx.Client, path: str) -> None:
    assert scim.get(path).status_code == 200
    assert scim.post(path, json={}).status_code == 405
