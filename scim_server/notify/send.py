"""The two channels: a signed webhook POST (httpx) and an email (smtplib, in a thread).

Errors come back as short strings naming what failed (``HTTP 503``, ``ConnectError``, ``SMTP 550``),
never the exception text: a receiver's URL may carry a token and an SMTP error may echo the login,
and both end up in ``last_error``, which the API shows.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import make_msgid

import anyio.to_thread
import httpx

from scim_server.notify.message import Notice, subject, text
from scim_server.settings import Settings

SIGNATURE_HEADER = "X-Scim-Bridge-Signature"


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the raw body with the webhook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post_webhook(client: httpx.AsyncClient, url: str, secret: str, body: bytes, *, event: str,
                       delivery_id: str) -> tuple[str | None, int | None]:  # fmt: skip
    """POST ``body``; ``(None, status)`` on a 2xx, else ``(error, status or None)``."""
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body),
               "X-Scim-Bridge-Event": event, "X-Scim-Bridge-Delivery": delivery_id,
               "User-Agent": "scim-bridge-webhooks/1"}  # fmt: skip
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return type(exc).__name__, None
    if 200 <= response.status_code < 300:
        return None, response.status_code
    return f"HTTP {response.status_code}", response.status_code


def build_email(settings: Settings, notice: Notice, base_url: str, to: Sequence[str]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(to)
    message["Subject"] = subject(notice)
    message["Message-ID"] = make_msgid(idstring=notice.id, domain="scim-bridge")
    message["X-Scim-Bridge-Event"] = notice.kind
    message.set_content(text(notice, base_url))
    return message


def _send_sync(settings: Settings, message: EmailMessage) -> str | None:
    assert settings.smtp_host is not None
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        return f"SMTP {exc.smtp_code}"
    except (smtplib.SMTPException, OSError) as exc:
        return type(exc).__name__
    return None


async def send_email(settings: Settings, message: EmailMessage) -> str | None:
    """Send through the configured server; None when accepted, else what failed."""
    return await anyio.to_thread.run_sync(_send_sync, settings, message)
