"""Notification management, once, for the API (and any later console page or CLI): a workspace's
addresses, its webhooks (create, list, delete) and their deliveries. Each change commits with
its audit event; a webhook's secret is sealed with the vault and never returned or recorded.
"""

from __future__ import annotations

import re
import secrets as _secrets
from typing import Any
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, delete, insert, select

from scim_server.audit.log import append as audit
from scim_server.auth import Principal
from scim_server.notify.deliveries import cancel_webhook, deliveries, events, webhooks
from scim_server.notify.tables import NotifySettings
from scim_server.services import Services
from scim_server.services.errors import Invalid, NotFound
from scim_server.services.paging import PageRequest, page_of
from scim_server.store import paging
from scim_server.store.app_models import AppMember
from scim_server.store.db import iso_utc, new_id, now
from scim_server.store.people import emails_of

settings_t = NotifySettings.__table__
members_t = AppMember.__table__
# The same patterns as openapi.yaml (which clients validate against): no control character,
# space, comma or angle bracket in an address (they would break the headers); a plain host name.
EMAIL = re.compile(r"[^@\x00-\x20\x7f,<>]{1,64}@[^@\x00-\x20\x7f,<>]{1,255}")
URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][^\x00-\x20]*)?")
MAX_EMAILS = 50
MAX_WEBHOOKS = 20


class NotificationSettingsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    emails: list[str] = Field(max_length=MAX_EMAILS)


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2000)
    secret: str | None = Field(default=None, min_length=16, max_length=200)
    description: str | None = Field(default=None, max_length=200)


def _check_emails(emails: list[str]) -> list[str]:
    out: list[str] = []
    for i, raw in enumerate(emails):
        email = raw
        if not EMAIL.fullmatch(email):
            raise Invalid(f"{raw[:80]!r} is not an email address.", field=f"emails.{i}")
        if email.casefold() not in {e.casefold() for e in out}:
            out.append(email)
    return out


def _check_url(url: str) -> str:
    if not URL.fullmatch(url):
        raise Invalid("url must be an absolute http(s) URL with a host name, without credentials.", field="url")
    return url


