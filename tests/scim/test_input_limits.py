"""What a write may hold (issue 9, items 5 and 9): lengths the storage can hold, readable names,
JSON bodies only. Every case answers a 4xx in the RFC 7644 §3.12 error schema on SQLite and
PostgreSQL alike, through POST, PUT, PATCH and Bulk, and writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from scim_server.scim.patch import apply_user_patch, normalize_patch
from tests.scim.conftest import group_body, user_body
from tests.scim.test_bad_input import BULK, ERROR, PATCH_OP, SEARCH, assert_scim_error, patch_body
from tests.servers import RunningServer

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MAX_NAME_CHARS = 512  # as advertised (README "Limits"; test_advertised_limits pins the code to them)
MAX_VALUE_BYTES = 2048


class Resources:
    """One user and one group of a fresh workspace, and what GET answers for each."""

    def __init__(self, scim: httpx.Client) -> None:
        self.scim = scim
        self.user = scim.post("/Users", json=user_body()).json()
        self.group = scim.post("/Groups", json=group_body()).json()
        self.before = self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        users = self.scim.get("/Users", params={"count": 1000}).json()
        groups = self.scim.get("/Groups", params={"count": 1000, "excludedAttributes": "members"}).json()
        return {"users": users["Resources"], "groups": groups["Resources"]}

    def path(self, kind: str) -> str:
        return f"/Users/{self.user['id']}" if kind == "user" else f"/Groups/{self.group['id']}"

    def body(self, kind: str, **change: Any) -> dict[str, Any]:
        if kind == "user":
            return user_body(change.pop("userName", None) or f"u-{uuid.uuid4().hex[:8]}", **change)
        return group_body(change.pop("displayName", None)) | change


@pytest.fixture
def resources(scim: httpx.Client) -> Iterator[Resources]:
    state = Resources(scim)
    yield state
    assert state.snapshot() == state.before, "a refused request changed what is stored"


def refused_everywhere(resources: Resources, kind: str, attribute: str, value: Any) -> None:
    """POST, PUT, PATCH and a Bulk POST setting ``attribute`` to ``value`` all answer 400
    invalidValue (the Bulk operation's own status)."""
    scim, collection = resources.scim, "/Users" if kind == "user" else "/Groups"
    assert_scim_error(scim.post(collection, json=resources.body(kind, **{attribute: value})), 400, "invalidValue")
    replacement = resources.body(kind, **{attribute: value})
    if kind == "user" and attribute != "userName":
        replacement["userName"] = resources.user["userName"]
    assert_scim_error(scim.put(resources.path(kind), json=replacement), 400, "invalidValue")
    change = patch_body({"op": "replace", "path": attribute, "value": value})
    assert_scim_error(scim.patch(resources.path(kind), json=change), 400, "invalidValue")
    bulk = {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": collection, "bulkId": "b1", "data": resources.body(kind, **{attribute: value})},
        {"method": "PATCH", "path": resources.path(kind), "data": change},
    ]}  # fmt: skip
    response = scim.post("/Bulk", json=bulk)
    assert response.status_code == 200, response.text
    for result in response.json()["Operations"]:
        assert result["status"] == "400", result
        assert result["response"]["scimType"] == "invalidValue", result


# ---------------------------------------------------------------------------- lengths (item 5)

COLUMNS = [("user", "userName"), ("user", "displayName"), ("user", "externalId"),
           ("group", "displayName"), ("group", "externalId")]  # fmt: skip


@pytest.mark.parametrize(("kind", "attribute"), COLUMNS)
def test_column_values_over_512_characters_are_refused_alike(
    resources: Resources, kind: str, attribute: str
) -> None:
    """PostgreSQL answered 500 (VARCHAR(512)) and SQLite stored them."""
    refused_everywhere(resources, kind, attribute, "x" * (MAX_NAME_CHARS + 1))


@pytest.mark.parametrize(("kind", "attribute"), COLUMNS)
def test_column_values_of_512_characters_are_stored(scim: httpx.Client, kind: str, attribute: str) -> None:
    value = uuid.uuid4().hex + "x" * (MAX_NAME_CHARS - 32)
    body = user_body(**{attribute: value}) if kind == "user" else group_body() | {attribute: value}
    created = scim.post("/Users" if kind == "user" else "/Groups", json=body)
    assert created.status_code == 201, created.text
    assert created.json()[attribute] == value


def test_a_user_name_whose_case_folded_form_is_too_long_is_refused(resources: Resources) -> None:
    """U+0130 lower-cases to two code points: 300 of them make a 600-character key column."""
    refused_everywhere(resources, "user", "userName", "\u0130" * 300)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("title", "x" * (MAX_VALUE_BYTES + 1)), ("title", "\u00e9" * (MAX_VALUE_BYTES // 2 + 1)),
     ("emails", [{"value": "x" * MAX_VALUE_BYTES + "@example.com", "type": "work"}]),
     ("name", {"givenName": "y" * (MAX_VALUE_BYTES + 1)}),
     (ENTERPRISE, {"department": "z" * (MAX_VALUE_BYTES + 1)})],
    ids=["ascii", "two-byte", "emails.value", "name.givenName", "enterprise.department"],
)  # fmt: skip
def test_indexed_values_over_2048_bytes_are_refused_alike(resources: Resources, attribute: str, value: Any) -> None:
    """PostgreSQL refused the value index entry ("index row size exceeds btree maximum 2704") with
    a 500; SQLite stored it."""
    refused_everywhere(resources, "user", attribute, value)


