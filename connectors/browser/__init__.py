"""Browser automation for flows that have no API (Playwright driving Debian's Chromium).

``session`` launches the browser and keeps a screenshot and a trace of a failed step; ``pages`` holds
page objects, one per vendor flow, that know selectors and nothing about credentials storage.
"""

from connectors.browser.session import (
    CHROMIUM_ARGS,
    CHROMIUM_PATH,
    BrowserSession,
    BrowserSettings,
    BrowserStepError,
    default_artifacts_dir,
)

__all__ = [
    "CHROMIUM_ARGS",
    "CHROMIUM_PATH",
    "BrowserSession",
    "BrowserSettings",
    "BrowserStepError",
    "default_artifacts_dir",
]
