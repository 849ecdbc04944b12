"""What third-party IdP test suites found (issue 10), on SQLite and PostgreSQL: attribute names
are case-insensitive everywhere in a body, /Schemas names the core schemas as RFC 7643 does, and
attributes no schema defines are ignored (and logged by name) rather than refused."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from scim2_models import InvalidPathException, SCIMException

from scim_server.scim.patch import apply_group_patch, apply_user_patch, normalize_patch
from scim_server.scim.resources import parse_group, parse_user
from tests.scim.conftest import group_body, user_body
from tests.scim.test_bad_input import BULK, SEARCH, assert_scim_error, patch_body

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _name() -> str:
    return f"interop-{uuid.uuid4().hex[:8]}@example.com"


# ---------------------------------------------------------------------------- case-insensitive names


def test_manager_in_any_case_is_taken_on_create_replace_and_patch(scim: httpx.Client) -> None:
    boss = scim.post("/Users", json=user_body()).json()["id"]
    body = {"schemas": [USER, ENTERPRISE], "userName": _name(), ENTERPRISE: {"Manager": {"Value": boss}}}
    created = scim.post("/Users", json=body)
    assert created.status_code == 201, created.text
    assert created.json()[ENTERPRISE]["manager"]["value"] == boss
    uid = created.json()["id"]

    other = scim.post("/Users", json=user_body()).json()["id"]
    body[ENTERPRISE] = {"MANAGER": {"VALUE": other, "$REF": f"../Users/{other}"}}
    replaced = scim.put(f"/Users/{uid}", json=body)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()[ENTERPRISE]["manager"]["value"] == other

    patched = scim.patch(f"/Users/{uid}", json=patch_body({"op": "Replace", "value": {ENTERPRISE: {"Manager": {"Value": boss}}}}))
    assert patched.status_code == 200, patched.text
    assert patched.json()[ENTERPRISE]["manager"]["value"] == boss
    found = scim.get("/Users", params={"filter": f'{ENTERPRISE}:manager.value eq "{boss}"'}).json()
    assert [r["id"] for r in found["Resources"]] == [uid]


def test_every_attribute_name_of_a_user_is_case_insensitive(scim: httpx.Client) -> None:
    name = _name()
    body = {"Schemas": [USER], "UserName": name, "ExternalID": "E-1", "Name": {"GivenName": "Ada", "FAMILYNAME": "L"},
            "Emails": [{"Value": name, "Type": "work", "Primary": True}], "Active": False,
            ENTERPRISE.upper(): {"Department": "R&D"}}  # fmt: skip
    created = scim.post("/Users", json=body)
    assert created.status_code == 201, created.text
    user = created.json()
    assert (user["userName"], user["externalId"], user["active"]) == (name, "E-1", False)
    assert user["name"] == {"givenName": "Ada", "familyName": "L"}
    assert user["emails"] == [{"value": name, "type": "work", "primary": True}]
    assert user[ENTERPRISE] == {"department": "R&D"}
    assert ENTERPRISE in user["schemas"]


def test_group_members_in_any_case_are_kept(scim: httpx.Client) -> None:
    uid = scim.post("/Users", json=user_body()).json()["id"]
    created = scim.post("/Groups", json={"schemas": [GROUP], "DisplayName": "g-" + uuid.uuid4().hex[:6],
                                         "Members": [{"Value": uid}]})  # fmt: skip
    assert created.status_code == 201, created.text
    gid = created.json()["id"]
    assert [m["value"] for m in scim.get(f"/Groups/{gid}").json()["members"]] == [uid]
    again = scim.put(f"/Groups/{gid}", json={"SCHEMAS": [GROUP], "displayname": "renamed", "MEMBERS": [{"VALUE": uid}]})
    assert again.status_code == 200, again.text
    assert [m["value"] for m in scim.get(f"/Groups/{gid}").json()["members"]] == [uid]


def test_search_request_names_are_case_insensitive(scim: httpx.Client) -> None:
    name = _name()
    scim.post("/Users", json=user_body(name))
    scim.post("/Users", json=user_body())
    body = {"SCHEMAS": [SEARCH], "Filter": f'userName eq "{name}"', "StartIndex": 1, "COUNT": 5,
            "Attributes": ["userName"]}  # fmt: skip
    for path in ("/Users/.search", "/.search"):
        found = scim.post(path, json=body)
        assert found.status_code == 200, found.text
        assert [r["userName"] for r in found.json()["Resources"]] == [name]
        assert set(found.json()["Resources"][0]) == {"id", "schemas", "userName"}


def test_one_attribute_under_two_spellings_is_refused(scim: httpx.Client) -> None:
    body = {"schemas": [USER], "userName": _name(), "title": "a", "Title": "b"}
    assert_scim_error(scim.post("/Users", json=body), 400, "invalidSyntax")


# ---------------------------------------------------------------------------- /Schemas as RFC 7643 §8.7.1


def test_schemas_are_named_and_described_as_the_rfc_does(scim: httpx.Client) -> None:
    schemas = {s["id"]: s for s in scim.get("/Schemas").json()["Resources"]}
    assert (schemas[USER]["name"], schemas[USER]["description"]) == ("User", "User Account")
    assert (schemas[GROUP]["name"], schemas[GROUP]["description"]) == ("Group", "Group")
    assert (schemas[ENTERPRISE]["name"], schemas[ENTERPRISE]["description"]) == ("EnterpriseUser", "Enterprise User")
    assert scim.get(f"/Schemas/{USER}").json()["name"] == "User"
    types = {t["id"]: t for t in scim.get("/ResourceTypes").json()["Resources"]}
    assert types["User"]["description"] == "User Account"


def test_manager_value_and_ref_are_not_required(scim: httpx.Client) -> None:
    enterprise = scim.get(f"/Schemas/{ENTERPRISE}").json()
    manager = next(a for a in enterprise["attributes"] if a["name"] == "manager")
    required = {sub["name"]: sub["required"] for sub in manager["subAttributes"]}
    assert required == {"value": False, "$ref": False, "displayName": False}


def test_schema_descriptions_tell_the_length_limits(scim: httpx.Client) -> None:
    user = {a["name"]: a for a in scim.get(f"/Schemas/{USER}").json()["attributes"]}
    assert "At most 512 characters" in user["userName"]["description"]
    assert "At most 2048 bytes" in user["title"]["description"]
    emails = {s["name"]: s for s in user["emails"]["subAttributes"]}
    assert "At most 2048 bytes" in emails["value"]["description"]
    group = {a["name"]: a for a in scim.get(f"/Schemas/{GROUP}").json()["attributes"]}
    assert "At most 512 characters" in group["displayName"]["description"]


# ---------------------------------------------------------------------------- unknown attributes

SECRET = "value-that-must-not-be-logged"


@pytest.fixture
def ignored(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Captures the server's ``scim_bridge.scim`` lines (the server runs in this process)."""
    with caplog.at_level(logging.INFO, logger="scim_bridge.scim"):
        yield caplog


