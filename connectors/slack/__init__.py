"""Slack (Enterprise Grid workspace, Web API): client.py = the vendor API, connector.py = protocols."""

from __future__ import annotations

from connectors.base import AutomationAccount
from connectors.http import HTTPSettings
from connectors.registry import ConnectorSpec, register, required_business_id, required_token
from connectors.slack.client import BASE_URL, KIND, SlackClient, make_http
from connectors.slack.connector import ROLES, SlackConnector

__all__ = ["SPEC", "SlackClient", "SlackConnector", "make_connector"]


def make_connector(
    *, base_url: str, account: AutomationAccount, business_id: str | None, settings: HTTPSettings
) -> SlackConnector:
    """A connector for workspace ``business_id`` (``T...``) acting with ``account.api_token`` (an org
    admin/owner ``xoxp`` user token with the ``admin.users:*`` and ``users:read*`` scopes)."""
    token = required_token(KIND, account)
    business_id = required_business_id(KIND, business_id, "a workspace id (team_id, T...)")
    return SlackConnector(SlackClient(make_http(base_url, token, settings), business_id))


SPEC = register(ConnectorSpec(
    kind=KIND,
    name="Slack",
    cls=SlackConnector,
    factory=make_connector,
    base_url=BASE_URL,
    needs_business_id=True,
    business_id_label="Workspace ID (team_id)",
    login_methods=("sso", "password"),
    default_login_method="sso",
    login_method_notes=(
        ("sso", "Members sign in through the IdP (SAML single sign-on on Enterprise Grid)."),
        ("password", "Members sign in with an email and a Slack password."),
    ),
    account_fields=("api_token",),
    roles=ROLES,
))
