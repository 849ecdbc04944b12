"""Microsoft Entra ID, replayed: every request of Entra's SCIM tutorial and of its "known issues"
page (the ``aadOptscim062020`` pairs), sent over real HTTP to the ``server`` fixture (SQLite and
PostgreSQL), with the stored state checked by a follow-up GET.

The request bodies are the JSON files in ``samples/entra/`` (each names its source page and
section); ``{{name}}`` placeholders carry the ids our server assigned.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from tests.servers import RunningServer

SAMPLES = Path(__file__).parent / "samples" / "entra"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


# ---------------------------------------------------------------------------- replay helpers


def _fill(value: Any, values: dict[str, str]) -> Any:
    """Substitute ``{{name}}`` in every string of a sample; an unfilled placeholder is a test bug."""
    if isinstance(value, str):
        for key, replacement in values.items():
            value = value.replace("{{" + key + "}}", replacement)
        assert "{{" not in value, f"unfilled placeholder in {value!r}"
        return value
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    return value


def sample(name: str) -> dict:
    doc = json.loads((SAMPLES / f"{name}.json").read_text())
    assert doc["source"].startswith("https://learn.microsoft.com/"), name
    return doc


def replay(scim: httpx.Client, name: str, **values: str) -> httpx.Response:
    """Send the sample ``name`` with its placeholders filled."""
    doc = sample(name)
    path, _, query = _fill(doc["path"], values).partition("?")
    params = parse_qsl(query, keep_blank_values=True)
    if "body" in doc:
        return scim.request(doc["method"], path, params=params, json=_fill(doc["body"], values))
    return scim.request(doc["method"], path, params=params)


def unique_name() -> str:
    return f"Test_User_{uuid.uuid4()}"


def create_user(scim: httpx.Client, user_name: str | None = None) -> dict:
    """Entra's documented Create User request; returns the created resource."""
    user_name = user_name or unique_name()
    response = replay(scim, "create_user", user_name=user_name, external_id=str(uuid.uuid4()),
                      email=f"{user_name}@testuser.com")  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()


def create_group(scim: httpx.Client, display_name: str | None = None) -> dict:
    response = replay(scim, "create_group", display_name=display_name or f"group {uuid.uuid4()}",
                      external_id=str(uuid.uuid4()))  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()


def fetch(scim: httpx.Client, kind: str, resource_id: str) -> dict:
    response = scim.get(f"/{kind}/{resource_id}")
    assert response.status_code == 200, response.text
    return response.json()


def member_ids(scim: httpx.Client, group_id: str) -> set[str]:
    return {m["value"] for m in fetch(scim, "Groups", group_id).get("members", [])}


def assert_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert ERROR in body["schemas"]
    assert body["status"] == str(status)


def work_email(user: dict) -> dict:
    [email] = [e for e in user["emails"] if e.get("type") == "work"]
    return email


# ---------------------------------------------------------------------------- users


def test_create_user_then_get_returns_the_same_resource(scim: httpx.Client) -> None:
    user_name = unique_name()
    created = create_user(scim, user_name)
    assert created["id"] and created["userName"] == user_name
    assert created["name"] == {"formatted": "givenName familyName", "familyName": "familyName",
                               "givenName": "givenName"}  # fmt: skip
    assert created["emails"] == [{"primary": True, "type": "work", "value": f"{user_name}@testuser.com"}]
    assert created["active"] is True and created["meta"]["resourceType"] == "User"
    assert replay(scim, "get_user", user_id=created["id"]).json() == created


def test_get_unknown_user_is_404(scim: httpx.Client) -> None:
    assert_error(replay(scim, "get_user_not_found"), 404)


def test_get_user_by_query_finds_exactly_that_user(scim: httpx.Client) -> None:
    user = create_user(scim)
    create_user(scim)
    body = replay(scim, "get_user_by_query", user_name=user["userName"]).json()
    assert LIST in body["schemas"]
    assert body["totalResults"] == 1 and body["startIndex"] == 1
    assert [r["id"] for r in body["Resources"]] == [user["id"]]
    upper = replay(scim, "get_user_by_query", user_name=user["userName"].upper()).json()
    assert [r["id"] for r in upper["Resources"]] == [user["id"]]  # userName is caseExact false


