"""App Store Connect teams (API v1): users, pending invitations, roles; ES256 JWT auth.

Account fields: ``private_key`` (the team API key's ``.p8`` PEM), ``key_id`` (JWT ``kid``) and
``issuer_id`` (JWT ``iss``). No business id: the team is implied by the key.
"""

from __future__ import annotations

from connectors.apple.auth import TeamToken
from connectors.apple.client import BASE_URL, KIND, AppleClient
from connectors.apple.connector import ROLES, AppleConnector
from connectors.base import AutomationAccount
from connectors.errors import AuthError
from connectors.http import HTTPSettings, VendorHTTP
from connectors.registry import ConnectorSpec, register

__all__ = ["SPEC", "AppleClient", "AppleConnector", "TeamToken", "make_connector"]


def make_connector(
    *, base_url: str, account: AutomationAccount, business_id: str | None, settings: HTTPSettings
) -> AppleConnector:
    """A connector for the team of ``account``'s API key (``business_id`` is ignored)."""
    if account.private_key is None or not account.key_id or not account.issuer_id:
        raise AuthError(KIND, "connect", "the automation account needs private_key, key_id and issuer_id")
    token = TeamToken(account.private_key, account.key_id, account.issuer_id)
    http = VendorHTTP(KIND, base_url, headers={"Accept": "application/json", "User-Agent": "scim-bridge"},
                      settings=settings)
    return AppleConnector(AppleClient(http, token))


SPEC = register(ConnectorSpec(
    kind=KIND,
    name="App Store Connect",
    cls=AppleConnector,
    factory=make_connector,
    base_url=BASE_URL,
    needs_business_id=False,
    business_id_label="Team",
    login_methods=("sso", "password"),
    default_login_method="password",
    login_method_notes=(
        ("sso", "Members sign in with Managed or federated Apple Accounts through the IdP (Apple Business Manager federation)."),
        ("password", "Members sign in with their own Apple Account and password: the usual case."),
    ),
    account_fields=("private_key", "key_id", "issuer_id"),
    roles=ROLES,
))
