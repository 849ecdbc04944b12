"""Okta's documented PATCH requests, replayed (samples/okta-*.json name their source).

Okta SCIM 2.0 reference: https://developer.okta.com/docs/reference/scim/scim-20/
"""

from __future__ import annotations

import copy

from scim_server.scim.patch import apply_group_patch, apply_user_patch, normalize_patch
from tests.scim_patch.helpers import bjensen, canonical_group, sample


def test_deactivate_sets_active_false_and_nothing_else() -> None:
    doc = bjensen()
    new = apply_user_patch(doc, normalize_patch(sample("okta-user-deactivate")))
    assert new == {**doc, "active": False}


def test_reactivate_sets_active_true() -> None:
    doc = {**bjensen(), "active": False}
    new = apply_user_patch(doc, normalize_patch(sample("okta-user-reactivate")))
    assert new["active"] is True


def test_group_rename_ignores_the_echoed_id() -> None:
    doc = canonical_group(displayName="Test SCIMv1", externalId="okta-1")
    result = apply_group_patch(doc, normalize_patch(sample("okta-group-rename")))
    assert result.doc == {**doc, "displayName": "Test SCIMv2"}
    assert "id" not in result.doc
    assert (result.add_members, result.remove_members, result.replace_members) == ([], [], None)


def test_membership_update_removes_by_filter_and_adds_by_value() -> None:
    doc = canonical_group(displayName="Test SCIMv2")
    result = apply_group_patch(doc, normalize_patch(sample("okta-group-membership")))
    assert result.remove_members == ["89bb1940-b905-4575-9e7f-6f887cfb368e"]
    assert result.add_members == ["23a35c27-23d3-4c03-b4c5-6443c09e7173"]
    assert result.replace_members is None and not result.remove_all_members
    assert result.doc == doc


def test_membership_full_push_replaces_all_members() -> None:
    doc = canonical_group(displayName="Test SCIMv2")
    result = apply_group_patch(doc, normalize_patch(sample("okta-group-membership-replace")))
    assert result.replace_members == [
        "23a35c27-23d3-4c03-b4c5-6443c09e7173",
        "89bb1940-b905-4575-9e7f-6f887cfb368e",
    ]
    assert result.add_members == [] and result.remove_members == []


def test_password_sync_is_returned_for_hashing_not_kept_in_the_input() -> None:
    """Okta lists "Syncing the user password" among its User PATCHes (SCIM 2.0 reference)."""
    doc = bjensen()
    before = copy.deepcopy(doc)
    ops = normalize_patch({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                           "Operations": [{"op": "replace", "value": {"password": "1mz050nq"}}]})  # fmt: skip
    new = apply_user_patch(doc, ops)
    assert new["password"] == "1mz050nq"
    assert doc == before and "password" not in doc
