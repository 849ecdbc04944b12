"""Link each app member to the directory user it belongs to.

Rules, in order (the issue's "check for updates"):

1. A manual match (admin decision) wins over everything: the member is that user's, reason
   ``manual``, whatever its email says. A manual match to a user id the directory no longer holds
   stays linked; reconciliation treats that user as gone (deleted).
2. Otherwise the member's normalised email (``normalize.normalize_email``) is looked up among every
   email of every directory user. Exactly one owner: matched, reason ``email``. Several owners:
   ``disputed`` with the candidates listed, never auto-matched.
3. Owners are compared by standing first: active users, then deactivated, then deleted tombstones;
   only the best standing present competes. So a re-hired person (new active account, old deleted or
   deactivated one with the same address) matches the active account, while two *active* owners of
   one address are disputed. A member whose only owner is deactivated is still matched (to be
   deprovisioned).
4. With ``by_username``, a member no email candidate was found for is looked up by username against
   the users' ``userName``, with the same rules (reason ``username``).
5. No candidate: unmatched.

The automation account's member (``AutomationIdentity``: same remote id, or same normalised email or
username) is flagged in ``Matches.automation``; it is matched like any other member, and plans never
touch it.

The result depends only on the sets given, not on their order or on letter case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from mapping.model import AppMember, AutomationIdentity, BridgeRole, DirectoryUser, ManualMatch
from mapping.normalize import normalize_email, normalize_username

__all__ = ["Match", "MatchReason", "Matches", "match"]

MatchReason = Literal["manual", "email", "username"]

_ACTIVE, _DEACTIVATED, _DELETED = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Match:
    """One member's link: to whom, why, and the bridge role an admin gave (manual matches only)."""

    member_id: str
    user_id: str
    reason: MatchReason
    bridge_role: BridgeRole | None = None


@dataclass(frozen=True, slots=True)
class Matches:
    """Every member's link, in bulk form (one dict entry per member, no per-member objects).

    :param user_of: member id -> user id, for every matched member (manual, email, username).
    :param disputed: member id -> candidate user ids (sorted, two or more), never auto-matched.
    :param manual: member id -> bridge role, for members an admin matched.
    :param by_username: members matched on username rather than email.
    :param automation: members recognised as the automation account.
    """

    user_of: Mapping[str, str]
    disputed: Mapping[str, tuple[str, ...]]
    manual: Mapping[str, BridgeRole]
    by_username: frozenset[str]
    automation: frozenset[str]
    _emails: _Index | None = field(default=None, repr=False, compare=False)

    def email_owner(self, email: str | None) -> str | tuple[str, ...] | None:
        """Who ``email`` would match: one user id, the tied candidates, or ``None``.

        Plans use it to invite only with an address that will match the invited user back.
        """
        key = normalize_email(email)
        if key is None or self._emails is None:
            return None
        return self._emails.resolve(key)

    def reason_of(self, member_id: str) -> MatchReason | None:
        """Why ``member_id`` is matched, or ``None`` when it is not."""
        if member_id not in self.user_of:
            return None
        if member_id in self.manual:
            return "manual"
        return "username" if member_id in self.by_username else "email"

    def get(self, member_id: str) -> Match | None:
        """The ``Match`` of one member (built on demand), or ``None``."""
        user_id = self.user_of.get(member_id)
        reason = self.reason_of(member_id)
        if user_id is None or reason is None:
            return None
        return Match(member_id, user_id, reason, self.manual.get(member_id))


