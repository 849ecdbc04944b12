"""``plan(desired, actual, in_flight)``: the ordered, idempotent actions that make the app what it should be.

Per member (exempted and automation-account members are skipped before anything else):

- linked to a user the IdP deactivated or deleted (or that is gone): policy ``report`` puts it on the
  pending deprovision report (``ReportEntry``), policy ``automatic`` removes it (``Remove``, carrying
  its asset permissions to revoke). Pending invitations count as access.
- linked to an active user on the pending report: the entry is withdrawn (reactivation before the
  report is applied takes it back out); so is the entry of a member that is exempted, unlinked, or
  no longer in the app at all.
- linked to an active user the rules entitle: the member is adopted (rule-managed), and, once the
  invitation is accepted, its app role is set to the rules' (rules are authoritative for the app role
  of the members they manage; a role changed by hand is changed back) and the rules' asset grants are
  made. Assets named by some rule that the member holds without a rule granting them are revoked;
  assets no rule names are left alone.
- linked to an active user under no rule: removed if the rules managed it for that user (the user
  left every rule's group: "leaving it removes"), otherwise left alone.
- unmatched or disputed: left alone. The plan never removes a member it cannot tie to a directory
  decision; those are for the admin (see ``diff``).

Then every entitled user with no linked member is invited, with an email that will match it back;
when there is none, or the user is a candidate of a disputed member, the plan returns a ``Conflict``.

Capabilities: a change the app kind cannot make (``AppPolicy.capabilities``; see ``capabilities``) is
never planned: a role change on Calendly or Asana, a grant on a kind without asset permissions, an
invitation or a removal (or a report entry, whose applying removes) on a kind that cannot. Each is
returned as a ``Conflict`` of kind ``unsupported`` naming the user, the member and the capability, so
the admin sees it (and does it by hand) and re-planning never queues a job bound to fail.

Mass-removal guard: when the new removals exceed ``AppPolicy.guard`` (counted against the app's
*active* members, so the invitations a plan sends never move the threshold), none of them is planned;
they are returned as ``Held`` with the reason, for a report an admin applies.

Idempotence: ``plan(apply(actual, p.actions))`` has no actions, and an action whose ``key`` is in
``in_flight`` is never planned again (a member with a removal in flight gets no other action).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from mapping.actions import (
    Action,
    ActionKey,
    Adopt,
    ChangeRole,
    Conflict,
    Grant,
    Held,
    Invite,
    RemovalCause,
    Remove,
    ReportEntry,
    ReportWithdrawal,
    Revoke,
    WithdrawalCause,
)
from mapping.capabilities import Capability
from mapping.desired import Desired, Entitlement
from mapping.matching import Matches
from mapping.model import Actual, AppMember, DeprovisionReason
from mapping.normalize import normalize_email
from mapping.policy import AppPolicy

__all__ = ["Plan", "plan", "removal_of"]

_CANNOT: dict[Capability, str] = {
    "invite": "invite members",
    "remove": "remove members",
    "change_role": "change a member's role",
    "grant_assets": "grant or revoke asset permissions",
}

_A = TypeVar("_A", Invite, Remove, ChangeRole, Grant, Revoke, ReportEntry, ReportWithdrawal, Adopt, Action)


@dataclass(frozen=True, slots=True)
class Plan:
    """What reconciliation would do now.

    :param actions: in execution order: report bookkeeping, removals, revokes, role changes, grants,
        invitations, adoptions; within a kind, sorted by key (so equal inputs give equal plans).
    :param held: removals the mass-removal guard held back, each with its reason.
    :param conflicts: what the admin must resolve before the plan can act (never raised).
    """

    actions: tuple[Action, ...]
    held: tuple[Held, ...] = ()
    conflicts: tuple[Conflict, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.actions)

    def of_type(self, kind: type[Action]) -> tuple[Action, ...]:
        """The actions of one class, in plan order."""
        return tuple(a for a in self.actions if isinstance(a, kind))


def removal_of(member: AppMember, user_id: str | None, cause: RemovalCause) -> Remove:
    """The ``Remove`` of ``member``, carrying every asset it holds (e.g. when a report is applied)."""
    return Remove(member.id, member.remote_id, user_id, tuple(a for a, _ in member.assets), cause)


class _Planner:
    """One planning pass: reads the inputs, fills one bucket per action kind."""

    def __init__(self, desired: Desired, actual: Actual, matches: Matches, policy: AppPolicy,
                 in_flight: Iterable[Action]) -> None:  # fmt: skip
        self.desired, self.actual, self.matches, self.policy = desired, actual, matches, policy
        flight = tuple(in_flight)
        self.skip: set[ActionKey] = {a.key for a in flight}
        self.removing = {a.member_id for a in flight if isinstance(a, Remove)}
        self.report: list[Action] = []
        self.removes: list[Remove] = []
        self.revokes: list[Revoke] = []
        self.roles: list[ChangeRole] = []
        self.grants: list[Grant] = []
        self.adopts: list[Adopt] = []
        self.manual_emails: dict[str, list[str]] = {}  # email key -> manually matched members
        self.can = policy.capabilities
        self.conflicts: list[Conflict] = []  # changes the kind cannot make

    def _emit(self, bucket: list[_A], action: _A) -> None:
        if action.key not in self.skip:
            bucket.append(action)

    def _withdraw(self, member_id: str, cause: WithdrawalCause) -> None:
        if member_id in self.actual.reported:
            self._emit(self.report, ReportWithdrawal(member_id, cause))

    def scan(self, members: Iterable[AppMember]) -> None:
        """Decide every member (the hot loop: locals, no per-member call on the common path)."""
        exempt, automation, manual = self.desired.exempt, self.matches.automation, self.matches.manual
        user_of, users, entitlements = self.matches.user_of, self.desired.users, self.desired.entitlements
        removing, managed, reported = self.removing, self.actual.managed, self.actual.reported
        for m in members:
            mid = m.id
            if mid in manual:
                self._note_manual(m)
            if mid in exempt or mid in automation:
                self._withdraw(mid, "exempted" if mid in exempt else "automation")
                continue
            user_id = user_of.get(mid)
            if user_id is None or mid in removing:
                if user_id is None:
                    self._withdraw(mid, "unlinked")
                continue
            user = users.get(user_id)
            if user is None or user.deleted or not user.active:
                self._deprovision(m, user_id, "deactivated" if user and not user.deleted else "deleted")
                continue
            if mid in reported:
                self._withdraw(mid, "reactivated")
            entitlement = entitlements.get(user_id)
            if entitlement is None:
                if managed.get(mid) == user_id:
                    self._remove(m, user_id, "unassigned")
            elif managed.get(mid) != user_id or (
                m.status == "active"
                and (m.app_role != entitlement.app_role or m.assets != entitlement.assets)
            ):
                self._entitled(m, user_id, entitlement)

    def withdraw_vanished(self) -> None:
        """Report entries of members no longer in the app are withdrawn: nothing is left to remove."""
        if self.actual.reported:
            present = {m.id for m in self.actual.members}
            for member_id in self.actual.reported.keys() - present:
                self._emit(self.report, ReportWithdrawal(member_id, "gone"))

    def _note_manual(self, m: AppMember) -> None:
        key = normalize_email(m.email)
        if key is not None:
            self.manual_emails.setdefault(key, []).append(m.id)

    def _unsupported(self, user_id: str, member_id: str | None, capability: Capability, wanted: str) -> None:
        kind = self.policy.vocabulary.kind
        detail = f"{kind} cannot {_CANNOT[capability]}: {wanted}; an admin must do it in the app"
        self.conflicts.append(Conflict(user_id, "unsupported", detail, member_id, capability))

    def _remove(self, m: AppMember, user_id: str, cause: RemovalCause) -> None:
        if "remove" in self.can:
            self._emit(self.removes, removal_of(m, user_id, cause))
        else:
            self._unsupported(user_id, m.id, "remove", f"the member should be removed ({cause})")

    def _deprovision(self, m: AppMember, user_id: str, reason: DeprovisionReason) -> None:
        if "remove" not in self.can:  # a report entry is a removal to confirm: the same conflict
            self._unsupported(user_id, m.id, "remove", f"the member should be removed (user {reason})")
            return
        automatic = self.policy.deprovision == "automatic"
        if automatic:
            self._emit(self.removes, removal_of(m, user_id, reason))
        already = self.actual.reported.get(m.id)
        # under ``automatic`` an entry left from an earlier ``report`` policy is kept current, so a
        # removal the guard holds still shows the right reason
        if already != reason and (not automatic or already is not None):
            self._emit(self.report, ReportEntry(m.id, m.remote_id, user_id, reason))

    def _entitled(self, m: AppMember, user_id: str, entitlement: Entitlement) -> None:
        if self.actual.managed.get(m.id) != user_id:
            self._emit(self.adopts, Adopt(m.id, user_id))
        if m.status != "active":
            return  # roles and assets once the invitation is accepted
        if m.app_role != entitlement.app_role:
            if "change_role" in self.can:
                self._emit(self.roles, ChangeRole(m.id, m.remote_id, m.app_role, entitlement.app_role))
            else:
                wanted = f"the rules want app role {entitlement.app_role!r}, the member has {m.app_role!r}"
                self._unsupported(user_id, m.id, "change_role", wanted)
        if m.assets != entitlement.assets:
            self._assets(m, user_id, entitlement)

    def _assets(self, m: AppMember, user_id: str, entitlement: Entitlement) -> None:
        held = dict(m.assets)
        grants = [Grant(m.id, m.remote_id, asset_id, permission)
                  for asset_id, permission in entitlement.assets if held.pop(asset_id, None) != permission]  # fmt: skip
        managed = self.desired.managed_assets
        revokes = [Revoke(m.id, m.remote_id, asset_id) for asset_id in held if asset_id in managed]
        if not (grants or revokes):
            return
        if "grant_assets" not in self.can:
            wanted = ", ".join([f"grant {g.permission!r} on {g.asset_id!r}" for g in grants]
                               + [f"revoke on {r.asset_id!r}" for r in revokes])  # fmt: skip
            self._unsupported(user_id, m.id, "grant_assets", f"the rules want {wanted}")
            return
        for grant in grants:
            self._emit(self.grants, grant)
        for revoke in revokes:
            self._emit(self.revokes, revoke)

    def invitations(self) -> tuple[list[Invite], list[Conflict]]:
        linked = set(self.matches.user_of.values())
        missing = [uid for uid in self.desired.entitlements if uid not in linked]
        if not missing:
            return [], []
        contested = {uid for users in self.matches.disputed.values() for uid in users}
        invites: list[Invite] = []
        conflicts: list[Conflict] = []
        for user_id in missing:
            if "invite" not in self.can:
                self._unsupported(user_id, None, "invite", "the rules want this user in the app")
                continue
            if user_id in contested:
                conflicts.append(Conflict(user_id, "disputed", "a disputed member may be this user"))
                continue
            found = self._invite(user_id)
            if isinstance(found, Conflict):
                conflicts.append(found)
            elif found.key not in self.skip:
                invites.append(found)
        return invites, conflicts

    def _holds(self, email: str) -> bool:
        """Whether a member matched by hand to someone else holds ``email`` and is not going away.

        A member this plan (or an in-flight job) removes frees its address, so the invitation is
        planned now (after the removal, in plan order) rather than by the next plan.
        """
        holders = self.manual_emails.get(normalize_email(email) or "", ())
        leaving = self.removing | {r.member_id for r in self.removes}
        return any(mid not in leaving for mid in holders)

    def _invite(self, user_id: str) -> Invite | Conflict:
        entitlement = self.desired.entitlements[user_id]
        taken = False
        for raw in self.desired.users[user_id].emails:
            if self.matches.email_owner(raw) != user_id:
                continue
            if self._holds(raw):
                taken = True
                continue
            return Invite(user_id, raw.strip(), entitlement.app_role, entitlement.bridge_role)
        if taken:
            return Conflict(user_id, "email_taken", "its email belongs to a member matched to another user")
        return Conflict(user_id, "no_email", "no email that is this user's alone")

    def guard(self) -> list[Held]:
        # Active members only: invitations this plan sends (pending) must not move the threshold,
        # or applying the plan could release removals it held (and re-planning would not be empty).
        guard, count = self.policy.guard, len(self.removes)
        if count <= guard.max_count:
            return []
        total = self.actual.active_count()
        if not guard.trips(count, total):
            return []
        reason = (
            f"mass-removal guard: {count} removals ({count * 100.0 / max(total, 1):.1f}% of {total} "
            f"active members) exceed {guard.max_count} members and {guard.max_percent:g}%; an admin must apply"
        )
        held = [Held(r, reason) for r in self.removes]
        self.removes = []
        return held


def _by_key(actions: Iterable[Action]) -> list[Action]:
    return sorted(actions, key=lambda a: a.key)


def plan(
    desired: Desired,
    actual: Actual,
    matches: Matches,
    policy: AppPolicy,
    in_flight: Iterable[Action] = (),
) -> Plan:
    """The plan that takes ``actual`` to ``desired`` (rules in the module docstring). Pure.

    :param matches: ``matching.match`` over ``actual.members`` (with the same manual matches).
    :param in_flight: actions already queued as jobs; they are not planned again.
    """
    planner = _Planner(desired, actual, matches, policy, in_flight)
    planner.scan(actual.members)
    planner.withdraw_vanished()
    held = planner.guard()
    invites, conflicts = planner.invitations()
    ordered: list[Action] = []
    for bucket in (planner.report, planner.removes, planner.revokes, planner.roles, planner.grants,
                   invites, planner.adopts):  # fmt: skip
        ordered.extend(_by_key(bucket))
    return Plan(
        tuple(ordered),
        tuple(sorted(held, key=lambda h: h.action.key)),
        tuple(sorted(conflicts + planner.conflicts, key=_conflict_order)),
    )


def _conflict_order(c: Conflict) -> tuple[str, str, str, str, str]:
    return c.user_id, c.kind, c.member_id or "", c.capability or "", c.detail
