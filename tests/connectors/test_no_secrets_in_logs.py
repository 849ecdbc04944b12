"""No credential reaches a log record, an exception message or a traceback, for every kind.

Each kind's connector runs its flows for real against the sandbox (check, list members, roles,
assets and permissions, invite, change role, grant and revoke, remove) and its error paths (expired
token, unknown token, throttling and outages past the retry budget, a timeout, a rejected request)
while every logger records at DEBUG into ``caplog`` (httpx's request lines, httpcore's traces,
``connectors.*``). Then every secret used (tokens, private keys and the JWTs signed with them,
passwords, app secrets) is searched for in each record, its extras and traceback, and in every
exception raised; credential shapes (``?access_token=...``, ``Bearer ...``, PEM blocks) are
searched for too, so a secret the test cannot know (an auth code) is caught by its shape.
"""

from __future__ import annotations

import logging
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.apple import AppleConnector
from connectors.base import (
    AutomationAccount,
    ChangesRoles,
    Connector,
    GrantsAssets,
    InvitesMembers,
    ListsAssets,
    ListsMembers,
    ListsRoles,
    RemovesMembers,
    Secret,
)
from connectors.errors import AuthError, ConnectorError
from connectors.http import HTTPSettings
from connectors.registry import CATALOG, capabilities, create_connector, get_spec
from connectors.sandbox import SandboxClient
from connectors.sandbox.apple import team_credentials
from tests.contracts import FAST_SETTINGS, collect
from tests.leaks import exception_texts, find_leaks, record_texts

EXHAUSTED = HTTPSettings(timeout=5.0, connect_timeout=2.0, max_attempts=2, backoff_base=0.001,
                         backoff_max=0.01, max_retry_wait=0.01, concurrency=2)
"""Two tries, no real wait: a fault on every request exhausts the retries (and logs the retry)."""

IMPATIENT = HTTPSettings(timeout=0.2, connect_timeout=0.2, max_attempts=1)
"""One try with a short timeout, for the ``timeout`` fault (held 600 ms by the sandbox)."""


@dataclass(frozen=True)
class Profile:
    """What a kind needs from the test: its org, an asset type and a permission, role overrides."""

    org: str
    asset_type: str = "asset"
    permission: str = "read"
    owner_role: str | None = None
    member_role: str | None = None

    def account(self, kind: str, token: str) -> AutomationAccount:
        """The automation account for ``token`` (for Apple, the seed token is the key id)."""
        return team_credentials(token) if kind == "apple" else AutomationAccount(api_token=Secret(token))

    def business_id(self, kind: str) -> str | None:
        return None if not get_spec(kind).needs_business_id else self.org

    def roles(self, kind: str) -> tuple[str, str]:
        """``(plain, owner)`` app roles of the kind."""
        roles = get_spec(kind).roles
        plain = self.member_role or next(r.key for r in roles if not r.owner_level)
        return plain, self.owner_role or next(r.key for r in roles if r.owner_level)


PROFILES: dict[str, Profile] = {
    "tiktok_business": Profile("7000000000000000042", asset_type="ADVERTISER", permission="ANALYST"),
    "meta_business": Profile("1234567890123", asset_type="page", permission="advertiser"),
    "github": Profile("octo-org", asset_type="repository", permission="push"),
    "slack": Profile("T0CONTRACT1", owner_role="admin", member_role="member"),
    "atlassian": Profile("0b2e6f7a-5c4d-4e3f-8a9b-1c2d3e4f5a6b", asset_type="product",
                         permission="atlassian/user"),
    "asana": Profile("1200000000000042", asset_type="project", permission="editor"),
    "calendly": Profile("CONTRACTORGUUID1", owner_role="owner", member_role="user"),
    "apple": Profile("leak-team", owner_role="ADMIN", member_role="DEVELOPER"),
}


def account_secrets(account: AutomationAccount) -> list[str]:
    """Every secret field of ``account``, revealed (and each line of a multi-line key)."""
    values = [getattr(account, name) for name in AutomationAccount.SECRET_FIELDS]
    revealed = [v.reveal() for v in values if isinstance(v, Secret)]
    return revealed + [line for v in revealed if "\n" in v for line in v.splitlines() if len(line) > 20]


