"""The catalog: registration, derived capabilities, metadata, and the secret-hiding account."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors import base, errors, http, registry
from connectors.base import AutomationAccount, ListsMembers, Member, RemovesMembers, Secret
from connectors.github import GitHubConnector
from connectors.registry import CATALOG, ConnectorSpec, UnknownKind, capabilities, get_spec


def test_github_is_registered_with_its_metadata() -> None:
    spec = CATALOG["github"]
    assert (spec.name, spec.cls, spec.base_url) == ("GitHub", GitHubConnector, "https://api.github.com")
    assert spec.needs_business_id and spec.account_fields == ("api_token",)
    assert spec.owner_roles == ("admin",)
    assert set(spec.login_methods) <= {"sso", "password"}
    assert "github" in list(CATALOG) and len(CATALOG) >= 1


def test_capabilities_are_derived_from_the_protocols() -> None:
    assert capabilities("github") == (
        "ListsMembers", "ListsRoles", "ListsAssets", "InvitesMembers", "RemovesMembers",
        "ChangesRoles", "GrantsAssets",
    )
    assert get_spec("github").capabilities == capabilities(GitHubConnector)


class OnlyLists(ListsMembers):
    async def list_members(self) -> AsyncIterator[Member]:
        yield Member("1", None, None, None, "member", "active")


class Structural:
    async def remove(self, remote_id: str) -> None:
        return None


def test_a_connector_has_only_what_it_implements() -> None:
    assert capabilities(OnlyLists) == ("ListsMembers",)
    assert capabilities(OnlyLists()) == ("ListsMembers",)
    assert capabilities(Structural()) == ("RemovesMembers",)
    assert isinstance(Structural(), RemovesMembers)


def test_unknown_kind() -> None:
    with pytest.raises(UnknownKind):
        get_spec("no-such-kind")


def test_spec_rejects_unknown_account_fields() -> None:
    with pytest.raises(ValueError, match="unknown account fields"):
        ConnectorSpec(kind="x", name="X", cls=OnlyLists, factory=lambda **_: None,  # type: ignore[arg-type,return-value]
                      base_url="https://x", account_fields=("api_key",))


def test_registering_another_class_under_a_taken_kind_fails() -> None:
    spec = get_spec("github")
    registry.register(spec)  # idempotent
    with pytest.raises(ValueError):
        registry.register(ConnectorSpec(kind="github", name="Other", cls=OnlyLists, factory=spec.factory,
                                        base_url=spec.base_url))


def test_account_never_shows_secrets() -> None:
    account = AutomationAccount(username="bot", password="pw-123", api_token="tok-456", app_secret="as-789",
                                private_key="-----BEGIN KEY-----", totp_seed="JBSWY3DP")
    text = repr(account) + str(account)
    for secret in ("pw-123", "tok-456", "as-789", "BEGIN KEY", "JBSWY3DP"):
        assert secret not in text
    assert isinstance(account.api_token, Secret) and account.api_token.reveal() == "tok-456"
    assert str(Secret("x")) == "***" and Secret("x") == Secret("x")


def test_factory_needs_token_and_org() -> None:
    with pytest.raises(errors.AuthError):
        registry.create_connector("github", account=AutomationAccount(), business_id="o")
    with pytest.raises(errors.InvalidRequest):
        registry.create_connector("github", account=AutomationAccount(api_token="t"), business_id=None)


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (base, {"CAPABILITIES", "Asset", "Authorizes", "AutomationAccount", "ChangesRoles", "Connector",
                "Credentials", "GrantsAssets", "InvitesMembers", "ListsAssets", "ListsMembers", "ListsRoles",
                "Member", "MemberState", "Permission", "RemovesMembers", "Role", "Secret", "same_email",
                "CAPABILITY_PROTOCOLS", "CapabilityName", "UnsupportedCapability", "require"}),
        (errors, {"AuthError", "BrowserFlowError", "ConnectorError", "InvalidRequest", "NotFound",
                  "PermissionDenied", "RateLimited", "RetryableError", "UnsupportedCapability",
                  "VendorUnavailable"}),
        (http, {"Classifier", "HTTPSettings", "VendorHTTP", "iter_link_pages", "iter_numbered_pages", "raise_for_vendor",
                "retry_after_hint", "vendor_message"}),
        (registry, {"CATALOG", "KIND_PACKAGES", "LOGIN_METHODS", "CatalogError", "ConnectorFactory",
                    "ConnectorSpec", "CredentialSet", "InvalidCredentials", "InvalidLoginMethod", "LoginMethod",
                    "UnknownKind", "capabilities", "check_login_method", "create_connector",
                    "default_login_method", "describe", "get_spec", "login_methods", "register",
                    "required_business_id", "required_token", "validate_credentials"}),
    ],
)
def test_public_surface_is_pinned(module: object, names: set[str]) -> None:
    assert set(module.__all__) == names  # type: ignore[attr-defined]


def test_error_hierarchy() -> None:
    assert issubclass(errors.RateLimited, errors.RetryableError)
    assert issubclass(errors.VendorUnavailable, errors.RetryableError)
    assert not issubclass(errors.AuthError, errors.RetryableError)
    flow = errors.BrowserFlowError("tiktok_business", "authorize", "no pop-up", step="confirm", trace_path="/t.zip")
    assert (flow.step, flow.trace_path) == ("confirm", "/t.zip") and "confirm" in str(flow)