def test_get_user_by_external_id(scim: httpx.Client) -> None:
    user = create_user(scim)
    create_user(scim)
    body = replay(scim, "get_user_by_external_id", external_id=user["externalId"]).json()
    assert [r["id"] for r in body["Resources"]] == [user["id"]]


def test_get_user_by_query_zero_results(scim: httpx.Client) -> None:
    create_user(scim)
    response = replay(scim, "get_user_by_query_zero_results")
    assert response.status_code == 200
    body = response.json()
    assert body["totalResults"] == 0 and body["Resources"] == [] and body["startIndex"] == 1


def test_test_connection_answers_an_empty_list(scim: httpx.Client) -> None:
    response = replay(scim, "test_connection", random_guid=str(uuid.uuid4()))
    assert response.status_code == 200 and response.json()["totalResults"] == 0


def test_user_found_by_work_email(scim: httpx.Client) -> None:
    user = create_user(scim)
    create_user(scim)
    body = replay(scim, "get_user_by_work_email", email=work_email(user)["value"]).json()
    assert [r["id"] for r in body["Resources"]] == [user["id"]]


def test_update_user_multi_valued_properties(scim: httpx.Client) -> None:
    user = create_user(scim)
    response = replay(scim, "update_user_multi_valued", user_id=user["id"])
    assert response.status_code in (200, 204), response.text
    stored = fetch(scim, "Users", user["id"])
    assert stored["emails"] == [{"primary": True, "type": "work", "value": "updatedEmail@microsoft.com"}]
    assert stored["name"]["familyName"] == "updatedFamilyName"
    assert stored["name"]["givenName"] == "givenName"
    assert stored["userName"] == user["userName"] and stored["externalId"] == user["externalId"]
    body = replay(scim, "get_user_by_work_email", email="updatedEmail@microsoft.com").json()
    assert [r["id"] for r in body["Resources"]] == [user["id"]]


def test_update_user_single_valued_property(scim: httpx.Client) -> None:
    user = create_user(scim)
    new_name = f"{uuid.uuid4()}@testuser.com"
    response = replay(scim, "update_user_single_valued", user_id=user["id"], new_user_name=new_name)
    assert response.status_code in (200, 204), response.text
    assert fetch(scim, "Users", user["id"])["userName"] == new_name
    found = replay(scim, "get_user_by_query", user_name=new_name).json()
    assert [r["id"] for r in found["Resources"]] == [user["id"]]
    assert replay(scim, "get_user_by_query", user_name=user["userName"]).json()["totalResults"] == 0


@pytest.mark.parametrize("name", ["disable_user", "disable_user_without_flag", "disable_user_with_flag"])
def test_disable_user(scim: httpx.Client, name: str) -> None:
    user = create_user(scim)
    response = replay(scim, name, user_id=user["id"])
    assert response.status_code in (200, 204), response.text
    stored = fetch(scim, "Users", user["id"])
    assert stored["active"] is False
    assert {k: v for k, v in stored.items() if k not in ("active", "meta")} == {
        k: v for k, v in user.items() if k not in ("active", "meta")
    }
    inactive = scim.get("/Users", params={"filter": f'userName eq "{user["userName"]}" and active eq false'})
    assert [r["id"] for r in inactive.json()["Resources"]] == [user["id"]]


def test_delete_user_removes_it_and_its_memberships(scim: httpx.Client) -> None:
    user, other = create_user(scim), create_user(scim)
    group = create_group(scim)
    for member in (user, other):
        assert replay(
            scim, "update_group_add_members", group_id=group["id"], member_id=member["id"]
        ).is_success
    response = replay(scim, "delete_user", user_id=user["id"])
    assert response.status_code == 204 and not response.content
    assert_error(replay(scim, "get_user", user_id=user["id"]), 404)
    assert member_ids(scim, group["id"]) == {other["id"]}


def test_provision_user_with_nulls_and_misspelled_urn(scim: httpx.Client) -> None:
    """Example 2: nulls mean absent, top-level ``department``/``manager`` null are ignored, and
    the extension URN typo ``...:2.0User`` is tolerated."""
    user_name = f"{uuid.uuid4()}@testuser.com"
    response = replay(scim, "provision_user_with_nulls", user_name=user_name)
    assert response.status_code == 201, response.text
    stored = fetch(scim, "Users", response.json()["id"])
    assert stored["userName"] == user_name and stored["displayName"] == "Joy Young"
    assert stored["externalId"] == "jyoung" and len(stored["emails"]) == 1
    for absent in ("addresses", "phoneNumbers", "preferredLanguage", "title", "department", "manager"):
        assert absent not in stored
    assert stored == response.json()