def issued_secrets(connector: Connector) -> list[str]:
    """Credentials the connector made itself: the JWT an Apple team key signed."""
    return [connector.client.token.bearer()] if isinstance(connector, AppleConnector) else []


class Run:
    """One kind's connectors, the secrets they used and the errors they raised."""

    def __init__(self, kind: str, sandbox: SandboxClient) -> None:
        self.kind, self.sandbox, self.profile = kind, sandbox, PROFILES[kind]
        self.secrets: list[str] = []
        self.errors: list[BaseException] = []

    def connector(self, token: str, settings: HTTPSettings = FAST_SETTINGS) -> Connector:
        account = self.profile.account(self.kind, token)
        self.secrets += account_secrets(account)  # the api_token; for Apple the key (its id is public)
        return create_connector(self.kind, account=account, base_url=self.sandbox.kind_url(self.kind),
                                business_id=self.profile.business_id(self.kind), settings=settings)

    async def using(self, token: str, settings: HTTPSettings,
                    action: Callable[[Connector], Awaitable[Any]]) -> None:
        """Run ``action`` on a fresh connector; a ``ConnectorError`` is kept for the search."""
        connector = self.connector(token, settings)
        try:
            await action(connector)
        except ConnectorError as error:
            self.errors.append(error)
        finally:
            self.secrets += issued_secrets(connector)
            await connector.aclose()

    async def failing(self, token: str, settings: HTTPSettings, **faults: Any) -> None:
        """``check`` and a listing under ``faults``: both must fail, with a ``ConnectorError``."""
        self.sandbox.faults(self.kind, **faults)
        before = len(self.errors)
        try:
            await self.using(token, settings, lambda c: c.check())
            await self.using(token, settings, lambda c: collect(_listing(c)))
        finally:
            self.sandbox.clear_faults()
        assert len(self.errors) == before + 2, f"{self.kind} did not fail under {faults}"


def _listing(connector: Connector) -> AsyncIterator[Any]:
    assert isinstance(connector, ListsMembers)
    return connector.list_members()


async def _bad_invite(connector: Connector) -> None:
    assert isinstance(connector, InvitesMembers)
    await connector.invite("not an email", "no-such-role")


def seed(run: Run, token: str) -> list[str]:
    """The org with ``token``, two active members, and an asset granted to the first."""
    profile, plain = run.profile, run.profile.roles(run.kind)[0]
    members = [{"email": f"user{n}@example.com", "name": f"User {n}", "role": plain, "status": "active"}
               for n in (1, 2)]
    members.append({"email": "invitee@example.com", "name": "", "role": plain, "status": "pending"})
    assets = []
    if {"ListsAssets", "GrantsAssets"} & set(capabilities(run.kind)):
        grants = [{"email": "user1@example.com", "permission": profile.permission}]
        assets = [{"id": "asset-1", "name": "Asset 1", "type": profile.asset_type, "grants": grants}]
    body = {"org": profile.org, "token": token, "members": members, "assets": assets}
    return run.sandbox.seed(run.kind, body)


async def every_flow(connector: Connector, run: Run, remote_ids: list[str]) -> None:
    """Each capability the connector has, once, on the seeded org."""
    plain, owner = run.profile.roles(run.kind)
    first, second = remote_ids[0], remote_ids[1]
    await connector.check()
    if isinstance(connector, ListsMembers):
        assert len(await collect(connector.list_members())) >= 2
    if isinstance(connector, ListsRoles):
        await connector.list_roles()
    if isinstance(connector, ListsAssets):
        async for asset in connector.list_assets():
            await collect(connector.list_permissions(asset))
    if isinstance(connector, InvitesMembers):
        await connector.invite("newcomer@example.com", plain)
    if isinstance(connector, ChangesRoles):
        await connector.change_role(second, owner)
    if isinstance(connector, GrantsAssets):
        await connector.grant(second, "asset-1", run.profile.permission)
        await connector.revoke(second, "asset-1")
    if isinstance(connector, RemovesMembers):
        await connector.remove(first)


