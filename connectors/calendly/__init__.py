"""Calendly organizations (API v2): members, pending invitations, invite and remove."""

from __future__ import annotations

from connectors.base import AutomationAccount
from connectors.calendly.client import BASE_URL, KIND, CalendlyClient, make_http
from connectors.calendly.connector import ROLES, CalendlyConnector
from connectors.http import HTTPSettings
from connectors.registry import ConnectorSpec, register, required_business_id, required_token

__all__ = ["SPEC", "CalendlyClient", "CalendlyConnector", "make_connector"]


def make_connector(
    *, base_url: str, account: AutomationAccount, business_id: str | None, settings: HTTPSettings
) -> CalendlyConnector:
    """A connector for organization uuid ``business_id`` acting with ``account.api_token``."""
    token = required_token(KIND, account)
    business_id = required_business_id(KIND, business_id, "an organization uuid")
    return CalendlyConnector(CalendlyClient(make_http(base_url, token, settings), business_id))


SPEC = register(ConnectorSpec(
    kind=KIND,
    name="Calendly",
    cls=CalendlyConnector,
    factory=make_connector,
    base_url=BASE_URL,
    needs_business_id=True,
    business_id_label="Organization UUID",
    login_methods=("sso", "password"),
    default_login_method="sso",
    login_method_notes=(
        ("sso", "Members sign in through the IdP (SAML single sign-on on Enterprise plans)."),
        ("password", "Members sign in with an email and a Calendly password (or Google / Microsoft sign-in)."),
    ),
    account_fields=("api_token",),
    roles=ROLES,
))
