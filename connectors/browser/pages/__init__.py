"""Page objects: one module per vendor flow (selectors and waits, no policy)."""

from connectors.browser.pages.tiktok_business import PageFlowError, TikTokAuthPortal

__all__ = ["PageFlowError", "TikTokAuthPortal"]
