"""apply_user_patch: RFC 7644 §3.5.2 semantics on stored User documents, and its errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from scim2_models import (
    InvalidValueException,
    MutabilityException,
    SCIMException,
)

from scim_server.scim.patch import apply_user_patch, normalize_patch
from tests.scim_patch.helpers import CORE_USER, ENTERPRISE, bjensen, body, canonical_user


def patch(doc: dict[str, Any], *ops: dict[str, Any], fast: bool = True) -> dict[str, Any]:
    return apply_user_patch(doc, normalize_patch(body(*ops)), fast=fast)


@pytest.mark.parametrize("fast", [True, False])
def test_replace_with_null_removes_the_attribute(fast: bool) -> None:
    new = patch(bjensen(), {"op": "replace", "path": "displayName", "value": None}, fast=fast)
    assert "displayName" not in new


@pytest.mark.parametrize("fast", [True, False])
def test_null_keys_in_a_pathless_value_remove(fast: bool) -> None:
    new = patch(
        bjensen(), {"op": "replace", "value": {"name.formatted": None, "externalId": None}}, fast=fast
    )
    assert "formatted" not in new["name"] and "externalId" not in new


@pytest.mark.parametrize("fast", [True, False])
def test_removing_the_last_enterprise_attribute_drops_the_extension_and_its_schema(fast: bool) -> None:
    doc = canonical_user(userName="u", **{ENTERPRISE: {"department": "Eng"}})
    new = patch(doc, {"op": "remove", "path": f"{ENTERPRISE}:department"}, fast=fast)
    assert ENTERPRISE not in new and new["schemas"] == [CORE_USER]


@pytest.mark.parametrize("fast", [True, False])
def test_adding_an_enterprise_attribute_lists_its_schema(fast: bool) -> None:
    new = patch(
        canonical_user(userName="u"),
        {"op": "add", "path": f"{ENTERPRISE}:costCenter", "value": "42"},
        fast=fast,
    )
    assert new[ENTERPRISE] == {"costCenter": "42"} and new["schemas"] == [CORE_USER, ENTERPRISE]


def test_urn_qualified_enterprise_object_with_bare_manager() -> None:
    new = patch(bjensen(), {"op": "replace", "value": {ENTERPRISE: {"manager": "m-2", "division": "D"}}})
    assert new[ENTERPRISE]["manager"] == {"value": "m-2", "$ref": "../Users/m-2"}
    assert new[ENTERPRISE]["division"] == "D"


@pytest.mark.parametrize("value", ["", None, {"value": ""}])
def test_empty_manager_removes_it(value: Any) -> None:
    new = patch(bjensen(), {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": value})
    assert "manager" not in new[ENTERPRISE]


def test_manager_object_without_ref_gets_one() -> None:
    new = patch(bjensen(), {"op": "replace", "value": {f"{ENTERPRISE}:manager": {"value": "m-3"}}})
    assert new[ENTERPRISE]["manager"] == {"value": "m-3", "$ref": "../Users/m-3"}


def test_string_boolean_sub_attribute_is_read_as_a_boolean() -> None:
    doc = canonical_user(userName="u", emails=[{"value": "a@example.com", "type": "work"}])
    new = patch(doc, {"op": "Replace", "path": 'emails[type eq "work"].primary', "value": "True"})
    assert new["emails"][0]["primary"] is True


def test_remove_of_an_absent_attribute_changes_nothing() -> None:
    assert patch(bjensen(), {"op": "remove", "path": "nickName"}) == bjensen()
    assert patch(bjensen(), {"op": "remove", "path": 'phoneNumbers[type eq "fax"]'}) == bjensen()


def test_remove_with_value_selects_entries() -> None:
    doc = canonical_user(userName="u", emails=[{"value": "a@example.com", "type": "work"},
                                               {"value": "b@example.com", "type": "home"}])  # fmt: skip
    new = patch(doc, {"op": "Remove", "path": "emails", "value": [{"value": "b@example.com"}]})
    assert new["emails"] == [{"value": "a@example.com", "type": "work"}]


def test_operations_apply_in_order() -> None:
    new = patch(bjensen(), {"op": "replace", "path": "title", "value": "a"},
                {"op": "remove", "path": "title"}, {"op": "add", "path": "title", "value": "b"})  # fmt: skip
    assert new["title"] == "b"


def test_only_foreign_operations_leave_the_document_as_it_was() -> None:
    op = {"op": "add", "path": "urn:example:custom:2.0:User:tag", "value": "x"}
    assert patch(bjensen(), op) == bjensen()
    assert patch(bjensen(), op, fast=False) == bjensen()


BAD: list[tuple[dict[str, Any], type[SCIMException]]] = [
    ({"op": "replace", "path": "active", "value": "maybe"}, InvalidValueException),
    ({"op": "replace", "path": "active", "value": [True]}, InvalidValueException),
    ({"op": "replace", "path": "title", "value": 5}, InvalidValueException),
    ({"op": "replace", "path": "name", "value": "Barbara"}, InvalidValueException),
    ({"op": "replace", "path": "emails", "value": "x@example.com"}, InvalidValueException),
    ({"op": "replace", "path": "userName", "value": ""}, InvalidValueException),
    ({"op": "replace", "path": "userName", "value": None}, MutabilityException),
    ({"op": "remove", "path": "userName"}, MutabilityException),
    ({"op": "replace", "path": "id", "value": "other"}, MutabilityException),
    ({"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}, MutabilityException),
    ({"op": "add", "path": f"{ENTERPRISE}:manager", "value": 7}, InvalidValueException),
]


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize(("op", "error"), BAD)
def test_bad_operations_raise_and_change_nothing(
    op: dict[str, Any], error: type[SCIMException], fast: bool
) -> None:
    doc = bjensen()
    before = copy.deepcopy(doc)
    good = {"op": "replace", "path": "title", "value": "applied first"}
    with pytest.raises(error):
        patch(doc, good, op, fast=fast)
    assert doc == before
