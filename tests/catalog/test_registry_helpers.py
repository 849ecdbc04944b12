"""The catalog's pure helpers: login methods (how members sign in) and automation-account fields."""

from __future__ import annotations

import pytest

from connectors import registry
from connectors.registry import CATALOG, InvalidCredentials, InvalidLoginMethod


def test_every_kind_offers_both_login_methods_with_a_default_it_offers() -> None:
    for kind in CATALOG:
        spec = registry.get_spec(kind)
        offered = set(registry.login_methods(kind))
        refused = {m for m, _ in spec.unavailable_login_methods}
        assert offered | refused == {"sso", "password"}, kind
        assert all(reason for _, reason in spec.unavailable_login_methods), kind
        assert registry.default_login_method(kind) in offered, kind
        assert registry.check_login_method(kind, None) == registry.default_login_method(kind)
    assert registry.check_login_method("tiktok_business", "sso") == "sso"
    assert registry.default_login_method("tiktok_business") == "password"


def test_an_unknown_login_method_is_a_typed_error_naming_the_field() -> None:
    with pytest.raises(InvalidLoginMethod) as caught:
        registry.check_login_method("github", "magic-link")
    assert caught.value.field == "login_method" and "sso or password" in caught.value.message


def test_credentials_follow_each_kinds_own_fields() -> None:
    assert registry.validate_credentials("github", {"api_token": "t"}) == {"api_token": "t"}
    apple = {"private_key": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n", "key_id": "K",
             "issuer_id": "I"}
    assert registry.validate_credentials("apple", apple) == apple
    tiktok = {"username": "bot@example.com", "password": "pw", "phone": "+15550100", "app_id": "1",
              "app_secret": "s"}
    assert registry.validate_credentials("tiktok_business", tiktok) == tiktok
    assert registry.validate_credentials("tiktok_business", {"api_token": "t", "phone": ""}) == {"api_token": "t"}


@pytest.mark.parametrize(("kind", "fields", "field"), [
    ("apple", {"api_token": "t"}, "automation_account.api_token"),  # not an Apple field
    ("apple", {"private_key": "k", "key_id": "K"}, "automation_account.issuer_id"),
    ("github", {}, "automation_account.api_token"),
    ("github", {"username": "u"}, "automation_account.username"),
    ("github", {"api_token": 5}, "automation_account.api_token"),
    ("github", {"api_token": "ghp_tök"}, "automation_account.api_token"),
    ("github", {"api_token": "ghp_a\nb"}, "automation_account.api_token"),
    ("tiktok_business", {"username": "u", "password": "p", "app_id": "1"}, "automation_account.app_secret"),
    ("tiktok_business", {"password": "p"}, "automation_account.username"),
])  # fmt: skip
def test_bad_credentials_name_the_bad_field_and_never_the_value(kind: str, fields: dict[str, object],
                                                                 field: str) -> None:  # fmt: skip
    with pytest.raises(InvalidCredentials) as caught:
        registry.validate_credentials(kind, fields)
    assert caught.value.field == field and caught.value.kind == kind
    for value in fields.values():
        if isinstance(value, str) and len(value) > 1:
            assert value not in str(caught.value)


def test_describe_says_how_members_sign_in_and_what_the_account_needs() -> None:
    entry = registry.describe("tiktok_business")
    assert entry["login_methods"] == ["sso", "password"] and entry["default_login_method"] == "password"
    assert set(entry["login_method_notes"]) == {"sso", "password"}
    sets = {s["name"]: s for s in entry["credential_sets"]}
    assert sets["password_login"]["required"] == ["username", "password", "app_id", "app_secret"]
    assert sets["password_login"]["optional"] == ["phone"] and sets["api_token"]["required"] == ["api_token"]
    assert registry.describe("apple")["credential_sets"][0]["required"] == ["private_key", "key_id", "issuer_id"]
