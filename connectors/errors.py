"""The one error hierarchy of connectors (modelled on ConnId's ``ConnectorException`` tree).

::

    ConnectorError(kind, operation, detail)
     +-- AuthError               credentials missing, invalid, expired or revoked: re-authorise
     +-- PermissionDenied        authenticated, but the account may not do this
     +-- NotFound                the org / member / asset does not exist (or is hidden)
     +-- InvalidRequest          the vendor rejected the request (400 / 409 / 422 ...)
     +-- UnsupportedCapability   the kind cannot do this at all
     +-- BrowserFlowError        a step of a browser flow failed (step, trace_path)
     +-- RetryableError          may succeed later; the only errors anyone retries
          +-- RateLimited        throttled; ``retry_after`` seconds when the vendor says
          +-- VendorUnavailable  5xx, timeout, connection error

``connectors.http.raise_for_vendor`` is the only place a vendor status becomes one of these.
Messages carry the vendor's own explanation, never a credential: ``connectors.http`` scrubs the
secrets it knows before building an error.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BrowserFlowError",
    "ConnectorError",
    "InvalidRequest",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "RetryableError",
    "UnsupportedCapability",
    "VendorUnavailable",
]


class ConnectorError(Exception):
    """A connector operation failed.

    :param kind: catalog kind (``"github"``).
    :param operation: what was attempted (``"list_members"``, ``"invite"`` ...).
    :param detail: the vendor's explanation, credential-free.
    :param status: the HTTP status, when there was a response.
    :param vendor_code: the vendor's own error code (``"already_exists"``, ``"40100"``, ``"190"``).
    """

    def __init__(
        self,
        kind: str,
        operation: str,
        detail: str = "",
        *,
        status: int | None = None,
        vendor_code: str | None = None,
    ) -> None:
        self.kind = kind
        self.operation = operation
        self.detail = detail
        self.status = status
        self.vendor_code = vendor_code
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [f"{self.kind} {self.operation} failed"]
        if self.status is not None:
            parts.append(f"(HTTP {self.status})")
        text = " ".join(parts)
        return f"{text}: {self.detail}" if self.detail else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(kind={self.kind!r}, operation={self.operation!r}, "
            f"detail={self.detail!r}, status={self.status!r}, vendor_code={self.vendor_code!r})"
        )


class AuthError(ConnectorError):
    """Credentials are missing, invalid, expired or revoked. Never retried: re-authorise."""


class PermissionDenied(ConnectorError):
    """The automation account is authenticated but lacks the scope or role for this operation."""


class NotFound(ConnectorError):
    """The target does not exist or is hidden from this account (GitHub answers 404 for both)."""


class InvalidRequest(ConnectorError):
    """The vendor rejected the request as malformed or conflicting (400 / 409 / 422)."""


class UnsupportedCapability(ConnectorError):
    """The kind cannot perform this operation (the capability is absent from its catalog entry).

    ``capability`` names what is missing (``connectors.base.CapabilityName``, e.g. ``"change_role"``)
    when the refusal came from ``connectors.base.require``. Never retried: the kind will not learn.
    """

    def __init__(self, kind: str, operation: str, detail: str = "", *, capability: str | None = None) -> None:
        self.capability = capability
        super().__init__(kind, operation, detail)


class BrowserFlowError(ConnectorError):
    """A step of a browser-driven flow failed.

    :param step: the step that failed (``"login"``, ``"confirm_access"`` ...).
    :param trace_path: where the screenshot or Playwright trace was kept, if any.
    """

    def __init__(
        self,
        kind: str,
        operation: str,
        detail: str = "",
        *,
        step: str,
        trace_path: str | None = None,
    ) -> None:
        self.step = step
        self.trace_path = trace_path
        super().__init__(kind, operation, f"step {step!r}: {detail}" if detail else f"step {step!r}")


class RetryableError(ConnectorError):
    """May succeed if tried again later (ConnId ``RetryableException``). The only retried errors."""


class RateLimited(RetryableError):
    """The vendor throttled the request.

    :param retry_after: seconds to wait, from ``Retry-After`` / ``X-RateLimit-Reset`` / a vendor body
        hint; ``None`` when the vendor gives no hint (back off exponentially).
    """

    def __init__(
        self,
        kind: str,
        operation: str,
        detail: str = "",
        *,
        retry_after: float | None = None,
        status: int | None = None,
        vendor_code: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(kind, operation, detail, status=status, vendor_code=vendor_code)


class VendorUnavailable(RetryableError):
    """5xx, a timeout, or a connection failure."""
