"""``BrowserSession``: Debian's Chromium driven headless by Playwright, with evidence kept on failure.

Playwright's own browser download does not work here, so the session always launches the system
Chromium (``executable_path``, default ``/usr/bin/chromium``; ``apt-get install -y chromium``) with a
fresh user-data dir (no cookies or cache shared between runs) and records a Playwright trace.

A flow is a sequence of named steps::

    async with BrowserSession("tiktok_business", "authorize", settings, secrets=(password,)) as s:
        async with s.step("login"):
            ...

An exception inside a step becomes ``BrowserStepError(step=...)`` (a ``BrowserFlowError``) after a
screenshot (``<step>.png``) and the trace (``trace.zip``) are saved in a private (0700) run directory
under ``settings.artifacts_dir``. On success the trace is discarded. Known secrets are scrubbed from
error messages, but the trace records what was typed and sent (the password among it): treat the
artifacts directory as secret.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from connectors.base import Secret
from connectors.errors import BrowserFlowError, ConnectorError

if TYPE_CHECKING:  # Playwright is the optional ``[browser]`` extra, imported when a session launches
    from playwright.async_api import BrowserContext, Page, Playwright

__all__ = [
    "CHROMIUM_ARGS",
    "CHROMIUM_PATH",
    "BrowserSession",
    "BrowserSettings",
    "BrowserStepError",
    "default_artifacts_dir",
]

log = logging.getLogger("connectors.browser")

PLAYWRIGHT_MISSING = (
    "this flow drives a browser, and Playwright is not installed: "
    "pip install 'scim-bridge[browser]' (with Debian's chromium: apt-get install -y chromium)"
)

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
"""No background traffic (updates, sync, QUIC probes): the browser only talks to the flow's pages."""


def default_artifacts_dir() -> Path:
    """``$SCIM_BRIDGE_BROWSER_ARTIFACTS``, else ``<tmp>/scim-bridge-browser``."""
    configured = os.environ.get("SCIM_BRIDGE_BROWSER_ARTIFACTS")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "scim-bridge-browser"


@dataclass(frozen=True, slots=True)
class BrowserSettings:
    """:param timeout_ms: default wait for each page action or navigation.
    :param artifacts_dir: where failed runs keep their screenshot and trace.
    :param keep_trace: record a Playwright trace for failed runs. Off by default: a trace records
        what was typed (the automation account's password among it), and no secret may be left
        on disk; the screenshot alone shows the password field masked."""

    executable_path: str = CHROMIUM_PATH
    args: tuple[str, ...] = CHROMIUM_ARGS
    timeout_ms: float = 15_000
    artifacts_dir: Path = field(default_factory=default_artifacts_dir)
    keep_trace: bool = False


class BrowserStepError(BrowserFlowError):
    """A failed browser step; ``trace_path`` is the Playwright trace, ``screenshot_path`` the page
    as it was when the step failed (either may be ``None`` if it could not be captured)."""

    def __init__(self, kind: str, operation: str, detail: str = "", *, step: str,
                 trace_path: str | None = None, screenshot_path: str | None = None) -> None:
        self.screenshot_path = screenshot_path
        super().__init__(kind, operation, detail, step=step, trace_path=trace_path)


class BrowserSession:
    """One browser run for one flow. ``page`` is valid inside ``async with``."""

    def __init__(self, kind: str, operation: str, settings: BrowserSettings | None = None, *,
                 secrets: Iterable[Secret | str | None] = ()) -> None:
        self.kind, self.operation = kind, operation
        self.settings = settings or BrowserSettings()
        self._secrets = [s.reveal() if isinstance(s, Secret) else s for s in secrets if s]
        self._playwright: Playwright | None = None
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._profile: str | None = None
        self._failed = False

    @property
    def page(self) -> Page:
        if self._page is None:
            raise RuntimeError("the browser session is not open")
        return self._page

    async def __aenter__(self) -> Self:
        try:
            await self._launch()
        except BrowserFlowError:
            await self._close()
            raise
        except Exception as exc:  # noqa: BLE001 - any launch failure is the "launch" step's
            await self._close()
            raise BrowserStepError(self.kind, self.operation, self.scrub(_describe(exc)),
                                   step="launch") from None
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._close()

    async def _launch(self) -> None:
        try:  # here, not at module level: the server and the catalog load without Playwright
            from playwright.async_api import async_playwright
        except ImportError:
            raise BrowserStepError(self.kind, self.operation, PLAYWRIGHT_MISSING, step="launch") from None
        self._profile = tempfile.mkdtemp(prefix="scim-bridge-chromium-")
        self._playwright = await async_playwright().start()
        self._context = await self._playwright.chromium.launch_persistent_context(
            self._profile, executable_path=self.settings.executable_path, headless=True,
            args=list(self.settings.args), accept_downloads=False,
        )
        self._context.set_default_timeout(self.settings.timeout_ms)
        if self.settings.keep_trace:
            await self._context.tracing.start(screenshots=True, snapshots=True, sources=False)
        self._page = self._context.pages[0] if self._context.pages else await self._context.new_page()

    async def _close(self) -> None:
        if self._context is not None:
            with contextlib.suppress(Exception):
                if self.settings.keep_trace and not self._failed:
                    await self._context.tracing.stop()
                await self._context.close()
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                await self._playwright.stop()
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
        self._context = self._page = self._playwright = None
        self._profile = None

    @contextlib.asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[None]:
        """Run one named step; any failure becomes ``BrowserStepError(step=name)`` with evidence."""
        try:
            yield
        except BrowserFlowError:
            raise
        except Exception as exc:  # noqa: BLE001 - Playwright, timeouts, page-object errors alike
            detail = exc.detail if isinstance(exc, ConnectorError) else _describe(exc)
            screenshot, trace = await self._keep_evidence(name)
            log.warning("%s %s: browser step %r failed; evidence in %s", self.kind, self.operation,
                        name, Path(trace or screenshot or ".").parent)
            raise BrowserStepError(self.kind, self.operation, self.scrub(detail), step=name,
                                   trace_path=trace, screenshot_path=screenshot) from None

    async def _keep_evidence(self, step: str) -> tuple[str | None, str | None]:
        """Save ``<step>.png`` and ``trace.zip`` in a new 0700 run directory (best effort)."""
        self.settings.artifacts_dir.mkdir(parents=True, exist_ok=True)
        run = Path(tempfile.mkdtemp(prefix=f"{self.kind}-{self.operation}-", dir=self.settings.artifacts_dir))
        screenshot: str | None = str(run / f"{step}.png")
        trace: str | None = str(run / "trace.zip") if self.settings.keep_trace else None
        try:
            await self.page.screenshot(path=screenshot, full_page=True, timeout=5_000)
        except Exception:  # noqa: BLE001 - a crashed page has no screenshot
            screenshot = None
        if trace is not None:
            try:
                assert self._context is not None
                await self._context.tracing.stop(path=trace)
                self._failed = True
            except Exception:  # noqa: BLE001
                trace = None
        return screenshot, trace

    def scrub(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _describe(exc: BaseException) -> str:
    """The first line of an exception's message (Playwright appends long call logs)."""
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
