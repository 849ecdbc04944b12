"""Incremental reconciliation: the slice of an app's state a directory change can affect.

A SCIM write changes a few users (their ``active``, emails, ``userName`` or groups). Reconciling
the whole app for it re-reads every user and member; instead ``closure`` collects the part of the
state whose outcome can differ, and the caller runs the one ``reconcile`` on that slice. No rule
of matching, desired state or planning is restated here: this module only says which users and
members belong together, and ``reconcile`` decides about them as it does for a whole app.

Two records belong together when one's outcome can read the other's:

- a member and the users holding its matching key (email, and username when the policy matches on
  usernames): matching resolves the key against every holder (ties, standings);
- a member and the user it is linked to (the link stored by the last reconciliation, or an admin's
  manual match): its plan reads that user's standing and entitlement, and the user's invitation
  reads whether it has a member;
- a user and the members holding one of its keys, and the other users holding one of its keys:
  an invitation is sent only with an address that resolves to that user alone.

``closure`` follows these edges from the changed users and members until nothing new is reached
(the connected component). Everything outside it reads only records the change did not touch, so
its previous outcome stands, with one exception: an outcome that hinged on a key a changed user
*dropped* (its old emails are no longer known). Only two outcomes can: a member ``disputed``
between it and others (exempted or not: an exempted member shows the user it matches), and a
user left uninvited because it shared an address. ``unsettled`` names
them from the previous reconciliation; callers seed them too (the service keeps them on the app).

The slice's plan is the whole plan's restricted to it, except the mass-removal guard, which counts
against the app's active members (``Actual.population``) and, in the service, over a time window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mapping.model import Actual, AppMember, Directory, DirectoryUser, Governance, ManualMatch
from mapping.normalize import normalize_email, normalize_username
from mapping.reconciliation import Reconciliation

__all__ = [
    "MemorySource",
    "Slice",
    "SliceSource",
    "closure",
    "member_keys",
    "restrict",
    "unsettled",
    "user_keys",
]


def user_keys(user: DirectoryUser, by_username: bool = False) -> frozenset[str]:
    """The matching keys a user holds: ``e:`` + each email key (``userName`` counts as an email
    when it is one, as the service loads it), and ``u:`` + its username key with ``by_username``."""
    keys = {f"e:{k}" for k in map(normalize_email, user.emails) if k is not None}
    if by_username and (name := normalize_username(user.user_name)) is not None:
        keys.add(f"u:{name}")
    return frozenset(keys)


def member_keys(member: AppMember, by_username: bool = False) -> frozenset[str]:
    """The matching keys of a member: its email key, and its username key with ``by_username``."""
    keys = set()
    if (email := normalize_email(member.email)) is not None:
        keys.add(f"e:{email}")
    if by_username and (name := normalize_username(member.username)) is not None:
        keys.add(f"u:{name}")
    return frozenset(keys)


def unsettled(result: Reconciliation) -> tuple[frozenset[str], frozenset[str]]:
    """(user ids, member ids) whose outcome may change when another user drops a key: users the
    plan could not invite (a conflict without a member) and members whose match is disputed,
    including exempted ones (not in ``sets.disputed``, yet their view names the matched user)."""
    users = frozenset(c.user_id for c in result.plan.conflicts if c.member_id is None)
    return users, frozenset(result.matches.disputed)


class SliceSource(Protocol):
    """Where ``closure`` reads records from: the store (SQL) or memory (``MemorySource``)."""

    def users(self, ids: frozenset[str], keys: frozenset[str]) -> Iterable[DirectoryUser]:
        """Users with one of ``ids`` (tombstones for linked ones the directory no longer holds),
        and users holding one of ``keys``."""
        ...

    def members(
        self, ids: frozenset[str], user_ids: frozenset[str], keys: frozenset[str]
    ) -> Iterable[tuple[AppMember, tuple[str, ...]]]:
        """(member, the users it is linked to) for members with one of ``ids``, linked to one of
        ``user_ids``, or holding one of ``keys``. Its links are the one the last reconciliation
        stored and an admin's manual match (the two differ right after a match is made)."""
        ...


