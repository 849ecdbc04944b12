"""Credentials out of log lines and error messages, at the source.

Vendor URLs can carry credentials (``?access_token=`` at Meta, ``?code=`` on an OAuth redirect,
``user:password@`` in a base URL), and the libraries under the connectors log URLs: httpx writes
``HTTP Request: GET <url> "HTTP/1.1 200 OK"`` at INFO for every request, uvicorn's access log writes
the path with its query. ``RedactCredentials`` is a logging filter that rewrites such a record's
message with every credential value as ``***``; ``install_log_redaction`` puts it on exactly the
loggers that write URLs (``REDACTED_LOGGERS``), so no other record pays for it, and a filtered
record pays one scan of its message. ``connectors.http.VendorHTTP`` installs it when it is built,
``scim_server.observability.configure_logging`` at start-up.

A logger's filters only see records logged on that very logger, not those of its children, so the
list names each logger (httpcore logs on ``httpcore.<module>``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "CREDENTIAL_PARAMS",
    "REDACTED_LOGGERS",
    "RedactCredentials",
    "credential_values",
    "install_log_redaction",
    "redact_url_credentials",
    "scrub",
]

CREDENTIAL_PARAMS = frozenset({
    "access_token", "refresh_token", "id_token", "token", "key", "api_key", "apikey", "secret",
    "client_secret", "app_secret", "password", "passwd", "code", "auth_code", "signature", "sig",
    "appsecret_proof", "client_assertion", "x-amz-signature", "x-amz-credential",
})  # fmt: skip
"""Query, form and body parameter names whose value is a credential (compared case-insensitively)."""

REDACTED_LOGGERS: tuple[str, ...] = (
    "httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy",
    "httpcore.socks", "uvicorn.access", "uvicorn.error", "connectors.http", "connectors.browser",
)
"""Every logger known to write a URL (a filter on a parent does not see its children's records)."""

_NAMES = "|".join(re.escape(name) for name in sorted(CREDENTIAL_PARAMS, key=len, reverse=True))
_QUERY = re.compile(rf"(?i)([?&;](?:{_NAMES})=)[^&#;\s'\"<>]+")
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/?#\s:@]+:)[^/?#\s@]+@")


def redact_url_credentials(text: str) -> str:
    """``text`` with each credential query parameter's value, and each URL password, as ``***``.

    ``https://h/p?access_token=abc&limit=5`` -> ``https://h/p?access_token=***&limit=5``;
    ``https://user:pw@h/`` -> ``https://user:***@h/``. Text without ``=`` or ``@`` is returned as is.
    """
    if "=" in text and _QUERY.search(text):  # a search is cheaper than a sub that finds nothing
        text = _QUERY.sub(r"\1***", text)
    if "@" in text and _USERINFO.search(text):
        text = _USERINFO.sub(r"\1***@", text)
    return text


def credential_values(*sources: Mapping[str, Any] | None) -> set[str]:
    """The string values of credential-named keys (``CREDENTIAL_PARAMS``) in request parameters,
    form fields or a JSON body's top level: what an error message must not echo back."""
    found = set()
    for source in sources:
        for name, value in (source or {}).items():
            if isinstance(value, str) and len(value) >= 4 and str(name).lower() in CREDENTIAL_PARAMS:
                found.add(value)
    return found


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` and every URL credential replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return redact_url_credentials(text)


class RedactCredentials(logging.Filter):
    """Rewrites a record whose formatted message carries a URL credential; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_url_credentials(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = RedactCredentials()


def install_log_redaction() -> None:
    """Put the filter on each of ``REDACTED_LOGGERS``. Idempotent (``addFilter`` skips a filter
    already present), cheap enough to call from every ``VendorHTTP``."""
    for name in REDACTED_LOGGERS:
        logging.getLogger(name).addFilter(_FILTER)
