"""GitHub organizations: the reference kind (client.py = the vendor API, connector.py = protocols)."""

from __future__ import annotations

from connectors.base import AutomationAccount
from connectors.github.client import BASE_URL, KIND, GitHubClient, make_http
from connectors.github.connector import ROLES, GitHubConnector
from connectors.http import HTTPSettings
from connectors.registry import ConnectorSpec, register, required_business_id, required_token

__all__ = ["SPEC", "GitHubClient", "GitHubConnector", "make_connector"]


def make_connector(
    *, base_url: str, account: AutomationAccount, business_id: str | None, settings: HTTPSettings
) -> GitHubConnector:
    """A connector for organization ``business_id`` acting with ``account.api_token``."""
    token = required_token(KIND, account)
    business_id = required_business_id(KIND, business_id, "an organization login")
    return GitHubConnector(GitHubClient(make_http(base_url, token, settings), business_id))


SPEC = register(ConnectorSpec(
    kind=KIND,
    name="GitHub",
    cls=GitHubConnector,
    factory=make_connector,
    base_url=BASE_URL,
    needs_business_id=True,
    business_id_label="Organization",
    login_methods=("sso", "password"),
    default_login_method="sso",
    login_method_notes=(
        ("sso", "Members sign in through the IdP (SAML single sign-on on GitHub Enterprise Cloud)."),
        ("password", "Members sign in with their personal GitHub account and password."),
    ),
    account_fields=("api_token",),
    roles=ROLES,
))