def safe_url(url: str) -> str:
    """The URL as shown and audited: no query string (it may carry a receiver's token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


async def get_settings(svc: Services, who: Principal) -> dict[str, Any]:
    def unit(conn: Connection) -> dict[str, Any]:
        return {"emails": workspace_emails(conn, who.workspace_id), "instance_emails": list(svc.settings.notify_emails),
                "smtp_configured": svc.settings.smtp_host is not None}  # fmt: skip

    return await svc.db.read(unit)


async def put_settings(svc: Services, who: Principal, body: NotificationSettingsBody) -> dict[str, Any]:
    emails = _check_emails(body.emails)

    def unit(conn: Connection) -> dict[str, Any]:
        before = workspace_emails(conn, who.workspace_id)
        conn.execute(delete(settings_t).where(settings_t.c.workspace_id == who.workspace_id))
        conn.execute(insert(settings_t).values(workspace_id=who.workspace_id, emails=orjson.dumps(emails).decode(),
                                               updated=now()))  # fmt: skip
        audit(conn, who.workspace_id, who.actor, "notify.settings.update", "NotificationSettings", None,
              before={"emails": before}, after={"emails": emails})  # fmt: skip
        return {"emails": emails, "instance_emails": list(svc.settings.notify_emails),
                "smtp_configured": svc.settings.smtp_host is not None}  # fmt: skip

    return await svc.db.write(unit)


def workspace_emails(conn: Connection, ws: int) -> list[str]:
    raw = conn.execute(select(settings_t.c.emails).where(settings_t.c.workspace_id == ws)).scalar()
    return list(orjson.loads(raw)) if raw else []


def recipients(conn: Connection, ws: int, app_id: str | None, instance: list[str]) -> list[str]:
    """Who an email goes to: the workspace's addresses, the instance's, and the app's owners
    (members matched with the ``owner`` bridge role: their directory email), without repeats."""
    found = workspace_emails(conn, ws) + list(instance)
    if app_id:
        owners = [u for (u,) in conn.execute(select(members_t.c.user_id).where(
            members_t.c.app_id == app_id, members_t.c.state == "matched", members_t.c.bridge_role == "owner",
            members_t.c.user_id.is_not(None)))]  # fmt: skip
        found += [emails[0] for emails in emails_of(conn, sorted(set(owners))).values() if emails]
    out: list[str] = []
    for email in found:
        if email.casefold() not in {e.casefold() for e in out}:
            out.append(email)
    return out


def _webhook_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "url": safe_url(row.url), "description": row.description, "created_by": row.created_by,
            "created": iso_utc(row.created)}  # fmt: skip


async def create_webhook(svc: Services, who: Principal, body: WebhookBody) -> dict[str, Any]:
    """Register a receiver. The secret (given, or generated) is in this answer only."""
    url = _check_url(body.url)
    secret = body.secret or _secrets.token_urlsafe(32)
    sealed = svc.vault.seal({"secret": secret})

    def unit(conn: Connection) -> dict[str, Any]:
        count = conn.execute(select(webhooks.c.id).where(webhooks.c.workspace_id == who.workspace_id)).all()
        if len(count) >= MAX_WEBHOOKS:
            raise Invalid(f"A workspace has at most {MAX_WEBHOOKS} webhooks.", code="too_many")
        hook_id = new_id()
        conn.execute(insert(webhooks).values(id=hook_id, workspace_id=who.workspace_id, url=url, secret=sealed,
                                             description=body.description, created_by=who.actor[:100],
                                             created=now()))  # fmt: skip
        audit(conn, who.workspace_id, who.actor, "notify.webhook.create", "Webhook", hook_id,
              detail={"url": safe_url(url), "description": body.description})  # fmt: skip
        row = conn.execute(select(webhooks).where(webhooks.c.id == hook_id)).one()
        return _webhook_view(row) | {"secret": secret}

    return await svc.db.write(unit)


async def list_webhooks(svc: Services, who: Principal, page: PageRequest) -> dict[str, Any]:
    after = page.after_created_id("webhooks")

    def unit(conn: Connection) -> dict[str, Any]:
        query = select(webhooks).where(webhooks.c.workspace_id == who.workspace_id)
        rows = list(conn.execute(paging.window(query, (webhooks.c.created, webhooks.c.id), after, page.fetch)))
        return page_of(rows, page.limit, "webhooks", lambda r: (r.created, r.id), _webhook_view)

    return await svc.db.read(unit)


def _get_webhook(conn: Connection, ws: int, hook_id: str) -> Any:
    row = conn.execute(select(webhooks).where(webhooks.c.workspace_id == ws, webhooks.c.id == hook_id)).first()
    if row is None:
        raise NotFound(f"No webhook {hook_id[:40]} in this workspace.")
    return row


async def delete_webhook(svc: Services, who: Principal, hook_id: str) -> None:
    def unit(conn: Connection) -> None:
        row = _get_webhook(conn, who.workspace_id, hook_id)
        conn.execute(delete(webhooks).where(webhooks.c.id == row.id))
        cancel_webhook(conn, row.id)
        audit(conn, who.workspace_id, who.actor, "notify.webhook.delete", "Webhook", row.id,
              detail={"url": safe_url(row.url)})  # fmt: skip

    await svc.db.write(unit)


def delivery_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "event_id": row.event_id, "event": row.kind, "channel": row.channel,
            "webhook_id": row.webhook_id, "status": row.status, "attempts": row.attempts,
            "next_attempt": iso_utc(row.next_at) if row.status == "pending" else None,
            "last_error": row.last_error, "response_status": row.response_status,
            "created": iso_utc(row.created), "delivered": iso_utc(row.delivered)}  # fmt: skip


CHANNELS = ("email", "webhook")


async def list_deliveries(svc: Services, who: Principal, hook_id: str | None, page: PageRequest,
                          channel: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Deliveries newest first, with their status: a webhook's, or the workspace's (``channel``
    ``email`` or ``webhook``, or both)."""
    if channel is not None and channel not in CHANNELS:
        raise Invalid(f"channel must be one of {', '.join(CHANNELS)}.", field="channel")
    after = page.after_created_id("deliveries")

    def unit(conn: Connection) -> dict[str, Any]:
        query = (select(deliveries, events.c.kind).join(events, events.c.id == deliveries.c.event_id)
                 .where(deliveries.c.workspace_id == who.workspace_id))  # fmt: skip
        if hook_id is not None:
            _get_webhook(conn, who.workspace_id, hook_id)
            query = query.where(deliveries.c.webhook_id == hook_id)
        if channel is not None:
            query = query.where(deliveries.c.channel == channel)
        key = (deliveries.c.created, deliveries.c.id)
        rows = list(conn.execute(paging.window(query, key, after, page.fetch, descending=True)))
        return page_of(rows, page.limit, "deliveries", lambda r: (r.created, r.id), delivery_view)

    return await svc.db.read(unit)
