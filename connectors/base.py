"""Capability protocols and the frozen data connectors exchange.

A connector implements only what its vendor can do, by subclassing the capability protocols it
honours (``class GitHubConnector(ListsMembers, InvitesMembers, ...)``). The catalog derives a kind's
capabilities from these protocols (``connectors.registry.capabilities``); nothing declares them twice.

Contracts every implementation keeps (the suites in ``tests/contracts/`` check them against the
sandbox):

- every write is idempotent: inviting someone already invited or present returns that member with no
  second effect; removing someone already gone succeeds; granting a permission already held succeeds
  and leaves one grant;
- listing streams (async iterators over vendor pages), so a 50,000-member app is never held twice;
- failures are ``connectors.errors.ConnectorError`` subclasses; only ``RetryableError`` may be retried;
- no credential ever appears in a message, a log line or a repr (``Secret``).

Callers that hold a connector of unknown kind (the job handlers) ask for a capability with
``require(connector, "change_role")``: it returns the connector typed as that protocol, or raises
``UnsupportedCapability`` (never ``AttributeError`` halfway through a job). ``CapabilityName`` is the
same vocabulary as ``mapping.capabilities.Capability``; a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import ClassVar, Literal, Protocol, overload, runtime_checkable

from connectors.errors import UnsupportedCapability

__all__ = [
    "CAPABILITIES",
    "CAPABILITY_PROTOCOLS",
    "Asset",
    "Authorizes",
    "AutomationAccount",
    "CapabilityName",
    "ChangesRoles",
    "Connector",
    "Credentials",
    "GrantsAssets",
    "InvitesMembers",
    "ListsAssets",
    "ListsMembers",
    "ListsRoles",
    "Member",
    "MemberState",
    "Permission",
    "RemovesMembers",
    "Role",
    "Secret",
    "UnsupportedCapability",
    "require",
    "same_email",
]

MemberState = Literal["active", "pending"]


class Secret:
    """A credential value whose ``repr`` and ``str`` are ``***``; ``reveal()`` is the only way out.

    Call ``reveal()`` only where the value goes on the wire (an auth header, a signed JWT).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


def _as_secret(value: Secret | str | None) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    return Secret(value)


@dataclass(frozen=True, slots=True)
class Member:
    """One user account inside the app, as the vendor reports it.

    ``remote_id`` is whatever ``RemovesMembers.remove`` / ``ChangesRoles.change_role`` accept for this
    member. For a pending invitation it identifies the invitation (GitHub: ``"inv:<invitation id>"``),
    so ``remove(member.remote_id)`` revokes it. ``role`` is the app's own role key.
    """

    remote_id: str
    email: str | None
    username: str | None
    display_name: str | None
    role: str
    state: MemberState


@dataclass(frozen=True, slots=True)
class Role:
    """An app role. ``owner_level`` roles may share access or manage the app's settings."""

    key: str
    name: str
    owner_level: bool = False


@dataclass(frozen=True, slots=True)
class Asset:
    """A resource inside the app (ad account, pixel, repo, project ...)."""

    id: str
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class Permission:
    """``remote_id`` (a ``Member.remote_id``) holds ``permission`` on ``asset_id``."""

    remote_id: str
    asset_id: str
    permission: str


@dataclass(frozen=True, slots=True)
class AutomationAccount:
    """The app-side admin account a connector acts as. Every secret field is a ``Secret``.

    Plain strings passed for secret fields are wrapped on construction, so ``repr(account)`` never
    shows a secret. A vendor API token is always ``api_token``.
    """

    username: str | None = None
    password: Secret | None = None
    phone: str | None = None
    totp_seed: Secret | None = None
    api_token: Secret | None = None
    app_id: str | None = None
    app_secret: Secret | None = None
    private_key: Secret | None = None
    key_id: str | None = None
    issuer_id: str | None = None

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = (
        "password", "totp_seed", "api_token", "app_secret", "private_key",
    )

    def __post_init__(self) -> None:
        for name in self.SECRET_FIELDS:
            object.__setattr__(self, name, _as_secret(getattr(self, name)))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Every field a catalog entry may list in ``account_fields``."""
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True, slots=True)
class Credentials:
    """What ``Authorizes.authorize`` obtains: a token plus vendor extras (scopes, advertiser ids)."""

    token: Secret
    extra: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Connector(Protocol):
    """Every connector (baton ``Validate``, ConnId ``TestOp``)."""

    kind: ClassVar[str]

    async def check(self) -> None:
        """Prove the credentials work for this app; raises ``AuthError`` / ``PermissionDenied``."""
        ...

    async def aclose(self) -> None:
        """Release the HTTP client. Idempotent."""
        ...


@runtime_checkable
class ListsMembers(Protocol):
    def list_members(self) -> AsyncIterator[Member]:
        """Every member, active and pending, streamed page by page."""
        ...


@runtime_checkable
class ListsRoles(Protocol):
    async def list_roles(self) -> Sequence[Role]:
        """The app's role vocabulary, owner-level roles marked."""
        ...


