"""What each app kind can do, so a plan never asks a kind for something it cannot do.

``mapping`` must not import ``connectors`` (design.md, "Dependencies point one way"), so the kinds'
capabilities are a plain table here. It is not a second source of truth that may drift: the test
``tests/mapping/test_capabilities.py`` derives every kind's capabilities from the protocols its
connector class implements (``connectors.registry.capabilities``) and requires this table to equal
them, and ``connectors.base.CapabilityName`` to name the same capabilities.

A capability is a verb, one per connector protocol:

============== ===================== =================================================
capability     connector protocol    plan actions that need it
============== ===================== =================================================
list_members   ``ListsMembers``      (a check for updates)
list_roles     ``ListsRoles``        (the role vocabulary)
read_assets    ``ListsAssets``       (importing asset permissions)
invite         ``InvitesMembers``    ``Invite``
remove         ``RemovesMembers``    ``Remove``, ``ReportEntry`` (applying it removes)
change_role    ``ChangesRoles``      ``ChangeRole``
grant_assets   ``GrantsAssets``      ``Grant``, ``Revoke``
authorize      ``Authorizes``        (a consent or login flow)
============== ===================== =================================================

A change a kind cannot make is not an error: ``plan`` returns it as a ``Conflict`` of kind
``unsupported`` naming the member and the capability, for the admin to do by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, get_args

from mapping.actions import Action, ChangeRole, Grant, Invite, Remove, ReportEntry, Revoke

__all__ = [
    "ALL_CAPABILITIES",
    "KIND_CAPABILITIES",
    "KIND_READS",
    "Capability",
    "Read",
    "can",
    "capabilities_of",
    "needed_capability",
    "reads_of",
]

Capability = Literal[
    "list_members",
    "list_roles",
    "read_assets",
    "invite",
    "remove",
    "change_role",
    "grant_assets",
    "authorize",
]

ALL_CAPABILITIES: frozenset[Capability] = frozenset(get_args(Capability))
"""Every capability: what a policy assumes when it is not told the kind's (pure tests, new kinds)."""

_LIST: frozenset[Capability] = frozenset({"list_members", "list_roles"})

KIND_CAPABILITIES: Mapping[str, frozenset[Capability]] = MappingProxyType({
    "tiktok_business": ALL_CAPABILITIES,
    "meta_business": _LIST | {"read_assets", "invite", "remove", "change_role", "grant_assets"},
    "github": _LIST | {"read_assets", "invite", "remove", "change_role", "grant_assets"},
    "slack": _LIST | {"invite", "remove", "change_role"},
    "atlassian": _LIST | {"invite", "remove", "change_role"},
    "asana": _LIST | {"read_assets", "invite", "remove", "grant_assets"},
    "calendly": _LIST | {"invite", "remove"},
    "apple": _LIST | {"invite", "remove", "change_role"},
})  # fmt: skip
"""Catalog kind -> what its connector implements (kept equal to the connector classes by a test)."""

Read = Literal["read_member", "read_permission"]
"""Targeted reads a kind's API offers (``connectors.base.ReadsMember`` / ``ReadsPermission``): a
removal is verified by reading that member (and each revoked permission) rather than by listing
the whole app. They change no plan, so they are not ``Capability`` values (nor in the catalog)."""

KIND_READS: Mapping[str, frozenset[Read]] = MappingProxyType({
    "tiktok_business": frozenset(),  # bc/member/get filters by name or email only, not by user id
    "meta_business": frozenset({"read_member"}),  # GET /{business user or request id}
    "github": frozenset({"read_member", "read_permission"}),  # memberships/{login}, collaborators/{login}
    "slack": frozenset({"read_member"}),  # users.info
    "atlassian": frozenset({"read_member"}),  # v2 directories/-/users/{accountId}
    "asana": frozenset({"read_member", "read_permission"}),  # workspace_memberships?user=, memberships?member=
    "calendly": frozenset({"read_member"}),  # organization_memberships/{uuid}, invitations/{uuid}
    "apple": frozenset(),  # users are looked up by username only
})  # fmt: skip
"""Catalog kind -> its targeted reads (kept equal to the connector classes by a test)."""


def reads_of(kind: str) -> frozenset[Read]:
    """The targeted reads of ``kind`` (none for a kind the table does not know: verify by listing)."""
    return KIND_READS.get(kind, frozenset())


_NEEDS: Mapping[type, Capability] = MappingProxyType({
    Invite: "invite",
    Remove: "remove",
    ReportEntry: "remove",
    ChangeRole: "change_role",
    Grant: "grant_assets",
    Revoke: "grant_assets",
})  # fmt: skip


def capabilities_of(kind: str) -> frozenset[Capability]:
    """The capabilities of ``kind``; a kind the table does not know can do nothing (never guessed)."""
    return KIND_CAPABILITIES.get(kind, frozenset())


def can(kind: str, capability: Capability) -> bool:
    """Whether apps of ``kind`` can ``capability`` (e.g. ``can("calendly", "change_role")`` is false).

    For callers that refuse an admin's request up front (a role PATCH on a kind that cannot change
    roles) instead of queueing a job that is bound to fail.
    """
    return capability in capabilities_of(kind)


def needed_capability(action: Action) -> Capability | None:
    """The capability carrying out ``action`` needs, or ``None`` for bookkeeping (``Adopt``, withdrawals).

    ``ReportEntry`` needs ``remove``: the report exists to be applied, and applying it removes.
    """
    return _NEEDS.get(type(action))
