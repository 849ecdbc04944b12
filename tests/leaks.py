"""Finding credentials where they must never be: log records, exception messages, tracebacks.

Two checks, both independent of the redaction code under test:

- by value: every secret a test used (tokens, passwords, app secrets, private keys) is searched
  for, verbatim, in each text;
- by shape: a credential query parameter whose value is not ``***``, a ``Bearer`` value, or a PEM
  private key block, whatever its value (catches secrets a test cannot know, like an auth code the
  vendor issued inside a browser flow).
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable, Sequence

__all__ = ["CREDENTIAL_SHAPES", "exception_texts", "find_leaks", "record_texts"]

CREDENTIAL_SHAPES = re.compile(
    r"(?i)[?&;](?:access_token|token|api_key|key|secret|client_secret|password|code|auth_code|signature"
    r"|appsecret_proof)=(?!\*\*\*|&|$|\s)"
    r"|\bbearer\s+(?!\*\*\*)[A-Za-z0-9._~+/-]{8,}(?![A-Za-z0-9._~+/=-])"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
"""A credential in clear, by its shape: ``?access_token=abc``, ``Bearer abc``, a PEM key block."""

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_FORMATTER = logging.Formatter()


def record_texts(records: Iterable[logging.LogRecord]) -> list[str]:
    """What a handler could write for each record: the message, its extras, its traceback."""
    texts = []
    for record in records:
        extras = " ".join(f"{k}={v!s}" for k, v in record.__dict__.items() if k not in _RESERVED)
        text = f"{record.name}: {record.getMessage()} {extras}"
        if record.exc_info:
            text += "\n" + _FORMATTER.formatException(record.exc_info)
        texts.append(text)
    return texts


def exception_texts(errors: Iterable[BaseException]) -> list[str]:
    """``str``, ``repr`` and the full printed traceback (with any chained cause) of each error."""
    return [f"{error!s}\n{error!r}\n{''.join(traceback.format_exception(error))}" for error in errors]


def find_leaks(texts: Sequence[str], secrets: Iterable[str]) -> list[str]:
    """Each text that holds one of ``secrets`` or a credential shape, with what was found."""
    values = sorted({s for s in secrets if s})
    found = []
    for text in texts:
        hits = [f"secret {value[:6]}..." for value in values if value in text]
        match = CREDENTIAL_SHAPES.search(text)
        if match:
            hits.append(f"shape {match.group(0)!r}")
        if hits:
            found.append(f"{', '.join(hits)} in: {text[:400]}")
    return found