@dataclass(frozen=True, slots=True)
class Slice:
    """The connected part of an app's state: its users by id, its members by id, their links, and
    ``reached``: every user id it looked for, found or not (a user the directory no longer holds
    is decided by the slice too: its old conflicts go)."""

    users: Mapping[str, DirectoryUser]
    members: Mapping[str, AppMember]
    links: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    reached: frozenset[str] = frozenset()

    def __len__(self) -> int:
        return len(self.users) + len(self.members)


def closure(
    source: SliceSource,
    user_ids: Iterable[str],
    member_ids: Iterable[str] = (),
    *,
    by_username: bool = False,
    limit: int | None = None,
) -> Slice | None:
    """The connected component (module docstring) of the changed users and members; ``None``
    when it grows past ``limit`` records (the caller then reconciles the whole app)."""
    users: dict[str, DirectoryUser] = {}
    members: dict[str, AppMember] = {}
    links: dict[str, tuple[str, ...]] = {}
    seen_ids: set[str] = set()
    seen_keys: set[str] = set()
    seen_members: set[str] = set()
    want_ids, want_keys, want_members = set(user_ids), set[str](), set(member_ids)
    while want_ids or want_keys or want_members:
        ids, keys, mids = frozenset(want_ids), frozenset(want_keys), frozenset(want_members)
        seen_ids |= ids
        seen_keys |= keys
        seen_members |= mids
        want_ids, want_keys, want_members = set(), set(), set()
        for user in source.users(ids, keys):
            if user.id not in users:
                users[user.id] = user
                want_ids.add(user.id)  # its linked members
                want_keys |= user_keys(user, by_username)
        for member, linked in source.members(mids, ids, keys):
            if member.id not in members:
                members[member.id] = member
                want_keys |= member_keys(member, by_username)
                if linked:
                    links[member.id] = linked
                    want_ids.update(linked)
        want_ids -= seen_ids
        want_keys -= seen_keys
        want_members -= seen_members
        if limit is not None and len(users) + len(members) > limit:
            return None
    return Slice(users, members, links, frozenset(seen_ids))


def restrict(slice_: Slice, directory: Directory, governance: Governance, actual: Actual) -> tuple[
    Directory, Governance, Actual
]:  # fmt: skip
    """The inputs of ``reconcile`` for the slice, from whole-app inputs: its users and their
    groups, the rules, the manual matches and exemptions of its members, its members with their
    report entries and managers, and the app's active-member count for the guard."""
    mids = slice_.members.keys()
    groups = {uid: g for uid, g in directory.groups.items() if uid in slice_.users}
    return (
        Directory(tuple(slice_.users.values()), groups),
        Governance(
            governance.rules,
            tuple(m for m in governance.manual_matches if m.member_id in mids),
            tuple(e for e in governance.exemptions if e.member_id in mids),
        ),
        Actual(
            tuple(slice_.members.values()),
            {mid: r for mid, r in actual.reported.items() if mid in mids},
            {mid: u for mid, u in actual.managed.items() if mid in mids},
            population=actual.active_count(),
        ),
    )


class MemorySource:
    """A ``SliceSource`` over whole in-memory inputs (tests, simulations): what the store's queries
    answer, computed by scanning. ``links`` is member id -> the user it was last linked to."""

    def __init__(self, directory: Directory, actual: Actual, links: Mapping[str, str],
                 manual: Iterable[ManualMatch] = (), by_username: bool = False) -> None:  # fmt: skip
        self.directory, self.actual, self.by_username = directory, actual, by_username
        self.links: dict[str, tuple[str, ...]] = {mid: (uid,) for mid, uid in links.items()}
        for m in manual:
            self.links[m.member_id] = (*self.links.get(m.member_id, ()), m.user_id)

    def users(self, ids: frozenset[str], keys: frozenset[str]) -> list[DirectoryUser]:
        return [u for u in self.directory.users if u.id in ids or user_keys(u, self.by_username) & keys]

    def members(self, ids: frozenset[str], user_ids: frozenset[str],
                keys: frozenset[str]) -> list[tuple[AppMember, tuple[str, ...]]]:  # fmt: skip
        return [
            (m, self.links.get(m.id, ()))
            for m in self.actual.members
            if m.id in ids
            or user_ids.intersection(self.links.get(m.id, ()))
            or member_keys(m, self.by_username) & keys
        ]
