"""Bad input never costs a 500 and never changes what is stored.

Every case below must answer a 4xx in the RFC 7644 §3.12 error schema (``schemas`` lists the
Error URN, ``status`` is the HTTP status as a string, ``scimType`` where §3.12 defines one), and
a GET afterwards must return the stored user and group byte-for-byte as before (whole body,
``meta.version`` and ``meta.lastModified`` included).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.scim.conftest import group_body, user_body
from tests.servers import RunningServer

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
WRONG_TYPES = {"invalidValue", "invalidSyntax"}  # §3.12: a value "not compatible with the attribute type"


@dataclass
class Stored:
    """A user (member of a group) and that group, as GET returns them."""

    user_id: str
    group_id: str
    bodies: dict[str, dict] = field(default_factory=dict)

    def paths(self) -> tuple[str, str]:
        return f"/Users/{self.user_id}", f"/Groups/{self.group_id}"


@pytest.fixture
def stored(scim: httpx.Client) -> Iterator[Stored]:
    user = scim.post("/Users", json=user_body(title="Engineer"))
    assert user.status_code == 201, user.text
    group = scim.post("/Groups", json=group_body(members=[user.json()["id"]]))
    assert group.status_code == 201, group.text
    state = Stored(user.json()["id"], group.json()["id"])
    state.bodies = snapshot(scim, state)
    yield state
    assert snapshot(scim, state) == state.bodies, "a rejected request changed the stored resources"


def snapshot(scim: httpx.Client, state: Stored) -> dict[str, dict]:
    out = {}
    for path in state.paths():
        response = scim.get(path)
        assert response.status_code == 200, response.text
        out[path] = response.json()
    return out


def assert_scim_error(response: httpx.Response, status: int | tuple[int, ...], scim_type: Any = None) -> None:
    """A 4xx in the RFC 7644 §3.12 schema; ``scim_type`` is the expected scimType, or a set of
    acceptable ones, or None when §3.12 defines none for the case."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/scim+json"), response.headers
    body = response.json()
    assert ERROR in body["schemas"], body
    assert body["status"] == str(response.status_code), body
    if isinstance(scim_type, str):
        assert body.get("scimType") == scim_type, body
    elif scim_type is not None:
        assert body.get("scimType") in scim_type, body


def _id(value: Any) -> str:
    return json.dumps(value, default=sorted)[:70]


def patch_body(*operations: Any) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


# ---------------------------------------------------------------------------- malformed bodies

MALFORMED = [b'{"schemas": [', b"not json", b"", b'{"a": 1}}', b"\xff\xfe", b"[1, 2", b'{"userName": "x",}']


@pytest.mark.parametrize("raw", MALFORMED, ids=repr)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_malformed_json_on_writes(scim: httpx.Client, stored: Stored, method: str, raw: bytes) -> None:
    for path in stored.paths():
        assert_scim_error(scim.request(method, path, content=raw), 400, "invalidSyntax")


@pytest.mark.parametrize("raw", MALFORMED, ids=repr)
@pytest.mark.parametrize("path", ["/Users", "/Groups", "/Users/.search", "/Bulk"])
def test_malformed_json_on_posts(scim: httpx.Client, stored: Stored, path: str, raw: bytes) -> None:
    assert_scim_error(scim.post(path, content=raw), 400, "invalidSyntax")


@pytest.mark.parametrize("body", [[], "a string", 5, None, {"userName": "no-schemas"}], ids=repr)
def test_bodies_that_are_not_resources(scim: httpx.Client, stored: Stored, body: Any) -> None:
    raw = json.dumps(body).encode()
    assert_scim_error(scim.post("/Users", content=raw), 400, WRONG_TYPES)
    assert_scim_error(scim.put(stored.paths()[0], content=raw), 400, WRONG_TYPES)
    assert_scim_error(scim.patch(stored.paths()[0], content=raw), 400, WRONG_TYPES)


# ---------------------------------------------------------------------------- wrong types, unknown attributes