def test_email_is_stored_as_sent(scim: httpx.Client) -> None:
    """ "Values sent should be stored in the same format they were sent" (tutorial, "General"):
    Example 2's ``jyoung@Contoso.com`` keeps its capital C."""
    response = replay(scim, "provision_user_with_nulls", user_name=f"{uuid.uuid4()}@testuser.com")
    assert response.status_code == 201, response.text
    stored = fetch(scim, "Users", response.json()["id"])
    assert stored["emails"] == [{"type": "work", "value": "jyoung@Contoso.com", "primary": True}]


@pytest.mark.parametrize("name", ["add_manager_bare_string", "add_manager_reference"])
def test_add_manager(scim: httpx.Client, name: str) -> None:
    manager, user = create_user(scim), create_user(scim)
    response = replay(scim, name, user_id=user["id"], manager_id=manager["id"])
    assert response.status_code in (200, 204), response.text
    stored = fetch(scim, "Users", user["id"])
    assert stored[ENTERPRISE]["manager"]["value"] == manager["id"]
    assert ENTERPRISE in stored["schemas"]


def test_add_department_and_typed_phone_numbers_creates_the_entries(scim: httpx.Client) -> None:
    user = create_user(scim)
    response = replay(scim, "add_department_and_mobile", user_id=user["id"])
    assert response.status_code in (200, 204), response.text
    stored = fetch(scim, "Users", user["id"])
    assert stored[ENTERPRISE]["department"] == "Human Resources US"
    phones = {p["type"]: p["value"] for p in stored["phoneNumbers"]}
    assert phones == {"mobile": "+1 555 0100", "fax": "+1 555 0199"}
    assert [a.get("postalCode") for a in stored["addresses"] if a.get("type") == "work"] == ["98052"]
    found = scim.get("/Users", params={"filter": 'phoneNumbers[type eq "mobile"].value eq "+1 555 0100"'})
    assert [r["id"] for r in found.json()["Resources"]] == [user["id"]]


@pytest.mark.parametrize("name", ["add_single_value_without_flag", "add_single_value_with_flag"])
def test_add_single_value_string_attribute(scim: httpx.Client, name: str) -> None:
    user = create_user(scim)
    assert replay(scim, name, user_id=user["id"]).status_code in (200, 204)
    assert fetch(scim, "Users", user["id"])["nickName"] == "Babs"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("replace_multiple_without_flag",
         {"displayName": "Pvlo", "email": "TestBcwqnm@test.microsoft.com", "givenName": "Gtfd",
          "familyName": "Pkqf", "externalId": "Eqpj", "employeeNumber": "Eqpj"}),
        ("replace_multiple_with_flag",
         {"displayName": "Bjfe", "email": "TestMhvaes@test.microsoft.com", "givenName": "Kkom",
          "familyName": "Unua", "externalId": None, "employeeNumber": "Aklq"}),
    ],
)  # fmt: skip
def test_replace_multiple_attributes(scim: httpx.Client, name: str, expected: dict) -> None:
    user = create_user(scim)
    response = replay(scim, name, user_id=user["id"])
    assert response.status_code in (200, 204), response.text
    stored = fetch(scim, "Users", user["id"])
    assert stored["displayName"] == expected["displayName"]
    assert work_email(stored) == {"primary": True, "type": "work", "value": expected["email"]}
    assert len(stored["emails"]) == 1
    assert stored["name"]["givenName"] == expected["givenName"]
    assert stored["name"]["familyName"] == expected["familyName"]
    assert stored["name"]["formatted"] == "givenName familyName"  # untouched sub-attribute
    assert stored["externalId"] == (expected["externalId"] or user["externalId"])
    assert stored[ENTERPRISE] == {"employeeNumber": expected["employeeNumber"]}


# ---------------------------------------------------------------------------- groups


