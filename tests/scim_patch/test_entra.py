"""Microsoft Entra ID's documented PATCH requests, replayed (samples/entra-*.json name their source).

Entra tutorial: https://learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
Known issues: https://learn.microsoft.com/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
"""

from __future__ import annotations

import pytest

from scim_server.scim.patch import apply_group_patch, apply_user_patch, normalize_patch
from tests.scim_patch.helpers import ENTERPRISE, bjensen, canonical_group, canonical_user, sample


def test_update_multivalued_replaces_the_work_email_and_family_name() -> None:
    new = apply_user_patch(bjensen(), normalize_patch(sample("entra-user-update-multivalued")))
    assert new["emails"] == [{"value": "updatedEmail@microsoft.com", "type": "work", "primary": True}]
    assert new["name"]["familyName"] == "updatedFamilyName"
    assert new["name"]["givenName"] == "Barbara"


def test_update_single_valued_renames_the_user() -> None:
    new = apply_user_patch(bjensen(), normalize_patch(sample("entra-user-update-single")))
    assert new == {**bjensen(), "userName": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}


@pytest.mark.parametrize("name", ["entra-user-disable", "entra-ki-disable-default", "entra-ki-disable-flag"])
def test_every_documented_disable_shape_deactivates(name: str) -> None:
    new = apply_user_patch(bjensen(), normalize_patch(sample(name)))
    assert new == {**bjensen(), "active": False}


@pytest.mark.parametrize("name", ["entra-ki-add-single-default", "entra-ki-add-single-flag"])
def test_add_single_value_string(name: str) -> None:
    new = apply_user_patch(bjensen(), normalize_patch(sample(name)))
    assert new == {**bjensen(), "nickName": "Babs"}


def test_replace_multiple_without_flag() -> None:
    new = apply_user_patch(bjensen(), normalize_patch(sample("entra-ki-replace-multiple-default")))
    assert new["displayName"] == "Pvlo"
    assert new["emails"][0]["value"] == "TestBcwqnm@test.microsoft.com"
    assert (new["name"]["givenName"], new["name"]["familyName"]) == ("Gtfd", "Pkqf")
    assert new["externalId"] == "Eqpj"
    assert new[ENTERPRISE]["employeeNumber"] == "Eqpj"
    assert new[ENTERPRISE]["department"] == "Tour Operations"


def test_replace_multiple_with_flag_reads_dotted_and_urn_keys() -> None:
    new = apply_user_patch(bjensen(), normalize_patch(sample("entra-ki-replace-multiple-flag")))
    assert new["displayName"] == "Bjfe"
    assert new["emails"][0]["value"] == "TestMhvaes@test.microsoft.com"
    assert (new["name"]["givenName"], new["name"]["familyName"]) == ("Kkom", "Unua")
    assert new["name"]["formatted"] == "Barbara Jensen"
    assert new[ENTERPRISE]["employeeNumber"] == "Aklq"


def test_add_work_email_sent_as_add_updates_the_typed_entry() -> None:
    new = apply_user_patch(bjensen(), normalize_patch(sample("entra-qa-add-work-email")))
    assert new["title"] == "tester"
    assert new["emails"] == [{"value": "joe@joe.com", "type": "work", "primary": True}]


def test_add_work_email_creates_the_entry_when_there_is_none() -> None:
    doc = canonical_user(userName="noemail@example.com")
    new = apply_user_patch(doc, normalize_patch(sample("entra-qa-add-work-email")))
    assert new["emails"] == [{"value": "joe@joe.com", "type": "work"}]


def test_add_mobile_phone_creates_the_typed_entry() -> None:
    new = apply_user_patch(bjensen(), normalize_patch(sample("entra-user-mobile")))
    assert new["phoneNumbers"] == [{"value": "+1 555 0100", "type": "mobile"}]


def test_bare_string_manager_becomes_the_manager_reference() -> None:
    new = apply_user_patch(bjensen(), normalize_patch(sample("entra-user-manager")))
    assert new[ENTERPRISE]["manager"] == {"value": "123456", "$ref": "../Users/123456"}
    assert new[ENTERPRISE]["department"] == "Tour Operations"


def test_bare_string_manager_on_a_user_without_the_extension_adds_its_schema() -> None:
    doc = canonical_user(userName="nomgr@example.com")
    new = apply_user_patch(doc, normalize_patch(sample("entra-user-manager")))
    assert new[ENTERPRISE] == {"manager": {"value": "123456", "$ref": "../Users/123456"}}
    assert ENTERPRISE in new["schemas"]


def test_group_rename() -> None:
    doc = canonical_group(displayName="displayName", externalId="8aa1a0c0")
    result = apply_group_patch(doc, normalize_patch(sample("entra-group-rename")))
    assert result.doc == {**doc, "displayName": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}


def test_group_add_members_with_null_ref() -> None:
    result = apply_group_patch(
        canonical_group(displayName="g"), normalize_patch(sample("entra-group-add-members"))
    )
    assert result.add_members == ["f648f8d5ea4e4cd38e9c"]


@pytest.mark.parametrize(
    ("name", "ident"),
    [
        ("entra-group-remove-members", "f648f8d5ea4e4cd38e9c"),
        ("entra-ki-remove-member-default", "u1091"),
        ("entra-ki-remove-member-flag", "7f4bc1a3-285e-48ae-8202-5accb43efb0e"),
    ],
)
def test_remove_member_removes_only_that_member(name: str, ident: str) -> None:
    result = apply_group_patch(canonical_group(displayName="g"), normalize_patch(sample(name)))
    assert result.remove_members == [ident]
    assert not result.remove_all_members and result.replace_members is None
    assert result.add_members == []
