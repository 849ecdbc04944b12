"""The plain data reconciliation reads: the directory, the app as imported, and the admin's decisions.

Every type here is a frozen, slotted dataclass holding strings, booleans, tuples and frozensets, so
values can cross from ``scim_server`` (which loads them from the database) into ``mapping`` and back
without either side sharing objects. ``Mapping`` fields are treated as read-only and never copied
(a 100,000-entry dict is passed through as is); callers must not mutate them afterwards.

Asset permissions are ``AssetGrants``: a tuple of ``(asset_id, permission)`` pairs, one per asset,
sorted by asset id, so two equal grant sets compare equal. Build them with ``asset_grants``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

__all__ = [
    "Actual",
    "AppMember",
    "AssetGrants",
    "AssignmentRule",
    "AutomationIdentity",
    "BridgeRole",
    "DeprovisionPolicy",
    "DeprovisionReason",
    "Directory",
    "DirectoryUser",
    "Exemption",
    "Governance",
    "ManualMatch",
    "MemberStatus",
    "RemovalGuard",
    "asset_grants",
]

BridgeRole = Literal["owner", "collaborator"]
"""``owner`` may share access and manage the app's settings; ``collaborator`` may only log in."""

MemberStatus = Literal["active", "pending"]
"""Invitation state of an app member: ``pending`` until the app says the invitation was accepted."""

DeprovisionPolicy = Literal["report", "automatic"]
"""``report``: deprovisioned members go on a report an admin applies; ``automatic``: removed at once."""

DeprovisionReason = Literal["deactivated", "deleted"]
"""Why a directory identity no longer grants access (SCIM ``active: false``, or DELETE / gone)."""

AssetGrants = tuple[tuple[str, str], ...]
"""``((asset_id, permission), ...)``, one pair per asset, sorted by asset id."""

_EMPTY: Mapping[str, str] = MappingProxyType({})


def asset_grants(grants: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> AssetGrants:
    """The canonical ``AssetGrants`` of a mapping or pairs; a later pair for the same asset wins."""
    pairs = grants.items() if isinstance(grants, Mapping) else grants
    return tuple(sorted(dict(pairs).items()))


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A user as the IdP pushed it over SCIM (RFC 7643 section 4.1).

    ``emails`` holds every address of the user (``emails[].value``), the one to invite with first.
    A user deleted over SCIM is passed as a tombstone (``deleted=True``) so members still matched to it
    can be reported; ``active`` is the SCIM ``active`` attribute.
    """

    id: str
    user_name: str
    emails: tuple[str, ...] = ()
    active: bool = True
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class Directory:
    """The workspace directory: users, and ``groups`` (user id -> ids of the groups it belongs to)."""

    users: tuple[DirectoryUser, ...]
    groups: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class AppMember:
    """A user account inside the app, as last imported (plus invitations the bridge sent).

    ``id`` is ours (the store's member id), ``remote_id`` the app's. ``assets`` is ``AssetGrants``.
    """

    id: str
    remote_id: str
    email: str | None
    username: str | None = None
    display_name: str | None = None
    app_role: str = ""
    status: MemberStatus = "active"
    assets: AssetGrants = ()


@dataclass(frozen=True, slots=True)
class AssignmentRule:
    """Directory group -> app access: members of ``group_id`` should be in the app with these roles.

    ``app_role`` ``None`` means the vocabulary's default app role for ``bridge_role``.
    """

    id: str
    group_id: str
    bridge_role: BridgeRole = "collaborator"
    app_role: str | None = None
    assets: AssetGrants = ()


@dataclass(frozen=True, slots=True)
class ManualMatch:
    """An admin's link of a member to a directory user; wins over auto-matching."""

    member_id: str
    user_id: str
    bridge_role: BridgeRole = "collaborator"


@dataclass(frozen=True, slots=True)
class Exemption:
    """An admin's decision that a plan never touches this member (``reason`` is required)."""

    member_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Governance:
    """The admin's decisions for one app: assignment rules, manual matches, exemptions."""

    rules: tuple[AssignmentRule, ...] = ()
    manual_matches: tuple[ManualMatch, ...] = ()
    exemptions: tuple[Exemption, ...] = ()


@dataclass(frozen=True, slots=True)
class AutomationIdentity:
    """How to recognise the automation account's own member: by remote id, email or username.

    Any one field that is set and equal (emails and usernames normalised) identifies it.
    """

    remote_id: str | None = None
    email: str | None = None
    username: str | None = None


@dataclass(frozen=True, slots=True)
class RemovalGuard:
    """Mass-removal guard: a plan removing more than ``max_count`` members AND more than
    ``max_percent`` of the app's active members holds every removal instead of planning it.

    Both limits must be exceeded, so a small app losing two of its five members is not held, and a
    large app losing eleven of ten thousand is not either. ``enabled=False`` turns the guard off.
    """

    max_count: int = 10
    max_percent: float = 20.0
    enabled: bool = True

    def trips(self, removals: int, members: int) -> bool:
        """Whether ``removals`` out of ``members`` exceeds both limits."""
        if not self.enabled or removals <= self.max_count:
            return False
        return removals * 100.0 > self.max_percent * max(members, 1)


@dataclass(frozen=True, slots=True)
class Actual:
    """What the app really has, plus the bridge's own bookkeeping about it.

    :param members: every member as last imported (and invitations sent since).
    :param reported: the app's pending deprovision report: member id -> reason.
    :param managed: members the assignment rules manage: member id -> the user id they are managed
        for. A managed member whose user leaves every rule's group is removed; an unmanaged one is
        left to the admin. Entries for members that no longer exist are ignored.
    :param population: the app's active members when ``members`` is a slice of the app
        (``incremental``), so the mass-removal guard counts against the whole app; ``None``: count
        ``members``.
    """

    members: tuple[AppMember, ...]
    reported: Mapping[str, DeprovisionReason] = field(default_factory=lambda: MappingProxyType({}))
    managed: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    population: int | None = None

    def active_count(self) -> int:
        """The app's active members (pending invitations excluded): what the guard counts against."""
        if self.population is not None:
            return self.population
        return sum(1 for m in self.members if m.status == "active")
