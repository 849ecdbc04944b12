"""Asana workspaces (client.py = the vendor API, connector.py = the capability protocols)."""

from __future__ import annotations

from connectors.asana.client import BASE_URL, KIND, AsanaClient, make_http
from connectors.asana.connector import ROLES, AsanaConnector
from connectors.base import AutomationAccount
from connectors.http import HTTPSettings
from connectors.registry import ConnectorSpec, register, required_business_id, required_token

__all__ = ["SPEC", "AsanaClient", "AsanaConnector", "make_connector"]


def make_connector(
    *, base_url: str, account: AutomationAccount, business_id: str | None, settings: HTTPSettings
) -> AsanaConnector:
    """A connector for workspace gid ``business_id`` acting with ``account.api_token`` (a PAT)."""
    token = required_token(KIND, account)
    business_id = required_business_id(KIND, business_id, "a workspace gid")
    return AsanaConnector(AsanaClient(make_http(base_url, token, settings), business_id))


SPEC = register(ConnectorSpec(
    kind=KIND,
    name="Asana",
    cls=AsanaConnector,
    factory=make_connector,
    base_url=BASE_URL,
    needs_business_id=True,
    business_id_label="Workspace gid",
    login_methods=("sso", "password"),
    default_login_method="sso",
    login_method_notes=(
        ("sso", "Members sign in through the IdP (SAML single sign-on)."),
        ("password", "Members sign in with an email and an Asana password."),
    ),
    account_fields=("api_token",),
    roles=ROLES,
))
