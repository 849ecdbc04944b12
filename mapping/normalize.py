"""Canonical forms of emails and usernames, the keys matching compares.

Both functions are total: any input (``None``, blanks, junk) gives a key or ``None``, never an
exception. ``None`` means "cannot be matched on".

Emails: surrounding whitespace and a ``mailto:`` prefix are dropped, the text is NFKC-normalised and
case-folded (``str.casefold``, so ``Straße`` and ``STRASSE`` agree), and a trailing dot of the domain is
dropped. RFC 5321 section 2.4 lets the local part be case-sensitive, but no mail provider an IdP
points at treats it so, and IdPs (Okta, Entra ID) compare addresses case-insensitively; the issue
asks for case-folded matching. Sub-addressing (``a+tag@x``) and provider dot rules are *not* folded:
they are provider-specific, and folding them could link two different people.
"""

from __future__ import annotations

import unicodedata

__all__ = ["normalize_email", "normalize_username"]


def _fold(raw: str) -> str:
    if raw.isascii():  # fast path: ASCII casefold is lower()
        return raw.strip().lower()
    return unicodedata.normalize("NFKC", raw).strip().casefold()


def normalize_email(raw: str | None) -> str | None:
    """The matching key of an email address, or ``None`` when it is not an address.

    >>> normalize_email("  Ann.Lee@Example.COM ")
    'ann.lee@example.com'
    >>> normalize_email("mailto:bob@x.io.") == "bob@x.io"
    True
    >>> normalize_email("not-an-address") is None
    True
    """
    if not raw:
        return None
    # _fold inlined: this runs once per email on both sides of every reconciliation
    key = raw.strip().lower() if raw.isascii() else unicodedata.normalize("NFKC", raw).strip().casefold()
    if key.startswith("mailto:"):
        key = key[7:].lstrip()
    if key.endswith("."):
        key = key.rstrip(".")
    at = key.rfind("@")
    if at <= 0 or at == len(key) - 1:
        return None
    return key


def normalize_username(raw: str | None) -> str | None:
    """The matching key of a username (IdP ``userName``, app login or handle), or ``None``.

    A leading ``@`` (chat handles) is dropped.

    >>> normalize_username(" @Ann.Lee ")
    'ann.lee'
    >>> normalize_username("  ") is None
    True
    """
    if not raw:
        return None
    key = _fold(raw).lstrip("@")
    return key or None
