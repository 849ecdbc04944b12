"""Page object of TikTok's App Authorization (``/portal/auth?app_id=&state=&redirect_uri=``).

The flow: a login form for the Business Center account (email or username, password), then a modal
dialog asking to confirm the app's access (a real "Confirm" button), then a redirect to the app's
``redirect_uri`` carrying ``auth_code`` and ``state``. Selectors use accessible roles and labels, as a
person reads the page. Failures raise ``PageFlowError`` with the page's own words (never what was
typed); ``BrowserSession.step`` turns them into ``BrowserFlowError(step=...)``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Playwright is the optional ``[browser]`` extra: only BrowserSession loads it
    from playwright.async_api import Locator, Page, Request

__all__ = ["PageFlowError", "TikTokAuthPortal"]


class PageFlowError(Exception):
    """The page did not behave as the flow expects (rejected login, error page, no dialog)."""


class TikTokAuthPortal:
    """Drives one page through the App Authorization flow."""

    def __init__(self, page: Page) -> None:
        self.page = page

    @property
    def _username(self) -> Locator:
        return self.page.get_by_label("Email or username")

    @property
    def _alert(self) -> Locator:
        return self.page.get_by_role("alert")

    @property
    def _dialog(self) -> Locator:
        return self.page.get_by_role("dialog")

    async def open(self, url: str) -> None:
        """Load the authorization URL and wait for the login form."""
        response = await self.page.goto(url, wait_until="domcontentloaded")
        if response is None or not response.ok:
            status = response.status if response is not None else "no response"
            raise PageFlowError(f"the portal answered {status}: {await self._page_text()}")
        await self._username.wait_for(state="visible")

    async def log_in(self, username: str, password: str) -> None:
        """Submit the login form; returns once the consent dialog shows, raises if the page says no."""
        await self._username.fill(username)
        await self.page.get_by_label("Password", exact=True).fill(password)
        await self.page.get_by_role("button", name="Log in").click()
        await self._dialog.or_(self._alert).first.wait_for(state="visible")
        if await self._alert.count() and await self._alert.first.is_visible():
            raise PageFlowError(f"login rejected: {(await self._alert.first.inner_text()).strip()}")

    def watch_redirect(self, redirect_uri: str) -> asyncio.Future[str]:
        """A future resolved with the first navigation URL under ``redirect_uri`` (redirect hops
        included), so the callback is caught whether or not ``redirect_uri`` is reachable."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_request(request: Request) -> None:
            if not future.done() and request.is_navigation_request() and request.url.startswith(redirect_uri):
                future.set_result(request.url)

        def forget(_: asyncio.Future[str]) -> None:
            with contextlib.suppress(Exception):
                self.page.remove_listener("request", on_request)

        self.page.on("request", on_request)
        future.add_done_callback(forget)
        return future

    async def app_name(self) -> str:
        """The app the dialog asks about (its heading's emphasised name)."""
        return (await self._dialog.locator("[data-app-name]").inner_text()).strip()

    async def confirm_access(self) -> None:
        """Press "Confirm" in the consent dialog."""
        await self._dialog.wait_for(state="visible")
        await self._dialog.get_by_role("button", name="Confirm").click()

    async def _page_text(self, limit: int = 200) -> str:
        with contextlib.suppress(Exception):
            return " ".join((await self.page.locator("body").inner_text()).split())[:limit]
        return ""