@runtime_checkable
class ListsAssets(Protocol):
    def list_assets(self) -> AsyncIterator[Asset]:
        """Every asset, streamed."""
        ...

    def list_permissions(self, asset: Asset) -> AsyncIterator[Permission]:
        """Every member's permission on ``asset``, streamed."""
        ...


@runtime_checkable
class InvitesMembers(Protocol):
    async def invite(self, email: str, role: str) -> Member:
        """Invite ``email`` with app role ``role``.

        Idempotent: if ``email`` is already invited or present, returns that member and causes no
        second invitation.
        """
        ...


@runtime_checkable
class RemovesMembers(Protocol):
    async def remove(self, remote_id: str) -> None:
        """Remove a member or revoke a pending invitation (and its asset grants). Already gone: ok."""
        ...


@runtime_checkable
class ChangesRoles(Protocol):
    async def change_role(self, remote_id: str, role: str) -> Member:
        """Set the member's app role; returns the member as it now is. Same role: no effect."""
        ...


@runtime_checkable
class GrantsAssets(Protocol):
    async def grant(self, remote_id: str, asset_id: str, permission: str) -> None:
        """Give the member ``permission`` on the asset. Already held: success, one grant."""
        ...

    async def revoke(self, remote_id: str, asset_id: str) -> None:
        """Take the member's permission on the asset away. Not held: success."""
        ...


@runtime_checkable
class ReadsMember(Protocol):
    async def read_member(self, remote_id: str) -> Member | None:
        """The member (or pending invitation) as the app has it now, in one targeted read; None
        when it is gone. Verifying a removal this way costs a request, not a listing."""
        ...


@runtime_checkable
class ReadsPermission(Protocol):
    async def holds_permission(self, remote_id: str, asset_id: str) -> bool:
        """Whether the member still holds a direct permission on the asset, in one read."""
        ...


@runtime_checkable
class Authorizes(Protocol):
    async def authorize(self, account: AutomationAccount) -> Credentials:
        """Run the vendor's consent or login flow as ``account``; may drive a browser."""
        ...


CAPABILITIES: tuple[type, ...] = (
    ListsMembers,
    ListsRoles,
    ListsAssets,
    InvitesMembers,
    RemovesMembers,
    ChangesRoles,
    GrantsAssets,
    Authorizes,
)
"""The capability protocols, in catalog order. ``Connector`` is the base every kind has."""


CapabilityName = Literal[
    "list_members",
    "list_roles",
    "read_assets",
    "invite",
    "remove",
    "change_role",
    "grant_assets",
    "authorize",
]
"""A capability by verb (``mapping.capabilities.Capability`` uses the same names)."""

CAPABILITY_PROTOCOLS: Mapping[CapabilityName, type] = {
    "list_members": ListsMembers,
    "list_roles": ListsRoles,
    "read_assets": ListsAssets,
    "invite": InvitesMembers,
    "remove": RemovesMembers,
    "change_role": ChangesRoles,
    "grant_assets": GrantsAssets,
    "authorize": Authorizes,
}
"""Each capability's protocol (one each, ``CAPABILITIES`` in the same order)."""


@overload
def require(connector: object, capability: Literal["list_members"]) -> ListsMembers: ...
@overload
def require(connector: object, capability: Literal["list_roles"]) -> ListsRoles: ...
@overload
def require(connector: object, capability: Literal["read_assets"]) -> ListsAssets: ...
@overload
def require(connector: object, capability: Literal["invite"]) -> InvitesMembers: ...
@overload
def require(connector: object, capability: Literal["remove"]) -> RemovesMembers: ...
@overload
def require(connector: object, capability: Literal["change_role"]) -> ChangesRoles: ...
@overload
def require(connector: object, capability: Literal["grant_assets"]) -> GrantsAssets: ...
@overload
def require(connector: object, capability: Literal["authorize"]) -> Authorizes: ...
def require(connector: object, capability: CapabilityName) -> object:
    """``connector`` as the protocol of ``capability``, checked before it is used.

    :raises UnsupportedCapability: the connector does not implement it (``.capability`` says which),
        so a job that got an action its app kind cannot do fails with a typed, non-retried error.
    """
    if isinstance(connector, CAPABILITY_PROTOCOLS[capability]):
        return connector
    kind = str(getattr(connector, "kind", type(connector).__name__))
    raise UnsupportedCapability(kind, capability, f"{kind} cannot {capability.replace('_', ' ')}",
                                capability=capability)  # fmt: skip


def same_email(a: str | None, b: str) -> bool:
    """Whether a listed member's email is ``b`` (vendors keep the case people typed)."""
    return a is not None and a.casefold() == b.casefold()
