"""TikTok "App Authorization": the browser consent flow that yields a Business Center token.

Steps (each a ``BrowserSession.step``; a failure raises ``BrowserFlowError`` naming it, with a
screenshot and a Playwright trace kept):

1. ``open_portal``: ``<base>/portal/auth?app_id=&state=&redirect_uri=`` shows the login form;
2. ``login``: the automation account's username and password (login method ``password``);
3. ``consent``: the dialog asking to confirm access for the app; press "Confirm";
4. ``redirect``: catch the navigation to ``redirect_uri``; it carries ``auth_code`` and ``state``
   (``state`` must be ours: RFC 6749 10.12, CSRF);
5. ``exchange``: ``POST open_api/v1.3/oauth2/access_token/`` ``{app_id, secret, auth_code}`` ->
   ``data.access_token`` (Marketing API BC tokens are long-lived until revoked).

``redirect_uri`` must be one registered for the app. It is only observed, never needed to be
reachable: the flow catches the navigation request itself.
"""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from connectors.base import AutomationAccount, Credentials, Secret
from connectors.browser.pages.tiktok_business import PageFlowError, TikTokAuthPortal
from connectors.browser.session import BrowserSession, BrowserSettings
from connectors.errors import InvalidRequest
from connectors.http import HTTPSettings
from connectors.tiktok_business.client import KIND, TokenGrant, exchange_auth_code, make_http

__all__ = ["AppAuthorization", "callback_code", "portal_url"]


def portal_url(base_url: str, app_id: str, state: str, redirect_uri: str) -> str:
    """The authorization page under the API host (``https://business-api.tiktok.com/portal/auth``)."""
    query = urlencode({"app_id": app_id, "state": state, "redirect_uri": redirect_uri})
    return f"{base_url.rstrip('/')}/portal/auth?{query}"


def callback_code(url: str, state: str) -> str:
    """The ``auth_code`` of a redirect URL; ``PageFlowError`` if missing or the state is not ours."""
    query = parse_qs(urlsplit(url).query)
    if query.get("state", [""])[0] != state:
        raise PageFlowError("the redirect's state does not match the one sent")
    code = query.get("auth_code", [""])[0]
    if not code:
        reason = query.get("error", ["no auth_code"])[0]
        raise PageFlowError(f"the redirect carries no auth_code ({reason})")
    return code


class AppAuthorization:
    """Runs the flow against ``base_url`` (production's API host or the sandbox's ``/<kind>``).

    :param redirect_uri: the app's registered redirect; default: the portal's own callback page.
    """

    def __init__(self, base_url: str, *, http_settings: HTTPSettings | None = None,
                 browser: BrowserSettings | None = None, redirect_uri: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http_settings = http_settings or HTTPSettings()
        self.browser = browser or BrowserSettings()
        self.redirect_uri = redirect_uri or f"{self.base_url}/portal/callback"

    async def run(self, account: AutomationAccount) -> Credentials:
        """The token for ``account`` (username + password + app_id/app_secret), or a typed error."""
        username, password, app_id, app_secret = _required(account)
        state = secrets.token_urlsafe(16)
        timeout = self.browser.timeout_ms / 1000
        async with BrowserSession(KIND, "authorize", self.browser, secrets=(password, app_secret)) as session:
            portal = TikTokAuthPortal(session.page)
            async with session.step("open_portal"):
                await portal.open(portal_url(self.base_url, app_id, state, self.redirect_uri))
            async with session.step("login"):
                await portal.log_in(username, password.reveal())
            redirected = portal.watch_redirect(self.redirect_uri)
            try:
                async with session.step("consent"):
                    await portal.confirm_access()
                async with session.step("redirect"):
                    code = callback_code(await asyncio.wait_for(redirected, timeout), state)
            finally:
                redirected.cancel()
            async with session.step("exchange"):
                grant = await self._exchange(app_id, app_secret, code)
        return Credentials(grant.access_token, {"app_id": app_id, "scope": ",".join(grant.scope),
                                                "advertiser_ids": ",".join(grant.advertiser_ids)})

    async def _exchange(self, app_id: str, app_secret: Secret, code: str) -> TokenGrant:
        http = make_http(self.base_url, None, self.http_settings)
        try:
            return await exchange_auth_code(http, app_id, app_secret, code)
        finally:
            await http.aclose()


def _required(account: AutomationAccount) -> tuple[str, Secret, str, Secret]:
    missing = [name for name in ("username", "password", "app_id", "app_secret") if not getattr(account, name)]
    if missing:
        raise InvalidRequest(KIND, "authorize", f"the automation account lacks {', '.join(missing)}")
    assert account.username and account.password and account.app_id and account.app_secret
    return account.username, account.password, account.app_id, account.app_secret
