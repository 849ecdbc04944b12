"""The sets admins act on: matched, unmatched, exempted, disputed; and each member's standing in them.

Every member is in exactly one set, decided in this order:

1. ``exempted``: an admin exempted it (with a reason). Plans never touch exempted members,
   whatever else is true.
2. ``matched``: linked to a directory user (manual, email or username match), or the automation
   account's own member: it is the app's automation identity (``Membership.automation``), shown with
   the members the bridge governs, and plans never touch it either.
3. ``disputed``: several directory users could be it; an admin must match it.
4. ``unmatched``: nobody in the directory is it. Left for the admin: plans never remove unmatched
   members on their own (an app may hold legitimate accounts the IdP does not know: contractors,
   vendor support, break-glass admins), they only show them.

A matched member's bridge role is the admin's (manual match), else the one its user's rules give,
else what its app role amounts to (owner-level app role: ``owner``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from mapping.desired import Desired
from mapping.matching import Matches, MatchReason
from mapping.model import AppMember, BridgeRole
from mapping.roles import RoleVocabulary

__all__ = [
    "AUTOMATION_REASON",
    "Membership",
    "MembershipState",
    "Sets",
    "bridge_role_of",
    "member_sets",
    "membership",
]

MembershipState = Literal["matched", "unmatched", "exempted", "disputed"]

AUTOMATION_REASON = "automation account"


@dataclass(frozen=True, slots=True)
class Sets:
    """The four disjoint sets of member ids; ``exempted`` maps each to its reason."""

    matched: frozenset[str]
    unmatched: frozenset[str]
    disputed: frozenset[str]
    exempted: Mapping[str, str]

    def state_of(self, member_id: str) -> MembershipState | None:
        """The set ``member_id`` is in, or ``None`` for a member the sets were not built from."""
        if member_id in self.exempted:
            return "exempted"
        if member_id in self.matched:
            return "matched"
        if member_id in self.disputed:
            return "disputed"
        return "unmatched" if member_id in self.unmatched else None


@dataclass(frozen=True, slots=True)
class Membership:
    """One member as the admin API shows it (``/apps/{id}/members``), built on demand.

    ``user_id`` is kept for exempted members that are also linked; ``candidates`` lists the users of
    a disputed member.
    """

    member_id: str
    state: MembershipState
    user_id: str | None
    bridge_role: BridgeRole | None
    match_reason: MatchReason | None
    exempt_reason: str | None
    candidates: tuple[str, ...]
    automation: bool


def member_sets(members: Iterable[AppMember], matches: Matches, desired: Desired) -> Sets:
    """Split ``members`` into the four sets (rules in the module docstring). Pure."""
    ids = {m.id for m in members}
    exempted = {mid: reason for mid, reason in desired.exempt.items() if mid in ids}
    automation = (matches.automation & ids) - exempted.keys()
    matched = frozenset((matches.user_of.keys() | automation) - exempted.keys())
    disputed = frozenset(matches.disputed.keys() - exempted.keys() - automation)
    unmatched = frozenset(ids - matched - disputed - exempted.keys())
    return Sets(matched, unmatched, disputed, exempted)


def bridge_role_of(
    member: AppMember, matches: Matches, desired: Desired, vocabulary: RoleVocabulary
) -> BridgeRole | None:
    """A linked member's bridge role (manual > rules > app role), or ``None`` if it is not linked."""
    manual = matches.manual.get(member.id)
    if manual is not None:
        return manual
    user_id = matches.user_of.get(member.id)
    if user_id is None:
        return None
    entitlement = desired.entitlements.get(user_id)
    if entitlement is not None:
        return entitlement.bridge_role
    return vocabulary.bridge_role_of(member.app_role)


def membership(
    member: AppMember, sets: Sets, matches: Matches, desired: Desired, vocabulary: RoleVocabulary
) -> Membership:
    """The admin API's view of one member of the set ``sets`` was built from."""
    mid = member.id
    return Membership(
        member_id=mid,
        state=sets.state_of(mid) or "unmatched",
        user_id=matches.user_of.get(mid),
        bridge_role=bridge_role_of(member, matches, desired, vocabulary),
        match_reason=matches.reason_of(mid),
        exempt_reason=sets.exempted.get(mid),
        candidates=matches.disputed.get(mid, ()),
        automation=mid in matches.automation,
    )