def test_group_lifecycle(scim: httpx.Client) -> None:
    display_name = f"displayName {uuid.uuid4()}"
    group = create_group(scim, display_name)
    assert group["displayName"] == display_name and group.get("members", []) == []
    assert group["meta"]["resourceType"] == "Group"
    got = replay(scim, "get_group", group_id=group["id"])
    assert got.status_code == 200 and "members" not in got.json()
    assert got.json()["externalId"] == group["externalId"]
    listed = replay(scim, "get_group_by_display_name", display_name=display_name).json()
    assert [r["id"] for r in listed["Resources"]] == [group["id"]]
    assert all("members" not in r for r in listed["Resources"])
    new_name = f"{uuid.uuid4()}updatedDisplayName"
    response = replay(scim, "update_group_non_member", group_id=group["id"], new_display_name=new_name)
    assert response.status_code in (200, 204), response.text
    assert fetch(scim, "Groups", group["id"])["displayName"] == new_name
    deleted = replay(scim, "delete_group", group_id=group["id"])
    assert deleted.status_code == 204 and not deleted.content
    assert_error(replay(scim, "get_group", group_id=group["id"]), 404)


def test_add_then_remove_members(scim: httpx.Client) -> None:
    group = create_group(scim)
    users = [create_user(scim) for _ in range(2)]
    for user in users:
        response = replay(scim, "update_group_add_members", group_id=group["id"], member_id=user["id"])
        assert response.status_code in (200, 204), response.text
    assert member_ids(scim, group["id"]) == {u["id"] for u in users}
    again = replay(scim, "update_group_add_members", group_id=group["id"], member_id=users[0]["id"])
    assert again.status_code in (200, 204)  # adding a present member is not an error
    assert fetch(scim, "Users", users[0]["id"])["groups"][0]["value"] == group["id"]
    response = replay(scim, "update_group_remove_members", group_id=group["id"], member_id=users[0]["id"])
    assert response.status_code in (200, 204), response.text
    assert member_ids(scim, group["id"]) == {users[1]["id"]}
    assert "groups" not in fetch(scim, "Users", users[0]["id"])


@pytest.mark.parametrize("name", ["remove_member_without_flag", "remove_member_with_flag"])
def test_remove_one_member_of_three_keeps_the_others(scim: httpx.Client, name: str) -> None:
    users = [create_user(scim) for _ in range(3)]
    group = create_group(scim)
    add = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
           "Operations": [{"op": "Add", "path": "members", "value": [{"value": u["id"]} for u in users]}]}  # fmt: skip
    assert scim.patch(f"/Groups/{group['id']}", json=add).is_success
    assert member_ids(scim, group["id"]) == {u["id"] for u in users}
    response = replay(scim, name, group_id=group["id"], member_id=users[1]["id"])
    assert response.status_code in (200, 204), response.text
    assert member_ids(scim, group["id"]) == {users[0]["id"], users[2]["id"]}


def test_remove_with_value_list_removes_only_listed_members(scim: httpx.Client) -> None:
    users = [create_user(scim) for _ in range(4)]
    group = create_group(scim)
    for user in users:
        assert replay(scim, "update_group_add_members", group_id=group["id"], member_id=user["id"]).is_success
    body = sample("remove_member_without_flag")["body"]
    body["Operations"][0]["value"] = [{"value": users[0]["id"]}, {"value": users[3]["id"]}]
    assert scim.patch(f"/Groups/{group['id']}", json=body).status_code in (200, 204)
    assert member_ids(scim, group["id"]) == {users[1]["id"], users[2]["id"]}


def test_discover_schemas(scim: httpx.Client) -> None:
    response = replay(scim, "discover_schemas")
    assert response.status_code == 200
    body = response.json()
    assert LIST in body["schemas"]
    ids = {r["id"] for r in body["Resources"]}
    assert {"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:core:2.0:Group",
            ENTERPRISE} <= ids  # fmt: skip
    user_schema = next(r for r in body["Resources"] if r["id"].endswith("core:2.0:User"))
    user_name = next(a for a in user_schema["attributes"] if a["name"] == "userName")
    assert user_name["uniqueness"] == "server" and user_name["caseExact"] is False


def test_users_of_another_workspace_are_invisible(scim: httpx.Client, server: RunningServer) -> None:
    user = create_user(scim)
    token = server.token(f"ws-{uuid.uuid4().hex[:10]}")
    with httpx.Client(base_url=server.scim, headers={"Authorization": f"Bearer {token}"}) as other:
        assert_error(other.get(f"/Users/{user['id']}"), 404)
        assert replay(other, "get_user_by_query", user_name=user["userName"]).json()["totalResults"] == 0
