"""Contract suites for connector capabilities (like scim2-server's ``ScimStorageContract`` and the
ConnId contract tests): one class per capability, subclassed by each kind's test module::

    class TestGitHub(ListsMembersContract, InvitesMembersContract, ...):  # each is a KindContract
        kind = "github"
        asset_type = "repository"
        permissions = ("push", "admin")

Every test runs the real connector over real HTTP against the sandbox on loopback and asserts on the
sandbox's ``/_sandbox/<kind>/state``, never on call counts. A capability the connector lacks is
skipped (``pytest.skip``), never faked. Fixtures used: ``sandbox`` (``SandboxClient``, reset per test,
from ``tests/connectors/conftest.py``), ``org`` (seeded with the kind's token), ``connector``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, ClassVar

import pytest

from connectors.base import AutomationAccount, Connector, Member, Role
from connectors.http import HTTPSettings
from connectors.registry import create_connector, get_spec
from connectors.sandbox import SandboxClient

__all__ = ["FAST_SETTINGS", "FAULTY_SETTINGS", "KindContract", "collect"]

FAST_SETTINGS = HTTPSettings(timeout=5.0, connect_timeout=2.0, max_attempts=3, backoff_base=0.001,
                             backoff_max=0.01, max_retry_wait=0.02, concurrency=4)
"""Retry delays kept tiny so the suites are fast."""

FAULTY_SETTINGS = HTTPSettings(timeout=0.4, connect_timeout=0.4, max_attempts=12, backoff_base=0.001,
                               backoff_max=0.01, max_retry_wait=0.02, concurrency=4)
"""For fault tests: a short client timeout (the sandbox holds ``timeout`` faults longer)."""

FAULTS: dict[str, Any] = {"error_rate": 0.3, "retry_after": 0, "timeout_ms": 900, "seed": 7,
                          "errors": ["rate_limit", "unavailable", "timeout"]}
"""30 % of requests fail with a 429 / 5xx / timeout (request effective, answer too late)."""


async def collect(items: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in items]


class KindContract:
    """Fixtures and knobs shared by every capability contract. Subclasses set ``kind`` and, where the
    kind has the capability, the class attributes below (defaults fit most kinds)."""

    kind: ClassVar[str]
    org_id: ClassVar[str] = "contract-org"
    token: ClassVar[str] = "contract-token"
    email_domain: ClassVar[str] = "example.com"
    member_role: ClassVar[str | None] = None  # default: first non-owner role in the catalog
    owner_role: ClassVar[str | None] = None  # default: first owner-level role in the catalog
    asset_type: ClassVar[str] = "asset"
    permissions: ClassVar[tuple[str, str]] = ("read", "write")  # two distinct valid permissions
    many_members: ClassVar[int] = 250  # more than one vendor page
    settings: ClassVar[HTTPSettings] = FAST_SETTINGS

    # -- fixtures --------------------------------------------------------------------------------

    @pytest.fixture
    def org(self, sandbox: SandboxClient) -> str:
        sandbox.seed(self.kind, {"org": self.org_id, "token": self.token})
        return self.org_id

    @pytest.fixture
    async def connector(self, sandbox: SandboxClient, org: str) -> AsyncIterator[Connector]:
        connector = self.make_connector(sandbox, org)
        yield connector
        await connector.aclose()

    def make_connector(self, sandbox: SandboxClient, org: str, settings: HTTPSettings | None = None,
                       token: str | None = None) -> Connector:
        account = AutomationAccount(api_token=token or self.token)
        return create_connector(self.kind, account=account, base_url=sandbox.kind_url(self.kind),
                                business_id=org, settings=settings or self.settings)

    # -- helpers ---------------------------------------------------------------------------------

    @classmethod
    def roles(cls) -> Sequence[Role]:
        return get_spec(cls.kind).roles

    @classmethod
    def plain_role(cls) -> str:
        return cls.member_role or next(r.key for r in cls.roles() if not r.owner_level)

    @classmethod
    def admin_role(cls) -> str:
        return cls.owner_role or next(r.key for r in cls.roles() if r.owner_level)

    def email(self, n: int | str) -> str:
        return f"user{n}@{self.email_domain}"

    def seed(self, sandbox: SandboxClient, org: str, *, active: Iterable[str] = (),
             pending: Iterable[str] = (), role: str | None = None,
             assets: Sequence[dict[str, Any]] = ()) -> list[str]:
        """Seed active and pending members (by email); returns their remote ids in order."""
        role = role or self.plain_role()
        members = [{"email": e, "name": "", "role": role, "status": "active"} for e in active]
        members += [{"email": e, "name": "", "role": role, "status": "pending"} for e in pending]
        return sandbox.seed(self.kind, {"org": org, "members": members, "assets": list(assets)})

    def state(self, sandbox: SandboxClient, org: str) -> dict[str, Any]:
        return sandbox.state(self.kind, org)

    def members_by_email(self, sandbox: SandboxClient, org: str) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for member in self.state(sandbox, org)["members"]:
            found.setdefault(member["email"].casefold(), []).append(member)
        return found

    def assert_faults_injected(self, sandbox: SandboxClient) -> None:
        """The fault plan really broke some requests (else a fault test proves nothing); clears it."""
        injected = sandbox.fault_stats()["plans"][self.kind]["injected"]
        sandbox.clear_faults()
        assert sum(injected.values()) > 0, injected

    def requests_seen(self, sandbox: SandboxClient) -> int:
        return int(sandbox.fault_stats()["requests"].get(self.kind, 0))

    @staticmethod
    def require(connector: object, capability: type) -> None:
        """Skip the test when the connector lacks ``capability`` (never fake it)."""
        if not isinstance(connector, capability):
            pytest.skip(f"{type(connector).__name__} does not implement {capability.__name__}")

    @staticmethod
    def key(member: Member) -> tuple[str, str, str]:
        return member.remote_id, member.state, member.role