def test_indexed_values_of_2048_bytes_are_stored(scim: httpx.Client) -> None:
    title = "\u00e9" * (MAX_VALUE_BYTES // 2)
    created = scim.post("/Users", json=user_body(title=title, **{ENTERPRISE: {"department": "d" * MAX_VALUE_BYTES}}))
    assert created.status_code == 201, created.text
    assert created.json()["title"] == title


# ---------------------------------------------------------------------------- readable names (item 9)

UNREADABLE = ["bell\x07", "tab\there", "c1\x85", "rtl\u202egnp.exe", "embed\u202a", "isolate\u2066x\u2069",
              "   ", "\u3000\u00a0", "\u200b"]  # fmt: skip
NAMES = [("user", "userName"), ("user", "displayName"), ("group", "displayName")]


@pytest.mark.parametrize("value", UNREADABLE, ids=repr)
@pytest.mark.parametrize(("kind", "attribute"), NAMES)
def test_control_bidi_and_blank_names_are_refused(resources: Resources, kind: str, attribute: str, value: str) -> None:
    refused_everywhere(resources, kind, attribute, value)


def test_readable_names_in_any_script_are_stored(scim: httpx.Client) -> None:
    for name in ("José Ñúñez", "\u05e9\u05dc\u05d5\u05dd", "\u5f20\u4f1f", "\U0001f600 smile", "a\u200db"):
        created = scim.post("/Users", json=user_body(f"{uuid.uuid4().hex[:6]}{name}", displayName=name))
        assert created.status_code == 201, created.text
        assert created.json()["displayName"] == name


def test_a_patch_is_held_to_the_rules_only_where_it_changes_the_document() -> None:
    """A name stored before the rules existed never blocks deactivating the user."""
    stored = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "legacy",
              "displayName": "old\u202ename", "title": "t" * (MAX_VALUE_BYTES + 10)}  # fmt: skip
    deactivate = normalize_patch(patch_body({"op": "replace", "path": "active", "value": False}))
    for fast in (True, False):
        assert apply_user_patch(stored, deactivate, fast=fast)["active"] is False


# ---------------------------------------------------------------------------- media type (item 9)

REFUSED_TYPES = ["text/plain", "application/xml", "multipart/form-data; boundary=x",
                 "application/x-www-form-urlencoded", "application/json; charset=iso-8859-1", "application/jsonx"]  # fmt: skip
ACCEPTED_TYPES = ["application/scim+json", "application/json", "application/json; charset=utf-8",
                  "Application/SCIM+JSON; charset=\"UTF-8\""]  # fmt: skip


def _writes(resources: Resources) -> list[tuple[str, str, dict[str, Any]]]:
    rename = patch_body({"op": "replace", "path": "displayName", "value": "renamed"})
    search = {"schemas": [SEARCH], "filter": "id pr"}
    return [
        ("POST", "/Users", resources.body("user")),
        ("PUT", resources.path("user"), resources.body("user", userName=resources.user["userName"], title="x")),
        ("PATCH", resources.path("user"), rename),
        ("POST", "/Groups", resources.body("group")),
        ("PUT", resources.path("group"), resources.body("group", displayName="renamed")),
        ("PATCH", resources.path("group"), rename),
        ("POST", "/Bulk", {"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": resources.body("user")}]}),
        ("POST", "/Users/.search", search),
        ("POST", "/Groups/.search", search),
        ("POST", "/.search", search),
    ]  # fmt: skip


def _raw(body: dict[str, Any]) -> bytes:
    return httpx.Request("POST", "http://x", json=body).content


@pytest.mark.parametrize("content_type", [*REFUSED_TYPES, None])
def test_writes_that_are_not_json_are_415(
    resources: Resources, server: RunningServer, workspace: str, content_type: str | None
) -> None:
    headers = {"Authorization": resources.scim.headers["authorization"]}
    if content_type is not None:
        headers["Content-Type"] = content_type
    with httpx.Client(base_url=server.scim, headers=headers, timeout=30) as client:
        for method, path, body in _writes(resources):
            response = client.request(method, path, content=_raw(body))
            assert_scim_error(response, 415)
            assert "scimType" not in response.json()
            assert ERROR in response.json()["schemas"]


@pytest.mark.parametrize("content_type", ACCEPTED_TYPES)
def test_writes_in_json_are_taken(scim: httpx.Client, content_type: str) -> None:
    state = Resources(scim)
    for method, path, body in _writes(state):
        response = scim.request(method, path, content=_raw(body), headers={"Content-Type": content_type})
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"


def test_patch_op_urn_is_still_required_with_a_json_type(scim: httpx.Client) -> None:
    """The media type is checked first, then the body as before."""
    state = Resources(scim)
    body = {"schemas": ["urn:x"], "Operations": [{"op": "replace", "path": "title", "value": "x"}]}
    assert PATCH_OP not in body["schemas"]
    assert_scim_error(scim.patch(state.path("user"), json=body), 400, "invalidSyntax")