class _Index:
    """key -> owning user ids, with each user's standing; built once per reconciliation."""

    __slots__ = ("extra", "first", "standing")

    def __init__(self) -> None:
        self.first: dict[str, str] = {}
        self.extra: dict[str, list[str]] = {}
        self.standing: dict[str, int] = {}  # only users that are not active

    def add(self, key: str, user_id: str) -> None:
        owner = self.first.setdefault(key, user_id)
        if owner != user_id:
            self.add_other(key, user_id)

    def add_other(self, key: str, user_id: str) -> None:
        others = self.extra.get(key)
        if others is None:
            self.extra[key] = [user_id]
        elif user_id not in others:
            others.append(user_id)

    def resolve(self, key: str) -> str | tuple[str, ...] | None:
        """The single owner of ``key``, the tied candidates, or ``None``."""
        owner = self.first.get(key)
        others = self.extra.get(key)
        if owner is None or others is None:
            return owner
        standing = self.standing
        candidates = [owner, *others]
        best = min(standing.get(c, _ACTIVE) for c in candidates)
        top = sorted(c for c in candidates if standing.get(c, _ACTIVE) == best)
        return top[0] if len(top) == 1 else tuple(top)


def _email_index(users: Iterable[DirectoryUser]) -> _Index:
    index = _Index()
    first, standing, norm = index.first, index.standing, normalize_email
    for user in users:
        user_id = user.id
        if user.deleted:
            standing[user_id] = _DELETED
        elif not user.active:
            standing[user_id] = _DEACTIVATED
        for raw in user.emails:
            key = norm(raw)
            if key is not None and first.setdefault(key, user_id) != user_id:
                index.add_other(key, user_id)
    return index


def _username_index(users: Iterable[DirectoryUser], standing: dict[str, int]) -> _Index:
    index = _Index()
    index.standing = standing
    for user in users:
        key = normalize_username(user.user_name)
        if key is not None:
            index.add(key, user.id)
    return index


_NEVER = object()  # an automation key that is not set: nothing equals it


def _automation_keys(identity: AutomationIdentity | None) -> tuple[object, object, object]:
    """remote id, email key and username key of the automation account (``_NEVER`` when unset)."""
    if identity is None:
        return _NEVER, _NEVER, _NEVER
    email = normalize_email(identity.email)
    username = normalize_username(identity.username)
    return (
        _NEVER if identity.remote_id is None else identity.remote_id,
        _NEVER if email is None else email,
        _NEVER if username is None else username,
    )


def _by_username(member: AppMember, names: _Index) -> str | tuple[str, ...] | None:
    name = normalize_username(member.username)
    return None if name is None else names.resolve(name)


def match(
    users: Iterable[DirectoryUser],
    members: Iterable[AppMember],
    manual: Iterable[ManualMatch] = (),
    automation: AutomationIdentity | None = None,
    by_username: bool = False,
) -> Matches:
    """Match every member (see the module docstring for the rules). Pure; order-independent.

    ``manual`` holds at most one match per member (if several, the last one wins).
    """
    users = tuple(users)
    emails = _email_index(users)
    names = _username_index(users, emails.standing) if by_username else None
    manual_of = {m.member_id: m for m in manual}
    auto_remote, auto_email, auto_name = _automation_keys(automation)
    user_of: dict[str, str] = {}
    disputed: dict[str, tuple[str, ...]] = {}
    manual_roles: dict[str, BridgeRole] = {}
    via_username: set[str] = set()
    flagged: set[str] = set()
    norm, resolve = normalize_email, emails.resolve
    for member in members:
        mid, key = member.id, norm(member.email)
        if (member.remote_id == auto_remote or key == auto_email
                or (auto_name is not _NEVER and normalize_username(member.username) == auto_name)):  # fmt: skip
            flagged.add(mid)
        link = manual_of.get(mid)
        if link is not None:
            user_of[mid], manual_roles[mid] = link.user_id, link.bridge_role
            continue
        hit = resolve(key) if key is not None else None
        if hit is None and names is not None:
            hit = _by_username(member, names)
            if isinstance(hit, str):
                via_username.add(mid)
        if isinstance(hit, str):
            user_of[mid] = hit
        elif hit is not None:
            disputed[mid] = hit
    flags = (frozenset(via_username), frozenset(flagged))
    return Matches(user_of, disputed, manual_roles, *flags, emails)
