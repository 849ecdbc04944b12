"""Atlassian Cloud organizations (client.py = the admin API, connector.py = the capability protocols)."""

from __future__ import annotations

from connectors.atlassian.client import BASE_URL, KIND, AtlassianClient, make_http
from connectors.atlassian.connector import ROLES, AtlassianConnector
from connectors.base import AutomationAccount
from connectors.http import HTTPSettings
from connectors.registry import ConnectorSpec, register, required_business_id, required_token

__all__ = ["SPEC", "AtlassianClient", "AtlassianConnector", "make_connector"]


def make_connector(
    *, base_url: str, account: AutomationAccount, business_id: str | None, settings: HTTPSettings
) -> AtlassianConnector:
    """A connector for organization id ``business_id`` acting with the org API key ``account.api_token``."""
    token = required_token(KIND, account)
    business_id = required_business_id(KIND, business_id, "an organization id")
    return AtlassianConnector(AtlassianClient(make_http(base_url, token, settings), business_id))


SPEC = register(ConnectorSpec(
    kind=KIND,
    name="Atlassian Cloud",
    cls=AtlassianConnector,
    factory=make_connector,
    base_url=BASE_URL,
    needs_business_id=True,
    business_id_label="Organization ID",
    login_methods=("sso", "password"),
    default_login_method="sso",
    login_method_notes=(
        ("sso", "Members sign in through the IdP (SAML single sign-on with Atlassian Guard)."),
        ("password", "Members sign in with an Atlassian account password."),
    ),
    account_fields=("api_token",),
    roles=ROLES,
))
