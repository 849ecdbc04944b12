"""TikTok Business Center (Marketing API v1.3): members, roles, assets and App Authorization.

``client.py`` is the vendor API, ``connector.py`` maps it onto the capability protocols, and
``authorization.py`` drives TikTok's browser consent flow (``connectors.browser``).
"""

from __future__ import annotations

from connectors.base import AutomationAccount
from connectors.browser.session import BrowserSettings
from connectors.http import HTTPSettings
from connectors.registry import ConnectorSpec, CredentialSet, register, required_business_id
from connectors.tiktok_business.authorization import AppAuthorization
from connectors.tiktok_business.client import BASE_URL, KIND, TikTokClient, make_http
from connectors.tiktok_business.connector import ROLES, TikTokBusinessConnector

__all__ = ["SPEC", "AppAuthorization", "TikTokBusinessConnector", "TikTokClient", "make_connector"]


def make_connector(
    *, base_url: str, account: AutomationAccount, business_id: str | None, settings: HTTPSettings,
    browser: BrowserSettings | None = None, redirect_uri: str | None = None,
) -> TikTokBusinessConnector:
    """A connector for Business Center ``business_id`` acting with ``account.api_token``.

    Without an ``api_token`` the connector can still ``authorize(account)`` (username + password +
    app_id/app_secret) to obtain one; API calls made before that fail with ``AuthError`` (40104).
    """
    business_id = required_business_id(KIND, business_id, "a Business Center id (bc_id)")
    authorization = AppAuthorization(base_url, http_settings=settings, browser=browser,
                                     redirect_uri=redirect_uri)
    client = TikTokClient(make_http(base_url, account.api_token, settings), business_id)
    return TikTokBusinessConnector(client, authorization)


SPEC = register(ConnectorSpec(
    kind=KIND,
    name="TikTok Business Center",
    cls=TikTokBusinessConnector,
    factory=make_connector,
    base_url=BASE_URL,
    needs_business_id=True,
    business_id_label="Business Center ID",
    login_methods=("sso", "password"),
    default_login_method="password",
    login_method_notes=(
        ("sso", "Members sign in with TikTok single sign-on through the company IdP (SAML) where the Business Center has it set up."),
        ("password", "Members sign in with their own TikTok For Business account (email or phone and password): the usual case."),
    ),
    account_fields=("username", "password", "phone", "app_id", "app_secret", "api_token"),
    credential_sets=(
        CredentialSet("password_login", ("username", "password", "app_id", "app_secret"), ("phone",),
                      "The automation account's TikTok For Business login (phone when the login asks for "
                      "it) and the developer app's id and secret: scim-bridge runs App Authorization in "
                      "a headless browser and keeps the token it yields."),
        CredentialSet("api_token", ("api_token",), (),
                      "A Business Center access token obtained by App Authorization done before."),
    ),
    roles=ROLES,
))
