"""normalize_patch: the PatchOp envelope, op names, paths, and the junk that must be a 4xx."""

from __future__ import annotations

from typing import Any

import pytest
from scim2_models import (
    InvalidPathException,
    InvalidSyntaxException,
    InvalidValueException,
    NoTargetException,
    SCIMException,
)

from scim_server.scim.patch import Operation, normalize_patch
from tests.scim_patch.helpers import ENTERPRISE, PATCH_OP, body


def test_ops_are_lowercased_and_members_read_case_insensitively() -> None:
    ops = normalize_patch(
        {"SCHEMAS": [PATCH_OP.upper()], "operations": [{"OP": "Replace", "Path": "active", "VALUE": "False"}]}
    )
    assert ops == [Operation("replace", "active", "False")]


def test_extra_schema_urns_beside_patchop_are_tolerated() -> None:
    ops = normalize_patch(
        {
            "schemas": [PATCH_OP, "urn:example:custom"],
            "Operations": [{"op": "add", "path": "title", "value": "x"}],
        }
    )
    assert ops == [Operation("add", "title", "x")]


def test_readonly_schema_and_foreign_urn_keys_are_dropped_from_a_pathless_value() -> None:
    value = {"id": "1", "Meta": {"version": "W/1"}, "groups": [], "schemas": ["x"], "displayName": "D",
             "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User": {"tag": "701984"},
             "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag": "701984",
             f"{ENTERPRISE}:department": "Ops"}  # fmt: skip
    assert normalize_patch(body({"op": "replace", "value": value})) == [
        Operation("replace", None, {"displayName": "D", f"{ENTERPRISE}:department": "Ops"})
    ]


def test_operations_on_foreign_urns_are_dropped() -> None:
    ops = normalize_patch(body(
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag", "value": "1"},
        {"op": "replace", "path": "title", "value": "t"},
    ))  # fmt: skip
    assert ops == [Operation("replace", "title", "t")]


def test_a_pathless_value_with_only_readonly_keys_is_dropped() -> None:
    assert normalize_patch(body({"op": "replace", "value": {"id": "x", "meta": {}}})) == []


def test_add_of_null_adds_nothing_and_replace_of_null_is_kept() -> None:
    ops = normalize_patch(body({"op": "add", "path": "title", "value": None},
                               {"op": "replace", "path": "nickName", "value": None}))  # fmt: skip
    assert ops == [Operation("replace", "nickName", None)]


def test_empty_path_is_no_path() -> None:
    assert normalize_patch(body({"op": "replace", "path": " ", "value": {"title": "x"}})) == [
        Operation("replace", None, {"title": "x"})
    ]


JUNK: list[tuple[Any, type[SCIMException]]] = [
    ([], InvalidSyntaxException),
    ("nope", InvalidSyntaxException),
    ({"Operations": [{"op": "add", "path": "title", "value": "x"}]}, InvalidSyntaxException),
    (
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Operations": []},
        InvalidSyntaxException,
    ),
    ({"schemas": [PATCH_OP]}, InvalidSyntaxException),
    ({"schemas": [PATCH_OP], "Operations": []}, InvalidSyntaxException),
    ({"schemas": [PATCH_OP], "Operations": {"op": "add"}}, InvalidSyntaxException),
    (body("add"), InvalidSyntaxException),
    (body({"op": "merge", "path": "title", "value": "x"}), InvalidValueException),
    (body({"path": "title", "value": "x"}), InvalidValueException),
    (body({"op": 3, "path": "title", "value": "x"}), InvalidValueException),
    (body({"op": "remove"}), NoTargetException),
    (body({"op": "remove", "path": ""}), NoTargetException),
    (body({"op": "add", "path": "title"}), InvalidValueException),
    (body({"op": "replace", "value": "x"}), InvalidValueException),
    (body({"op": "replace", "value": None}), InvalidValueException),
    (body({"op": "add", "value": ["x"]}), InvalidValueException),
    (body({"op": "add", "path": 7, "value": "x"}), InvalidPathException),
    (body({"op": "replace", "path": 'emails[type eq "work"', "value": "x"}), InvalidPathException),
    (body({"op": "replace", "path": "emails[type eq]", "value": "x"}), InvalidPathException),
    (body({"op": "remove", "path": "a..b"}), InvalidPathException),
]


@pytest.mark.parametrize(("request_body", "error"), JUNK)
def test_junk_is_a_scim_error_of_the_right_type(request_body: Any, error: type[SCIMException]) -> None:
    with pytest.raises(error) as caught:
        normalize_patch(request_body)
    assert caught.value.status == 400