WRONG_USER_VALUES = [
    {"userName": 5}, {"userName": ""}, {"userName": None}, {"active": "maybe"}, {"active": 2},
    {"emails": "x"}, {"emails": [{"value": 5}]}, {"emails": ["x@example.com"]}, {"name": "Ada Lovelace"},
    {"name": {"givenName": ["Ada"]}}, {"phoneNumbers": {"value": "1"}},
    {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "sales"},
    {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": 5}},
]  # fmt: skip  (unknown attributes are ignored, not refused: tests/scim/test_interop.py)


@pytest.mark.parametrize("change", WRONG_USER_VALUES, ids=_id)
def test_wrong_types_and_unknown_attributes_in_users(
    scim: httpx.Client, stored: Stored, change: dict
) -> None:
    current = stored.bodies[stored.paths()[0]]
    body = user_body(current["userName"]) | change
    assert_scim_error(scim.put(stored.paths()[0], json=body), 400, WRONG_TYPES)
    assert_scim_error(scim.post("/Users", json=user_body() | change), 400, WRONG_TYPES)


WRONG_GROUP_VALUES = [
    {"displayName": 5}, {"displayName": ""}, {"members": "x"}, {"members": [{"value": 5}]}, {"members": ["id"]},
    {"members": [{"value": "no-such-member"}]},
]  # fmt: skip


@pytest.mark.parametrize("change", WRONG_GROUP_VALUES, ids=_id)
def test_wrong_types_in_groups(scim: httpx.Client, stored: Stored, change: dict) -> None:
    assert_scim_error(scim.put(stored.paths()[1], json=group_body("renamed") | change), 400, WRONG_TYPES)
    assert_scim_error(scim.post("/Groups", json=group_body() | change), 400, WRONG_TYPES)


# ---------------------------------------------------------------------------- junk PATCH operations

JUNK_USER_PATCHES = [
    ({"schemas": [PATCH_OP]}, WRONG_TYPES),
    ({"schemas": [PATCH_OP], "Operations": []}, WRONG_TYPES),
    ({"schemas": [PATCH_OP], "Operations": {"op": "add"}}, WRONG_TYPES),
    ({"Operations": [{"op": "replace", "path": "title", "value": "x"}]}, WRONG_TYPES),
    (patch_body({"op": "frobnicate", "path": "title", "value": "x"}), WRONG_TYPES),
    (patch_body({"path": "title", "value": "x"}), WRONG_TYPES),
    (patch_body({"op": 5, "path": "title", "value": "x"}), WRONG_TYPES),
    (patch_body("replace"), WRONG_TYPES),
    (patch_body({"op": "replace", "path": "emails[type eq", "value": "x"}), {"invalidPath", "invalidFilter"}),
    (patch_body({"op": "replace", "path": "title]]", "value": "x"}), {"invalidPath", "invalidFilter"}),
    (patch_body({"op": "replace", "path": 5, "value": "x"}), {"invalidPath", "invalidSyntax"}),
    (patch_body({"op": "remove"}), {"noTarget", "invalidPath", "invalidSyntax"}),
    (patch_body({"op": "replace", "path": "active", "value": "maybe"}), WRONG_TYPES),
    (patch_body({"op": "replace", "path": "userName", "value": 5}), WRONG_TYPES),
    (patch_body({"op": "replace", "path": "emails", "value": "x"}), WRONG_TYPES),
    (patch_body({"op": "add", "path": "emails", "value": [{"value": ["x"]}]}), WRONG_TYPES),
    (patch_body({"op": "replace", "path": "name", "value": "Ada"}), WRONG_TYPES),
    (patch_body({"op": "replace", "value": "not an object"}), WRONG_TYPES),
    (patch_body({"op": "add", "path": "title"}), WRONG_TYPES),
    (patch_body({"op": "replace", "path": "title", "value": "ok"}, {"op": "frobnicate"}), WRONG_TYPES),
    (patch_body({"op": "replace", "path": "title", "value": "ok"}, {"op": "replace", "path": "active", "value": "maybe"}),
     WRONG_TYPES),
]  # fmt: skip


@pytest.mark.parametrize(("body", "scim_type"), JUNK_USER_PATCHES, ids=_id)
def test_junk_user_patches(scim: httpx.Client, stored: Stored, body: dict, scim_type: Any) -> None:
    """A PATCH is atomic (RFC 7644 §3.5.2): a bad operation after a good one changes nothing."""
    assert_scim_error(scim.patch(stored.paths()[0], json=body), 400, scim_type)


JUNK_GROUP_PATCHES = [
    patch_body({"op": "add", "path": "members", "value": "x"}),
    patch_body({"op": "add", "path": "members", "value": [{"value": "no-such-member"}]}),
    patch_body({"op": "add", "path": "members", "value": [{"nope": 1}]}),
    patch_body({"op": "replace", "path": "members", "value": [{"value": 5}]}),
    patch_body({"op": "remove", "path": "members[value eq"}),
    patch_body({"op": "replace", "path": "displayName", "value": 5}),
    patch_body({"op": "replace", "path": "displayName", "value": "ok"}, {"op": "add", "path": "members", "value": 1}),
]  # fmt: skip


@pytest.mark.parametrize("body", JUNK_GROUP_PATCHES, ids=_id)
def test_junk_group_patches(scim: httpx.Client, stored: Stored, body: dict) -> None:
    expected = {"invalidValue", "invalidSyntax", "invalidPath", "invalidFilter"}
    assert_scim_error(scim.patch(stored.paths()[1], json=body), 400, expected)


def test_members_of_another_workspace_cannot_be_added(
    scim: httpx.Client, stored: Stored, server: RunningServer
) -> None:
    with _client(server, f"Bearer {server.token(f'ws-{uuid.uuid4().hex[:10]}')}") as other:
        foreign = other.post("/Users", json=user_body()).json()["id"]
    body = patch_body({"op": "add", "path": "members", "value": [{"value": foreign}]})
    assert_scim_error(scim.patch(stored.paths()[1], json=body), 400, "invalidValue")


# ---------------------------------------------------------------------------- filters, paging


BAD_FILTERS = [
    "userName eq", "foo bar baz", 'userName xx "a"', 'userName eq "a" and', '(userName eq "a"', 'userName eq "a")',
    'emails[type eq "work"', 'userName eq "unterminated', "userName eq a b", "and", 'not userName eq "a"',
    'userName eq "a" or or userName eq "b"', 'meta.created gt "not-a-date"',
]  # fmt: skip


@pytest.mark.parametrize("flt", BAD_FILTERS)
def test_invalid_filters(scim: httpx.Client, stored: Stored, flt: str) -> None:
    assert_scim_error(scim.get("/Users", params={"filter": flt}), 400, "invalidFilter")
    assert_scim_error(scim.get("/Groups", params={"filter": flt}), 400, "invalidFilter")
    search = {"schemas": [SEARCH], "filter": flt}
    assert_scim_error(scim.post("/Users/.search", json=search), 400, "invalidFilter")


@pytest.mark.parametrize(
    "params",
    [{"startIndex": "abc"}, {"count": "abc"}, {"startIndex": "1.5"}, {"count": "ten"}, {"sortOrder": "sideways"},
     {"startIndex": "9" * 40}, {"cursor": "not-a-cursor"}],
    ids=_id,
)  # fmt: skip
def test_bad_paging_parameters(scim: httpx.Client, stored: Stored, params: dict) -> None:
    assert_scim_error(scim.get("/Users", params=params), 400)


def test_bad_search_bodies(scim: httpx.Client, stored: Stored) -> None:
    assert_scim_error(scim.post("/Users/.search", json={"filter": 'userName eq "a"'}), 400, "invalidSyntax")
    for bad in ({"startIndex": "abc"}, {"count": [1]}, {"filter": 5}, {"sortBy": 5}):
        assert_scim_error(scim.post("/Users/.search", json={"schemas": [SEARCH]} | bad), 400)


# ---------------------------------------------------------------------------- sizes, preconditions, auth, tenancy


def test_huge_bodies_are_413(scim: httpx.Client, stored: Stored, server: RunningServer) -> None:
    size = server.settings.max_payload_size + 1
    huge = user_body(nickName="x" * size)
    assert_scim_error(scim.post("/Users", json=huge), 413)
    assert_scim_error(scim.put(stored.paths()[0], json=huge), 413)
    patch = patch_body({"op": "replace", "path": "title", "value": "x" * size})
    assert_scim_error(scim.patch(stored.paths()[0], json=patch), 413)
    chunks = (b"x" * 65536 for _ in range(size // 65536 + 1))  # no Content-Length: chunked
    assert_scim_error(scim.patch(stored.paths()[0], content=chunks), 413)


def test_bulk_over_max_operations_is_413(scim: httpx.Client, stored: Stored, server: RunningServer) -> None:
    op = {"method": "PATCH", "path": stored.paths()[0],
          "data": patch_body({"op": "replace", "path": "title", "value": "bulk"})}  # fmt: skip
    body = {"schemas": [BULK], "Operations": [op] * (server.settings.bulk_max_operations + 1)}
    assert_scim_error(scim.post("/Bulk", json=body), 413)


@pytest.mark.parametrize("if_match", ['W/"999"', '"999"', "garbage", 'W/"0"'])
def test_stale_if_match_is_412(scim: httpx.Client, stored: Stored, if_match: str) -> None:
    headers = {"If-Match": if_match}
    user_path, group_path = stored.paths()
    replacement = user_body(stored.bodies[user_path]["userName"], title="Changed")
    assert_scim_error(scim.put(user_path, json=replacement, headers=headers), 412)
    change = patch_body({"op": "replace", "path": "title", "value": "Changed"})
    assert_scim_error(scim.patch(user_path, json=change, headers=headers), 412)
    rename = patch_body({"op": "replace", "path": "displayName", "value": "Changed"})
    assert_scim_error(scim.patch(group_path, json=rename, headers=headers), 412)
    assert_scim_error(scim.put(group_path, json=group_body("Changed"), headers=headers), 412)
    assert_scim_error(scim.delete(user_path, headers=headers), 412)
    assert_scim_error(scim.delete(group_path, headers=headers), 412)


def _client(server: RunningServer, authorization: str | None) -> httpx.Client:
    headers = {"Content-Type": "application/scim+json"} | (
        {"Authorization": authorization} if authorization else {}
    )
    return httpx.Client(base_url=server.scim, headers=headers, timeout=30)


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "sbt_raw"]
)
def test_missing_or_wrong_token_is_401(
    stored: Stored, server: RunningServer, authorization: str | None
) -> None:
    user_path, group_path = stored.paths()
    with _client(server, authorization) as anonymous:
        for response in (
            anonymous.get(user_path),
            anonymous.get("/Users"),
            anonymous.get("/ServiceProviderConfig"),
            anonymous.post("/Users", json=user_body()),
            anonymous.patch(user_path, json=patch_body({"op": "replace", "path": "title", "value": "x"})),
            anonymous.put(group_path, json=group_body("x")),
            anonymous.delete(user_path),
            anonymous.delete(group_path),
        ):
            assert_scim_error(response, 401)
            assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


def test_another_workspaces_ids_are_404(stored: Stored, server: RunningServer) -> None:
    user_path, group_path = stored.paths()
    with _client(server, f"Bearer {server.token(f'ws-{uuid.uuid4().hex[:10]}')}") as other:
        for path in (user_path, group_path):
            assert_scim_error(other.get(path), 404)
            assert_scim_error(other.delete(path), 404)
        assert_scim_error(other.put(user_path, json=user_body()), 404)
        assert_scim_error(other.put(group_path, json=group_body()), 404)
        change = patch_body({"op": "replace", "path": "displayName", "value": "x"})
        assert_scim_error(other.patch(user_path, json=change), 404)
        assert_scim_error(other.patch(group_path, json=change), 404)


def test_duplicate_user_names_are_409_uniqueness(scim: httpx.Client, stored: Stored) -> None:
    name = stored.bodies[stored.paths()[0]]["userName"]
    assert_scim_error(scim.post("/Users", json=user_body(name)), 409, "uniqueness")
    assert_scim_error(scim.post("/Users", json=user_body(name.upper())), 409, "uniqueness")
    other = scim.post("/Users", json=user_body()).json()
    rename = patch_body({"op": "replace", "path": "userName", "value": name.upper()})
    assert_scim_error(scim.patch(f"/Users/{other['id']}", json=rename), 409, "uniqueness")
    assert_scim_error(scim.put(f"/Users/{other['id']}", json=user_body(name)), 409, "uniqueness")
    assert scim.get(f"/Users/{other['id']}").json() == other


def test_writes_to_discovery_endpoints_are_405(scim: httpx.Client, stored: Stored) -> None:
    for path in ("/ServiceProviderConfig", "/Schemas", "/ResourceTypes"):
        assert_scim_error(scim.post(path, json={}), 405)


# ---------------------------------------------------------------------------- fuzzing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=8)
    | st.sampled_from(["add", "Remove", "REPLACE", "title", "members", "emails[type eq \"work\"].value",
                       "name.givenName", "active", "False", "userName", "urn:ietf:params:scim:schemas:core:2.0:User:title"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6) | st.sampled_from(
        ["value", "op", "path", "display", "title", "userName", "active"]), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
valid_ops = st.sampled_from(["add", "remove", "replace", "Add", "Replace", "Remove"])
valid_paths = st.sampled_from(["title", "members", "userName", "name", "emails", "active", "id", "displayName",
                               "name.givenName", 'emails[type eq "work"].value', 'members[value eq "x"]'])  # fmt: skip
valid_values = st.sampled_from(["Engineer", True, "False", [{"value": "a@example.com", "type": "work"}],
                                {"givenName": "Grace"}, {"title": "Boss", "name.familyName": "Hopper"}])  # fmt: skip
junk_operations = st.fixed_dictionaries(
    {"op": st.one_of(valid_ops, valid_ops, valid_ops, json_values)},
    optional={"path": st.one_of(valid_paths, valid_paths, json_values),
              "value": st.one_of(valid_values, valid_values, json_values)},
) | st.dictionaries(st.text(max_size=5), json_values, max_size=3)  # fmt: skip
good_operations = st.sampled_from([
    {"op": "replace", "path": "title", "value": "Boss"},
    {"op": "Add", "path": "nickName", "value": "Babs"},
    {"op": "Replace", "path": "active", "value": "False"},
    {"op": "replace", "value": {"name.givenName": "Grace", "active": True}},
    {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "w@example.com"},
    {"op": "replace", "path": "displayName", "value": "renamed"},
    {"op": "remove", "path": "members"},
])  # fmt: skip


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    operations=st.lists(junk_operations | good_operations, min_size=0, max_size=2),
    target=st.sampled_from(["user", "group"]),
)
def test_fuzzed_patches_never_500_and_change_nothing_when_rejected(
    scim: httpx.Client, stored: Stored, operations: list, target: str
) -> None:
    path = stored.paths()[0 if target == "user" else 1]
    response = scim.patch(path, json={"schemas": [PATCH_OP], "Operations": operations})
    assert response.status_code < 500, response.text
    event(f"{target} PATCH answered {response.status_code}")
    if response.status_code >= 400:
        assert_scim_error(response, response.status_code)
        assert snapshot(scim, stored) == stored.bodies, (operations, response.text)
    else:
        stored.bodies = snapshot(scim, stored)  # accepted: the new state is the reference


def test_schemas_of_the_wrong_type_are_a_400(scim: httpx.Client) -> None:
    for path in ("/Users/.search", "/Groups/.search", "/.search", "/Bulk"):
        for schemas in (5, "urn:x", {"a": 1}, None):
            response = scim.post(path, json={"schemas": schemas, "Operations": []})
            assert response.status_code == 400, (path, schemas, response.text)
            assert response.json()["scimType"] == "invalidSyntax"