async def error_paths(run: Run, token: str) -> None:
    """Expired and unknown tokens, throttling and outages past the retries, a timeout, a bad request."""
    await run.failing(token, FAST_SETTINGS, expire_tokens=True)
    await run.failing(token, EXHAUSTED, error_rate=1.0, errors=["rate_limit"], retry_after=0)
    await run.failing(token, EXHAUSTED, error_rate=1.0, errors=["unavailable"])
    await run.failing(token, IMPATIENT, error_rate=1.0, errors=["timeout"], timeout_ms=600)
    stranger = secrets.token_hex(20)  # never seeded: the vendor does not know it
    before = len(run.errors)
    await run.using(stranger, FAST_SETTINGS, lambda c: c.check())
    assert len(run.errors) == before + 1 and isinstance(run.errors[-1], AuthError)
    if "InvitesMembers" in capabilities(run.kind):  # refused by the vendor or by the connector
        await run.using(token, FAST_SETTINGS, _bad_invite)


def test_every_kind_has_a_profile() -> None:
    assert set(PROFILES) == set(CATALOG)


@pytest.mark.parametrize("kind", list(PROFILES))
async def test_no_secret_in_logs_or_errors(
    kind: str, sandbox: SandboxClient, caplog: pytest.LogCaptureFixture
) -> None:
    run = Run(kind, sandbox)
    token = secrets.token_hex(20)
    remote_ids = seed(run, token)
    with caplog.at_level(logging.DEBUG):
        await run.using(token, FAST_SETTINGS, lambda c: every_flow(c, run, remote_ids))
        assert run.errors == [], f"{kind}: the flows failed: {run.errors!r}"
        await error_paths(run, token)
    loggers = {r.name.split(".")[0] for r in caplog.records}
    assert {"httpx", "httpcore"} <= loggers, loggers  # the vendor calls were logged, at DEBUG
    texts = record_texts(caplog.records) + exception_texts(run.errors)
    assert find_leaks(texts, run.secrets) == []


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists(),
                    reason="Debian's chromium is not installed (apt-get install -y chromium)")
async def test_tiktok_authorization_leaks_no_password_secret_or_code(
    sandbox: SandboxClient, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from connectors.browser import BrowserSettings
    from connectors.sandbox.tiktok_business import APP_ID, APP_SECRET, PORTAL_PASSWORD
    from connectors.tiktok_business import make_connector

    owner, bc = "owner@example.com", PROFILES["tiktok_business"].org
    admin = {"email": owner, "role": "ADMIN", "status": "active"}
    sandbox.seed("tiktok_business", {"org": bc, "members": [admin]})
    connector = make_connector(base_url=sandbox.kind_url("tiktok_business"), account=AutomationAccount(),
                               business_id=bc, settings=FAST_SETTINGS,
                               browser=BrowserSettings(timeout_ms=10_000, artifacts_dir=tmp_path))
    wrong_password, wrong_secret = secrets.token_hex(12), secrets.token_hex(12)
    errors: list[BaseException] = []

    def account(**overrides: str) -> AutomationAccount:
        values = {"username": owner, "password": PORTAL_PASSWORD, "app_id": APP_ID, "app_secret": APP_SECRET}
        return AutomationAccount(**(values | overrides))  # type: ignore[arg-type]

    with caplog.at_level(logging.DEBUG):
        try:
            credentials = await connector.authorize(account())
            for bad in (account(password=wrong_password), account(app_secret=wrong_secret)):
                with pytest.raises(ConnectorError) as caught:
                    await connector.authorize(bad)
                errors.append(caught.value)
        finally:
            await connector.aclose()
    used = [PORTAL_PASSWORD, APP_SECRET, wrong_password, wrong_secret, credentials.token.reveal()]
    assert find_leaks(record_texts(caplog.records) + exception_texts(errors), used) == []
