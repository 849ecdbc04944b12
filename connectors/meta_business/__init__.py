"""Meta Business Manager (Graph API): client.py = the vendor API, connector.py = the protocols."""

from __future__ import annotations

from connectors.base import AutomationAccount
from connectors.http import HTTPSettings
from connectors.meta_business.client import BASE_URL, KIND, MetaClient, make_http, split_version
from connectors.meta_business.connector import ROLES, MetaBusinessConnector
from connectors.registry import ConnectorSpec, register, required_business_id, required_token

__all__ = ["SPEC", "MetaBusinessConnector", "MetaClient", "make_connector"]


def make_connector(
    *, base_url: str, account: AutomationAccount, business_id: str | None, settings: HTTPSettings
) -> MetaBusinessConnector:
    """A connector for Business Manager ``business_id`` acting with ``account.api_token`` (a System
    User token with ``business_management``; ``ads_management`` for ad-account tasks).

    ``base_url`` may end with a Graph version (``https://graph.facebook.com/v26.0``) to select it.
    """
    token = required_token(KIND, account)
    business_id = required_business_id(KIND, business_id, "a Business Manager id")
    root, version = split_version(base_url)
    return MetaBusinessConnector(MetaClient(make_http(root, token, settings), business_id, version))


SPEC = register(ConnectorSpec(
    kind=KIND,
    name="Meta Business Manager",
    cls=MetaBusinessConnector,
    factory=make_connector,
    base_url=BASE_URL,
    needs_business_id=True,
    business_id_label="Business Manager ID",
    login_methods=("sso", "password"),
    default_login_method="password",
    login_method_notes=(
        ("sso", "Members sign in through the company IdP (Meta Business Manager single sign-on, SAML)."),
        ("password", "Members sign in with their own Facebook or Meta account and password: the usual case."),
    ),
    account_fields=("api_token",),
    roles=ROLES,
))