def _ignored_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The 'ignored attributes' lines since the last ``caplog.clear()``; none holds a value."""
    lines = [r.getMessage() for r in caplog.records if r.name == "scim_bridge.scim" and "ignored" in r.getMessage()]
    assert all(SECRET not in line for line in lines), lines
    return lines


def _custom_user(name: str | None = None) -> dict[str, Any]:
    return {"schemas": [USER, ENTERPRISE], "userName": name or _name(), "customAttr": SECRET,
            "name": {"givenName": "Ada", "nickname": SECRET}, "emails": [{"value": "a@example.com", "foo": SECRET}],
            ENTERPRISE: {"department": "Eng", "badge": SECRET}}  # fmt: skip


def test_unknown_attributes_are_ignored_and_named_once_per_request(
    scim: httpx.Client, ignored: pytest.LogCaptureFixture
) -> None:
    created = scim.post("/Users", json=_custom_user())
    assert created.status_code == 201, created.text
    user = created.json()
    assert SECRET not in created.text
    assert user["name"] == {"givenName": "Ada"} and user[ENTERPRISE] == {"department": "Eng"}
    [line] = _ignored_lines(ignored)
    for name in ("customAttr", "name.nickname", "emails.foo", f"{ENTERPRISE}:badge"):
        assert name in line, line

    ignored.clear()
    replaced = scim.put(f"/Users/{user['id']}", json=_custom_user(user["userName"]) | {"title": "CTO"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["title"] == "CTO" and SECRET not in replaced.text
    assert len(_ignored_lines(ignored)) == 1


@pytest.mark.parametrize(
    "operations",
    [[{"op": "replace", "path": "customAttr", "value": SECRET}, {"op": "replace", "path": "title", "value": "CTO"}],
     [{"op": "add", "path": 'emails[type eq "work"].foo', "value": SECRET},
      {"op": "replace", "path": "name.nickname", "value": SECRET}, {"op": "replace", "path": "title", "value": "CTO"}],
     [{"op": "replace", "value": {"customAttr": SECRET, "title": "CTO", "name": {"nickname": SECRET}}}],
     [{"op": "add", "path": f"{ENTERPRISE}:badge", "value": SECRET}, {"op": "remove", "path": "customAttr"},
      {"op": "Replace", "path": "Title", "value": "CTO"}]],
    ids=["path", "sub-attribute paths", "path-less value", "extension and remove"],
)  # fmt: skip
def test_patches_of_unknown_attributes_are_ignored(
    scim: httpx.Client, ignored: pytest.LogCaptureFixture, operations: list[dict[str, Any]]
) -> None:
    uid = scim.post("/Users", json=user_body()).json()["id"]
    ignored.clear()
    patched = scim.patch(f"/Users/{uid}", json=patch_body(*operations))
    assert patched.status_code == 200, patched.text
    assert patched.json()["title"] == "CTO" and SECRET not in patched.text
    assert len(_ignored_lines(ignored)) == 1


def test_unknown_attributes_of_groups_and_in_bulk_are_ignored(scim: httpx.Client) -> None:
    body = group_body() | {"customAttr": SECRET}
    created = scim.post("/Groups", json=body)
    assert created.status_code == 201, created.text
    change = patch_body({"op": "replace", "path": "customAttr", "value": SECRET},
                        {"op": "replace", "path": "displayName", "value": "renamed"})  # fmt: skip
    assert scim.patch(f"/Groups/{created.json()['id']}", json=change).status_code in (200, 204)
    assert scim.get(f"/Groups/{created.json()['id']}").json()["displayName"] == "renamed"
    bulk = {"schemas": [BULK], "Operations": [{"method": "POST", "path": "/Users", "bulkId": "u", "data": _custom_user()}]}
    [result] = scim.post("/Bulk", json=bulk).json()["Operations"]
    assert result["status"] == "201", result


def test_malformed_paths_are_still_errors(scim: httpx.Client) -> None:
    uid = scim.post("/Users", json=user_body()).json()["id"]
    for path in ('emails[type eq "work"', "title]]", "a b c"):
        response = scim.patch(f"/Users/{uid}", json=patch_body({"op": "replace", "path": path, "value": "x"}))
        assert_scim_error(response, 400, {"invalidPath", "invalidFilter"})


def test_strict_mode_refuses_unknown_attributes_as_before() -> None:
    """The model refuses them (a ValidationError is a 400 invalidValue, scim_server/errors.py)."""
    with pytest.raises(ValidationError, match="customAttr"):
        parse_user(_custom_user(), strict=True)
    with pytest.raises(ValidationError, match="customAttr"):
        parse_group(group_body() | {"customAttr": 1}, strict=True)
    doc = {"schemas": [USER], "userName": "a"}
    for op in ({"op": "replace", "path": "customAttr", "value": "x"}, {"op": "add", "path": "name.nickname", "value": "x"}):
        with pytest.raises(InvalidPathException):
            apply_user_patch(doc, normalize_patch(patch_body(op)), strict=True)
    with pytest.raises(SCIMException):
        apply_user_patch(doc, normalize_patch(patch_body({"op": "replace", "value": {"customAttr": 1}})), strict=True)
    with pytest.raises(InvalidPathException):
        apply_group_patch({"schemas": [GROUP], "displayName": "g"},
                          normalize_patch(patch_body({"op": "replace", "path": "nope", "value": 3})), strict=True)  # fmt: skip


def test_strict_mode_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from scim_server.settings import Settings

    assert Settings().scim_strict_attributes is False
    monkeypatch.setenv("SCIM_BRIDGE_SCIM_STRICT_ATTRIBUTES", "true")
    assert Settings().scim_strict_attributes is True
