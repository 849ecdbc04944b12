"""Okta, replayed: the requests of Okta's "SCIM 2.0 Protocol Reference" and the twelve requests of
the Okta SCIM 2.0 SPEC test (Runscope), sent over real HTTP to the ``server`` fixture (SQLite and
PostgreSQL), with the stored state checked by a follow-up GET.

The request bodies are the JSON files in ``samples/okta/`` (each names its source page and
section). Every response of every test here is recorded, and none may carry a ``password``
attribute or the text of a password Okta sent (RFC 7643 §4.1.1: password is ``returned:
never``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from sqlalchemy import text

from tests.servers import RunningServer

SAMPLES = Path(__file__).parent / "samples" / "okta"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
CREATE_PASSWORD = "1mz050nq"  # the password in Okta's documented Create User request


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


def replay(client: httpx.Client, name: str, headers: dict | None = None, **values: str) -> httpx.Response:
    doc = json.loads((SAMPLES / f"{name}.json").read_text())
    assert doc["source"].startswith("https://developer.okta.com/"), name
    path, _, query = _fill(doc["path"], values).partition("?")
    params = parse_qsl(query, keep_blank_values=True)
    body = _fill(doc["body"], values) if "body" in doc else None
    return client.request(doc["method"], path, params=params, json=body, headers=headers)


@pytest.fixture
def responses(scim: httpx.Client) -> Iterator[list[httpx.Response]]:
    """Every response the ``scim`` client receives during the test."""
    seen: list[httpx.Response] = []

    def record(response: httpx.Response) -> None:
        response.read()
        seen.append(response)

    scim.event_hooks["response"].append(record)
    yield seen


@pytest.fixture(autouse=True)
def no_password_in_any_response(responses: list[httpx.Response]) -> Iterator[None]:
    yield
    for response in responses:
        assert CREATE_PASSWORD not in response.text and "okta-pw-" not in response.text, response.text
        assert '"password"' not in response.text.lower(), response.text


def okta_user(scim: httpx.Client, user_name: str | None = None) -> dict:
    """Okta's documented Create User (with its ``password`` and read-only ``groups``), under a
    unique user name (the documented ``okta.local`` address is replayed verbatim once, in
    ``test_documented_create_user_verbatim``)."""
    user_name = user_name or f"test.user.{uuid.uuid4().hex[:10]}@okta.example.com"
    response = replay(scim, "create_user", user_name=user_name)
    assert response.status_code == 201, response.text
    return response.json()


def fetch(scim: httpx.Client, kind: str, resource_id: str) -> dict:
    response = scim.get(f"/{kind}/{resource_id}")
    assert response.status_code == 200, response.text
    return response.json()


def assert_error(response: httpx.Response, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert ERROR in body["schemas"] and body["status"] == str(status) and body.get("detail")
    if scim_type:
        assert body.get("scimType") == scim_type, body
    return body


def ids(listing: httpx.Response) -> list[str]:
    assert listing.status_code == 200, listing.text
    return [r["id"] for r in listing.json()["Resources"]]


# ---------------------------------------------------------------------------- SPEC test


def test_spec_test_sequence(scim: httpx.Client, server: RunningServer) -> None:
    """The twelve requests of the Okta SCIM 2.0 SPEC test, in order, with its assertions."""
    okta_user(scim)  # "Create at least one user in your SCIM server before running" (the guide)
    tag = uuid.uuid4().hex[:8]
    v = {"random_username": f"Runscope300{tag}@example.com", "random_given_name": "Runscope300",
         "random_family_name": f"Hfl{tag}", "random_email": f"runscope.{tag}@example.com",
         "invalid_user_email": f"abcdefgh{tag}@example.com",
         "user_id_that_does_not_exist": "010101001010101011001010101011"}  # fmt: skip
    v["random_username_caps"] = v["random_username"].upper()

    r1 = replay(scim, "spec_r01_users_endpoint", **v).json()
    assert LIST in r1["schemas"] and r1["itemsPerPage"] == 1 and r1["startIndex"] == 1
    assert isinstance(r1["totalResults"], int) and r1["totalResults"] >= 1
    first = r1["Resources"][0]
    assert first["name"]["familyName"] and first["name"]["givenName"] and first["emails"][0]["value"]
    assert first["userName"] and first["active"] is True

    r2 = replay(scim, "spec_r02_get_user_by_id", user_id=first["id"], **v)
    assert r2.status_code == 200 and r2.json() == first
    r3 = replay(scim, "spec_r03_invalid_user_by_username", **v)
    assert r3.status_code == 200 and r3.json()["totalResults"] == 0
    assert_error(replay(scim, "spec_r04_invalid_user_by_id", **v), 404)
    assert replay(scim, "spec_r05_random_user_absent", **v).json()["totalResults"] == 0

    r6 = replay(scim, "spec_r06_create_user", headers={"Content-Type": "application/json"}, **v)
    assert r6.status_code == 201, r6.text
    created = r6.json()
    assert created["active"] is True and created["userName"] == v["random_username"]
    assert created["name"] == {"givenName": "Runscope300", "familyName": v["random_family_name"]}
    assert "urn:ietf:params:scim:schemas:core:2.0:User" in created["schemas"]

    r7 = replay(scim, "spec_r07_verify_created", user_id=created["id"], **v)
    assert r7.json() == created
    assert_error(replay(scim, "spec_r08_recreate_conflict", headers={"Content-Type": "application/json"}, **v),
                 409, "uniqueness")  # fmt: skip
    r9 = replay(scim, "spec_r09_username_case", **v)
    assert ids(r9) == [created["id"]] and r9.json()["Resources"][0]["userName"] == v["random_username"]
    r10 = replay(scim, "spec_r10_groups_endpoint", **v)
    assert r10.status_code == 200 and r10.json()["totalResults"] == 0 and r10.json()["Resources"] == []
    with httpx.Client(base_url=server.scim, headers={"Authorization": "non-token"}) as anonymous:
        assert_error(replay(anonymous, "spec_r11_status_401", **v), 401)
    assert_error(replay(scim, "spec_r12_status_404", **v), 404)


# ---------------------------------------------------------------------------- users


def test_documented_create_user_verbatim(scim: httpx.Client) -> None:
    """The exact documented request: ``test.user@okta.local`` is a valid SCIM email value
    (RFC 7643 §4.1.2 gives ``emails.value`` the type string; Okta sends ``.local`` addresses)."""
    response = replay(scim, "create_user", user_name="test.user@okta.local")
    assert response.status_code == 201, response.text
    assert response.json()["emails"] == [{"primary": True, "value": "test.user@okta.local", "type": "work"}]


def test_create_user_is_found_by_username_in_any_case(scim: httpx.Client) -> None:
    user_name = f"test.user.{uuid.uuid4().hex[:10]}@okta.example.com"
    absent = replay(scim, "find_user_by_username", user_name=user_name)
    assert absent.status_code == 200
    assert absent.json() == {"schemas": [LIST], "totalResults": 0, "itemsPerPage": 0, "startIndex": 1,
                             "Resources": []}  # fmt: skip
    created = okta_user(scim, user_name)
    assert created["externalId"] == "00ujl29u0le5T6Aj10h7" and created["locale"] == "en-US"
    assert created["displayName"] == "Test User" and "groups" not in created
    assert ids(replay(scim, "find_user_by_username", user_name=user_name)) == [created["id"]]
    assert ids(replay(scim, "find_user_by_username", user_name=user_name.upper())) == [created["id"]]
    assert replay(scim, "get_user", user_id=created["id"]).json() == created


def test_password_is_stored_only_as_a_hash(scim: httpx.Client, server: RunningServer) -> None:
    created = okta_user(scim)

    def row(conn: Any) -> Any:
        return conn.execute(text("SELECT password_hash, doc FROM scim_users WHERE id = :id"),
                            {"id": created["id"]}).one()  # fmt: skip

    password_hash, doc = server.db.read_sync(row)
    assert password_hash and CREATE_PASSWORD not in password_hash
    assert CREATE_PASSWORD not in doc and "password" not in doc.lower()
    synced = replay(scim, "sync_password", user_id=created["id"], password=f"okta-pw-{uuid.uuid4().hex}")
    assert synced.status_code in (200, 204), synced.text
    new_hash, new_doc = server.db.read_sync(row)
    assert new_hash and new_hash != password_hash and "okta-pw-" not in new_hash + new_doc
    assert fetch(scim, "Users", created["id"])["userName"] == created["userName"]

    def audit(conn: Any) -> list[str]:
        query = text(
            "SELECT action, coalesce(detail, '') FROM audit_events WHERE target_id = :id ORDER BY id"
        )
        return [f"{action} {detail}" for action, detail in conn.execute(query, {"id": created["id"]})]

    trail = server.db.read_sync(audit)
    assert [line.split()[0] for line in trail] == ["scim.user.create", "scim.user.patch"]
    assert not any(CREATE_PASSWORD in line or "okta-pw-" in line for line in trail), trail


def test_list_users_pages_in_a_stable_order(scim: httpx.Client) -> None:
    made = {okta_user(scim)["id"] for _ in range(3)}
    listing = replay(scim, "list_users")
    body = listing.json()
    assert body["totalResults"] == 3 and body["itemsPerPage"] == 3 and body["startIndex"] == 1
    assert set(ids(listing)) == made
    paged = [ids(scim.get("/Users", params={"startIndex": i, "count": 1}))[0] for i in (1, 2, 3)]
    assert paged == ids(listing)


def test_put_replaces_the_whole_user(scim: httpx.Client) -> None:
    created = okta_user(scim)
    extra = {"op": "add", "value": {"title": "Engineer", "nickName": "Testy"}}
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [extra]}
    assert scim.patch(f"/Users/{created['id']}", json=patch).json()["title"] == "Engineer"
    before = replay(scim, "get_user", user_id=created["id"]).json()
    response = replay(scim, "replace_user", user_id=created["id"], user_name=created["userName"])
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["id"] == created["id"]
    assert replaced["name"] == {"givenName": "Another", "middleName": "Excited", "familyName": "User"}
    assert replaced["emails"][0]["display"] == created["userName"]
    for gone in ("title", "nickName", "displayName", "locale", "externalId"):
        assert gone not in replaced, gone  # PUT replaces: what the body omits is cleared
    assert replaced["meta"]["created"] == before["meta"]["created"]
    assert replaced["meta"]["version"] != before["meta"]["version"]
    assert fetch(scim, "Users", created["id"]) == replaced


def test_deactivate_then_reactivate(scim: httpx.Client) -> None:
    created = okta_user(scim)
    response = replay(scim, "deactivate_user", user_id=created["id"])
    assert response.status_code in (200, 204), response.text
    if response.status_code == 200:
        assert response.json()["active"] is False
    stored = fetch(scim, "Users", created["id"])
    assert stored["active"] is False
    assert {k: v for k, v in stored.items() if k not in ("active", "meta")} == {
        k: v for k, v in created.items() if k not in ("active", "meta")
    }
    assert ids(replay(scim, "find_user_by_username", user_name=created["userName"])) == [created["id"]]
    assert replay(scim, "reactivate_user", user_id=created["id"]).status_code in (200, 204)
    assert fetch(scim, "Users", created["id"])["active"] is True


# ---------------------------------------------------------------------------- groups


def okta_group(scim: httpx.Client) -> dict:
    response = replay(scim, "create_group", display_name=f"Test SCIMv2 {uuid.uuid4().hex[:8]}")
    assert response.status_code == 201, response.text
    return response.json()


def members(scim: httpx.Client, group_id: str) -> set[str]:
    return {m["value"] for m in fetch(scim, "Groups", group_id).get("members", [])}


def test_push_group_rename_and_delete(scim: httpx.Client) -> None:
    group = okta_group(scim)
    assert group.get("members", []) == [] and group["meta"]["resourceType"] == "Group"
    assert replay(scim, "get_group", group_id=group["id"]).json() == group
    assert ids(replay(scim, "list_groups")) == [group["id"]]
    new_name = f"Test SCIMv20 {uuid.uuid4().hex[:8]}"
    for _ in range(2):  # Okta repeats the rename with every membership update: idempotent
        response = replay(scim, "rename_group", group_id=group["id"], display_name=new_name)
        assert response.status_code in (200, 204), response.text
    stored = fetch(scim, "Groups", group["id"])
    assert stored["displayName"] == new_name and stored["id"] == group["id"]
    deleted = replay(scim, "delete_group", group_id=group["id"])
    assert deleted.status_code == 204
    assert_error(replay(scim, "get_group", group_id=group["id"]), 404)


def test_membership_update_removes_one_and_adds_one(scim: httpx.Client) -> None:
    old, new, kept = okta_user(scim), okta_user(scim), okta_user(scim)
    group = okta_group(scim)
    replaced = replay(scim, "replace_members", group_id=group["id"], member_a=old["id"], member_b=kept["id"])
    assert replaced.status_code in (200, 204), replaced.text
    assert members(scim, group["id"]) == {old["id"], kept["id"]}
    response = replay(scim, "update_membership", group_id=group["id"], old_member_id=old["id"],
                      new_member_id=new["id"])  # fmt: skip
    assert response.status_code in (200, 204), response.text
    assert members(scim, group["id"]) == {new["id"], kept["id"]}
    assert fetch(scim, "Users", new["id"])["groups"] == [
        {"value": group["id"], "display": group["displayName"], "type": "direct"}
    ]


def test_replace_members_is_a_full_push(scim: httpx.Client) -> None:
    users = [okta_user(scim) for _ in range(4)]
    group = okta_group(scim)
    first = replay(
        scim, "replace_members", group_id=group["id"], member_a=users[0]["id"], member_b=users[1]["id"]
    )
    assert first.status_code in (200, 204)
    second = replay(
        scim, "replace_members", group_id=group["id"], member_a=users[2]["id"], member_b=users[3]["id"]
    )
    assert second.status_code in (200, 204)
    assert members(scim, group["id"]) == {users[2]["id"], users[3]["id"]}
