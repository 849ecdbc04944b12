"""apply_group_patch: the document part and the member part, kept apart."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from scim2_models import InvalidFilterException, InvalidPathException, InvalidValueException, SCIMException

from scim_server.scim.patch import GroupPatchResult, apply_group_patch, normalize_patch
from tests.scim_patch.helpers import CORE_GROUP, body, canonical_group


def patch(*ops: dict[str, Any], fast: bool = True) -> GroupPatchResult:
    return apply_group_patch(
        canonical_group(displayName="Eng", externalId="e-1"), normalize_patch(body(*ops)), fast=fast
    )


def members(*ids: str) -> list[dict[str, str]]:
    return [{"value": i} for i in ids]


def test_remove_members_without_value_removes_all() -> None:
    result = patch({"op": "remove", "path": "members"})
    assert result.remove_all_members and result.replace_members is None


def test_remove_all_then_add_keeps_only_the_added() -> None:
    result = patch(
        {"op": "remove", "path": "Members"}, {"op": "add", "path": "members", "value": members("a")}
    )
    assert result.remove_all_members and result.add_members == ["a"]


def test_pathless_value_splits_members_from_the_document() -> None:
    result = patch({"op": "replace", "value": {"displayName": "Ops", "members": members("a", "b")}})
    assert result.doc["displayName"] == "Ops"
    assert result.replace_members == ["a", "b"]


def test_pathless_add_of_members_adds() -> None:
    result = patch({"op": "add", "value": {f"{CORE_GROUP}:members": members("a")}})
    assert result.add_members == ["a"] and result.doc == canonical_group(displayName="Eng", externalId="e-1")


def test_or_of_value_filters_removes_each() -> None:
    result = patch({"op": "remove", "path": 'members[value eq "a" or value eq "b"]'})
    assert result.remove_members == ["a", "b"]


def test_add_then_remove_cancels_and_remove_then_add_cancels() -> None:
    result = patch({"op": "add", "path": "members", "value": members("a", "b")},
                   {"op": "remove", "path": 'members[value eq "a"]'})  # fmt: skip
    assert (result.add_members, result.remove_members) == (["b"], ["a"])
    result = patch({"op": "remove", "path": "members", "value": members("c")},
                   {"op": "add", "path": "members", "value": members("c")})  # fmt: skip
    assert (result.add_members, result.remove_members) == (["c"], [])


def test_replace_with_null_or_empty_leaves_no_member() -> None:
    assert patch({"op": "replace", "path": "members", "value": None}).replace_members == []
    assert patch({"op": "replace", "path": "members", "value": []}).replace_members == []


def test_single_member_object_is_a_list_of_one() -> None:
    assert patch({"op": "add", "path": "members", "value": {"value": "a"}}).add_members == ["a"]


@pytest.mark.parametrize("fast", [True, False])
def test_external_id_removed_display_name_renamed(fast: bool) -> None:
    result = patch(
        {"op": "remove", "path": "externalId"},
        {"op": "replace", "path": "DISPLAYNAME", "value": "X"},
        fast=fast,
    )
    assert result.doc == {"schemas": [CORE_GROUP], "displayName": "X"}


BAD: list[tuple[dict[str, Any], type[SCIMException]]] = [
    ({"op": "remove", "path": 'members[display eq "Babs"]'}, InvalidFilterException),
    ({"op": "remove", "path": 'members[value sw "a"]'}, InvalidFilterException),
    ({"op": "remove", "path": 'members[value eq "a" and type eq "User"]'}, InvalidFilterException),
    ({"op": "add", "path": 'members[value eq "a"]', "value": members("a")}, InvalidPathException),
    ({"op": "replace", "path": 'members[value eq "a"].display', "value": "x"}, InvalidPathException),
    ({"op": "add", "path": "members.value", "value": "a"}, InvalidPathException),
    ({"op": "add", "path": "members", "value": [{"display": "no id"}]}, InvalidValueException),
    ({"op": "add", "path": "members", "value": ["a"]}, InvalidValueException),
    ({"op": "add", "path": "members", "value": [{"value": 7}]}, InvalidValueException),
    ({"op": "replace", "path": "displayName", "value": ""}, InvalidValueException),
    ({"op": "replace", "path": "displayName", "value": 3}, InvalidValueException),
]


@pytest.mark.parametrize(("op", "error"), BAD)
def test_bad_operations_raise_and_change_nothing(op: dict[str, Any], error: type[SCIMException]) -> None:
    doc = canonical_group(displayName="Eng")
    before = copy.deepcopy(doc)
    with pytest.raises(error):
        apply_group_patch(
            doc, normalize_patch(body({"op": "add", "path": "members", "value": members("z")}, op))
        )
    assert doc == before
