"""From a stored app to a live connector: decrypt the account, build, authorize if needed.

Connectors know nothing of workspaces or the database; this is the one place that turns an
app row (or a connect request) into one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from connectors.base import Authorizes, AutomationAccount, Connector
from connectors.http import HTTPSettings
from connectors.registry import create_connector, get_spec
from scim_server.store.apps import AppRecord
from scim_server.vault import Vault


def account_from(values: Mapping[str, Any]) -> AutomationAccount:
    known = set(AutomationAccount.field_names())
    return AutomationAccount(**{k: v for k, v in values.items() if k in known and v not in (None, "")})


def build(kind: str, account: AutomationAccount, base_url: str | None, business_id: str | None,
          http: HTTPSettings | None = None) -> Connector:  # fmt: skip
    return create_connector(kind, account=account, base_url=base_url, business_id=business_id, settings=http)


async def authorize_if_needed(kind: str, values: dict[str, Any], base_url: str | None,
                              business_id: str | None, http: HTTPSettings | None = None) -> dict[str, Any]:  # fmt: skip
    """A kind that ``Authorizes`` may be connected with username + password: run its flow
    (possibly a headless browser) and keep the token it yields as ``api_token``."""
    if values.get("api_token") or not issubclass(get_spec(kind).cls, Authorizes):
        return values
    if not (values.get("username") and values.get("password")):
        return values
    connector = build(kind, account_from(values), base_url, business_id, http)
    try:
        credentials = await connector.authorize(account_from(values))  # type: ignore[attr-defined]
    finally:
        await connector.aclose()
    return values | {"api_token": credentials.token.reveal()}


@asynccontextmanager
async def open_connector(app: AppRecord, vault: Vault, http: HTTPSettings | None = None) -> AsyncIterator[Connector]:
    connector = build(app.kind, account_from(vault.open(app.account_secret)), app.api_base_url, app.business_id, http)
    try:
        yield connector
    finally:
        await connector.aclose()
