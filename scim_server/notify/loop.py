"""The background loop of notifications: dispatch open events, send due deliveries (retried with
backoff), queue reminders for reports left pending, stream the audit trail to SIEM sinks.

It runs in every process that runs a worker (``app.start_background``). Several processes may run
it at once: dispatching and claiming are compare-and-set updates and SIEM sinks stream under a
lease, so each delivery is attempted by one process at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import httpx
from sqlalchemy import Connection

from scim_server.notify import deliveries as store
from scim_server.notify import reminders
from scim_server.notify.message import webhook_body
from scim_server.notify.send import build_email, post_webhook, send_email
from scim_server.notify.service import recipients
from scim_server.services import Services
from scim_server.store.db import now
from scim_server.vault import VaultError

log = logging.getLogger("scim_bridge.notify")
REMINDER_SCAN_SECONDS = 60.0


def base_url(services: Services) -> str:
    settings = services.settings
    return settings.public_base_url or f"http://{settings.host}:{settings.port}"


@dataclass
class Notifier:
    """One process's sender. ``tick`` does one round; ``run`` repeats it until ``stop``."""

    services: Services
    client: httpx.AsyncClient = field(init=False)
    _next_reminders: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        timeout = self.services.settings.notify_webhook_timeout_seconds
        self.client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    @property
    def policy(self) -> store.Policy:
        s = self.services.settings
        return store.Policy(s.notify_retry_base_seconds, s.notify_retry_max_seconds, s.notify_max_attempts)

    async def tick(self) -> int:
        """Dispatch, remind, send what is due; returns how many deliveries were attempted."""
        s, db = self.services.settings, self.services.db
        if time.monotonic() >= self._next_reminders:  # a scan of pending reports: once a minute is plenty
            self._next_reminders = time.monotonic() + REMINDER_SCAN_SECONDS
            ladder = reminders.Ladder.from_settings(s)
            await db.write(lambda conn: reminders.queue_due(conn, now(), ladder))
        await db.write(lambda conn: store.dispatch(conn, now(), s.notify_coalesce_seconds, s.smtp_host is not None))
        claimed = await db.write(lambda conn: store.claim(conn, now()))
        await asyncio.gather(*(self._deliver(c) for c in claimed))
        return len(claimed)

    async def _deliver(self, claimed: store.Claimed) -> None:
        try:
            error, status = await (self._webhook(claimed) if claimed.channel == "webhook" else self._email(claimed))
        except Exception as exc:  # a bug must not stop the loop; the delivery is retried
            log.exception("notification delivery crashed", extra={"delivery_id": claimed.id})
            error, status = type(exc).__name__, None
        outcome = await self.services.db.write(
            lambda conn: store.record(conn, claimed, now(), self.policy, error=error, response_status=status))
        log.info("notification delivery", extra={"delivery_id": claimed.id, "channel": claimed.channel,
                                                  "event": claimed.notice.kind, "outcome": outcome,
                                                  "attempt": claimed.attempts, "error_type": error})  # fmt: skip

    async def _webhook(self, claimed: store.Claimed) -> tuple[str | None, int | None]:
        if claimed.url is None or claimed.sealed_secret is None:
            return "webhook deleted", None
        try:
            secret = str(self.services.vault.open(claimed.sealed_secret)["secret"])
        except VaultError:
            return "secret cannot be decrypted", None
        body = webhook_body(claimed.notice, base_url(self.services))
        return await post_webhook(self.client, claimed.url, secret, body, event=claimed.notice.kind,
                                  delivery_id=claimed.id)  # fmt: skip

    async def _email(self, claimed: store.Claimed) -> tuple[str | None, int | None]:
        notice, settings = claimed.notice, self.services.settings
        if settings.smtp_host is None:
            return "SMTP is not configured", None

        def unit(conn: Connection) -> list[str]:
            return recipients(conn, notice.workspace_id, notice.data.get("app_id"), settings.notify_emails)

        to = await self.services.db.read(unit)
        if not to:
            return None, None  # nobody to tell: done (the webhooks still are)
        return await send_email(settings, build_email(settings, notice, base_url(self.services), to)), None

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except Exception:
                    log.exception("notification round failed; retrying")
                try:
                    await asyncio.wait_for(stop.wait(), self.services.settings.notify_poll_seconds)
                except TimeoutError:
                    pass
        finally:
            await self.client.aclose()


async def background(services: Services, stop: asyncio.Event) -> None:
    """What ``app.start_background`` runs: the notifier and the SIEM streamer."""
    from scim_server.notify.siem import Streamer

    await asyncio.gather(Notifier(services).run(stop), Streamer.from_services(services).run(stop))
